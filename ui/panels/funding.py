"""Perpetual funding across five venues, as a trader reads leverage.

- lines: each venue's rate as annualised % (APR), the open-interest-weighted average in white,
  a zero line, and the average's negative stretches filled red (shorts paying longs);
- heatmap: venue × hour, diverging colours centred on zero;
- "now": the current/predicted rate per venue, sorted, with the time to the next funding.
Every venue's raw rate and settlement interval are kept; APR = rate × periods per year × 100.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models import dock_choices
from models.analyses import FundingAnalysis
from models.at_instant import value_at_or_before
from models.catalog import FUNDING_VENUES, venue_label
from models.derived import DERIVED
from models.funding import settled_apr
from models.ids import funding_id, funding_now_id
from models.series import MS_PER_DAY, MS_PER_HOUR
from models.venues import find_venue
from ui import theme
from ui.charts.axes import UtcDateAxisItem
from ui.charts.chart_state import ChartStateMarks
from ui.charts.crosshair import Crosshair
from ui.charts.heatmap import HeatmapItem
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, choice_buttons, elastic
from ui.table_cells import put_cell
from ui.table_fit import FitColumns
from ui.time_display import format_time, zone_label
from ui.time_link import cursor_stamp

ASSETS = dock_choices.DERIVATIVE_ASSETS
WINDOWS_DAYS = dock_choices.FUNDING_WINDOWS_DAYS
NOW_COLUMNS = ("Venue", "Rate", "Every", "Per 8h", "APR", "Next funding", "Mark", "OI (USD)")
NOW_TIPS = {
    1: "The venue's current (predicted) rate for the period now running, per interval",
    2: "The venue's settlement interval for this perpetual",
    3: "Rate per 8 h = rate × 8 / interval_h (the unit most venues quote)",
    4: "APR % = rate × (24 / interval_h) × 365 × 100 (simple, not compounded)",
    5: "Time to the venue's next settlement (\"continuous\": the venue, Deribit, funds all the "
       "time, with no settlement instant)",
    6: "The venue's mark price",
    7: "Open interest in USD (coins × mark where the venue gives coins)",
}


class _SortItem(QTableWidgetItem):
    """Sorts by the number behind the text, not the text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a = self.data(Qt.ItemDataRole.UserRole)
        b = other.data(Qt.ItemDataRole.UserRole)
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a < b
        # Not the base class's operator<: PySide dispatches it back to this override.
        return self.text() < other.text()


