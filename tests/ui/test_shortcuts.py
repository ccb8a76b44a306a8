"""The keyboard (issue 13, ui/shortcuts.py): keys pressed on the demo window with QTest.keyClick,
and their effects."""

from __future__ import annotations

import threading

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QCursor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from ui import export_actions
from ui.shortcuts import SHORTCUTS, ShortcutsDialog


@pytest.fixture
def window(laptop_window):
    return laptop_window


def _press(window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window, key, modifier)
    QApplication.processEvents()


def _span_days(plot: pg.PlotItem) -> float:
    x0, x1 = plot.vb.viewRange()[0]
    return (x1 - x0) / 86400


def _point(panel, plot, x: float, y: float) -> QPoint:
    return panel.chart.mapFromScene(plot.vb.mapViewToScene(QPointF(x, y)))


def test_keys_set_range_interval_log_compare_and_crosshair(window, qtbot, monkeypatch):
    prices = window.panels["prices"]
    assert prices.range_key == "1M" and prices.interval == "1h"
    _press(window, Qt.Key.Key_1)
    assert prices.range_key == "1W" and prices.range_buttons["1W"].isChecked()
    assert _span_days(prices.crosshair.plots[0]) == pytest.approx(7 * 1.02)
    _press(window, Qt.Key.Key_5)
    assert prices.range_key == "1Y"
    assert _span_days(prices.crosshair.plots[0]) == pytest.approx(365 * 1.02)
    _press(window, Qt.Key.Key_D)
    assert prices.interval == "1d" and prices.interval_box.currentText() == "1d"
    _press(window, Qt.Key.Key_H)
    assert prices.interval == "1h"
    _press(window, Qt.Key.Key_L)
    assert prices.log_scale and prices.log_box.isChecked()
    _press(window, Qt.Key.Key_L)
    assert not prices.log_scale
    _press(window, Qt.Key.Key_C)
    assert prices.mode == "compare" and prices.mode_buttons["compare"].isChecked()
    _press(window, Qt.Key.Key_C)
    assert prices.mode == "stacked"

    # X: no cursor in any dock while off (a mouse move over the chart draws nothing).
    _press(window, Qt.Key.Key_X)
    assert not window.time_link.cursor_enabled
    assert window.settings.value("view/crosshair") in (False, "false")
    plot = prices.crosshair.plots[0]
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    QTest.mouseMove(prices.chart.viewport(), _point(prices, plot, (x0 + x1) / 2, (y0 + y1) / 2))
    qtbot.wait(100)
    assert prices.crosshair.x is None and window.time_link.cursor is None
    _press(window, Qt.Key.Key_X)
    QTest.mouseMove(prices.chart.viewport(), _point(prices, plot, x0 + (x1 - x0) / 3,
                                                    (y0 + y1) / 2))
    qtbot.waitUntil(lambda: window.time_link.cursor is not None, timeout=2000)

    refreshed = []
    monkeypatch.setattr(window.scheduler, "refresh_now", lambda: refreshed.append(True))
    _press(window, Qt.Key.Key_F5)
    assert refreshed == [True]

    # Tooltips name the keys; the help lists every one.
    assert prices.range_buttons["1W"].toolTip().endswith("(1)")
    assert prices.log_box.toolTip().endswith("(L)")
    assert "H: 1h" in prices.interval_box.toolTip()
    assert window.findChild(QAction, "refreshAction").toolTip().endswith("(F5)")
    assert window.findChild(QAction, "settingsAction").toolTip().endswith("(Ctrl+,)")
    assert window.findChild(QAction, "saveDockScreenshot").toolTip().endswith("(Ctrl+Shift+S)")
    help_action = window.findChild(QAction, "showShortcuts")
    assert help_action in window.help_menu.actions()
    help_action.trigger()
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    keys = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert len(keys) == len(SHORTCUTS)
    assert {"Home", "F5", "F6", "Shift+F6", "Ctrl+S", "Ctrl+Shift+S", "Esc"} <= set(keys)
    dialog.close()


def test_home_and_a_double_click_reset_the_chart_under_the_mouse(window, qtbot):
    prices = window.panels["prices"]
    plot = prices.crosshair.plots[0]
    prepared = [p for sid, p in prices._prepared.items() if sid.endswith(".1h")]
    first = min(p.t_raw[0] for p in prepared)
    last = max(p.t_raw[-1] for p in prepared)

    def shows_all() -> bool:
        x0, x1 = plot.vb.viewRange()[0]
        return x0 <= first and x1 >= last

    _press(window, Qt.Key.Key_1)
    assert not shows_all()
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    QTest.mouseMove(prices.chart.viewport(), _point(prices, plot, (x0 + x1) / 2, (y0 + y1) / 2))
    qtbot.waitUntil(lambda: window.time_link.hovered_plot() is plot, timeout=2000)
    _press(window, Qt.Key.Key_Home)
    assert shows_all()
    # linked: the other time docks took the reset range too
    funding_range = window.panels["funding"].plot.vb.viewRange()[0]
    qtbot.waitUntil(lambda: window.panels["funding"].plot.vb.viewRange()[0] ==
                    plot.vb.viewRange()[0], timeout=2000)
    assert funding_range is not None

    _press(window, Qt.Key.Key_1)
    assert not shows_all()
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    QTest.mouseDClick(prices.chart.viewport(), Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier,
                      _point(prices, plot, (x0 + x1) / 2, (y0 + y1) / 2))
    assert shows_all()


