"""LodCurveItem and CandlestickItem in a real PlotWidget, shown offscreen, grabbed to a QImage."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtGui

import ui  # noqa: F401  (pins the Qt binding; tests/conftest.py does too)
from models.lod import MinMaxPyramid, OhlcPyramid
from ui.charts.bands import BandsItem
from ui.charts.candles import CandlestickItem
from ui.charts.lod_item import LodCurveItem

PEN = (255, 0, 255)  # magenta: no theme or axis colour comes near it
UP = (0, 200, 0)
DOWN = (230, 0, 0)


@pytest.fixture
def plot(qtbot):
    w = pg.PlotWidget(background="k")
    w.resize(480, 320)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def _settle(qtbot, w: pg.PlotWidget) -> None:
    w.getViewBox().prepareForPaint()
    w.viewport().repaint()
    qtbot.wait(1)


def _rgb(w: pg.PlotWidget) -> np.ndarray:
    img = w.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    return a[:, :img.width(), 2::-1].astype(np.int32)  # BGRA in memory -> RGB


def _count(rgb: np.ndarray, colour: tuple[int, int, int], tol: int = 30) -> int:
    return int((np.abs(rgb - np.array(colour)).sum(axis=2) <= tol).sum())


def _walk(n: int, seed: int = 0, start: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = 1.7e9 + 60.0 * np.arange(n)
    return x, np.cumsum(rng.standard_normal(n)) + start


def _line(plot: pg.PlotWidget, n: int = 200_000, **kw) -> tuple[LodCurveItem, np.ndarray,
                                                                  np.ndarray]:
    x, y = _walk(n)
    item = LodCurveItem(MinMaxPyramid.build(x, y), pen=pg.mkPen(PEN), **kw)
    item.opts["antialias"] = False
    plot.addItem(item)
    return item, x, y


def test_line_paints_its_pen_colour(qtbot, plot) -> None:
    item, _x, _ = _line(plot)
    _settle(qtbot, plot)
    rgb = _rgb(plot)
    assert _count(rgb, PEN, tol=0) > 300
    xs, _ys = item.getData()
    n_px = plot.getViewBox().width()
    assert 10 < len(xs) <= 2 * n_px + 4  # O(pixels), not 200k rows
    assert item.pixelPadding() > 0


def test_pan_changes_drawn_vertices_and_builds_once_per_range(qtbot, plot, monkeypatch) -> None:
    item, x, y = _line(plot)
    _settle(qtbot, plot)
    builds = []
    real = item._build
    monkeypatch.setattr(item, "_build", lambda *a: (builds.append(a), real(*a)))
    vb = plot.getViewBox()
    vb.setXRange(x[1000], x[5000], padding=0)
    _settle(qtbot, plot)
    plot.viewport().repaint()  # a second paint of the same range reuses the path
    xs1, _ = item.getData()
    assert len(builds) == 1
    inside = xs1[(xs1 >= x[1000]) & (xs1 <= x[5000])]
    assert len(inside) > 0 and np.all(np.diff(xs1) >= 0)
    vb.setXRange(x[100_000], x[104_000], padding=0)
    _settle(qtbot, plot)
    xs2, _ys2 = item.getData()
    assert len(builds) == 2
    assert xs2.min() >= x[100_000] - 60 * 8 and xs2.max() <= x[104_000] + 60 * 8
    assert not np.array_equal(xs1, xs2)
    # visible-range y bounds come from the pyramid, exact for the rows in view
    lo, hi = item.dataBounds(1, orthoRange=(x[100_000], x[104_000]))
    assert (lo, hi) == (y[100_000:104_001].min(), y[100_000:104_001].max())
    assert item.dataBounds(0) == (x[0], x[-1])



def test_pan_at_one_zoom_slices_one_wide_query(qtbot, plot, monkeypatch) -> None:
    """Pans at one zoom inside three view widths query the pyramid once; each frame's vertices
    cover the view and hold its rows' extremes (within a column at each edge)."""
    item, x, y = _line(plot)
    vb = plot.getViewBox()
    vb.setXRange(x[100_000], x[104_000], padding=0)
    _settle(qtbot, plot)
    queries = []
    real = item.pyramid().query
    monkeypatch.setattr(item.pyramid(), "query", lambda *a: (queries.append(a), real(*a))[1])
    n_px = round(vb.width())
    for step in range(1, 6):  # 2 % of a view a pan, as a drag does
        a, b = 100_000 - 80 * step, 104_000 - 80 * step
        vb.setXRange(x[a], x[b], padding=0)
        _settle(qtbot, plot)
        (x0, x1), _ = vb.viewRange()
        xs, ys = item.getData()
        assert xs[0] <= x0 and xs[-1] >= x1 and len(xs) <= 2 * n_px + 8
        rows_per_px = (x1 - x0) / 60.0 / n_px
        inner = y[a + int(rows_per_px) + 1:b - int(rows_per_px)]
        outer = y[max(a - 2 * int(rows_per_px) - 2, 0):b + 2 * int(rows_per_px) + 2]
        assert inner.max() <= np.nanmax(ys) <= outer.max()
        assert outer.min() <= np.nanmin(ys) <= inner.min()
    assert len(queries) == 0  # the wide query made before the pans covers them
    vb.setXRange(x[100_000], x[102_000], padding=0)  # a zoom queries again
    _settle(qtbot, plot)
    item.getData()
    assert len(queries) == 1 and queries[0][2] == 3 * n_px

