"""The fault matrix: every fault a venue can throw, for every venue client, through the real
refresh road (client → parse → cache) against a loopback server.

For each case the refresh must not raise, must report the right typed error (with a message a
trader can read), and the cache must keep its last good rows and gain only valid ones. The module
writes the results as a table to docs/fault-matrix.md, so the published matrix is exactly what
the tests checked.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from models.catalog import get_spec
from models.series import SeriesData
from services import errors as E
from services.config import DEFAULT_URLS, Endpoints
from services.refresh import refresh_series
from services.sources import CLIENTS, Sources
from tests.conftest import DEAD_URL

H = 3_600_000
NOW = 1_770_000_000_000 - 1_770_000_000_000 % H  # a fixed hour so cases are reproducible
DOC = Path(__file__).resolve().parents[1] / "docs" / "fault-matrix.md"
RESULTS: list[tuple[str, str, str, str, str]] = []


# -- one "good" payload builder and one in-body error per venue --------------------------------
@dataclass(frozen=True)
class Venue:
    name: str
    series_id: str
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
    # (status, body) the venue sends to a blocked region, and the fallback venue's good answer
    geo_block: tuple[int, Any] | None = None
    fallback: tuple[str, Callable[[list[int]], Any]] | None = None


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


VENUES = [
    Venue("binance", "btc.1h", "/api/v3/klines",
          rows=lambda ts: [_kline(t) for t in ts],
          body_error={"code": -1003, "msg": "Too much request weight used"},
          body_error_status=200, body_error_class=E.RateLimited,
          unknown_symbol={"code": -1121, "msg": "Invalid symbol."}, unknown_status=400,
          missing_field=[[NOW, "99", "101"]],
          nulls=lambda ts: [_kline(ts[0]), [ts[1], None, "1", "1", "NaN", "1"]],
          geo_block=(451, {"code": 0, "msg": "Service unavailable from a restricted location "
                                             "according to 'b. Eligibility' in "
                                             "https://www.binance.com/en/terms."}),
          fallback=("/products/BTC-USD/candles",
                    lambda ts: [[t // 1000, 98.0, 101.0, 99.0, 100.0, 5.0] for t in ts])),
    Venue("yahoo", "spx.1h", "/v8/finance/chart/^GSPC",
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
]


@pytest.fixture(scope="module", autouse=True)
def _publish_matrix():
    yield
    if not RESULTS:
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
    clients = {}
    for venue in ("binance", "yahoo", "coinbase", "kraken"):
        module, cls_name, _key = CLIENTS[venue]
        mod = __import__(module, fromlist=[cls_name])
        clients[venue] = getattr(mod, cls_name)(endpoints, timeout=(0.5, 0.5))
    return Sources(endpoints, overrides=clients)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.name)
def test_fault(venue: Venue, fault: Fault, httpserver, cache, blackhole_url):
    spec = get_spec(venue.series_id)
    good_t = NOW - 5 * H
    cache.upsert(spec.id, SeriesData.from_rows([good_t], open=[1.0], high=[2.0], low=[0.5],
                                               close=[1.5], volume=[1.0]))
    times = [NOW - 2 * H, NOW - H]
    handler = fault.respond(venue, times)
    httpserver.expect_request(venue.path, method=venue.method).respond_with_handler(handler)
    # The fallback venues are down too, so the primary venue's fault is what the user sees.
    for other in ("/products/BTC-USD/candles", "/0/public/OHLC"):
        httpserver.expect_request(other).respond_with_data("", status=503)

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
    assert all(math.isfinite(c) for c in data["close"]), "only valid rows reach the cache"
    expect = venue.body_error_class if fault.name == "error inside the body" else fault.expect
    if expect is None:
        assert result.ok, result.error
        assert result.rows_added == fault.rows_added
        outcome, message = "ok", f"{result.rows_added} valid rows stored"
    else:
        assert not result.ok
        assert isinstance(result.error, expect), repr(result.error)
        assert str(result.error).startswith(f"{venue.name}: ")
        outcome, message = expect.__name__, str(result.error)
        if expect is E.RateLimited:
            assert result.error.retry_after is not None and 0 < result.error.retry_after <= 130
            message += f" (retry after {result.error.retry_after:.0f} s)"
    message = message.replace("|", "/")[:110]
    RESULTS.append((venue.name, fault.name, outcome, message,
                    f"kept, gained {len(data) - 1}"))


@pytest.mark.parametrize("venue", [v for v in VENUES if v.geo_block], ids=lambda v: v.name)
def test_geo_block_says_so_and_switches_to_the_fallback_venue(venue: Venue, httpserver, cache):
    spec = get_spec(venue.series_id)
    status, body = venue.geo_block
    httpserver.expect_request(venue.path).respond_with_json(body, status=status)
    path, rows = venue.fallback
    times = [NOW - 2 * H, NOW - H]
    httpserver.expect_request(path).respond_with_json(rows(times))

    result = refresh_series(spec, cache, _sources(httpserver), want_start_ms=NOW - 3 * H,
                            now=NOW)

    assert result.ok, result.error
    assert result.venue != venue.name and result.rows_added == 2
    blocked = [e for e in result.fallback_errors if isinstance(e, E.GeoBlocked)]
    assert blocked and "not available from your region" in str(blocked[0])
    RESULTS.append((venue.name, f"geo-block (HTTP {status})", f"ok via {result.venue}",
                    f"{blocked[0]}; switched to {result.venue}", "gained 2"))
