"""Perpetual funding across five venues, as a trader reads leverage.

- lines: each venue's rate as annualised % (APR), the open-interest-weighted average in white,
  a zero line, and the average's negative stretches filled red (shorts paying longs);
- heatmap: venue × hour, diverging colours centred on zero;
- "now": the current/predicted rate per venue, sorted, with the time to the next funding.
Every venue's raw rate and settlement interval are kept; APR = rate × periods per year × 100.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.catalog import FUNDING_VENUES, venue_label
from models.funding import fill_oi_usd, funding_grid, per_8h
from models.ids import oi_id, price_id
from models.series import MS_PER_DAY, SeriesData
from ui import theme
from ui.charts.axes import UtcDateAxisItem
from ui.charts.heatmap import HeatmapItem
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.panels.base import Panel, UiContext, choice_buttons, elastic, stored_choice
from ui.panels.prices import FUNDING_NEGATIVE_KEY

ASSETS = ("btc", "eth")
WINDOWS_DAYS = {"7D": 7, "30D": 30, "90D": 90}
NOW_COLUMNS = ("Venue", "Rate", "Every", "Per 8h", "APR", "Next funding", "Mark", "OI (USD)")


@dataclass(frozen=True)
class _Computed:
    asset: str
    average: SeriesData
    note: str
    hours: np.ndarray
    grid: np.ndarray
    venues: list[str]
    btc_negative: list[tuple[int, int]]


def _compute(asset: str, series: dict[str, SeriesData], oi: dict[str, SeriesData],
             start_ms: int, end_ms: int, btc_series: dict[str, SeriesData],
             btc_oi: dict[str, SeriesData]) -> _Computed:
    from models.funding import average_funding, negative_periods  # on the worker

    average, note = average_funding(series, oi or None) if series else (SeriesData.empty(), "")
    hours, grid, venues = funding_grid(series, start_ms, end_ms)
    btc_avg = average if asset == "btc" else (
        average_funding(btc_series, btc_oi or None)[0] if btc_series else SeriesData.empty())
    return _Computed(asset, average, note, hours, grid, venues,
                     negative_periods(btc_avg) if len(btc_avg) else [])


class _SortItem(QTableWidgetItem):
    """Sorts by the number behind the text, not the text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a = self.data(Qt.ItemDataRole.UserRole)
        b = other.data(Qt.ItemDataRole.UserRole)
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a < b
        return super().__lt__(other)


