"""Yahoo chart API, Coinbase and Kraken candles against a loopback server in their documented
shapes (and the recorded Yahoo and Kraken payloads)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.catalog import get_spec
from services.coinbase import CoinbaseClient, parse_candles
from services.errors import BadPayload, RateLimited, UnknownSymbol, VenueUnavailable
from services.kraken import KrakenClient, parse_ohlc
from services.yahoo import YahooClient, parse_chart
from tests.conftest import shared_fixture

H = 3_600_000
DAY = 24 * H


def ms(frame):
    return list(frame.index.as_unit("ms").asi8)


# -- Yahoo ------------------------------------------------------------------------------------
def test_yahoo_recorded_gold_daily_bar():
    body = shared_fixture("yahoo/chart_GC=F_1d_2020-01-01_2020-01-03.capture.yahoo-finance2.json")
    frame, meta = parse_chart(body["response"]["bodyJson"])
    assert ms(frame) == [1577941200 * 1000]  # stamped 00:00 New York, kept as sent
    assert frame["close"].iloc[0] == 1524.5
    assert meta["exchangeTimezoneName"] == "America/New_York"


def test_yahoo_recorded_empty_weekend_window_is_empty_not_an_error():
    body = shared_fixture("yahoo/chart_AAPL_1m_weekend_empty.capture.yahoo-finance2.json")
    frame, _meta = parse_chart(body["response"]["bodyJson"])
    assert frame.empty


def chart(times_s, closes, volume=None):
    n = len(times_s)
    return {"chart": {"result": [{"meta": {"symbol": "^GSPC"}, "timestamp": times_s,
                                  "indicators": {"quote": [{
                                      "open": closes, "high": [None if c is None else c + 1
                                                               for c in closes],
                                      "low": [None if c is None else c - 1 for c in closes],
                                      "close": closes,
                                      "volume": volume or [None] * n}]}}], "error": None}}


def test_yahoo_nulls_repeats_and_index_volume():
    t = [1_770_000_000, 1_770_003_600, 1_770_007_200, 1_770_007_200]
    frame, _ = parse_chart(chart(t, [6000.0, None, 6010.0, 6012.0]))
    assert ms(frame) == [t[0] * 1000, t[2] * 1000]
    assert frame["close"].iloc[-1] == 6012.0  # the repeated newest bar: the last one wins
    assert np.isnan(frame["volume"]).all()


def test_yahoo_pages_hourly_history_in_windows_and_encodes_the_symbol(httpserver, endpoints_for):
    spec = get_spec("spx.1h")
    path = "/v8/finance/chart/^GSPC"  # the server sees the decoded path
    httpserver.expect_ordered_request(path, query_string={
        "period1": "0", "period2": str(180 * 86400 + 1), "interval": "60m",
        "includePrePost": "false"}).respond_with_json(chart([3600], [5000.0]))
    httpserver.expect_ordered_request(path, query_string={
        "period1": str(180 * 86400), "period2": str(200 * 86400 + 1), "interval": "60m",
        "includePrePost": "false"}).respond_with_json(chart([180 * 86400 + 3600], [5100.0]))
    pages = list(YahooClient(endpoints_for).iter_pages(spec, "^GSPC", 0, 200 * DAY))
    assert [len(p) for p in pages] == [1, 1]
    httpserver.check_assertions()


def test_yahoo_unknown_symbol_and_html(httpserver, endpoints_for):
    spec = get_spec("spx.1d")
    client = YahooClient(endpoints_for)
    httpserver.expect_oneshot_request("/v8/finance/chart/NOPE").respond_with_json(
        {"chart": {"result": None, "error": {"code": "Not Found",
                                             "description": "No data found, symbol may be "
                                                            "delisted"}}}, status=404)
    with pytest.raises(UnknownSymbol, match="delisted"):
        list(client.iter_pages(spec, "NOPE", 0, DAY))
    httpserver.expect_oneshot_request("/v8/finance/chart/^GSPC").respond_with_data(
        "<html><head><title>Yahoo! - Will be right back</title></head></html>",
        content_type="text/html")
    with pytest.raises(BadPayload, match="Will be right back"):
        list(client.iter_pages(spec, "^GSPC", 0, DAY))


def test_yahoo_missing_field_is_a_bad_payload():
    with pytest.raises(BadPayload, match="close"):
        parse_chart({"chart": {"result": [{"timestamp": [1, 2], "indicators": {
            "quote": [{"open": [1.0, 2.0], "high": [1.0, 2.0], "low": [1.0, 2.0],
                       "close": [1.0], "volume": [1, 1]}]}}], "error": None}})


# -- Coinbase ---------------------------------------------------------------------------------
def test_coinbase_low_before_high_and_newest_first():
    rows = [[7200, 95.0, 105.0, 100.0, 102.0, 3.0], [3600, 90.0, 101.0, 99.0, 100.0, 2.0]]
    frame = parse_candles(rows)
    assert ms(frame) == [3_600_000, 7_200_000]
    assert frame["low"].iloc[1] == 95.0 and frame["high"].iloc[1] == 105.0
    assert frame["open"].iloc[1] == 100.0


def test_coinbase_windows_of_300_newest_first_and_errors(httpserver, endpoints_for):
    spec = get_spec("btc.1h")
    httpserver.expect_ordered_request("/products/BTC-USD/candles", query_string={
        "granularity": "3600", "start": "1970-01-13T01:00:00Z",
        "end": "1970-01-25T12:00:00Z"}).respond_with_json([])
    httpserver.expect_ordered_request("/products/BTC-USD/candles", query_string={
        "granularity": "3600", "start": "1970-01-01T00:00:00Z",
        "end": "1970-01-13T00:59:59Z"}).respond_with_json([])
    client = CoinbaseClient(endpoints_for)
    assert len(list(client.iter_pages(spec, "BTC-USD", 0, 588 * H))) == 2
    httpserver.check_assertions()
    httpserver.expect_oneshot_request("/products/NOPE/candles").respond_with_json(
        {"message": "NotFound"}, status=404)
    with pytest.raises(UnknownSymbol):
        list(client.iter_pages(spec, "NOPE", 0, H))


# -- Kraken -----------------------------------------------------------------------------------
def test_kraken_recorded_payload_uses_the_canonical_pair_key():
    payload = shared_fixture("kraken/ohlc_XETHZUSD_1m.real-2026-10-06.clim.json")
    frame = parse_ohlc(payload)
    rows = payload["result"]["XETHZUSD"]
    assert len(frame) == len(rows)
    assert frame["close"].iloc[0] == float(rows[0][4])
    assert frame["volume"].iloc[0] == float(rows[0][6])  # not the vwap in column 5


@pytest.mark.parametrize(("error", "cls"), [
    ("EQuery:Unknown asset pair", UnknownSymbol),
    ("EGeneral:Too many requests", RateLimited),
    ("EService:Unavailable", VenueUnavailable),
])
def test_kraken_errors_in_the_body(httpserver, endpoints_for, error, cls):
    httpserver.expect_request("/0/public/OHLC").respond_with_data(
        json.dumps({"error": [error], "result": {}}), content_type="application/json")
    with pytest.raises(cls):
        list(KrakenClient(endpoints_for).iter_pages(get_spec("btc.1d"), "XBTUSD", 0, DAY))
