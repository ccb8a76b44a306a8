"""Drawings on the price charts (issue #14, item 2): placed with the tool, they stay at the same
data coordinates through an interval change and a log toggle; they move in data coordinates
when dragged in log scale; Delete, undo and redo; compare view hides them; the drawings dock
lists them; the file keeps them and takes over the old BTC levels.

Where an item is drawn is read back from the scene and mapped to data coordinates through
pyqtgraph's own view mapping (and the test's own log10), not through the item's conversion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from models.drawings import BOX, LEVEL, NOTE, RAY, TREND, DrawingBook, make_drawing
from tests.ui.prices_helpers import candles, shown_prices_panel


@pytest.fixture
def window(laptop_window):
    window = laptop_window
    prices = window.panels["prices"]
    for stem in [s for s in prices.visible if s != "btc"]:  # BTC alone: a tall plot to draw on
        prices.asset_boxes[stem].setChecked(False)
    return window


def _press(window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window, key, modifier)
    QApplication.processEvents()


def _view_y(prices, price: float) -> float:
    return math.log10(price) if prices.log_scale else price


def _widget_point(prices, plot, x: float, price: float) -> QPoint:
    """Where (time, price) is on the chart widget, by pyqtgraph's mapping."""
    scene = plot.vb.mapViewToScene(QPointF(x, _view_y(prices, price)))
    return prices.chart.mapFromScene(scene)


def _drawn_at(prices, plot, item) -> list[tuple[float, float]]:
    """The item's point handles as drawn, read back as (time, price) from the scene."""
    out = []
    for pixel in item.pixel_points():
        view = plot.vb.mapSceneToView(item.mapToScene(pixel))
        out.append((view.x(), 10 ** view.y() if prices.log_scale else view.y()))
    return out


def _click(prices, point: QPoint, qtbot) -> None:
    viewport = prices.chart.viewport()
    QTest.mouseMove(viewport, point)
    qtbot.wait(20)
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    qtbot.wait(20)


def _drag(prices, start: QPoint, end: QPoint, qtbot, escape_window=None) -> None:
    viewport = prices.chart.viewport()
    QTest.mouseMove(viewport, start)
    qtbot.wait(20)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 11):
        QTest.mouseMove(viewport, start + (end - start) * (i / 10))
        qtbot.wait(5)
        if escape_window is not None and i == 6:
            _press(escape_window, Qt.Key.Key_Escape)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    qtbot.wait(30)


def _draw_trend(window, qtbot):
    """A trend line placed with the tool: two clicks on the BTC plot, a third and a half of
    the way across, at 40 % and 70 % of its height."""
    prices = window.panels["prices"]
    plot = prices._plots["btc"]
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    targets = [(x0 + (x1 - x0) / 3, y0 + 0.4 * (y1 - y0)), (x0 + (x1 - x0) / 2,
                                                           y0 + 0.7 * (y1 - y0))]
    prices.draw_actions[TREND].trigger()
    assert prices.drawing_layer.tool == TREND and prices.draw_button.text() == "Draw: trend line"
    for x, y in targets:
        _click(prices, prices.chart.mapFromScene(plot.vb.mapViewToScene(QPointF(x, y))), qtbot)
    assert prices.drawing_layer.tool == ""  # the tool is put away once the line is placed
    [drawing] = list(window.drawings)
    assert drawing.kind == TREND and drawing.asset == "btc"
    # placed where clicked (a pixel is ~1/600 of the span)
    for (x, price), (tx, ty) in zip(drawing.points, targets, strict=True):
        assert x == pytest.approx(tx, abs=(x1 - x0) / 300)
        assert price == pytest.approx(ty, abs=(y1 - y0) / 150)
    assert window.drawings.selected == drawing.id
    return drawing