def test_f6_cycles_the_focus_through_the_docks_and_brings_tabbed_ones_forward(window, qtbot):
    order = [d for d in window.docks.values() if not d.isHidden()]

    def focused():
        return window.shortcuts._focused_dock()

    _press(window, Qt.Key.Key_F6)
    assert focused() is order[0]
    _press(window, Qt.Key.Key_F6)
    assert focused() is order[1]
    # on to a dock behind another's tab: it comes forward
    tabbed = next(i for i, d in enumerate(order) if d.visibleRegion().isEmpty())
    for _ in range(tabbed - 1):
        _press(window, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: not order[tabbed].visibleRegion().isEmpty(), timeout=2000)
    assert focused() is order[tabbed]
    _press(window, Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)
    assert focused() is order[tabbed - 1]


def test_ctrl_s_saves_the_window_and_ctrl_shift_s_the_dock_under_the_mouse(
        window, qtbot, tmp_path, monkeypatch):
    asked: list[str] = []
    target = [tmp_path / "window.png"]

    def answer(_parent, default):
        asked.append(default)
        return str(target[0])

    writers: list[threading.Thread] = []
    real_write = export_actions.write_png

    def write(image, path):
        writers.append(threading.current_thread())
        return real_write(image, path)

    # Ctrl+S is the File → Export PNG at its scale (1× by default): its seams are patched.
    monkeypatch.setattr(export_actions, "ask_png_path", answer)
    monkeypatch.setattr(export_actions, "write_png", write)
    _press(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: str(target[0]) in window.status.currentMessage(), timeout=5000)
    assert asked[0].endswith(".png") and "rotor-window-" in asked[0]
    assert writers and writers[0] is not threading.main_thread()  # the write is a worker's
    image = QImage(str(target[0]))
    ratio = window.devicePixelRatioF()
    assert (image.width(), image.height()) == (round(window.width() * ratio),
                                               round(window.height() * ratio))

    funding = window.docks["funding"]
    QCursor.setPos(funding.mapToGlobal(funding.rect().center()))
    target[0] = tmp_path / "dock.png"
    _press(window, Qt.Key.Key_S,
           Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: str(target[0]) in window.status.currentMessage(), timeout=5000)
    assert "rotor-funding-" in asked[1]
    image = QImage(str(target[0]))
    assert (image.width(), image.height()) == (round(funding.width() * ratio),
                                               round(funding.height() * ratio))


def _drag_level(window, qtbot, price: float, escape: bool) -> None:
    prices = window.panels["prices"]
    plot = prices._plots["btc"]
    x0, x1 = plot.vb.viewRange()[0]
    y0, y1 = plot.vb.viewRange()[1]
    viewport = prices.chart.viewport()
    start = _point(prices, plot, (x0 + x1) / 2, price)
    end = _point(prices, plot, (x0 + x1) / 2, price + (y1 - y0) * 0.2)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 11):
        QTest.mouseMove(viewport, start + (end - start) * (i / 10))
        qtbot.wait(5)
        if escape and i == 6:
            _press(window, Qt.Key.Key_Escape)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    qtbot.wait(50)


def test_esc_cancels_the_drag_of_a_level(window, qtbot):
    prices = window.panels["prices"]
    book = window.drawings
    btc = prices._prepared["btc.1h"]
    price = round(float(btc.close_raw[-1]), -2)
    prices.add_level(price)
    _drag_level(window, qtbot, price, escape=True)
    assert book.levels("btc") == [price]
    [item] = prices.drawing_layer.items.values()
    assert item.points == item.drawing.points  # drawn where it was
    # the same drag without Esc moves the level (the test can see a move)
    _drag_level(window, qtbot, price, escape=False)
    assert book.levels("btc") != [price] and len(book.levels("btc")) == 1
    assert book.levels("btc")[0] > price


def test_keys_reach_the_price_panel_a_theme_switch_rebuilt(window, qtbot):
    # The keys once held the first price panel: after a rebuild they clicked a deleted one.
    old = window.panels["prices"]
    try:
        window.set_theme("light")
        prices = window.panels["prices"]
        assert prices is not old
        qtbot.waitUntil(prices.has_data, timeout=20000)
        _press(window, Qt.Key.Key_1)
        assert prices.range_key == "1W" and prices.range_buttons["1W"].isChecked()
        _press(window, Qt.Key.Key_D)
        assert prices.interval == "1d"
        assert prices.range_buttons["1W"].toolTip().endswith("(1)")  # named on the new one
    finally:
        window.set_theme("dark")


def test_a_png_is_written_whole_or_not_at_all(tmp_path, qtbot):
    from PySide6.QtGui import QColor, QImage

    image = QImage(64, 32, QImage.Format.Format_RGB32)
    image.fill(QColor("#f7931a"))
    path = tmp_path / "shot.png"
    assert export_actions.write_png(image, str(path)) == str(path)
    back = QImage(str(path))
    assert (back.width(), back.height()) == (64, 32) and back.pixelColor(5, 5).name() == "#f7931a"
    assert [p.name for p in tmp_path.iterdir()] == ["shot.png"]  # no temporary file left
    # A folder that does not exist: an error, and nothing half-written anywhere.
    with pytest.raises(OSError):
        export_actions.write_png(image, str(tmp_path / "missing" / "shot.png"))
    assert [p.name for p in tmp_path.iterdir()] == ["shot.png"]
