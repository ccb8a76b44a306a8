"""The minute backfill against a loopback Binance serving the documented kline arrays.

`GET /api/v3/klines` (Binance spot API docs): rows are
`[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteAssetVolume", trades,
"takerBuyBase", "takerBuyQuote", "0"]`, ascending, those with openTime in
[startTime, endTime], at most `limit`; without startTime/endTime the newest. Errors: HTTP 429
(418 after repeated ones) with Retry-After in seconds; the used weight in
`X-MBX-USED-WEIGHT-1M` on every answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from werkzeug import Request, Response

from services.cache import Cache
from services.minute_backfill import (
    STATE_KEY,
    BackfillStatus,
    BackfillTarget,
    MinuteBackfill,
    SeriesProgress,
    status_details,
    status_text,
)

M = 60_000
FIRST = 1_502_942_400_000  # 2017-08-17 04:00 UTC: Binance's first BTCUSDT minute
ROOT = Path(__file__).resolve().parents[2]
BTC = BackfillTarget("btc.1m", "BTCUSDT", "BTC 1m")
ETH = BackfillTarget("eth.1m", "ETHUSDT", "ETH 1m")


def kline(t: int) -> list:
    cents = 430_000 + (t // M) % 997 * 7
    o, c = cents, cents + 3
    price = [f"{v // 100}.{v % 100:02d}000000" for v in (o, c + 5, o - 4, c)]
    volume = f"{(t // M) % 89}.{(t // M) % 100_000:05d}000"
    return [t, *price, volume, t + M - 1, "1000.0", 42, "0.5", "200.0", "0"]


class KlineVenue:
    """Binance's klines for some symbols over loopback: their minutes, an outage, the
    request log, and scripted answers served before the normal ones."""

    def __init__(self, httpserver, minutes: dict[str, np.ndarray], delay_s: float = 0.0) -> None:
        self.minutes = minutes
        self.delay_s = delay_s
        self.log: list[dict[str, str]] = []
        self.script: list[Response] = []
        self.weight = 0
        self.lock = threading.Lock()
        httpserver.expect_request("/api/v3/klines").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/").rstrip("/")

    def handle(self, request: Request) -> Response:
        args = dict(request.args)
        with self.lock:
            self.log.append(args)
            scripted = self.script.pop(0) if self.script else None
        if self.delay_s:
            time.sleep(self.delay_s)
        if scripted is not None:
            return scripted
        times = self.minutes[args["symbol"]]
        start = int(args.get("startTime", 0))
        end = int(args.get("endTime", 2**62))
        limit = int(args.get("limit", 500))
        picked = times[(times >= start) & (times <= end)][:limit]
        return Response(json.dumps([kline(int(t)) for t in picked]),
                        content_type="application/json",
                        headers={"X-MBX-USED-WEIGHT-1M": str(self.weight)})

    def pages(self) -> list[dict[str, str]]:
        return [a for a in self.log if "endTime" in a]


def history(first: int, n: int, outages: tuple[tuple[int, int], ...] = ()) -> np.ndarray:
    t = first + np.arange(n, dtype=np.int64) * M
    for a, b in outages:
        t = t[(t < a) | (t > b)]
    return t


def run_to_end(backfill: MinuteBackfill, max_steps: int = 200) -> int:
    for step in range(max_steps):
        if backfill.step() is None:
            return step
    raise AssertionError("the backfill did not end")


def assert_exact(cache: Cache, series_id: str, expected: np.ndarray) -> None:
    """Every venue minute stored once, nothing else, values as the venue sent them."""
    data = cache.read(series_id)
    assert np.array_equal(data.time, expected)
    assert np.all(np.diff(data.time) > 0)
    rows = [kline(int(t)) for t in expected]
    assert np.array_equal(data["close"], [float(r[4]) for r in rows])
    assert np.array_equal(data["volume"], [float(r[5]) for r in rows])


@pytest.fixture
def cache(tmp_path):
    c = Cache(tmp_path / "cache.sqlite")
    yield c
    c.close()


OUTAGE = (FIRST + 2000 * M, FIRST + 2089 * M)  # 90 minutes the venue never had


def test_walks_back_newest_first_to_the_first_minute_and_records_the_outage(httpserver, cache):
    btc = history(FIRST, 4_500, (OUTAGE,))
    eth = history(FIRST + 30 * M, 1_200)
    venue = KlineVenue(httpserver, {"BTCUSDT": btc, "ETHUSDT": eth})
    now = int(btc[-1]) + M + 25_000  # 25 s into the minute after the venue's last
    backfill = MinuteBackfill(cache, venue.url, (BTC, ETH), clock_ms=lambda: now)
    run_to_end(backfill)
    assert_exact(cache, "btc.1m", btc)
    assert_exact(cache, "eth.1m", eth)
    ends = [int(a["endTime"]) for a in venue.pages() if a["symbol"] == "BTCUSDT"]
    assert ends == sorted(ends, reverse=True)  # newest first
    assert len(ends) == 5  # 4,500 minutes from the top: 1000 a page
    assert all(int(a["endTime"]) >= FIRST for a in venue.pages())  # never before the listing
    status = backfill.status()
    assert status.done and [s.done for s in status.series] == [True, True]
    btc_state = status.series[0]
    assert btc_state.gaps == (OUTAGE,) and btc_state.gap_minutes == 90
    assert btc_state.first_ms == FIRST and btc_state.rows == len(btc)
    assert btc_state.requests == 6  # the first-minute question and five pages
    assert status_details(status).splitlines()[0] == (
        "BTC 1m: complete · 4,410 rows stored · 6 requests · first minute 2017-08-17 04:00 UTC"
        " · 1 known gap (90 minutes Binance never had)")
    # stored beside the rows: a new backfill on this cache has nothing left to do
    again = MinuteBackfill(cache, venue.url, (BTC, ETH), clock_ms=lambda: now)
    asked = len(venue.log)
    assert again.step() is None and len(venue.log) == asked


def test_an_abandoned_worker_resumes_where_the_cache_says(httpserver, cache):
    btc = history(FIRST, 3_500, (OUTAGE,))
    venue = KlineVenue(httpserver, {"BTCUSDT": btc})
    now = int(btc[-1]) + M
    first = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now)
    for _ in range(3):  # the first minute, two pages; then the process goes away
        first.step()
    assert cache.read("btc.1m").first_ms == int(btc[-1]) - 1999 * M
    later = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now + 3_600_000)
    run_to_end(later)
    assert_exact(cache, "btc.1m", btc)
    windows = [(int(a["startTime"]), int(a["endTime"])) for a in venue.pages()]
    assert len(windows) == len(set(windows)) == 4  # no window asked twice
    assert later.status().series[0].top_ms == int(btc[-1]) + M  # 0 % stays where it began


KILL_SCRIPT = """
import sys, time
from services.cache import Cache
from services.minute_backfill import BackfillTarget, MinuteBackfill
cache = Cache(sys.argv[1])
backfill = MinuteBackfill(cache, sys.argv[2], (BackfillTarget("btc.1m", "BTCUSDT", "BTC 1m"),),
                          clock_ms=lambda: int(sys.argv[3]), min_interval_s=0.0)
