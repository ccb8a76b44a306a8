"""Candlesticks drawn from an `OhlcPyramid` with a handful of batched QPainter calls per frame.

Per range change the pyramid returns the visible candles at the level whose candle is at most
~3 px wide (so never more than ~1.3 candles per pixel column, whatever the row count). They are
drawn as, per colour, one wick path (`connect='pairs'`) and, when bodies are at least 2 px wide,
one body path of closed rectangles filled and stroked by a single `drawPath`: at most 4 path
calls per frame. Narrower candles are drawn as high-low lines only. No item and no QPicture per
candle. The drawing is cached by (view range, pixel width, pyramid version, log mode), like
`LodCurveItem`.

Volume bars are not drawn here: a per-bucket volume sum is not part of `OhlcPyramid`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from models.lod import OhlcPyramid
from ui import theme
from ui.charts.lod_item import ViewCachedItem, _log10

BODY_FRACTION = 0.7  # body width as a share of the candle's slot
MIN_BODY_PX = 2.0  # narrower bodies are not drawn: high-low lines only


class CandlestickItem(ViewCachedItem):
    """OHLC candles from an `OhlcPyramid`; up (close >= open) and down colours."""

    def __init__(self, pyramid: OhlcPyramid | None = None, *, up: Any = None,
                 down: Any = None, name: str | None = None) -> None:
        super().__init__(name)
        self._pyramid: OhlcPyramid | None = None
        self._paths: list[tuple[int, QtGui.QPainterPath | None, QtGui.QPainterPath | None]] = []
        self._candles: Any = None
        # the theme's colours when built (not when this module was imported)
        self.setColors(theme.UP if up is None else up, theme.DOWN if down is None else down)
        if pyramid is not None:
            self.setPyramid(pyramid)

    # -- data ---------------------------------------------------------------------------------
    def pyramid(self) -> OhlcPyramid | None:
        return self._pyramid

    def setPyramid(self, pyramid: OhlcPyramid | None) -> None:
        """Show `pyramid` (built anywhere, owned by the GUI thread from now on): O(1)."""
        self._pyramid = pyramid
        self._data_changed()

    def setData(self, x: Any, o: Any, h: Any, low: Any, c: Any) -> None:
        """Convenience for small data: copies the columns and builds a pyramid here."""
        cols = [np.array(a, dtype=np.float64) for a in (x, o, h, low, c)]
        self.setPyramid(OhlcPyramid.build(*cols))

    def clear(self) -> None:
        self.setPyramid(None)

    def appendBar(self, x: Any, o: Any, h: Any, low: Any, c: Any) -> None:
        """Append one or more bars after the last one: O(rows + levels), then a repaint."""
        if self._pyramid is None:
            self.setData(*(np.atleast_1d(a) for a in (x, o, h, low, c)))
            return
        self._pyramid.append(x, o, h, low, c)
        self._data_changed()

    def replaceLast(self, o: float, h: float, low: float, c: float) -> None:
        """Update the forming bar: O(bucket + levels)."""
        if self._pyramid is None:
            raise IndexError("replaceLast without data")
        self._pyramid.replace_last(o, h, low, c)
        self._data_changed()

    def setColors(self, up: Any, down: Any) -> None:
        self._pens = [pg.mkPen(up), pg.mkPen(down)]
        for pen in self._pens:
            pen.setCosmetic(True)
        self._brushes = [pg.mkBrush(up), pg.mkBrush(down)]
        self.opts["pen"] = self._pens[0]
        self.opts["brush"] = self._brushes[0]
        self.update()

    def candles(self) -> Any:
        """The `models.lod.Candles` drawn for the current view (None before the first view)."""
        self._ensure()
        return self._candles

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, close) of the candles drawn for the current view."""
        self._ensure()
        if self._candles is None:
            return np.empty(0), np.empty(0)
        return self._candles.x, self._candles.close

    def bar_at(self, x: float) -> tuple[float, float, float, float, float] | None:
        """(x, open, high, low, close) of the row nearest to data-x `x` (crosshair readout)."""
        p = self._pyramid
        if p is None or not len(p):
            return None
        xs = p.column("x")
        i = int(np.searchsorted(xs, x, "right")) - 1
        if i < 0:
            i = 0
        elif i + 1 < len(xs) and xs[i + 1] - x < x - xs[i]:
            i += 1
        return (float(xs[i]), *(float(p.column(k)[i]) for k in "ohlc"))

    # -- ViewCachedItem hooks -----------------------------------------------------------------
    def _source(self) -> OhlcPyramid | None:
        return self._pyramid

    def _pyramid_bounds(self) -> tuple[float, float, float, float] | None:
        return self._pyramid.bounds()

    def _y_range(self, x0: float, x1: float) -> tuple[float, float]:
        half = self._pyramid.bar_width / 2
        return self._pyramid.y_range(x0 - half, x1 + half)

    def _min_positive_y(self) -> float | None:
        low = self._pyramid.column("l")
        pos = low[low > 0]
        return float(pos.min()) if len(pos) else None

    def _clear_drawing(self) -> None:
        self._paths = []
        self._candles = None

    def _build(self, x0: float, x1: float, n_px: int) -> None:
        cd = self._pyramid.query(x0, x1, n_px)
        self._candles = cd
        self._paths = []
        if not len(cd.x):
            return
        half = cd.width * BODY_FRACTION / 2
        body_px = 2 * half * n_px / (x1 - x0)
        cx, left, right = cd.x, cd.x - half, cd.x + half
        o, h, lo, c = cd.open, cd.high, cd.low, cd.close
        if self._log[0]:
            cx, left, right = _log10(cx), _log10(left), _log10(right)
        if self._log[1]:
            o, h, lo, c = _log10(o), _log10(h), _log10(lo), _log10(c)
        ok = np.isfinite(cx) & np.isfinite(h) & np.isfinite(lo)
        thin = body_px < MIN_BODY_PX
        if not thin:
            ok &= np.isfinite(left) & np.isfinite(right) & np.isfinite(o) & np.isfinite(c)
        up = cd.close >= cd.open
        for colour, sel in ((0, ok & up), (1, ok & ~up)):
            idx = np.flatnonzero(sel)
            if not len(idx):
                continue
            k = len(idx)
            wx = np.repeat(cx[idx], 2)
            wy = np.empty(2 * k)
            wy[0::2] = lo[idx]
            wy[1::2] = h[idx]
            wicks = pg.arrayToQPath(wx, wy, connect="pairs", finiteCheck=False)
            bodies = None
            if not thin:
                lx, rx, oo, cc = left[idx], right[idx], o[idx], c[idx]
                bx = np.empty((k, 5))
                by = np.empty((k, 5))
                bx[:, 0], bx[:, 1], bx[:, 2], bx[:, 3], bx[:, 4] = lx, rx, rx, lx, lx
                by[:, 0], by[:, 1], by[:, 2], by[:, 3], by[:, 4] = oo, oo, cc, cc, oo
                conn = np.ones((k, 5), dtype=np.int32)
                conn[:, 4] = 0
                bodies = pg.arrayToQPath(bx.ravel(), by.ravel(), connect=conn.ravel(),
                                         finiteCheck=False)
            self._paths.append((colour, wicks, bodies))

    def _x_extra(self) -> float:
        return 0.0

    def paint(self, p: QtGui.QPainter, opt: Any, widget: Any) -> None:
        if not self._ensure() or not self._paths:
            return
        if self.opts["antialias"]:
            p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        for colour, wicks, bodies in self._paths:
            p.setPen(self._pens[colour])
            p.drawPath(wicks)
            if bodies is not None:
                p.setBrush(self._brushes[colour])
                p.drawPath(bodies)
