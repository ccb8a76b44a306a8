"""Dated futures from Deribit, Binance USD-M and OKX against a real loopback server.

Payloads follow each venue's documented shapes (docs/basis.md lists the endpoints): Deribit's
JSON-RPC `result` lists, Binance's exchangeInfo / premiumIndex objects with numbers as strings,
OKX's `{"code": "0", "data": [...]}` envelopes with strings everywhere. The expected numbers
are computed by hand from the dates (datetime arithmetic), not by models/basis.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from models.catalog import get_spec
from services.binance_futures import BinanceFuturesClient, parse_quarterlies
from services.cache import Cache
from services.deribit import DeribitClient
from services.errors import BadPayload
from services.okx import OkxClient
from services.refresh import refresh_series
from services.sources import Sources


def utc_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


T = utc_ms(2026, 2, 6, 12)  # when the marks were taken
WEEKLY = utc_ms(2026, 2, 13, 8)
MONTHLY = utc_ms(2026, 2, 27, 8)
MARCH = utc_ms(2026, 3, 27, 8)  # the front quarterly on 6 Feb
JUNE = utc_ms(2026, 6, 26, 8)
DAYS_TO_MARCH = (dt.datetime(2026, 3, 27, 8) - dt.datetime(2026, 2, 6, 12)).total_seconds() / 86400
DAYS_TO_JUNE = (dt.datetime(2026, 6, 26, 8) - dt.datetime(2026, 2, 6, 12)).total_seconds() / 86400


def deribit(httpserver, index: float = 70_000.0) -> None:
    def rpc(result):
        return {"jsonrpc": "2.0", "result": result, "usIn": T * 1000, "usOut": T * 1000 + 5,
                "usDiff": 5, "testnet": False}

    instruments = [
        {"instrument_name": "BTC-PERPETUAL", "settlement_period": "perpetual", "kind": "future",
         "expiration_timestamp": 32503708800000, "instrument_type": "reversed"},
        {"instrument_name": "BTC-13FEB26", "settlement_period": "week", "kind": "future",
         "expiration_timestamp": WEEKLY},
        {"instrument_name": "BTC-27FEB26", "settlement_period": "month", "kind": "future",
         "expiration_timestamp": MONTHLY},
        {"instrument_name": "BTC-27MAR26", "settlement_period": "month", "kind": "future",
         "expiration_timestamp": MARCH},
        {"instrument_name": "BTC-26JUN26", "settlement_period": "month", "kind": "future",
         "expiration_timestamp": JUNE},
    ]
    summary = [
        {"instrument_name": "BTC-PERPETUAL", "mark_price": 69_990.0, "creation_timestamp": T - 3,
         "base_currency": "BTC", "quote_currency": "USD", "open_interest": 1.2e9},
        {"instrument_name": "BTC-13FEB26", "mark_price": 70_050.0, "creation_timestamp": T - 2},
        {"instrument_name": "BTC-27FEB26", "mark_price": 70_200.0, "creation_timestamp": T - 1},
        {"instrument_name": "BTC-27MAR26", "mark_price": 70_700.0, "creation_timestamp": T,
         "estimated_delivery_price": index, "bid_price": None},
        {"instrument_name": "BTC-26JUN26", "mark_price": 72_100.0, "creation_timestamp": T},
    ]
    httpserver.expect_request("/api/v2/public/get_instruments",
                              query_string={"currency": "BTC", "kind": "future"}) \
        .respond_with_json(rpc(instruments))
    httpserver.expect_request("/api/v2/public/get_book_summary_by_currency",
                              query_string={"currency": "BTC", "kind": "future"}) \
        .respond_with_json(rpc(summary))
    httpserver.expect_request("/api/v2/public/get_index_price",
                              query_string={"index_name": "btc_usd"}) \
        .respond_with_json(rpc({"index_price": index, "estimated_delivery_price": index}))


def binance(httpserver) -> None:
    symbols = [
        {"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
         "deliveryDate": 4133404800000, "status": "TRADING"},
        {"symbol": "BTCUSDT_260327", "pair": "BTCUSDT", "contractType": "CURRENT_QUARTER",
         "deliveryDate": MARCH, "onboardDate": 1758268800000, "status": "TRADING"},
        {"symbol": "BTCUSDT_260626", "pair": "BTCUSDT", "contractType": "NEXT_QUARTER",
         "deliveryDate": JUNE, "status": "TRADING"},
        {"symbol": "ETHUSDT_260327", "pair": "ETHUSDT", "contractType": "CURRENT_QUARTER",
         "deliveryDate": MARCH, "status": "TRADING"},
    ]
    httpserver.expect_request("/fapi/v1/exchangeInfo").respond_with_json(
        {"timezone": "UTC", "serverTime": T, "symbols": symbols})
    for symbol, mark in (("BTCUSDT_260327", "70420.00000000"),
                         ("BTCUSDT_260626", "71500.50000000")):
        httpserver.expect_request("/fapi/v1/premiumIndex", query_string={"symbol": symbol}) \
            .respond_with_json({"symbol": symbol, "markPrice": mark,
                                "indexPrice": "70000.00000000",
                                "estimatedSettlePrice": "69990.1", "lastFundingRate": "",
                                "interestRate": "", "nextFundingTime": 0, "time": T})


def okx(httpserver) -> None:
    def env(data):
        return {"code": "0", "msg": "", "data": data}

    inst = [{"instId": f"BTC-USD-{d}", "instType": "FUTURES", "instFamily": "BTC-USD",
             "uly": "BTC-USD", "alias": alias, "ctType": "inverse", "ctVal": "100",
             "settleCcy": "BTC", "expTime": str(e), "state": "live"}
            for d, alias, e in (("260213", "this_week", WEEKLY), ("260327", "quarter", MARCH),
                                ("260626", "next_quarter", JUNE))]
    httpserver.expect_request("/api/v5/public/instruments",
                              query_string={"instType": "FUTURES", "instFamily": "BTC-USD"}) \
        .respond_with_json(env(inst))
    marks = [{"instType": "FUTURES", "instId": i, "markPx": px, "ts": str(T)}
             for i, px in (("BTC-USD-260213", "70010.1"), ("BTC-USD-260327", "70350"),
                           ("BTC-USD-260626", "71400"))]
    httpserver.expect_request("/api/v5/public/mark-price",
                              query_string={"instType": "FUTURES", "instFamily": "BTC-USD"}) \
        .respond_with_json(env(marks))
    httpserver.expect_request("/api/v5/market/index-tickers",
                              query_string={"instId": "BTC-USD"}) \
        .respond_with_json(env([{"instId": "BTC-USD", "idxPx": "70000", "high24h": "71000",
                                 "low24h": "66000", "open24h": "67000", "sodUtc0": "67100",
                                 "sodUtc8": "67300", "ts": str(T)}]))


def test_deribit_front_quarterly_row_is_march_with_the_apr_by_hand(httpserver, endpoints_for):
    deribit(httpserver)
    client = DeribitClient(endpoints_for)
    pages = list(client.iter_pages(get_spec("basis.deribit.btc"), "BTC", T - 1, T + 1))
    assert len(pages) == 1 and len(pages[0]) == 1
    row = pages[0].iloc[0]
    assert pages[0].index[0].value // 1_000_000 == T
    assert row.future_price == 70_700.0 and row.index_price == 70_000.0
    assert row.days_to_expiry == pytest.approx(DAYS_TO_MARCH)  # 48 d 20 h
    assert row.basis_pct == pytest.approx(1.0)
    assert row.apr_pct == pytest.approx(7.474402730375426)  # 1 % × 365 / 48.8333


def test_deribit_curve_lists_every_dated_future_not_the_perpetual(httpserver, endpoints_for):
    deribit(httpserver)
    snap = DeribitClient(endpoints_for).fetch_snapshot(get_spec("basiscurve.btc"), "BTC")
    frame = snap.frame
    assert snap.time_ms == T
    assert frame["instrument"].tolist() == ["BTC-13FEB26", "BTC-27FEB26", "BTC-27MAR26",
                                            "BTC-26JUN26"]
    assert frame["expiry_ms"].tolist() == [WEEKLY, MONTHLY, MARCH, JUNE]
    assert set(frame["venue"]) == {"deribit"} and set(frame["index_price"]) == {70_000.0}


def test_binance_quarterlies_from_exchange_info_and_premium_index(httpserver, endpoints_for):
    binance(httpserver)
    client = BinanceFuturesClient(endpoints_for)
    curve = client.futures_curve("BTCUSDT")
    assert curve.instruments == ("BTCUSDT_260327", "BTCUSDT_260626")
    assert curve.venue == "binance" and curve.index_price == 70_000.0
    (page,) = client.iter_pages(get_spec("basis.binance.btc"), "BTCUSDT", T - 1, T + 1)
    row = page.iloc[0]
    assert row.future_price == 70_420.0
    assert row.basis_pct == pytest.approx(0.6)
    assert row.apr_pct == pytest.approx(0.6 * 365 / DAYS_TO_MARCH)


def test_binance_quarterly_filter_keeps_the_pair_and_the_two_quarter_types():
    info = {"symbols": [
        {"symbol": "BTCUSDT_260327", "pair": "BTCUSDT", "contractType": "CURRENT_QUARTER",
         "deliveryDate": 1, "status": "TRADING"},
        {"symbol": "BTCUSDT_251226", "pair": "BTCUSDT", "contractType": "CURRENT_QUARTER",
         "deliveryDate": 0, "status": "SETTLING"},
        {"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
         "deliveryDate": 2, "status": "TRADING"},
        {"symbol": "BTCUSDC", "pair": "BTCUSDC", "contractType": "CURRENT_QUARTER",
         "deliveryDate": 3, "status": "TRADING"}]}
    assert parse_quarterlies(info, "BTCUSDT") == {"BTCUSDT_260327": 1}
    with pytest.raises(BadPayload):
        parse_quarterlies({"code": 0}, "BTCUSDT")


def test_okx_curve_and_front_row(httpserver, endpoints_for):
    okx(httpserver)
    client = OkxClient(endpoints_for)
    snap = client.fetch_snapshot(get_spec("basiscurve.btc"), "BTC-USD")
    assert snap.frame["instrument"].tolist() == ["BTC-USD-260213", "BTC-USD-260327",
                                                 "BTC-USD-260626"]
    (page,) = client.iter_pages(get_spec("basis.okx.btc"), "BTC-USD", T - 1, T + 1)
    row = page.iloc[0]
    assert row.future_price == 70_350.0 and row.index_price == 70_000.0
    assert row.basis_pct == pytest.approx(0.5)
    assert row.apr_pct == pytest.approx(0.5 * 365 / DAYS_TO_MARCH)


def test_a_range_before_the_marks_gets_no_rows(httpserver, endpoints_for):
    okx(httpserver)
    spec = get_spec("basis.okx.btc")
    assert list(OkxClient(endpoints_for).iter_pages(spec, "BTC-USD", T - 10_000, T - 1)) == []


def test_okx_without_index_is_one_clear_error(httpserver, endpoints_for):
    okx_env = {"code": "0", "msg": "", "data": []}
    httpserver.expect_request("/api/v5/public/instruments").respond_with_json(
        {"code": "0", "msg": "", "data": [{"instId": "BTC-USD-260327", "expTime": str(MARCH),
                                           "state": "live"}]})
    httpserver.expect_request("/api/v5/public/mark-price").respond_with_json(
        {"code": "0", "msg": "", "data": [{"instId": "BTC-USD-260327", "markPx": "70350",
                                           "ts": str(T)}]})
    httpserver.expect_request("/api/v5/market/index-tickers").respond_with_json(okx_env)
    with pytest.raises(BadPayload, match="index"):
        OkxClient(endpoints_for).futures_curve("BTC-USD")


def test_refresh_merges_the_venues_that_answer_and_reports_the_one_that_failed(
        httpserver, endpoints_for, tmp_path):
    deribit(httpserver)
    okx(httpserver)
    httpserver.expect_request("/fapi/v1/exchangeInfo").respond_with_json(
        {"code": -1003, "msg": "Too many requests"}, status=418)
    cache = Cache(tmp_path / "c.sqlite")
    sources = Sources(endpoints_for)
    result = refresh_series(get_spec("basiscurve.btc"), cache, sources, now=T + 60_000)
    assert result.ok and result.rows_added == 1
    assert [e.venue for e in result.fallback_errors] == ["binance_futures"]
    snap = cache.latest_snapshot("basiscurve.btc", now=T + 60_000)
    assert snap.time_ms == T
    assert sorted(set(snap.frame["venue"])) == ["deribit", "okx"]
    assert len(snap.frame) == 4 + 3
    assert snap.meta["failed"] == ["binance_futures"]
    sources.close()
    cache.close()


def test_refresh_adds_one_row_per_poll_and_backfills_nothing(httpserver, endpoints_for,
                                                             tmp_path):
    deribit(httpserver)
    cache = Cache(tmp_path / "c.sqlite")
    sources = Sources(endpoints_for)
    spec = get_spec("basis.deribit.btc")
    first = refresh_series(spec, cache, sources, now=T + 60_000)
    assert first.ok and first.rows_added == 1
    stored = cache.read("basis.deribit.btc")
    assert stored.time.tolist() == [T]
    assert stored["apr_pct"][0] == pytest.approx(7.474402730375426)
    # A later poll: the backfill range before the first row finds nothing, and says so once.
    again = refresh_series(spec, cache, sources, now=T + 600_000, force=True)
    assert again.ok and again.rows_added == 0
    assert cache.get_meta("basis.deribit.btc").get("history_start_ms") is not None
    sources.close()
    cache.close()
