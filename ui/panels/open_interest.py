"""Open interest per venue with the BTC (or ETH) price on a second axis, and the 24h change.

Rising open interest into a falling price means new shorts (or trapped longs); a flush of open
interest on a sharp rebound is the signature of a short squeeze. Binance keeps only 30 days of
this history; the cache keeps everything it has seen.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from models import dock_choices
from models.analyses import OpenInterestAnalysis
from models.at_instant import value_at_or_before
from models.catalog import OI_VENUES, venue_label
from models.derived import DERIVED
from models.ids import oi_id, price_id
from ui import theme
from ui.charts.axes import UtcDateAxisItem, ValueAxisItem
from ui.charts.chart_state import ChartStateMarks
from ui.charts.crosshair import Crosshair, format_price
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, choice_buttons, elastic
from ui.time_link import cursor_stamp

ASSETS = dock_choices.DERIVATIVE_ASSETS


class OpenInterestPanel(Panel):
    key = "open_interest"
    title = "Open interest"
    settings_prefix = "oi"
    series_ids = tuple(oi_id(v, a) for a in ASSETS for v in OI_VENUES)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        self.asset = self.persisted("asset", ASSETS,
                                    dock_choices.DOCK_DEFAULTS[self.key]["asset"])
        self.result: OpenInterestAnalysis | None = None
        bar = FlowLayout()
        self._group = choice_buttons(self, bar, ASSETS, self.asset,
                                     lambda a: self.choose("asset", a), str.upper)
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(pg.QtCore.Qt.TextFormat.RichText)
        bar.addSpacing(10)
        bar.addWidget(self.summary, 1)

        self.chart = pg.GraphicsLayoutWidget()
        axis = UtcDateAxisItem()
        self.plot = self.chart.addPlot(axisItems={"bottom": axis, "left": ValueAxisItem("left"),
                                                  "right": ValueAxisItem("right")},
                                       viewBox=PromptViewBox())
        self.plot.setMenuEnabled(False)
        theme.grid(self.plot)
        self.plot.setLabel("bottom", "time (UTC)")
        ChartStateMarks.for_panel(self).watch(self.plot, self.freshness_ids)  # stale, failing
        theme.legend(self.plot)
        self._curves = {v: LodCurveItem(name=f"{venue_label(v)} OI",
                                        pen=theme.pen(theme.venue_color(v)))
                        for v in OI_VENUES}
        for curve in self._curves.values():
            self.plot.addItem(curve)
        # Price on a right-hand axis: a second ViewBox sharing x (pyqtgraph MultiplePlotAxes).
        self.price_view = pg.ViewBox()
        self.plot.showAxis("right")
        self.plot.scene().addItem(self.price_view)
        self.plot.getAxis("right").linkToView(self.price_view)
        self.price_view.setXLink(self.plot)
        # Neutral grey: the venues' colours stay the ones that stand out.
        self.price_curve = LodCurveItem(pen=theme.pen(theme.MUTED,
                                                      style=pg.QtCore.Qt.PenStyle.DotLine))
        self.price_view.addItem(self.price_curve)
        self.plot.vb.sigResized.connect(self._sync_views)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.chart, 1)
        self.add_footer(layout)
        # The time cursor shared with the other docks; the summary reads OI at its instant.
        self._summary_now = ""
        self.crosshair = Crosshair(self.chart.scene(), self)
        self.crosshair.set_plots([self.plot])
        ctx.time_link.attach(self.crosshair, self.show_at, own=True)
        ctx.time_link.attach_range(self.key, self.plot)
        self._feed = self.follow("open_interest", self._on_result, asset=self.asset)

    def _sync_views(self) -> None:
        self.price_view.setGeometry(self.plot.vb.sceneBoundingRect())
        self.price_view.linkedViewChanged(self.plot.vb, self.price_view.XAxis)

    def freshness_ids(self) -> tuple[str, ...]:
        return (*(oi_id(v, self.asset) for v in OI_VENUES), price_id(self.asset, "1h"))

    def _on_result(self, result: OpenInterestAnalysis) -> None:
        if result.asset != self.asset:
            return
        self.result = result
        parts = []
        for venue, curve in self._curves.items():
            data = result.venues.get(venue)
            if data is None:
                curve.clear()
                continue
            curve.setData(data.time / 1e3, data["open_interest"])
            change = result.change_24h_pct[venue]
            tone = theme.UP if change >= 0 else theme.DOWN
            last = data["open_interest"][-1]
            parts.append(f"<span style='color:{theme.venue_color(venue)}'>"
                         f"{venue_label(venue)}</span> {last:,.0f} {self.asset.upper()} "
                         f"<span style='color:{tone}'>{change:+.1f}% 24h</span>"
                         if np.isfinite(change) else f"{venue_label(venue)} {last:,.0f}")
        self.plot.setLabel("left", f"open interest ({self.asset.upper()})")
        if len(result.price):
            self.price_curve.setData(result.price.time / 1e3, result.price["close"])
            self.plot.getAxis("right").setLabel(f"{self.asset.upper()} price (dotted)")
        else:
            self.price_curve.clear()
        self._summary_now = " &nbsp; ".join(parts) or "no open interest data yet"
        self.summary.setText(self._summary_now)
        self.summary.setToolTip(DERIVED[f"oichange.{self.asset}"].provenance().tooltip())
        self._sync_views()
        if result.venues:
            self._note_painted()

    def show_at(self, x: float | None) -> None:
        """The summary as a readout: each venue's open interest and the price in force at the
        cursor's instant (the last row at or before it); the latest values when it leaves."""
        result = self.result
        if x is None or result is None:
            self.summary.setText(self._summary_now)
            return
        t_ms = x * 1e3
        unit = self.asset.upper()
        parts = [f"<b>{cursor_stamp(x)}</b>"]
        for venue in self._curves:
            data = result.venues.get(venue)
            if data is None:
                continue
            value = value_at_or_before(data.time, data["open_interest"], t_ms)
            shown = f"{value:,.0f} {unit}" if np.isfinite(value) else "–"
            parts.append(f"<span style='color:{theme.venue_color(venue)}'>"
                         f"{venue_label(venue)}</span> {shown}")
        if len(result.price):
            price = value_at_or_before(result.price.time, result.price["close"], t_ms)
            parts.append(f"{unit} {format_price(price)}")
        self.summary.setText(" &nbsp; ".join(parts))

    def has_data(self) -> bool:
        return self.result is not None and bool(self.result.venues)

    def _on_choice(self, name: str) -> None:
        self.result = None
        self._feed.update(asset=self.asset)
        self.freshness.refresh()

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        from models.export_view import open_interest_series

        return [] if self.result is None else open_interest_series(self.result)

    def plotted_x_range(self) -> tuple[float, float]:
        x0, x1 = self.plot.vb.viewRange()[0]
        return float(x0), float(x1)
