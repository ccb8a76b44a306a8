"""The symbol search (services/symbols.py) against a loopback server serving Binance's
exchangeInfo and Yahoo's chart API in their documented shapes: pairs listed, searched, cached a
day; tickers checked by one chart request; unknown, delisted and broken answers refused with one
message and nothing stored."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from models.series import MS_PER_DAY
from services.errors import BadPayload, SymbolRefused
from services.symbols import (
    PAIRS_ID,
    binance_pairs,
    cached_pairs,
    check_binance,
    check_yahoo,
    decode_exchange_info,
    search_pairs,
)

NOW = 1_780_000_000_000


def _pair(symbol, base, quote, status="TRADING"):
    # The documented item (developers.binance.com, "Exchange information"): the fields Rotor
    # reads plus a few of the others, `permissions` empty as since permissionSets replaced it.
    return {"symbol": symbol, "status": status, "baseAsset": base, "baseAssetPrecision": 8,
            "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"], "icebergAllowed": True,
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
            "filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
                         "maxPrice": "1000000.00000000", "tickSize": "0.01000000"}],
            "permissions": [], "defaultSelfTradePreventionMode": "EXPIRE_MAKER"}


EXCHANGE_INFO = {
    "timezone": "UTC", "serverTime": NOW,
    "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                    "intervalNum": 1, "limit": 6000}],
    "exchangeFilters": [],
    "symbols": [_pair("SOLUSDT", "SOL", "USDT"), _pair("SOLBTC", "SOL", "BTC"),
                _pair("LUNAUSDT", "LUNA", "USDT", "BREAK"), _pair("BTCUSDT", "BTC", "USDT"),
                _pair("USDCUSDT", "USDC", "USDT")],
}


def _meta(symbol, exchange, full, instrument, name, currency="USD"):
    return {"currency": currency, "symbol": symbol, "exchangeName": exchange,
            "fullExchangeName": full, "instrumentType": instrument, "firstTradeDate": 345479400,
            "regularMarketTime": 1779998400, "gmtoffset": -14400, "timezone": "EDT",
            "exchangeTimezoneName": "America/New_York", "regularMarketPrice": 101.5,
            "longName": name, "shortName": name[:20], "chartPreviousClose": 99.0,
            "priceHint": 2, "dataGranularity": "1d", "range": "5d",
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "5y", "max"]}


def _chart(meta, times=(1779715800, 1779802200, 1779888600)):
    n = len(times)
    result = {"meta": meta, "timestamp": list(times),
              "indicators": {"quote": [{"open": [100.0] * n, "high": [102.0] * n,
                                        "low": [99.0] * n, "close": [101.0] * n,
                                        "volume": [1000] * n}],
                             "adjclose": [{"adjclose": [101.0] * n}]}}
    if not times:
        del result["timestamp"]
        result["indicators"]["quote"] = [{}]
    return {"chart": {"result": [result], "error": None}}


NOT_FOUND = {"chart": {"result": None, "error": {
    "code": "Not Found", "description": "No data found, symbol may be delisted"}}}


def _serve_info(httpserver, body=EXCHANGE_INFO, **kw):
    httpserver.expect_request("/api/v3/exchangeInfo", query_string={
        "permissions": "SPOT", "showPermissionSets": "false"}).respond_with_json(body, **kw)


# -- Binance ------------------------------------------------------------------------------------
def test_pairs_are_fetched_cached_with_their_time_and_reused_for_a_day(httpserver,
                                                                       endpoints_for, cache):
    _serve_info(httpserver)
    listed = binance_pairs(cache, endpoints_for, NOW)
    assert [p.symbol for p in listed.pairs] == ["SOLUSDT", "SOLBTC", "LUNAUSDT", "BTCUSDT",
                                                "USDCUSDT"]
    assert listed.fetched_ms == NOW and listed.note == ""
    stored = cached_pairs(cache)
    assert stored is not None and stored.pairs == listed.pairs and stored.fetched_ms == NOW
    # Within a day: from the cache, no request.
    assert binance_pairs(cache, endpoints_for, NOW + MS_PER_DAY - 1).pairs == listed.pairs
    assert len(httpserver.log) == 1
    # A day old: asked again.
    binance_pairs(cache, endpoints_for, NOW + MS_PER_DAY)
    assert len(httpserver.log) == 2
    assert list(cache.snapshot_times(PAIRS_ID)) == [NOW, NOW + MS_PER_DAY]


def test_search_puts_trading_pairs_first_and_matches_base_quote_and_symbol(httpserver,
                                                                           endpoints_for, cache):
    _serve_info(httpserver)
    pairs = binance_pairs(cache, endpoints_for, NOW).pairs
    assert [p.symbol for p in search_pairs(pairs, "sol")] == ["SOLUSDT", "SOLBTC"]
    assert [p.symbol for p in search_pairs(pairs, "SOL/USDT")] == ["SOLUSDT"]
    # quote prefix: every USDT pair, trading ones by symbol, the BREAK one last
    assert [p.symbol for p in search_pairs(pairs, "usdt")] == ["BTCUSDT", "SOLUSDT",
                                                                "USDCUSDT", "LUNAUSDT"]
    # a symbol starting with the text comes before one whose quote does
    assert [p.symbol for p in search_pairs(pairs, "btc")] == ["BTCUSDT", "SOLBTC"]
    assert search_pairs(pairs, "  ") == []


def test_a_pair_not_trading_or_not_listed_is_refused(httpserver, endpoints_for, cache):
    _serve_info(httpserver)
    pairs = binance_pairs(cache, endpoints_for, NOW).pairs
    assert check_binance(pairs, "sol/usdt").symbol == "SOLUSDT"
    with pytest.raises(SymbolRefused, match=r"LUNAUSDT is not trading \(status BREAK\)"):
        check_binance(pairs, "LUNAUSDT")
    with pytest.raises(SymbolRefused, match="Binance has no spot pair 'FOOUSDT'"):
        check_binance(pairs, "FOOUSDT")


@pytest.mark.parametrize("reply", [
    Response("<html><head><title>Just a moment...</title></head></html>", status=200,
             content_type="text/html"),
    Response(json.dumps(EXCHANGE_INFO)[:300], status=200, content_type="application/json"),
    Response(json.dumps({"symbols": [{"symbol": "SOLUSDT"}]}), status=200,
             content_type="application/json"),
])
def test_a_broken_pair_list_stores_nothing(httpserver, endpoints_for, cache, reply):
    httpserver.expect_request("/api/v3/exchangeInfo").respond_with_response(reply)
    with pytest.raises(BadPayload):
        binance_pairs(cache, endpoints_for, NOW)
    assert cached_pairs(cache) is None


def test_a_failed_refresh_serves_the_older_list_with_a_note(httpserver, endpoints_for, cache):
    _serve_info(httpserver)
    first = binance_pairs(cache, endpoints_for, NOW)
    httpserver.clear()
    httpserver.expect_request("/api/v3/exchangeInfo").respond_with_data(
        "<html><title>502 Bad Gateway</title></html>", status=502, content_type="text/html")
    later = binance_pairs(cache, endpoints_for, NOW + 2 * MS_PER_DAY)
    assert later.pairs == first.pairs and later.fetched_ms == NOW
    assert "could not be refreshed" in later.note and "502" in later.note
    assert list(cache.snapshot_times(PAIRS_ID)) == [NOW]


def test_the_pair_list_is_decoded_item_by_item_to_the_same_json():
    body = json.dumps(EXCHANGE_INFO).encode()
    assert decode_exchange_info(body) == json.loads(body)
    # A key after the list, another key order, an error body: the plain decode, same answer.
    for other in ({**EXCHANGE_INFO, "sors": [{"baseAsset": "BTC"}]},
                  {"symbols": [{"status": "TRADING", "symbol": "SOLUSDT"}]},
                  {"code": -1121, "msg": "Invalid symbol."}):
        raw = json.dumps(other).encode()
        assert decode_exchange_info(raw) == other
    with pytest.raises(ValueError):
        decode_exchange_info(body[:-40])


# -- Yahoo --------------------------------------------------------------------------------------
def _serve_chart(httpserver, path_symbol, body, status=200):
    httpserver.expect_request(f"/v8/finance/chart/{path_symbol}", query_string={
        "range": "5d", "interval": "1d"}).respond_with_json(body, status=status)


def test_a_stock_is_checked_by_one_chart_request(httpserver, endpoints_for):
    _serve_chart(httpserver, "AAPL", _chart(_meta("AAPL", "NMS", "NasdaqGS", "EQUITY",
                                                   "Apple Inc.")))
    found = check_yahoo(endpoints_for, "aapl")
    assert (found.symbol, found.name, found.exchange, found.full_exchange, found.currency,
            found.instrument, found.calendar) == ("AAPL", "Apple Inc.", "NMS", "NasdaqGS",
                                                  "USD", "EQUITY", "XNYS")
    assert len(httpserver.log) == 1


def test_a_future_and_a_london_stock_get_their_calendars(httpserver, endpoints_for):
    _serve_chart(httpserver, "ES=F", _chart(_meta("ES=F", "CME", "CME", "FUTURE",
                                                   "E-Mini S&P 500 Jun 26")))
    _serve_chart(httpserver, "VOD.L", _chart(_meta("VOD.L", "LSE", "LSE", "EQUITY",
                                                    "Vodafone Group Plc", "GBp")))
    future = check_yahoo(endpoints_for, "ES=F")
    assert (future.instrument, future.calendar, future.name) == ("FUTURE", "XNYS",
                                                                 "E-Mini S&P 500 Jun 26")
    london = check_yahoo(endpoints_for, "VOD.L")
    assert (london.calendar, london.currency) == ("XLON", "GBp")


def test_an_unknown_ticker_gets_one_message(httpserver, endpoints_for):
    _serve_chart(httpserver, "NOPE", NOT_FOUND, status=404)
    with pytest.raises(SymbolRefused, match="Yahoo does not know NOPE") as info:
        check_yahoo(endpoints_for, "NOPE")
    assert "symbol may be delisted" in str(info.value)


def test_a_ticker_without_recent_bars_is_refused_as_delisted(httpserver, endpoints_for):
    _serve_chart(httpserver, "GONE", _chart(_meta("GONE", "NYQ", "NYSE", "EQUITY", "Gone Co."),
                                            times=()))
    with pytest.raises(SymbolRefused, match="no bars for GONE in the last 5 days"):
        check_yahoo(endpoints_for, "GONE")


def test_an_exchange_without_a_known_calendar_is_refused(httpserver, endpoints_for):
    _serve_chart(httpserver, "ABC.XX", _chart(_meta("ABC.XX", "ZZZ", "Nowhere Exchange",
                                                     "EQUITY", "ABC")))
    with pytest.raises(SymbolRefused, match=r"Nowhere Exchange \(ZZZ\), whose trading calendar"):
        check_yahoo(endpoints_for, "ABC.XX")


@pytest.mark.parametrize(("body", "content_type"), [
    ("<!DOCTYPE html><html><title>Yahoo</title></html>", "text/html"),
    (json.dumps(_chart(_meta("AAPL", "NMS", "NasdaqGS", "EQUITY", "Apple Inc.")))[:120],
     "application/json"),
])
def test_html_or_a_truncated_chart_is_a_bad_payload(httpserver, endpoints_for, body,
                                                    content_type):
    httpserver.expect_request("/v8/finance/chart/AAPL").respond_with_data(
        body, content_type=content_type)
    with pytest.raises(BadPayload):
        check_yahoo(endpoints_for, "AAPL")


def test_a_path_or_sql_in_the_ticker_never_reaches_the_server(httpserver, endpoints_for):
    for bad in ("../x", "a;drop", "A'B", "A B", "x" * 41):
        with pytest.raises(SymbolRefused, match="is not a ticker"):
            check_yahoo(endpoints_for, bad)
    assert httpserver.log == []
