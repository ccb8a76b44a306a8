"""The price dock's compressed time axis on screen (docs/sessions-gaps.md).

`TimeMap` is the one place the dock converts between its plots' x and real time (UTC epoch
seconds): identity until a `GapAxis` (models/gap_axis.py) is set, then closed hours are
squeezed out of x. Everything that leaves the dock (the crosshair's instant, the linked x range,
the readout, the export) goes through `to_real_s`; everything that comes in (another dock's
cursor and range, an overlay's instants) through `to_x_s`.

`GapDateAxisItem` labels compressed x with true times: pyqtgraph picks the ticks over the real
span the view covers, each is placed at its compressed x, and ticks falling in closed time (all
at a break) are dropped. `BreakMarks` draws a faint dotted line at each break in view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF, Qt

from models.gap_axis import GapAxis
from ui import theme
from ui.charts.axes import ZonedDateAxisItem


class TimeMap:
    """Plot x <-> real time in seconds; identity while no axis is set."""

    def __init__(self) -> None:
        self.axis: GapAxis | None = None

    @property
    def active(self) -> bool:
        return self.axis is not None and len(self.axis) > 0

    def to_x_s(self, t_s: Any) -> Any:
        """Plot x of real instants (seconds); a scalar stays a float."""
        if not self.active:
            return t_s
        out = self.axis.to_x(np.asarray(t_s, dtype=np.float64) * 1e3) / 1e3
        return float(out) if np.ndim(out) == 0 else out

    def to_real_s(self, x: Any) -> Any:
        """Real instants (seconds) of plot x; a break reads as the open after it."""
        if not self.active:
            return x
        out = self.axis.to_real(np.asarray(x, dtype=np.float64) * 1e3) / 1e3
        return float(out) if np.ndim(out) == 0 else out

    def real_range(self, x0: float, x1: float) -> tuple[float, float]:
        return float(self.to_real_s(x0)), float(self.to_real_s(x1))

    def x_range(self, t0: float, t1: float) -> tuple[float, float]:
        return float(self.to_x_s(t0)), float(self.to_x_s(t1))


class GapDateAxisItem(ZonedDateAxisItem):
    """The dock's date axis: true times on compressed x (module note); a plain date axis while
    the map is the identity."""

    def __init__(self, time_map: TimeMap, orientation: str = "bottom") -> None:
        super().__init__(orientation=orientation)
        self.time_map = time_map

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        tm = self.time_map
        if not tm.active or maxVal <= minVal:
            return super().tickValues(minVal, maxVal, size)
        r0, r1 = tm.real_range(minVal, maxVal)
        # pick the real ticks as if the axis were as long as the real span it covers
        stretch = max(1.0, (r1 - r0) / (maxVal - minVal))
        levels = super().tickValues(r0, r1, size * stretch)
        min_gap = (maxVal - minVal) / max(size, 1.0) * 40  # px between labels, in x
        out = []
        for spacing, values in levels:
            t = np.asarray(values, dtype=np.float64)
            if not len(t):
                out.append((spacing, []))
                continue
            t = t[tm.axis.is_open(np.round(t * 1e3).astype(np.int64))]
            x = np.asarray(tm.to_x_s(t), dtype=np.float64)
            keep, last = [], -np.inf
            for value in x:  # ticks crowd where a closed stretch ends: keep them apart
                if value - last >= min_gap:
                    keep.append(float(value))
                    last = value
            out.append((spacing, keep))
        return out

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        real = [float(v) for v in np.atleast_1d(self.time_map.to_real_s(values))] if values \
            else []
        return super().tickStrings(real, scale, spacing)


class BreakMarks(pg.GraphicsObject):
    """A dotted vertical line at each break of the compressed axis inside the view."""

    def __init__(self, time_map: TimeMap) -> None:
        super().__init__()
        self.time_map = time_map
        self._pen = theme.pen(theme.MUTED, style=Qt.PenStyle.DotLine)
        self._pen.setCosmetic(True)
        self.setZValue(-5)

    def boundingRect(self) -> QRectF:
        vb = self.getViewBox()
        if vb is None:
            return QRectF()
        (x0, x1), (y0, y1) = vb.viewRange()
        return QRectF(x0, y0, x1 - x0, y1 - y0)

    def viewRangeChanged(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def visible_breaks(self) -> np.ndarray:
        vb = self.getViewBox()
        if vb is None or not self.time_map.active:
            return np.empty(0)
        (x0, x1), _ = vb.viewRange()
        xb, _closes, _opens = self.time_map.axis.breaks(x0 * 1e3, x1 * 1e3)
        if len(xb) > 400:  # zoomed far out: a break a day would grey the chart
            return np.empty(0)
        return xb / 1e3

    def paint(self, painter: Any, *_args: Any) -> None:
        xs = self.visible_breaks()
        if not len(xs):
            return
        vb = self.getViewBox()
        _, (y0, y1) = vb.viewRange()
        painter.setPen(self._pen)
        painter.drawLines([QLineF(x, y0, x, y1) for x in xs])
