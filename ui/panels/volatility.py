"""Implied against realised volatility: Deribit DVOL, close-to-close realised vol, the spread.

IV well above RV means options price more fear than the market is delivering (hedging demand);
IV below RV means options are cheap against realised moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from models.series import SeriesData
from ui import theme
from ui.charts.axes import UtcDateAxisItem
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.panels.base import Panel, UiContext, choice_buttons, elastic, stored_choice

ASSETS = ("btc", "eth")
RV_WINDOWS = (7, 30, 90)


def first_column(data: SeriesData) -> np.ndarray:
    return data[data.names[0]] if data.names else np.empty(0)


def set_line(curve: LodCurveItem | pg.PlotDataItem, data: SeriesData,
             values: np.ndarray | None) -> None:
    if values is None or not len(data):
        curve.setData([], [])
    else:
        curve.setData(data.time / 1e3, values)


@dataclass(frozen=True)
class _Vol:
    asset: str
    window: int
    dvol: SeriesData
    rv: SeriesData
    spread: SeriesData
    volmex: SeriesData  # BVIV / EVIV when Volmex's undocumented endpoint answers


def _compute(asset: str, window: int, dvol: SeriesData, closes: SeriesData,
             volmex: SeriesData) -> _Vol:
    from models.volatility import iv_rv_spread, realized_vol  # on the worker, off start-up

    rv = realized_vol(closes, window)
    spread = iv_rv_spread(dvol, rv) if len(dvol) and len(rv) else SeriesData.empty()
    return _Vol(asset, window, dvol, rv, spread, volmex)


def volmex_id(asset: str) -> str:
    return f"{asset[0]}viv.{asset}"


VOLMEX_COLOR = "#ce93d8"


class VolatilityPanel(Panel):
    key = "volatility"
    title = "Implied vs realised volatility"
    series_ids = ("dvol.btc", "dvol.eth", "btc.1d", "eth.1d", "bviv.btc", "eviv.eth")

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        self.asset = stored_choice(ctx.settings, "vol/asset", ASSETS, "btc")
        self.window = stored_choice(ctx.settings, "vol/window", RV_WINDOWS, 30)
        self.result: _Vol | None = None

        bar = QHBoxLayout()
        self._groups = []
        for values, current, handler, fmt in (
                (ASSETS, self.asset, self._on_asset, str.upper),
                (RV_WINDOWS, self.window, self._on_window, lambda w: f"RV {w}d")):
            self._groups.append(choice_buttons(self, bar, values, current, handler, fmt))
            bar.addSpacing(10)
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        bar.addWidget(self.summary, 1)

        self.chart = pg.GraphicsLayoutWidget()
        self.plot = self.chart.addPlot(row=0, col=0, viewBox=PromptViewBox(), axisItems={
            "bottom": UtcDateAxisItem()})
        self.plot.setLabel("left", "volatility, % annualised")
        theme.grid(self.plot)
        self.plot.setMenuEnabled(False)
        theme.legend(self.plot)
        self.dvol_curve = LodCurveItem(name="DVOL (Deribit implied)", pen=theme.pen("#29b6f6"))
        self.rv_curve = LodCurveItem(name="realised", pen=theme.pen("#ffca28"))
        self.volmex_curve = LodCurveItem(name="Volmex implied", pen=theme.pen(VOLMEX_COLOR))
        self.plot.addItem(self.dvol_curve)
        self.plot.addItem(self.rv_curve)
        self.plot.addItem(self.volmex_curve)
        self.spread_plot = self.chart.addPlot(row=1, col=0, viewBox=PromptViewBox(), axisItems={
            "bottom": UtcDateAxisItem()})
        self.spread_plot.setXLink(self.plot)
        self.spread_plot.setMenuEnabled(False)
        self.spread_plot.setLabel("left", "IV − RV, vol pts")
        self.spread_plot.setLabel("bottom", "time (UTC)")
        theme.grid(self.spread_plot)
        self.spread_plot.getAxis("left").setWidth(self.plot.getAxis("left").width())
        self.spread_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        self.spread_curve = self.spread_plot.plot(pen=theme.pen(theme.FOREGROUND), fillLevel=0.0,
                                                  brush=pg.mkBrush(41, 182, 246, 50))
        self.chart.ci.layout.setRowStretchFactor(0, 3)
        self.chart.ci.layout.setRowStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.chart, 1)
        ctx.store.seriesChanged.connect(self._on_series_changed)
        self._recompute()

    @Slot(str)
    def _on_series_changed(self, series_id: str) -> None:
        if series_id in (f"dvol.{self.asset}", f"{self.asset}.1d", volmex_id(self.asset)):
            self._recompute_soon()

    def _recompute(self) -> None:
        dvol = self.ctx.store.series(f"dvol.{self.asset}") or SeriesData.empty()
        closes = self.ctx.store.series(f"{self.asset}.1d") or SeriesData.empty()
        volmex = self.ctx.store.series(volmex_id(self.asset)) or SeriesData.empty()
        if not len(dvol) and not len(closes):
            return
        self.ctx.scheduler.run(f"vol:{self.key}", _compute, self.asset, self.window, dvol,
                               closes, volmex, on_result=self._on_result)

    def _on_result(self, result: _Vol) -> None:
        if result.asset != self.asset or result.window != self.window:
            return
        self.result = result
        dvol, rv, spread = result.dvol, result.rv, result.spread
        set_line(self.dvol_curve, dvol, dvol["close"] if len(dvol) else None)
        set_line(self.rv_curve, rv, first_column(rv))
        set_line(self.spread_curve, spread, first_column(spread))
        volmex = result.volmex
        set_line(self.volmex_curve, volmex, volmex["close"] if len(volmex) else None)
        parts = []
        if len(dvol):
            parts.append(f"<span style='color:#29b6f6'>DVOL {dvol['close'][-1]:.1f}</span>")
        if len(rv):
            parts.append(f"<span style='color:#ffca28'>RV{result.window} "
                         f"{first_column(rv)[-1]:.1f}</span>")
        if len(spread):
            value = first_column(spread)[-1]
            parts.append(f"IV−RV {value:+.1f} vol pts")
        if len(volmex):
            name = volmex_id(result.asset).split(".")[0].upper()
            parts.append(f"<span style='color:{VOLMEX_COLOR}'>{name} "
                         f"{volmex['close'][-1]:.1f}</span>")
        if self.ctx.demo:
            parts.append(f"<span style='color:{theme.WARNING}'>Demo data (synthetic)</span>")
        self.summary.setText(" &nbsp; ".join(parts))
        if len(dvol):
            end = dvol.time[-1] / 1e3
            self.plot.setXRange(end - 365 * 86400, end, padding=0.01)
        self._note_painted()

    def has_data(self) -> bool:
        return self.result is not None and len(self.result.dvol) > 0

    def _on_asset(self, asset: str) -> None:
        self.asset = asset
        self.ctx.settings.setValue("vol/asset", asset)
        self._recompute()

    def _on_window(self, window: int) -> None:
        self.window = window
        self.ctx.settings.setValue("vol/window", window)
        self._recompute()

    def shutdown(self) -> None:
        self.ctx.store.seriesChanged.disconnect(self._on_series_changed)
