"""Implied-move bands on a price plot (models/implied_move.py, docs/implied-move.md).

One item paints, for one asset: the past day bands (shaded ±1σ, ticks at ±2σ), the day and week
bands ahead of the last bar (shaded ±1σ boxes, lines at ±2σ, their edges labelled), the σ labels
of large moves, and the convention in the plot's bottom-left corner. Only what is in view is
painted, so a minute history's thousands of days cost nothing while panning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPen,
    QPolygonF,
    QStaticText,
    QTransform,
)

from models.asof import known_delay_ms
from models.assets import ASSETS
from models.catalog import find_spec
from models.ids import dvol_id
from models.implied_move import (
    CONVENTION,
    HORIZONS,
    MOVE_THRESHOLD_SIGMA,
    ImpliedView,
    implied_view,
)
from models.series import MS_PER_DAY, SeriesData
from ui import theme
from ui.charts.crosshair import format_price
from ui.time_display import format_time, zone_label

#: the most move labels one plot writes (the largest moves in view)
MAX_LABELS = 30
#: below this many pixels a day, the past bands are one outline without their ±2σ ticks
MIN_TICK_DAY_PX = 3.0

#: the assets with a DVOL series (BTC, ETH): the only ones that get bands
IMPLIED_STEMS: tuple[str, ...] = tuple(s for s in ASSETS if find_spec(dvol_id(s)) is not None)
DVOL_STEMS: dict[str, str] = {dvol_id(s): s for s in IMPLIED_STEMS}


def _color(hex_color: str, alpha: int) -> QColor:
    color = QColor(hex_color)
    color.setAlpha(alpha)
    return color


def convention_text(view: ImpliedView) -> str:
    """The line written on the chart: the IV used, each horizon's 1σ, the arithmetic."""
    if not view.forward:
        return "implied move: no DVOL known at the last bar"
    band = view.forward[0]
    parts = [f"{b.horizon} ±{b.sigma * 100:.2f} %" for b in view.forward]
    known = format_time(band.start_ms, "%d %b %H:%M")
    return (f"implied move from DVOL {band.iv:.1f} (known {known} {zone_label()}): 1σ "
            f"{' · '.join(parts)}\n"
            f"close·(1 ± kσ), σ = IV/100·√(days/365): shaded ±1σ, lines ±2σ · "
            f"labels: moves ≥ {MOVE_THRESHOLD_SIGMA:g}σ of the IV before them (d day, w week)")


