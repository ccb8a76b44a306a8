"""The hub against loopback servers: what a drain returns, what the writer stores, wake-ups,
stop, and a shared cache file."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from models.ids import liq_id, premium_id
from models.liquidations import BUCKET_COLUMNS
from models.series import SeriesData
from models.stream_events import LONG, SHORT, StreamState
from services.cache import Cache
from services.errors import CacheBusy
from services.streams.hub import StreamBatch, StreamHub
from tests.services.streams.loopback import (
    FAST,
    LoopbackServer,
    ToyStream,
    bar_frame,
    liq_frame,
    tick_frame,
    wait_until,
)

HOUR = 3_600_000
MINUTE = 60_000


def now_minute() -> int:
    t = time.time_ns() // 1_000_000
    return t - t % MINUTE


class Drained:
    """Every batch drained so far, merged the way the window merges them."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        self.series: dict[str, SeriesData] = {}
        self.batches: list[StreamBatch] = []

    def drain(self) -> StreamBatch:
        batch = self.hub.drain()
        self.batches.append(batch)
        for sid, data in batch.series.items():
            self.series[sid] = self.series[sid].merge(data) if sid in self.series else data
        return batch

    def until(self, predicate, timeout_s: float = 3.0) -> None:
        def check():
            self.drain()
            return predicate()
        wait_until(check, timeout_s)


@pytest.fixture
def hubs():
    made = []

    def make(*args, **kwargs) -> StreamHub:
        kwargs.setdefault("timing", FAST)
        hub = StreamHub(*args, **kwargs)
        made.append(hub)
        hub.start()
        return hub

    yield make
    for hub in made:
        assert hub.stop(2.0)


