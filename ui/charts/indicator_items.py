"""Chart items of the price dock's indicators (docs/indicators.md).

The indicator lines themselves are `LodCurveItem`s (ui/charts/lod_item.py): their per-frame cost
follows the pixels, not the rows. This module adds the volume profile drawn at the right edge of
the price plot, and the fixed guides of the RSI pane.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from models.indicators import VolumeProfile
from ui.charts.lod_item import LodCurveItem

#: the profile's longest bar, as a share of the plot's width
PROFILE_WIDTH = 0.22


class VolumeProfileItem(pg.GraphicsObject):
    """Horizontal bars of volume by price along the right edge of a ViewBox.

    A child of the ViewBox itself (not of its data group), so it takes no part in the plot's
    auto-range and its geometry is the view's rectangle; prices map to pixels through the view
    at paint time, so a pan costs a few dozen rectangles. The point of control (most volume) and
    the high-volume nodes get their own colours and a price label.
    """

    def __init__(self, vb: pg.ViewBox, *, fill: Any, node_fill: Any, poc_pen: Any,
                 text_color: str) -> None:
        super().__init__()
        self._vb = vb
        self._profile: VolumeProfile | None = None
        self._log = False
        self._fill = pg.mkBrush(fill)
        self._node_fill = pg.mkBrush(node_fill)
        self._poc_pen = pg.mkPen(poc_pen)
        self._text = QtGui.QColor(text_color)
        self.setParentItem(vb)
        self.setZValue(-5)  # behind the price line
        self.setFlag(self.GraphicsItemFlag.ItemIgnoresParentOpacity, True)
        vb.sigResized.connect(self._on_resized)
        vb.sigRangeChanged.connect(self._on_range)

    def profile(self) -> VolumeProfile | None:
        return self._profile

    def set_profile(self, profile: VolumeProfile | None, log_y: bool = False) -> None:
        self._profile = profile
        self._log = log_y
        self.update()

    def detach(self) -> None:
        for signal, slot in ((self._vb.sigResized, self._on_resized),
                             (self._vb.sigRangeChanged, self._on_range)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        scene = self.scene()
        self.setParentItem(None)
        if scene is not None:
            scene.removeItem(self)

    def _on_resized(self, *_args: Any) -> None:
        self.prepareGeometryChange()

    def _on_range(self, *_args: Any) -> None:
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._vb.boundingRect()

    def bars(self) -> list[tuple[QtCore.QRectF, int]]:
        """Each non-empty bin's rectangle in the ViewBox's pixels and its index."""
        prof = self._profile
        if prof is None or not len(prof.volume) or not prof.volume.max() > 0:
            return []
        rect = self._vb.boundingRect()
        longest = rect.width() * PROFILE_WIDTH
        right = rect.right()
        edges = prof.edges
        if self._log:
            if edges[0] <= 0:
                return []
            edges = np.log10(edges)
        top = prof.volume.max()
        out = []
        for k, vol in enumerate(prof.volume):
            if vol <= 0:
                continue
            y_lo = self._vb.mapFromView(QtCore.QPointF(0.0, float(edges[k]))).y()
            y_hi = self._vb.mapFromView(QtCore.QPointF(0.0, float(edges[k + 1]))).y()
            if not (math.isfinite(y_lo) and math.isfinite(y_hi)):
                continue
            width = longest * float(vol / top)
            y0, y1 = min(y_lo, y_hi), max(y_lo, y_hi)
            out.append((QtCore.QRectF(right - width, y0 + 0.5, width, max(y1 - y0 - 1.0, 1.0)),
                        k))
        return out

    def paint(self, p: QtGui.QPainter, *_args: Any) -> None:
        prof = self._profile
        bars = self.bars()
        if prof is None or not bars:
            return
        nodes = set(int(k) for k in prof.nodes)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        for rect, k in bars:
            p.setBrush(self._node_fill if k in nodes else self._fill)
            p.drawRect(rect)
        labelled = nodes | {prof.poc}
        p.setFont(QtGui.QFont(p.font().family(), 7))
        for rect, k in bars:
            if k not in labelled:
                continue
            if k == prof.poc:
                p.setPen(self._poc_pen)
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                p.drawRect(rect)
            p.setPen(self._text)
            price = float(prof.centres[k])
            tag = "POC " if k == prof.poc else "HVN "
            text = tag + _short_price(price)
            metrics = QtGui.QFontMetricsF(p.font())
            w = metrics.horizontalAdvance(text)
            p.drawText(QtCore.QPointF(rect.left() - w - 3, rect.center().y() + metrics.ascent()
                                      / 2 - 1), text)


def _short_price(price: float) -> str:
    if abs(price) >= 10_000:
        return f"{price / 1000:.1f}k"
    if abs(price) >= 100:
        return f"{price:,.0f}"
    return f"{price:.2f}"


def rsi_guides(plot: pg.PlotItem, pen: Any) -> list[pg.InfiniteLine]:
    """The 30 and 70 lines of an RSI pane (Wilder's oversold / overbought)."""
    lines = []
    for level in (30.0, 70.0):
        line = pg.InfiniteLine(pos=level, angle=0, movable=False, pen=pen)
        plot.addItem(line, ignoreBounds=True)
        lines.append(line)
    return lines


class IndicatorLineItem(LodCurveItem):
    """An indicator's line: the LOD line item at half its vertex density, over a range three
    views wide that is kept while the trader pans at one zoom.

    The price line keeps the min and the max of every pixel column (a wick must show). An
    indicator is smooth (an average, a VWAP): the min/max pairs of two-pixel columns draw the
    same picture within a pixel with half the vertices, so three views cost the stroke of 1.5
    views at full density, and a pan that stays inside that range (a view's width either way)
    skips the pyramid query (docs/indicators.md). A zoom, a resize or new data queries again.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wide: tuple[Any, ...] | None = None

    def _build(self, x0: float, x1: float, n_px: int) -> None:
        width = x1 - x0
        key = (n_px, self._version(), id(self._source()), self._log)
        wide = self._wide
        # the same zoom: a pan's width differs from the last one's only by rounding
        if wide is not None and wide[0] == key and abs(width - wide[1]) <= 1e-9 * wide[1] \
                and wide[2] <= x0 and x1 <= wide[3]:
            self._xs, self._ys, self._path = wide[4], wide[5], wide[6]
            return
        lo, hi = x0 - width, x1 + width
        self._build_exact(lo, hi, n_px * 3 // 2)  # three views at half the density
        self._wide = (key, width, lo, hi, self._xs, self._ys, self._path)
