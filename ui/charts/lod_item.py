"""A line item whose per-frame cost depends on the plot's pixel width, not on the row count.

`LodCurveItem` draws a `models.lod.MinMaxPyramid`: on a range change it asks the pyramid for at
most ~2 vertices per pixel column of the visible x range and strokes them as one QPainterPath.
The path is cached by (view range, pixel width, pyramid version, log mode), so pyqtgraph's second
paint after every range change (docs/performance.md, S1) costs only the stroke.

Hand-over from a worker: build the pyramid there (`MinMaxPyramid.build`, numpy only) and call
`setPyramid` on the GUI thread; it is O(1) (no copy, no scan: bounds come from the pyramid's
top level). Live updates go through `appendData` / `replaceLast`, O(levels). A built pyramid
adopts the caller's arrays, so its first append or replace_last copies all rows once into owned
buffers (~0.3 s at 10M rows): call `pyramid.reserve(extra)` on the worker before handing it over.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from models.lod import MinMaxPyramid

_EMPTY = np.empty(0, dtype=np.float64)
_NO_BOUNDS: tuple[None, None] = (None, None)


def _log10(a: np.ndarray) -> np.ndarray:
    """log10 with non-positive (and NaN) values mapped to NaN, without warnings."""
    out = np.full(a.shape, np.nan)
    np.log10(a, out=out, where=a > 0)
    return out


class ViewCachedItem(pg.GraphicsObject):
    """Shared machinery of the LOD items: view key, log mode, bounds, bounding rect padding.

    Subclasses implement `_pyramid_bounds()` (x_min, x_max, y_min, y_max in data units, or None),
    `_y_range(x0, x1)`, `_min_positive_y()`, `_build(x0, x1, n_px, dx)` (called with the visible
    data-space x range) and `paint`.
    """

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self._name = name
        self._log = (False, False)
        self._cache_key: tuple | None = None
        self._bounds_key: tuple | None = None
        self._bounds: tuple[float, float, float, float] | None = None
        self._min_pos: tuple[Any, float | None] = (None, None)
        self._brect: QtCore.QRectF | None = None
        self._pad = (0.0, 0.0)  # bounding-rect padding in item units, only ever grown
        self.opts: dict[str, Any] = {
            "name": name, "pen": None, "brush": None, "symbol": None, "fillLevel": None,
            "fillBrush": None, "antialias": pg.getConfigOption("antialias"),
        }

    # -- pyqtgraph plot-data protocol (legend, PlotItem.addItem) --------------------------------
    def implements(self, interface: str | None = None) -> bool | list[str]:
        ints = ["plotData"]
        if interface is None:
            return ints
        return interface in ints

    def name(self) -> str | None:
        return self._name

    def setAlpha(self, alpha: float, auto: bool) -> None:  # PlotItem context menu
        self.setOpacity(alpha)

    def setFftMode(self, state: bool) -> None:  # PlotItem context menu: not supported
        pass

    def setSubtractMeanMode(self, state: bool) -> None:
        pass

    def setDownsampling(self, ds: Any = None, auto: Any = None, method: Any = None) -> None:
        pass  # always downsampled by the pyramid

    def setClipToView(self, state: bool) -> None:
        pass  # always clipped to the view

    # -- state changes ------------------------------------------------------------------------
    def _data_changed(self) -> None:
        """The pyramid (or its content) changed: new bounds, new path, repaint."""
        self._cache_key = None
        self._bounds_key = None
        self._brect = None
        self.prepareGeometryChange()
        self.informViewBoundsChanged()
        self.update()

    def setLogMode(self, xState: bool, yState: bool) -> None:
        log = (bool(xState), bool(yState))
        if log == self._log:
            return
        self._log = log
        self._data_changed()

    def logMode(self) -> tuple[bool, bool]:
        return self._log

    # -- view ---------------------------------------------------------------------------------
    def _view_key(self) -> tuple[float, float, int] | None:
        """(x0, x1) of the view in data units and its width in device pixels."""
        vb = self.getViewBox()
        if vb is None:
            return None
        (vx0, vx1), _ = vb.viewRange()
        width = vb.width()
        widget = self.getViewWidget()
        dpr = widget.devicePixelRatioF() if widget is not None else 1.0
        n_px = round(width * dpr)
        if n_px < 1 or not vx1 > vx0:
            return None
        if self._log[0]:
            if vx0 > 300 or vx1 < -300:
                return None
            vx0, vx1 = 10.0 ** vx0, 10.0 ** min(vx1, 300.0)
        return vx0, vx1, n_px

    def _ensure(self) -> bool:
        """Rebuild the cached drawing for the current view if anything it depends on changed."""
        view = self._view_key()
        key = None if view is None else (*view, self._version(), id(self._source()), self._log)
        if key == self._cache_key:
            return key is not None
        self._cache_key = key
        if view is None or self._source() is None:
            self._clear_drawing()
            return False
        x0, x1, n_px = view
        self._build(x0, x1, n_px)
        return True

    def prepareForPaint(self) -> None:
        """Build the drawing for the current view now (e.g. right after a range change)."""
        self._ensure()

    def viewTransformChanged(self) -> None:
        # Grow the padding of the bounding rect when a pixel became larger than a quarter of it
        # (zooming out); panning and zooming in never change the geometry.
        px = self.pixelSize()
        if px is None or px[0] is None or px[1] is None:  # no view yet, or a singular one
            return
        pw, ph = abs(px[0]), abs(px[1])
        if not (math.isfinite(pw) and math.isfinite(ph)):
            return
        if pw * 4 > self._pad[0] or ph * 4 > self._pad[1]:
            self._pad = (pw * 16, ph * 16)
            self._brect = None
            self.prepareGeometryChange()

    # -- bounds -------------------------------------------------------------------------------
    def _data_bounds(self) -> tuple[float, float, float, float] | None:
        key = (self._version(), id(self._source()))
        if key != self._bounds_key:
            self._bounds = self._pyramid_bounds() if self._source() is not None else None
            self._bounds_key = key
        return self._bounds

    def _min_positive(self) -> float | None:
        key = (self._version(), id(self._source()))
        if self._min_pos[0] != key:
            self._min_pos = (key, self._min_positive_y())
        return self._min_pos[1]

    def _map_y_bounds(self, lo: float, hi: float) -> tuple[float | None, float | None]:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return _NO_BOUNDS
        if self._log[1]:
            if hi <= 0:
                return _NO_BOUNDS
            if lo <= 0:
                mp = self._min_positive()
                lo = hi if mp is None else min(mp, hi)
            return math.log10(lo), math.log10(hi)
        return lo, hi

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None
                   ) -> tuple[float | None, float | None]:
        b = self._data_bounds()
        if b is None:
            return _NO_BOUNDS
        if ax == 0:
            lo, hi = b[0], b[1]
            if self._log[0]:
                if hi <= 0:
                    return _NO_BOUNDS
                return math.log10(max(lo, hi * 1e-12) if lo <= 0 else lo), math.log10(hi)
            return lo, hi
        if orthoRange is not None:
            a, z = float(orthoRange[0]), float(orthoRange[1])
            if self._log[0]:
                a, z = 10.0 ** min(a, 300.0), 10.0 ** min(z, 300.0)
            if z < a:
                a, z = z, a
            lo, hi = self._y_range(a, z)
        else:
            lo, hi = b[2], b[3]
        return self._map_y_bounds(lo, hi)

    def pixelPadding(self) -> float:
        pen = self.opts.get("pen")
        if pen is None or pen.style() == QtCore.Qt.PenStyle.NoPen or not pen.isCosmetic():
            return 0.0
        return max(pen.widthF(), 1.0) * 0.7072

    def boundingRect(self) -> QtCore.QRectF:
        if self._brect is None:
            (x0, x1), (y0, y1) = self.dataBounds(0), self.dataBounds(1)
            if x0 is None or y0 is None:
                self._brect = QtCore.QRectF()
            else:
                px, py = self._pad
                px = max(px, self._x_extra())
                self._brect = QtCore.QRectF(x0 - px, y0 - py, (x1 - x0) + 2 * px,
                                            (y1 - y0) + 2 * py)
        return self._brect

    def _x_extra(self) -> float:
        return 0.0

    # -- subclass hooks -----------------------------------------------------------------------
    def _source(self) -> Any:
        raise NotImplementedError

    def _version(self) -> int:
        src = self._source()
        return -1 if src is None else src.version

    def _pyramid_bounds(self) -> tuple[float, float, float, float] | None:
        raise NotImplementedError

    def _y_range(self, x0: float, x1: float) -> tuple[float, float]:
        raise NotImplementedError

    def _min_positive_y(self) -> float | None:
        raise NotImplementedError

    def _build(self, x0: float, x1: float, n_px: int) -> None:
        raise NotImplementedError

    def _clear_drawing(self) -> None:
        raise NotImplementedError


class LodCurveItem(ViewCachedItem):
    """One series drawn from a `MinMaxPyramid` with ≤ ~2 vertices per pixel column.

    NaN rows are line breaks (see `models.series.break_gaps`). `getData()` returns the vertices
    drawn for the current view; `xy_at(x)` the row nearest to x (crosshair readout).
    """

    def __init__(self, pyramid: MinMaxPyramid | None = None, *, pen: Any = None,
                 name: str | None = None) -> None:
        super().__init__(name)
        self._pyramid: MinMaxPyramid | None = None
        self._path: QtGui.QPainterPath | None = None
        self._xs = _EMPTY
        self._ys = _EMPTY
        self._wide_query: tuple[Any, ...] | None = None  # (key, width, lo, hi, xs, ys) of 3 views
        self.setPen(pg.getConfigOption("foreground") if pen is None else pen)
        if pyramid is not None:
            self.setPyramid(pyramid)

    # -- data ---------------------------------------------------------------------------------
    def pyramid(self) -> MinMaxPyramid | None:
        return self._pyramid

    def setPyramid(self, pyramid: MinMaxPyramid | None) -> None:
        """Show `pyramid` (built anywhere, owned by the GUI thread from now on): O(1)."""
        self._pyramid = pyramid
        self._data_changed()

    def setData(self, x: Any, y: Any) -> None:
        """Convenience for small data: copies x and y and builds a pyramid on this thread."""
        self.setPyramid(MinMaxPyramid.build(np.array(x, dtype=np.float64),
                                            np.array(y, dtype=np.float64)))

    def clear(self) -> None:
        self.setPyramid(None)

    def appendData(self, x: Any, y: Any) -> None:
        """Append rows (x after the last row): O(rows + levels), then a repaint."""
        if self._pyramid is None:
            self.setData(np.atleast_1d(x), np.atleast_1d(y))
            return
        self._pyramid.append(x, y)
        self._data_changed()

    def replaceLast(self, y: float) -> None:
        """Change the last row's value (the forming bar): O(bucket + levels)."""
        if self._pyramid is None:
            raise IndexError("replaceLast without data")
        self._pyramid.replace_last(y)
        self._data_changed()

    def setPen(self, *args: Any, **kwargs: Any) -> None:
        pen = pg.mkPen(*args, **kwargs)
        self.opts["pen"] = pen
        self.update()

    def pen(self) -> QtGui.QPen:
        return self.opts["pen"]

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        """The vertices drawn for the current view (log10 units in log mode)."""
        self._ensure()
        return self._xs, self._ys

    def xy_at(self, x: float, side: str = "nearest") -> tuple[float, float] | None:
        """The row at data-x `x`: the nearest one, or with side="before" the last row at or
        before x (the bar that contains x). None when empty or x is before the first row."""
        p = self._pyramid
        if p is None or not len(p):
            return None
        xs = p.x
        i = int(np.searchsorted(xs, x, "right")) - 1
        if side == "nearest":
            if i < 0:
                i = 0
            elif i + 1 < len(xs) and xs[i + 1] - x < x - xs[i]:
                i += 1
        elif side != "before":
            raise ValueError("side must be 'nearest' or 'before'")
        if i < 0:
            return None
        return float(xs[i]), float(p.y[i])

    # -- ViewCachedItem hooks -----------------------------------------------------------------
    def _source(self) -> MinMaxPyramid | None:
        return self._pyramid

    def _pyramid_bounds(self) -> tuple[float, float, float, float] | None:
        return self._pyramid.bounds()

    def _y_range(self, x0: float, x1: float) -> tuple[float, float]:
        return self._pyramid.y_range(x0, x1)

    def _min_positive_y(self) -> float | None:
        return self._pyramid.min_positive()

    def _clear_drawing(self) -> None:
        self._path = None
        self._xs = self._ys = _EMPTY

    def _build(self, x0: float, x1: float, n_px: int) -> None:
        # A pan at one zoom slices the vertices of a query three views wide, made when the
        # view left the last one (the pyramid query was ~3/4 of a line's per-frame build on
        # the price dock, docs/performance.md); a zoom, a resize or new data queries again.
        # In log-x the vertices are not in view units: query the view alone.
        if self._log[0]:
            self._build_exact(x0, x1, n_px)
            return
        width = x1 - x0
        key = (n_px, self._version(), id(self._source()), self._log)
        wide = self._wide_query
        if not (wide is not None and wide[0] == key and abs(width - wide[1]) <= 1e-9 * wide[1]
                and wide[2] <= x0 and x1 <= wide[3]):
            lo, hi = x0 - width, x1 + width
            xs, ys = self._pyramid.query(lo, hi, 3 * n_px)
            if self._log[1]:
                ys = _log10(ys)
            wide = self._wide_query = (key, width, lo, hi, xs, ys)
        xs, ys = wide[4], wide[5]
        # the vertices in view and one beyond each edge, so the line runs off the view
        i0 = max(int(np.searchsorted(xs, x0, "left")) - 1, 0)
        i1 = min(int(np.searchsorted(xs, x1, "right")) + 1, len(xs))
        self._set_vertices(xs[i0:i1], ys[i0:i1])

    def _build_exact(self, x0: float, x1: float, n_px: int) -> None:
        """The vertices of x0..x1 queried at n_px columns (no reuse)."""
        xs, ys = self._pyramid.query(x0, x1, n_px)
        if self._log[0]:
            xs = _log10(xs)
        if self._log[1]:
            ys = _log10(ys)
        self._set_vertices(xs, ys)

    def _set_vertices(self, xs: np.ndarray, ys: np.ndarray) -> None:
        self._xs, self._ys = xs, ys
        if len(xs) < 2:
            self._path = None
            return
        self._path = pg.arrayToQPath(xs, ys, connect="finite")

    def paint(self, p: QtGui.QPainter, opt: Any, widget: Any) -> None:
        if not self._ensure() or self._path is None:
            return
        if self.opts["antialias"]:
            p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setPen(self.opts["pen"])
        p.drawPath(self._path)
