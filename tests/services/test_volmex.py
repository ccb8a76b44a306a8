"""Volmex BVIV/EVIV (undocumented UDF endpoint) against a loopback server."""

from __future__ import annotations

import numpy as np
import pytest
from werkzeug import Request, Response

from models.catalog import get_spec
from models.series import MS_PER_DAY, MS_PER_HOUR
from services.errors import BadPayload, UnknownSymbol
from services.refresh import refresh_series
from services.sources import Sources
from services.volmex import VolmexClient, parse_udf

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def udf(times_ms, closes):
    return {"s": "ok", "t": [t // 1000 for t in times_ms], "o": closes, "h": closes,
            "l": closes, "c": closes, "v": [0] * len(closes)}


def test_parse_udf_columns_no_data_and_nulls():
    frame = parse_udf(udf([T0, T0 + MS_PER_HOUR, T0 + 2 * MS_PER_HOUR], [55.1, None, 56.0]))
    assert list(frame["close"]) == [55.1, 56.0]  # the null close is dropped, not stored
    assert str(frame.index.tz) == "UTC" and frame.index[0].value // 10**6 == T0
    assert parse_udf({"s": "no_data"}).empty
    with pytest.raises(BadPayload, match="column 'c'"):
        parse_udf({"s": "ok", "t": [1], "o": [1.0]})
    with pytest.raises(BadPayload, match="status"):
        parse_udf({"s": "maintenance"})


def test_history_pages_by_window_and_refresh_stores_it(httpserver, endpoints_for, cache):
    asked: list[tuple[int, int]] = []

    def handler(req: Request) -> Response:
        start, end = int(req.args["from"]) * 1000, int(req.args["to"]) * 1000
        assert req.args["symbol"] == "BVIV" and req.args["resolution"] == "60"
        asked.append((start, end))
        first = start + (-start) % MS_PER_HOUR
        times = list(range(first, end + 1, MS_PER_HOUR))
        closes = list(50 + np.arange(len(times)) % 7 * 0.5)
        import json
        return Response(json.dumps(udf(times, closes)), content_type="application/json")

    httpserver.expect_request("/public/iv/history").respond_with_handler(handler)
    spec = get_spec("bviv.btc")
    now = T0 + 100 * MS_PER_DAY
    result = refresh_series(spec, cache, Sources(endpoints_for), want_start_ms=T0, now=now)
    assert result.ok, result.error
    assert len(asked) == 2  # 60-day windows
    data = cache.read("bviv.btc")
    assert len(data) == 100 * 24 + 1
    assert np.all(np.diff(data.time) == MS_PER_HOUR)  # no duplicate at the window seam


def test_unknown_symbol_is_a_typed_error(httpserver, endpoints_for):
    httpserver.expect_request("/public/iv/history").respond_with_json(
        {"s": "error", "errmsg": "Symbol not found"})
    client = VolmexClient(endpoints_for)
    with pytest.raises(UnknownSymbol, match="volmex: unknown symbol"):
        list(client.iter_pages(get_spec("bviv.btc"), "XXVIV", T0, T0 + MS_PER_DAY))