backfill.start()
time.sleep(60)
"""


def test_killed_mid_way_and_restarted_ends_with_no_gaps_or_duplicates(httpserver, tmp_path):
    btc = history(FIRST, 9_000, (OUTAGE,))
    venue = KlineVenue(httpserver, {"BTCUSDT": btc}, delay_s=0.05)
    now = int(btc[-1]) + M
    path = tmp_path / "cache.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path), venue.url, str(now)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while len(venue.pages()) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of a request or a write
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    pages_before = len(venue.pages())
    assert 4 <= pages_before < 9  # killed part-way
    cache = Cache(path)
    try:
        state = SeriesProgress.from_json(BTC, cache.get_meta("btc.1m").get(STATE_KEY))
        assert not state.done and state.cursor_ms is not None
        venue.delay_s = 0.0
        run_to_end(MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now))
        assert_exact(cache, "btc.1m", btc)
        assert cache.bounds("btc.1m")[2] == len(btc)  # rows counted by the chunks: no repeat
        windows = [(int(a["startTime"]), int(a["endTime"])) for a in venue.pages()]
        # at most the page in flight at the kill is asked twice
        assert len(windows) - len(set(windows)) <= 1
        assert len(set(windows)) == 9
    finally:
        cache.close()


def settled_count(venue: KlineVenue, quiet_s: float = 0.3, timeout_s: float = 10.0) -> int:
    """The request count once no request arrived for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    count = len(venue.log)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        if len(venue.log) == count:
            return count
        count = len(venue.log)
    raise AssertionError("requests kept coming")