def test_a_trend_line_stays_at_its_data_coordinates_through_interval_and_log(window, qtbot):
    prices = window.panels["prices"]
    drawing = _draw_trend(window, qtbot)
    plot = prices._plots["btc"]
    x_span = np.diff(plot.vb.viewRange()[0])[0]

    def check() -> list[tuple[float, float]]:
        plot = prices._plots["btc"]
        item = prices.drawing_layer.items[drawing.id]
        assert item.plot is plot and item.scene() is plot.scene()
        drawn = _drawn_at(prices, plot, item)
        for (x, price), (dx, dprice) in zip(drawing.points, drawn, strict=True):
            assert dx == pytest.approx(x, abs=x_span / 2000)
            assert dprice == pytest.approx(price, rel=2e-3)
        return [(p.x(), p.y()) for p in map(item.mapToScene, item.pixel_points())]

    linear_1h = check()
    prices.interval_box.setCurrentText("1d")
    assert prices.interval == "1d"
    check()
    _press(window, Qt.Key.Key_L)
    assert prices.log_scale
    log_1d = check()
    # the same prices sit elsewhere on a log axis: the item really moved with the scale
    assert abs(log_1d[0][1] - linear_1h[0][1]) + abs(log_1d[1][1] - linear_1h[1][1]) > 2
    prices.interval_box.setCurrentText("1h")
    check()
    plot = prices._plots["btc"]
    x0, x1 = plot.vb.viewRange()[0]
    plot.setXRange(x0 - (x1 - x0) * 0.3, x1, padding=0)  # a zoom out
    check()
    _press(window, Qt.Key.Key_L)
    assert not prices.log_scale
    check()
    assert window.drawings.get(drawing.id) == drawing  # the book never changed

    # Compare view: rebased lines are not prices; the drawings are hidden, the tool row says so.
    _press(window, Qt.Key.Key_C)
    assert prices.mode == "compare"
    assert prices.drawing_layer.items == {}
    assert not prices.draw_button.isEnabled() and prices.drawings_note.isVisible()
    assert "compare" in prices.draw_button.toolTip()
    _press(window, Qt.Key.Key_C)
    assert list(prices.drawing_layer.items) == [drawing.id]
    assert not prices.drawings_note.isVisible()
    check()


def test_drag_in_log_scale_moves_in_data_coordinates_delete_undo_and_esc(window, qtbot):
    prices = window.panels["prices"]
    book = window.drawings
    drawing = _draw_trend(window, qtbot)
    _press(window, Qt.Key.Key_L)
    assert prices.log_scale
    plot = prices._plots["btc"]
    (a_x, a_p), (b_x, b_p) = drawing.points
    mid = ((a_x + b_x) / 2, 10 ** ((math.log10(a_p) + math.log10(b_p)) / 2))
    start = _widget_point(prices, plot, *mid)
    end = start + QPoint(0, -40)
    view_start = plot.vb.mapSceneToView(prices.chart.mapToScene(start))
    view_end = plot.vb.mapSceneToView(prices.chart.mapToScene(end))
    factor = 10 ** (view_end.y() - view_start.y())  # 40 px up on a log axis: one ratio
    _drag(prices, start, end, qtbot)
    moved = book.get(drawing.id)
    assert factor > 1.01
    assert moved.points[0][1] == pytest.approx(a_p * factor, rel=1e-3)
    assert moved.points[1][1] == pytest.approx(b_p * factor, rel=1e-3)
    assert moved.points[0][0] == pytest.approx(a_x) and moved.points[1][0] == pytest.approx(b_x)

    # A point's handle moves that point alone, to where the mouse let go.
    handle = _widget_point(prices, plot, *moved.points[1])
    target = handle + QPoint(-60, 30)
    _drag(prices, handle, target, qtbot)
    dropped = plot.vb.mapSceneToView(prices.chart.mapToScene(target))
    after = book.get(drawing.id)
    assert after.points[0] == moved.points[0]
    assert after.points[1][0] == pytest.approx(dropped.x(), rel=1e-6)
    assert after.points[1][1] == pytest.approx(10 ** dropped.y(), rel=1e-3)

    # Esc during a drag: the line goes back and nothing is recorded.
    steps = len(book._undo)
    _drag(prices, _widget_point(prices, plot, *after.points[0]),
          _widget_point(prices, plot, *after.points[0]) + QPoint(0, 50), qtbot,
          escape_window=window)
    assert book.get(drawing.id) == after and len(book._undo) == steps
    assert _drawn_at(prices, plot, prices.drawing_layer.items[drawing.id])[0][1] == \
        pytest.approx(after.points[0][1], rel=2e-3)

    # Delete removes the selected drawing; Ctrl+Z brings it back, Ctrl+Shift+Z deletes again.
    assert book.selected == drawing.id
    _press(window, Qt.Key.Key_Delete)
    assert book.get(drawing.id) is None and prices.drawing_layer.items == {}
    undo_action = window.shortcuts.actions["undoDrawing"]
    assert undo_action.text() == "Undo delete trend line" and undo_action.isEnabled()
    assert undo_action in window.edit_menu.actions()
    _press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert book.get(drawing.id) == after and drawing.id in prices.drawing_layer.items
    _press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
           | Qt.KeyboardModifier.ShiftModifier)
    assert book.get(drawing.id) is None
    _press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the handle drag
    assert book.get(drawing.id).points == moved.points

    # Esc while placing: the tool is put away, nothing is drawn.
    prices.draw_actions[BOX].trigger()
    _click(prices, _widget_point(prices, plot, *mid), qtbot)
    _press(window, Qt.Key.Key_Escape)
    assert prices.drawing_layer.tool == "" and len(book) == 1
    assert prices.draw_button.text() == "Draw"


