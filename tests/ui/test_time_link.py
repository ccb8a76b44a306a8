"""One time cursor and one time range across the time-series docks (issue 13, ui/time_link.py).

The demo window, a real mouse move over the price chart, and each dock's readout checked against
the value in force at that instant computed here from the store's rows.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest

from models.catalog import FUNDING_VENUES, OI_VENUES, venue_label
from models.ids import dvol_id, funding_id, oi_id

TIME_DOCKS = ("funding", "open_interest", "volatility", "rotation")
H_MS = 3_600_000


@pytest.fixture
def demo_window(make_window, qtbot):
    window = make_window(demo=True)
    window.resize(1366, 768)
    window.show()
    qtbot.waitUntil(window.panels_have_data, timeout=60000)
    for key in TIME_DOCKS:
        qtbot.waitUntil(window.panels[key].has_data, timeout=20000)
    return window


def _viewport_point(panel, plot, x: float) -> QPoint:
    (_x0, _x1), (y0, y1) = plot.vb.viewRange()
    scene = plot.vb.mapViewToScene(QPointF(x, (y0 + y1) / 2))
    return panel.chart.mapFromScene(scene)


def _apr_in_force(rows, t_ms: float) -> float:
    """By hand: the settlement whose period [stamp − interval, stamp) contains t (the funding
    timing convention of models/funding.py), as APR % = rate × 24 / interval_h × 365 × 100."""
    for stamp, rate, hours in zip(rows.time, rows["rate"], rows["interval_hours"], strict=True):
        if stamp - hours * H_MS <= t_ms < stamp:
            return rate * 24 / hours * 365 * 100
    return float("nan")


def _last_at_or_before(rows, column: str, t_ms: float) -> float:
    value = float("nan")
    for stamp, v in zip(rows.time, rows[column], strict=True):
        if stamp > t_ms:
            break
        value = v
    return value


def test_a_mouse_over_the_price_chart_shows_that_instant_in_every_time_dock(demo_window, qtbot):
    window = demo_window
    prices = window.panels["prices"]
    plot = prices.crosshair.plots[0]
    x0, x1 = plot.vb.viewRange()[0]
    target = x0 + 0.6 * (x1 - x0)
    QTest.mouseMove(prices.chart.viewport(), _viewport_point(prices, plot, target))
    qtbot.waitUntil(lambda: window.time_link.cursor is not None, timeout=2000)
    x = prices.crosshair.x
    assert x is not None and abs(x - target) < (x1 - x0) / 500  # the pixel the mouse is on
    assert window.time_link.cursor == x
    for key in TIME_DOCKS:  # the same instant, a vertical line in each time plot of each dock
        crosshair = window.panels[key].crosshair
        assert crosshair.x == x, key
        assert all(line.isVisible() and line.value() == x for line in crosshair._vlines), key

    t_ms = x * 1000
    store = window.store
    key_text = window.panels["funding"].key_label.text()
    checked = 0
    for venue in FUNDING_VENUES:
        rows = store.series(funding_id(venue, "btc"))
        apr = _apr_in_force(rows, t_ms) if rows is not None else float("nan")
        found = re.search(rf"{venue_label(venue)}</span> ([+-][0-9.]+|–)", key_text)
        assert found is not None, (venue, key_text)
        if not np.isfinite(apr):
            assert found.group(1) == "–", (venue, key_text)
            continue
        assert abs(float(found.group(1)) - apr) <= 0.05 + 1e-9, (venue, apr, key_text)
        checked += 1
    assert checked >= 3  # most venues had a rate in force there, not only dashes

    oi_text = window.panels["open_interest"].summary.text()
    for venue in OI_VENUES:
        value = _last_at_or_before(store.series(oi_id(venue, "btc")), "open_interest", t_ms)
        assert np.isfinite(value)
        assert f"{venue_label(venue)}</span> {value:,.0f} BTC" in oi_text, oi_text

    dvol = _last_at_or_before(store.series(dvol_id("btc")), "close", t_ms)
    assert f"DVOL {dvol:.1f}" in window.panels["volatility"].summary.text()
    # and the latest value is not what it shows (the readout moved with the cursor)
    latest = store.series(dvol_id("btc"))["close"][-1]
    assert f"{latest:.1f}" != f"{dvol:.1f}"

    # The mouse leaves the chart: every dock goes back to its latest values.
    QTest.mouseMove(prices.readout, QPoint(5, 5))
    QTest.mouseMove(window.menuBar(), QPoint(5, 5))
    qtbot.waitUntil(lambda: window.time_link.cursor is None, timeout=2000)
    for key in TIME_DOCKS:
        assert window.panels[key].crosshair.x is None, key
    assert "DVOL" in window.panels["volatility"].summary.text()
    assert "UTC" not in window.panels["volatility"].summary.text()


def _drag(qtbot, panel, plot, from_x: float, to_x: float) -> None:
    """A real left-button drag across the chart's viewport (pyqtgraph pans the view)."""
    viewport = panel.chart.viewport()
    start = _viewport_point(panel, plot, from_x)
    end = _viewport_point(panel, plot, to_x)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 11):
        point = start + (end - start) * (i / 10)
        QTest.mouseMove(viewport, point)
        qtbot.wait(5)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    qtbot.wait(100)


