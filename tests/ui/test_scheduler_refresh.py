"""A refresh hands back the merged series (cached rows plus the fetched ones) and where its tail
starts; the cache is not read again after each refresh."""

from __future__ import annotations

import json
import time

import numpy as np
from werkzeug import Response

from models.catalog import get_spec
from models.series import SeriesData
from models.status import SourceState
from services.app import CACHE_FILE
from services.cache import Cache
from ui.scheduler import Scheduler
from ui.store import DataStore

H = 3_600_000


def _kline(t: int, close: float) -> list:
    return [t, f"{close}", f"{close + 2}", f"{close - 2}", f"{close}", "5", t + H - 1, "500", 7,
            "2", "200", "0"]


def test_a_refresh_publishes_the_merged_series_and_its_tail_without_reading_the_cache(
        qtbot, venue_server, data_dir, monkeypatch):
    now_h = int(time.time() * 1000) // H * H
    spec = get_spec("btc.1h")
    seed = Cache(data_dir / CACHE_FILE)
    # 100 cached bars, the last (the hour before this one) still forming at 100.0
    seed.upsert("btc.1h", SeriesData.from_rows(
        range(now_h - 100 * H, now_h, H), **{c: [100.0] * 100 for c in spec.columns}))
    seed.close()

    def klines(request):
        start = int(request.args["startTime"])
        rows = [_kline(now_h - H, 105.0), _kline(now_h, 106.0)]  # closed; a new forming bar
        return Response(json.dumps([r for r in rows if r[0] >= start]),
                        content_type="application/json")

    venue_server.expect_request("/api/v3/klines").respond_with_handler(klines)
    reads: list[str] = []
    read = Cache.read

    def counted(self, series_id, *args, **kwargs):
        reads.append(series_id)
        return read(self, series_id, *args, **kwargs)

    monkeypatch.setattr(Cache, "read", counted)
    scheduler = Scheduler()
    store = DataStore()
    store.follow(scheduler)
    updates: list[tuple[SeriesData, int | None]] = []
    scheduler.seriesUpdated.connect(lambda _sid, data, tail: updates.append((data, tail)))
    try:
        scheduler.start(["btc.1h"])
        qtbot.waitUntil(lambda: len(updates) == 2, timeout=10000)
        qtbot.waitUntil(lambda: store.status("btc.1h").state == SourceState.OK, timeout=5000)
        reads_after_first_refresh = list(reads)
        scheduler.refresh_now()  # the forming bar again: merged into the held series too
        qtbot.waitUntil(lambda: len(updates) == 3, timeout=10000)
        reads_after_second_refresh = list(reads)
        # Another process (a cron `main.py refresh`) adds older rows: the next refresh sees the
        # cache out of step with what it holds and reads it back.
        other = Cache(data_dir / CACHE_FILE)
        other.upsert("btc.1h", SeriesData.from_rows(
            [now_h - 300 * H], **{c: [90.0] for c in spec.columns}))
        other.close()
        scheduler.refresh_now()
        qtbot.waitUntil(lambda: len(updates) == 4, timeout=10000)
    finally:
        scheduler.shutdown(2000)
    assert reads_after_first_refresh == reads_after_second_refresh == ["btc.1h"]
    assert reads == ["btc.1h", "btc.1h"]
    again, tail = updates[2]
    assert tail == 100 and len(again) == 101  # only the forming bar (index 100) was fetched
    healed, tail = updates[3]
    assert tail is None and len(healed) == 102 and healed.first_ms == now_h - 300 * H
    cached, tail = updates[0]
    assert len(cached) == 100 and tail is None
    merged, tail = updates[1]
    assert tail == 99  # rows 0..98 are the cached ones, unchanged
    assert merged.time.tolist() == list(range(now_h - 100 * H, now_h + 1, H))
    assert merged["close"][-3:].tolist() == [100.0, 105.0, 106.0]
    # The series merged in memory is what the cache held then (the read that healed it is the
    # cache's rows, the cron row included).
    held = healed.between(now_h - 100 * H)
    assert held.time.tolist() == again.time.tolist()
    for name in held.names:
        np.testing.assert_array_equal(held[name], again[name])
    # the store publishes the tail and reads the status from the scheduler's tracker
    assert store.series("btc.1h") is healed and store.tail_from("btc.1h") is None
    assert store.status("btc.1h") is scheduler.tracker.status("btc.1h")


def test_the_store_keeps_the_tail_index_and_reads_statuses_through(qtbot):
    scheduler = Scheduler()
    store = DataStore()
    store.follow(scheduler)
    changed: list[str] = []
    store.statusChanged.connect(changed.append)
    scheduler.tracker.watch([get_spec("btc.1h")])
    assert changed == ["btc.1h"]
    assert store.statuses() == scheduler.tracker.statuses()
    assert store.status("btc.1h") is scheduler.tracker.status("btc.1h")  # one copy
    data = SeriesData.from_rows([0, H], close=[1.0, 2.0])
    store.set_series("btc.1h", data, 1)
    assert store.tail_from("btc.1h") == 1
    store.set_series("btc.1h", data)  # a rewrite (older history, a cache read)
    assert store.tail_from("btc.1h") is None
