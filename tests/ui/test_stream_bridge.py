"""The stream bridge without a window: a scheduler, a store, the status bar and a hub stand-in
that wakes the bridge from its own thread as the real hub does (services/streams/hub.py)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from models.catalog import get_spec
from models.ids import funding_now_id
from models.stream_events import StreamState, StreamStatus, TickUpdate
from services.cache import Cache
from tests.ui.stream_fakes import T0, FakeHub, FakeLock, H, bars
from ui.scheduler import Scheduler
from ui.status_bar import SourceStatusBar
from ui.store import DataStore
from ui.streams import FRAME_MS, StreamBridge, read_recorded


@pytest.fixture
def rig(qtbot, tmp_path):
    scheduler = Scheduler()
    store = DataStore()
    store.follow(scheduler)
    bar = SourceStatusBar(store)
    qtbot.addWidget(bar)
    hubs: list[FakeHub] = []
    lock = FakeLock()

    def make_hub(_services, on_wake):
        hubs.append(FakeHub(on_wake))
        return hubs[-1]

    bridge = StreamBridge(scheduler, store, bar, hub_factory=make_hub,
                          lock_factory=lambda _dir: lock, enabled=True)
    services = SimpleNamespace(demo=False, data_dir=tmp_path, cache=None)
    scheduler.tracker.watch([get_spec("btc.1h")])
    yield SimpleNamespace(scheduler=scheduler, store=store, bar=bar, bridge=bridge, hubs=hubs,
                          lock=lock, services=services)
    bridge.stop()
    scheduler.shutdown(2000)


def open_bridge(rig, qtbot):
    rig.bridge.on_services(rig.services)
    rig.bridge.start()
    qtbot.waitUntil(lambda: rig.bridge.hub is not None, timeout=5000)
    return rig.hubs[0]


def test_rows_from_a_burst_are_merged_into_the_published_series_once_per_frame(rig, qtbot):
    held = bars(range(T0 - 10 * H, T0, H), 100.0)
    rig.scheduler._publish_series("btc.1h", held, None)  # what the cache phase published
    hub = open_bridge(rig, qtbot)
    assert "live" in rig.bar.chip_text("Bybit")  # the hub's first statuses
    updates = []
    rig.scheduler.seriesUpdated.connect(lambda sid, data, tail: updates.append((data, tail)))
    drains0 = rig.bridge.drains  # one drain at the hand-over, empty here

    def burst():  # the forming bar ticking 300 times from a hub thread, ~1 ms apart
        for i in range(300):
            hub.push("btc.1h", bars([T0], 100.0 + i))
            time.sleep(0.001)

    started = time.monotonic()
    thread = threading.Thread(target=burst)
    thread.start()
    qtbot.waitUntil(lambda: bool(updates) and updates[-1][0]["close"][-1] == 399.0,
                    timeout=5000)
    elapsed_ms = (time.monotonic() - started) * 1000
    thread.join()
    drains = rig.bridge.drains - drains0
    assert drains > 3  # it did drain while the burst went on
    # every drain publishes once; drains are at least a frame apart
    assert drains == len(updates)
    assert drains <= elapsed_ms / FRAME_MS + 2
    data, tail = updates[-1]
    expected, expected_tail = held.merge_with_tail(bars([T0], 399.0))
    assert np.array_equal(data.time, expected.time)
    assert np.array_equal(data["close"], expected["close"])
    assert tail == expected_tail == 10  # only the new bar changed
    assert rig.store.series("btc.1h") is data


def test_the_forming_bar_survives_a_refresh_that_reread_the_closed_bars(rig, qtbot):
    held = bars(range(T0 - 3 * H, T0, H), 100.0)
    rig.scheduler._publish_series("btc.1h", held, None)
    hub = open_bridge(rig, qtbot)
    hub.push("btc.1h", bars([T0], 123.0))
    qtbot.waitUntil(lambda: len(rig.store.series("btc.1h")) == 4, timeout=5000)
    rig.scheduler._publish_series("btc.1h", held, None)  # a refresh's re-read of the cache
    shown = rig.store.series("btc.1h")
    assert shown.last_ms == T0 and shown["close"][-1] == 123.0


def test_statuses_become_chip_words_and_ticks_the_funding_now_snapshot(rig, qtbot, monkeypatch):
    monkeypatch.setattr("ui.streams.FUNDING_NOW_EVERY_MS", 0)
    hub = open_bridge(rig, qtbot)
    hub.push(status=StreamStatus("bybit", StreamState.RECONNECTING, attempt=3,
                                 message="closed 1006"))
    qtbot.waitUntil(lambda: "reconnecting (3)" in rig.bar.chip_text("Bybit"), timeout=5000)
    assert "closed 1006" in rig.bar.chips["Bybit"].toolTip()
    assert "1 reconnecting" in rig.bar.strip._summary_all  # what a collapsed strip shows
    hub.push(status=StreamStatus("okx", StreamState.POLLING))
    qtbot.waitUntil(lambda: "polling" in rig.bar.chip_text("OKX"), timeout=5000)

    hub.push(tick=TickUpdate("bybit", "btc", T0, {"funding_rate": -0.0002,
                                                  "funding_interval_hours": 8.0,
                                                  "mark": 90_000.0, "open_interest": 10.0}))
    sid = funding_now_id("bybit", "btc")
    qtbot.waitUntil(lambda: rig.store.snapshot(sid) is not None, timeout=5000)
    row = rig.store.snapshot(sid).frame.iloc[0]
    assert row["rate"] == -0.0002
    assert row["apr_pct"] == pytest.approx(-0.0002 * 3 * 365 * 100)  # three settlements a day
    assert row["open_interest_usd"] == pytest.approx(900_000.0)


def test_a_recorder_holding_the_lock_means_no_hub_and_a_recorded_by_chip(rig, qtbot):
    rig.lock.free, rig.lock.holder_pid = False, 4242
    rig.bridge.on_services(rig.services)
    rig.bridge.start()
    qtbot.waitUntil(lambda: "recorded by 4242" in rig.bar.chip_text("Streams"), timeout=5000)
    assert rig.hubs == [] and rig.bridge.hub is None
    rig.lock.free = True  # the recorder stopped: the next poll finds the lock free
    rig.bridge._poll_recorded()
    qtbot.waitUntil(lambda: rig.bridge.hub is not None, timeout=5000)
    assert rig.bar.chip_text("Streams") == ""


def test_read_recorded_returns_the_rows_since_the_last_one_held(tmp_path):
    cache = Cache(tmp_path / "cache.sqlite")
    try:
        cache.upsert("btc.1h", bars(range(T0 - 5 * H, T0 + H, H), 100.0))
        services = SimpleNamespace(data_dir=tmp_path, cache=cache)
        locked = FakeLock(free=False, holder=99)
        got = read_recorded(services, lambda _d: locked, {"btc.1h": T0 - 2 * H, "eth.1h": None})
        assert not got.free and got.holder == 99
        assert list(got.rows["btc.1h"].time) == [T0 - 2 * H, T0 - H, T0]
        assert "eth.1h" not in got.rows  # nothing stored
        assert read_recorded(services, lambda _d: FakeLock(), {}).free
    finally:
        cache.close()


def test_stop_stops_the_hub_on_a_worker_and_releases_the_lock(rig, qtbot):
    hub = open_bridge(rig, qtbot)
    rig.bridge.stop(timeout_s=0.5)
    assert rig.bridge.hub is None and rig.bar.chip_text("Bybit") == ""
    qtbot.waitUntil(lambda: rig.lock.released == 1, timeout=5000)
    assert hub.stopped and hub.stop_thread is not threading.main_thread()
    hub.push("btc.1h", bars([T0], 1.0))  # a late wake finds no hub: nothing published
    qtbot.wait(3 * FRAME_MS)
    assert rig.store.series("btc.1h") is None


def test_the_real_hub_on_loopback_feeds_the_store_and_a_reconnect_refreshes_the_gap(
        qtbot, tmp_path, monkeypatch):
    from services.streams.hub import StreamHub
    from services.streams.lock import StreamLock
    from tests.services.streams.loopback import FAST, LoopbackServer, ToyStream, abort, bar_frame

    now_h = int(time.time() * 1000) // H * H

    def scenario(ws, number):
        ws.send(bar_frame(now_h, 200.0 + number, closed=False))
        if number == 0:
            time.sleep(0.2)
            abort(ws)  # the client sees 1006, reconnects, and reports a Gap
        else:
            ws.send(bar_frame(now_h, 250.0, closed=False))
            for _message in ws:  # hold the connection until the client closes it
                pass

    scheduler = Scheduler()
    store = DataStore()
    store.follow(scheduler)
    bar = SourceStatusBar(store)
    qtbot.addWidget(bar)
    scheduler.tracker.watch([get_spec("btc.1h")])
    refreshed: list[list[str]] = []
    monkeypatch.setattr(scheduler, "refresh_now", lambda ids=None: refreshed.append(list(ids)))
    cache = Cache(tmp_path / "cache.sqlite")
    with LoopbackServer(scenario) as server:
        def make_hub(services, on_wake):
            return StreamHub(services.cache, [ToyStream(server.url, venue="binance")],
                             timing=FAST, on_wake=on_wake)

        bridge = StreamBridge(scheduler, store, bar, hub_factory=make_hub,
                              lock_factory=StreamLock, enabled=True)
        bridge.on_services(SimpleNamespace(demo=False, data_dir=tmp_path, cache=cache))
        try:
            bridge.start()
            qtbot.waitUntil(lambda: store.series("btc.1h") is not None
                            and store.series("btc.1h")["close"][-1] == 250.0, timeout=10000)
            assert store.series("btc.1h").last_ms == now_h
            qtbot.waitUntil(lambda: ["btc.1h"] in refreshed, timeout=5000)
            qtbot.waitUntil(lambda: "live" in bar.chip_text("Binance spot"), timeout=5000)
            assert not StreamLock(tmp_path).acquire()  # the window holds it
        finally:
            bridge.stop(timeout_s=1.0)
            scheduler.shutdown(3000)
            cache.close()
    again = StreamLock(tmp_path)
    assert again.acquire()
    again.release()
