"""Implied against realised volatility: Deribit DVOL, close-to-close realised vol, the spread.

IV well above RV means options price more fear than the market is delivering (hedging demand);
IV below RV means options are cheap against realised moves.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from models import dock_choices
from models.analyses import VolatilityAnalysis
from models.at_instant import value_at_or_before
from models.derived import DERIVED, RV_WINDOWS
from models.ids import dvol_id, price_id, volmex_id
from models.series import SeriesData
from models.volatility import RvMethod
from ui import theme
from ui.charts.axes import UtcDateAxisItem
from ui.charts.chart_state import ChartStateMarks
from ui.charts.crosshair import Crosshair
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, choice_buttons, convention_box, elastic
from ui.time_link import cursor_stamp

ASSETS = dock_choices.DERIVATIVE_ASSETS


#: below this chart height, the compact labels (see `VolatilityPanel._fit_to_height`)
COMPACT_CHART_PX = 300


def set_line(curve: LodCurveItem | pg.PlotDataItem, data: SeriesData, column: str) -> None:
    if not len(data):
        curve.setData([], [])
    else:
        curve.setData(data.time / 1e3, data[column])


class VolatilityPanel(Panel):
    key = "volatility"
    title = "Implied vs realised volatility"
    tab_title = "Volatility"
    settings_prefix = "vol"
    series_ids = tuple(i for a in ASSETS for i in (dvol_id(a), price_id(a, "1d"), volmex_id(a)))

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        chosen = dock_choices.DOCK_DEFAULTS[self.key]
        self.asset = self.persisted("asset", ASSETS, chosen["asset"])
        self.window = self.persisted("window", RV_WINDOWS, chosen["window"])
        self.result: VolatilityAnalysis | None = None

        bar = FlowLayout()
        self._groups = []
        for name, values, fmt in (("asset", ASSETS, str.upper),
                                  ("window", RV_WINDOWS, lambda w: f"RV {w}d")):
            self._groups.append(choice_buttons(self, bar, values, getattr(self, name),
                                               lambda v, n=name: self.choose(n, v), fmt))
            bar.addSpacing(10)
        self.rv_method_box = convention_box(
            bar, ((m.value, f"RV {m.label}", m.description) for m in RvMethod),
            ctx.feeds.shared_params("volatility")["rv_method"],
            lambda v: ctx.feeds.set_shared_params("volatility", rv_method=v),
            "How realised vol treats the mean return (zero-mean is the usual choice against "
            "implied vol)")
        bar.addSpacing(10)
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        bar.addStretch(1)

        self.chart = pg.GraphicsLayoutWidget()
        self.plot = self.chart.addPlot(row=0, col=0, viewBox=PromptViewBox(), axisItems={
            "bottom": UtcDateAxisItem()})
        self.plot.setLabel("left", "% annualised")
        ChartStateMarks.for_panel(self).watch(self.plot, self.freshness_ids)  # stale, failing
        theme.grid(self.plot)
        self.plot.setMenuEnabled(False)
        self.legend = theme.legend(self.plot)
        self.dvol_curve = LodCurveItem(name="DVOL (Deribit implied)", pen=theme.pen(theme.IMPLIED))
        self.rv_curve = LodCurveItem(name="realised", pen=theme.pen(theme.REALISED))
        self.volmex_curve = LodCurveItem(name="Volmex implied", pen=theme.pen(theme.VOLMEX))
        self.plot.addItem(self.dvol_curve)
        self.plot.addItem(self.rv_curve)
        self.plot.addItem(self.volmex_curve)
        self.spread_plot = self.chart.addPlot(row=1, col=0, viewBox=PromptViewBox(), axisItems={
            "bottom": UtcDateAxisItem()})
        self.spread_plot.setXLink(self.plot)
        # One time axis, under the spread: the same dates twice took a third of a short dock.
        self.plot.getAxis("bottom").setStyle(showValues=False)
        self.plot.getAxis("bottom").setHeight(4)
        self.spread_plot.setMenuEnabled(False)
        self.spread_plot.setLabel("left", "IV − RV pts")
        self.spread_plot.setLabel("bottom", "time (UTC)")
        theme.grid(self.spread_plot)
        self.spread_plot.getAxis("left").setWidth(self.plot.getAxis("left").width())
        self.spread_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        self.spread_curve = self.spread_plot.plot(pen=theme.pen(theme.FOREGROUND), fillLevel=0.0,
                                                  brush=pg.mkBrush(*theme.AREA_FILL))
        self.chart.ci.layout.setRowStretchFactor(0, 3)
        self.chart.ci.layout.setRowStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        # Its own line: the readout at the time cursor does not fit beside the controls.
        layout.addWidget(self.summary)
        layout.addWidget(self.chart, 1)
        self.add_footer(layout)
        # The time cursor shared with the other docks; the summary reads the vols at its instant.
        self._summary_now = ""
        self.crosshair = Crosshair(self.chart.scene(), self)
        self.crosshair.set_plots([self.plot, self.spread_plot])
        ctx.time_link.attach(self.crosshair, self.show_at, own=True)
        ctx.time_link.attach_range(self.key, self.plot)
        self._feed = self.follow("volatility", self._on_result, asset=self.asset,
                                 window=self.window)
        self.chart.installEventFilter(self)
        self._fit_to_height()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.chart and event.type() == QEvent.Type.Resize:
            self._fit_to_height()
        return super().eventFilter(watched, event)

    def _fit_to_height(self) -> None:
        """In a short dock (a laptop's half-height) the legend would cover the lines and the
        two axis titles would run into each other: the legend goes (the line above the chart
        names each series in its colour) and the titles shorten."""
        compact = self.chart.height() < COMPACT_CHART_PX
        self.legend.setVisible(not compact)
        self.plot.setLabel("left", "%" if compact else "% annualised")
        self.spread_plot.setLabel("left", "IV−RV" if compact else "IV − RV pts")

    def freshness_ids(self) -> tuple[str, ...]:
        return dvol_id(self.asset), price_id(self.asset, "1d"), volmex_id(self.asset)

    def _on_result(self, result: VolatilityAnalysis) -> None:
        if result.asset != self.asset or result.window != self.window:
            return
        self.result = result
        dvol, rv, spread = result.dvol, result.rv, result.spread
        set_line(self.dvol_curve, dvol, "close")
        set_line(self.rv_curve, rv, "rv")
        set_line(self.spread_curve, spread, "spread")
        volmex = result.volmex
        set_line(self.volmex_curve, volmex, "close")
        parts = []
        if len(dvol):
            parts.append(f"<span style='color:{theme.IMPLIED}'>DVOL {dvol['close'][-1]:.1f}</span>")
        if len(rv):
            parts.append(f"<span style='color:{theme.REALISED}'>RV{result.window} "
                         f"({RvMethod(result.rv_method).label}) "
                         f"{rv['rv'][-1]:.1f}</span>")
        if len(spread):
            parts.append(f"IV−RV (trailing) {spread['spread'][-1]:+.1f} vol pts")
        if len(volmex):
            name = f"{result.asset[0].upper()}VIV"
            parts.append(f"<span style='color:{theme.VOLMEX}'>{name} "
                         f"{volmex['close'][-1]:.1f}</span>")
        self._summary_now = " &nbsp; ".join(parts)
        self.summary.setText(self._summary_now)
        rv_spec = DERIVED[f"rv.{result.asset}.{result.window}"]
        spread_spec = DERIVED[f"ivrv.{result.asset}.{result.window}"]
        self.rv_curve.setToolTip(rv_spec.provenance(result, rv.last_ms).tooltip())
        self.plot.setToolTip(rv_spec.provenance(result, rv.last_ms).tooltip())
        self.spread_plot.setToolTip(spread_spec.provenance(result, spread.last_ms).tooltip())
        if len(dvol):
            end = dvol.time[-1] / 1e3
            self.plot.setXRange(end - 365 * 86400, end, padding=0.01)
        self._note_painted()

    def show_at(self, x: float | None) -> None:
        """The summary as a readout: DVOL, realised vol, IV − RV and Volmex in force at the
        cursor's instant (the last row at or before it); the latest values when it leaves."""
        result = self.result
        if x is None or result is None:
            self.summary.setText(self._summary_now)
            return
        t_ms = x * 1e3

        def at(data: SeriesData, column: str) -> str:
            value = value_at_or_before(data.time, data[column], t_ms) if len(data) \
                else float("nan")
            return f"{value:.1f}" if np.isfinite(value) else "–"

        spread = value_at_or_before(result.spread.time, result.spread["spread"], t_ms) \
            if len(result.spread) else float("nan")
        parts = [f"<b>{cursor_stamp(x)}</b>",
                 f"<span style='color:{theme.IMPLIED}'>DVOL {at(result.dvol, 'close')}</span>",
                 f"<span style='color:{theme.REALISED}'>RV{result.window} "
                 f"{at(result.rv, 'rv')}</span>",
                 "IV−RV " + (f"{spread:+.1f}" if np.isfinite(spread) else "–")]
        if len(result.volmex):
            parts.append(f"<span style='color:{theme.VOLMEX}'>{result.asset[0].upper()}VIV "
                         f"{at(result.volmex, 'close')}</span>")
        self.summary.setText(" &nbsp; ".join(parts))

    def has_data(self) -> bool:
        return self.result is not None and len(self.result.dvol) > 0

    def _on_choice(self, name: str) -> None:
        self._feed.update(asset=self.asset, window=self.window)
        self.freshness.refresh()

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        from models.export_view import volatility_series

        return [] if self.result is None else volatility_series(self.result)

    def plotted_x_range(self) -> tuple[float, float]:
        x0, x1 = self.plot.vb.viewRange()[0]
        return float(x0), float(x1)