# -- without a window ---------------------------------------------------------------------------
HOURS = 1_769_990_400_000 + np.arange(48) * 3_600_000


@pytest.fixture
def panel(qtbot, settings):
    p = shown_prices_panel(qtbot, settings, 900, 700)
    p.ctx.store.set_series("btc.1h", candles(HOURS, np.linspace(60_000, 70_000, 48)))
    yield p
    p.shutdown()


def test_each_assets_drawings_sit_on_its_own_plot_and_a_box_shows_its_numbers(panel):
    book = panel.ctx.drawings
    t0, t1 = HOURS[5] / 1e3, HOURS[29] / 1e3
    box = book.add(make_drawing("btc", BOX, [(t0, 60_000.0), (t1, 66_000.0)]))
    level = book.add(make_drawing("spx", LEVEL, [(t0, 6_000.0)]))
    note = book.add(make_drawing("btc", NOTE, [(t0, 64_000.0)], label="FOMC"))
    hidden = book.add(make_drawing("silver", LEVEL, [(t0, 30.0)]))  # silver is not shown
    items = panel.drawing_layer.items
    assert set(items) == {box.id, level.id, note.id}
    assert items[box.id].plot is panel._plots["btc"]
    assert items[level.id].plot is panel._plots["spx"]
    texts = [t for _r, t, _c, _p in items[box.id]._texts]
    assert "+10.00% (+6,000) · 1 d · 24 bars" in texts  # 24 hourly bars in a day
    assert [t for _r, t, _c, _p in items[note.id]._texts] == ["FOMC"]
    panel.asset_boxes["silver"].setChecked(True)
    assert items is not panel.drawing_layer.items and hidden.id in panel.drawing_layer.items
    panel.choose("interval", "1d")
    texts = [t for _r, t, _c, _p in panel.drawing_layer.items[box.id]._texts]
    assert "+10.00% (+6,000) · 1 d · 1 bar" in texts


