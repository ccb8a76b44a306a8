"""Open interest per venue with the BTC (or ETH) price on a second axis, and the 24h change.

Rising open interest into a falling price means new shorts (or trapped longs); a flush of open
interest on a sharp rebound is the signature of a short squeeze. Binance keeps only 30 days of
this history; the cache keeps everything it has seen.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from models.catalog import OI_VENUES, venue_label
from models.series import SeriesData
from ui import theme
from ui.charts.axes import UtcDateAxisItem
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.panels.base import Panel, UiContext, choice_buttons, elastic, stored_choice

ASSETS = ("btc", "eth")


class OpenInterestPanel(Panel):
    key = "open_interest"
    title = "Open interest"
    series_ids = tuple(f"oi.{v}.{a}" for a in ASSETS for v in OI_VENUES)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        self.asset = stored_choice(ctx.settings, "oi/asset", ASSETS, "btc")
        bar = QHBoxLayout()
        self._group = choice_buttons(self, bar, ASSETS, self.asset, self._on_asset, str.upper)
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(pg.QtCore.Qt.TextFormat.RichText)
        bar.addSpacing(10)
        bar.addWidget(self.summary, 1)

        self.chart = pg.GraphicsLayoutWidget()
        axis = UtcDateAxisItem()
        self.plot = self.chart.addPlot(axisItems={"bottom": axis}, viewBox=PromptViewBox())
        self.plot.setMenuEnabled(False)
        theme.grid(self.plot)
        self.plot.setLabel("bottom", "time (UTC)")
        theme.legend(self.plot)
        self._curves = {v: LodCurveItem(name=f"{venue_label(v)} OI",
                                        pen=theme.pen(theme.VENUE_COLORS[v]))
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
        ctx.store.seriesChanged.connect(self._on_series_changed)
        self._recompute()

    def _sync_views(self) -> None:
        self.price_view.setGeometry(self.plot.vb.sceneBoundingRect())
        self.price_view.linkedViewChanged(self.plot.vb, self.price_view.XAxis)

    @Slot(str)
    def _on_series_changed(self, series_id: str) -> None:
        if series_id.startswith("oi.") or series_id == f"{self.asset}.1h":
            self._recompute_soon()

    def _oi(self) -> dict[str, SeriesData]:
        out = {}
        for venue in OI_VENUES:
            data = self.ctx.store.series(f"oi.{venue}.{self.asset}")
            if data is not None and len(data):
                out[venue] = data
        return out

    def _recompute(self) -> None:
        from models.funding import oi_change_pct

        series = self._oi()
        parts = []
        first = None
        for venue, curve in self._curves.items():
            data = series.get(venue)
            if data is None:
                curve.clear()
                continue
            curve.setData(data.time / 1e3, data["open_interest"])
            first = data.first_ms if first is None else min(first, data.first_ms)
            change = oi_change_pct(data, 24)
            tone = theme.UP if change >= 0 else theme.DOWN
            last = data["open_interest"][-1]
            parts.append(f"<span style='color:{theme.VENUE_COLORS[venue]}'>"
                         f"{venue_label(venue)}</span> {last:,.0f} {self.asset.upper()} "
                         f"<span style='color:{tone}'>{change:+.1f}% 24h</span>"
                         if np.isfinite(change) else f"{venue_label(venue)} {last:,.0f}")
        self.plot.setLabel("left", f"open interest ({self.asset.upper()})")
        price = self.ctx.store.series(f"{self.asset}.1h")
        if price is not None and len(price):
            view = price.between(first) if first is not None else price
            self.price_curve.setData(view.time / 1e3, view["close"])
            self.plot.getAxis("right").setLabel(f"{self.asset.upper()} price (dotted)")
        self.summary.setText(" &nbsp; ".join(parts) or "no open interest data yet")
        self._sync_views()
        if series:
            self._note_painted()

    def has_data(self) -> bool:
        return bool(self._oi())

    def _on_asset(self, asset: str) -> None:
        self.asset = asset
        self.ctx.settings.setValue("oi/asset", asset)
        self._recompute()

    def shutdown(self) -> None:
        self.ctx.store.seriesChanged.disconnect(self._on_series_changed)
