"""A loopback stand-in for every venue Rotor reads, answering in each API's documented shape.

Used by the soak run, the benchmarks and end-to-end window tests: the live APIs cannot be reached
from here, so the app is run against this server with every `ROTOR_*_URL` pointed at it. Prices
are a deterministic random walk per symbol (so two runs see the same data) and time moves with
the wall clock, so a long run keeps getting new bars. Nothing here is a market price.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug import Request, Response
from werkzeug.serving import make_server

H = 3_600_000
DAY = 24 * H
BASE_PRICES = {"BTC": 66_000.0, "ETH": 1_950.0, "^GSPC": 6_000.0, "^NDX": 21_000.0,
               "GC=F": 4_900.0, "SI=F": 80.0, "DX-Y.NYB": 97.0, "^VIX": 19.0, "SOL": 140.0,
               "AAPL": 230.0, "ES=F": 6_050.0}
# What the symbol search reads (services/symbols.py): Binance's spot pairs with their status,
# and Yahoo's meta per ticker (others read as a NYSE stock; tickers starting ZZZ are unknown).
SPOT_PAIRS = (("BTCUSDT", "BTC", "USDT", "TRADING"), ("ETHUSDT", "ETH", "USDT", "TRADING"),
              ("SOLUSDT", "SOL", "USDT", "TRADING"), ("SOLBTC", "SOL", "BTC", "TRADING"),
              ("LUNAUSDT", "LUNA", "USDT", "BREAK"))
YAHOO_META = {"AAPL": ("NMS", "NasdaqGS", "EQUITY", "Apple Inc."),
              "ES=F": ("CME", "CME", "FUTURE", "E-Mini S&P 500")}


def _seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def price_at(symbol: str, t_ms: int) -> float:
    """A smooth deterministic path: a few incommensurate sines around the base price."""
    base = BASE_PRICES.get(symbol.replace("USDT", "").split("-")[0], 100.0)
    s = _seed(symbol) % 1000
    hours = t_ms / H
    wiggle = (0.03 * math.sin(hours / 37.0 + s) + 0.02 * math.sin(hours / 9.3 + 2 * s)
              + 0.006 * math.sin(hours / 1.7 + 3 * s))
    return round(base * (1.0 + wiggle), 6)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _floor(t: int, step: int) -> int:
    return t - t % step


def _grid(start: int, end: int, step: int, limit: int, newest_first: bool = False) -> list[int]:
    end = min(end, _now_ms())
    first = start + (-start) % step
    if newest_first:
        last = _floor(end, step)
        return list(range(last, first - 1, -step))[:limit]
    return list(range(first, end + 1, step))[:limit]


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


# -- venues -----------------------------------------------------------------------------------
def binance_klines(req: Request) -> Response:
    symbol = req.args["symbol"]
    step = {"1h": H, "1d": DAY}.get(req.args.get("interval", "1h"), H)
    start = int(req.args.get("startTime", _now_ms() - 500 * step))
    end = int(req.args.get("endTime", _now_ms()))
    rows = []
    for t in _grid(start, end, step, int(req.args.get("limit", 500))):
        o, c = price_at(symbol, t), price_at(symbol, t + step)
        rows.append([t, f"{o:.2f}", f"{max(o, c) * 1.002:.2f}", f"{min(o, c) * 0.998:.2f}",
                     f"{c:.2f}", "12.5", t + step - 1, "1000.0", 100, "6.0", "500.0", "0"])
    return _json(rows)


def binance_exchange_info(req: Request) -> Response:
    return _json({"timezone": "UTC", "serverTime": _now_ms(), "rateLimits": [],
                  "exchangeFilters": [], "symbols": [
                      {"symbol": s, "status": st, "baseAsset": b, "quoteAsset": q,
                       "isSpotTradingAllowed": True, "permissions": []}
                      for s, b, q, st in SPOT_PAIRS]})


def yahoo_chart(req: Request, symbol: str) -> Response:
    if symbol.startswith("ZZZ"):
        return _json({"chart": {"result": None, "error": {
            "code": "Not Found", "description": "No data found, symbol may be delisted"}}},
            status=404)
    interval = req.args.get("interval", "1d")
    step = H if interval in ("60m", "1h") else DAY
    start = int(req.args.get("period1", 0)) * 1000
    end = int(req.args.get("period2", _now_ms() // 1000)) * 1000
    if req.args.get("range") == "5d":
        start = _now_ms() - 7 * DAY
    times = [t for t in _grid(max(start, _now_ms() - 729 * DAY), end, step, 100_000)
             if time.gmtime(t / 1000).tm_wday < 5
             and (step == DAY or 14 <= time.gmtime(t / 1000).tm_hour < 21)]
    closes = [price_at(symbol, t + step) for t in times]
    opens = [price_at(symbol, t) for t in times]
    result: dict[str, Any] = {
        "meta": {"symbol": symbol, "currency": "USD", "exchangeTimezoneName": "America/New_York",
                 "gmtoffset": -18000, "dataGranularity": interval,
                 **dict(zip(("exchangeName", "fullExchangeName", "instrumentType", "longName"),
                            YAHOO_META.get(symbol, ("NYQ", "NYSE", "EQUITY", symbol)),
                            strict=True))},
        "indicators": {"quote": [{
            "open": opens, "close": closes,
            "high": [max(o, c) * 1.001 for o, c in zip(opens, closes, strict=True)],
            "low": [min(o, c) * 0.999 for o, c in zip(opens, closes, strict=True)],
            "volume": [1000] * len(times)}]},
    }
    if times:
        result["timestamp"] = [t // 1000 for t in times]
    return _json({"chart": {"result": [result], "error": None}})


def _funding_rate(venue: str, symbol: str, t: int) -> float:
    return 0.0001 * math.sin(t / (37 * H) + _seed(venue + symbol) % 7)


def binance_funding(req: Request) -> Response:
    symbol = req.args["symbol"]
    start = int(req.args.get("startTime", _now_ms() - 100 * 8 * H))
    end = int(req.args.get("endTime", _now_ms()))
    rows = [{"symbol": symbol, "fundingTime": t + 3, "rateType": "Regular",
             "fundingRate": f"{_funding_rate('binance', symbol, t):.8f}",
             "markPrice": f"{price_at(symbol, t):.2f}"}
            for t in _grid(start, end, 8 * H, int(req.args.get("limit", 100)))]
    return _json(rows)


def binance_premium(req: Request) -> Response:
    symbol = req.args["symbol"]
    now = _now_ms()
    return _json({"symbol": symbol, "markPrice": f"{price_at(symbol, now):.2f}",
                  "indexPrice": f"{price_at(symbol, now) * 0.9998:.2f}",
                  "lastFundingRate": f"{_funding_rate('binance', symbol, now):.8f}",
                  "interestRate": "0.00010000", "nextFundingTime": _floor(now, 8 * H) + 8 * H,
                  "time": now})


def binance_oi_hist(req: Request) -> Response:
    symbol = req.args["symbol"]
    start = int(req.args.get("startTime", _now_ms() - 30 * H))
    end = int(req.args.get("endTime", _now_ms()))
    rows = []
    for t in _grid(max(start, _now_ms() - 29 * DAY), end, H, int(req.args.get("limit", 30))):
        oi = 90_000 + 5_000 * math.sin(t / (50 * H))
        rows.append({"symbol": symbol, "sumOpenInterest": f"{oi:.3f}",
                     "sumOpenInterestValue": f"{oi * price_at(symbol, t):.2f}",
                     "CMCCirculatingSupply": "20000000", "timestamp": t})
    return _json(rows)


def _bybit(result: Any) -> Response:
    return _json({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {},
                  "time": _now_ms()})


def bybit_funding(req: Request) -> Response:
    symbol = req.args["symbol"]
    end = int(req.args.get("endTime", _now_ms()))
    start = int(req.args.get("startTime", end - 200 * 8 * H))
    rows = [{"symbol": symbol, "fundingRate": f"{_funding_rate('bybit', symbol, t):.8f}",
             "fundingRateTimestamp": str(t)}
            for t in _grid(start, end, 8 * H, int(req.args.get("limit", 200)), newest_first=True)]
    return _bybit({"category": "linear", "list": rows})


def bybit_tickers(req: Request) -> Response:
    symbol = req.args.get("symbol", "BTCUSDT")
    now = _now_ms()
    return _bybit({"category": "linear", "list": [{
        "symbol": symbol, "markPrice": f"{price_at(symbol, now):.2f}",
        "indexPrice": f"{price_at(symbol, now):.2f}",
        "fundingRate": f"{_funding_rate('bybit', symbol, now):.8f}",
        "nextFundingTime": str(_floor(now, 8 * H) + 8 * H), "fundingIntervalHour": "8",
        "openInterest": "50000", "openInterestValue": f"{50000 * price_at(symbol, now):.2f}"}]})


def bybit_instruments(req: Request) -> Response:
    return _bybit({"category": "linear", "list": [
        {"symbol": req.args.get("symbol", "BTCUSDT"), "fundingInterval": 480}]})


def bybit_oi(req: Request) -> Response:
    end = int(req.args.get("endTime", _now_ms()))
    start = int(req.args.get("startTime", end - 50 * H))
    rows = [{"openInterest": f"{50_000 + 2_000 * math.sin(t / (40 * H)):.3f}",
             "timestamp": str(t)}
            for t in _grid(start, end, H, int(req.args.get("limit", 50)), newest_first=True)]
    return _bybit({"category": "linear", "symbol": req.args.get("symbol"), "list": rows,
                   "nextPageCursor": ""})


def okx_funding_history(req: Request) -> Response:
    inst = req.args["instId"]
    end = int(req.args.get("after", _now_ms())) - 1
    rows = [{"instType": "SWAP", "instId": inst, "formulaType": "withRate",
             "fundingRate": f"{_funding_rate('okx', inst, t):.10f}",
             "realizedRate": f"{_funding_rate('okx', inst, t):.10f}",
             "fundingTime": str(t), "method": "current_period"}
            for t in _grid(max(0, _now_ms() - 90 * DAY), end, 8 * H,
                           int(req.args.get("limit", 100)), newest_first=True)]
    return _json({"code": "0", "msg": "", "data": rows})


def okx_funding_now(req: Request) -> Response:
    inst = req.args["instId"]
    now = _now_ms()
    return _json({"code": "0", "msg": "", "data": [{
        "instType": "SWAP", "instId": inst,
        "fundingRate": f"{_funding_rate('okx', inst, now):.10f}",
        "nextFundingRate": "", "fundingTime": str(_floor(now, 8 * H) + 8 * H),
        "nextFundingTime": str(_floor(now, 8 * H) + 16 * H), "ts": str(now)}]})


def okx_open_interest(req: Request) -> Response:
    inst = req.args.get("instId", "BTC-USDT-SWAP")
    now = _now_ms()
    return _json({"code": "0", "msg": "", "data": [{
        "instType": "SWAP", "instId": inst, "oi": "3000000", "oiCcy": "30000",
        "oiUsd": f"{30000 * price_at(inst, now):.2f}", "ts": str(now)}]})


def _deribit(result: Any) -> Response:
    now_us = _now_ms() * 1000
    return _json({"jsonrpc": "2.0", "result": result, "usIn": now_us, "usOut": now_us + 500,
                  "usDiff": 500, "testnet": False})


def deribit(req: Request, method: str) -> Response:
    now = _now_ms()
    if method == "get_volatility_index_data":
        step = H if req.args.get("resolution") == "3600" else DAY
        start = int(req.args["start_timestamp"])
        end = int(req.args["end_timestamp"])
        times = _grid(start, end, step, 1000)
        data = [[t, 55.0, 57.0, 54.0, 55 + 5 * math.sin(t / (30 * H))] for t in times]
        return _deribit({"data": data, "continuation": None})
    if method == "get_funding_rate_history":
        start = int(req.args["start_timestamp"])
        end = int(req.args["end_timestamp"])
        rows = [{"timestamp": t, "index_price": price_at("BTC", t),
                 "prev_index_price": price_at("BTC", t - H),
                 "interest_1h": _funding_rate("deribit", "BTC", t) / 8,
                 "interest_8h": _funding_rate("deribit", "BTC", t)}
                for t in _grid(start + 1, end, H, 744)]
        return _deribit(rows)
    if method == "ticker":
        name = req.args["instrument_name"]
        return _deribit({"instrument_name": name, "timestamp": now,
                         "mark_price": price_at("BTC", now), "index_price": price_at("BTC", now),
                         "current_funding": 0.00001, "funding_8h": 0.00008,
                         "open_interest": 1_000_000_000.0})
    if method == "get_index_price":
        return _deribit({"index_price": price_at("BTC", now),
                         "estimated_delivery_price": price_at("BTC", now)})
    if method == "get_book_summary_by_currency":
        currency = req.args.get("currency", "BTC")
        spot = price_at(currency, now)
        rows = []
        expiry = "27MAR26"
        for k in range(int(spot * 0.7) // 1000 * 1000, int(spot * 1.3), 2000):
            for kind in ("C", "P"):
                rows.append({"instrument_name": f"{currency}-{expiry}-{k}-{kind}",
                             "mark_iv": 50 + 10 * abs(math.log(k / spot)),
                             "open_interest": 100.0, "underlying_price": spot,
                             "mark_price": 0.01, "bid_price": None, "ask_price": 0.011,
                             "creation_timestamp": now, "base_currency": currency})
        return _deribit(rows)
    return _json({"jsonrpc": "2.0", "error": {"code": 13020, "message": "not_found"}},
                 status=400)


def hyperliquid(req: Request) -> Response:
    body = json.loads(req.get_data() or b"{}")
    now = _now_ms()
    if body.get("type") == "fundingHistory":
        coin = body["coin"]
        rows = [{"coin": coin, "fundingRate": f"{_funding_rate('hl', coin, t) / 8:.10f}",
                 "premium": "0.0001", "time": t}
                for t in _grid(int(body["startTime"]), int(body.get("endTime", now)), H, 500)]
        return _json(rows)
    if body.get("type") == "metaAndAssetCtxs":
        universe = [{"name": "BTC"}, {"name": "ETH"}]
        ctxs = [{"funding": f"{_funding_rate('hl', c['name'], now) / 8:.10f}",
                 "openInterest": "20000", "markPx": f"{price_at(c['name'], now):.1f}",
                 "oraclePx": f"{price_at(c['name'], now):.1f}", "premium": "0.0001"}
                for c in universe]
        return _json([{"universe": universe}, ctxs])
    return _json({"error": "unknown type"}, status=422)


ROUTES: dict[str, Callable[[Request], Response]] = {
    "/api/v3/klines": binance_klines,
    "/api/v3/exchangeInfo": binance_exchange_info,
    "/fapi/v1/fundingRate": binance_funding,
    "/fapi/v1/premiumIndex": binance_premium,
    "/fapi/v1/fundingInfo": lambda req: _json([]),
    "/futures/data/openInterestHist": binance_oi_hist,
    "/v5/market/funding/history": bybit_funding,
    "/v5/market/tickers": bybit_tickers,
    "/v5/market/instruments-info": bybit_instruments,
    "/v5/market/open-interest": bybit_oi,
    "/api/v5/public/funding-rate-history": okx_funding_history,
    "/api/v5/public/funding-rate": okx_funding_now,
    "/api/v5/public/open-interest": okx_open_interest,
    "/info": hyperliquid,
}


class FakeVenues:
    """A threaded WSGI server on 127.0.0.1; `url` is the base for every ROTOR_*_URL."""

    def __init__(self) -> None:
        self.requests = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-venues")

    def _app(self, environ: dict, start_response: Callable) -> Any:
        req = Request(environ)
        with self._lock:
            self.requests += 1
        path = req.path
        if path.startswith("/v8/finance/chart/"):
            resp = yahoo_chart(req, path.rsplit("/", 1)[-1])
        elif path.startswith("/api/v2/public/"):
            resp = deribit(req, path.rsplit("/", 1)[-1])
        elif path in ROUTES:
            resp = ROUTES[path](req)
        else:
            resp = _json({"error": f"no route {path}"}, status=404)
        return resp(environ, start_response)

    def env(self) -> dict[str, str]:
        from services.config import ENV_VARS

        return {var: self.url for var in ENV_VARS.values()}

    def __enter__(self) -> FakeVenues:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