def test_pause_stops_after_the_request_in_flight_and_is_remembered(httpserver, cache):
    btc = history(FIRST, 6_000)
    venue = KlineVenue(httpserver, {"BTCUSDT": btc}, delay_s=0.02)
    now = int(btc[-1]) + M
    backfill = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now,
                              min_interval_s=0.0)
    backfill.start()
    try:
        deadline = time.monotonic() + 20
        while len(venue.pages()) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        backfill.pause()
        asked = settled_count(venue)  # the request in flight, if any, ends
        time.sleep(0.4)
        assert len(venue.log) == asked  # nothing more while paused
        assert len(venue.pages()) < 6  # paused part-way
        assert backfill.status().paused and "paused" in status_text(backfill.status())
    finally:
        backfill.stop()
    # the pause is stored: a restart stays paused until resumed
    restarted = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now,
                               min_interval_s=0.0)
    assert not restarted.paused  # nothing is read until the worker starts (no I/O here)
    restarted.load()
    assert restarted.paused
    restarted.start()
    time.sleep(0.2)
    assert len(venue.log) == asked
    restarted.resume()
    deadline = time.monotonic() + 30
    while not restarted.status().done and time.monotonic() < deadline:
        time.sleep(0.02)
    restarted.stop()
    assert_exact(cache, "btc.1m", btc)
    again = MinuteBackfill(cache, venue.url, (BTC,))
    again.load()
    assert not again.paused


def test_429_waits_its_retry_after_then_asks_the_same_window_again(httpserver, cache):
    btc = history(FIRST, 2_500)
    venue = KlineVenue(httpserver, {"BTCUSDT": btc})
    now = int(btc[-1]) + M
    backfill = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now)
    assert backfill.step() is not None  # the first minute
    venue.script.append(Response(json.dumps({"code": -1003, "msg": "Too many requests"}),
                                 status=429, headers={"Retry-After": "37"},
                                 content_type="application/json"))
    assert backfill.step() == 37.0
    status = backfill.status()
    assert status.waiting == "rate limited" and 36 <= status.retry_in_s <= 37
    assert "rate limited · retry in 3" in status_text(status)
    assert cache.bounds("btc.1m") is None  # nothing stored, the cursor did not move
    run_to_end(backfill)
    assert_exact(cache, "btc.1m", btc)
    pages = venue.pages()
    assert pages[0] == pages[1]  # the refused window asked again


def test_an_html_page_backs_off_and_loses_nothing(httpserver, cache):
    btc = history(FIRST, 2_500)
    venue = KlineVenue(httpserver, {"BTCUSDT": btc})
    now = int(btc[-1]) + M
    backfill = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now)
    backfill.step()
    backfill.step()
    html = Response("<!DOCTYPE html><html><body>Attention Required! | Cloudflare</body></html>",
                    content_type="text/html")
    venue.script.extend([html, html])
    assert backfill.step() == 5.0  # the back-off grows: 5 s, then 15 s
    assert "HTML page" in backfill.status().waiting
    assert backfill.step() == 15.0
    run_to_end(backfill)
    assert_exact(cache, "btc.1m", btc)