class ImpliedBandsItem(pg.GraphicsObject):
    """Paints an `ImpliedView` (x in epoch seconds; y in price, or log10 price on a log
    axis)."""

    def __init__(self, log_scale: bool = False) -> None:
        super().__init__()
        self._log = log_scale
        self._view: ImpliedView | None = None
        self._rect = QRectF()
        self._text = ""
        self._shapes: tuple[np.ndarray, list[QRectF], list[QLineF]] = (np.empty(0), [], [])
        self._outlines: dict[int, QPolygonF] = {}
        self._static: dict[str, QStaticText] = {}
        self._ranked: list = []
        self._fill = _color(theme.IMPLIED, 46)
        self._fill_ahead = _color(theme.IMPLIED, 60)
        self._line = QPen(_color(theme.IMPLIED, 200), 1.0, Qt.PenStyle.DashLine)
        self._line.setCosmetic(True)
        self._tick = QPen(_color(theme.IMPLIED, 150), 1.0)
        self._tick.setCosmetic(True)
        self._font = QFont()
        self._font.setPointSizeF(8.0)
        self._ascent = QFontMetricsF(self._font).ascent()
        self.setToolTip("Implied-move bands from DVOL (Deribit implied vol): "
                        f"{CONVENTION}.\nShaded: ±1σ; dashed lines or ticks: ±2σ. Ahead of the "
                        "last bar: the next day and the next week; behind it: each UTC day's "
                        "band at its start.\nLabels: the moves over a UTC day (d) or seven days "
                        f"(w) of at least {MOVE_THRESHOLD_SIGMA:g}σ of the IV known before "
                        "them (docs/implied-move.md).")

    @property
    def view(self) -> ImpliedView | None:
        return self._view

    @property
    def text(self) -> str:
        return self._text

    def set_view(self, view: ImpliedView | None) -> None:
        self.prepareGeometryChange()
        self._view = view
        self._text = convention_text(view) if view is not None else ""
        self._rect = self._bounds()
        self._shapes = self._daily_shapes()
        self._static.clear()
        self._outlines = {}
        # the largest moves first: where labels would overlap, the larger one is written
        self._ranked = self._labels()
        self.informViewBoundsChanged()  # the y auto-range takes the bands in (dataBounds)
        self.update()

    def _y(self, price: np.ndarray | float) -> np.ndarray | float:
        return np.log10(price) if self._log else price

    def _bounds(self) -> QRectF:
        view = self._view
        if view is None:
            return QRectF()
        xs: list[float] = []
        ys: list[float] = []
        if len(view.daily):
            lo, hi = view.daily.edges(2)
            xs += [view.daily.start_ms[0] / 1e3, (view.daily.start_ms[-1] + MS_PER_DAY) / 1e3]
            ys += [float(np.min(lo)), float(np.max(hi))]
        for band in view.forward:
            lo, hi = band.edges(2)
            xs += [band.start_ms / 1e3, band.end_ms / 1e3]
            ys += [lo, hi]
        for move in view.moves:
            xs.append(move.end_ms / 1e3)
            ys.append(move.end_close)
        ys = [float(self._y(y)) for y in ys if y > 0]
        if not xs or not ys:
            return QRectF()
        return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))

    def boundingRect(self) -> QRectF:
        return self._rect

    def pixelPadding(self) -> float:
        """Room for the convention's two lines under the lowest band."""
        return QFontMetricsF(self._font).height() * 2 + 8 if self._view is not None else 0.0

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        """What the y auto-range should hold: the ±1σ day bands in view and the bands ahead out
        to ±2σ when they are in view (the ±2σ ticks of past days may leave the view)."""
        view = self._view
        if view is None:
            return None, None
        if ax == 0:
            rect = self._rect
            return (rect.left(), rect.right()) if rect.width() > 0 else (None, None)
        x0, x1 = orthoRange if orthoRange is not None else (-np.inf, np.inf)
        lows: list[float] = []
        highs: list[float] = []
        daily = view.daily
        if len(daily):
            starts = daily.start_ms / 1e3
            shown = (starts + 86400.0 >= x0) & (starts <= x1)
            if shown.any():
                lo, hi = daily.edges(1)
                lows.append(float(np.min(lo[shown])))
                highs.append(float(np.max(hi[shown])))
        for band in view.forward:
            if band.start_ms / 1e3 <= x1 and band.end_ms / 1e3 >= x0:
                lo, hi = band.edges(2)
                lows.append(lo)
                highs.append(hi)
        if not lows or min(lows) <= 0:
            return None, None
        return float(self._y(min(lows))), float(self._y(max(highs)))

    def paint(self, painter: QPainter, *_args: object) -> None:
        view = self._view
        vb = self.getViewBox()
        if view is None or vb is None:
            return
        (x0, x1), _ = vb.viewRange()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self._paint_daily(painter, view, x0, x1)
        self._paint_forward(painter, view)
        to_device = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setFont(self._font)
        self._paint_move_labels(painter, view, to_device, x0, x1)
        self._paint_forward_labels(painter, view, to_device, x1)
        self._paint_convention(painter, vb, to_device)
        painter.restore()

    def _daily_shapes(self) -> tuple[np.ndarray, list[QRectF], list[QLineF]]:
        """The past day bands' boxes (±1σ) and ticks (±2σ, two per day), built once per view:
        a frame slices the days in view and hands them to Qt in two calls."""
        daily = self._view.daily if self._view is not None else None
        if daily is None or not len(daily):
            return np.empty(0), [], []
        starts = daily.start_ms / 1e3
        lo1, hi1 = (self._y(e) for e in daily.edges(1))
        lo2, hi2 = (self._y(e) for e in daily.edges(2))
        boxes, ticks = [], []
        for x, a, b, c, d in zip(starts.tolist(), lo1.tolist(), hi1.tolist(), lo2.tolist(),
                                 hi2.tolist(), strict=True):
            boxes.append(QRectF(x, a, 86400.0, b - a))
            ticks.append(QLineF(x, c, x + 86400.0, c))
            ticks.append(QLineF(x, d, x + 86400.0, d))
        return starts, boxes, ticks

    def _outline_for(self, group: int) -> QPolygonF:
        """The past ±1σ day bands as one step polygon, `group` days a step (the lowest low and
        highest high of each group): a level of detail, built once per view and level."""
        outline = self._outlines.get(group)
        if outline is not None:
            return outline
        daily = self._view.daily if self._view is not None else None
        if daily is None or not len(daily):
            return QPolygonF()
        lo, hi = (np.asarray(self._y(e), dtype=np.float64) for e in daily.edges(1))
        starts = daily.start_ms / 1e3
        firsts = np.arange(0, len(starts), group)
        left = starts[firsts]
        right = np.append(starts[firsts[1:] - 1], starts[-1]) + 86400.0
        top, bottom = np.maximum.reduceat(hi, firsts), np.minimum.reduceat(lo, firsts)
        xs = np.concatenate([np.column_stack([left, right]).ravel(),
                             np.column_stack([left, right]).ravel()[::-1]])
        ys = np.concatenate([np.repeat(top, 2), np.repeat(bottom, 2)[::-1]])
        outline = QPolygonF([QPointF(x, y) for x, y in zip(xs.tolist(), ys.tolist(),
                                                            strict=True)])
        self._outlines[group] = outline
        return outline

    def _paint_daily(self, painter: QPainter, view: ImpliedView, x0: float, x1: float) -> None:
        starts, boxes, ticks = self._shapes
        if not len(starts):
            return
        a = max(int(np.searchsorted(starts, x0 - 86400.0)), 0)
        b = int(np.searchsorted(starts, x1, side="right"))
        if b <= a:
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._fill)
        day_px = painter.transform().m11() * 86400.0
        if day_px < MIN_TICK_DAY_PX:  # zoomed out: the envelope of groups of days
            group = 1 << max(0, math.ceil(math.log2(MIN_TICK_DAY_PX / max(day_px, 1e-9))))
            painter.drawPolygon(self._outline_for(group))
            return
        painter.drawRects(boxes[a:b])
        painter.setPen(self._tick)
        painter.drawLines(ticks[2 * a:2 * b])

    def _paint_forward(self, painter: QPainter, view: ImpliedView) -> None:
        # the week first: the day's box is drawn over it
        for band in sorted(view.forward, key=lambda b: -b.days):
            x, w = band.start_ms / 1e3, band.days * 86400.0
            lo1, hi1 = (float(self._y(v)) for v in band.edges(1))
            lo2, hi2 = (float(self._y(v)) for v in band.edges(2))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._fill_ahead)
            painter.drawRect(QRectF(x, lo1, w, hi1 - lo1))
            painter.setPen(self._line)
            painter.drawLine(QPointF(x, lo2), QPointF(x + w, lo2))
            painter.drawLine(QPointF(x, hi2), QPointF(x + w, hi2))
            painter.drawLine(QPointF(x + w, lo2), QPointF(x + w, hi2))
        if view.forward:
            centre = float(self._y(view.forward[0].centre))
            start = view.forward[0].start_ms / 1e3
            end = max(b.end_ms for b in view.forward) / 1e3
            painter.setPen(self._tick)
            painter.drawLine(QPointF(start, centre), QPointF(end, centre))

    def _text_at(self, painter: QPainter, left: float, baseline: float, text: str) -> None:
        """`text` laid out once per view (QStaticText): a frame only draws the glyphs."""
        static = self._static.get(text)
        if static is None:
            static = self._static[text] = QStaticText(text)
            static.prepare(QTransform(), self._font)
        painter.drawStaticText(QPointF(left, baseline - self._ascent), static)

    def _paint_forward_labels(self, painter: QPainter, view: ImpliedView, to_device,
                              x1: float) -> None:
        """Each band edge's price at its right end, when the week box is wide enough to hold
        them (zoomed out, the convention line still says the ±% of each)."""
        metrics = QFontMetricsF(self._font)
        week_px = HORIZONS["week"] * 86400.0 * to_device.m11()
        if week_px < metrics.horizontalAdvance("+2σ week 100,000") + 8:
            return
        painter.setPen(QColor(theme.FOREGROUND))
        right_px = to_device.map(QPointF(x1, 0.0)).x()
        for band in view.forward:
            x = band.end_ms / 1e3
            week = band.horizon == "week"
            for k in (1, 2):
                for edge in band.edges(k):
                    p = to_device.map(QPointF(x, float(self._y(edge))))
                    text = f"{'+' if edge > band.centre else '−'}{k}σ {band.horizon} " \
                           f"{format_price(edge)}"
                    w = metrics.horizontalAdvance(text)
                    # the week's at its end (inside), the day's just after the day box,
                    # or inside it when the view ends there
                    inside = week or p.x() + 3 + w > right_px
                    left = p.x() - w - 3 if inside else p.x() + 3
                    self._text_at(painter, left, p.y() - 2, text)

    def _labels(self) -> list[tuple[float, float, str, float, bool, bool]]:
        """Each move's label, largest |σ| first: (x, y, text, width px, up, weekly)."""
        if self._view is None:
            return []
        metrics = QFontMetricsF(self._font)
        ranked = sorted(self._view.moves, key=lambda m: -abs(m.size_sigma))
        return [(m.end_ms / 1e3, float(self._y(m.end_close)), m.label(),
                 metrics.horizontalAdvance(m.label()), m.size_sigma > 0, m.horizon == "week")
                for m in ranked]

    def _paint_move_labels(self, painter: QPainter, view: ImpliedView, to_device,
                           x0: float, x1: float) -> None:
        """The σ labels of the moves in view, larger moves first; a label that would overlap
        one already written is left out, and at most `MAX_LABELS` are written (a five-year
        view would be a smear of text)."""
        metrics = QFontMetricsF(self._font)
        line, ascent = metrics.height(), metrics.ascent()
        taken: list[QRectF] = []
        for x, y, text, w, up, weekly in self._ranked:
            if not x0 <= x <= x1:
                continue
            p = to_device.map(QPointF(x, y))
            step = line * (2.0 if weekly else 1.0)  # weekly labels a line further out
            base = p.y() - step if up else p.y() + step + ascent - line
            box = QRectF(p.x() - w / 2, base - ascent, w, line)
            if any(box.intersects(other) for other in taken):
                continue
            taken.append(box)
            painter.setPen(QColor(theme.UP if up else theme.DOWN))
            self._text_at(painter, box.left(), base, text)
            if len(taken) >= MAX_LABELS:
                break

    def _paint_convention(self, painter: QPainter, vb, to_device) -> None:
        if not self._text:
            return
        shown = vb.viewRect()  # data coordinates: top() is the lowest value shown
        corner = to_device.map(QPointF(shown.left(), shown.top()))
        metrics = QFontMetricsF(self._font)
        lines = self._text.split("\n")
        width = max(metrics.horizontalAdvance(line) for line in lines) + 8
        height = metrics.height() * len(lines) + 4
        box = QRectF(corner.x() + 2, corner.y() - height - 2, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_color(theme.BACKGROUND, 210))  # legible over the bars
        painter.drawRect(box)
        painter.setPen(QColor(theme.MUTED))
        for i, line in enumerate(lines):
            self._text_at(painter, box.left() + 4,
                          box.top() + 2 + metrics.ascent() + i * metrics.height(), line)


