"""Funding and open-interest venue clients against a real loopback server.

Payloads are the recorded ones from ../shared/fixtures where they exist (Bybit and OKX funding
history, the OKX rate-limit body); the rest are written here in the documented shapes
(../shared/data-sources.md §1–3). Handlers page like the venues do, so the paging tests exercise the
real cursors: Binance and Hyperliquid forward by time, Bybit backwards by endTime, OKX backwards
with `after`, Bybit open interest by `nextPageCursor`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from werkzeug import Request, Response

from models.catalog import get_spec
from models.series import MS_PER_DAY
from services.binance_futures import BinanceFuturesClient, parse_funding_rates, parse_oi_hist
from services.bybit import BybitClient
from services.bybit import parse_funding_history as parse_bybit_funding
from services.config import DEFAULT_URLS, Endpoints
from services.deribit import FUNDING_NOW_COLUMNS
from services.errors import (
    BadPayload,
    BadRequest,
    GeoBlocked,
    RateLimited,
    UnknownSymbol,
)
from services.hyperliquid import HyperliquidClient
from services.hyperliquid import parse_funding_history as parse_hl_funding
from services.okx import OkxClient
from services.okx import parse_funding_history as parse_okx_funding
from services.refresh import refresh_series
from services.sources import Sources
from tests.conftest import shared_fixture

H = 3_600_000
T0 = 1_780_000_000_000 - 1_780_000_000_000 % (8 * H)  # an 8h settlement boundary


def ms(frame) -> list[int]:
    return frame.index.as_unit("ms").asi8.tolist()


def _json(payload, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


# -- loopback venues that page like the real ones -------------------------------------------
def binance_funding_handler(times: list[int], rate: float = 0.0001):
    def handler(req: Request) -> Response:
        start, end = int(req.args["startTime"]), int(req.args["endTime"])
        rows = [{"symbol": req.args["symbol"], "fundingTime": t + 3, "rateType": "Regular",
                 "fundingRate": f"{rate:.8f}", "markPrice": ""}
                for t in times if start <= t + 3 <= end][:int(req.args["limit"])]
        return _json(rows)
    return handler


def bybit_funding_handler(times: list[int], rate: float = 0.0001):
    def handler(req: Request) -> Response:
        start, end = int(req.args["startTime"]), int(req.args["endTime"])
        rows = [{"symbol": req.args["symbol"], "fundingRate": f"{rate}",
                 "fundingRateTimestamp": str(t)}
                for t in sorted(times, reverse=True) if start <= t <= end]
        return _json({"retCode": 0, "retMsg": "OK",
                      "result": {"category": "linear", "list": rows[:int(req.args["limit"])]},
                      "retExtInfo": {}, "time": T0})
    return handler


def bybit_ticker(symbol: str = "BTCUSDT", **extra) -> dict:
    row = {"symbol": symbol, "markPrice": "66000.50", "indexPrice": "65990.10",
           "fundingRate": "0.0001", "nextFundingTime": str(T0 + 8 * H),
           "openInterest": "50000", "openInterestValue": "3300025000.00", **extra}
    return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [row]},
            "retExtInfo": {}, "time": T0 + 1234}


def okx_history_handler(times: list[int], rate: str = "0.0001"):
    def handler(req: Request) -> Response:
        after = int(req.args.get("after", 2**62))
        rows = [{"instType": "SWAP", "instId": req.args["instId"], "formulaType": "withRate",
                 "fundingRate": "0.0002", "realizedRate": rate, "fundingTime": str(t),
                 "method": "current_period"}
                for t in sorted(times, reverse=True) if t < after]
        return _json({"code": "0", "msg": "", "data": rows[:int(req.args["limit"])]})
    return handler


def okx_current(inst: str = "BTC-USDT-SWAP", hours: int = 8, **extra) -> dict:
    return {"code": "0", "msg": "", "data": [{
        "instType": "SWAP", "instId": inst, "fundingRate": "0.0001", "nextFundingRate": "",
        "fundingTime": str(T0 + 8 * H), "nextFundingTime": str(T0 + (8 + hours) * H),
        "ts": str(T0 + 99), **extra}]}


def hyperliquid_handler(times: list[int], rate: str = "0.0000125", universe=("BTC", "ETH")):
    def handler(req: Request) -> Response:
        body = json.loads(req.get_data())
        if body["type"] == "fundingHistory":
            if body["coin"] not in universe:
                return _json([])
            rows = [{"coin": body["coin"], "fundingRate": rate, "premium": "0.0001",
                     "time": t + 76}
                    for t in times if body["startTime"] <= t + 76 <= body["endTime"]][:500]
            return _json(rows)
        if body["type"] == "metaAndAssetCtxs":
            return _json([{"universe": [{"name": n, "szDecimals": 5} for n in universe]},
                          [{"funding": rate, "openInterest": "20000", "markPx": "66000.0",
                            "oraclePx": "65990.0", "premium": "0.0001"} for _ in universe]])
        return Response("Failed to deserialize the JSON body", status=422)
    return handler


# -- normalisation ---------------------------------------------------------------------------
def test_apr_by_hand_8h_and_1h():
    frame, _ = parse_funding_rates([{"symbol": "BTCUSDT", "fundingTime": T0 + 3,
                                     "fundingRate": "0.00010000", "markPrice": ""}])
    assert frame["apr_pct"].iloc[0] == pytest.approx(10.95)  # 0.0001 × 3 × 365 × 100
    assert frame["interval_hours"].iloc[0] == 8.0
    assert ms(frame) == [T0]  # fundingTime a few ms past the hour, floored
    hl, _ = parse_hl_funding(
        [{"coin": "BTC", "fundingRate": "0.0000125", "premium": "0", "time": T0 + 76}])
    assert hl["apr_pct"].iloc[0] == pytest.approx(10.95)  # 0.0000125 × 8760 × 100
    assert hl["interval_hours"].iloc[0] == 1.0


def test_nan_null_and_duplicate_rows_are_dropped():
    rows = [{"fundingTime": T0, "fundingRate": "0.0001"},
            {"fundingTime": T0 + 8 * H, "fundingRate": None},
            {"fundingTime": T0 + 16 * H, "fundingRate": "NaN"},
            {"fundingTime": T0 + 24 * H, "fundingRate": ""},
            {"fundingTime": T0 + 32 * H, "fundingRate": "0.0002"},
            {"fundingTime": T0 + 32 * H + 5, "fundingRate": "0.0003"}]  # same hour: last wins
    frame, _ = parse_funding_rates(rows)
    assert ms(frame) == [T0, T0 + 32 * H]
    assert frame["rate"].tolist() == [0.0001, 0.0003]
    assert frame.dtypes.tolist() == [np.float64] * 3
    with pytest.raises(BadPayload, match="fundingRate"):
        parse_funding_rates([{"fundingTime": T0}])
    with pytest.raises(BadPayload, match="expected a list"):
        parse_funding_rates({"code": 0})


def test_interval_follows_the_spacing_of_settlements():
    # 8h settlements, then the symbol moves to 4h: each row keeps its own interval.
    times = [T0, T0 + 8 * H, T0 + 16 * H, T0 + 20 * H, T0 + 24 * H, T0 + 48 * H]
    frame, _ = parse_funding_rates([{"fundingTime": t, "fundingRate": "0.0001"} for t in times],
                                   default_hours=4.0)
    # first row and the 24h gap have no usable spacing: today's interval (4h) is used.
    assert frame["interval_hours"].tolist() == [4.0, 8.0, 8.0, 4.0, 4.0, 4.0]
    assert frame["apr_pct"].tolist() == pytest.approx([21.9, 10.95, 10.95, 21.9, 21.9, 21.9])


# -- Binance USD-M futures -------------------------------------------------------------------
def test_binance_funding_pages_forward_without_duplicates(httpserver, endpoints_for):
    times = [T0 + i * 8 * H for i in range(1500)]
    httpserver.expect_request("/fapi/v1/fundingInfo").respond_with_json(
        [{"symbol": "XYZUSDT", "adjustedFundingRateCap": "0.025",
          "adjustedFundingRateFloor": "-0.025", "fundingIntervalHours": 4,
          "disclaimer": False}])
    httpserver.expect_request("/fapi/v1/fundingRate").respond_with_handler(
        binance_funding_handler(times))
    client = BinanceFuturesClient(endpoints_for)
    spec = get_spec("funding.binance.btc")
    assert spec.source == "binance_futures"
    pages = list(client.iter_pages(spec, "BTCUSDT", T0, times[-1] + 3))
    assert [len(p) for p in pages] == [1000, 500]
    all_ms = [t for p in pages for t in ms(p)]
    assert all_ms == times  # floored, in order, none twice
    assert all(np.allclose(p["apr_pct"], 10.95) for p in pages)
    assert all((p["interval_hours"] == 8.0).all() for p in pages)
    asked = [int(r.args["startTime"]) for r, _ in httpserver.log if r.path.endswith("Rate")]
    # from one 8h interval before the range: the first row's previous settlement
    assert asked == [T0 - 8 * H, times[999] + 3 + 1]
    assert client.interval_hours("XYZUSDT") == 4.0 and client.interval_hours("BTCUSDT") == 8.0


def test_binance_errors_unknown_symbol_and_geo_block(httpserver, endpoints_for):
    client = BinanceFuturesClient(endpoints_for)
    spec = get_spec("fundingnow.binance.btc")
    httpserver.expect_oneshot_request("/fapi/v1/premiumIndex").respond_with_json(
        {"code": -1121, "msg": "Invalid symbol."}, status=400)
    with pytest.raises(UnknownSymbol, match="Invalid symbol"):
        client.fetch_snapshot(spec, "NOPEUSDT")
    body = {"code": 0, "msg": "Service unavailable from a restricted location according to "
                              "'b. Eligibility' in https://www.binance.com/en/terms."}
    httpserver.expect_oneshot_request("/fapi/v1/premiumIndex").respond_with_response(
        _json(body, status=451))
    with pytest.raises(GeoBlocked, match="region"):
        client.fetch_snapshot(spec, "BTCUSDT")


def test_binance_snapshot(httpserver, endpoints_for):
    httpserver.expect_request("/fapi/v1/fundingInfo").respond_with_json([])
    httpserver.expect_request("/fapi/v1/premiumIndex", query_string={"symbol": "BTCUSDT"}) \
        .respond_with_json({"symbol": "BTCUSDT", "markPrice": "11793.63104562",
                            "indexPrice": "11781.80495970",
                            "estimatedSettlePrice": "11781.16138815",
                            "lastFundingRate": "0.00038246", "interestRate": "0.00010000",
                            "nextFundingTime": 1597392000000, "time": 1597370495002})
    httpserver.expect_request("/futures/data/openInterestHist").respond_with_json(
        [{"symbol": "BTCUSDT", "sumOpenInterest": "94731.04600000",
          "sumOpenInterestValue": "8157280897.95540000",
          "CMCCirculatingSupply": "20094037.00000000", "timestamp": 1597370400000}])
    snap = BinanceFuturesClient(endpoints_for).fetch_snapshot(get_spec("fundingnow.binance.btc"),
                                                              "BTCUSDT")
    assert snap.time_ms == 1597370495002 and snap.series_id == "fundingnow.binance.btc"
    assert list(snap.frame.columns) == list(FUNDING_NOW_COLUMNS) and len(snap.frame) == 1
    row = snap.frame.iloc[0]
    assert row.rate == 0.00038246 and row.interval_hours == 8.0
    assert row.apr_pct == pytest.approx(0.00038246 * 3 * 365 * 100)
    assert row.next_funding_ms == 1597392000000 and row.mark_price == 11793.63104562
    assert row.open_interest == 94731.046 and row.open_interest_usd == 8157280897.9554


def test_binance_open_interest_windows_and_both_timestamp_types(httpserver, endpoints_for):
    times = [T0 + i * H for i in range(700)]

    def handler(req: Request) -> Response:
        start, end = int(req.args["startTime"]), int(req.args["endTime"])
        assert req.args["period"] == "1h" and int(req.args["limit"]) <= 500
        sel = [t for t in times if start <= t <= end]
        # newest first, string timestamps on odd hours: the order and type are not promised
        return _json([{"symbol": "BTCUSDT", "sumOpenInterest": "100.5",
                       "sumOpenInterestValue": "6600000.0", "CMCCirculatingSupply": "1",
                       "timestamp": str(t) if (t // H) % 2 else t} for t in reversed(sel)])

    httpserver.expect_request("/futures/data/openInterestHist").respond_with_handler(handler)
    client = BinanceFuturesClient(endpoints_for)
    pages = list(client.iter_pages(get_spec("oi.binance.btc"), "BTCUSDT", T0, times[-1]))
    assert [len(p) for p in pages] == [500, 200]
    assert [t for p in pages for t in ms(p)] == times
    assert pages[0]["open_interest_usd"].iloc[0] == 6_600_000.0
    frame, newest = parse_oi_hist([{"timestamp": "1791284400000", "sumOpenInterest": None,
                                    "sumOpenInterestValue": "1"}])
    assert frame.empty and newest == 1791284400000  # a null amount is not stored
    with pytest.raises(BadRequest):
        list(client.iter_pages(get_spec("dvol.btc"), "BTCUSDT", T0, T0 + H))


# -- Bybit -----------------------------------------------------------------------------------
def test_bybit_recorded_funding_newest_first_strings():
    payload = shared_fixture("bybit/funding_history_linear_BTCUSDT.nautilus.json")
    frame, oldest = parse_bybit_funding(payload["result"])
    assert ms(frame) == [1709856000000, 1709884800000]  # sent newest first, stored ascending
    assert oldest == 1709856000000
    assert frame["rate"].tolist() == [0.00015, 0.0001]
    assert frame["interval_hours"].tolist() == [8.0, 8.0]
    assert frame["apr_pct"].tolist() == pytest.approx([16.425, 10.95])


def test_bybit_funding_pages_backwards_without_duplicates(httpserver, endpoints_for):
    times = [T0 + i * 8 * H for i in range(350)]
    httpserver.expect_request("/v5/market/tickers").respond_with_json(
        bybit_ticker(fundingIntervalHour="8"))
    httpserver.expect_request("/v5/market/funding/history").respond_with_handler(
        bybit_funding_handler(times))
    client = BybitClient(endpoints_for)
    pages = list(client.iter_pages(get_spec("funding.bybit.btc"), "BTCUSDT", T0, times[-1]))
    assert [len(p) for p in pages] == [200, 150]
    got = sorted(t for p in pages for t in ms(p))
    assert got == times and len(set(got)) == len(got)
    ends = [int(r.args["endTime"]) for r, _ in httpserver.log if r.path.endswith("history")]
    assert ends == [times[-1], times[150] - 1]
    assert all(r.args["category"] == "linear" for r, _ in httpserver.log)


@pytest.mark.parametrize(("client_cls", "series_id", "symbol", "aux", "history", "handler"), [
    (BybitClient, "funding.bybit.btc", "BTCUSDT", "/v5/market/tickers",
     "/v5/market/funding/history", bybit_funding_handler),
    (BinanceFuturesClient, "funding.binance.btc", "BTCUSDT", "/fapi/v1/fundingInfo",
     "/fapi/v1/fundingRate", binance_funding_handler),
])
def test_interval_lookup_down_does_not_stop_the_history(httpserver, endpoints_for, client_cls,
                                                        series_id, symbol, aux, history,
                                                        handler):
    # The current-interval call only supplies a default; its outage must not hide the history.
    times = [T0 + i * 8 * H for i in range(20)]
    httpserver.expect_request(aux).respond_with_data("<html>502 Bad Gateway</html>",
                                                     status=502, content_type="text/html")
    httpserver.expect_request(history).respond_with_handler(handler(times))
    pages = list(client_cls(endpoints_for).iter_pages(get_spec(series_id), symbol, T0,
                                                      times[-1] + 10))
    rows = pd.concat(pages)
    assert len(rows) == 20 and set(rows["interval_hours"]) == {8.0}


def test_bybit_errors_in_http_200_and_region_403(httpserver, endpoints_for):
    client = BybitClient(endpoints_for)
    spec = get_spec("fundingnow.bybit.btc")
    httpserver.expect_oneshot_request("/v5/market/tickers").respond_with_json(
        {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {},
         "retExtInfo": {}, "time": T0})
    with pytest.raises(UnknownSymbol, match="10001"):
        client.fetch_snapshot(spec, "NOPEUSDT")
    httpserver.expect_oneshot_request("/v5/market/tickers").respond_with_json(
        {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "time": T0})
    with pytest.raises(RateLimited) as e:
        client.fetch_snapshot(spec, "BTCUSDT")
    assert e.value.retry_after and e.value.transient
    httpserver.expect_oneshot_request("/v5/market/tickers").respond_with_json(
        {"retCode": 10001, "retMsg": "params error: limit", "result": {}, "time": T0})
    with pytest.raises(BadRequest):
        client.fetch_snapshot(spec, "BTCUSDT")
    httpserver.expect_oneshot_request("/v5/market/tickers").respond_with_response(Response(
        "<html><head><title>403 Forbidden</title></head><body>The Amazon CloudFront "
        "distribution is configured to block access from your country.</body></html>",
        status=403, content_type="text/html"))
    with pytest.raises(GeoBlocked, match="not available from your region"):
        client.fetch_snapshot(spec, "BTCUSDT")


def test_bybit_snapshot(httpserver, endpoints_for):
    httpserver.expect_request("/v5/market/tickers").respond_with_json(
        bybit_ticker(fundingIntervalHour="4"))
    snap = BybitClient(endpoints_for).fetch_snapshot(get_spec("fundingnow.bybit.btc"), "BTCUSDT")
    assert snap.time_ms == T0 + 1234
    assert list(snap.frame.columns) == list(FUNDING_NOW_COLUMNS)
    row = snap.frame.iloc[0]
    assert row.rate == 0.0001 and row.interval_hours == 4.0
    assert row.apr_pct == pytest.approx(21.9)
    assert row.next_funding_ms == T0 + 8 * H and row.open_interest_usd == 3300025000.0
    # without fundingIntervalHour: the catalog's 8h
    httpserver.clear()
    httpserver.expect_request("/v5/market/tickers").respond_with_json(bybit_ticker())
    snap = BybitClient(endpoints_for).fetch_snapshot(get_spec("fundingnow.bybit.btc"), "BTCUSDT")
    assert snap.frame.iloc[0].apr_pct == pytest.approx(10.95)


def test_bybit_open_interest_cursor_paging(httpserver, endpoints_for):
    times = [T0 + i * H for i in range(300)]

    def handler(req: Request) -> Response:
        assert req.args["intervalTime"] == "1h"
        newest_first = sorted(times, reverse=True)
        offset = int(req.args.get("cursor", "0") or 0)
        page = newest_first[offset:offset + 200]
        nxt = str(offset + 200) if offset + 200 < len(times) else ""
        return _json({"retCode": 0, "retMsg": "OK", "time": T0, "result": {
            "category": "linear", "symbol": "BTCUSDT", "nextPageCursor": nxt,
            "list": [{"openInterest": "63910.5", "timestamp": str(t)} for t in page]}})

    httpserver.expect_request("/v5/market/open-interest").respond_with_handler(handler)
    pages = list(BybitClient(endpoints_for).iter_pages(get_spec("oi.bybit.btc"), "BTCUSDT",
                                                       T0, times[-1]))
    assert [len(p) for p in pages] == [200, 100]
    got = sorted(t for p in pages for t in ms(p))
    assert got == times
    assert pages[0]["open_interest"].iloc[0] == 63910.5
    assert np.isnan(pages[0]["open_interest_usd"]).all()  # Bybit history has no USD value
    cursors = [r.args.get("cursor") for r, _ in httpserver.log]
    assert cursors == [None, "200"]


# -- OKX -------------------------------------------------------------------------------------
def test_okx_recorded_funding_uses_realized_rate():
    payload = shared_fixture("okx/funding_rate_history_BTC-USDT-SWAP.nautilus.json")
    frame, oldest = parse_okx_funding(payload["data"])
    assert ms(frame) == [1704038400000, 1704067200000] and oldest == 1704038400000
    assert frame["rate"].tolist() == [-0.00002, 0.00015]  # realizedRate, not the predicted one
    assert frame["apr_pct"].tolist() == pytest.approx([-2.19, 16.425])


def test_okx_pages_back_with_after(httpserver, endpoints_for):
    times = [T0 + i * 8 * H for i in range(250)]
    httpserver.expect_request("/api/v5/public/funding-rate").respond_with_json(okx_current())
    httpserver.expect_request("/api/v5/public/funding-rate-history").respond_with_handler(
        okx_history_handler(times))
    client = OkxClient(endpoints_for)
    pages = list(client.iter_pages(get_spec("funding.okx.btc"), "BTC-USDT-SWAP", T0,
                                   times[-1]))
    assert [len(p) for p in pages] == [100, 100, 50]
    got = sorted(t for p in pages for t in ms(p))
    assert got == times and len(set(got)) == len(got)
    afters = [int(r.args["after"]) for r, _ in httpserver.log if r.path.endswith("history")]
    # the first asks for rows up to the end inclusive; then each page's oldest fundingTime
    assert afters == [times[-1] + 1, times[150], times[50]]
    assert np.allclose(pages[0]["apr_pct"], 10.95)


def test_okx_errors(httpserver, endpoints_for):
    client = OkxClient(endpoints_for)
    spec = get_spec("fundingnow.okx.btc")
    httpserver.expect_oneshot_request("/api/v5/public/funding-rate").respond_with_json(
        {"code": "51001", "msg": "Instrument ID does not exist", "data": []})
    with pytest.raises(UnknownSymbol, match="51001"):
        client.fetch_snapshot(spec, "NOPE-USDT-SWAP")
    httpserver.expect_oneshot_request("/api/v5/public/funding-rate").respond_with_json(
        shared_fixture("okx/error_rate_limit_50011.nautilus.json"))
    with pytest.raises(RateLimited, match="Too Many Requests"):
        client.fetch_snapshot(spec, "BTC-USDT-SWAP")
    httpserver.expect_oneshot_request("/api/v5/public/funding-rate").respond_with_json(
        shared_fixture("okx/error_404_not_found.nautilus.json"), status=404)
    with pytest.raises(UnknownSymbol, match="404"):  # numeric code: the HTTP status decides
        client.fetch_snapshot(spec, "BTC-USDT-SWAP")


def test_okx_snapshot_with_empty_next_rate_and_4h_interval(httpserver, endpoints_for):
    httpserver.expect_request("/api/v5/public/funding-rate").respond_with_json(
        okx_current(hours=4))
    httpserver.expect_request("/api/v5/public/open-interest").respond_with_json(
        {"code": "0", "msg": "", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP",
                                           "oi": "3000000", "oiCcy": "30000",
                                           "oiUsd": "1980000000", "ts": str(T0)}]})
    snap = OkxClient(endpoints_for).fetch_snapshot(get_spec("fundingnow.okx.btc"),
                                                   "BTC-USDT-SWAP")
    assert snap.time_ms == T0 + 99 and "next_rate" not in snap.meta
    assert list(snap.frame.columns) == list(FUNDING_NOW_COLUMNS)
    row = snap.frame.iloc[0]
    assert row.interval_hours == 4.0 and row.apr_pct == pytest.approx(21.9)
    assert row.next_funding_ms == T0 + 8 * H
    assert row.open_interest == 30000.0 and row.open_interest_usd == 1.98e9
    assert math.isnan(row.mark_price)


# -- Hyperliquid -----------------------------------------------------------------------------
def test_hyperliquid_posts_the_documented_body(httpserver, endpoints_for):
    httpserver.expect_request("/info", method="POST", json={
        "type": "fundingHistory", "coin": "BTC", "startTime": T0, "endTime": T0 + 2 * H}) \
        .respond_with_json([{"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.0001",
                             "time": T0 + 76},
                            {"coin": "BTC", "fundingRate": "-0.00000625", "premium": "0",
                             "time": T0 + H + 80}])
    pages = list(HyperliquidClient(endpoints_for).iter_pages(
        get_spec("funding.hyperliquid.btc"), "BTC", T0, T0 + 2 * H))
    assert len(pages) == 1 and ms(pages[0]) == [T0, T0 + H]
    assert pages[0]["apr_pct"].tolist() == pytest.approx([10.95, -5.475])
    assert pages[0]["interval_hours"].tolist() == [1.0, 1.0]


def test_hyperliquid_pages_forward_and_unknown_coin(httpserver, endpoints_for):
    times = [T0 + i * H for i in range(800)]
    httpserver.expect_request("/info", method="POST").respond_with_handler(
        hyperliquid_handler(times))
    client = HyperliquidClient(endpoints_for)
    spec = get_spec("funding.hyperliquid.btc")
    pages = list(client.iter_pages(spec, "BTC", T0, times[-1] + 76))
    assert [len(p) for p in pages] == [500, 300]
    assert [t for p in pages for t in ms(p)] == times
    starts = [json.loads(r.get_data())["startTime"] for r, _ in httpserver.log]
    assert starts == [T0, times[499] + 76 + 1]
    with pytest.raises(UnknownSymbol, match="NOPE"):
        list(client.iter_pages(spec, "NOPE", T0, T0 + H))


def test_hyperliquid_snapshot(httpserver, endpoints_for):
    httpserver.expect_request("/info", method="POST", json={"type": "metaAndAssetCtxs"}) \
        .respond_with_handler(hyperliquid_handler([], universe=("ETH", "BTC")))
    client = HyperliquidClient(endpoints_for)
    snap = client.fetch_snapshot(get_spec("fundingnow.hyperliquid.btc"), "BTC")
    assert list(snap.frame.columns) == list(FUNDING_NOW_COLUMNS)
    row = snap.frame.iloc[0]
    assert row.rate == 0.0000125 and row.interval_hours == 1.0
    assert row.apr_pct == pytest.approx(10.95)
    assert row.open_interest_usd == 20000 * 66000.0 and row.index_price == 65990.0
    assert snap.time_ms < row.next_funding_ms <= snap.time_ms + H
    with pytest.raises(UnknownSymbol):
        client.fetch_snapshot(get_spec("fundingnow.hyperliquid.btc"), "DOGE")


# -- bad bodies and bad input ------------------------------------------------------------------
def test_html_truncated_missing_field_and_bad_input(httpserver, endpoints_for):
    client = OkxClient(endpoints_for)
    spec = get_spec("fundingnow.okx.btc")
    httpserver.expect_oneshot_request("/api/v5/public/funding-rate").respond_with_response(
        Response("<!doctype html><html><title>Just a moment...</title></html>", status=200,
                 content_type="text/html"))
    with pytest.raises(BadPayload, match="HTML"):
        client.fetch_snapshot(spec, "BTC-USDT-SWAP")
    httpserver.expect_oneshot_request("/api/v5/public/funding-rate").respond_with_data(
        '{"code":"0","data":[{"instId":"BTC-US', content_type="application/json")
    with pytest.raises(BadPayload, match="truncated"):
        client.fetch_snapshot(spec, "BTC-USDT-SWAP")
    httpserver.expect_oneshot_request("/api/v5/public/funding-rate").respond_with_json(
        {"code": "0", "msg": "", "data": [{"instId": "BTC-USDT-SWAP", "fundingTime": "1"}]})
    with pytest.raises(BadPayload, match="fundingRate"):
        client.fetch_snapshot(spec, "BTC-USDT-SWAP")
    with pytest.raises(BadRequest, match="invalid symbol"):
        client.fetch_snapshot(spec, "BTC/../x?a=1")
    with pytest.raises(BadRequest):
        client.fetch_snapshot(get_spec("funding.okx.btc"), "BTC-USDT-SWAP")  # not a snapshot
    with pytest.raises(BadRequest):
        list(client.iter_pages(get_spec("oi.bybit.btc"), "BTC-USDT-SWAP", T0, T0 + H))


# -- the catalog wiring: refresh_series into a real cache ---------------------------------------
@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
def test_refresh_funding_series_into_the_cache(venue, httpserver, cache):
    step = 1 if venue == "hyperliquid" else 8
    now = T0 + 20 * MS_PER_DAY + 60_000  # the last settlement is stamped a few ms late
    times = [T0 + i * step * H for i in range(20 * 24 // step + 1)]
    if venue == "binance":
        httpserver.expect_request("/fapi/v1/fundingInfo").respond_with_json([])
        httpserver.expect_request("/fapi/v1/fundingRate").respond_with_handler(
            binance_funding_handler(times))
        httpserver.expect_request("/fapi/v1/premiumIndex").respond_with_json(
            {"symbol": "BTCUSDT", "markPrice": "66000", "indexPrice": "65990",
             "lastFundingRate": "0.0001", "nextFundingTime": T0 + 8 * H, "time": T0 + 5})
        httpserver.expect_request("/futures/data/openInterestHist").respond_with_json([])
    elif venue == "bybit":
        httpserver.expect_request("/v5/market/tickers").respond_with_json(bybit_ticker())
        httpserver.expect_request("/v5/market/funding/history").respond_with_handler(
            bybit_funding_handler(times))
    elif venue == "okx":
        httpserver.expect_request("/api/v5/public/funding-rate").respond_with_json(okx_current())
        httpserver.expect_request("/api/v5/public/funding-rate-history").respond_with_handler(
            okx_history_handler(times))
        httpserver.expect_request("/api/v5/public/open-interest").respond_with_json(
            {"code": "0", "msg": "", "data": []})
    else:
        httpserver.expect_request("/info", method="POST").respond_with_handler(
            hyperliquid_handler(times))
    base = httpserver.url_for("/").rstrip("/")
    sources = Sources(Endpoints({name: base for name in DEFAULT_URLS}))
    try:
        spec = get_spec(f"funding.{venue}.btc")
        result = refresh_series(spec, cache, sources, want_start_ms=T0, now=now)
        assert result.ok, result.error
        assert result.venue == spec.source and result.rows_added == len(times)
        data = cache.read(spec.id)
        assert data.time.tolist() == times
        assert data["apr_pct"] == pytest.approx(np.full(len(times), 10.95))
        assert data["interval_hours"].tolist() == [float(step)] * len(times)

        now_spec = get_spec(f"fundingnow.{venue}.btc")
        snap_result = refresh_series(now_spec, cache, sources)
        assert snap_result.ok, snap_result.error
        snap = cache.latest_snapshot(now_spec.id)
        assert snap is not None and list(snap.frame.columns) == list(FUNDING_NOW_COLUMNS)
        assert snap.frame.iloc[0].apr_pct == pytest.approx(10.95)
    finally:
        sources.close()


# -- intervals per row across page seams (issue 12, item 11) ------------------------------------
def moved_from_8h_to_4h(n_8h: int, n_4h: int) -> list[int]:
    """Settlement times of a symbol that settled every 8h, then every 4h (today's interval)."""
    old = [T0 + i * 8 * H for i in range(n_8h)]
    return old + [old[-1] + (i + 1) * 4 * H for i in range(n_4h)]


def assert_each_row_has_its_own_interval(pages, times, n_8h):
    rows = pd.concat(pages).sort_index()
    assert ms(rows) == times[1:]  # times[0] is only the previous settlement of times[1]
    assert rows["interval_hours"].tolist() == [8.0] * (n_8h - 1) + [4.0] * (len(times) - n_8h)
    # 0.01 % per 8h is 10.95 % APR; per 4h it is 21.90 %.
    np.testing.assert_allclose(rows["apr_pct"], [10.95] * (n_8h - 1)
                               + [21.9] * (len(times) - n_8h))


def test_bybit_interval_at_page_seams_is_the_spacing_to_the_older_page(httpserver,
                                                                      endpoints_for):
    # 101 rows 8h apart then 150 rows 4h apart; the range starts at the second row. Pages of
    # 200, newest first: page 1 = the 150 4h rows + the newest 50 8h rows; page 2 the rest.
    times = moved_from_8h_to_4h(101, 150)
    httpserver.expect_request("/v5/market/tickers").respond_with_json(
        bybit_ticker(fundingIntervalHour="4"))
    httpserver.expect_request("/v5/market/funding/history").respond_with_handler(
        bybit_funding_handler(times))
    pages = list(BybitClient(endpoints_for).iter_pages(get_spec("funding.bybit.btc"),
                                                       "BTCUSDT", times[1], times[-1]))
    assert [len(p) for p in pages] == [200, 50]
    # The seam row (page 1's oldest, an 8h row) and the range's first row used to take
    # today's 4h: 21.90 % instead of 10.95 %.
    assert pages[0]["interval_hours"].iloc[0] == 8.0
    assert pages[0]["apr_pct"].iloc[0] == pytest.approx(10.95)
    assert_each_row_has_its_own_interval(pages, times, 101)
    starts = [int(r.args["startTime"]) for r, _ in httpserver.log if r.path.endswith("history")]
    assert set(starts) == {times[0]}  # 8h before the range


def test_okx_interval_at_page_seams_is_the_spacing_to_the_older_page(httpserver, endpoints_for):
    # 160 rows 8h apart then 50 rows 4h apart; pages of 100: both seams fall on 8h rows.
    times = moved_from_8h_to_4h(160, 50)
    httpserver.expect_request("/api/v5/public/funding-rate").respond_with_json(
        okx_current(hours=4))
    httpserver.expect_request("/api/v5/public/funding-rate-history").respond_with_handler(
        okx_history_handler(times))
    pages = list(OkxClient(endpoints_for).iter_pages(get_spec("funding.okx.btc"),
                                                     "BTC-USDT-SWAP", times[1], times[-1]))
    assert [len(p) for p in pages] == [100, 100, 9]
    assert_each_row_has_its_own_interval(pages, times, 160)


def test_okx_pages_on_when_a_full_page_ends_exactly_at_the_range_start(httpserver,
                                                                       endpoints_for):
    times = moved_from_8h_to_4h(101, 100)  # the second page's oldest row is the range start
    httpserver.expect_request("/api/v5/public/funding-rate").respond_with_json(
        okx_current(hours=4))
    httpserver.expect_request("/api/v5/public/funding-rate-history").respond_with_handler(
        okx_history_handler(times))
    pages = list(OkxClient(endpoints_for).iter_pages(get_spec("funding.okx.btc"),
                                                     "BTC-USDT-SWAP", times[1], times[-1]))
    assert_each_row_has_its_own_interval(pages, times, 101)


def test_binance_range_start_measured_against_the_settlement_before_it(httpserver,
                                                                       endpoints_for):
    times = moved_from_8h_to_4h(5, 3)
    httpserver.expect_request("/fapi/v1/fundingInfo").respond_with_json(
        [{"symbol": "BTCUSDT", "fundingIntervalHours": 4}])
    httpserver.expect_request("/fapi/v1/fundingRate").respond_with_handler(
        binance_funding_handler(times))
    pages = list(BinanceFuturesClient(endpoints_for).iter_pages(
        get_spec("funding.binance.btc"), "BTCUSDT", times[1], times[-1] + 3))
    assert_each_row_has_its_own_interval(pages, times, 5)


@pytest.mark.parametrize("venue", ["bybit", "okx"])
def test_refetching_the_last_cached_row_keeps_its_interval(venue, httpserver, cache):
    # All history is 8h, but the venue has just moved the symbol to 4h. A later refresh
    # fetches from the last cached row again: that row must keep 8h, not take today's 4h.
    times = [T0 + i * 8 * H for i in range(30)]
    if venue == "bybit":
        httpserver.expect_request("/v5/market/tickers").respond_with_json(
            bybit_ticker(fundingIntervalHour="4"))
        httpserver.expect_request("/v5/market/funding/history").respond_with_handler(
            bybit_funding_handler(times))
    else:
        httpserver.expect_request("/api/v5/public/funding-rate").respond_with_json(
            okx_current(hours=4))
        httpserver.expect_request("/api/v5/public/funding-rate-history").respond_with_handler(
            okx_history_handler(times))
    base = httpserver.url_for("/").rstrip("/")
    sources = Sources(Endpoints({name: base for name in DEFAULT_URLS}))
    try:
        spec = get_spec(f"funding.{venue}.btc")
        first = refresh_series(spec, cache, sources, want_start_ms=times[1], now=times[-1] + H)
        assert first.ok, first.error
        again = refresh_series(spec, cache, sources, want_start_ms=times[1],
                               now=times[-1] + 2 * H, force=True)
        assert again.ok, again.error
        data = cache.read(spec.id)
        assert data.time.tolist() == times[1:]
        assert data["interval_hours"].tolist() == [8.0] * 29
        assert data["apr_pct"] == pytest.approx(np.full(29, 10.95))
    finally:
        sources.close()