def test_panning_one_dock_moves_the_others_when_linked_and_not_when_unlinked(demo_window,
                                                                               qtbot):
    window = demo_window
    prices = window.panels["prices"]
    funding = window.panels["funding"]
    plot = prices.crosshair.plots[0]
    link = window.findChild(QAction, "linkTimeRangesAction")
    assert link.isChecked() and window.time_link.linked  # on by default

    before = plot.vb.viewRange()[0]
    funding_before = funding.plot.vb.viewRange()[0]
    x0, x1 = before
    _drag(qtbot, prices, plot, x0 + 0.7 * (x1 - x0), x0 + 0.4 * (x1 - x0))
    after = plot.vb.viewRange()[0]
    assert after[0] > before[0] + 0.2 * (x1 - x0)  # the drag panned the price chart forward
    for key in TIME_DOCKS:
        qtbot.waitUntil(lambda k=key: np.allclose(
            window.panels[k].crosshair.plots[0].vb.viewRange()[0], after, rtol=0, atol=1.0),
            timeout=2000)
    assert not np.allclose(funding_before, after, rtol=0, atol=3600)

    # A dock that re-applies its own window (as a new funding result does) is put back.
    funding.plot.setXRange(after[0] - 86400 * 20, after[1], padding=0)
    qtbot.waitUntil(lambda: np.allclose(funding.plot.vb.viewRange()[0], after, rtol=0, atol=1.0),
                    timeout=2000)

    # Unlinked: the same kind of drag moves the price chart only; the choice is saved.
    link.trigger()
    assert not window.time_link.linked
    assert window.settings.value("view/link_time_ranges") in (False, "false")
    x0, x1 = after
    _drag(qtbot, prices, plot, x0 + 0.7 * (x1 - x0), x0 + 0.4 * (x1 - x0))
    moved = plot.vb.viewRange()[0]
    assert moved[0] > after[0] + 0.2 * (x1 - x0)
    qtbot.wait(100)
    for key in TIME_DOCKS:
        assert np.allclose(window.panels[key].crosshair.plots[0].vb.viewRange()[0], after,
                           rtol=0, atol=1.0), key

    # Linked again: the others line up on the price chart, as it is now.
    link.trigger()
    for key in TIME_DOCKS:
        qtbot.waitUntil(lambda k=key: np.allclose(
            window.panels[k].crosshair.plots[0].vb.viewRange()[0], moved, rtol=0, atol=1.0),
            timeout=2000)


def test_a_range_the_hub_applies_is_not_published_again(qtbot):
    """The feedback guard: one pan is one fan-out, whatever the other plots emit back."""
    import pyqtgraph as pg

    from ui.time_link import TimeLink

    link = TimeLink()
    plots = {key: pg.PlotItem() for key in ("a", "b", "c")}
    for key, plot in plots.items():
        plot.setXRange(0, 100, padding=0)
        link.attach_range(key, plot)
    fan_outs = []
    link.rangeChanged.connect(lambda x0, x1: fan_outs.append((x0, x1)))
    plots["a"].setXRange(10, 50, padding=0)
    link.publish("a")
    qtbot.wait(100)
    assert fan_outs == [(10.0, 50.0)]
    for plot in plots.values():
        assert plot.vb.viewRange()[0] == [10.0, 50.0]


def test_docks_rebuilt_by_a_theme_switch_still_follow_the_cursor(demo_window, qtbot):
    # A theme switch replaces every built panel (ui/theme_switch.py): the new ones must join
    # the time link, and the old ones' crosshairs must leave it.
    window = demo_window
    old = {key: window.panels[key] for key in TIME_DOCKS}
    try:
        window.set_theme("light")
        for key in TIME_DOCKS:
            qtbot.waitUntil(window.panels[key].has_data, timeout=20000)
            assert window.panels[key] is not old[key]
        qtbot.wait(50)  # the old panels are deleted later, on this thread
        prices = window.panels["prices"]
        plot = prices.crosshair.plots[0]
        x0, x1 = plot.vb.viewRange()[0]
        QTest.mouseMove(prices.chart.viewport(),
                        _viewport_point(prices, plot, x0 + 0.4 * (x1 - x0)))
        qtbot.waitUntil(lambda: window.time_link.cursor is not None, timeout=2000)
        x = window.time_link.cursor
        for key in TIME_DOCKS:
            assert window.panels[key].crosshair.x == x, key
        linked = window.time_link.crosshairs()
        assert len(linked) == len({id(c) for c in linked})
        assert not any(old[key].crosshair in linked for key in TIME_DOCKS)
    finally:
        window.set_theme("dark")


def test_linked_docks_start_on_the_price_charts_range(demo_window, qtbot):
    # No pan or button yet: the range the price chart opens on is the linked one.
    window = demo_window
    x_range = window.panels["prices"].crosshair.plots[0].vb.viewRange()[0]
    for key in TIME_DOCKS:
        plot = window.panels[key].crosshair.plots[0]
        qtbot.waitUntil(lambda p=plot: np.allclose(p.vb.viewRange()[0], x_range, rtol=0,
                                                   atol=1.0), timeout=3000)