def test_log_mode(qtbot, plot) -> None:
    x = np.arange(1000, dtype=np.float64)
    y = 10.0 ** np.linspace(0, 6, 1000)
    y[:10] = -1.0  # non-positive: not drawn in log mode
    item = LodCurveItem(pen=pg.mkPen(PEN))
    item.opts["antialias"] = False  # exact colours: a window made earlier turns antialias on
    item.setData(x, y)
    plot.addItem(item)
    plot.setLogMode(y=True)
    assert item.logMode() == (False, True)
    lo, hi = item.dataBounds(1)
    assert hi == pytest.approx(6.0)
    assert lo == pytest.approx(math.log10(y[10]))
    plot.getViewBox().autoRange()
    _settle(qtbot, plot)
    xs, ys = item.getData()
    finite = np.isfinite(ys)
    assert finite.sum() > 100 and np.nanmax(ys) <= 6.0 + 1e-9
    assert np.isnan(ys[xs < 10]).all()
    assert _count(_rgb(plot), PEN, tol=0) > 100
    plot.setLogMode(y=False)
    assert item.dataBounds(1) == (-1.0, y[-1])
    item.setData(x + 1.0, y)  # x from 1: log x is finite everywhere
    plot.setLogMode(x=True, y=False)
    assert item.dataBounds(0) == (0.0, pytest.approx(3.0))
    plot.getViewBox().autoRange()
    _settle(qtbot, plot)
    xs, _ = item.getData()
    assert len(xs) > 100 and np.nanmin(xs) >= -0.1 and np.nanmax(xs) <= 3.1
    assert _count(_rgb(plot), PEN, tol=0) > 100


def test_legend_entry(qtbot, plot) -> None:
    legend = plot.addLegend()
    item, _, _ = _line(plot, n=1000, name="BTC perp")
    assert item.name() == "BTC perp"
    labels = [label.text for _, label in legend.items]
    assert labels == ["BTC perp"]
    _settle(qtbot, plot)
    assert _count(_rgb(plot), PEN, tol=0) > 0


def test_append_and_replace_last_update_without_rebuild(qtbot, plot) -> None:
    item, x, y = _line(plot, n=50_000)
    _settle(qtbot, plot)
    p = item.pyramid()
    v = p.version
    item.appendData(x[-1] + 60, y[-1] + 500.0)  # a spike the autorange must pick up
    assert item.pyramid() is p and p.version == v + 1
    assert len(p) == len(x) + 1
    _settle(qtbot, plot)
    _xs, ys = item.getData()
    assert np.nanmax(ys) == y[-1] + 500.0  # drawn (at its pixel column's centre)
    (_, x1), (_, y1) = plot.getViewBox().viewRange()
    assert x1 >= x[-1] + 60 and y1 >= y[-1] + 500.0  # auto-range saw the new bounds
    item.replaceLast(y[-1] - 1.0)
    assert item.pyramid() is p and p.version == v + 2
    _settle(qtbot, plot)
    assert np.nanmax(item.getData()[1]) < y[-1] + 500.0


