"""Basis: the futures term structure, the front quarterly's APR over time, the perp premium.

Left: every dated future's annualised basis against its days to expiry, one line per venue,
CME's front month as a star (BTC). Right, on the shared time axis: each venue's front-quarterly
APR (and CME's against spot), and each venue's perpetual premium over its index. A carry that
collapses while the perps trade below their index is the crowd short; models/basis.py holds every
convention, docs/basis.md explains them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from models import dock_choices
from models.analyses import BasisAnalysis
from models.at_instant import value_at_or_before
from models.catalog import BASIS_VENUES, CME_BTC_ID, PREMIUM_VENUES, venue_label
from models.derived import DERIVED
from models.ids import basis_curve_id, basis_id, premium_id, price_id
from models.series import MS_PER_HOUR, SeriesData, break_gaps
from ui import theme
from ui.charts.axes import UtcDateAxisItem, ValueAxisItem
from ui.charts.chart_state import ChartStateMarks
from ui.charts.crosshair import Crosshair
from ui.charts.fit import set_title
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, choice_buttons, elastic
from ui.time_link import cursor_stamp

ASSETS = dock_choices.DERIVATIVE_ASSETS
CME = "cme"


def _label(venue: str) -> str:
    return "CME" if venue == CME else venue_label(venue)


class BasisPanel(Panel):
    key = "basis"
    title = "Basis: term structure, front quarterly, perp premium"
    tab_title = "Basis"
    settings_prefix = "basis"
    series_ids = (*(i for a in ASSETS for i in (
        *(premium_id(v, a) for v in PREMIUM_VENUES), *(basis_id(v, a) for v in BASIS_VENUES),
        basis_curve_id(a))), CME_BTC_ID, price_id("btc", "1h"))

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        self.asset = self.persisted("asset", ASSETS,
                                    dock_choices.DOCK_DEFAULTS[self.key]["asset"])
        self.result: BasisAnalysis | None = None
        self._ranged = False
        bar = FlowLayout()
        self._group = choice_buttons(self, bar, ASSETS, self.asset,
                                     lambda a: self.choose("asset", a), str.upper)
        bar.addSpacing(10)
        self.key_label = elastic(QLabel(""))  # the venues in their colours: no legends
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        bar.addWidget(self.key_label, 1)
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(Qt.TextFormat.RichText)

        self.chart = pg.GraphicsLayoutWidget()
        self.curve_plot = self.chart.addPlot(row=0, col=0, rowspan=2, viewBox=PromptViewBox(),
                                             axisItems={"left": ValueAxisItem("left")})
        self.curve_plot.setLabel("bottom", "days to expiry")
        self.curve_plot.setLabel("left", "APR %")
        self.apr_plot = self.chart.addPlot(row=0, col=1, viewBox=PromptViewBox(), axisItems={
            "bottom": UtcDateAxisItem(), "left": ValueAxisItem("left")})
        self.premium_plot = self.chart.addPlot(row=1, col=1, viewBox=PromptViewBox(), axisItems={
            "bottom": UtcDateAxisItem(), "left": ValueAxisItem("left")})
        self.premium_plot.setXLink(self.apr_plot)
        # One time axis, under the premium.
        self.apr_plot.getAxis("bottom").setStyle(showValues=False)
        self.apr_plot.getAxis("bottom").setHeight(4)
        self.premium_plot.setLabel("bottom", "time (UTC)")
        self.apr_plot.setLabel("left", "APR %")
        self.premium_plot.setLabel("left", "%")
        self.premium_plot.getAxis("left").enableAutoSIPrefix(False)  # −0.05 %, not −50 × 0.001
        marks = ChartStateMarks.for_panel(self)
        for plot in (self.curve_plot, self.apr_plot, self.premium_plot):
            plot.setMenuEnabled(False)
            theme.grid(plot)
            plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
            marks.watch(plot, self.freshness_ids)
        set_title(self.curve_plot, "Term structure (annualised basis)")
        self._title_apr()
        set_title(self.premium_plot, "Perp premium over index")
        self.chart.ci.layout.setColumnStretchFactor(0, 2)
        self.chart.ci.layout.setColumnStretchFactor(1, 3)

        self._term = {v: self.curve_plot.plot([], [], pen=theme.pen(theme.venue_color(v)),
                                              symbol="o", symbolSize=5,
                                              symbolPen=theme.pen(theme.venue_color(v)),
                                              symbolBrush=theme.venue_color(v))
                      for v in BASIS_VENUES}
        self._term[CME] = self.curve_plot.plot([], [], pen=None, symbol="star", symbolSize=12,
                                               symbolPen=theme.pen(theme.CME),
                                               symbolBrush=theme.CME)
        self._front = {v: LodCurveItem(pen=theme.pen(theme.venue_color(v)))
                       for v in BASIS_VENUES}
        self._front[CME] = LodCurveItem(pen=theme.pen(theme.CME))
        for curve in self._front.values():
            self.apr_plot.addItem(curve)
        self._premium = {v: LodCurveItem(pen=theme.pen(theme.venue_color(v)))
                         for v in PREMIUM_VENUES}
        for curve in self._premium.values():
            self.premium_plot.addItem(curve)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.summary)  # its own line: the readout at the time cursor
        layout.addWidget(self.chart, 1)
        self.add_footer(layout)
        self._summary_now = ""
        self.crosshair = Crosshair(self.chart.scene(), self)
        self.crosshair.set_plots([self.apr_plot, self.premium_plot])
        ctx.time_link.attach(self.crosshair, self.show_at, own=True)
        ctx.time_link.attach_range(self.key, self.apr_plot)
        self._feed = self.follow("basis", self._on_result, asset=self.asset)

    def _title_apr(self) -> None:
        cme = " (CME: front month vs spot)" if self.asset == "btc" else ""
        set_title(self.apr_plot, "Front quarterly APR" + cme)

    def freshness_ids(self) -> tuple[str, ...]:
        cme = (CME_BTC_ID, price_id("btc", "1h")) if self.asset == "btc" else ()
        return (*(premium_id(v, self.asset) for v in PREMIUM_VENUES),
                *(basis_id(v, self.asset) for v in BASIS_VENUES), basis_curve_id(self.asset),
                *cme)

    # -- drawing --------------------------------------------------------------------------------
    def _on_result(self, result: BasisAnalysis) -> None:
        if result.asset != self.asset:
            return
        self.result = result
        for venue, item in self._term.items():
            rows = result.curve.get(venue)
            if rows is None:
                item.setData([], [])
            else:
                item.setData(np.asarray(rows["days"], float), np.asarray(rows["apr_pct"], float))
        fronts: dict[str, SeriesData] = {**result.front}
        if len(result.cme):
            fronts[CME] = result.cme
        for venue, curve in self._front.items():
            data = fronts.get(venue)
            if data is None:
                curve.clear()
            elif venue == CME:  # CME closes at weekends and daily: breaks, not straight lines
                t, y = break_gaps(data.time, data["apr_pct"], 2 * MS_PER_HOUR)
                curve.setData(t / 1e3, y)
            else:
                curve.setData(data.time / 1e3, data["apr_pct"])
        for venue, curve in self._premium.items():
            data = result.premium.get(venue)
            if data is None:
                curve.clear()
            else:
                curve.setData(data.time / 1e3, data["premium_pct"])
        shown = [*result.front, *([CME] if len(result.cme) else []), *(
            v for v in result.premium if v not in result.front)]
        self.key_label.setText(" &nbsp; ".join(
            f"<span style='color:{theme.CME if v == CME else theme.venue_color(v)}'>"
            f"{'★ ' if v == CME else ''}{_label(v)}</span>" for v in shown))
        self._summary_now = self._latest_text(result)
        self.summary.setText(self._summary_now)
        term = DERIVED[f"termstructure.{result.asset}"].provenance(result, result.curve_time_ms)
        self.curve_plot.setToolTip(term.tooltip())
        if result.asset == "btc":
            cme = DERIVED["cmebasis.btc"].provenance(result, result.cme.last_ms)
            self.apr_plot.setToolTip(cme.tooltip())
        if not self._ranged and result.as_of_ms:
            end = result.as_of_ms / 1e3
            self.apr_plot.setXRange(end - dock_choices.BASIS_SPAN_DAYS * 86400, end,
                                    padding=0.01)
            self._ranged = True
        if result.curve or result.front or result.premium:
            self._note_painted()

    def _latest_text(self, result: BasisAnalysis) -> str:
        parts = []
        for venue, data in result.front.items():
            parts.append(self._span(venue, f"{data['apr_pct'][-1]:+.2f}% APR "
                                    f"({data['days_to_expiry'][-1]:.0f}d)"))
        if len(result.cme):
            parts.append(self._span(CME, f"{result.cme['apr_pct'][-1]:+.2f}% APR"))
        premiums = [d["premium_pct"][-1] for d in result.premium.values()]
        if premiums:
            parts.append(f"perp premium {min(premiums):+.3f}…{max(premiums):+.3f}%")
        return " &nbsp; ".join(parts) or "no basis data yet"

    def _span(self, venue: str, text: str) -> str:
        color = theme.CME if venue == CME else theme.venue_color(venue)
        return f"<span style='color:{color}'>{_label(venue)}</span> {text}"

    def show_at(self, x: float | None) -> None:
        """The readout at the shared time cursor: each venue's front APR and premium in force
        at that instant (the last row at or before it); the latest values when it leaves."""
        result = self.result
        if x is None or result is None:
            self.summary.setText(self._summary_now)
            return
        t_ms = x * 1e3
        parts = [f"<b>{cursor_stamp(x)}</b>"]
        fronts = {**result.front, **({CME: result.cme} if len(result.cme) else {})}
        for venue, data in fronts.items():
            value = value_at_or_before(data.time, data["apr_pct"], t_ms)
            parts.append(self._span(venue, f"{value:+.2f}%" if np.isfinite(value) else "–"))
        for venue, data in result.premium.items():
            value = value_at_or_before(data.time, data["premium_pct"], t_ms)
            if np.isfinite(value):
                parts.append(self._span(venue, f"prem {value:+.3f}%"))
        self.summary.setText(" &nbsp; ".join(parts))

    def has_data(self) -> bool:
        r = self.result
        return r is not None and bool(r.curve or r.front or r.premium)

    def _on_choice(self, name: str) -> None:
        self.result = None
        self._ranged = False
        self._title_apr()
        self._feed.update(asset=self.asset)
        self.freshness.refresh()

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        from models.export_view import basis_series

        return [] if self.result is None else basis_series(self.result)

    def plotted_x_range(self) -> tuple[float, float]:
        x0, x1 = self.apr_plot.vb.viewRange()[0]
        return float(x0), float(x1)