def test_the_tool_places_each_kind_and_the_context_menu_edits(panel, monkeypatch):
    from ui import drawing_dialogs

    layer = panel.drawing_layer
    book = panel.ctx.drawings
    t0, t1 = HOURS[5] / 1e3, HOURS[20] / 1e3
    panel.draw_actions[LEVEL].trigger()
    level = layer.place("btc", (t0, 65_000.0))
    assert level.kind == LEVEL and level.points == ((t0, 65_000.0),) and layer.tool == ""
    panel.draw_actions[RAY].trigger()
    assert layer.place("btc", (t0, 61_000.0)) is None  # a first point: a preview follows
    assert layer._preview is not None and layer._preview.drawing.kind == RAY
    ray = layer.place("btc", (t1, 63_000.0))
    assert ray.points == ((t0, 61_000.0), (t1, 63_000.0)) and layer._preview is None
    monkeypatch.setattr(drawing_dialogs, "ask_text", lambda _p, _t, _q, _i: "CPI")
    panel.draw_actions[NOTE].trigger()
    note = layer.place("btc", (t1, 64_000.0))
    assert note.label == "CPI"
    monkeypatch.setattr(drawing_dialogs, "ask_text", lambda _p, _t, _q, _i: None)
    panel.draw_actions[NOTE].trigger()
    assert layer.place("btc", (t1, 64_000.0)) is None  # a note without text is no note
    assert [d.kind for d in book] == [LEVEL, RAY, NOTE] and book.selected == note.id

    # Right-click menu: colour, label, delete (the dialogs stand in for the user).
    monkeypatch.setattr(drawing_dialogs, "ask_color", lambda _p, _c: "#00ff00")
    monkeypatch.setattr(drawing_dialogs, "ask_text", lambda _p, _t, _q, _i: "trend support")
    menu = layer.edit_menu(ray.id)
    actions = {a.text(): a for a in menu.actions() if a.text()}
    actions["Colour…"].trigger()
    actions["Label…"].trigger()
    assert (book.get(ray.id).color, book.get(ray.id).label) == ("#00ff00", "trend support")
    item = layer.items[ray.id]
    assert item.drawing == book.get(ray.id)
    assert "trend support" in [t for _r, t, _c, _p in item._texts]
    actions["Delete"].trigger()
    assert book.get(ray.id) is None and ray.id not in layer.items
    menu.deleteLater()


def test_levels_closer_than_a_label_share_one_label(panel):
    book = panel.ctx.drawings
    t0 = HOURS[0] / 1e3
    low = book.add(make_drawing("btc", LEVEL, [(t0, 64_000.0)]))
    high = book.add(make_drawing("btc", LEVEL, [(t0, 64_100.0)]))
    plot = panel._plots["btc"]
    plot.disableAutoRange()
    plot.setYRange(60_000, 70_000, padding=0)
    assert 100 / 10_000 * plot.vb.height() < 16  # closer than a label's height

    def texts(drawing):
        return [t for _r, t, _c, _p in panel.drawing_layer.items[drawing.id]._texts]

    assert texts(high) == ["level 64,100 · level 64,000"] and texts(low) == []
    plot.setYRange(63_900, 64_200, padding=0)  # zoomed in: apart again
    assert texts(high) == ["level 64,100"] and texts(low) == ["level 64,000"]


def test_the_old_btc_levels_panel_api_adds_level_drawings(panel):
    panel._on_add_level()  # at the last BTC price, rounded to 1,000
    assert panel.ctx.drawings.levels("btc") == [70_000.0]
    [item] = panel.drawing_layer.items.values()
    assert [t for _r, t, _c, _p in item._texts] == ["level 70,000"]
    assert panel.ctx.drawings.can_undo


