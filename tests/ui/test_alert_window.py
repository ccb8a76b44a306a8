"""Alerts in the demo window (two window tests): the shipped squeeze rule back-tested from the
rule editor onto the price chart, a click showing its moment, the rules kept in the workspace;
and a live firing delivered to the status bar (no tray offscreen) and the alert log dock."""

from __future__ import annotations

import numpy as np
import pytest

from models.alerts import rule_from_json, rules_file_to_json
from models.series import SeriesData
from services.demo import DEMO_NOW_MS

H = 3_600_000


def close_when_known(data: SeriesData, t_ms: int) -> float:
    """The close of the last hourly bar that had closed by t (opened at or before t − 1 h)."""
    i = int(np.searchsorted(data.time, t_ms - H, side="right")) - 1
    return float(data["close"][i])


REPLAY_MS = 1_770_321_600_000  # 2026-02-05 20:00 UTC


def test_the_shipped_squeeze_rule_back_tests_onto_the_price_chart(demo_window, qtbot):
    window = demo_window
    titles = [a.text() for a in window.view_menu.actions()]
    assert "Alert rules" in titles and "Alert log" in titles
    rules = window.panels["alert_rules"]
    qtbot.waitUntil(lambda: bool(rules._examples), timeout=10000)
    squeeze = next(r for r in rules._examples if r.id == "btc-short-squeeze")
    rules.add_rule(squeeze)
    events = []
    window.alerts.eventsChanged.connect(events.append)
    qtbot.waitUntil(lambda: window.scheduler.services is not None, timeout=10000)
    rules.run_backtest()
    qtbot.waitUntil(lambda: rules.backtest_table.rowCount() > 0, timeout=30000)
    firings = rules.backtest_table.firings()
    # the demo's quiet month stays quiet; the 6 Feb rebound fires (models test: A's)
    days = {np.datetime64(f.fired_ms, "ms").astype("datetime64[D]") for f in firings}
    assert days == {np.datetime64("2026-02-06")}
    assert events[-1] == [(f.fired_ms, "BTC short squeeze (back-test)") for f in firings]
    # replay steps to them ("next event")
    assert set(events[-1]) <= set(window.replay.events())
    # a star on the BTC chart at each firing, on the close known then
    prices = window.panels["prices"]
    qtbot.waitUntil(lambda: "btc" in prices._alert_marks and
                    len(prices._alert_marks["btc"].getData()[0]) == len(firings), timeout=5000)
    xs, ys = prices._alert_marks["btc"].getData()
    btc = window.store.series("btc.1h")
    assert list(xs) == [f.fired_ms / 1000 for f in firings]
    assert list(ys) == [close_when_known(btc, f.fired_ms) for f in firings]
    # a click on the row: the cursor at the moment, the price chart centred on it
    rules.backtest_table.cellClicked.emit(0, 1)
    moment = firings[0].fired_ms / 1000
    assert window.time_link.cursor == moment
    x0, x1 = prices._plots["btc"].vb.viewRange()[0]
    assert (x0 + x1) / 2 == pytest.approx(moment, abs=1.0)
    # or on its star
    window.time_link.leave()
    marks = prices._alert_marks["btc"]
    marks.sigClicked.emit(marks, marks.points()[:1], None)
    assert window.time_link.cursor == moment
    rules.clear_button.click()
    assert "btc" not in prices._alert_marks and window.alerts.firing_times() == []
    # the rules are the workspace's section "alerts"
    sections = window.workspaces.capture().sections
    assert sections["alerts"] == rules_file_to_json(window.alert_rules.rules)
    assert "btc-short-squeeze" in [r["id"] for r in sections["alerts"]["rules"]]


def test_a_live_firing_reaches_the_status_bar_and_the_alert_log(demo_window, qtbot, data_dir):
    from services.alert_log import AlertLog

    window = demo_window
    qtbot.waitUntil(lambda: window.alerts.service is not None, timeout=10000)
    btc = window.store.series("btc.1h")
    last = float(btc["close"][-1])
    level = round(last * 1.02)
    window.alert_rules.set_rule(rule_from_json({
        "id": "pop", "name": "BTC pops 2 %",
        "when": {"type": "cross_above", "operand": {"series": "btc.1h", "column": "close"},
                 "value": level}}))
    log_dock = window.panels["alert_log"]
    qtbot.waitUntil(lambda: window.alerts.service.stats["evaluated"] >= 1, timeout=10000)
    assert window.alerts.firings() == []  # the history is no news
    # two hours pass in the demo; its next bar (opened at its "now", known an hour later)
    # closes above the level
    # closes above the level, while the trader replays 5 Feb: alerts still follow live data
    assert window.replay.enter(REPLAY_MS)
    window.scheduler.services.now_ms_override = DEMO_NOW_MS + 2 * H
    bar = SeriesData(np.array([DEMO_NOW_MS], dtype=np.int64),
                     {c: np.array([level * 1.01]) for c in btc.columns})
    window.store.set_series("btc.1h", btc.merge_with_tail(bar)[0])
    qtbot.waitUntil(lambda: log_dock.table.rowCount() == 1, timeout=15000)
    assert window.store.series("btc.1h").last_ms < REPLAY_MS  # the docks still show 5 Feb
    assert (DEMO_NOW_MS + H, "BTC pops 2 %") in window.replay.events()
    window.replay.leave()
    firing = window.alerts.firings()[0]
    assert (firing.rule_id, firing.true_since_ms, firing.fired_ms) == ("pop", DEMO_NOW_MS + H,
                                                                       DEMO_NOW_MS + H)
    assert firing.noticed_ms == DEMO_NOW_MS + 2 * H
    assert "Rotor alert: BTC pops 2 %" in window.status.currentMessage()
    assert log_dock.table.item(0, 3).text() == "BTC pops 2 %"
    log_dock.table.cellClicked.emit(0, 0)
    assert window.time_link.cursor == firing.true_since_ms / 1000
    assert window.alerts.service.wait_idle(5)
    logged = AlertLog(data_dir / "alerts-demo.sqlite").recent()
    assert [(f.rule_id, f.fired_ms) for f in logged] == [("pop", DEMO_NOW_MS + H)]
