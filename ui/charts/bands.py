"""Vertical bands across a plot's full height (e.g. periods of negative funding), as one item.

One `LinearRegionItem` per period cost ~0.6 ms each to build and one item each to paint; a year of
funding flips sign dozens of times on every stacked price plot. This item keeps the periods as two
sorted arrays and fills the visible ones with a single `drawRects` call.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from ui.charts.view_span import ViewSpanItem, blended


class BandsItem(ViewSpanItem):
    """Filled x-intervals [start, end] spanning the view's height. Not part of auto-range."""

    def __init__(self, brush: QtGui.QBrush | str | tuple, tooltip: str = "") -> None:
        super().__init__()
        self._brush = pg.mkBrush(brush)
        self._starts = np.empty(0)
        self._ends = np.empty(0)
        if tooltip:
            self.setToolTip(tooltip)

    def setBands(self, bands: Iterable[tuple[float, float]]) -> None:
        pairs = np.asarray([(min(a, b), max(a, b)) for a, b in bands], dtype=np.float64)
        pairs = pairs.reshape(-1, 2)
        pairs = pairs[np.isfinite(pairs).all(axis=1)]
        order = np.argsort(pairs[:, 0], kind="stable")
        self.prepareGeometryChange()
        self._starts = np.ascontiguousarray(pairs[order, 0])
        # The end searched for the first visible band must be monotonic even if bands overlap.
        self._ends = np.maximum.accumulate(pairs[order, 1]) if len(pairs) else np.empty(0)
        self._true_ends = np.ascontiguousarray(pairs[order, 1])
        self.update()

    def bandCount(self) -> int:
        return len(self._starts)

    def visibleRects(self) -> list[QtCore.QRectF]:
        """The bands inside the view, clipped to it, in item coordinates."""
        view = self.viewRect()
        if view is None or not len(self._starts):
            return []
        left, right = view.left(), view.right()
        first = int(np.searchsorted(self._ends, left, side="left"))
        last = int(np.searchsorted(self._starts, right, side="right"))
        top, height = view.top(), view.height()
        rects = []
        for start, end in zip(self._starts[first:last], self._true_ends[first:last], strict=True):
            x0, x1 = max(start, left), min(end, right)
            if x1 > x0:
                rects.append(QtCore.QRectF(x0, top, x1 - x0, height))
        return rects

    def boundingRect(self) -> QtCore.QRectF:  # only the stretch that holds bands
        view = self.viewRect()
        if view is None or not len(self._starts):
            return QtCore.QRectF()
        left = max(view.left(), float(self._starts[0]))
        right = min(view.right(), float(self._ends[-1]))
        if right <= left:
            return QtCore.QRectF()
        return QtCore.QRectF(left, view.top(), right - left, view.height()).normalized()

    def shape(self) -> QtGui.QPainterPath:  # hover and tooltips only over a band
        path = QtGui.QPainterPath()
        for rect in self.visibleRects():
            path.addRect(rect)
        return path

    def paint(self, painter: QtGui.QPainter, *_args: object) -> None:
        rects = self.visibleRects()
        if not rects:
            return
        # Axis-aligned fills need no antialiasing, and with it Qt rasterises each scaled rect
        # as a path: ~0.35 ms a band at full height, against ~0.3 µs (docs/performance.md).
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        # Only the background and the grid lie under the bands: blended onto the background
        # beforehand they fill ~25x faster than translucent, and hide the grid's faint lines
        # (docs/performance.md, issue 16).
        color = self._brush.color()
        backdrop = self.backdrop()
        if self._brush.style() == QtCore.Qt.BrushStyle.SolidPattern and backdrop is not None:
            painter.setBrush(blended(color, color.alphaF(), backdrop))
        else:
            painter.setBrush(self._brush)
        painter.drawRects(rects)
