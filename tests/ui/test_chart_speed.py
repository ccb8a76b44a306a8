"""The per-frame savings of issue 16 draw what they drew before (docs/performance.md): shared
date ticks equal pyqtgraph's own, frame-only axes keep their line and their grid ticks, and the
pre-blended grid paints the pixels the translucent one did."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtGui

import ui  # noqa: F401  (pins the Qt binding)
from ui import time_display
from ui.charts import axes
from ui.charts.axes import FrameAxisItem, ZonedDateAxisItem
from ui.charts.grid import GridLinesItem

T0 = 1_770_000_000.0  # 2026-02-02
SPANS_S = (60.0 * 30, 3600.0 * 10, 86400.0 * 3, 86400.0 * 40, 86400.0 * 400,
           86400.0 * 365 * 30)


@pytest.mark.parametrize("span", SPANS_S)
def test_shared_date_ticks_equal_pyqtgraphs_own(qtbot, span: float) -> None:
    ours = ZonedDateAxisItem()
    theirs = pg.DateAxisItem(utcOffset=0)  # UTC, pyqtgraph's unmodified tick search
    theirs.fontMetrics = ours.fontMetrics
    axes._DATE_TICKS.clear()
    want = theirs.tickValues(T0 - span, T0, 1200)
    first = ours.tickValues(T0 - span, T0, 1200)
    again = ZonedDateAxisItem().tickValues(T0 - span, T0, 1200)  # another plot: shared
    assert [(s, list(v)) for s, v in first] == [(s, list(v)) for s, v in want]
    assert again is first
    assert len(axes._DATE_TICKS) == 1
    # its labels are read with the zoom level the cached ticks were found at
    spacing, values = first[0]
    assert ours.tickStrings(values, 1.0, spacing) == theirs.tickStrings(values, 1.0, spacing)


def test_shared_date_ticks_follow_the_display_zone(qtbot) -> None:
    axis = ZonedDateAxisItem()
    before = time_display.zone_key()
    try:
        time_display.set_zone("new_york")
        ny = axis.tickValues(T0 - 86400.0 * 3, T0, 1200)
        time_display.set_zone("utc")
        utc = axis.tickValues(T0 - 86400.0 * 3, T0, 1200)
    finally:
        time_display.set_zone(before)
    # day ticks sit at local midnight: 05:00 UTC in New York in February
    assert ny[0][1] and all((v - 5 * 3600) % 86400 == 0 for v in ny[0][1])
    assert utc[0][1] and all(v % 86400 == 0 for v in utc[0][1])



def test_kept_date_labels_follow_the_display_zone(qtbot) -> None:
    axis = ZonedDateAxisItem()
    hour0 = T0 - T0 % 3600  # 2026-02-02 02:00 UTC
    values = [hour0 + 3600.0 * k for k in range(6)]
    before = time_display.zone_key()
    try:
        time_display.set_zone("utc")
        axis.tickValues(values[0], values[-1], 1200)
        utc = axis.tickStrings(values, 1.0, 3600)
        # (no tick spec of 1 h at this zoom: the full date format)
        assert utc == [f"2026-02-02 0{h}:00" for h in range(2, 8)]
        utc[0] = "changed by a caller"  # the kept labels are not the list handed out
        assert axis.tickStrings(values, 1.0, 3600)[0] == "2026-02-02 02:00"
        time_display.set_zone("new_york")
        ny = axis.tickStrings(values, 1.0, 3600)
    finally:
        time_display.set_zone(before)
    assert ny == ["2026-02-01 21:00", "2026-02-01 22:00", "2026-02-01 23:00",
                  "2026-02-02 00:00", "2026-02-02 01:00", "2026-02-02 02:00"]

def test_a_frame_axis_draws_its_line_only_and_a_pan_does_not_redraw_it(qtbot) -> None:
    w = pg.PlotWidget(axisItems={"right": FrameAxisItem("right"),
                                 "bottom": ZonedDateAxisItem()})
    w.resize(400, 300)
    qtbot.addWidget(w)
    w.showAxis("right")
    w.getPlotItem().getAxis("bottom").set_frame_only()
    w.setXRange(T0 - 86400.0 * 10, T0, padding=0)
    w.show()
    qtbot.waitExposed(w)
    right = w.getPlotItem().getAxis("right")
    bottom = w.getPlotItem().getAxis("bottom")
    image = QtGui.QImage(10, 10, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(image)
    for axis in (right, bottom):
        axis_spec, tick_specs, text_specs = axis.generateDrawSpecs(painter)
        assert axis_spec is not None and tick_specs == [] and text_specs == []
    painter.end()
    qtbot.wait(20)
    w.viewport().repaint()
    drawn = (right.picture, bottom.picture)
    assert None not in drawn
    w.setYRange(5.0, 9.0, padding=0)
    w.setXRange(T0 - 86400.0 * 5, T0, padding=0)
    assert (right.picture, bottom.picture) == drawn  # kept
    assert right.range == [5.0, 9.0]
    # the grid still reads the hidden axis' date ticks
    ticks = bottom.tickValues(T0 - 86400.0 * 5, T0, 380)
    assert any(len(values) for _s, values in ticks)
    w.resize(500, 300)  # a resize redraws the line at its new length
    qtbot.waitUntil(lambda: bottom.picture is not drawn[1])


def _plot_widget(qtbot) -> pg.PlotWidget:
    w = pg.PlotWidget(background="#131722")
    w.resize(360, 240)
    qtbot.addWidget(w)
    return w


def _shown_rgb(qtbot, w: pg.PlotWidget) -> np.ndarray:
    """The widget's pixels (RGB) over x and y from 0 to 10."""
    w.setXRange(0.0, 10.0, padding=0)
    w.setYRange(0.0, 10.0, padding=0)
    w.show()
    qtbot.waitExposed(w)
    img = w.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    return a[:, :img.width(), 2::-1].astype(np.int32)