def test_the_empty_page_at_the_start_of_history_ends_the_walk(httpserver, cache):
    """A symbol with no minute at all answers [] to the first-minute question: done at once;
    and a walk that reaches the listing stops there, asking nothing older."""
    btc = history(FIRST, 1_500)
    venue = KlineVenue(httpserver, {"BTCUSDT": btc, "ETHUSDT": np.empty(0, np.int64)})
    now = int(btc[-1]) + M
    backfill = MinuteBackfill(cache, venue.url, (ETH, BTC), clock_ms=lambda: now)
    assert backfill.step() == backfill.min_interval_s
    eth = backfill.status().series[0]
    assert eth.done and eth.rows == 0 and len(venue.log) == 1
    run_to_end(backfill)
    assert_exact(cache, "btc.1m", btc)
    starts = [int(a["startTime"]) for a in venue.pages()]
    assert min(starts) == FIRST and len(starts) == 2


def test_an_outage_longer_than_a_page_is_a_known_gap(httpserver, cache):
    long_outage = (FIRST + 500 * M, FIRST + 2_999 * M)  # 2,500 minutes: whole empty pages
    btc = history(FIRST, 5_000, (long_outage,))
    venue = KlineVenue(httpserver, {"BTCUSDT": btc})
    now = int(btc[-1]) + M
    backfill = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now)
    run_to_end(backfill)
    assert_exact(cache, "btc.1m", btc)
    assert backfill.status().series[0].gaps == (long_outage,)


def test_a_refusal_stops_that_series_with_its_message(httpserver, cache):
    venue = KlineVenue(httpserver, {"BTCUSDT": history(FIRST, 10)})
    venue.script.append(Response(json.dumps({"code": 0, "msg": "Service unavailable from a "
                                             "restricted location"}), status=451,
                                 content_type="application/json"))
    backfill = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: FIRST + 10 * M)
    assert backfill.step() == 0.0
    assert backfill.step() is None
    status = backfill.status()
    assert status.series[0].error and "stopped" in status_text(status)


def test_the_used_weight_holds_the_next_request_until_the_next_minute(httpserver, cache):
    btc = history(FIRST, 2_500)
    venue = KlineVenue(httpserver, {"BTCUSDT": btc})
    now = int(btc[-1]) + M + 15_000  # 15 s into a minute
    backfill = MinuteBackfill(cache, venue.url, (BTC,), clock_ms=lambda: now)
    venue.weight = 2_000
    assert backfill.step() == backfill.min_interval_s
    venue.weight = 2_999  # past half of 6,000 with this request's 2
    assert backfill.step() == pytest.approx(45.0 + 1.0)
    assert backfill.status().waiting.startswith("weight limit")


def test_status_text_reads_like_the_issue():
    top, first = 1_770_336_000_000, FIRST  # 2026-02-06 00:00 UTC
    cursor = top - int(0.38 * (top - first)) // M * M
    btc = SeriesProgress("btc.1m", "BTC 1m", top_ms=top, cursor_ms=cursor, first_ms=first,
                         requests=12_000)
    eth = SeriesProgress("eth.1m", "ETH 1m", requests=345)
    text = status_text(BackfillStatus((btc, eth), paused=True))
    # 38 % of the span from 2026-02-06 back to 2017-08-17 04:00 (8.47 years): 3.22 years
    # back, 2022-11-17
    assert text == "BTC 1m history: 2022-11 … 38 % · 12,345 req · paused"
    done = [SeriesProgress(s, lab, first_ms=first, done=True)
            for s, lab in (("btc.1m", "BTC 1m"), ("eth.1m", "ETH 1m"))]
    assert (status_text(BackfillStatus(tuple(done)))
            == "1m history complete (BTC, ETH since 2017-08)")
