"""Reported liquidations per interval: short liquidations above the axis, long below, stacked by
venue, so a bar's height is the total over venues.

Venue feeds are incomplete (Binance pushes at most one order per symbol per second; OKX says its
feed is "not the total"), so every number here is labelled "reported", and each venue's coverage
is written under the chart. Hours whose total on one side reaches the burst threshold are marked
on the price chart too (the threshold is shared with it through the derived feed).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from models import dock_choices
from models.analyses import LiquidationAnalysis
from models.catalog import LIQUIDATION_VENUES, venue_label
from models.derived import DERIVED
from models.ids import liq_id
from models.liquidations import BURST_THRESHOLDS_MUSD, COVERAGE_SHORT, REPORTED_NOTE, coverage_note
from ui import theme
from ui.charts.axes import MirroredValueAxisItem, UtcDateAxisItem
from ui.charts.axis_format import compact
from ui.charts.chart_state import ChartStateMarks
from ui.charts.crosshair import Crosshair
from ui.charts.viewbox import PromptViewBox
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, choice_buttons, elastic
from ui.time_link import cursor_stamp

ASSETS = dock_choices.DERIVATIVE_ASSETS
INTERVALS = dock_choices.LIQUIDATION_INTERVALS


class LiquidationsPanel(Panel):
    key = "liquidations"
    title = "Liquidations"
    settings_prefix = "liq"
    series_ids = tuple(liq_id(v, a) for a in ASSETS for v in LIQUIDATION_VENUES)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        defaults = dock_choices.DOCK_DEFAULTS[self.key]
        self.asset = self.persisted("asset", ASSETS, defaults["asset"])
        self.interval = self.persisted("interval", INTERVALS, defaults["interval"])
        self.result: LiquidationAnalysis | None = None
        bar = FlowLayout()
        bar.setSpacing(4)
        self._group = choice_buttons(self, bar, ASSETS, self.asset,
                                     lambda a: self.choose("asset", a), str.upper)
        self.interval_box = QComboBox()
        self.interval_box.addItems(list(INTERVALS))
        self.interval_box.setCurrentText(self.interval)
        self.interval_box.setToolTip("Bar interval: reported USD summed per interval (UTC)")
        self.interval_box.currentTextChanged.connect(lambda i: self.choose("interval", i))
        bar.addWidget(self.interval_box)
        self.burst_box = QComboBox()
        for musd in BURST_THRESHOLDS_MUSD:
            self.burst_box.addItem(f"burst ≥ ${musd}M/h", musd)
        self.burst_box.setCurrentIndex(max(0, self.burst_box.findData(self.burst_musd)))
        self.burst_box.setToolTip("An hour whose reported liquidations on one side, over every "
                                  "venue, reach this is a burst: marked here and on the price "
                                  "chart")
        self.burst_box.currentIndexChanged.connect(
            lambda _i: self._on_burst(int(self.burst_box.currentData())))
        bar.addWidget(self.burst_box)
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        bar.addSpacing(8)
        bar.addWidget(self.summary, 1)

        self.chart = pg.GraphicsLayoutWidget()
        self.plot = self.chart.addPlot(axisItems={"bottom": UtcDateAxisItem(),
                                                  "left": MirroredValueAxisItem("left", "$")},
                                       viewBox=PromptViewBox())
        self.plot.setMenuEnabled(False)
        theme.grid(self.plot)
        self.plot.setLabel("bottom", "time (UTC)")
        # rotated, it reads bottom-up: longs are drawn below the axis, shorts above
        self.plot.setLabel("left", "long · short")
        ChartStateMarks.for_panel(self).watch(self.plot, self.freshness_ids)
        self.zero_line = pg.InfiniteLine(pos=0, angle=0, movable=False,
                                         pen=theme.pen(theme.MUTED))
        self.plot.addItem(self.zero_line, ignoreBounds=True)
        #: (venue, side) -> the stacked bars of that venue on that side
        self.bars: dict[tuple[str, str], pg.BarGraphItem] = {}
        for venue in LIQUIDATION_VENUES:
            for side in ("short", "long"):
                item = pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[], pen=pg.mkPen(None),
                                       brush=pg.mkBrush(theme.venue_color(venue)))
                self.plot.addItem(item)
                self.bars[(venue, side)] = item
        self.threshold_lines = [
            pg.InfiniteLine(angle=0, movable=False,
                            pen=theme.pen(theme.WARNING, style=Qt.PenStyle.DashLine))
            for _ in range(2)]
        for line in self.threshold_lines:
            self.plot.addItem(line, ignoreBounds=True)
        # The venues' colours and what each feed covers, in one line (the full notes on hover).
        self.key_label = elastic(QLabel(""))
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.key_label)
        layout.addWidget(self.chart, 1)
        self.add_footer(layout)
        self._summary_now = ""
        self._ranged = False
        self.crosshair = Crosshair(self.chart.scene(), self)
        self.crosshair.set_plots([self.plot])
        ctx.time_link.attach(self.crosshair, self.show_at, own=True)
        ctx.time_link.attach_range(self.key, self.plot)
        self._feed = self.follow("liquidations", self._on_result, asset=self.asset,
                                 interval=self.interval)
        self._show_key()

    @property
    def burst_musd(self) -> int:
        return int(self.ctx.feeds.shared_params("liquidations")["burst_musd"])

    def freshness_ids(self) -> tuple[str, ...]:
        return tuple(liq_id(v, self.asset) for v in LIQUIDATION_VENUES)

    def _show_key(self) -> None:
        interval = self.result.interval if self.result is not None else self.interval
        names = " ".join(f"<span style='color:{theme.venue_color(v)}'>■</span> {venue_label(v)}"
                         f" <span style='color:{theme.MUTED}'>({COVERAGE_SHORT[v]})</span>"
                         for v in LIQUIDATION_VENUES)
        self.key_label.setText(f"<b>Reported</b> per {interval}, ▲ short ▼ long: {names}")
        self.key_label.setToolTip("\n".join([REPORTED_NOTE, "",
                                             *(coverage_note(v) for v in LIQUIDATION_VENUES)]))

    # -- drawing ------------------------------------------------------------------------------
    def _on_result(self, result: LiquidationAnalysis) -> None:
        if result.asset != self.asset or result.interval != self.interval:
            return
        self.result = result
        totals = result.totals
        x0 = totals.times / 1e3
        x1 = x0 + totals.interval_ms / 1e3
        below = np.zeros(len(x0))
        above = np.zeros(len(x0))
        for venue in LIQUIDATION_VENUES:
            short = totals.short_usd.get(venue, np.zeros(len(x0)))
            long = totals.long_usd.get(venue, np.zeros(len(x0)))
            self.bars[(venue, "short")].setOpts(x0=x0, x1=x1, y0=above.copy(),
                                                y1=above + short)
            self.bars[(venue, "long")].setOpts(x0=x0, x1=x1, y0=-below, y1=-(below + long))
            above = above + short
            below = below + long
        hourly = result.interval == "1h"
        for line, sign in zip(self.threshold_lines, (1, -1), strict=True):
            line.setVisible(hourly)
            line.setPos(sign * result.burst_usd)
        tip = DERIVED[f"liqtotals.{self.asset}"].provenance(result, result.as_of_ms).tooltip()
        self.plot.setToolTip(tip)
        self._show_key()
        self._summary_now = self._summary(result)
        self.summary.setText(self._summary_now)
        self.summary.setToolTip(tip)
        if len(x0) and not self._ranged:
            self._ranged = True
            self.plot.enableAutoRange()
        if len(x0):
            self._note_painted()

    def _summary(self, result: LiquidationAnalysis) -> str:
        totals = result.totals
        if not len(totals.times):
            return "no liquidations recorded yet (the streams record them while Rotor runs)"
        day = totals.times >= totals.times[-1] + totals.interval_ms - 86_400_000
        short, long = totals.total_short[day].sum(), totals.total_long[day].sum()
        bursts = sum(1 for b in result.bursts if b.time_ms >= totals.times[-1] - 86_400_000)
        return (f"last 24h reported: <span style='color:{theme.UP}'>short "
                f"{compact(short, '$')}</span> · <span style='color:{theme.DOWN}'>long "
                f"{compact(long, '$')}</span> · {bursts} burst hour{'s' * (bursts != 1)}")

    def show_at(self, x: float | None) -> None:
        """Each venue's long and short in the interval under the cursor, and the totals."""
        result = self.result
        if x is None or result is None or not len(result.totals.times):
            self.summary.setText(self._summary_now)
            return
        totals = result.totals
        i = int((x * 1e3 - totals.times[0]) // totals.interval_ms)
        if not 0 <= i < len(totals.times):
            self.summary.setText(self._summary_now)
            return
        parts = [f"<b>{cursor_stamp(totals.times[i] / 1e3)}</b>"]
        for venue in LIQUIDATION_VENUES:
            if venue not in totals.long_usd:
                continue
            parts.append(f"<span style='color:{theme.venue_color(venue)}'>{venue_label(venue)}"
                         f"</span> ▲{compact(totals.short_usd[venue][i], '$')} "
                         f"▼{compact(totals.long_usd[venue][i], '$')}")
        parts.append(f"total ▲{compact(totals.total_short[i], '$')} "
                     f"▼{compact(totals.total_long[i], '$')}")
        self.summary.setText(" &nbsp; ".join(parts))

    def has_data(self) -> bool:
        return self.result is not None and bool(len(self.result.totals.times))

    # -- choices ------------------------------------------------------------------------------
    def _on_choice(self, name: str) -> None:
        self.result = None
        self._feed.update(asset=self.asset, interval=self.interval)
        self.freshness.refresh()

    def _on_burst(self, musd: int) -> None:
        if musd != self.burst_musd:
            self.ctx.feeds.set_shared_params("liquidations", burst_musd=musd)

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        from models.export_view import liquidation_series

        return [] if self.result is None else liquidation_series(self.result)

    def plotted_x_range(self) -> tuple[float, float]:
        x0, x1 = self.plot.vb.viewRange()[0]
        return float(x0), float(x1)