def countdown(next_ms: float, now_ms: int) -> str:
    if not np.isfinite(next_ms):
        return "–"
    left = int((next_ms - now_ms) / 1000)
    if left <= 0:
        return "settling"
    h, rem = divmod(left, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def next_funding_text(venue: str, next_ms: float, now_ms: int) -> str:
    """The countdown, or "continuous" for a venue whose funding accrues all the time
    (Deribit: no settlement instant)."""
    spec = find_venue(venue)
    if not np.isfinite(next_ms) and spec is not None and spec.continuous_funding:
        return "continuous"
    return countdown(next_ms, now_ms)


class FundingPanel(Panel):
    key = "funding"
    title = "Funding rates"
    tab_title = "Funding"
    series_ids = tuple(funding_id(v, a) for a in ASSETS for v in FUNDING_VENUES) + tuple(
        funding_now_id(v, a) for a in ASSETS for v in FUNDING_VENUES)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        chosen = dock_choices.DOCK_DEFAULTS[self.key]
        self.asset = self.persisted("asset", ASSETS, chosen["asset"])
        self.window = self.persisted("window", WINDOWS_DAYS, chosen["window"])
        self.result: FundingAnalysis | None = None
        self._venue_ticks: list[tuple[float, str]] = []
        self._curves: dict[str, LodCurveItem] = {}

        bar = FlowLayout()
        self._asset_group = choice_buttons(self, bar, ASSETS, self.asset,
                                           lambda a: self.choose("asset", a), str.upper)
        bar.addSpacing(10)
        self._window_group = choice_buttons(self, bar, WINDOWS_DAYS, self.window,
                                            lambda w: self.choose("window", w))
        self.note = elastic(QLabel(""))
        self.note.setStyleSheet(f"color: {theme.MUTED};")
        bar.addSpacing(10)
        bar.addWidget(self.note, 1)

        self.chart = pg.GraphicsLayoutWidget()
        axis = UtcDateAxisItem()
        self.plot = self.chart.addPlot(row=0, col=0, axisItems={"bottom": axis},
                                       viewBox=PromptViewBox())
        self.plot.setLabel("left", "APR %")
        self.state_marks = ChartStateMarks.for_panel(self)
        self.state_marks.watch(  # which venues fail, how old their rows are
            self.plot, lambda: tuple(funding_id(v, self.asset) for v in FUNDING_VENUES))
        theme.grid(self.plot)
        self.plot.setMenuEnabled(False)
        self.plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        for venue in FUNDING_VENUES:
            curve = LodCurveItem(name=venue_label(venue), pen=theme.pen(theme.venue_color(venue)))
            self.plot.addItem(curve)
            self._curves[venue] = curve
        self.negative_fill = pg.PlotDataItem(pen=None, fillLevel=0.0,
                                             brush=pg.mkBrush(*theme.DOWN_FILL))
        self.plot.addItem(self.negative_fill)
        self.average_curve = LodCurveItem(name="average", pen=theme.pen(theme.STRONG, 1.0))
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
        self.heatmap.describe = self._describe_cell
        self.heat_plot.addItem(self.heatmap)
        self.heat_plot.vb.setMouseEnabled(x=True, y=False)
        self.chart.ci.layout.setRowStretchFactor(0, 5)
        self.chart.ci.layout.setRowStretchFactor(1, 3)

        self.table = QTableWidget(0, len(NOW_COLUMNS))
        self._now_shown = ""  # the rows the table holds, as text
        self.table.setHorizontalHeaderLabels(NOW_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self._fit = FitColumns(self.table)  # headers never cut ("lext fundin")
        self.table.setSortingEnabled(True)
        self._no_now = QLabel("No current-rate snapshot was known at this time",
                              self.table.viewport())
        self._no_now.setStyleSheet(f"color: {theme.MUTED};")
        self._no_now.move(8, 8)
        self._no_now.adjustSize()
        self._no_now.hide()

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
        self._weighting_short = ""
        self._set_key("")
        layout.addWidget(self.key_label)
        layout.addWidget(splitter, 1)
        self.add_footer(layout)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_countdowns)
        self._tick.start()
        # The time cursor shared with the other docks; the key reads the rates at its instant.
        self.crosshair = Crosshair(self.chart.scene(), self)
        self.crosshair.set_plots([self.plot, self.heat_plot])
        ctx.time_link.attach(self.crosshair, self.show_at, own=True)
        ctx.time_link.attach_range(self.key, self.plot)
        self._feed = self.follow("funding", self._on_result, asset=self.asset)

    # -- data ---------------------------------------------------------------------------------
    def freshness_ids(self) -> tuple[str, ...]:
        return (*(funding_id(v, self.asset) for v in FUNDING_VENUES),
                *(funding_now_id(v, self.asset) for v in FUNDING_VENUES))

    def _window_ms(self) -> tuple[int, int]:
        end = (self.result.as_of_ms if self.result is not None else None) or self.ctx.now_ms()
        return end - WINDOWS_DAYS[self.window] * MS_PER_DAY, end

    def _on_result(self, result: FundingAnalysis) -> None:
        if result.asset != self.asset:
            return
        self.result = result
        for venue, curve in self._curves.items():
            steps = result.steps.get(venue)
            if steps is None:
                curve.clear()
            else:
                curve.setData(steps[0] / 1e3, steps[1])
        avg = result.average
        if len(avg):
            x = avg.time / 1e3
            y = avg["apr_pct"]
            self.average_curve.setData(x, y)
            self.negative_fill.setData(x, np.minimum(y, 0.0))
        else:
            self.average_curve.clear()
            self.negative_fill.setData([], [])
        missing = [venue_label(v) for v in FUNDING_VENUES if v not in result.venues]
        # The weighting's first clause on screen ("OI-weighted (Binance, Bybit)"); all of it,
        # with the venues left out and the hours on equal weights, on hover.
        short = result.weighting.split(";")[0] if result.weighting else "average"
        self.note.setText(f"red: average < 0 · {short}"
                          + (f" · no data: {', '.join(missing)}" if missing else ""))
        self.note.setToolTip(result.weighting)
        self._weighting_short = short
        self._set_key(short)
        self._set_provenance(result)
        self._draw_heatmap(result)
        start, end = self._window_ms()
        self.plot.setXRange(start / 1e3, end / 1e3, padding=0.01)
        self._fill_now_table()
        self._note_painted()

    def _set_provenance(self, result: FundingAnalysis) -> None:
        """Hover texts: what the average and the heatmap are, from what, as of when."""
        average = DERIVED[f"fundingavg.{result.asset}"].provenance(result, result.as_of_ms)
        grid = DERIVED[f"fundinggrid.{result.asset}"].provenance(result, result.as_of_ms)
        self.key_label.setToolTip(average.tooltip())
        self.plot.getAxis("left").setToolTip(average.tooltip())
        self.heat_plot.setToolTip(f"{grid.tooltip()}\ncolour scale ±{self.heatmap.limit:.1f}")

    def _set_key(self, weighting: str) -> None:
        """Venue colours, and how the average is weighted (equal weights when OI is missing)."""
        entries = [(theme.venue_color(v), venue_label(v)) for v in FUNDING_VENUES]
        entries.append((theme.STRONG, f"average ({weighting})" if weighting else "average"))
        self.key_label.setText(" &nbsp; ".join(f"<span style='color:{color}'>━</span> {name}"
                                         for color, name in entries))

    def show_at(self, x: float | None) -> None:
        """The key as a readout: each venue's rate for the period containing the cursor's
        instant and the average's hour then (models/funding.py, timing convention); the plain
        key when the cursor leaves."""
        result = self.result
        if x is None or result is None:
            self._set_key(self._weighting_short)
            return
        t_ms = x * 1e3
        avg = result.average
        average = value_at_or_before(avg.time, avg["apr_pct"], t_ms, MS_PER_HOUR) \
            if len(avg) else float("nan")
        entries = [(theme.STRONG, "average", average)]  # first: a narrow dock cuts the end
        for venue in FUNDING_VENUES:
            data = result.venues.get(venue)
            apr = float(settled_apr(data, np.array([t_ms]))[0]) if data is not None \
                else float("nan")
            entries.append((theme.venue_color(venue), venue_label(venue), apr))
        self.key_label.setText(
            f"<b>{cursor_stamp(x)}</b> APR %: "
            + " · ".join(f"<span style='color:{color}'>{name}</span> "
                              + (f"{apr:+.1f}" if np.isfinite(apr) else "–")
                              for color, name, apr in entries))

    def _describe_cell(self, start_s: float, row: int, value: float) -> str:
        result = self.result
        if result is None or row >= len(result.grid_venues):
            return ""
        venue = venue_label(result.grid_venues[row])
        when = format_time(int(start_s * 1000), "%Y-%m-%d %H:00")
        shown = f"{value:+.2f} % APR" if np.isfinite(value) else "no settled rate"
        provenance = DERIVED[f"fundinggrid.{result.asset}"].provenance(result, result.as_of_ms)
        return f"{venue}, hour from {when} {zone_label()}: {shown}\n\n{provenance.tooltip()}"

    def _draw_heatmap(self, result: FundingAnalysis) -> None:
        if not result.grid_venues:
            return
        self.heatmap.set_grid(result.hours[0] / 1e3, 3600.0, result.grid)
        axis = self.heat_plot.getAxis("left")
        ticks = [(i + 0.5, venue_label(v)) for i, v in enumerate(result.grid_venues)]
        if ticks != self._venue_ticks:  # setTicks drops 6 references to None a call (PySide 6.11)
            axis.setTicks([ticks])
            self._venue_ticks = ticks
        self.heat_plot.setYRange(0, len(result.grid_venues), padding=0)

    def _fill_now_table(self) -> None:
        now = self.result.now if self.result is not None else {}
        rows = [(venue, r["rate"], r["interval_hours"], r["rate_8h"], r["apr_pct"],
                 r["next_funding_ms"], r["mark_price"], r["open_interest_usd"])
                for venue, r in now.items()]
        # Refilled only when a value changed: the feed recomputes with every forming hourly
        # bar, and each replaced coloured cell keeps references to None under PySide 6.11.
        # replay before the first "now" snapshot: say why the table is empty
        self._no_now.setVisible(not rows and self.ctx.store.replaying)
        shown = repr(rows)  # NaN-safe, unlike ==
        if shown == self._now_shown:
            return
        self._now_shown = shown
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for i, (venue, rate, hours, rate_8h, apr, next_ms, mark, oi_usd) in enumerate(rows):
            tone = theme.DOWN if apr < 0 else theme.UP
            cells = [
                (venue_label(venue), venue),
                (f"{rate * 100:+.4f}%", rate),
                (f"{hours:g}h" if np.isfinite(hours) else "–", hours),
                (f"{rate_8h * 100:+.4f}%" if np.isfinite(rate_8h) else "–",
                 rate_8h if np.isfinite(rate_8h) else 0.0),
                (f"{apr:+.2f}%", apr),
                (next_funding_text(venue, next_ms, self.ctx.now_ms()),
                 next_ms if np.isfinite(next_ms) else 0),
                (f"{mark:,.1f}" if np.isfinite(mark) else "–", mark),
                (f"{oi_usd / 1e9:,.2f} bn" if np.isfinite(oi_usd) else "–",
                 oi_usd if np.isfinite(oi_usd) else 0.0),
            ]
            for col, (text, value) in enumerate(cells):
                put_cell(self.table, i, col, text, item_type=_SortItem, value=value,
                         tooltip=NOW_TIPS.get(col, ""), color=tone if col in (1, 3, 4) else None)
        self.table.setSortingEnabled(True)
        self._fit.refit()
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
        return self.result is not None and len(self.result.average) > 0

    # -- user actions -------------------------------------------------------------------------
    def _on_choice(self, name: str) -> None:
        if name == "asset":
            self.result = None
            self._feed.update(asset=self.asset)
            self.freshness.refresh()
        elif self.result is not None:
            start, end = self._window_ms()
            self.plot.setXRange(start / 1e3, end / 1e3, padding=0.01)
            self.ctx.time_link.publish(self.key)  # a window button zooms the linked docks too

    def shutdown(self) -> None:
        self._tick.stop()
        super().shutdown()

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        from models.export_view import funding_series

        return [] if self.result is None else funding_series(self.result)

    def plotted_x_range(self) -> tuple[float, float]:
        x0, x1 = self.plot.vb.viewRange()[0]
        return float(x0), float(x1)