def test_xy_at_for_the_crosshair(plot) -> None:
    item, x, y = _line(plot, n=1000)
    assert item.xy_at(x[10] + 20) == (x[10], y[10])
    assert item.xy_at(x[10] + 40) == (x[11], y[11])
    assert item.xy_at(x[10] + 40, side="before") == (x[10], y[10])
    assert item.xy_at(x[0] - 1e6) == (x[0], y[0])
    assert item.xy_at(x[0] - 1, side="before") is None
    assert item.xy_at(x[-1] + 1e9) == (x[-1], y[-1])
    assert LodCurveItem().xy_at(0.0) is None


def test_set_pyramid_swaps_in_place(qtbot, plot) -> None:
    item, _x, _ = _line(plot, n=10_000)
    _settle(qtbot, plot)
    x2, y2 = _walk(20_000, seed=5, start=500.0)
    q = MinMaxPyramid.build(x2, y2)
    item.setPyramid(q)
    assert item.pyramid() is q
    assert item.dataBounds(0) == (x2[0], x2[-1])
    plot.getViewBox().autoRange()
    _settle(qtbot, plot)
    assert np.nanmin(item.getData()[1]) >= y2.min()


@pytest.mark.parametrize("pyramid", [MinMaxPyramid(),
                                     MinMaxPyramid.build(np.arange(5000.0),
                                                         np.full(5000, np.nan))],
                         ids=["empty", "all-nan"])
def test_empty_and_all_nan_paint(qtbot, plot, pyramid) -> None:
    item = LodCurveItem(pyramid, pen=pg.mkPen(PEN))
    plot.addItem(item)
    _settle(qtbot, plot)
    assert _count(_rgb(plot), PEN, tol=0) == 0
    assert item.dataBounds(0) == (None, None) and item.dataBounds(1) == (None, None)
    candles = CandlestickItem(OhlcPyramid())
    plot.addItem(candles)
    plot.getViewBox().setXRange(0, 100)
    _settle(qtbot, plot)
    assert not np.isfinite(item.getData()[1]).any() and len(candles.getData()[0]) == 0


