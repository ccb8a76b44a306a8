"""View → Theme at run time: the charts, the tables, the chips and the widgets all change, the
zoomed range stays, and the choice is kept (screened) for the next start."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QAction, QColor

from models.assets import ASSETS
from ui import theme
from ui.theme import DARK, LIGHT, Palette


@pytest.fixture(autouse=True)
def _dark_afterwards():
    """The theme is the process's: a test that fails half-way must not leave the next in light."""
    yield
    theme.set_theme(theme.DARK_NAME)


def _name(color: object) -> str:
    return QColor(color).name()


def _shown_colors(window) -> dict[str, object]:
    """The colours the window draws with, read back from its widgets and chart items."""
    prices = window.panels["prices"]
    plot = next(iter(prices._plots.values()))
    view = prices.findChildren(pg.GraphicsView)[0]
    vol = window.panels["volatility"]
    legend_label = vol.plot.legend.items[0][1]
    funding = window.panels["funding"].table
    apr = funding.item(0, 4)
    movers = window.panels["movers"].table
    btc_row = next(r for r in range(movers.rowCount()) if movers.item(r, 0).text() == "BTC")
    return {
        "plot background": _name(view.backgroundBrush().color()),
        "axis text": _name(plot.getAxis("left").textPen().color()),
        "legend text": _name(legend_label.opts["color"]),
        "legend text pen": _name(vol.plot.legend.opts["labelTextColor"]),
        "APR cell": (_name(apr.foreground().color()), apr.text().startswith("-")),
        "BTC cell": _name(movers.item(btc_row, 0).foreground().color()),
        "stylesheet": window.styleSheet(),
        "chip": window.status.chip_text(next(iter(window.status.chips))),
        "freshness": prices.freshness.styleSheet(),
        "badge": prices.demo_badge.styleSheet(),
    }


def _assert_in(window, p: Palette) -> None:
    shown = _shown_colors(window)
    assert shown["plot background"] == p.background
    assert shown["axis text"] == p.foreground
    assert shown["legend text"] == p.foreground
    assert shown["legend text pen"] == p.foreground
    color, negative = shown["APR cell"]
    assert color == (p.down if negative else p.up)
    assert shown["BTC cell"] == (ASSETS["btc"].light_color if p is LIGHT else ASSETS["btc"].color)
    assert f"background: {p.background}; color: {p.foreground}" in shown["stylesheet"]
    assert f"color:{p.warning}" in shown["chip"]  # demo data: the warning colour
    assert f"color: {p.muted}" in shown["freshness"]
    assert f"color: {p.warning}" in shown["badge"]
    assert f"background: {p.banner_background}; color: {p.banner_text}" in shown["stylesheet"]


def _ready(window, qtbot) -> None:
    for key in ("funding", "movers", "volatility"):
        window.docks[key].raise_()
        qtbot.waitUntil(lambda k=key: k in window.panels and window.panels[k].has_data(),
                        timeout=20000)
    qtbot.waitUntil(lambda: window.panels["funding"].table.rowCount() > 0, timeout=20000)
    qtbot.waitUntil(lambda: window.panels["movers"].table.rowCount() > 0, timeout=20000)
    qtbot.waitUntil(window.panels["prices"].has_data, timeout=20000)
    qtbot.waitUntil(lambda: bool(window.status.chips), timeout=20000)
    qtbot.waitUntil(lambda: bool(window.panels["prices"].freshness.styleSheet()), timeout=5000)


def test_switching_theme_restyles_charts_tables_chips_and_widgets_and_back(make_window, qtbot,
                                                                           settings):
    window = make_window(demo=True)
    window.show()
    _ready(window, qtbot)
    _assert_in(window, DARK)
    prices = window.panels["prices"]
    box = next(iter(prices._plots.values())).vb
    lo, hi = box.viewRange()[0]
    zoom = (lo + (hi - lo) * 0.25, lo + (hi - lo) * 0.75)
    box.setXRange(*zoom, padding=0)
    window.time_link.publish("prices")  # as a mouse zoom does: the linked docks' range now

    light = window.findChild(QAction, "theme_light")
    assert light is not None and not light.isChecked()
    light.trigger()

    assert theme.current_theme() == "light"
    assert window.findChild(QAction, "theme_light").isChecked()
    assert not window.findChild(QAction, "theme_dark").isChecked()
    _ready(window, qtbot)
    _assert_in(window, LIGHT)
    rebuilt = window.panels["prices"]
    assert rebuilt is not prices
    qtbot.waitUntil(lambda: rebuilt.first_paint_done, timeout=20000)
    new_box = next(iter(rebuilt._plots.values())).vb
    assert new_box.viewRange()[0] == [zoom[0], zoom[1]]  # the trader's zoom, not the default
    assert settings.value("ui/theme") == "light"

    window.findChild(QAction, "theme_dark").trigger()
    _ready(window, qtbot)
    _assert_in(window, DARK)
    assert settings.value("ui/theme") == "dark"


def test_the_saved_theme_is_used_at_start_and_a_bad_one_is_dark(make_window, settings, qtbot):
    settings.setValue("ui/theme", "light")
    window = make_window(start=False)
    assert theme.current_theme() == "light"
    assert window.findChild(QAction, "theme_light").isChecked()
    assert f"background: {LIGHT.background}" in window.styleSheet()
    window.close()
    for junk in ("purple", "Light", "1"):
        settings.setValue("ui/theme", junk)
        again = make_window(start=False)
        assert theme.current_theme() == "dark", junk
        assert again.findChild(QAction, "theme_dark").isChecked()
        again.close()


def test_an_unknown_theme_is_refused_and_not_stored(make_window, settings):
    window = make_window(start=False)
    with pytest.raises(ValueError, match="solarized"):
        window.set_theme("solarized")
    assert settings.value("ui/theme") is None
    assert theme.current_theme() == "dark"