def _grid_rgb(qtbot, backdrop: bool) -> np.ndarray:
    w = _plot_widget(qtbot)
    grid = GridLinesItem(w.getPlotItem(), "#d1d4dc", 0.3)
    if not backdrop:
        grid.backdrop = lambda: None  # the translucent pen the grid used before
    return _shown_rgb(qtbot, w)


def test_the_pre_blended_grid_paints_the_translucent_grids_pixels(qtbot) -> None:
    opaque = _grid_rgb(qtbot, backdrop=True)
    translucent = _grid_rgb(qtbot, backdrop=False)
    background = np.array([0x13, 0x17, 0x22])
    lines = np.abs(translucent - background).sum(axis=2) > 6
    assert lines.sum() > 500  # the grid shows
    diff = np.abs(opaque - translucent).max(axis=2)
    # the same pixels but where two lines cross: there the translucent grid blended twice
    assert (diff[lines] <= 2).mean() > 0.85
    assert (diff[~lines] == 0).all()
    assert diff.max() <= round(0.3 * (0xdc - 0x22)) + 2  # at most one more blend


def test_the_grid_blends_onto_its_view_boxs_own_background(qtbot) -> None:
    w = pg.PlotWidget(background="#000000")
    qtbot.addWidget(w)
    w.getViewBox().setBackgroundColor("#ffffff")
    grid = GridLinesItem(w.getPlotItem(), "#000000", 0.25)
    w.show()
    backdrop = grid.backdrop()
    assert backdrop is not None and backdrop.name() == "#ffffff"
    assert grid._line_color(0.25, backdrop).getRgb()[:3] == (191, 191, 191)
    w.getViewBox().setBackgroundColor((255, 255, 255, 128))  # not opaque: keep the alpha
    assert grid.backdrop() is None
    assert grid._line_color(0.25, None).alphaF() == pytest.approx(0.25, abs=0.01)



def test_the_grids_kept_pens_follow_a_new_background(qtbot) -> None:
    w = pg.PlotWidget(background="#000000")
    w.resize(360, 240)
    qtbot.addWidget(w)
    w.hideAxis("left")
    w.hideAxis("bottom")
    vb = w.getViewBox()
    vb.setBackgroundColor("#ffffff")
    GridLinesItem(w.getPlotItem(), "#000000", 0.3)
    w.setXRange(0.0, 10.0, padding=0)
    w.setYRange(0.0, 10.0, padding=0)
    w.show()
    qtbot.waitExposed(w)

    def plot_area() -> np.ndarray:
        img = w.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(),
                                                            img.bytesPerLine() // 4, 4)
        rect = vb.sceneBoundingRect().toAlignedRect().adjusted(2, 2, -2, -2)
        return a[rect.top():rect.bottom(), rect.left():rect.right(), :3].astype(np.int32)

    grey = plot_area()
    assert ((grey > 0) & (grey < 255)).any(axis=2).sum() > 100  # grid lines blended on white
    vb.setBackgroundColor("#000000")  # black lines on black: nothing may show
    assert plot_area().max() == 0


def _bands_rgb(qtbot, backdrop: bool) -> np.ndarray:
    from ui.charts.bands import BandsItem

    w = _plot_widget(qtbot)
    bands = BandsItem((239, 83, 80, 38))
    bands.setBands([(1.0, 3.0), (5.0, 5.5), (7.0, 9.0)])
    w.addItem(bands, ignoreBounds=True)
    if not backdrop:
        bands.backdrop = lambda: None  # the translucent fill the bands used before
    return _shown_rgb(qtbot, w)


def test_opaque_bands_paint_the_translucent_bands_pixels(qtbot) -> None:
    opaque = _bands_rgb(qtbot, backdrop=True)
    translucent = _bands_rgb(qtbot, backdrop=False)
    shaded = np.abs(translucent - np.array([0x13, 0x17, 0x22])).sum(axis=2) > 20
    assert shaded.sum() > 3000  # the bands show
    assert np.abs(opaque - translucent).max() <= 2


def test_a_value_axis_finds_its_ticks_once_per_range(qtbot) -> None:
    from ui.charts.axes import ValueAxisItem

    ours, theirs = ValueAxisItem(), pg.AxisItem("left")
    first = ours.tickValues(61_234.0, 70_120.0, 300)
    assert first == theirs.tickValues(61_234.0, 70_120.0, 300)
    assert ours.tickValues(61_234.0, 70_120.0, 300) is first  # the grid's call: no search
    assert ours.tickValues(61_000.0, 70_120.0, 300) == theirs.tickValues(61_000.0, 70_120.0,
                                                                          300)
    ours.setLogMode(y=True)
    theirs.setLogMode(y=True)
    assert ours.tickValues(4.0, 4.2, 300) != first


def test_kept_axis_rects_equal_pyqtgraphs_after_resizes_and_style_changes(qtbot) -> None:
    from ui.charts.axes import ValueAxisItem

    w = pg.PlotWidget(axisItems={"left": ValueAxisItem(), "bottom": ZonedDateAxisItem()})
    w.resize(400, 300)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    axes_ = [w.getAxis("left"), w.getAxis("bottom")]

    def same() -> None:
        for axis in axes_:
            assert axis.boundingRect() == pg.AxisItem.boundingRect(axis)

    same()
    w.resize(520, 260)
    qtbot.waitUntil(lambda: w.getAxis("bottom").geometry().width() > 420)
    same()
    for axis in axes_:
        axis.setStyle(tickLength=-7, hideOverlappingLabels=False)
    same()
    w.getPlotItem().showGrid(x=True, y=True)  # pyqtgraph's grid: its own rect
    same()
