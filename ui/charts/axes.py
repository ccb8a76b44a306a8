"""Axes shared by the charts."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems import DateAxisItem as pg_date_axis
from PySide6 import QtCore, QtGui

from ui import time_display
from ui.charts.axis_format import compact, tick_labels

_UTC_MARK = "(UTC)"
_HOUR = pg_date_axis.HOUR_SPACING


class _FixedOffsetZoomLevel(pg_date_axis.ZoomLevel):
    """pyqtgraph's zoom level, without its per-tick QDateTime round trips when the offset is
    fixed: there, it converts every tick to a local time and then discards the result for the
    fixed offset (two QDateTime conversions a tick, ~40 % of a stacked pan's tick work)."""

    def moveTicksToLocalTimeCoords(self, ticks: np.ndarray, spacing: int,
                                   skipFactor: int) -> np.ndarray:
        if self.utcOffset is not None and len(ticks) and (
                spacing > _HOUR or (spacing == _HOUR and skipFactor > 1)):
            return ticks + self.utcOffset  # what pyqtgraph computes, in one step
        return super().moveTicksToLocalTimeCoords(ticks, spacing, skipFactor)


def _fixed_offset_levels(levels: OrderedDict) -> OrderedDict:
    out = OrderedDict()
    for spacing, level in levels.items():
        out[spacing] = _FixedOffsetZoomLevel(level.tickSpecs, level.exampleText)
    return out


_ZOOM_LEVELS: OrderedDict | None = None  # shared by every date axis (built once)
#: the last few date-tick computations: the stacked plots and their grids ask for the same
#: ticks (same range, same width) up to eight times a frame (docs/performance.md, issue 16)
_DATE_TICKS: OrderedDict = OrderedDict()
_DATE_TICKS_KEPT = 16
_DATE_LABELS: OrderedDict = OrderedDict()  # (tick values, format, zone) -> labels


class FrameOnlyMixin:
    """`set_frame_only()`: the axis draws its line and nothing else, and a range change does
    not repaint it. For the axes that only frame a plot (the price dock's right edge, the time
    axis between stacked plots): pyqtgraph rebuilt their ticks on every pan, ~a third of a
    four-plot pan's axis work (docs/performance.md, issue 16). Their tick values stay
    available to the grid (`tickValues`)."""

    _frame_only = False

    def set_frame_only(self, on: bool = True) -> None:
        self._frame_only = on
        self.setStyle(showValues=not on)
        self.picture = None
        self.update()

    def generateDrawSpecs(self, p: QtGui.QPainter) -> Any:
        if not self._frame_only:
            return super().generateDrawSpecs(p)
        explicit = self._tickLevels
        self._tickLevels = []  # pyqtgraph's explicit-ticks path with none: the line only
        try:
            return super().generateDrawSpecs(p)
        finally:
            self._tickLevels = explicit

    _brect_for: tuple | None = None
    _brect: Any = None

    def boundingRect(self) -> Any:
        # Qt asks an axis for its rect dozens of times a frame (~50 on the four-plot dock);
        # pyqtgraph maps its geometry each time. Without pyqtgraph's grid it depends only on
        # the geometry and the tick style.
        if self.grid is not False:
            return super().boundingRect()
        geo = self.geometry()
        key = (geo.x(), geo.y(), geo.width(), geo.height(), self.style["tickLength"],
               self.style["hideOverlappingLabels"], self.orientation)
        if key != self._brect_for:
            self._brect, self._brect_for = super().boundingRect(), key
        return QtCore.QRectF(self._brect)

    def setRange(self, mn: float, mx: float) -> None:
        if self._frame_only and self.picture is not None:
            self.range = [mn, mx]  # the line does not move with the range (a resize redraws)
            return
        super().setRange(mn, mx)


class FrameAxisItem(FrameOnlyMixin, pg.AxisItem):
    """A plain axis that only frames its plot (see `FrameOnlyMixin`)."""

    def __init__(self, orientation: str = "right", **kwargs: Any) -> None:
        super().__init__(orientation=orientation, **kwargs)
        self.set_frame_only(True)


class ZonedDateAxisItem(FrameOnlyMixin, pg.DateAxisItem):
    """pyqtgraph's date axis in the display zone (`ui/time_display.py`), whose tick values can
    be asked for before it has painted.

    Ticks are placed for the zone's offset in the middle of the view and each is labelled with
    its own instant's offset, so across a daylight-saving change the labels stay true (pyqtgraph's
    fixed `utcOffset` would shift the other side by an hour). A title such as "time (UTC)" names
    the zone shown: "time (New York)".

    DateAxisItem learns its font metrics only while painting and raises AttributeError from
    `tickValues` until then; the grid asks earlier (a hidden axis never paints), and an
    exception inside a paint override is where PySide6 crashes.
    """

    def __init__(self, orientation: str = "bottom") -> None:
        super().__init__(orientation=orientation, utcOffset=0)
        global _ZOOM_LEVELS
        if _ZOOM_LEVELS is None:
            _ZOOM_LEVELS = _fixed_offset_levels(self.zoomLevels)
        self.zoomLevels = _ZOOM_LEVELS
        self.fontMetrics = QtGui.QFontMetrics(self.style["tickFont"] or QtGui.QFont())
        self._title_template = ""  # the title as the panel wrote it, with "(UTC)" in it
        time_display.on_zone_changed(self._on_zone_changed)

    def setLabel(self, text: str | None = None, *args: Any, **kwargs: Any) -> None:
        self._title_template = text if text and _UTC_MARK in text else ""
        if self._title_template:
            text = self._zoned_title()
        super().setLabel(text, *args, **kwargs)

    def _zoned_title(self) -> str:
        return self._title_template.replace(_UTC_MARK, f"({time_display.zone_label()})")

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        # pyqtgraph's offset is seconds west of UTC
        self.utcOffset = -time_display.utc_offset_s((minVal + maxVal) / 2)
        key = (minVal, maxVal, size, self.utcOffset, self.orientation,
               self.fontMetrics.height(), self.fontMetrics.averageCharWidth(),
               time_display.zone_key())
        hit = _DATE_TICKS.get(key)
        if hit is None:
            values = super().tickValues(minVal, maxVal, size)
            hit = (self.zoomLevel, self.minSpacing, values)
            _DATE_TICKS[key] = hit
            while len(_DATE_TICKS) > _DATE_TICKS_KEPT:
                _DATE_TICKS.popitem(last=False)
        else:
            self.zoomLevel, self.minSpacing = hit[0], hit[1]
            self.zoomLevel.utcOffset = self.utcOffset
        return hit[2]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        spec = next((s for s in self.zoomLevel.tickSpecs if s.spacing == spacing), None)
        fmt = spec.format if spec is not None else "%Y-%m-%d %H:%M"
        # a pan at one zoom labels mostly the same ticks frame after frame (a strftime each)
        key = (tuple(values), fmt, time_display.zone_key())
        hit = _DATE_LABELS.get(key)
        if hit is None:
            hit = _DATE_LABELS[key] = self._tick_strings(values, fmt)
            while len(_DATE_LABELS) > _DATE_TICKS_KEPT:
                _DATE_LABELS.popitem(last=False)
        return list(hit)

    @staticmethod
    def _tick_strings(values: list[float], fmt: str) -> list[str]:
        out = []
        for value in values:
            try:
                text = time_display.to_datetime(value).strftime(fmt)
            except (OverflowError, ValueError, OSError):
                out.append("")
                continue
            if "%f" in fmt:
                text = text[:-3]  # milliseconds
            elif "%Y" in fmt:
                text = text.lstrip("0")
            out.append(text)
        return out

    def _on_zone_changed(self) -> None:
        if self._title_template:
            self.labelText = self._zoned_title()
            self._updateLabel()
        self.picture = None  # ticks are redrawn
        self.update()


#: the name the panels import
UtcDateAxisItem = ZonedDateAxisItem


class ValueAxisItem(FrameOnlyMixin, pg.AxisItem):
    """A value axis written compactly ("70k", "$40M"; `ui.charts.axis_format`), on linear and
    on log scales (pyqtgraph hands log axes the log10 of each tick).

    On a log axis spanning less than a decade pyqtgraph marks only the 1-9 × 10ⁿ values, often
    one or none in view (the S&P 500 between 6,750 and 7,000): there, evenly spaced prices are
    marked instead.
    """

    def __init__(self, orientation: str = "left", currency: str = "", **kwargs) -> None:
        super().__init__(orientation=orientation, **kwargs)
        self.currency = currency
        self._ticks_for: tuple | None = None
        self._ticks: list = []

    def tickValues(self, minVal, maxVal, size):
        # The plot's grid asks for the ticks the axis draws, in the same frame: found once.
        key = (minVal, maxVal, size, self.logMode, self.scale, self._tickSpacing)
        if key != self._ticks_for:
            self._ticks, self._ticks_for = super().tickValues(minVal, maxVal, size), key
        return self._ticks

    def tickStrings(self, values, scale, spacing):
        if self.logMode:
            return self.logTickStrings(values, scale, spacing)
        return tick_labels([v * scale for v in values], (spacing or 0) * scale, self.currency)

    def logTickStrings(self, values, scale, spacing):
        prices = [10.0 ** v * scale for v in values]
        gaps = np.diff(np.sort(prices))
        gaps = gaps[gaps > 0]
        if not len(gaps):
            return [compact(p, self.currency) for p in prices]
        step = float(f"{gaps.min():.6g}")  # 10**log10(x) is x only to rounding
        return tick_labels(prices, step, self.currency)

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        ticks = super().logTickValues(minVal, maxVal, size, stdTicks)
        shown = sum(1 for _s, values in ticks for v in values if minVal <= v <= maxVal)
        if shown >= MIN_LOG_TICKS or not (np.isfinite(minVal) and np.isfinite(maxVal)):
            return ticks
        prices = even_ticks(10.0 ** minVal, 10.0 ** maxVal, MIN_LOG_TICKS + 1)
        return [(None, [float(np.log10(p)) for p in prices])] if len(prices) else ticks


MIN_LOG_TICKS = 3


class MirroredValueAxisItem(ValueAxisItem):
    """A value axis for a chart drawn both ways from zero (short liquidations above, long below):
    each tick shows its magnitude ("$40M" on both sides)."""

    def tickStrings(self, values, scale, spacing):
        return [text.replace("-", "", 1).replace("−", "", 1)
                for text in super().tickStrings([abs(v) for v in values], scale, spacing)]


def even_ticks(low: float, high: float, count: int) -> list[float]:
    """At least `count` round values (the largest step of 1, 2, 2.5 or 5 × 10ⁿ that gives
    that many) from low to high."""
    if not (high > low > 0):
        return []
    raw = (high - low) / max(count, 1)
    power = 10.0 ** np.floor(np.log10(raw))
    step = max(m * power for m in (1.0, 2.0, 2.5, 5.0) if m * power <= raw)
    first = np.ceil(low / step) * step
    return [float(v) for v in np.arange(first, high + step * 1e-9, step) if v > 0]
