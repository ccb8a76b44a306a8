"""Binance spot klines against a loopback server serving the documented (and recorded) shapes."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from models.catalog import get_spec
from services.binance import BinanceClient, klines_columns, parse_klines
from services.errors import BadPayload, GeoBlocked, UnknownSymbol
from tests.conftest import shared_fixture

H = 3_600_000


def kline(t: int, close: float = 100.0) -> list:
    return [t, f"{close - 1:.2f}", f"{close + 2:.2f}", f"{close - 2:.2f}", f"{close:.2f}",
            "12.5", t + H - 1, "1250.0", 42, "6.0", "600.0", "0"]


def test_parse_recorded_real_payload():
    rows = shared_fixture("binance/klines_spot_ETHUSDT_1m.real-2026-10-06.clim.json")
    frame = parse_klines(rows)
    assert len(frame) == len(rows)
    assert str(frame.index.tz) == "UTC"
    first = rows[0]
    assert frame["open"].iloc[0] == float(first[1])
    assert frame["close"].iloc[0] == float(first[4])
    assert frame.index[0].value // 1_000_000 == first[0]


def test_parse_drops_bad_rows_and_rejects_bad_shape():
    rows = [kline(0), [H, None, "1", "1", "1", "1"], [2 * H, "NaN", "1", "1", "1", "1"],
            kline(3 * H)]
    frame = parse_klines(rows)
    assert list(frame.index.as_unit("ms").asi8) == [0, 3 * H]
    with pytest.raises(BadPayload, match="fields"):
        parse_klines([[0, "1", "2"]])
    with pytest.raises(BadPayload, match="expected a list"):
        parse_klines({"rows": []})


def test_pages_forward_until_a_short_page(httpserver, endpoints_for):
    spec = get_spec("btc.1h")
    page1 = [kline(i * H) for i in range(1000)]
    page2 = [kline(i * H) for i in range(1000, 1500)]
    httpserver.expect_ordered_request("/api/v3/klines", query_string={
        "symbol": "BTCUSDT", "interval": "1h", "startTime": "0", "endTime": str(2000 * H),
        "limit": "1000"}).respond_with_json(page1)
    httpserver.expect_ordered_request("/api/v3/klines", query_string={
        "symbol": "BTCUSDT", "interval": "1h", "startTime": str(999 * H + 1),
        "endTime": str(2000 * H), "limit": "1000"}).respond_with_json(page2)
    client = BinanceClient(endpoints_for)
    pages = list(client.iter_pages(spec, "BTCUSDT", 0, 2000 * H))
    assert [len(p) for p in pages] == [1000, 500]
    assert pages[1].index[-1].value // 1_000_000 == 1499 * H


def test_unknown_symbol_and_geo_block(httpserver, endpoints_for):
    spec = get_spec("btc.1h")
    client = BinanceClient(endpoints_for)
    httpserver.expect_oneshot_request("/api/v3/klines").respond_with_json(
        {"code": -1121, "msg": "Invalid symbol."}, status=400)
    with pytest.raises(UnknownSymbol):
        list(client.iter_pages(spec, "NOPE", 0, H))
    body = {"code": 0, "msg": "Service unavailable from a restricted location according to "
                              "'b. Eligibility' in https://www.binance.com/en/terms."}
    httpserver.expect_oneshot_request("/api/v3/klines").respond_with_response(
        Response(json.dumps(body), status=451, content_type="application/json"))
    with pytest.raises(GeoBlocked, match="region"):
        list(client.iter_pages(spec, "BTCUSDT", 0, H))


def test_compact_body_parses_as_columns_like_the_row_path():
    rows = [kline(i * H, 100.0 + i) for i in range(50)]
    rows[3][2] = "0.5"  # high below low: dropped either way
    body = json.dumps(rows, separators=(",", ":")).encode()
    cols = klines_columns(body)
    assert cols is not None and len(cols) == 50
    fast, slow = parse_klines(cols), parse_klines(json.loads(body))
    assert fast.equals(slow) and len(fast) == 49
    assert (fast.index == slow.index).all() and fast.index.name == "time"
    # Anything off the documented shape takes the plain JSON path.
    for bad in ([*rows[:10], rows[10][:11]], [[*r[:1], None, *r[2:]] for r in rows[:3]],
                [[r[0], 1.0, *r[2:]] for r in rows[:3]], []):
        assert klines_columns(json.dumps(bad, separators=(",", ":")).encode()) is None