def test_drain_merges_bars_ticks_and_premium_and_the_writer_stores_closed_rows(hubs, cache):
    t = now_minute() - HOUR
    bar_open = t - t % HOUR

    def scenario(ws, n):
        ws.send(bar_frame(bar_open - HOUR, 99.0, closed=True))
        ws.send(bar_frame(bar_open, 100.0, closed=False))
        ws.send(tick_frame(t + 1_000, mark=101.0, funding_rate=0.0001))
        ws.send(tick_frame(t + 2_000, index=100.0))
        ws.send(tick_frame(t + 3_000, mark=102.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        hub = hubs(cache, [ToyStream(server.url)], flush_interval_s=0.02,
                   liquidation_sink=lambda _e: None)
        seen = Drained(hub)
        seen.until(lambda: premium_id("toyvenue", "btc") in seen.series
                   and seen.series[premium_id("toyvenue", "btc")]["mark"][-1] == 102.0)
        bars = seen.series["btc.1h"]
        assert bars.time.tolist() == [bar_open - HOUR, bar_open]  # the open bar too
        assert bars["close"].tolist() == [99.0, 100.0]
        ticks = {k: v for b in seen.batches for k, v in b.ticks.items()}
        tick = ticks["toyvenue", "btc"]
        assert dict(tick.values) == {"mark": 102.0, "funding_rate": 0.0001, "index": 100.0}
        premium = seen.series[premium_id("toyvenue", "btc")]
        assert premium.time.tolist() == [t]
        assert premium["premium_pct"][0] == pytest.approx((102.0 - 100.0) / 100.0 * 100)
        assert min(b.recv_ns.get("btc.1h", 1 << 62) for b in seen.batches) > 0
        assert any("btc.1h" in b.recv_ns for b in seen.batches)
        assert any("tick:toyvenue.btc" in b.recv_ns for b in seen.batches)
        # the writer: only the closed bar, and the premium minute
        wait_until(lambda: len(cache.read(premium_id("toyvenue", "btc"))) == 1)
        stored = cache.read("btc.1h")
        assert stored.time.tolist() == [bar_open - HOUR] and stored["close"][0] == 99.0
        assert cache.read(premium_id("toyvenue", "btc"))["index"][0] == 100.0


def test_liquidation_buckets_start_from_the_stored_minute_and_count_a_report_once(hubs, cache):
    minute = now_minute() - 5 * MINUTE
    sid = liq_id("toyvenue", "btc")
    # what an earlier run stored for that minute: $5,000 of longs in 2 reports
    cache.upsert(sid, SeriesData.from_rows([minute], long_usd=[5000.0], short_usd=[0.0],
                                           long_qty=[0.05], short_qty=[0.0], count=[2.0]))
    sunk: list = []

    def scenario(ws, n):
        ws.send(liq_frame(minute + 1_000, LONG, 0.1, 100_000.0))
        ws.send(liq_frame(minute + 1_000, LONG, 0.1, 100_000.0))  # the same report again
        ws.send(liq_frame(minute + 2_000, SHORT, 0.2, 100_000.0))
        ws.send(liq_frame(minute + MINUTE, SHORT, 1.0, 100_000.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        hub = hubs(cache, [ToyStream(server.url)], flush_interval_s=0.02,
                   liquidation_sink=sunk.extend)
        seen = Drained(hub)
        seen.until(lambda: sid in seen.series and len(seen.series[sid]) == 2)
        buckets = seen.series[sid]
        assert buckets.time.tolist() == [minute, minute + MINUTE]
        expected = {"long_usd": [15_000.0, 0.0], "short_usd": [20_000.0, 100_000.0],
                    "long_qty": [0.15, 0.0], "short_qty": [0.2, 1.0], "count": [4.0, 1.0]}
        for name in BUCKET_COLUMNS:
            assert buckets[name].tolist() == pytest.approx(expected[name]), name
        assert sum(len(b.liquidations) for b in seen.batches) == 3
        wait_until(lambda: len(sunk) == 3)
        assert [e.usd for e in sunk] == [10_000.0, 20_000.0, 100_000.0]


class FlakyCache(Cache):
    """A cache another process holds for the first two writes."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.refusals = 2

    def upsert(self, series_id, data):
        if self.refusals > 0:
            self.refusals -= 1
            raise CacheBusy("cache busy: another process holds it (database is locked)")
        return super().upsert(series_id, data)


def test_rows_and_liquidations_a_failed_write_kept_are_stored_later(hubs, tmp_path):
    cache = FlakyCache(tmp_path / "cache.sqlite")
    calls = []

    def sink(events):
        calls.append(list(events))
        if len(calls) == 1:
            raise CacheBusy("database is locked")

    t0 = now_minute() - 10 * HOUR
    t0 -= t0 % HOUR

    def scenario(ws, n):
        ws.send(bar_frame(t0, 100.0))
        ws.send(liq_frame(t0 + 1_000, LONG, 0.1, 100_000.0))
        time.sleep(0.1)
        ws.send(bar_frame(t0 + HOUR, 101.0))
        server.hold(ws, n)

    try:
        with LoopbackServer(scenario) as server:
            hub = hubs(cache, [ToyStream(server.url)], flush_interval_s=0.02,
                       liquidation_sink=sink)
            wait_until(lambda: len(cache.read("btc.1h")) == 2)
            wait_until(lambda: len(calls) >= 2)
            assert cache.read("btc.1h")["close"].tolist() == [100.0, 101.0]
            assert [len(c) for c in calls[:2]] == [1, 1] and calls[0] == calls[1]
            assert hub.store_stats["store_errors"] >= 3
            assert hub.store_stats["liquidations_stored"] == 1
    finally:
        cache.close()


def test_wake_once_per_drain(hubs):
    wakes = []
    sent = threading.Event()

    def scenario(ws, n):
        for i in range(300):
            ws.send(bar_frame(i * HOUR, 100.0, closed=False))
        sent.set()
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        hub = hubs(None, [ToyStream(server.url)], on_wake=lambda: wakes.append(1))
        wait_until(lambda: hub.stats()["toy"]["messages"] == 300)
        assert len(wakes) == 1  # 300 frames and status changes, nobody drained: one wake
        batch = hub.drain()
        assert len(batch.series["btc.1h"]) == 300
        assert batch.statuses["toy"].state is StreamState.LIVE
        assert hub.drain().empty
        assert len(wakes) == 1


def test_stop_stores_the_last_batch_and_ends_every_thread(hubs, cache):
    t0 = now_minute() - 3 * HOUR
    t0 -= t0 % HOUR
    sunk: list = []

    def scenario(ws, n):
        ws.send(bar_frame(t0, 100.0))
        ws.send(liq_frame(t0 + 5, SHORT, 2.0, 50_000.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        streams = [ToyStream(server.url, name=f"toy{i}", venue=f"v{i}") for i in range(6)]
        hub = StreamHub(cache, streams, timing=FAST, flush_interval_s=60.0,
                        liquidation_sink=sunk.extend)
        hub.start()
        wait_until(lambda: all(s["events"] == 2 for s in hub.stats().values()))
        assert cache.read("btc.1h").time.tolist() == []  # the writer has not flushed yet
        before = {t.name for t in threading.enumerate()}
        assert sum(n.startswith("stream-") for n in before) == 7  # 6 runners + the writer
        started = time.monotonic()
        assert hub.stop(2.0)
        took = time.monotonic() - started
        assert took < 0.5, took
        assert cache.read("btc.1h").time.tolist() == [t0]
        assert len(sunk) == 6 and {e.venue for e in sunk} == {f"v{i}" for i in range(6)}
        assert not [t for t in threading.enumerate() if t.name.startswith("stream-")]
        assert all(s.state is StreamState.STOPPED for s in hub.statuses().values())


def test_gap_and_statuses_in_the_batch_after_a_reconnect(hubs):
    def scenario(ws, n):
        ws.send(bar_frame(n * HOUR, 100.0))
        if n == 0:
            time.sleep(0.02)
            ws.close(1001, "going away")
            return
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        hub = hubs(None, [ToyStream(server.url)])
        seen = Drained(hub)
        seen.until(lambda: any(b.gaps for b in seen.batches) and len(seen.series["btc.1h"]) == 2)
        gaps = [g for b in seen.batches for g in b.gaps]
        assert len(gaps) == 1 and gaps[0].venue == "toyvenue"
        assert hub.stats()["toy"]["reconnects"] == 1
        seen.until(lambda: seen.batches[-1].statuses["toy"].label == "live")


def test_unique_stream_names_are_required():
    a, b = ToyStream("ws://127.0.0.1:9"), ToyStream("ws://127.0.0.1:9")
    with pytest.raises(ValueError, match="unique"):
        StreamHub(None, [a, b])


def test_premium_is_nan_without_a_positive_index(hubs):
    def scenario(ws, n):
        ws.send(tick_frame(MINUTE, mark=100.0, index=0.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        hub = hubs(None, [ToyStream(server.url)], timing=replace(FAST))
        seen = Drained(hub)
        seen.until(lambda: premium_id("toyvenue", "btc") in seen.series)
        assert math.isnan(seen.series[premium_id("toyvenue", "btc")]["premium_pct"][0])
        assert np.isfinite(seen.series[premium_id("toyvenue", "btc")]["mark"]).all()
