"""Squeeze anatomy: price, OI-weighted funding, OI change, liquidations, DVOL and basis on one
time axis, with the regime shaded across all six.

A short squeeze reads top to bottom: price up, funding negative (shorts paying), open interest
falling (shorts closing), short liquidations above the axis, implied vol easing, the perpetual
back from a discount. The regime of each hourly bar comes from `models/squeeze.py` under the
thresholds set in the dock's bar (they are dock choices: a workspace keeps them); every
convention is written there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QVBoxLayout, QWidget

from models import dock_choices
from models.analyses import SqueezeAnalysis, squeeze_inputs
from models.at_instant import index_at_or_before
from models.catalog import FUNDING_VENUES, OI_VENUES
from models.derived import DERIVED
from models.ids import dvol_id, funding_id, oi_id, price_id
from models.squeeze import (
    LONG_FLUSH,
    SHORT_SQUEEZE,
    SQUEEZE_LIMITS,
    WINDOWS_HOURS,
    SqueezeThresholds,
)
from ui import theme
from ui.charts.axes import UtcDateAxisItem, ValueAxisItem
from ui.charts.axis_format import compact
from ui.charts.bands import BandsItem
from ui.charts.chart_state import ChartStateMarks
from ui.charts.crosshair import Crosshair, format_price
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, choice_buttons, debounced, elastic
from ui.time_link import cursor_stamp

ASSETS = dock_choices.DERIVATIVE_ASSETS
THRESHOLDS = tuple(SqueezeThresholds().as_params())
#: the plots, top to bottom
ROWS = ("price", "funding", "oi", "liq", "dvol", "basis")
#: the axes' widths, equal in every plot so the six share their x pixels
LEFT_AXIS_PX = 46
RIGHT_AXIS_PX = 34
#: the threshold boxes: (choice, prefix, suffix, decimals, step)
BOXES = (("funding_apr_max", "funding <", " % APR", 1, 5.0),
         ("oi_change_max_pct", "OI Δ <", " %", 1, 0.5),
         ("price_change_min_pct", "price Δ > ±", " %", 1, 0.5),
         ("liq_multiple", "liq >", " × usual", 1, 0.5))


class SqueezePanel(Panel):
    key = "squeeze"
    title = "Squeeze anatomy"
    tab_title = "Squeeze"
    settings_prefix = "squeeze"
    series_ids = tuple(dict.fromkeys(i for a in ASSETS for i in squeeze_inputs(a)))

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        chosen = dock_choices.DOCK_DEFAULTS[self.key]
        self.asset = self.persisted("asset", ASSETS, chosen["asset"])
        self.window_hours = self.persisted("window_hours", WINDOWS_HOURS, chosen["window_hours"])
        for name, (lo, hi) in SQUEEZE_LIMITS.items():
            self._persist_float(name, lo, hi, chosen[name])
        self.result: SqueezeAnalysis | None = None
        self._ranged_asset: str | None = None  # the asset whose default range is set

        bar = FlowLayout()
        self._group = choice_buttons(self, bar, ASSETS, self.asset,
                                     lambda a: self.choose("asset", a), str.upper)
        bar.addSpacing(8)
        self.window_box = QComboBox()
        for hours in WINDOWS_HOURS:
            self.window_box.addItem(f"Δ over {hours} h", hours)
        self.window_box.setCurrentIndex(WINDOWS_HOURS.index(self.window_hours))
        self.window_box.setToolTip("The window W the price and OI changes and the "
                                   "liquidations are measured over")
        self.window_box.currentIndexChanged.connect(
            lambda _i: self.choose("window_hours", self.window_box.currentData()))
        bar.addWidget(self.window_box)
        self.boxes: dict[str, QDoubleSpinBox] = {}
        for name, prefix, suffix, decimals, step in BOXES:
            lo, hi = SQUEEZE_LIMITS[name]
            box = QDoubleSpinBox(decimals=decimals, minimum=lo, maximum=hi, singleStep=step)
            box.setPrefix(prefix + " ")
            box.setSuffix(suffix)
            box.setValue(getattr(self, name))
            box.setToolTip(_BOX_TIPS[name])
            self.boxes[name] = box
            bar.addWidget(box)
        # Typing "-1.5" passes through "-1" and "-1.": one recompute once the typing settles.
        self._thresholds_soon = debounced(self, 300, self._on_boxes)
        for box in self.boxes.values():
            box.valueChanged.connect(self._thresholds_soon)
        bar.addStretch(1)
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(Qt.TextFormat.RichText)

        self.chart = pg.GraphicsLayoutWidget()
        self.chart.ci.layout.setVerticalSpacing(0)
        self.plots: dict[str, pg.PlotItem] = {}
        self.names: dict[str, pg.TextItem] = {}
        self.reasons: dict[str, pg.TextItem] = {}
        self.shading: dict[str, tuple[BandsItem, BandsItem]] = {}
        for row, name in enumerate(ROWS):
            self._add_plot(row, name)
        self.price_plot = self.plots["price"]
        self.state_marks = ChartStateMarks.for_panel(self)
        self.state_marks.watch(self.price_plot, lambda: (price_id(self.asset, "1h"),))
        self.state_marks.watch(self.plots["funding"], lambda: tuple(
            funding_id(v, self.asset) for v in FUNDING_VENUES))
        self.state_marks.watch(self.plots["oi"], lambda: tuple(
            oi_id(v, self.asset) for v in OI_VENUES))
        self.state_marks.watch(self.plots["dvol"], lambda: (dvol_id(self.asset),))

        self.price_curve = self._curve("price", theme.asset_color(self.asset))
        self.funding_curve = self._curve("funding", theme.STRONG)
        self.oi_curve = self._curve("oi", theme.FOREGROUND)
        self.short_bars = pg.PlotDataItem(stepMode="center", fillLevel=0.0, pen=None,
                                          brush=pg.mkBrush(theme.UP))
        self.long_bars = pg.PlotDataItem(stepMode="center", fillLevel=0.0, pen=None,
                                         brush=pg.mkBrush(theme.DOWN))
        dashed = theme.pen(theme.MUTED, style=Qt.PenStyle.DashLine)
        self.short_usual = pg.PlotDataItem(stepMode="center", pen=dashed)
        self.long_usual = pg.PlotDataItem(stepMode="center", pen=dashed)
        for item in (self.short_bars, self.long_bars, self.short_usual, self.long_usual):
            self.plots["liq"].addItem(item)
        self.dvol_curve = self._curve("dvol", theme.IMPLIED)
        self.premium_curve = self._curve("basis", theme.FOREGROUND)
        # The front quarterly APR on the basis plot's right axis: a second view sharing x.
        self.front_view = pg.ViewBox()
        basis = self.plots["basis"]
        basis.scene().addItem(self.front_view)
        basis.getAxis("right").linkToView(self.front_view)
        basis.getAxis("right").setStyle(showValues=True)
        self.front_view.setXLink(basis)
        self.front_view.setAutoVisible(y=True)  # the days in view, as the left axis
        self.front_curve = LodCurveItem(pen=theme.pen(theme.SECONDARY,
                                                      style=Qt.PenStyle.DotLine))
        self.front_view.addItem(self.front_curve)
        basis.vb.sigResized.connect(self._sync_front_view)
        # The thresholds drawn where the plotted quantity is the one compared.
        warn = theme.pen(theme.WARNING, style=Qt.PenStyle.DashLine)
        self.funding_lines = (pg.InfiniteLine(angle=0, pen=warn),
                              pg.InfiniteLine(angle=0, pen=warn))
        for line in self.funding_lines:
            self.plots["funding"].addItem(line, ignoreBounds=True)
        self.oi_line = pg.InfiniteLine(angle=0, pen=warn)
        self.plots["oi"].addItem(self.oi_line, ignoreBounds=True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(1)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.chart, 1)
        self.add_footer(layout)
        # One time cursor, shared with the other time docks; the summary reads it.
        self._summary_now = ""
        self.crosshair = Crosshair(self.chart.scene(), self)
        self.crosshair.set_plots(list(self.plots.values()))
        ctx.time_link.attach(self.crosshair, self.show_at, own=True)
        ctx.time_link.attach_range(self.key, self.price_plot)
        self._feed = self.follow("squeeze", self._on_result, **self._params())
        self.chart.installEventFilter(self)
        self._show_thresholds()

    # -- building ---------------------------------------------------------------------------
    def _persist_float(self, name: str, lo: float, hi: float, default: float) -> None:
        self.persisted(name, None, default)
        value = getattr(self, name)
        if not isinstance(value, float) or not lo <= value <= hi:
            setattr(self, name, default)

    def _add_plot(self, row: int, name: str) -> None:
        plot = self.chart.addPlot(row=row, col=0, viewBox=PromptViewBox(), axisItems={
            "bottom": UtcDateAxisItem(), "left": ValueAxisItem("left"),
            "right": ValueAxisItem("right")})
        plot.setMenuEnabled(False)
        plot.setAutoVisible(y=True)  # the y range of the days in view, not of six months
        theme.grid(plot)
        plot.showAxis("right")
        plot.getAxis("left").setWidth(LEFT_AXIS_PX)
        plot.getAxis("right").setWidth(RIGHT_AXIS_PX)
        plot.getAxis("right").setStyle(showValues=False)
        if row < len(ROWS) - 1:  # one time axis, under the last plot
            plot.getAxis("bottom").setStyle(showValues=False)
            plot.getAxis("bottom").setHeight(2)
        else:
            plot.setLabel("bottom", "time (UTC)")
        if self.plots:
            plot.setXLink(self.plots[ROWS[0]])
        if name in ("funding", "oi", "liq", "basis"):
            plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)),
                         ignoreBounds=True)
        shading = (BandsItem(theme.translucent(theme.UP, 45)),
                   BandsItem(theme.translucent(theme.DOWN, 45)))
        for band in shading:
            band.setZValue(-10)
            plot.addItem(band, ignoreBounds=True)
        # The plot's name and, when it has no data, the reason: text in the view's corner (a
        # title row per plot would take a sixth of a laptop dock).
        label = pg.TextItem("", color=theme.MUTED, anchor=(0, 0))
        label.setParentItem(plot.vb)
        label.setPos(2, 0)
        reason = pg.TextItem("", color=theme.WARNING, anchor=(0, 0))
        reason.setParentItem(plot.vb)
        reason.setPos(2, 14)
        self.plots[name] = plot
        self.names[name] = label
        self.reasons[name] = reason
        self.shading[name] = shading
        self.chart.ci.layout.setRowStretchFactor(row, 1)

    def _curve(self, row: str, color: str) -> LodCurveItem:
        curve = LodCurveItem(pen=theme.pen(color))
        self.plots[row].addItem(curve)
        return curve

    def _sync_front_view(self) -> None:
        basis = self.plots["basis"]
        self.front_view.setGeometry(basis.vb.sceneBoundingRect())
        self.front_view.linkedViewChanged(basis.vb, self.front_view.XAxis)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.chart and event.type() == QEvent.Type.Resize:
            self._sync_front_view()
        return super().eventFilter(watched, event)

    # -- choices ----------------------------------------------------------------------------
    def thresholds(self) -> SqueezeThresholds:
        return SqueezeThresholds(**{name: getattr(self, name) for name in THRESHOLDS})

    def _params(self) -> dict[str, Any]:
        return {"asset": self.asset, **self.thresholds().as_params()}

    def _on_boxes(self) -> None:
        for name, box in self.boxes.items():
            value = round(float(box.value()), 6)
            if value != getattr(self, name):
                self.choose(name, value)

    def _on_choice(self, name: str) -> None:
        if name == "asset":
            self.result = None
            self.price_curve.setPen(theme.pen(theme.asset_color(self.asset)))
        self._show_thresholds()
        self._feed.update(**self._params())
        self.freshness.refresh()

    def freshness_ids(self) -> tuple[str, ...]:
        return squeeze_inputs(self.asset)

    def _show_thresholds(self) -> None:
        """The thresholds on the charts: the lines and the plots' names say them."""
        t = self.thresholds()
        w = t.window_hours
        for line, level in zip(self.funding_lines, (t.funding_apr_max, -t.funding_apr_max),
                               strict=True):
            line.setPos(level)
        self.funding_lines[1].setVisible(t.funding_apr_max != 0)
        self.oi_line.setPos(t.oi_change_max_pct)
        unit = self.asset.upper()
        names = {
            "price": f"{unit} (shaded: Δ{w}h > +{t.price_change_min_pct:g} % squeeze, "
                     f"< −{t.price_change_min_pct:g} % flush)",
            "funding": f"funding APR %, OI-weighted (dashed: ±{t.funding_apr_max:g})",
            "oi": f"OI Δ{w}h %, coins (dashed: {t.oi_change_max_pct:+g})",
            "liq": f"liquidations $/h reported: shorts ▲ longs ▼ (dashed: usual; > "
                   f"{t.liq_multiple:g}× over {w}h)",
            "dvol": "DVOL (Deribit implied vol)",
            "basis": "perp premium % · front quarterly APR % (dotted, right)",
        }
        for row, text in names.items():
            self.names[row].setText(text)
        self._set_provenance()

    def _set_provenance(self) -> None:
        as_of = self.result.as_of_ms if self.result else None
        tooltip = DERIVED[f"regime.{self.asset}"].provenance(self.result, as_of).tooltip()
        for row in ("price", "funding", "oi", "liq"):
            self.plots[row].setToolTip(tooltip)
        basis = DERIVED[f"squeezebasis.{self.asset}"]
        self.plots["basis"].setToolTip(basis.provenance(self.result, as_of).tooltip())

    # -- drawing ----------------------------------------------------------------------------
    def _on_result(self, result: SqueezeAnalysis) -> None:
        if result.asset != self.asset or result.thresholds != self.thresholds():
            return
        self.result = result
        x = result.hours / 1e3
        self._line(self.price_curve, x, result.close)
        self._line(self.funding_curve, x, result.funding_apr_pct)
        self._line(self.oi_curve, x, result.oi_change_pct)
        self._bars(self.short_bars, x, result.short_usd)
        self._bars(self.long_bars, x, -result.long_usd)
        self._bars(self.short_usual, x, result.thresholds.liq_multiple * result.short_usual)
        self._bars(self.long_usual, x, -result.thresholds.liq_multiple * result.long_usual)
        if len(result.dvol):
            self.dvol_curve.setData(result.dvol.time / 1e3, result.dvol["close"])
        else:
            self.dvol_curve.clear()
        self._line(self.premium_curve, x, result.premium_pct)
        self._line(self.front_curve, x, result.front_apr_pct)
        squeezes = [(a / 1e3, b / 1e3) for a, b, k in result.periods if k == SHORT_SQUEEZE]
        flushes = [(a / 1e3, b / 1e3) for a, b, k in result.periods if k == LONG_FLUSH]
        for up, down in self.shading.values():
            up.setBands(squeezes)
            down.setBands(flushes)
        for row in ROWS:
            self.reasons[row].setText(result.missing.get(row, ""))
        if not result.missing.get("liq") and not np.isfinite(result.regime).any():
            self.reasons["price"].setText("no regime yet: it needs every input for W hours "
                                          "and a day of liquidations")
        if len(x) and self._ranged_asset != result.asset:
            self._ranged_asset = result.asset
            end = x[-1] + 3600
            self.price_plot.setXRange(end - dock_choices.SQUEEZE_SPAN_DAYS * 86400, end,
                                      padding=0.01)
        self._sync_front_view()
        self._summary_now = self._summary(len(x) - 1) if len(x) else "no data yet"
        self.summary.setText(self._summary_now)
        self._set_provenance()
        if len(x):
            self._note_painted()

    @staticmethod
    def _line(curve: LodCurveItem, x: np.ndarray, y: np.ndarray) -> None:
        if len(x) and np.isfinite(y).any():
            curve.setData(x, y)
        else:
            curve.clear()

    @staticmethod
    def _bars(item: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
        """One step per hourly bar, [h, h + 1 h), NaN hours as gaps at zero."""
        if not len(x) or not np.isfinite(y).any():
            item.setData([], [])
            return
        edges = np.append(x, x[-1] + 3600.0)
        item.setData(edges, np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0))

    def _summary(self, i: int) -> str:
        """The readout of bar i: every row's value and the regime, in the rows' colours."""
        r = self.result
        if r is None or i < 0:
            return ""
        w = r.thresholds.window_hours

        def pct(value: float, fmt: str = "+.1f") -> str:
            return f"{value:{fmt}} %" if np.isfinite(value) else "–"

        def usd(value: float) -> str:
            return compact(value, "$") if np.isfinite(value) else "–"

        code = r.regime[i]
        parts = []  # the regime first: the line is cut at the right in a narrow dock
        if code == SHORT_SQUEEZE:
            parts.append(f"<b style='color:{theme.UP}'>short squeeze</b>")
        elif code == LONG_FLUSH:
            parts.append(f"<b style='color:{theme.DOWN}'>long flush</b>")
        parts += [f"{self.asset.upper()} {format_price(float(r.close[i]))} "
                 f"(Δ{w}h {pct(r.price_change_pct[i])})",
                 f"funding {pct(r.funding_apr_pct[i])} APR",
                 f"OI Δ{w}h {pct(r.oi_change_pct[i], '+.2f')}",
                 f"liq <span style='color:{theme.UP}'>shorts {usd(r.short_usd[i])}</span> / "
                 f"<span style='color:{theme.DOWN}'>longs {usd(r.long_usd[i])}</span>"]
        if len(r.dvol):
            j = index_at_or_before(r.dvol.time, float(r.hours[i]))
            if j >= 0:
                parts.append(f"<span style='color:{theme.IMPLIED}'>DVOL "
                             f"{r.dvol['close'][j]:.1f}</span>")
        if np.isfinite(r.premium_pct[i]):
            parts.append(f"premium {r.premium_pct[i]:+.3f} %")
        return " · ".join(parts)

    def show_at(self, x: float | None) -> None:
        """The readout at the shared time cursor: the bar in force at its instant; the latest
        bar when it leaves."""
        r = self.result
        if x is None or r is None or not len(r.hours):
            self.summary.setText(self._summary_now)
            return
        i = index_at_or_before(r.hours, x * 1e3)
        self.summary.setText(f"<b>{cursor_stamp(x)}</b> · {self._summary(i)}" if i >= 0
                             else f"<b>{cursor_stamp(x)}</b>")

    def has_data(self) -> bool:
        return self.result is not None and len(self.result.hours) > 0

    # -- export (docs/export.md) ------------------------------------------------------------
    def plotted_series(self) -> list:
        from models.export_view import squeeze_series

        return [] if self.result is None else squeeze_series(self.result)

    def plotted_x_range(self) -> tuple[float, float]:
        x0, x1 = self.price_plot.vb.viewRange()[0]
        return float(x0), float(x1)


_BOX_TIPS = {
    "funding_apr_max": "f: a short squeeze needs the OI-weighted funding APR below f (shorts "
                       "paying); a long flush needs it above −f",
    "oi_change_max_pct": "o: both need the open interest (coins, summed over venues) to fall "
                         "by more than this over the window: positions being closed",
    "price_change_min_pct": "p: a short squeeze needs the price up more than p % over the "
                            "window, a long flush down more than p %",
    "liq_multiple": "L: the squeezed side's reported liquidations over the window above L × "
                    "their usual hour (the median hour of the 30 days before)",
}
