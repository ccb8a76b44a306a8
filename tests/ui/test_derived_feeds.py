"""Derived feeds: an analysis recomputed off the GUI thread for whoever subscribes, bursts of
input changes coalesced, pandas analyses held until release, shared parameters re-keying every
subscriber, and nothing delivered after a subscription is closed."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from models import analyses
from models.analyses import ANALYSES, Analysis
from models.ids import funding_id, funding_now_id
from models.series import MS_PER_HOUR, SeriesData, Snapshot
from ui.derived_feeds import DerivedFeeds, StoreLoader, feed_key
from ui.scheduler import Scheduler
from ui.store import DataStore

T0 = 1_769_990_400_000


def funding(rate: float, n: int = 24) -> SeriesData:
    t = T0 + (np.arange(n) + 1) * MS_PER_HOUR
    r = np.full(n, rate)
    return SeriesData(t, {"rate": r, "interval_hours": np.ones(n), "apr_pct": r * 24 * 365 * 100})


@pytest.fixture
def counting(monkeypatch):
    """A stand-in analysis that records the thread and the inputs each run saw."""
    runs: list[tuple[str, float]] = []

    def run(loader, asset):
        data = loader.read(funding_id("okx", asset))
        runs.append((threading.current_thread().name, float(data["rate"][-1]) if len(data)
                     else np.nan))
        return len(runs)

    monkeypatch.setitem(ANALYSES, "probe", Analysis(
        "probe", lambda asset: (funding_id("okx", asset),), run))
    return runs


@pytest.fixture
def feeds(qtbot, settings):
    store = DataStore()
    scheduler = Scheduler()
    yield DerivedFeeds(store, scheduler, settings, held=False)
    scheduler.shutdown()


def test_a_burst_of_input_changes_is_one_recompute_on_a_worker(feeds, counting, qtbot):
    got = []
    feeds.subscribe("probe", got.append, asset="btc")
    for rate in (0.1, 0.2, 0.3):  # one event-loop turn: one recompute, with the last value
        feeds.store.set_series(funding_id("okx", "btc"), funding(rate))
    qtbot.waitUntil(lambda: got == [1], timeout=5000)
    qtbot.wait(50)
    assert len(counting) == 1 and counting[0][1] == pytest.approx(0.3)
    assert counting[0][0] != threading.main_thread().name
    feeds.store.set_series(funding_id("okx", "btc"), funding(0.4))
    qtbot.waitUntil(lambda: got == [1, 2], timeout=5000)


def test_live_tail_changes_recompute_at_most_once_per_interval(feeds, counting, qtbot,
                                                               monkeypatch):
    import time

    monkeypatch.setattr("ui.derived_feeds.LIVE_MIN_INTERVAL_MS", 400)
    got = []
    feeds.subscribe("probe", got.append, asset="btc")
    sid = funding_id("okx", "btc")
    feeds.store.set_series(sid, funding(0.1))  # a whole series: at once
    qtbot.waitUntil(lambda: got == [1], timeout=5000)
    started = time.monotonic()
    for i in range(20):  # a stream moving the last row every 10 ms
        feeds.scheduler.publishing_stream = True  # as Scheduler.publish_stream_rows does
        feeds.store.set_series(sid, funding(0.2 + i / 100), tail_from=23)
        feeds.scheduler.publishing_stream = False
        qtbot.wait(10)
    qtbot.waitUntil(lambda: got == [1, 2], timeout=5000)
    qtbot.wait(100)
    assert len(counting) == 2 and counting[1][1] == pytest.approx(0.39)  # the newest rows
    assert time.monotonic() - started >= 0.39  # not before the interval since the first run
    feeds.store.set_series(sid, funding(0.5), tail_from=23)  # a refresh: no wait
    qtbot.waitUntil(lambda: got == [1, 2, 3], timeout=300)


def test_a_snapshot_built_from_stream_ticks_waits_like_a_live_tail(feeds, qtbot, monkeypatch):
    import pandas as pd

    monkeypatch.setattr("ui.derived_feeds.LIVE_MIN_INTERVAL_MS", 1500)
    sid = funding_now_id("okx", "btc")
    seen = []

    def run(loader, asset):
        seen.append(loader.latest_snapshot(sid).time_ms)
        return len(seen)

    monkeypatch.setitem(ANALYSES, "nowprobe", Analysis("nowprobe", lambda asset: (sid,), run))
    got = []
    feeds.subscribe("nowprobe", got.append, asset="btc")

    def snap(t):
        return Snapshot(sid, t, pd.DataFrame({"rate": [0.0001]}))

    feeds.store.set_snapshot(sid, snap(1))  # fetched over REST: at once
    qtbot.waitUntil(lambda: got == [1], timeout=5000)
    for t in range(2, 12):  # built from ticks (ui/streams.py), five a second
        feeds.scheduler.publishing_stream = True
        feeds.store.set_snapshot(sid, snap(t))
        feeds.scheduler.publishing_stream = False
        qtbot.wait(20)
    assert got == [1]  # still inside the interval since the first run
    qtbot.waitUntil(lambda: got == [1, 2], timeout=5000)
    assert seen == [1, 11]  # one run, on the newest snapshot
    feeds.store.set_snapshot(sid, snap(20))  # fetched again: no wait
    qtbot.waitUntil(lambda: got == [1, 2, 3], timeout=300)


def test_changes_to_other_series_do_not_recompute(feeds, counting, qtbot):
    got = []
    feeds.subscribe("probe", got.append, asset="btc")
    feeds.store.set_series(funding_id("okx", "btc"), funding(0.1))
    qtbot.waitUntil(lambda: got == [1], timeout=5000)
    feeds.store.set_series(funding_id("okx", "eth"), funding(0.2))
    feeds.store.set_series("spx.1d", funding(0.2))
    qtbot.wait(100)
    assert got == [1]


def test_subscribers_share_a_feed_and_a_late_one_gets_the_value_at_once(feeds, counting, qtbot):
    first, second = [], []
    feeds.subscribe("probe", first.append, asset="btc")
    feeds.store.set_series(funding_id("okx", "btc"), funding(0.1))
    qtbot.waitUntil(lambda: first == [1], timeout=5000)
    feeds.subscribe("probe", second.append, asset="btc")
    assert second == [1] and len(counting) == 1  # no second computation
    assert feeds.current("probe", asset="btc") == 1


def test_a_closed_subscription_gets_nothing_and_the_feed_goes_away(feeds, counting, qtbot):
    got = []
    sub = feeds.subscribe("probe", got.append, asset="btc")
    feeds.store.set_series(funding_id("okx", "btc"), funding(0.1))
    sub.close()
    qtbot.wait(200)
    assert got == [] and feeds.active_keys() == []


def test_updating_own_parameters_moves_to_another_feed(feeds, counting, qtbot):
    got = []
    sub = feeds.subscribe("probe", got.append, asset="btc")
    feeds.store.set_series(funding_id("okx", "btc"), funding(0.1))
    feeds.store.set_series(funding_id("okx", "eth"), funding(0.5))
    qtbot.waitUntil(lambda: len(got) == 1, timeout=5000)
    sub.update(asset="eth")
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    assert counting[-1][1] == pytest.approx(0.5)
    assert feeds.active_keys() == [feed_key("probe", {"asset": "eth"})]


def test_heavy_analyses_wait_for_release(qtbot, settings, monkeypatch):
    ran = []
    monkeypatch.setitem(ANALYSES, "rotation", Analysis(
        "rotation", analyses.rotation_inputs, lambda loader, **p: ran.append(p) or "done"))
    store, scheduler = DataStore(), Scheduler()
    feeds = DerivedFeeds(store, scheduler, settings)  # held, as the window starts it
    got = []
    feeds.subscribe("rotation", got.append)
    store.set_series("spx.1d", funding(0.1))
    qtbot.wait(200)
    assert ran == [] and got == []
    feeds.release()
    qtbot.waitUntil(lambda: got == ["done"], timeout=5000)
    assert ran == [{"window": 60, "k": 2.0, "threshold": 0.2}]
    scheduler.shutdown()


def test_shared_parameters_are_persisted_validated_and_re_key_subscribers(
        feeds, qtbot, settings, monkeypatch):
    seen = []
    monkeypatch.setitem(ANALYSES, "rotation", Analysis(
        "rotation", analyses.rotation_inputs, lambda loader, **p: dict(p)))
    feeds.store.set_series("spx.1d", funding(0.1))
    feeds.subscribe("rotation", seen.append)
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=5000)
    feeds.set_shared_params("rotation", window=120, k=2.5)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert seen[-1] == {"window": 120, "k": 2.5, "threshold": 0.2}
    assert settings.value("rotation/window") == 120
    settings.setValue("rotation/window", 7)  # not a window the dock offers
    assert feeds.shared_params("rotation")["window"] == 60
    with pytest.raises(KeyError):
        feeds.set_shared_params("rotation", colour="red")


def test_store_loader_reads_memory_first_and_the_cache_for_older_snapshots(tmp_path):
    from models.series import Snapshot
    from services.cache import Cache

    cache = Cache(tmp_path / "c.sqlite")
    import pandas as pd

    old = Snapshot("options.btc", T0, pd.DataFrame({"strike": [1.0]}), {})
    new = Snapshot("options.btc", T0 + MS_PER_HOUR, pd.DataFrame({"strike": [2.0]}), {})
    cache.put_snapshot(old)
    cache.put_snapshot(new)
    data = funding(0.1)
    loader = StoreLoader({"btc.1h": data}, {"options.btc": new}, cache)
    assert loader.read("btc.1h") is data
    assert len(loader.read("btc.1h", T0 + 5 * MS_PER_HOUR)) == 20
    assert loader.read("eth.1h").names == ("open", "high", "low", "close", "volume")
    assert loader.latest_snapshot("options.btc") is new
    assert loader.latest_snapshot("options.btc", T0).frame["strike"].tolist() == [1.0]
    assert list(loader.snapshot_times("options.btc")) == [T0, T0 + MS_PER_HOUR]
    cache.close()
