"""Replay in the demo window: every dock as of t, equal to what only the data known at t gives;
live publications wait; leaving shows live again (docs/replay.md)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from models.analyses import chain_analysis
from models.catalog import FUNDING_VENUES
from models.ids import funding_now_id, options_id, price_id
from models.series import MS_PER_HOUR, SeriesData

T = 1_770_321_600_000  # 2026-02-05 20:00 UTC
BTC_1H = price_id("btc", "1h")


def _snapshot_known_at(cache, series_id: str, t_ms: int):
    """Independently of the window: the snapshot stamped last at or before t, in the revision
    recorded by t (the demo's 5 Feb 19:59 BTC chain was corrected at 23:00: docs/replay.md)."""
    times = np.asarray(cache.snapshot_times(series_id), dtype=np.int64)
    times = times[times <= t_ms]
    if not len(times):
        return None
    known = [s for s in cache.snapshot_revisions(series_id, int(times.max()))
             if s.recorded_ms <= t_ms]
    return known[-1] if known else cache.snapshot_revisions(series_id, int(times.max()))[0]


def _settled(window, qtbot) -> None:
    qtbot.waitUntil(lambda: window.panels_have_data() and window.feeds.settled(),
                    timeout=30000)


def _replay_settled(window, qtbot) -> None:
    qtbot.waitUntil(window.replay.settled, timeout=30000)


def test_replay_at_t_shows_the_funding_table_and_gamma_levels_known_then(demo_window, qtbot):
    window = demo_window
    _settled(window, qtbot)
    live_chain = window.panels["options"].view
    assert window.replay.enter(T)
    _replay_settled(window, qtbot)
    cache = window.scheduler.services.cache

    # the funding "now" table: each venue's snapshot at or before t, nothing later
    funding = window.panels["funding"]
    expected = {}
    for venue in FUNDING_VENUES:
        snap = _snapshot_known_at(cache, funding_now_id(venue, "btc"), T)
        if snap is not None and not snap.frame.empty:
            expected[venue] = float(snap.frame.iloc[0]["rate"])
    assert {v: row["rate"] for v, row in funding.result.now.items()} == pytest.approx(expected)
    assert funding.table.rowCount() == len(expected)
    assert funding.result.as_of_ms <= T  # settlements: known at their stamp

    # gamma levels: from the chain snapshot at or before t, in the options dock and on the
    # price chart, not the live one
    snap = _snapshot_known_at(cache, options_id("btc"), T)
    assert snap is not None and snap.time_ms < live_chain.time_ms
    by_hand = chain_analysis("btc", snap)
    corrected = cache.snapshot_at(options_id("btc"), snap.time_ms)  # recorded after t
    assert corrected.recorded_ms > T and chain_analysis("btc", corrected).flip != by_hand.flip
    # the options dock shares the chain feed with the price chart; behind its tab it draws
    # when it comes forward
    window.docks["options"].raise_()
    options = window.panels["options"]
    qtbot.waitUntil(lambda: options.view is not None and options.view.time_ms == snap.time_ms,
                    timeout=15000)
    shown = options.view
    assert (shown.flip, shown.call_wall, shown.put_wall) == pytest.approx(
        (by_hand.flip, by_hand.call_wall, by_hand.put_wall))
    prices = window.panels["prices"]
    assert [lv.price for lv in prices._chain.levels()] == pytest.approx(
        [lv.price for lv in by_hand.levels()])

    # price and the hourly docks: the last bar is the one closed by t
    assert prices._prepared[BTC_1H].t_raw[-1] * 1000 == T - MS_PER_HOUR
    # a dock behind a tab waits in replay, and catches up when it comes forward
    squeeze = window.panels["squeeze"]
    window.docks["squeeze"].raise_()
    qtbot.waitUntil(lambda: squeeze.result is not None
                    and squeeze.result.hours[-1] == T - MS_PER_HOUR, timeout=15000)
    assert window.replay.bar.time_label.text() == "REPLAY 2026-02-05 20:00 UTC"
    # the price chart kept its span, its right edge at t
    x0, x1 = prices.crosshair.plots[0].vb.viewRange()[0]
    assert x0 < T / 1000 < x1 and x1 - T / 1000 < 0.05 * (x1 - x0)


def test_a_live_update_during_replay_waits_and_leaving_shows_live_again(demo_window, qtbot):
    window = demo_window
    _settled(window, qtbot)
    prices = window.panels["prices"]
    plot = prices.crosshair.plots[0]
    range_before = plot.vb.viewRange()[0]
    live = window.store.series(BTC_1H)

    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.replay.active and window.replay.bar.isVisible()
    t0 = window.replay.t_ms
    assert t0 < live.time[-1]
    _replay_settled(window, qtbot)

    # a refresh publishes a new bar: kept aside, not drawn
    newer = live.merge(SeriesData(np.array([live.time[-1] + MS_PER_HOUR]),
                                  {k: np.array([v[-1] * 1.01]) for k, v in live.columns.items()}))
    window.scheduler.seriesUpdated.emit(BTC_1H, newer, len(live) - 1)
    qtbot.wait(50)
    assert window.store.series(BTC_1H).time[-1] <= t0 - MS_PER_HOUR
    assert prices._prepared[BTC_1H].t_raw[-1] * 1000 <= t0 - MS_PER_HOUR

    # "]": the next regime change of the squeeze analysis (the demo's 6 Feb squeeze)
    events = window.replay.events()
    assert any("squeeze" in label for _ms, label in events)
    QTest.keyClick(window, Qt.Key.Key_BracketRight)
    after = [ms for ms, _label in events if ms > t0]
    assert window.replay.t_ms == (after[0] if after else t0)
    _replay_settled(window, qtbot)

    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert not window.replay.active and not window.replay.bar.isVisible()
    assert window.store.series(BTC_1H) is newer
    qtbot.waitUntil(lambda: prices._prepared[BTC_1H].t_raw[-1] * 1000 == newer.time[-1],
                    timeout=5000)
    assert plot.vb.viewRange()[0] == pytest.approx(range_before)
    _settled(window, qtbot)
    assert window.panels["options"].view.time_ms == window.store.snapshot(
        options_id("btc")).time_ms  # the live chain again
