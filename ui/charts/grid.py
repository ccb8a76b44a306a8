"""A plot's grid at its axes' tick values, drawn as one batch of cosmetic lines.

pyqtgraph's own grid (`PlotItem.showGrid`) is drawn by the axes, across the whole plot: on four
stacked plots a pan cost ~55 ms with it and ~11 ms without (`python -m bench --case stacked`),
and it was most of the window's first paint. This item asks the axes for the same tick values
and strokes each tick level with one `drawLines` call.
"""

from __future__ import annotations

import weakref

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from ui import time_display
from ui.charts.view_span import ViewSpanItem, blended

_AXIS_END_PX = 2.0


class GridLinesItem(ViewSpanItem):
    """Vertical lines at the bottom axis' ticks and horizontal ones at the left axis' ticks.

    Like pyqtgraph's grid, a finer tick level is fainter, and a level whose lines would crowd
    (under ~20 px apart) fades in proportion, so minor levels never hatch the plot.
    """

    def __init__(self, plot: pg.PlotItem, color: str, alpha: float) -> None:
        super().__init__()
        self._plot = weakref.ref(plot)  # the plot owns this item: no reference back
        self._color = QtGui.QColor(color)
        self._alpha = alpha
        # Added to the view box itself: PlotItem.clear(), which panels call to redraw their
        # series, leaves it in place.
        plot.vb.addItem(self, ignoreBounds=True)
        # under every series, band and level (after addItem, which sets it); the shaded bands
        # are filled opaque and hide it, as their translucent fill all but did
        self.setZValue(-100)
        self._levels_key: tuple[object, ...] | None = None
        self._levels: list[tuple[float, list[QtCore.QLineF]]] = []
        self._pens: dict[tuple[float, int | None], QtGui.QPen] = {}

    def line_levels(self) -> list[tuple[float, list[QtCore.QLineF]]]:
        """(opacity, lines) per tick level in view, coarsest first, in view coordinates."""
        view = self.viewRect()
        plot = self._plot()
        if plot is None or view is None or plot.vb.width() <= 0 or plot.vb.height() <= 0:
            return []
        view = view.normalized()
        left, right, top, bottom = view.left(), view.right(), view.top(), view.bottom()
        width, height = plot.vb.width(), plot.vb.height()
        # A streamed bar repaints the plot every second with the view unchanged: reuse the
        # lines (their tick search cost ~4 ms a paint). The zone moves the date ticks.
        key = (left, right, top, bottom, width, height, time_display.zone_label())
        if key == self._levels_key:
            return self._levels
        self._levels_key, self._levels = key, self._line_levels(plot, left, right, top,
                                                                bottom, width, height)
        return self._levels

    def _line_levels(self, plot: pg.PlotItem, left: float, right: float, top: float,
                     bottom: float, width: float,
                     height: float) -> list[tuple[float, list[QtCore.QLineF]]]:
        # An axis asks for its ticks over its length plus a pixel at each end (pyqtgraph's
        # AxisItem.generateDrawSpecs): asked with the same size, the axes' tick caches
        # (ui/charts/axes.py) answer the grid and the axis with one computation, not two.
        try:
            xs = plot.getAxis("bottom").tickValues(left, right, width + _AXIS_END_PX)
            ys = plot.getAxis("left").tickValues(top, bottom, height + _AXIS_END_PX)
        except (AttributeError, ValueError, OverflowError):  # never raise from paint
            return []
        out: list[tuple[float, list[QtCore.QLineF]]] = []
        for levels, low, high, length, vertical in ((xs, left, right, width, True),
                                                    (ys, top, bottom, height, False)):
            seen: set[float] = set()
            rank = 0  # among the levels with lines in view: a coarse level may have none
            for _spacing, values in levels:
                inside = [float(v) for v in values if low <= v <= high and float(v) not in seen]
                if not inside:
                    continue
                seen.update(inside)
                alpha = self._alpha / (rank + 1) * min(1.0, 0.05 * length / (len(inside) + 1))
                rank += 1
                lines = ([QtCore.QLineF(v, top, v, bottom) for v in inside] if vertical
                         else [QtCore.QLineF(left, v, right, v) for v in inside])
                out.append((alpha, lines))
        return out

    def _line_color(self, alpha: float, backdrop: QtGui.QColor | None) -> QtGui.QColor:
        """The grid colour at `alpha`, blended onto the backdrop beforehand when it is solid:
        the grid is the bottom-most item, and an opaque pen strokes ~5x faster."""
        return blended(self._color, alpha, backdrop)

    def paint(self, painter: QtGui.QPainter, *_args: object) -> None:
        levels = self.line_levels()
        if not levels:
            return
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        backdrop = self.backdrop()
        under = None if backdrop is None else backdrop.rgba()
        for alpha, lines in levels:
            key = (alpha, under)
            pen = self._pens.get(key)
            if pen is None:  # a level's fade depends on its line count: a few kept per plot
                pen = QtGui.QPen(self._line_color(alpha, backdrop), 1)
                pen.setCosmetic(True)
                if len(self._pens) > 32:
                    self._pens.clear()
                self._pens[key] = pen
            painter.setPen(pen)
            painter.drawLines(lines)
