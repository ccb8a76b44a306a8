"""Deribit JSON-RPC over HTTP GET against a loopback server: DVOL paging by `continuation`,
funding history, the option-chain snapshot, the perpetual ticker, in-body error objects, and the
refresh road into a real cache."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from werkzeug import Response

from models import options as opt
from models.catalog import get_spec
from services.deribit import (
    DeribitClient,
    classify_error,
    parse_book_summary,
    parse_dvol,
    parse_funding_history,
)
from services.errors import (
    BadPayload,
    BadRequest,
    RateLimited,
    UnknownSymbol,
    VenueUnavailable,
)
from services.refresh import refresh_series
from services.sources import Sources
from tests.conftest import shared_fixture

H = 3_600_000
DAY = 24 * H
T0 = 1_790_000_000_000 - 1_790_000_000_000 % H
US_OUT = 1_791_282_313_699_629  # µs, as in the real DVOL capture


def envelope(result) -> dict:
    return {"jsonrpc": "2.0", "result": result, "usIn": US_OUT - 1177, "usOut": US_OUT,
            "usDiff": 1177, "testnet": False}


def rpc_error(code: int, message: str, reason: str = "", param: str = "") -> dict:
    error: dict = {"code": code, "message": message}
    if reason or param:
        error["data"] = {"reason": reason, "param": param}
    return {"jsonrpc": "2.0", "error": error, "usIn": US_OUT - 10, "usOut": US_OUT, "usDiff": 10,
            "testnet": False}


def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def dvol_row(t: int, level: float = 50.0) -> list:
    return [t, level, level + 1.0, level - 1.0, level + 0.5]


def ms_of(frame) -> list[int]:
    return list(frame.index.as_unit("ms").asi8)


# -- DVOL ------------------------------------------------------------------------------------
def test_parse_recorded_real_dvol():
    payload = shared_fixture("deribit/get_volatility_index_data_ETH_60.real-2026-10-06.clim.json")
    frame = parse_dvol(payload["result"])
    rows = payload["result"]["data"]
    assert len(frame) == len(rows)
    assert list(frame.columns) == ["open", "high", "low", "close"]
    assert ms_of(frame)[0] == rows[0][0]
    assert frame["close"].iloc[0] == rows[0][4] == 47.53  # vol points, not a decimal
    with pytest.raises(BadPayload):
        parse_dvol({"data": [[T0, 1.0]]})
    with pytest.raises(BadPayload):
        parse_dvol([])


def test_dvol_pages_backwards_by_continuation_without_duplicates(httpserver, endpoints_for):
    spec = get_spec("dvol.btc")  # 1h bars -> resolution 3600
    start, end = T0, T0 + 9 * H
    newest = [dvol_row(T0 + i * H) for i in range(5, 10)]
    older = [dvol_row(T0 + i * H) for i in range(0, 6)]  # repeats the row at the continuation
    base = {"currency": "BTC", "start_timestamp": str(start), "resolution": "3600"}
    path = "/api/v2/public/get_volatility_index_data"
    httpserver.expect_ordered_request(path, query_string={**base, "end_timestamp": str(end)}) \
        .respond_with_json(envelope({"data": newest, "continuation": T0 + 5 * H}))
    httpserver.expect_ordered_request(
        path, query_string={**base, "end_timestamp": str(T0 + 5 * H)}) \
        .respond_with_json(envelope({"data": older, "continuation": None}))
    pages = list(DeribitClient(endpoints_for).iter_pages(spec, "BTC", start, end))
    assert [len(p) for p in pages] == [5, 5]
    times = [t for p in pages for t in ms_of(p)]
    assert len(times) == len(set(times)) == 10
    assert sorted(times) == [T0 + i * H for i in range(10)]
    assert len(httpserver.log) == 2  # stopped at the null continuation
    httpserver.check_assertions()


def test_dvol_stops_when_the_continuation_passes_the_start_or_stalls(httpserver, endpoints_for):
    spec = get_spec("dvol.btc")
    path = "/api/v2/public/get_volatility_index_data"
    httpserver.expect_oneshot_request(path).respond_with_json(
        envelope({"data": [dvol_row(T0 + 3 * H)], "continuation": T0 - H}))
    pages = list(DeribitClient(endpoints_for).iter_pages(spec, "BTC", T0, T0 + 3 * H))
    assert [len(p) for p in pages] == [1] and len(httpserver.log) == 1
    httpserver.clear()
    httpserver.expect_request(path).respond_with_json(
        envelope({"data": [dvol_row(T0 + 3 * H)], "continuation": T0 + 3 * H}))
    pages = list(DeribitClient(endpoints_for).iter_pages(spec, "BTC", T0, T0 + 3 * H))
    assert [len(p) for p in pages] == [1]
    assert len(httpserver.log) == 1  # a cursor that does not move back ends the paging


# -- funding history ---------------------------------------------------------------------------
def funding_row(t: int, interest_1h: float) -> dict:
    return {"timestamp": t, "index_price": 60000.0, "prev_index_price": 59990.0,
            "interest_8h": interest_1h * 7.3, "interest_1h": interest_1h}


def test_funding_history(httpserver, endpoints_for):
    spec = get_spec("funding.deribit.btc")
    start, end = T0, T0 + 5 * H
    rows = [funding_row(T0 + i * H, 1e-6 * (i + 1)) for i in range(6)]
    rows[2]["interest_1h"] = None  # unusable row dropped
    httpserver.expect_oneshot_request("/api/v2/public/get_funding_rate_history", query_string={
        "instrument_name": "BTC-PERPETUAL", "start_timestamp": str(start - 1),
        "end_timestamp": str(end)}).respond_with_json(envelope(rows))
    pages = list(DeribitClient(endpoints_for).iter_pages(spec, "BTC-PERPETUAL", start, end))
    frame = pages[0]
    assert list(frame.columns) == ["rate", "interval_hours", "apr_pct"]
    assert ms_of(frame) == [T0 + i * H for i in (0, 1, 3, 4, 5)]
    assert frame["rate"].iloc[0] == 1e-6
    assert (frame["interval_hours"] == 1.0).all()
    assert frame["apr_pct"].iloc[-1] == pytest.approx(6e-6 * 8760 * 100)
    with pytest.raises(BadPayload):
        parse_funding_history({"rows": []})


# -- option chain ------------------------------------------------------------------------------
def test_parse_recorded_book_summary():
    payload = shared_fixture("deribit/book_summary_by_currency_option.nautilus.json")
    frame, newest = parse_book_summary(payload["result"], "BTC")
    assert newest == 1710000000000
    assert list(frame["instrument_name"]) == ["BTC-28MAR25-90000-C", "BTC-28MAR25-90000-P"]
    expiry = int(datetime(2025, 3, 28, 8, tzinfo=UTC).timestamp() * 1000)
    assert (frame["expiry_ms"] == expiry).all()
    assert list(frame["strike"]) == [90000.0, 90000.0]
    assert list(frame["option_type"]) == ["C", "P"]
    assert list(frame["mark_iv"]) == [55.2, 54.8]
    assert list(frame["open_interest"]) == [123.5, 88.0]
    assert (frame["underlying_price"] == 95000.5).all()
    assert frame["bid_price"].iloc[1] == 0.037


def chain_rows() -> list[dict]:
    rows = []
    for name, iv, oi, under in (("BTC-5JUN26-90000-P", 60.1, 120.0, 100_100.0),
                                ("BTC-5JUN26-110000-C", 55.3, 80.0, 100_100.0),
                                ("BTC-26JUN26-100000-C", 52.0, 300.0, 100_900.0)):
        rows.append({"instrument_name": name, "mark_iv": iv, "open_interest": oi,
                     "underlying_price": under, "underlying_index": "SYN." + name[:9],
                     "mark_price": 0.01, "bid_price": None, "ask_price": 0.011,
                     "base_currency": "BTC", "quote_currency": "BTC"})
    # rows that are not BTC inverse options are dropped
    rows.append({"instrument_name": "BTC_USDC-5JUN26-0d5-C", "mark_iv": 50.0})
    rows.append({"instrument_name": "ETH-5JUN26-3000-C", "mark_iv": 70.0})
    rows.append({"instrument_name": "BTC-PERPETUAL"})
    rows.append("garbage")
    return rows


def serve_chain(httpserver, rows: list, stamp: int | None = None) -> None:
    if stamp is not None:
        rows = [dict(r, creation_timestamp=stamp) if isinstance(r, dict) else r for r in rows]
    httpserver.expect_request("/api/v2/public/get_book_summary_by_currency", query_string={
        "currency": "BTC", "kind": "option"}).respond_with_json(envelope(rows))
    httpserver.expect_request("/api/v2/public/get_index_price", query_string={
        "index_name": "btc_usd"}).respond_with_json(envelope(
            {"index_price": 100_050.0, "estimated_delivery_price": 100_050.0}))


def test_chain_snapshot_parse(httpserver, endpoints_for):
    spec = get_spec("options.btc")
    serve_chain(httpserver, chain_rows(), stamp=T0 + 123)
    snap = DeribitClient(endpoints_for).fetch_snapshot(spec, "BTC")
    assert snap.series_id == "options.btc"
    assert snap.time_ms == T0 + 123  # the venue's creation time, not ours
    assert snap.meta["index_price"] == 100_050.0 and snap.meta["currency"] == "BTC"
    frame = snap.frame
    assert len(frame) == 3
    first = frame.iloc[0]
    assert first["expiry_ms"] == int(datetime(2026, 6, 5, 8, tzinfo=UTC).timestamp() * 1000)
    assert (first["strike"], first["option_type"], first["mark_iv"]) == (90000.0, "P", 60.1)
    assert first["open_interest"] == 120.0 and first["underlying_price"] == 100_100.0
    assert math.isnan(first["bid_price"])


def test_chain_timestamp_falls_back_to_the_envelope(httpserver, endpoints_for):
    serve_chain(httpserver, chain_rows())
    snap = DeribitClient(endpoints_for).fetch_snapshot(get_spec("options.btc"), "BTC")
    assert snap.time_ms == US_OUT // 1000


def test_chain_without_options_or_index_is_bad_payload(httpserver, endpoints_for):
    httpserver.expect_request("/api/v2/public/get_book_summary_by_currency").respond_with_json(
        envelope([{"instrument_name": "BTC-PERPETUAL"}]))
    with pytest.raises(BadPayload, match="no BTC options"):
        DeribitClient(endpoints_for).fetch_snapshot(get_spec("options.btc"), "BTC")
    httpserver.clear()
    httpserver.expect_request("/api/v2/public/get_book_summary_by_currency").respond_with_json(
        envelope(chain_rows()))
    httpserver.expect_request("/api/v2/public/get_index_price").respond_with_json(
        envelope({"index_price": None}))
    with pytest.raises(BadPayload, match="index price"):
        DeribitClient(endpoints_for).fetch_snapshot(get_spec("options.btc"), "BTC")


# -- perpetual ticker -> funding now -----------------------------------------------------------
def test_perpetual_ticker_snapshot(httpserver, endpoints_for):
    ws = shared_fixture("deribit/ws_ticker_BTC-PERPETUAL.nautilus.json")
    result = dict(ws["params"]["data"], current_funding=0.00001)  # REST result: same fields
    httpserver.expect_request("/api/v2/public/ticker", query_string={
        "instrument_name": "BTC-PERPETUAL"}).respond_with_json(envelope(result))
    snap = DeribitClient(endpoints_for).fetch_snapshot(get_spec("fundingnow.deribit.btc"),
                                                       "BTC-PERPETUAL")
    assert snap.time_ms == 1765541474086
    row = snap.frame.iloc[0]
    assert row["rate"] == 0.00001 and row["interval_hours"] == 8.0
    assert row["apr_pct"] == pytest.approx(0.00001 * 3 * 365 * 100)
    assert row["open_interest_usd"] == 1132329370.0
    assert row["open_interest"] == pytest.approx(1132329370.0 / 92281.78)
    assert math.isnan(row["next_funding_ms"])


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize(("body", "expected"), [
    (rpc_error(-32602, "Invalid params", "instrument not found", "instrument_name"),
     UnknownSymbol),
    (rpc_error(13020, "not_found"), UnknownSymbol),
    (rpc_error(10028, "too_many_requests"), RateLimited),
    (rpc_error(11051, "system_maintenance"), VenueUnavailable),
    (rpc_error(11050, "bad_request", "bad resolution", "resolution"), BadRequest),
])
def test_json_rpc_errors_in_the_body(httpserver, endpoints_for, status, body, expected):
    httpserver.expect_request("/api/v2/public/ticker").respond_with_response(
        json_response(body, status))
    with pytest.raises(expected) as info:
        DeribitClient(endpoints_for).fetch_snapshot(get_spec("fundingnow.deribit.btc"), "NOPE")
    assert info.value.venue == "deribit"
    if expected is RateLimited:
        assert info.value.retry_after and info.value.retry_after > 0
    if status == 400:
        assert "HTTP 400" in str(info.value)


def test_unknown_currency_on_the_chain(httpserver, endpoints_for):
    httpserver.expect_request("/api/v2/public/get_book_summary_by_currency").respond_with_json(
        rpc_error(-32602, "Invalid params", "wrong format", "currency"), status=400)
    with pytest.raises(UnknownSymbol):
        DeribitClient(endpoints_for).fetch_snapshot(get_spec("options.btc"), "BTC")


def test_classify_error_directly():
    assert isinstance(classify_error({"code": 10066, "message": "x"}, 200), RateLimited)
    assert isinstance(classify_error({"code": 13028, "message": "x"}, 503), VenueUnavailable)
    assert isinstance(classify_error({"code": 11029, "message": "invalid_arguments",
                                      "data": {"reason": "invalid currency"}}, 400),
                      UnknownSymbol)
    assert isinstance(classify_error({"code": 11029, "message": "invalid_arguments",
                                      "data": {"param": "resolution"}}, 400), BadRequest)
    assert isinstance(classify_error({"message": "?"}, 200), BadRequest)


def test_missing_result_is_bad_payload(httpserver, endpoints_for):
    httpserver.expect_request("/api/v2/public/ticker").respond_with_json({"jsonrpc": "2.0"})
    with pytest.raises(BadPayload, match="no `result`"):
        DeribitClient(endpoints_for).fetch_snapshot(get_spec("fundingnow.deribit.btc"),
                                                    "BTC-PERPETUAL")


# -- the refresh road into a real cache --------------------------------------------------------
def test_refresh_dvol_into_the_cache(httpserver, endpoints_for, cache):
    spec = get_spec("dvol.btc")
    now = T0 + 100 * H
    rows = [dvol_row(T0 + i * H, 40.0 + i * 0.1) for i in range(101)]

    def handler(request):
        lo, hi = int(request.args["start_timestamp"]), int(request.args["end_timestamp"])
        inside = [r for r in rows if lo <= r[0] <= hi]
        page = inside[-40:]  # the newest 40, then page backwards
        cont = page[0][0] if len(inside) > 40 else None
        return json_response(envelope({"data": page, "continuation": cont}))

    httpserver.expect_request("/api/v2/public/get_volatility_index_data").respond_with_handler(
        handler)
    result = refresh_series(spec, cache, Sources(endpoints_for), want_start_ms=T0, now=now)
    assert result.ok and result.venue == "deribit"
    data = cache.read("dvol.btc")
    assert list(data.time) == [T0 + i * H for i in range(101)]
    assert data["close"][-1] == pytest.approx(40.0 + 10.0 + 0.5)
    assert len(httpserver.log) == 3  # 40 + 40 (+1 repeated) + the rest


def test_refresh_option_chain_into_the_cache_and_analyse_it(httpserver, endpoints_for, cache):
    spec = get_spec("options.btc")
    at = int(datetime(2026, 5, 6, 8, tzinfo=UTC).timestamp() * 1000)
    serve_chain(httpserver, chain_rows(), stamp=at)
    result = refresh_series(spec, cache, Sources(endpoints_for))
    assert result.ok and result.rows_added == 1
    snap = cache.latest_snapshot("options.btc")
    assert snap.time_ms == at and snap.meta["index_price"] == 100_050.0
    assert list(snap.frame["option_type"]) == ["P", "C", "C"]
    # the stored chain (NaN bids came back through JSON) still values, at its own time
    gex = opt.gex_by_strike(snap.frame, snap.meta["index_price"], snap.time_ms)
    assert list(gex["strike"]) == [90000.0, 100000.0, 110000.0]
    assert gex["put_gex"].iloc[0] < 0 < gex["call_gex"].iloc[2]
    term = opt.atm_term_structure(snap.frame, 100_050.0, snap.time_ms)
    assert np.isfinite(term["atm_iv"]).all()
