"""The price dock's indicators (ui/price_indicators.py): what the chart draws is the indicator of
the shown bars, RSI/ATR get panes, the profile covers the bars in view, a right-click anchors the
VWAP, and the choices come back with the dock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu

from models import indicators as ind
from models.indicator_lines import INDICATORS, compute_lines
from models.series import MS_PER_HOUR, SeriesData
from tests.ui.prices_helpers import shown_prices_panel

FEB_02_2026 = 1_769_990_400_000


def btc_hours(n: int = 400) -> SeriesData:
    rng = np.random.default_rng(5)
    close = 70_000 + np.cumsum(rng.normal(0, 60, n))
    return SeriesData(FEB_02_2026 + np.arange(n, dtype=np.int64) * MS_PER_HOUR,
                      {"open": close, "high": close + 40, "low": close - 40, "close": close,
                       "volume": rng.uniform(1, 9, n)})


@pytest.fixture
def chosen_settings(settings):
    settings.setValue("prices/assets", ["btc"])
    settings.setValue("prices/indicators", ["sma20", "vwap", "rsi14", "profile"])
    return settings


def drawn(panel, key: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    pyramid = panel.indicator_layer._items[(key, part)].pyramid()
    keep = np.isfinite(pyramid.y)
    return pyramid.x[keep], pyramid.y[keep]


def test_indicators_draw_the_shown_bars_and_come_back_with_the_dock(qtbot, chosen_settings,
                                                                   monkeypatch):
    popped: list[QMenu] = []  # the offscreen platform cannot grab a popup's keyboard
    monkeypatch.setattr(QMenu, "popup", lambda menu, *_args: popped.append(menu))
    panel = shown_prices_panel(qtbot, chosen_settings, 1000, 700)
    data = btc_hours()
    panel.ctx.store.set_series("btc.1h", data)
    layer = panel.indicator_layer
    qtbot.waitUntil(lambda: layer.result is not None, timeout=10000)
    # SMA 20 on the price plot: pandas' rolling mean of the same closes
    x, y = drawn(panel, "sma20", "SMA 20")
    ref = pd.Series(data["close"]).rolling(20).mean().dropna().to_numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    assert x[0] == data.time[19] / 1e3  # the first full window's bar
    assert layer._items[("sma20", "SMA 20")].getViewBox() is panel._plots["btc"].vb
    # RSI in its own pane under the price (two rows in the layout), titled with its last value
    assert list(layer._panes) == ["rsi14"]
    assert panel.chart.ci.getItem(1, 0) is layer._panes["rsi14"]
    assert layer._items[("rsi14", "RSI 14")].getViewBox() is layer._panes["rsi14"].vb
    assert f"{layer.result.last['rsi14:RSI 14']:,.2f}" in layer._pane_labels["rsi14"].text
    # the crosshair spans the pane, whose title reads the RSI of the bar under the cursor
    assert layer._panes["rsi14"] in panel.crosshair.plots
    panel.crosshair.moved.emit(data.time[200] / 1e3 + 600)
    assert f"{ind.rsi(data['close'], 14)[200]:,.2f}" in layer._pane_labels["rsi14"].text
    # the profile of the bars in view, drawn as bars at the plot's right edge
    qtbot.waitUntil(lambda: layer._profile_item.profile() is not None, timeout=5000)
    x0, x1 = panel._plots["btc"].vb.viewRange()[0]
    in_view = (data.time >= x0 * 1e3) & (data.time <= x1 * 1e3)
    assert layer._profile_item.profile().total == pytest.approx(data["volume"][in_view].sum())
    bars = layer._profile_item.bars()
    right = panel._plots["btc"].vb.boundingRect().right()
    assert bars and all(abs(rect.right() - right) < 1e-6 for rect, _ in bars)

    # a right-click on a bar: "Anchor VWAP here" anchors it, ticks the anchored VWAP, keeps it
    bar_ms = layer.bar_at(data.time[300] / 1e3 + 1800)
    assert bar_ms == data.time[300]
    # the real path: a right-click on the chart at bar 300 pops the menu up
    vb = panel._plots["btc"].vb
    scene_pos = vb.mapViewToScene(QPointF(data.time[300] / 1e3 + 1800, data["close"][300]))
    at = panel.chart.mapFromScene(scene_pos)
    QTest.mouseClick(panel.chart.viewport(), Qt.MouseButton.RightButton, pos=at)
    [menu] = popped
    [action] = [a for a in menu.actions() if a.objectName() == "anchorVwapHere"]
    assert action.text().startswith("Anchor VWAP here (")
    action.trigger()
    qtbot.waitUntil(lambda: ("avwap", "anchored VWAP") in layer._items, timeout=5000)
    ax, ay = drawn(panel, "avwap", "anchored VWAP")
    assert ax[0] == data.time[300] / 1e3
    tp = (data["high"] + data["low"] + data["close"]) / 3
    assert ay[0] == pytest.approx(tp[300])
    assert chosen_settings.value("prices/vwap_anchor_ms") in (bar_ms, str(bar_ms))
    # a result computed for another interval (a switch while the worker ran) is not drawn
    shown = layer._items[("sma20", "SMA 20")].pyramid()
    layer._on_lines(compute_lines(btc_hours(50), ("sma20",), MS_PER_HOUR), "btc.1d")
    assert layer._items[("sma20", "SMA 20")].pyramid() is shown
    layer.set_keys([k for k in layer.keys if k != "rsi14"])  # the pane goes
    assert "rsi14" not in layer._panes and panel.chart.ci.getItem(1, 0) is None
    panel.shutdown()

    again = shown_prices_panel(qtbot, chosen_settings, 1000, 700)
    assert again.indicator_layer.keys == ["sma20", "vwap", "avwap", "profile"]
    assert again.indicator_layer.anchor_ms == bar_ms
    assert [a.isChecked() for a in again.indicator_layer._actions.values()] == \
        [k in ("sma20", "vwap", "avwap", "profile") for k in INDICATORS]
    again.shutdown()


def test_compare_view_hides_the_indicators(qtbot, chosen_settings):
    chosen_settings.setValue("prices/mode", "compare")
    panel = shown_prices_panel(qtbot, chosen_settings, 900, 600)
    panel.ctx.store.set_series("btc.1h", btc_hours(100))
    assert panel.indicator_layer._host is None and not panel.indicator_layer._items
    assert panel.indicator_layer._panes == {}
    assert "switch to Stacked" in panel.indicator_layer.button.toolTip()
    panel.choose("mode", "stacked")
    qtbot.waitUntil(lambda: panel.indicator_layer.result is not None, timeout=5000)
    assert ("sma20", "SMA 20") in panel.indicator_layer._items
    panel.shutdown()


def test_session_vwap_restarts_on_each_assets_own_calendar():
    from ui.price_indicators import session_calendar

    assert session_calendar("btc") == "24/7"  # each UTC day
    assert session_calendar("spx") == "XNYS"
    assert session_calendar("gold") == "CMES"


def test_an_indicator_line_keeps_three_views_at_half_density_while_panning(qtbot):
    import pyqtgraph as pg

    from models.lod import MinMaxPyramid
    from ui.charts.indicator_items import IndicatorLineItem

    x = np.arange(200_000, dtype=np.float64)
    y = np.sin(x / 5000.0) + x * 1e-5
    pyramid = MinMaxPyramid.build(x, y)
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(800, 400)
    widget.show()
    item = IndicatorLineItem(pyramid)
    widget.addItem(item)
    vb = widget.getPlotItem().vb
    vb.setXRange(100_000, 120_000, padding=0)
    xs, ys = item.getData()
    n_px = item._view_key()[2]
    want_x, want_y = pyramid.query(80_000, 140_000, n_px * 3 // 2)  # a view either side
    np.testing.assert_array_equal(xs, want_x)
    np.testing.assert_array_equal(ys, want_y)
    path = item._path
    vb.setXRange(110_000, 130_000, padding=0)  # a pan inside: the same drawing
    item.getData()
    assert item._path is path
    vb.setXRange(125_000, 145_000, padding=0)  # past the kept range: queried again
    xs, _ = item.getData()
    assert item._path is not path and xs[0] <= 105_000 + 40 and xs[-1] >= 165_000 - 40
    path = item._path
    vb.setXRange(125_000, 135_000, padding=0)  # a zoom: queried again
    item.getData()
    assert item._path is not path