def compute_view(prices: SeriesData, bar_ms: int, dvol: SeriesData, dvol_series: str,
                 ) -> ImpliedView:
    """The view of one asset's shown series (on a worker: a minute history is millions of
    rows)."""
    return implied_view(prices.time, prices["close"], bar_ms, dvol.time, dvol["close"],
                        known_delay_ms(dvol_series))


def ahead_seconds(span_seconds: float) -> float:
    """Room right of the last bar for the week band: the week and a little, at most 30 % of
    the span shown (a 1W view keeps most of its width for the bars)."""
    return min(HORIZONS["week"] * 86400.0 * 1.06, span_seconds * 0.3)


class ImpliedBandsLayer:
    """The price dock's bands: one item per BTC/ETH plot, recomputed on a worker when the
    shown series or the DVOL changes. `run` is the scheduler's job runner."""

    def __init__(self, run: Callable[..., Any]) -> None:
        self._run = run
        self.items: dict[str, ImpliedBandsItem] = {}

    def attach(self, plots: Mapping[str, pg.PlotItem], log_scale: bool,
               ) -> list[tuple[pg.PlotItem, ImpliedBandsItem]]:
        """New items on the plots of the assets with a DVOL; the caller removes them."""
        self.items = {}
        added = []
        for stem, plot in plots.items():
            if stem not in IMPLIED_STEMS:
                continue
            item = ImpliedBandsItem(log_scale)
            item.setZValue(-5)  # under the price, over the funding shading
            plot.addItem(item)  # the y range holds the bands in view (dataBounds)
            self.items[stem] = item
            added.append((plot, item))
        return added

    def place(self, stem: str, prices: SeriesData | None, bar_ms: int | None,
              dvol: SeriesData | None) -> None:
        item = self.items.get(stem)
        if item is None:
            return
        if prices is None or not len(prices) or not bar_ms or dvol is None or not len(dvol):
            item.set_view(None)
            return

        def deliver(view: ImpliedView, stem: str = stem, item: ImpliedBandsItem = item) -> None:
            if self.items.get(stem) is item:  # not replaced by a redraw meanwhile
                item.set_view(view)

        self._run(f"implied:{stem}", compute_view, prices, int(bar_ms), dvol, dvol_id(stem),
                  on_result=deliver)
