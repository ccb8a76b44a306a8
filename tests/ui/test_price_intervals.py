"""The price dock's seven intervals (ui/price_intervals.py): the box offers them, the shown
interval's series are read and watched while shown, and what is drawn is the stored bars."""

from __future__ import annotations

import numpy as np

from models.catalog import PRICE_INTERVALS
from ui.price_intervals import IntervalWatch, interval_tip


class FakeScheduler:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def watch_more(self, ids):
        self.calls.append(("watch", list(ids)))

    def unwatch(self, ids):
        self.calls.append(("unwatch", list(ids)))


def test_only_the_shown_series_beyond_1h_and_1d_are_watched_and_then_let_go():
    sched = FakeScheduler()
    watch = IntervalWatch(sched, ["btc.1h", "spx.1h"])
    assert watch.watched == frozenset()
    watch.follow(["btc.1m", "spx.1m"])
    assert sched.calls == [("watch", ["btc.1m", "spx.1m"])]
    watch.follow(["btc.1m"])  # S&P hidden
    watch.follow(["btc.1d"])
    assert sched.calls[1:] == [("unwatch", ["spx.1m"]), ("unwatch", ["btc.1m"])]
    assert watch.watched == frozenset()


def test_tips_say_which_bars_are_built_and_from_what():
    tip = interval_tip("4h", ["btc", "spx", "ndx"])
    assert "S&P 500, Nasdaq 100: Yahoo Finance serves no 4h bars: built from the 1h bars" in tip
    assert "BTC" not in tip  # Binance serves 4h bars
    assert "Monday 00:00 UTC" in interval_tip("1w", ["btc"])


def test_the_dock_offers_every_interval_and_draws_the_minutes_while_shown(make_window, qtbot):
    window = make_window(demo=True)
    window.resize(1366, 768)
    window.show()
    qtbot.waitUntil(lambda: "prices" in window.panels and window.panels["prices"].has_data(),
                    timeout=60000)
    panel = window.panels["prices"]
    box = panel.interval_box
    assert [box.itemText(i) for i in range(box.count())] == list(PRICE_INTERVALS)
    cache = window.scheduler.services.cache
    watched = window.scheduler.tracker.watched
    assert "btc.1m" not in watched

    box.setCurrentText("1m")
    qtbot.waitUntil(lambda: "btc.1m" in panel._prepared, timeout=20000)
    drawn = panel._prepared["btc.1m"].source
    assert np.array_equal(drawn.time, cache.read("btc.1m").time)
    assert np.array_equal(drawn["close"], cache.read("btc.1m")["close"])
    assert "btc.1m" in window.scheduler.tracker.watched
    assert panel.shown_series() == [f"{s}.1m" for s in panel.visible]

    box.setCurrentText("1w")
    qtbot.waitUntil(lambda: "btc.1w" in panel._prepared, timeout=20000)
    assert "btc.1m" not in window.scheduler.tracker.watched
    weeks = panel._prepared["btc.1w"].source
    assert np.array_equal(weeks["high"], cache.read("btc.1w")["high"])
    # weeks sit at 00:00 UTC of their first trading date, as days do: one x, one date
    assert panel._prepared["spx.1w"].by_date
    panel._update_readout(float(panel._prepared["spx.1w"].t_raw[-1]))  # the cursor on it
    assert "week of 2026-02-02" in panel.readout.text()
    # the compare view draws the same weekly bars, rebased, and the window keeps them watched
    panel.mode_buttons["compare"].click()
    assert set(panel._curves) == set(panel.visible)
    assert window.watched_series()[-len(panel.visible):] == panel.shown_series()


def test_a_workspace_opened_at_start_on_1m_reads_and_watches_the_minutes(make_window, qtbot,
                                                                         tmp_path):
    """The workspace is read on a worker and applied after the scheduler started: the dock it
    rebuilds on 1m must ask for the minutes itself (they were not among the start's series)."""
    import json

    folder = tmp_path / "workspaces"
    folder.mkdir()
    (folder / "minutes.json").write_text(json.dumps({
        "format": "rotor-workspace", "version": 1, "name": "Minutes",
        "layout": {"groups": [{"area": "left", "tabs": ["prices"], "size": 1}]},
        "docks": {"prices": {"interval": "1m", "range_key": "1W", "mode": "stacked",
                             "style": "line", "assets": ["btc"]}},
        "sections": {}}), encoding="utf-8")
    window = make_window(demo=True, workspace="Minutes", workspace_dir=folder)
    window.resize(1366, 768)
    window.show()
    qtbot.waitUntil(lambda: window.workspaces.is_started, timeout=20000)
    qtbot.waitUntil(lambda: "btc.1m" in window.panels["prices"]._prepared, timeout=30000)
    assert window.panels["prices"].interval == "1m"
    assert "btc.1m" in window.scheduler.tracker.watched
