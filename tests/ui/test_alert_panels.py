"""The alert docks without a window: the rule editor (validated as typed, the form and the JSON
kept in step, Save refused with the reason), the enable ticks, the firing tables and their jump,
and the jump itself (the time cursor and every linked time chart centred on the moment)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.alerts import Firing, RuleBook, rule_from_json
from models.series import SeriesData
from ui.derived_feeds import DerivedFeeds
from ui.panels.base import UiContext
from ui.scheduler import Scheduler
from ui.store import DataStore
from ui.time_link import TimeLink

H = 3_600_000
T0 = 1_770_336_000_000  # 2026-02-06 00:00 UTC


def rule_json(**over):
    base = {"id": "btc70", "name": "BTC above 70k",
            "when": {"type": "cross_above", "operand": {"series": "btc.1h", "column": "close"},
                     "value": 70000}}
    return {**base, **over}


@pytest.fixture
def ctx(settings):
    from ui.alerts import AlertEngine

    store = DataStore()
    scheduler = Scheduler()
    feeds = DerivedFeeds(store, scheduler, settings, held=False)
    time_link = TimeLink(settings)
    book = RuleBook([rule_from_json(rule_json())])
    engine = AlertEngine(book, store, feeds, scheduler, time_link)
    yield UiContext(store, scheduler, settings, feeds, time_link, alerts=engine)
    engine.close()


def firing(rule_id="btc70", fired=T0 + 5 * H, since=T0 + 3 * H, noticed=None, name=None):
    return Firing(rule_id, name or rule_id, since, fired, noticed, f"{rule_id} fired",
                  {"btc.1h:close": 70_250.0}, "btc")


def test_the_editor_checks_as_typed_and_save_says_why_it_is_refused(make_panel, ctx):
    from ui.panels.alert_rules import AlertRulesPanel

    panel = make_panel(AlertRulesPanel, 700, 600)
    assert panel.rules()[0].id == "btc70" and not panel.save_button.isEnabled()
    text = panel.editor.toPlainText()

    def with_value(value):
        obj = json.loads(text)
        obj["when"]["value"] = value
        return json.dumps(obj, indent=2)

    panel.editor.setPlainText(text.replace('"enabled": true', '"enabled": true,,'))
    assert not panel.save_button.isEnabled()
    assert panel.problems.text().startswith("Cannot save: not valid JSON: line 5, column ")
    assert not panel.form.isEnabled()  # nothing to show until the JSON reads again
    panel.editor.setPlainText(with_value("lots"))
    assert not panel.save_button.isEnabled()
    assert "when.value: not a number: 'lots'" in panel.problems.text()
    assert "when.value" in panel.save_button.toolTip()
    assert ctx.alerts.book.get("btc70").when.value == 70000  # nothing saved meanwhile
    panel.editor.setPlainText(with_value(72500))
    assert panel.save_button.isEnabled() and panel.problems.text().startswith("Unsaved")
    assert panel.table.item(0, 0).text().endswith("•")  # the list shows the unsaved edit
    assert panel.save()
    assert ctx.alerts.book.get("btc70").when.value == 72500
    assert not panel.save_button.isEnabled() and not panel.table.item(0, 0).text().endswith("•")


def test_a_new_id_may_not_take_another_rules(make_panel, ctx):
    from ui.panels.alert_rules import AlertRulesPanel

    ctx.alerts.book.set_rule(rule_from_json(rule_json(id="other", name="Other")))
    panel = make_panel(AlertRulesPanel, 700, 600)
    panel.select("btc70")
    panel.editor.setPlainText(panel.editor.toPlainText().replace('"btc70"', '"other"'))
    assert not panel.save_button.isEnabled()
    assert "another rule has the id 'other'" in panel.problems.text()


def test_the_form_writes_the_json_and_shows_what_it_cannot_edit(make_panel, ctx):
    from ui.panels.alert_rules import AlertRulesPanel

    panel = make_panel(AlertRulesPanel, 700, 600)
    form = panel.form
    assert form.value.text() == "70000" and form.operand.ident.currentText() == "btc.1h"
    form.value.setText("abc")
    form.value.textEdited.emit("abc")
    assert json.loads(panel.editor.toPlainText())["when"]["value"] == "abc"
    assert "not a number" in panel.problems.text() and not panel.save_button.isEnabled()
    form.value.setText("68,000")
    form.value.textEdited.emit("68,000")
    form.cooldown.setText("4h")
    form.cooldown.textEdited.emit("4h")
    form.kind.setCurrentIndex(form.kind.findData("below"))
    written = json.loads(panel.editor.toPlainText())
    assert written["when"] == {"type": "below",
                               "operand": {"series": "btc.1h", "column": "close"},
                               "value": 68000}
    assert written["cooldown"] == "4h"
    assert panel.save()
    saved = ctx.alerts.book.get("btc70")
    assert (saved.when.direction, saved.when.value, saved.cooldown_ms) == ("below", 68000, 4 * H)
    # a condition the form does not show: the rest still edits, the condition is kept
    combined = rule_json(when={"any": [rule_json()["when"],
                                       {"type": "regime_entered", "asset": "btc",
                                        "regime": "short_squeeze"}]})
    panel.editor.setPlainText(json.dumps(combined))
    assert "edited in the JSON tab" in form.condition_note.text()
    assert "any of 2 conditions" in form.condition_note.text()
    assert not form.value.isVisibleTo(form)
    form.sound.setChecked(True)
    written = json.loads(panel.editor.toPlainText())
    assert written["delivery"]["sound"] is True and written["when"] == combined["when"]


def test_ticks_switch_rules_and_examples_arrive_switched_off(make_panel, ctx):
    from PySide6.QtCore import Qt

    from ui.panels.alert_rules import AlertRulesPanel

    panel = make_panel(AlertRulesPanel, 700, 600)
    panel.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    assert ctx.alerts.book.get("btc70").enabled is False
    assert ctx.alerts.enabled_rules() == []
    added = panel.add_rule(rule_from_json(rule_json()))  # same id as the one in the book
    assert (added.id, added.name, added.enabled) == ("btc70-2", "BTC above 70k (2)", False)
    assert [r.id for r in ctx.alerts.book.rules] == ["btc70", "btc70-2"]
    assert panel.table.rowCount() == 2 and panel._selected == "btc70-2"
    fresh = panel.new_rule()  # no BTC loaded: the thousand above 70,000
    assert (fresh.id, fresh.enabled, fresh.when.value) == ("rule", False, 71_000)
    closes = np.array([66_100.0, 66_800.0])
    ctx.store.set_series("btc.1h", SeriesData(T0 + H * np.arange(2), {"close": closes}))
    fresh = panel.new_rule()  # the round thousand above the last close
    assert (fresh.id, fresh.name, fresh.when.value) == ("rule-2", "BTC crosses above 67,000",
                                                        67_000)


def test_firing_tables_jump_to_when_it_became_true_or_when_it_fired(qtbot):
    from ui.alert_table import FiringTable

    jumps = []
    table = FiringTable(("true_since", "fired", "noticed", "rule", "summary"), jumps.append)
    qtbot.addWidget(table)
    table.set_firings([firing(), firing("eth", fired=T0 + 9 * H, since=T0 + 9 * H,
                                        noticed=T0 + 9 * H + 42_000)])
    assert [table.item(r, 1).text() for r in range(2)] == ["2026-02-06 05:00",
                                                           "2026-02-06 09:00"]
    assert table.item(0, 2).text() == "back-test" and table.item(1, 2).text() == \
        "2026-02-06 09:00"
    assert "btc.1h:close = 70,250" in table.item(0, 4).toolTip()
    table.cellClicked.emit(0, 0)
    table.cellClicked.emit(0, 4)
    assert jumps == [T0 + 3 * H, T0 + 5 * H]


def test_the_log_lists_firings_newest_first_once_each(make_panel, ctx):
    from ui.panels.alert_log import AlertLogPanel

    panel = make_panel(AlertLogPanel, 700, 600)
    assert panel.table.rowCount() == 0 and "1 rule on watch" in panel.summary.text()
    events = []
    ctx.alerts.eventsChanged.connect(events.append)
    ctx.alerts._merge([firing(fired=T0 + 5 * H), firing("eth", fired=T0 + 9 * H)])
    ctx.alerts._merge([firing(fired=T0 + 5 * H)])  # logged again: the same firing
    panel.refill()
    assert [panel.table.item(r, 3).text() for r in range(2)] == ["eth", "btc70"]
    assert events[-1] == [(T0 + 5 * H, "btc70"), (T0 + 9 * H, "eth")]
    ctx.alerts.set_backtest(["btc70"], [firing(fired=T0 + 2 * H)])
    assert ctx.alerts.firing_times()[0] == (T0 + 2 * H, "btc70 (back-test)")


def test_jump_moves_the_cursor_and_centres_every_linked_chart(qtbot, settings):
    import pyqtgraph as pg

    link = TimeLink(settings)
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    first, second = widget.addPlot(), widget.addPlot(row=1, col=0)
    first.setXRange(0, 1000, padding=0)
    second.setXRange(0, 400, padding=0)
    link.attach_range("a", first)
    link.attach_range("b", second)
    moved = []
    link.cursorMoved.connect(moved.append)
    link.jump_to(5000.0)
    assert moved == [5000.0]
    for plot in (first, second):  # linked: both show the first chart's width around it
        assert plot.vb.viewRange()[0] == pytest.approx([4500.0, 5500.0])
    link.set_linked(False)
    second.setXRange(0, 400, padding=0)
    link.jump_to(100.0)
    assert first.vb.viewRange()[0] == pytest.approx([-400.0, 600.0])
    assert second.vb.viewRange()[0] == pytest.approx([-100.0, 300.0])  # its own width