def countdown(next_ms: float, now_ms: int) -> str:
    if not np.isfinite(next_ms):
        return "–"
    left = int((next_ms - now_ms) / 1000)
    if left <= 0:
        return "settling"
    h, rem = divmod(left, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


class FundingPanel(Panel):
    key = "funding"
    title = "Funding rates"
    series_ids = tuple(f"funding.{v}.{a}" for a in ASSETS for v in FUNDING_VENUES) + tuple(
        f"fundingnow.{v}.{a}" for a in ASSETS for v in FUNDING_VENUES)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        self.asset = stored_choice(ctx.settings, "funding/asset", ASSETS, "btc")
        self.window_key = stored_choice(ctx.settings, "funding/window", WINDOWS_DAYS, "30D")
        self.computed: _Computed | None = None
        self._curves: dict[str, LodCurveItem] = {}

        bar = QHBoxLayout()
        self._asset_group = choice_buttons(self, bar, ASSETS, self.asset, self._on_asset,
                                           str.upper)
        bar.addSpacing(10)
        self._window_group = choice_buttons(self, bar, WINDOWS_DAYS, self.window_key,
                                            self._on_window)
        self.note = elastic(QLabel(""))
        self.note.setStyleSheet(f"color: {theme.MUTED};")
        bar.addSpacing(10)
        bar.addWidget(self.note, 1)
        self.demo_label = QLabel("Demo data (synthetic)")
        self.demo_label.setStyleSheet(f"color: {theme.WARNING}; font-weight: bold;")
        self.demo_label.setVisible(ctx.demo)
        bar.addWidget(self.demo_label)

        self.chart = pg.GraphicsLayoutWidget()
        axis = UtcDateAxisItem()
        self.plot = self.chart.addPlot(row=0, col=0, axisItems={"bottom": axis},
                                       viewBox=PromptViewBox())
        self.plot.setLabel("left", "funding, APR %")
        theme.grid(self.plot)
        self.plot.setMenuEnabled(False)
        self.plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        for venue in FUNDING_VENUES:
            curve = LodCurveItem(name=venue_label(venue),
                                 pen=theme.pen(theme.VENUE_COLORS[venue]))
            self.plot.addItem(curve)
            self._curves[venue] = curve
        self.negative_fill = pg.PlotDataItem(pen=None, fillLevel=0.0,
                                             brush=pg.mkBrush(239, 83, 80, 70))
        self.plot.addItem(self.negative_fill)
        self.average_curve = LodCurveItem(name="average", pen=theme.pen("#ffffff", 1.0))
        self.plot.addItem(self.average_curve)

        heat_axis = UtcDateAxisItem()
        self.heat_plot = self.chart.addPlot(row=1, col=0, axisItems={"bottom": heat_axis},
                                            viewBox=PromptViewBox())
        self.heat_plot.setMenuEnabled(False)
        self.heat_plot.setLabel("bottom", "time (UTC)")
        self.heat_plot.setXLink(self.plot)
        # One label per venue row, each whole: pyqtgraph drops a label that fills over 80 % of
        # a short axis or does not fit its width (a half-height dock named 3 of 5 venues).
        venue_font = QFont()
        venue_font.setPointSizeF(7.5)
        venue_axis = self.heat_plot.getAxis("left")
        venue_axis.setStyle(tickFont=venue_font, textFillLimits=[(0, 1.0)],
                            hideOverlappingLabels=False)
        widest = max(QFontMetrics(venue_font).horizontalAdvance(venue_label(v))
                     for v in FUNDING_VENUES)
        width = max(self.plot.getAxis("left").width(), widest + 12)
        for axis in (self.plot.getAxis("left"), venue_axis):  # x-aligned plots
            axis.setWidth(width)
        self.heatmap = HeatmapItem()
        self.heat_plot.addItem(self.heatmap)
        self.heat_plot.vb.setMouseEnabled(x=True, y=False)
        self.chart.ci.layout.setRowStretchFactor(0, 5)
        self.chart.ci.layout.setRowStretchFactor(1, 3)

        self.table = QTableWidget(0, len(NOW_COLUMNS))
        self.table.setHorizontalHeaderLabels(NOW_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSortingEnabled(True)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.chart)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([400, 190])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        # The key sits above the chart: a legend inside a plot this short would cover its lines.
        self.key_label = elastic(QLabel(""))
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        self._set_key("")
        layout.addWidget(self.key_label)
        layout.addWidget(splitter, 1)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_countdowns)
        self._tick.start()
        ctx.store.seriesChanged.connect(self._on_data_changed)
        ctx.store.snapshotChanged.connect(self._on_data_changed)
        self._recompute()

    # -- data ---------------------------------------------------------------------------------
    def _series_for(self, asset: str) -> dict[str, SeriesData]:
        out = {}
        for venue in FUNDING_VENUES:
            data = self.ctx.store.series(f"funding.{venue}.{asset}")
            if data is not None and len(data):
                out[venue] = data
        return out

    def _oi_for(self, asset: str) -> dict[str, SeriesData]:
        """Open-interest history in USD by venue, for the per-hour weights (Bybit's history is
        in coins: valued at the asset's hourly close)."""
        price = self.ctx.store.series(price_id(asset, "1h"))
        out: dict[str, SeriesData] = {}
        for venue in FUNDING_VENUES:
            data = self.ctx.store.series(oi_id(venue, asset))
            if data is not None and len(data):
                out[venue] = fill_oi_usd(data, price)
        return out

    @Slot(str)
    def _on_data_changed(self, series_id: str) -> None:
        if series_id.startswith(("funding.", "fundingnow.")):
            self._recompute_soon()
            if series_id.startswith("fundingnow."):
                self._fill_now_table()

    def _window_ms(self) -> tuple[int, int]:
        series = self._series_for(self.asset)
        end = max((d.last_ms for d in series.values()), default=self.ctx.now_ms())
        return end - WINDOWS_DAYS[self.window_key] * MS_PER_DAY, end

    def _recompute(self) -> None:
        series = self._series_for(self.asset)
        self.demo_label.setVisible(self.ctx.demo)
        if not series:
            return
        start, end = self._window_ms()
        self.ctx.scheduler.run(f"funding:{self.key}", _compute, self.asset, series,
                               self._oi_for(self.asset), start, end, self._series_for("btc"),
                               self._oi_for("btc"), on_result=self._on_computed)

    def _on_computed(self, computed: _Computed) -> None:
        if computed.asset != self.asset:
            return
        self.computed = computed
        series = self._series_for(self.asset)
        for venue, curve in self._curves.items():
            data = series.get(venue)
            if data is None:
                curve.clear()
                continue
            curve.setData(data.time / 1e3, data["apr_pct"])
        avg = computed.average
        if len(avg):
            x = avg.time / 1e3
            y = avg["apr_pct"]
            self.average_curve.setData(x, y)
            self.negative_fill.setData(x, np.minimum(y, 0.0))
        missing = [venue_label(v) for v in FUNDING_VENUES if v not in series]
        weighting = computed.note or "average"
        self.note.setText(f"red: {weighting} average < 0"
                          + (f" · no data: {', '.join(missing)}" if missing else ""))
        self._set_key(computed.note)
        self._draw_heatmap(computed)
        start, end = self._window_ms()
        self.plot.setXRange(start / 1e3, end / 1e3, padding=0.01)
        self.ctx.store.set_derived(FUNDING_NEGATIVE_KEY, computed.btc_negative)
        self._fill_now_table()
        self._note_painted()

    def _set_key(self, weighting: str) -> None:
        """Venue colours, and how the average is weighted (equal weights when OI is missing)."""
        entries = [(theme.VENUE_COLORS[v], venue_label(v)) for v in FUNDING_VENUES]
        entries.append(("#ffffff", f"average ({weighting})" if weighting else "average"))
        self.key_label.setText(" &nbsp; ".join(f"<span style='color:{color}'>━</span> {name}"
                                         for color, name in entries))

    def _draw_heatmap(self, computed: _Computed) -> None:
        if not computed.venues:
            return
        self.heatmap.set_grid(computed.hours[0] / 1e3, 3600.0, computed.grid)
        axis = self.heat_plot.getAxis("left")
        axis.setTicks([[(i + 0.5, venue_label(v)) for i, v in enumerate(computed.venues)]])
        self.heat_plot.setYRange(0, len(computed.venues), padding=0)
        self.heat_plot.setToolTip(f"APR %, colour scale ±{self.heatmap.limit:.1f}")

    def _fill_now_table(self) -> None:
        rows = []
        for venue in FUNDING_VENUES:
            snap = self.ctx.store.snapshot(f"fundingnow.{venue}.{self.asset}")
            if snap is None or snap.frame.empty:
                continue
            r = snap.frame.iloc[0]
            rows.append((venue, float(r.get("rate", np.nan)),
                         float(r.get("interval_hours", np.nan)), float(r.get("apr_pct", np.nan)),
                         float(r.get("next_funding_ms", np.nan)),
                         float(r.get("mark_price", np.nan)),
                         float(r.get("open_interest_usd", np.nan))))
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for i, (venue, rate, hours, apr, next_ms, mark, oi_usd) in enumerate(rows):
            tone = QColor(theme.DOWN if apr < 0 else theme.UP)
            cells = [
                (venue_label(venue), venue),
                (f"{rate * 100:+.4f}%", rate),
                (f"{hours:g}h" if np.isfinite(hours) else "–", hours),
                (f"{per_8h(rate, hours) * 100:+.4f}%" if np.isfinite(hours) else "–",
                 per_8h(rate, hours) if np.isfinite(hours) else 0.0),
                (f"{apr:+.2f}%", apr),
                (countdown(next_ms, self.ctx.now_ms()), next_ms if np.isfinite(next_ms) else 0),
                (f"{mark:,.1f}" if np.isfinite(mark) else "–", mark),
                (f"{oi_usd / 1e9:,.2f} bn" if np.isfinite(oi_usd) else "–",
                 oi_usd if np.isfinite(oi_usd) else 0.0),
            ]
            for col, (text, value) in enumerate(cells):
                item = _SortItem(text)
                item.setData(Qt.ItemDataRole.UserRole, value)
                if col in (1, 3, 4):
                    item.setForeground(tone)
                self.table.setItem(i, col, item)
        self.table.setSortingEnabled(True)
        self.table.sortItems(4, Qt.SortOrder.DescendingOrder)

    @Slot()
    def _update_countdowns(self) -> None:
        now = self.ctx.now_ms()
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 5)
            if item is not None:
                value = item.data(Qt.ItemDataRole.UserRole)
                if isinstance(value, int | float) and value:
                    item.setText(countdown(float(value), now))

    def has_data(self) -> bool:
        return self.computed is not None and len(self.computed.average) > 0

    # -- user actions -------------------------------------------------------------------------
    def _on_asset(self, asset: str) -> None:
        self.asset = asset
        self.ctx.settings.setValue("funding/asset", asset)
        self.computed = None
        self._recompute()
        self._fill_now_table()

    def _on_window(self, key: str) -> None:
        self.window_key = key
        self.ctx.settings.setValue("funding/window", key)
        self._recompute()

    def shutdown(self) -> None:
        self._tick.stop()
        self.ctx.store.seriesChanged.disconnect(self._on_data_changed)
        self.ctx.store.snapshotChanged.disconnect(self._on_data_changed)