def _ohlc(n: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = 1.7e9 + 60.0 * np.arange(n)
    c = np.cumsum(rng.standard_normal(n)) + 1000.0
    o = np.r_[c[0], c[:-1]]
    return x, o, np.maximum(o, c) + rng.random(n), np.minimum(o, c) - rng.random(n), c


def test_candles_up_and_down_colours(qtbot, plot) -> None:
    x, o, h, low, c = _ohlc(100_000)
    item = CandlestickItem(OhlcPyramid.build(x, o, h, low, c), up=UP, down=DOWN, name="BTC")
    item.opts["antialias"] = False
    plot.addItem(item)
    vb = plot.getViewBox()
    vb.setAutoVisible(y=True)
    # zoomed in: bodies
    vb.setXRange(x[1000], x[1060], padding=0)
    _settle(qtbot, plot)
    rgb = _rgb(plot)
    assert _count(rgb, UP, 0) > 200 and _count(rgb, DOWN, 0) > 200
    cd = item.candles()
    assert cd.size == 1 and 55 <= len(cd.x) <= 64
    assert {colour for colour, _, bodies in item._paths if bodies is not None} == {0, 1}
    # zoomed out: high-low lines from the pyramid, a bounded number of candles
    vb.setXRange(x[0], x[-1], padding=0)
    _settle(qtbot, plot)
    rgb = _rgb(plot)
    assert _count(rgb, UP, 0) > 50 and _count(rgb, DOWN, 0) > 50
    cd = item.candles()
    assert cd.size >= 64 and len(cd.x) <= plot.getViewBox().width() * 1.5
    assert all(bodies is None for _, _, bodies in item._paths)
    lo, hi = item.dataBounds(1, orthoRange=(x[10], x[20]))
    assert lo == low[10:21].min() and hi == h[10:21].max()


def test_candles_append_replace_and_log(qtbot, plot) -> None:
    x, o, h, low, c = _ohlc(5_000)
    item = CandlestickItem(up=UP, down=DOWN)
    item.opts["antialias"] = False  # exact colours: a window made earlier turns antialias on
    item.setData(x, o, h, low, c)
    plot.addItem(item)
    p = item.pyramid()
    item.appendBar(x[-1] + 60, 1000.0, 1100.0, 990.0, 1090.0)
    assert item.pyramid() is p and len(p) == 5001
    item.replaceLast(1000.0, 1200.0, 990.0, 1150.0)
    assert item.bar_at(x[-1] + 65) == (x[-1] + 60, 1000.0, 1200.0, 990.0, 1150.0)
    plot.getViewBox().autoRange()
    _settle(qtbot, plot)
    assert item.dataBounds(1)[1] == 1200.0
    plot.setLogMode(y=True)
    assert item.dataBounds(1)[1] == pytest.approx(math.log10(1200.0))
    plot.getViewBox().autoRange()
    _settle(qtbot, plot)
    rgb = _rgb(plot)
    assert _count(rgb, UP, 0) + _count(rgb, DOWN, 0) > 50


def test_items_in_a_plot_not_yet_on_screen_do_not_raise(qtbot):
    # Outside a scene shown by a view, pyqtgraph reports a pixel size of (None, None); found in
    # the app's start-up, where plots get their items before the layout holds them.
    plot = pg.PlotItem()
    for item in (LodCurveItem(), CandlestickItem()):
        plot.addItem(item)
        item.setPyramid(MinMaxPyramid.build(np.arange(5.0), np.arange(5.0))
                        if isinstance(item, LodCurveItem) else
                        OhlcPyramid.build(*(np.arange(5.0),) * 5))
        item.viewTransformChanged()
        item.prepareForPaint()


class _CountingPlot(pg.PlotWidget):
    paints = 0

    def paintEvent(self, event):
        super().paintEvent(event)
        self.paints += 1


def _paints_per_pan(qtbot, view_box, auto_visible_y: bool = False) -> list[int]:
    from PySide6.QtWidgets import QApplication

    w = _CountingPlot(viewBox=view_box)
    w.resize(480, 320)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.getPlotItem().setAutoVisible(y=auto_visible_y)
    x = np.arange(100_000.0)
    w.addItem(LodCurveItem(MinMaxPyramid.build(x, np.sin(x / 500.0) * x)))
    counts = []
    for step in range(5):
        w.setXRange(10_000 + step * 1000, 60_000 + step * 1000, padding=0)
        before = w.paints
        for _ in range(6):  # settle: several event-loop rounds
            QApplication.processEvents()
            qtbot.wait(5)
        counts.append(w.paints - before)
    return counts[1:]


def test_prompt_view_box_pans_with_one_paint_where_pyqtgraph_needs_two(qtbot):
    from ui.charts.viewbox import PromptViewBox

    assert set(_paints_per_pan(qtbot, PromptViewBox())) == {1}
    assert max(_paints_per_pan(qtbot, pg.ViewBox())) == 2  # docs/performance.md, S1
    # as the price charts run: y auto-ranged to the visible rows, re-ranged by every pan
    assert set(_paints_per_pan(qtbot, PromptViewBox(), auto_visible_y=True)) == {1}


def test_bands_fill_only_their_intervals_over_the_full_height(qtbot, plot) -> None:
    plot.setXRange(0, 100, padding=0)
    plot.setYRange(-5, 5, padding=0)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    bands = BandsItem(PEN)
    # Unsorted and overlapping on purpose; (120, 130) is out of view.
    bands.setBands([(60, 70), (10, 20), (15, 30), (120, 130)])
    plot.addItem(bands, ignoreBounds=True)
    _settle(qtbot, plot)
    vb = plot.getViewBox()
    assert [(r.left(), r.right()) for r in bands.visibleRects()] == [(10, 20), (15, 30), (60, 70)]

    rgb = _rgb(plot)
    offset = vb.mapToView(vb.rect().topLeft())  # view box origin inside the widget
    origin = vb.mapToScene(vb.rect().topLeft())
    assert offset.x() == pytest.approx(0, abs=1)

    def column(x: float) -> np.ndarray:
        px = int(vb.mapViewToScene(pg.Point(x, 0)).x())
        top = int(origin.y()) + 2
        bottom = int(origin.y() + vb.height()) - 2
        return rgb[top:bottom, px]

    for inside in (12, 25, 65):
        assert (np.abs(column(inside) - PEN).sum(axis=1) == 0).all(), inside
    for outside in (5, 40, 90):
        assert _count(column(outside)[None], PEN, tol=0) == 0, outside

    vb.setXRange(100, 200, padding=0)  # pan: the far band comes into view, the others leave
    _settle(qtbot, plot)
    assert [(r.left(), r.right()) for r in bands.visibleRects()] == [(120, 130)]
    bands.setBands([])
    assert bands.boundingRect().isEmpty() and bands.bandCount() == 0


def test_grid_lines_sit_on_the_axis_ticks_and_survive_clear(qtbot) -> None:
    from ui.charts.axes import UtcDateAxisItem
    from ui.charts.grid import GridLinesItem

    w = pg.PlotWidget(axisItems={"bottom": UtcDateAxisItem()})
    w.resize(800, 400)
    qtbot.addWidget(w)
    plot = w.getPlotItem()
    grid = GridLinesItem(plot, "#ffffff", 0.5)
    w.setXRange(1.7e9, 1.7e9 + 30 * 86400, padding=0)
    w.setYRange(0, 100, padding=0)
    # Asked before the date axis ever painted (a hidden axis never does): no exception.
    w.show()
    qtbot.waitExposed(w)
    w.getViewBox().prepareForPaint()
    levels = grid.line_levels()
    assert levels
    vertical = sorted(ln.x1() for _a, lines in levels for ln in lines if ln.x1() == ln.x2())
    horizontal = sorted(ln.y1() for _a, lines in levels for ln in lines if ln.y1() == ln.y2())
    ticks_x = {v for _s, vs in plot.getAxis("bottom").tickValues(1.7e9, 1.7e9 + 30 * 86400, 800)
               for v in vs if 1.7e9 <= v <= 1.7e9 + 30 * 86400}
    assert set(vertical) == ticks_x
    assert {0.0, 20.0, 40.0, 60.0, 80.0, 100.0} <= set(horizontal)
    alphas = [a for a, _lines in levels]
    assert max(alphas) <= 0.5 and min(alphas) > 0
    plot.plot([1.7e9, 1.7e9 + 86400], [10, 20])
    plot.clear()  # what panels call to redraw their series
    assert grid.scene() is w.scene()



def test_the_grid_and_its_value_axis_compute_the_ticks_once(qtbot, monkeypatch) -> None:
    """The grid asks for the ticks over the axis' own length: one tick search a y range."""
    from ui.charts.axes import ValueAxisItem
    from ui.charts.grid import GridLinesItem

    w = pg.PlotWidget(axisItems={"left": ValueAxisItem()})
    w.resize(600, 400)
    qtbot.addWidget(w)
    plot = w.getPlotItem()
    grid = GridLinesItem(plot, "#ffffff", 0.5)
    w.show()
    qtbot.waitExposed(w)
    axis = plot.getAxis("left")
    searches = []
    real = pg.AxisItem.tickValues
    monkeypatch.setattr(pg.AxisItem, "tickValues", lambda self, *a: (
        searches.append(a) if self is axis else None, real(self, *a))[1])
    for top in (100.0, 130.0, 170.0):
        w.setYRange(0, top, padding=0)
        _settle(qtbot, w)
        horizontal = {ln.y1() for _a, lines in grid.line_levels() for ln in lines
                      if ln.y1() == ln.y2()}
        drawn = {v for _s, vs in axis._ticks for v in vs if 0 <= v <= top}
        assert len(drawn) >= 4 and horizontal == drawn  # the grid is at the axis' ticks
    assert len(searches) == 3  # one search a range: the axis and the grid share it

def test_the_crosshair_reuses_its_lines_when_a_dock_redraws_its_plots(qtbot) -> None:
    from ui.charts.crosshair import Crosshair

    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    top, bottom = widget.addPlot(row=0, col=0), widget.addPlot(row=1, col=0)
    crosshair = Crosshair(widget.scene())
    crosshair.set_plots([top, bottom])
    lines = list(crosshair._vlines)
    top.clear()  # a dock redrawing takes every item away, the lines too
    bottom.clear()
    crosshair.set_plots([top, bottom])
    assert crosshair._vlines == lines  # the same two lines, back in their plots
    assert lines[0] in top.items and lines[1] in bottom.items
    crosshair.set_plots([top])
    assert crosshair._vlines == lines[:1] and lines[1] not in bottom.items


def test_a_level_lines_label_stays_put_on_screen_as_the_view_pans(qtbot, plot) -> None:
    from ui.charts.levels import LevelLabels, LevelLine

    left = LevelLine(50.0, "gamma flip 50", "#00ffff", side="left", position=0.02)
    right = LevelLine(30.0, "support 30", "#ffffff", side="right", position=0.85)
    for line in (left, right):
        plot.addItem(line, ignoreBounds=True)
    LevelLabels(plot).show(plot.getPlotItem(), [(left, "gamma flip 50", "left"),
                                                (right, "support 30", "right")])
    vb = plot.getViewBox()
    vb.setYRange(0, 100, padding=0)
    _settle(qtbot, plot)
    origin = plot.viewportTransform().mapRect(vb.sceneBoundingRect())

    def on_screen(label):  # the text ignores the view's scaling: map it as the view does
        return label.deviceTransform(plot.viewportTransform()).mapRect(label.boundingRect())

    for x0 in (0.0, 400.0, -1234.5):
        vb.setXRange(x0, x0 + 1000.0, padding=0)
        _settle(qtbot, plot)
        box = on_screen(left.label)
        line_y = plot.viewportTransform().map(vb.mapViewToScene(pg.Point(0, 50.0))).y()
        assert box.left() == pytest.approx(origin.left() + 0.02 * origin.width() + 4, abs=1)
        assert box.bottom() == pytest.approx(line_y - 4, abs=1)
        box = on_screen(right.label)
        assert box.right() == pytest.approx(origin.left() + 0.85 * origin.width() - 4, abs=1)
        assert box.height() < 30 and box.width() > 30  # upright text at its own size
    right.label.setText("support 30 · call wall 31")  # merged: still ends at 85 %
    assert on_screen(right.label).right() == pytest.approx(
        origin.left() + 0.85 * origin.width() - 4, abs=1)


@pytest.mark.parametrize("inverted", [False, True])
def test_screen_lines_bounds_equal_pyqtgraphs(qtbot, plot, inverted: bool) -> None:
    from ui.charts.crosshair import ScreenLine

    vb = plot.getViewBox()
    vb.invertY(inverted)
    lines = [ScreenLine(pos=42.0, angle=0, pen=pg.mkPen(width=3)),
             ScreenLine(pos=1.7e9 + 500.0, angle=90), ScreenLine(pos=-3.0, angle=90)]
    for line in lines:
        plot.addItem(line, ignoreBounds=True)
    for (x0, x1), (y0, y1) in (((0.0, 10.0), (0.0, 100.0)), ((1.7e9, 1.7e9 + 900.0), (40.0, 45.0)),
                               ((-50.0, 2.0), (-1e6, 3e6))):
        vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        _settle(qtbot, plot)
        for line in lines:
            ours = line._computeBoundingRect()
            ends = line._endPoints
            theirs = pg.InfiniteLine._computeBoundingRect(line)
            for got, want in ((ours.left(), theirs.left()), (ours.right(), theirs.right()),
                              (ours.top(), theirs.top()), (ours.bottom(), theirs.bottom()),
                              (ends[0], line._endPoints[0]), (ends[1], line._endPoints[1])):
                # pyqtgraph's goes through the device transform (single-precision steps)
                span = max(x1 - x0, y1 - y0)
                assert got == pytest.approx(want, rel=1e-5, abs=1e-6 * span)
