"""Replay without a window: the store shows each series as known at t and holds live
publications back; the derived feeds run as of t, one run per feed at a time (latest t wins);
events to step to; the --replay-at time."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest

from models.analyses import ANALYSES, Analysis
from models.ids import funding_id, price_id
from models.series import MS_PER_HOUR, SeriesData, Snapshot
from ui.derived_feeds import DerivedFeeds
from ui.replay import data_span, next_event, regime_events, replay_label
from ui.scheduler import Scheduler
from ui.store import DataStore

T0 = 1_770_249_600_000  # 2026-02-05 00:00 UTC
BTC_1H = price_id("btc", "1h")
OKX = funding_id("okx", "btc")


def hourly_bars(n: int) -> SeriesData:
    t = T0 + np.arange(n, dtype=np.int64) * MS_PER_HOUR
    c = 100.0 + np.arange(n)
    return SeriesData(t, {"open": c, "high": c + 1, "low": c - 1, "close": c,
                          "volume": np.ones(n)})


def settlements(n: int) -> SeriesData:
    t = T0 + (np.arange(n, dtype=np.int64) + 1) * MS_PER_HOUR
    r = np.linspace(-1e-4, 1e-4, n)
    return SeriesData(t, {"rate": r, "interval_hours": np.ones(n), "apr_pct": r * 876000})


def test_the_store_in_replay_shows_rows_known_at_t_and_signals_only_what_changed(qtbot):
    store = DataStore()
    store.set_series(BTC_1H, hourly_bars(24))
    store.set_series(OKX, settlements(24))
    seen: list[str] = []
    store.seriesChanged.connect(seen.append)

    t = T0 + 10 * MS_PER_HOUR + 30 * 60_000  # 10:30
    store.enter_replay(t)
    # a bar opened at h is known at h + 1 h: the 09:00 bar is the last; the 10:00 settlement is
    bars, rates = store.series(BTC_1H), store.series(OKX)
    assert bars.time[-1] == T0 + 9 * MS_PER_HOUR and len(bars) == 10
    assert rates.time[-1] == T0 + 10 * MS_PER_HOUR and len(rates) == 10
    assert store.live_series(BTC_1H) is not bars and len(store.live_series(BTC_1H)) == 24
    assert sorted(seen) == sorted([BTC_1H, OKX]) and store.tail_from(BTC_1H) is None

    seen.clear()
    store.set_replay_time(t + 10 * 60_000)  # 10:40: nothing new is known
    assert seen == [] and store.series(BTC_1H) is bars

    store.set_replay_time(T0 + 13 * MS_PER_HOUR)  # forward: three more bars, drawn on from 10
    assert store.series(BTC_1H).time[-1] == T0 + 12 * MS_PER_HOUR
    assert store.tail_from(BTC_1H) == 10 and store.tail_from(OKX) == 10

    store.set_replay_time(T0 + 2 * MS_PER_HOUR)  # backward: everything may differ
    assert len(store.series(BTC_1H)) == 2 and store.tail_from(BTC_1H) is None
    store.set_replay_time(T0 - MS_PER_HOUR)  # before the data: empty, not missing
    assert store.series(BTC_1H) is not None and len(store.series(BTC_1H)) == 0


def test_live_publications_during_replay_wait_until_it_ends(qtbot):
    store = DataStore()
    store.set_series(BTC_1H, hourly_bars(24))
    snap = Snapshot("options.btc", T0, None)  # type: ignore[arg-type]
    store.set_snapshot("options.btc", snap)
    store.enter_replay(T0 + 5 * MS_PER_HOUR)
    assert store.snapshot("options.btc") is None  # not read as of t yet
    store.set_replay_snapshots(T0 + 5 * MS_PER_HOUR, {"options.btc": snap})
    assert store.snapshot("options.btc") is snap

    newer = hourly_bars(30)
    newer_snap = Snapshot("options.btc", T0 + 26 * MS_PER_HOUR, None)  # type: ignore[arg-type]
    seen: list[str] = []
    store.seriesChanged.connect(seen.append)
    store.snapshotChanged.connect(seen.append)
    store.set_series(BTC_1H, newer, 23)
    store.set_snapshot("options.btc", newer_snap)
    assert seen == [] and len(store.series(BTC_1H)) == 5
    assert len(store.live_series(BTC_1H)) == 24 and store.snapshot("options.btc") is snap
    assert set(store.held_ids()) == {BTC_1H, "options.btc"}

    store.leave_replay()
    assert not store.replaying and store.series(BTC_1H) is newer
    assert store.snapshot("options.btc") is newer_snap
    assert BTC_1H in seen and "options.btc" in seen and store.held_ids() == []


@pytest.fixture
def slow_probe(monkeypatch):
    """A stand-in analysis that takes a while and records how many of its runs overlap."""
    state = {"running": 0, "most": 0, "runs": 0}
    lock = threading.Lock()

    def run(loader):
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
            state["runs"] += 1
        time.sleep(0.03)  # a worker thread: the analysis' own cost
        data = loader.read(OKX)
        with lock:
            state["running"] -= 1
        return int(data.time[-1]) if len(data) else None

    monkeypatch.setitem(ANALYSES, "probe", Analysis("probe", lambda: (OKX,), run))
    return state


def test_feeds_in_replay_run_as_of_t_one_run_at_a_time_and_the_latest_t_wins(
        qtbot, settings, slow_probe):
    store = DataStore()
    scheduler = Scheduler()
    feeds = DerivedFeeds(store, scheduler, settings, held=False)
    got: list[int | None] = []
    feeds.subscribe("probe", got.append)
    store.set_series(OKX, settlements(48))
    qtbot.waitUntil(lambda: bool(got) and got[-1] == T0 + 48 * MS_PER_HOUR, timeout=5000)

    store.enter_replay(T0 + 2 * MS_PER_HOUR)
    for hour in range(3, 40):  # 37 steps, far faster than one run
        store.set_replay_time(T0 + hour * MS_PER_HOUR + 1)
        qtbot.wait(2)
    qtbot.waitUntil(feeds.settled, timeout=10000)
    assert got[-1] == T0 + 39 * MS_PER_HOUR  # the settlement known at the last step
    assert slow_probe["most"] == 1
    assert slow_probe["runs"] < 20  # steps that came while a run was out were coalesced

    store.leave_replay()
    qtbot.waitUntil(lambda: got[-1] == T0 + 48 * MS_PER_HOUR and feeds.settled(), timeout=5000)
    scheduler.shutdown()


def test_regime_changes_become_events_at_the_close_that_showed_them():
    periods = [(T0, T0 + 3 * MS_PER_HOUR, 1), (T0 + 10 * MS_PER_HOUR, T0 + 12 * MS_PER_HOUR, -1)]
    events = regime_events("btc", periods)
    assert events == [(T0 + MS_PER_HOUR, "BTC short squeeze begins"),
                      (T0 + 3 * MS_PER_HOUR, "BTC short squeeze ends"),
                      (T0 + 11 * MS_PER_HOUR, "BTC long flush begins"),
                      (T0 + 12 * MS_PER_HOUR, "BTC long flush ends")]
    assert next_event(events, T0 + 3 * MS_PER_HOUR, +1) == events[2]
    assert next_event(events, T0 + 3 * MS_PER_HOUR, -1) == events[0]
    assert next_event(events, T0 + 12 * MS_PER_HOUR, +1) is None
    assert next_event(events, T0, -1) is None


def test_the_span_is_the_hourly_data_and_the_label_names_the_moment():
    daily = SeriesData(np.array([T0 - 400 * 24 * MS_PER_HOUR, T0], dtype=np.int64),
                       {"close": np.ones(2)})
    span = data_span({BTC_1H: hourly_bars(24), price_id("btc", "1d"): daily})
    # from the first hourly bar's close to the last daily bar's close (a day after its open)
    assert span == (T0 + MS_PER_HOUR, T0 + 24 * MS_PER_HOUR)
    assert data_span({}) is None
    assert replay_label(T0 + 20 * MS_PER_HOUR) == "REPLAY 2026-02-05 20:00 UTC"


def test_replay_at_reads_iso_times_as_utc_unless_zoned():
    import argparse

    from main import build_parser, replay_time

    assert replay_time("2026-02-05T20:00") == T0 + 20 * MS_PER_HOUR
    assert replay_time("2026-02-05 20:00Z") == T0 + 20 * MS_PER_HOUR
    assert replay_time("2026-02-05T21:00+01:00") == T0 + 20 * MS_PER_HOUR
    with pytest.raises(argparse.ArgumentTypeError, match="not an ISO time"):
        replay_time("yesterday")
    args = build_parser().parse_args(["--demo", "--replay-at", "2026-02-06T16:00"])
    assert args.replay_at == T0 + 40 * MS_PER_HOUR


def test_rotation_is_remembered_only_while_what_it_reads_is_unchanged(qtbot, tmp_path):
    """The replay memo keys rotation by the daily sessions known (ui/derived_feeds.py): two
    moments with the same key must give the same analysis, computed independently as of each."""
    from models.analyses import analyse_rotation, rotation_inputs
    from models.asof import AsOfLoader
    from services.cache import Cache
    from services.demo import load_demo
    from ui.derived_feeds import StoreLoader, replay_fingerprint

    demo = load_demo()
    inputs = frozenset(rotation_inputs())
    series = {i: demo.series[i] for i in inputs if i in demo.series}
    store = DataStore()
    for series_id, data in series.items():
        store.set_series(series_id, data)
    loader = StoreLoader(series, {}, Cache(tmp_path / "c.sqlite"))
    store.enter_replay(T0)
    keys = {}
    for hour in range(0, 48, 3):
        store.set_replay_time(T0 + hour * MS_PER_HOUR)
        keys[hour] = replay_fingerprint(store, "rotation", inputs)
    hours = sorted(keys)
    same = [(a, b) for a, b in itertools.pairwise(hours) if keys[a] == keys[b]]
    differ = [(a, b) for a, b in itertools.pairwise(hours) if keys[a] != keys[b]]
    assert same and differ  # the key moves with the sessions, not with every hour
    for a, b in same[:3]:
        first = analyse_rotation(AsOfLoader(loader, T0 + a * MS_PER_HOUR))
        second = analyse_rotation(AsOfLoader(loader, T0 + b * MS_PER_HOUR))
        assert first.same_as(second)
        assert first.latest_corr == pytest.approx(second.latest_corr)
