"""The scheduler's start-up order: the chart in front, then series, then snapshots."""

from __future__ import annotations

import threading

from models.catalog import CATALOG
from services.cache import Cache
from ui.scheduler import Scheduler


def test_series_are_published_without_waiting_for_snapshot_reads(qtbot, monkeypatch):
    # A snapshot is a pandas frame; its first read imports pandas (~0.25 s of GIL). Hold every
    # snapshot read until the series have arrived: the docks that need only columns must not
    # wait for it.
    release = threading.Event()
    load = Cache._load_snapshot

    def held(series_id, row):
        release.wait(10)
        return load(series_id, row)

    monkeypatch.setattr(Cache, "_load_snapshot", staticmethod(held))
    scheduler = Scheduler()
    order: list[str] = []
    scheduler.seriesChanged.connect(lambda sid, _data: order.append(sid))
    scheduler.snapshotChanged.connect(lambda sid, _snap: order.append(sid))
    watched = ["funding.bybit.btc", "options.btc", "btc.1d", "fundingnow.okx.btc", "btc.1h",
               "eth.1d"]
    series = {s for s in watched if not CATALOG[s].is_snapshot}
    try:
        scheduler.start(watched, demo=True, first=["btc.1h"])
        qtbot.waitUntil(lambda: set(order) == series, timeout=20000)
        assert order[0] == "btc.1h"  # the chart in front first
        release.set()
        qtbot.waitUntil(lambda: set(order) == set(watched), timeout=20000)
    finally:
        release.set()
        scheduler.shutdown(2000)


def test_held_snapshots_are_read_only_when_released(qtbot):
    scheduler = Scheduler()
    order: list[str] = []
    scheduler.seriesChanged.connect(lambda sid, _data: order.append(sid))
    scheduler.snapshotChanged.connect(lambda sid, _snap: order.append(sid))
    watched = ["btc.1h", "funding.okx.btc", "options.btc", "fundingnow.bybit.btc"]
    try:
        scheduler.start(watched, demo=True, first=["btc.1h"], hold_snapshots=True)
        qtbot.waitUntil(lambda: set(order) == {"btc.1h", "funding.okx.btc"}, timeout=20000)
        qtbot.wait(300)
        assert set(order) == {"btc.1h", "funding.okx.btc"}  # the window has not said go
        scheduler.release_snapshots()
        qtbot.waitUntil(lambda: set(order) == set(watched), timeout=20000)
    finally:
        scheduler.shutdown(2000)
