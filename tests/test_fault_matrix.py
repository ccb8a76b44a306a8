"""The fault matrix: every fault a venue can throw, for every venue client, through the real
refresh road (client → parse → cache) against a loopback server.

For each case the refresh must not raise, must report the right typed error (with a message a
trader can read), and the cache must keep its last good rows and gain only valid ones. The module
writes the results as a table to docs/fault-matrix.md, so the published matrix is exactly what
the tests checked.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from werkzeug import Request, Response

from models.catalog import SeriesSpec, get_spec
from models.series import SeriesData
from services import errors as E
from services.config import DEFAULT_URLS, Endpoints
from services.http import default_retry
from services.refresh import refresh_series
from services.sources import CLIENTS, Sources
from tests.conftest import DEAD_URL

H = 3_600_000
NOW = 1_770_000_000_000 - 1_770_000_000_000 % H  # a fixed hour so cases are reproducible
DOC = Path(__file__).resolve().parents[1] / "docs" / "fault-matrix.md"
RESULTS: list[tuple[str, str, str, str, str]] = []


# -- one "good" payload builder and one in-body error per venue --------------------------------
@dataclass(frozen=True)
class Aux:
    """A request the client makes besides the one under test (current interval, universe …).

    It always gets a good answer, so the fault under test is the one on the main endpoint.
    """

    path: str
    answer: Any
    method: str = "GET"
    # Same path as the main request (Hyperliquid's POST /info): which requests are this one.
    match: Callable[[Request], bool] | None = None
    # The answer in the "unknown symbol" case when the venue finds out here (None: `answer`).
    unknown_answer: Any = None


@dataclass(frozen=True)
class Venue:
    name: str
    spec: SeriesSpec
    path: str
    rows: Callable[[list[int]], Any]  # good payload for these bar times (ms)
    body_error: Any  # an error the venue reports inside the body
    body_error_status: int
    body_error_class: type[E.ServiceError]
    unknown_symbol: Any
    unknown_status: int
    missing_field: Any
    nulls: Callable[[list[int]], Any]  # rows with null/NaN values next to good ones
    method: str = "GET"
    # The cache's last good row (column -> value) and the column that must stay finite.
    seed: dict[str, float] = field(default_factory=lambda: dict(CANDLE_SEED))
    value: str = "close"
    aux: tuple[Aux, ...] = ()
    # Paths of the spec's fallback venues: they are down too, so the primary's fault shows.
    fallbacks_down: tuple[str, ...] = ()
    # (status, body) the venue sends to a blocked region (a str body is HTML), and the fallback
    # venue's good answer (None: the spec has no fallback, the block is the error shown)
    geo_block: tuple[int, Any] | None = None
    fallback: tuple[str, Callable[[list[int]], Any]] | None = None


CANDLE_SEED = {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 1.0}
FUNDING_SEED = {"rate": 0.0001, "interval_hours": 8.0, "apr_pct": 10.95}
BTC_DOWN = ("/products/BTC-USD/candles", "/0/public/OHLC")  # btc.1h's fallbacks


def _udf(times: list[int], closes: list[Any]) -> dict:
    """Volmex's TradingView-UDF history columns."""
    return {"s": "ok", "t": [t // 1000 for t in times], "o": closes, "h": closes, "l": closes,
            "c": closes}


def _kline(t: int, close: float = 100.0) -> list:
    return [t, "99", "101", "98", f"{close}", "5", t + H - 1, "500", 1, "1", "1", "0"]


def _yahoo(times: list[int], closes: list[Any] | None = None) -> dict:
    closes = closes if closes is not None else [100.0] * len(times)
    result: dict[str, Any] = {"meta": {"symbol": "^GSPC"}, "indicators": {"quote": [{
        "open": closes, "high": [c if c is None else c + 1 for c in closes],
        "low": [c if c is None else c - 1 for c in closes], "close": closes,
        "volume": [None] * len(times)}]}}
    if times:
        result["timestamp"] = [t // 1000 for t in times]
    return {"chart": {"result": [result], "error": None}}


def _coinbase(t: int, close: Any = 100.0) -> list:
    return [t // 1000, 98.0, 101.0, 99.0, close, 5.0]  # low before high


def _kraken(rows: list[list]) -> dict:
    return {"error": [], "result": {"XXBTZUSD": rows, "last": NOW // 1000}}


def _kraken_row(t: int, close: Any = "100.0") -> list:
    return [t // 1000, "99.0", "101.0", "98.0", close, "99.5", "5.0", 42]


def _bybit(rows: list, code: int = 0, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg,
            "result": {"category": "linear", "list": rows}, "retExtInfo": {}, "time": NOW}


def _bybit_funding(t: int, rate: Any = "0.0001") -> dict:
    return {"symbol": "BTCUSDT", "fundingRate": rate, "fundingRateTimestamp": str(t)}


def _okx(rows: list, code: str = "0", msg: str = "") -> dict:
    return {"code": code, "msg": msg, "data": rows}


def _okx_funding(t: int, realized: Any = "0.0001", predicted: Any = "0.00011") -> dict:
    return {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "formulaType": "withRate",
            "fundingRate": predicted, "realizedRate": realized, "fundingTime": str(t),
            "method": "current_period"}


def _deribit(result: Any = None, error: dict | None = None) -> dict:
    body: dict[str, Any] = {"jsonrpc": "2.0", "usIn": NOW * 1000, "usOut": NOW * 1000 + 90,
                            "usDiff": 90, "testnet": False}
    if error is not None:
        body["error"] = error
    else:
        body["result"] = result
    return body


def _deribit_funding(t: int, interest: Any = 0.0000125) -> dict:
    return {"timestamp": t, "index_price": 100_000.0, "prev_index_price": 99_990.0,
            "interest_8h": 0.0001, "interest_1h": interest}


def _hl_funding(t: int, rate: Any = "0.0000125") -> dict:
    return {"coin": "BTC", "fundingRate": rate, "premium": "0.0001", "time": t + 37}


def _hl_universe(*coins: str) -> list:
    return [{"universe": [{"name": c, "szDecimals": 5, "maxLeverage": 40} for c in coins]},
            [{"funding": "0.0000125", "openInterest": "100.0", "markPx": "100000.0",
              "oraclePx": "100010.0"} for _ in coins]]


def _is_meta(req: Request) -> bool:
    body = req.get_json(silent=True)
    return isinstance(body, dict) and body.get("type") == "metaAndAssetCtxs"


_BTC_1H = get_spec("btc.1h")
# Coinbase and Kraken are only ever btc.1h's fallbacks: the same series with them as primary.
_COINBASE_BTC = replace(_BTC_1H, source="coinbase", symbol="BTC-USD", fallbacks=())
_KRAKEN_BTC = replace(_BTC_1H, source="kraken", symbol="XBTUSD", fallbacks=())
_BINANCE_ERROR = {"code": -1003, "msg": "Too much request weight used"}
_BINANCE_UNKNOWN = {"code": -1121, "msg": "Invalid symbol."}
_BINANCE_BLOCK = {"code": 0, "msg": "Service unavailable from a restricted location according to "
                                    "'b. Eligibility' in https://www.binance.com/en/terms."}

VENUES = [
    Venue("binance", _BTC_1H, "/api/v3/klines",
          rows=lambda ts: [_kline(t) for t in ts],
          body_error=_BINANCE_ERROR, body_error_status=200, body_error_class=E.RateLimited,
          unknown_symbol=_BINANCE_UNKNOWN, unknown_status=400,
          missing_field=[[NOW, "99", "101"]],
          nulls=lambda ts: [_kline(ts[0]), [ts[1], None, "1", "1", "NaN", "1"]],
          fallbacks_down=BTC_DOWN,
          geo_block=(451, _BINANCE_BLOCK),
          fallback=("/products/BTC-USD/candles", lambda ts: [_coinbase(t) for t in ts])),
    Venue("yahoo", get_spec("spx.1h"), "/v8/finance/chart/^GSPC",
          rows=lambda ts: _yahoo(ts),
          body_error={"chart": {"result": None, "error": {
              "code": "Bad Request", "description": "Invalid input - interval=60m"}}},
          body_error_status=400, body_error_class=E.BadRequest,
          unknown_symbol={"chart": {"result": None, "error": {
              "code": "Not Found", "description": "No data found, symbol may be delisted"}}},
          unknown_status=404,
          missing_field={"chart": {"result": [{"timestamp": [NOW // 1000], "indicators": {
              "quote": [{"open": [1.0], "high": [1.0], "low": [1.0]}]}}], "error": None}},
          nulls=lambda ts: _yahoo(ts, [100.0, None])),
    Venue("coinbase", _COINBASE_BTC, "/products/BTC-USD/candles",
          rows=lambda ts: [_coinbase(t) for t in ts],
          # Coinbase's only in-body error besides NotFound is its rate limit (with HTTP 429).
          body_error={"message": "Public rate limit exceeded"}, body_error_status=429,
          body_error_class=E.RateLimited,
          unknown_symbol={"message": "NotFound"}, unknown_status=404,
          missing_field=[[NOW // 1000, 98.0, 101.0]],
          nulls=lambda ts: [_coinbase(ts[0]), _coinbase(ts[1], None),
                            [ts[1] // 1000, 98.0, 101.0, float("nan"), 100.0, 5.0]]),
    Venue("kraken", _KRAKEN_BTC, "/0/public/OHLC",
          rows=lambda ts: _kraken([_kraken_row(t) for t in ts]),
          body_error={"error": ["EGeneral:Too many requests"]}, body_error_status=200,
          body_error_class=E.RateLimited,
          unknown_symbol={"error": ["EQuery:Unknown asset pair"]}, unknown_status=200,
          missing_field=_kraken([[NOW // 1000, "99.0", "101.0"]]),
          nulls=lambda ts: _kraken([_kraken_row(ts[0]), _kraken_row(ts[1], None),
                                    _kraken_row(ts[1], "NaN")])),
    Venue("binance_futures", get_spec("funding.binance.btc"), "/fapi/v1/fundingRate",
          rows=lambda ts: [{"symbol": "BTCUSDT", "fundingTime": t + 3, "fundingRate": "0.0001",
                            "markPrice": "100000.0"} for t in ts],
          body_error=_BINANCE_ERROR, body_error_status=200, body_error_class=E.RateLimited,
          unknown_symbol=_BINANCE_UNKNOWN, unknown_status=400,
          missing_field=[{"symbol": "BTCUSDT", "fundingTime": NOW}],
          nulls=lambda ts: [{"fundingTime": ts[0], "fundingRate": "0.0001"},
                            {"fundingTime": ts[1], "fundingRate": None},
                            {"fundingTime": ts[1], "fundingRate": "NaN"}],
          seed=FUNDING_SEED, value="apr_pct",
          aux=(Aux("/fapi/v1/fundingInfo",
                   [{"symbol": "BTCUSDT", "fundingIntervalHours": 8}]),),
          # fapi.binance.com refuses restricted regions like spot; no fallback for funding.
          geo_block=(451, _BINANCE_BLOCK)),
    Venue("bybit", get_spec("funding.bybit.btc"), "/v5/market/funding/history",
          rows=lambda ts: _bybit([_bybit_funding(t) for t in reversed(ts)]),  # newest first
          # Bybit errors come in HTTP 200 with retCode != 0.
          body_error=_bybit([], 10006, "Too many visits!"), body_error_status=200,
          body_error_class=E.RateLimited,
          unknown_symbol=_bybit([], 10001, "params error: Symbol Is Invalid"),
          unknown_status=200,
          missing_field=_bybit([{"symbol": "BTCUSDT", "fundingRateTimestamp": str(NOW)}]),
          nulls=lambda ts: _bybit([_bybit_funding(ts[1], None), _bybit_funding(ts[1], "NaN"),
                                   _bybit_funding(ts[0])]),
          seed=FUNDING_SEED, value="apr_pct",
          aux=(Aux("/v5/market/tickers", _bybit([{
              "symbol": "BTCUSDT", "fundingRate": "0.0001", "fundingIntervalHour": "8",
              "nextFundingTime": str(NOW + 8 * H), "markPrice": "100000.0"}])),),
          # US and mainland-China addresses get CloudFront's 403 page on every path; the
          # series has no fallback venue, so the block is what the trader sees.
          geo_block=(403, "<html><head><title>403 ERROR</title></head><body>The request could "
                          "not be satisfied. Request blocked.</body></html>")),
    Venue("okx", get_spec("funding.okx.btc"), "/api/v5/public/funding-rate-history",
          rows=lambda ts: _okx([_okx_funding(t) for t in reversed(ts)]),  # newest first
          body_error=_okx([], "50011", "Too Many Requests"), body_error_status=200,
          body_error_class=E.RateLimited,
          unknown_symbol=_okx([], "51001", "Instrument ID does not exist"),
          unknown_status=200,
          missing_field=_okx([{"instId": "BTC-USDT-SWAP", "fundingTime": str(NOW)}]),
          nulls=lambda ts: _okx([_okx_funding(ts[1], "", None), _okx_funding(ts[1], "NaN", ""),
                                 _okx_funding(ts[0])]),
          seed=FUNDING_SEED, value="apr_pct",
          aux=(Aux("/api/v5/public/funding-rate", _okx([{
              "instType": "SWAP", "instId": "BTC-USDT-SWAP", "fundingRate": "0.0001",
              "fundingTime": str(NOW + 4 * H), "nextFundingTime": str(NOW + 12 * H),
              "nextFundingRate": "", "ts": str(NOW)}])),)),
    Venue("deribit", get_spec("funding.deribit.btc"),
          "/api/v2/public/get_funding_rate_history",
          rows=lambda ts: _deribit([_deribit_funding(t) for t in ts]),
          # JSON-RPC error object (HTTP 400 in the captures seen).
          body_error=_deribit(error={"code": 10028, "message": "too_many_requests"}),
          body_error_status=400, body_error_class=E.RateLimited,
          unknown_symbol=_deribit(error={"code": -32602, "message": "Invalid params", "data": {
              "reason": "instrument not found", "param": "instrument_name"}}),
          unknown_status=400,
          # A row without its rate is a changed shape, not a null value: BadPayload, not "0 rows".
          missing_field=_deribit([{"timestamp": NOW, "index_price": 100_000.0,
                                   "interest_8h": 0.0001}]),
          nulls=lambda ts: _deribit([_deribit_funding(ts[0]), _deribit_funding(ts[1], None),
                                     _deribit_funding(ts[1], float("nan"))]),
          seed=FUNDING_SEED, value="apr_pct"),
    Venue("hyperliquid", get_spec("funding.hyperliquid.btc"), "/info", method="POST",
          rows=lambda ts: [_hl_funding(t) for t in ts],
          body_error={"error": "Invalid request: unknown type"}, body_error_status=200,
          body_error_class=E.BadRequest,
          # An unknown coin's history is empty; the universe then says it is not listed.
          unknown_symbol=[], unknown_status=200,
          missing_field=[{"coin": "BTC", "time": NOW}],
          nulls=lambda ts: [_hl_funding(ts[0]), _hl_funding(ts[1], None),
                            _hl_funding(ts[1], "NaN")],
          seed=FUNDING_SEED, value="apr_pct",
          aux=(Aux("/info", _hl_universe("BTC", "ETH"), method="POST", match=_is_meta,
                   unknown_answer=_hl_universe("ETH", "SOL")),)),
    Venue("volmex", get_spec("bviv.btc"), "/public/iv/history",
          rows=lambda ts: _udf(ts, [55.0] * len(ts)),
          body_error={"s": "error", "errmsg": "internal error"}, body_error_status=200,
          body_error_class=E.BadPayload,
          unknown_symbol={"s": "error", "errmsg": "Symbol not found"}, unknown_status=200,
          missing_field={"s": "ok", "t": [NOW // 1000]},
          nulls=lambda ts: _udf(ts, [55.0, None]),
          seed={"open": 50.0, "high": 50.0, "low": 50.0, "close": 50.0}, value="close"),
]


# -- faults -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    name: str
    respond: Callable[[Venue, list[int]], Callable[[Request], Response]]
    expect: type[E.ServiceError] | None  # None: the refresh succeeds
    rows_added: int | None = None  # for successful cases: valid rows the cache must gain
    endpoint: str = "server"  # "server", "refused" (nothing listens) or "blackhole" (no SYN-ACK)


def _json(payload: Any, status: int = 200, headers: dict | None = None):
    return lambda _req: Response(json.dumps(payload), status=status, headers=headers,
                                 content_type="application/json")


# The loopback server answers one request at a time: a stalled handler is released as soon as
# the client has given up, so it cannot delay the next case.
_RELEASE_STALL = threading.Event()


def _stall(_venue: Venue, _ts: list[int]):
    def handler(_req: Request) -> Response:
        _RELEASE_STALL.wait(5.0)  # longer than the client's read timeout in this module
        return Response("[]", content_type="application/json")
    return handler


def _claims_2_gib(payload: Any):
    def handler(_req: Request) -> Response:
        # A streamed body: werkzeug keeps the declared length instead of measuring the body.
        resp = Response(iter([json.dumps(payload).encode()]), content_type="application/json")
        resp.headers["Content-Length"] = str(2 * 2**30)
        return resp
    return handler


def _unused(_venue: Venue, _ts: list[int]):
    return lambda _req: Response("not reached", status=500)


FAULTS = [
    Fault("connection refused", _unused, E.NetworkError, endpoint="refused"),
    Fault("connect timeout", _unused, E.NetworkTimeout, endpoint="blackhole"),
    Fault("read timeout", _stall, E.NetworkTimeout),
    Fault("429 with Retry-After seconds",
          lambda v, ts: _json({"msg": "slow down"}, 429, {"Retry-After": "7"}), E.RateLimited),
    Fault("429 with Retry-After as an HTTP date",
          lambda v, ts: _json({"msg": "slow down"}, 429,
                              {"Retry-After": formatdate(time.time() + 120, usegmt=True)}),
          E.RateLimited),
    *(Fault(f"HTTP {status} with an HTML page",
            lambda v, ts, s=status: lambda _r: Response(
                f"<html><head><title>{s} Service Unavailable</title></head></html>",
                status=s, content_type="text/html"),
            E.VenueUnavailable) for status in (500, 502, 503)),
    Fault("HTTP 200 with a Cloudflare HTML page",
          lambda v, ts: lambda _r: Response(
              "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
              content_type="text/html"), E.BadPayload),
    Fault("error inside the body", lambda v, ts: _json(v.body_error, v.body_error_status),
          None),  # the class is per venue: see test body
    Fault("truncated JSON",
          lambda v, ts: lambda _r: Response(json.dumps(v.rows(ts))[:-7],
                                            content_type="application/json"), E.BadPayload),
    Fault("empty list", lambda v, ts: _json(v.rows([])), None, rows_added=0),
    Fault("missing field", lambda v, ts: _json(v.missing_field), E.BadPayload),
    Fault("null and NaN values", lambda v, ts: _json(v.nulls(ts)), None, rows_added=1),
    Fault("duplicated and out-of-order rows",
          lambda v, ts: _json(v.rows([ts[1], ts[0], ts[1]])), None, rows_added=2),
    Fault("unknown symbol", lambda v, ts: _json(v.unknown_symbol, v.unknown_status),
          E.UnknownSymbol),
    # Issue #18: answers built to exhaust the client rather than to carry data.
    Fault("deeply nested JSON",
          lambda v, ts: lambda _r: Response("[" * 100_000 + "]" * 100_000,
                                            content_type="application/json"), E.BadPayload),
    Fault("Content-Length of 2 GiB", lambda v, ts: _claims_2_gib(v.rows(ts)), E.BadPayload),
    Fault("redirect to plain http on another host",
          lambda v, ts: lambda _r: Response("", status=302,
                                            headers={"Location": "http://203.0.113.7/rows"}),
          E.RedirectRefused),
]


@pytest.fixture(scope="module", autouse=True)
def _publish_matrix():
    yield
    # Publish only a complete, passing run: a `-k` subset or a failure must not shrink the doc.
    expected = len(VENUES) * len(FAULTS) + sum(1 for v in VENUES if v.geo_block)
    if len(RESULTS) != expected:
        return
    lines = [
        "# Fault matrix",
        "",
        "Generated by `tests/test_fault_matrix.py` on every test run: each venue client, "
        "through the real refresh road (client → parser → cache), against a loopback server "
        "that misbehaves. The cache starts with one good row; *kept* means it still has it; "
        "*gained* counts the valid rows added. The window keeps showing the last good data and "
        "its status bar shows the message with the next retry time (see tests/ui).",
        "",
        "| venue | fault | outcome | message shown | cache |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {v} | {f} | {o} | {m} | {c} |" for v, f, o, m, c in sorted(RESULTS)]
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def blackhole_url():
    """A loopback port whose accept queue is full: the kernel drops new SYNs (connect timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}"
    for sock in (*fillers, server):
        sock.close()


def _sources(httpserver, overrides: dict[str, str] | None = None) -> Sources:
    base = httpserver.url_for("/").rstrip("/")
    endpoints = Endpoints({name: base for name in DEFAULT_URLS} | (overrides or {}))
    # The production retry policy (same attempts), without its backoff sleeps: they only slow
    # the module down.
    retry = default_retry().new(backoff_factor=0, backoff_jitter=0)
    clients = {}
    for venue, (module, cls_name, _key) in CLIENTS.items():
        cls = getattr(importlib.import_module(module), cls_name)
        clients[venue] = cls(endpoints, timeout=(0.25, 0.5), retry=retry)
    return Sources(endpoints, overrides=clients)


def _respond(body: Any, status: int = 200) -> Response:
    if isinstance(body, str):
        return Response(body, status=status, content_type="text/html")
    return Response(json.dumps(body), status=status, content_type="application/json")


def _serve(httpserver, venue: Venue, handler: Callable[[Request], Response],
           unknown: bool = False) -> None:
    """The main endpoint answers with `handler`, the auxiliary requests with good answers."""
    shared = [a for a in venue.aux if a.path == venue.path and a.match is not None]

    def main(req: Request) -> Response:
        for aux in shared:
            if aux.match(req):
                answer = aux.unknown_answer if unknown and aux.unknown_answer else aux.answer
                return _respond(answer)
        return handler(req)

    httpserver.expect_request(venue.path, method=venue.method).respond_with_handler(main)
    for aux in venue.aux:
        if aux not in shared:
            answer = aux.unknown_answer if unknown and aux.unknown_answer else aux.answer
            httpserver.expect_request(aux.path, method=aux.method).respond_with_json(answer)
    # The fallback venues are down too, so the primary venue's fault is what the user sees.
    for other in venue.fallbacks_down:
        httpserver.expect_request(other).respond_with_data("", status=503)


def _seed(venue: Venue, cache, t: int) -> None:
    cache.upsert(venue.spec.id, SeriesData.from_rows(
        [t], **{k: [v] for k, v in venue.seed.items()}))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.name)
def test_fault(venue: Venue, fault: Fault, httpserver, cache, blackhole_url):
    spec = venue.spec
    good_t = NOW - 5 * H
    _seed(venue, cache, good_t)
    times = [NOW - 2 * H, NOW - H]
    _serve(httpserver, venue, fault.respond(venue, times), unknown=fault.name == "unknown symbol")

    _RELEASE_STALL.clear()
    try:
        endpoint = {"refused": DEAD_URL, "blackhole": blackhole_url}.get(fault.endpoint)
        sources = _sources(httpserver, {venue.name: endpoint} if endpoint else None)
        result = refresh_series(spec, cache, sources, want_start_ms=NOW - 3 * H, now=NOW)
    finally:
        _RELEASE_STALL.set()

    data = cache.read(spec.id)
    kept = good_t in data.time.tolist()
    assert kept, "the last good row must survive any fault"
    for name in spec.columns:
        if name in venue.seed:  # a null volume is allowed (indices have none)
            assert name == "volume" or np.isfinite(data[name]).all(), \
                f"only valid rows reach the cache ({name})"
    assert np.isfinite(data[venue.value]).all()
    expect = venue.body_error_class if fault.name == "error inside the body" else fault.expect
    if expect is None:
        assert result.ok, result.error
        assert result.rows_added == fault.rows_added
        assert result.venue == venue.name
        outcome, message = "ok", f"{result.rows_added} valid rows stored"
    else:
        assert not result.ok
        assert isinstance(result.error, expect), repr(result.error)
        assert str(result.error).startswith(f"{venue.name}: ")
        assert len(data) == 1, "a failed refresh stores nothing"
        outcome, message = expect.__name__, str(result.error)
        if expect is E.RateLimited:
            assert result.error.retry_after is not None and 0 < result.error.retry_after <= 130
            message += f" (retry after {result.error.retry_after:.0f} s)"
            if "HTTP date" in fault.name:  # a date has 1 s resolution: 119 or 120 s from now
                message = re.sub(r"\b1(19|20) s\b", "120 s", message)
    message = message.replace("|", "/")[:110]
    RESULTS.append((venue.name, fault.name, outcome, message,
                    f"kept, gained {len(data) - 1}"))


@pytest.mark.parametrize("venue", [v for v in VENUES if v.geo_block], ids=lambda v: v.name)
def test_geo_block_says_so_and_switches_to_a_fallback_venue(venue: Venue, httpserver, cache):
    spec = venue.spec
    good_t = NOW - 5 * H
    _seed(venue, cache, good_t)
    status, body = venue.geo_block
    # A region block refuses every path of the venue, the auxiliary ones too.
    for path in {venue.path, *(a.path for a in venue.aux)}:
        httpserver.expect_request(path).respond_with_response(_respond(body, status))
    times = [NOW - 2 * H, NOW - H]
    if venue.fallback is not None:
        path, rows = venue.fallback
        httpserver.expect_request(path).respond_with_json(rows(times))

    result = refresh_series(spec, cache, _sources(httpserver), want_start_ms=NOW - 3 * H,
                            now=NOW)

    errors = (result.error, *result.fallback_errors)
    blocked = [e for e in errors if isinstance(e, E.GeoBlocked)]
    assert blocked and "not available from your region" in str(blocked[0])
    assert str(blocked[0]).startswith(f"{venue.name}: ")
    assert cache.get_meta(spec.id).get("blocked_venue") == venue.name
    data = cache.read(spec.id)
    assert good_t in data.time.tolist()
    if venue.fallback is None:  # nowhere to switch to: the block is the error shown
        assert not result.ok and result.error is blocked[0]
        assert len(data) == 1
        outcome, cache_note = "GeoBlocked", "kept, gained 0"
        message = str(blocked[0])
    else:
        assert result.ok, result.error
        assert result.venue != venue.name and result.rows_added == 2
        outcome, cache_note = f"ok via {result.venue}", "kept, gained 2"
        message = f"{blocked[0]}; switched to {result.venue}"
    RESULTS.append((venue.name, f"geo-block (HTTP {status})", outcome,
                    message.replace("|", "/")[:110], cache_note))