def test_the_drawings_dock_lists_selects_and_edits(qtbot, settings, monkeypatch):
    from ui import drawing_dialogs
    from ui.panels.base import UiContext
    from ui.panels.drawings import DrawingsPanel, price_text
    from ui.scheduler import Scheduler
    from ui.store import DataStore

    book = DrawingBook()
    ctx = UiContext(DataStore(), Scheduler(), settings, None, drawings=book)  # type: ignore
    dock = DrawingsPanel(ctx)
    qtbot.addWidget(dock)
    dock.show()
    assert dock.table.rowCount() == 0 and dock.empty.isVisible()
    t0 = HOURS[0] / 1e3
    trend = book.add(make_drawing("btc", TREND, [(t0, 60_000.0), (t0 + 7200, 61_250.0)]))
    level = book.add(make_drawing("gold", LEVEL, [(t0, 2_000.5)], label="pivot"))
    qtbot.waitUntil(lambda: dock.table.rowCount() == 2)
    rows = [[dock.table.item(r, c).text() for c in range(4)] for r in range(2)]
    assert rows[0][:3] == ["BTC", "trend line", ""]
    assert rows[0][3] == "60k 2026-02-02 00:00 → 61.25k 2026-02-02 02:00"
    assert rows[1] == ["Gold", "level", "pivot", "2,000.5"]
    assert [price_text(p) for p in (67_250.0, 79_722.97, 2_000.5, 0.012345)] == [
        "67.25k", "79.723k", "2,000.5", "0.012345"]
    dock.table.selectRow(1)
    assert book.selected == level.id
    book.select(trend.id)
    assert {i.row() for i in dock.table.selectedIndexes()} == {0}
    monkeypatch.setattr(drawing_dialogs, "ask_color", lambda _p, _c: "#ff8800")
    monkeypatch.setattr(drawing_dialogs, "ask_text", lambda _p, _t, _q, _i: "breakout")
    dock.buttons["color"].click()
    dock.buttons["label"].click()
    assert (book.get(trend.id).color, book.get(trend.id).label) == ("#ff8800", "breakout")
    dock.buttons["delete"].click()
    assert book.get(trend.id) is None
    dock.buttons["undo"].click()
    assert book.get(trend.id).label == "breakout"
    qtbot.waitUntil(lambda: dock.table.rowCount() == 2 and dock.table.item(0, 2) is not None
                    and dock.table.item(0, 2).text() == "breakout")
    assert dock.table.item(0, 1).foreground().color().name() == "#ff8800"
    dock.shutdown()


# -- kept in the workspace ---------------------------------------------------------------------
def _saved_drawings(window) -> list:
    workspaces = window.workspaces
    if workspaces.store.find(workspaces.current().name) is None:
        return []  # not written yet
    return workspaces.store.read(workspaces.current().name).sections.get("drawings", [])


def test_the_workspace_keeps_drawings_and_symbols_and_takes_over_the_old_btc_levels(
        make_window, qtbot, settings):
    """Save, restart, restore of the two sections with the real objects: the old BTC levels
    become level drawings, a drawing on a user symbol's chart comes back on it."""
    from models.symbols import register_user_symbols

    settings.setValue("levels/btc", ["67000.00", "70000.00"])
    window = make_window(demo=True)
    qtbot.waitUntil(lambda: window.workspaces.is_started, timeout=10000)
    assert window.drawings.levels("btc") == [67_000.0, 70_000.0]
    # The setting goes once the workspace file holds them, not before.
    qtbot.waitUntil(lambda: settings.value("levels/btc") is None, timeout=5000)
    assert [d["points"][0][1] for d in _saved_drawings(window)] == [67_000.0, 70_000.0]
    acme = window.symbols.make("yahoo", "ACME", "Acme Corp", "XNYS", currency="USD")
    window.symbols.add(acme)
    trend = window.drawings.add(make_drawing("acme", TREND, [(1e9, 40.0), (1.1e9, 45.0)],
                                             label="x"))
    window.close()  # the close writes what the section autosave has not yet
    register_user_symbols(())  # nothing left over from this window

    # The next start: the same symbols and drawings, the levels not doubled.
    again = make_window(demo=True)
    qtbot.waitUntil(lambda: again.workspaces.is_started, timeout=10000)
    assert again.symbols.to_json() == [acme.to_json()]
    assert again.drawings.to_json() == window.drawings.to_json()
    assert trend.to_json() in again.drawings.to_json()
    assert again.drawings.levels("btc") == [67_000.0, 70_000.0]
    prices = again.panels["prices"]
    qtbot.waitUntil(lambda: "acme" in prices.asset_boxes, timeout=5000)
    register_user_symbols(())
