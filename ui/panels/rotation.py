"""Rotation: is BTC moving with stocks and metals, or on its own?

Daily analytics on the sessions BTC shares with the exchange-traded assets (BTC sampled at the
16:00 New York close; weekends and holidays never become zero returns): rolling correlation,
rolling beta to the S&P 500, BTC/gold and BTC/S&P 500 ratios, a correlation matrix for the
visible window, and decoupling days (a big BTC move while its correlation with equities is low),
which are also marked on the price chart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from models.analyses import (
    ROTATION_WINDOWS,
    CorrelationMatrix,
    RotationAnalysis,
    correlation_matrix_between,
    rotation_inputs,
)
from models.assets import short_name
from models.at_instant import value_at_or_before
from models.derived import DERIVED
from ui import theme
from ui.charts.axes import UtcDateAxisItem
from ui.charts.chart_state import ChartStateMarks
from ui.charts.crosshair import Crosshair
from ui.charts.fit import set_title
from ui.charts.heatmap import HeatmapItem
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, choice_buttons, debounced, elastic, symbol_params
from ui.theme import asset_color  # the current theme's variant
from ui.time_link import cursor_stamp


def _x_seconds(index: Any) -> np.ndarray:
    """A session index (UTC close instants) as epoch seconds for a date axis."""
    return np.asarray(index.as_unit("s").asi8, dtype=np.float64)


def _add_line(target: pg.PlotItem | pg.ViewBox, series: Any, **kwargs: Any) -> LodCurveItem:
    curve = LodCurveItem(**kwargs)
    curve.setData(_x_seconds(series.index), series.to_numpy(float))
    target.addItem(curve)
    return curve


class RotationPanel(Panel):
    key = "rotation"
    title = "Rotation: BTC vs stocks and metals"
    tab_title = "Rotation"
    series_ids = rotation_inputs()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        # Shared with the decoupling marks on the price chart: the feeds keep them.
        params = ctx.feeds.shared_params("rotation")
        self.window = params["window"]  # as earlier versions (it shadows QWidget.window)
        self.view: RotationAnalysis | None = None
        self.corr_curves: dict[str, LodCurveItem] = {}
        self._matrix_ticks: list[tuple[float, str]] = []
        self.beta_curve: LodCurveItem | None = None

        bar = FlowLayout()
        self._group = choice_buttons(self, bar, ROTATION_WINDOWS, params["window"],
                                     lambda w: ctx.feeds.set_shared_params("rotation", window=w),
                                     lambda w: f"{w}d",
                                     lambda w: f"Rolling window: {w} equity sessions")
        bar.addSpacing(12)
        bar.addWidget(QLabel("flag |BTC move| >"))
        self.k_box = QDoubleSpinBox(decimals=1, minimum=0.5, maximum=6.0, singleStep=0.5)
        self.k_box.setValue(params["k"])
        self.k_box.setSuffix(" σ")
        bar.addWidget(self.k_box)
        bar.addWidget(QLabel("and corr(S&P) <"))
        self.threshold_box = QDoubleSpinBox(decimals=2, minimum=-1.0, maximum=1.0,
                                            singleStep=0.05)
        self.threshold_box.setValue(params["threshold"])
        bar.addWidget(self.threshold_box)
        # Typing "2.5" passes through 2 and 2.5: one recompute once the typing settles.
        self._params_soon = debounced(self, 300, self._on_params)
        self.k_box.valueChanged.connect(self._params_soon)
        self.threshold_box.valueChanged.connect(self._params_soon)
        # The summary names each peer in its line's colour: it is the correlation chart's
        # legend, outside the plot (a legend inside covered the whole chart in a short dock).
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        bar.addStretch(1)

        self.chart = pg.GraphicsLayoutWidget()
        self.corr_plot = self._date_plot(0, 0, "rolling correlation with BTC")
        self.corr_plot.setYRange(-1, 1)
        self.state_marks = ChartStateMarks.for_panel(self)
        self.state_marks.watch(self.corr_plot, self.freshness_ids)  # stale inputs
        self.corr_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        self.matrix_plot = self.chart.addPlot(row=0, col=1, enableMenu=False)
        set_title(self.matrix_plot, "correlation matrix")
        self.matrix_plot.setMenuEnabled(False)
        # Not square: the cells widen to fit their numbers in a short dock.
        self.matrix_plot.vb.setMouseEnabled(x=False, y=False)
        self.matrix_plot.invertY(True)
        self.matrix = HeatmapItem()
        self._cell_font = QFont()
        self._cell_texts: list[pg.TextItem] = []  # the cells' numbers, reused
        self._cell_font.setPointSizeF(7.5)
        self.matrix_plot.addItem(self.matrix)
        self.beta_plot = self._date_plot(1, 0, "rolling beta of BTC to S&P 500")
        self.beta_plot.setXLink(self.corr_plot)
        self.ratio_plot = self._date_plot(1, 1, "BTC/gold, BTC/S&P 500 (right)")
        self.ratio_plot.setXLink(self.corr_plot)
        self.ratio_right = pg.ViewBox()
        self.ratio_plot.showAxis("right")
        self.ratio_plot.scene().addItem(self.ratio_right)
        self.ratio_plot.getAxis("right").linkToView(self.ratio_right)
        self.ratio_right.setXLink(self.ratio_plot)
        self.ratio_plot.vb.sigResized.connect(self._sync_ratio_views)
        self.chart.ci.layout.setColumnStretchFactor(0, 1)
        self.chart.ci.layout.setColumnStretchFactor(1, 1)
        self.corr_plot.vb.sigXRangeChanged.connect(debounced(self, 200, self._request_matrix))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.chart, 1)
        self.add_footer(layout)
        # The time cursor shared with the other docks; the summary reads the session in force.
        self._summary_now = ""
        self._at_cursor: list[tuple[str, str, np.ndarray, np.ndarray]] = []
        self.crosshair = Crosshair(self.chart.scene(), self)
        self._time_plots = [self.corr_plot, self.beta_plot, self.ratio_plot]
        self.crosshair.set_plots(self._time_plots)
        ctx.time_link.attach(self.crosshair, self.show_at, own=True)
        ctx.time_link.attach_range(self.key, self.corr_plot)
        self._feed = self.follow("rotation", self._on_view, **symbol_params(ctx))
        # The user's symbols are peers too (models/analyses.py: _add_user_peers).
        self.follow_symbols(lambda: self._feed.update(symbols=ctx.symbols.feed_param()))

    def _date_plot(self, row: int, col: int, title: str) -> pg.PlotItem:
        plot = self.chart.addPlot(row=row, col=col, viewBox=PromptViewBox(),
                                  axisItems={"bottom": UtcDateAxisItem()})
        set_title(plot, title)
        theme.grid(plot)
        plot.setMenuEnabled(False)
        plot.setLabel("bottom", "session (UTC)")
        return plot

    def _sync_ratio_views(self) -> None:
        self.ratio_right.setGeometry(self.ratio_plot.vb.sceneBoundingRect())
        self.ratio_right.linkedViewChanged(self.ratio_plot.vb, self.ratio_right.XAxis)

    def _on_view(self, view: RotationAnalysis | None) -> None:
        if view is None:
            return
        if self.view is not None and view.same_as(self.view):
            self.view = view  # a forming hourly bar that is no session close: nothing moved
            return
        self.view = view
        self.window = view.window
        first_draw = not self.corr_curves
        self.corr_plot.clear()
        self.corr_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        self.corr_curves = {stem: _add_line(self.corr_plot, series, name=short_name(stem),
                                            pen=theme.pen(asset_color(stem)))
                            for stem, series in view.corr.items()}
        dec = view.decoupling
        sessions = _x_seconds(dec.index) if len(dec) else np.empty(0)
        if len(dec):
            self.corr_plot.plot(sessions, dec["corr"].to_numpy(float), pen=None, symbol="t",
                                symbolSize=11, symbolBrush=theme.WARNING,
                                name="decoupling day")
        self.beta_plot.clear()
        self.beta_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        self.beta_curve = _add_line(self.beta_plot, view.beta, pen=theme.pen(asset_color("spx")))
        self.ratio_plot.clear()
        self.ratio_right.clear()
        if "gold" in view.ratios:
            r = view.ratios["gold"]
            _add_line(self.ratio_plot, r, pen=theme.pen(asset_color("gold")))
            self.ratio_plot.setLabel("left", "BTC / gold (oz)")
        if "spx" in view.ratios:
            r = view.ratios["spx"]
            _add_line(self.ratio_right, r, pen=theme.pen(asset_color("spx")))
            self.ratio_plot.getAxis("right").setLabel("BTC / S&P 500")
        self._sync_ratio_views()
        self.crosshair.set_plots(self._time_plots)  # clear() took its lines away
        self._at_cursor = [(short_name(stem), asset_color(stem), _x_seconds(series.index),
                            series.to_numpy(float)) for stem, series in view.corr.items()]
        self._at_cursor.append(("β(S&P)", theme.FOREGROUND, _x_seconds(view.beta.index),
                                view.beta.to_numpy(float)))
        if first_draw and len(view.returns):
            end = _x_seconds(view.returns.index)[-1]
            self.corr_plot.setXRange(end - 2 * 365 * 86400, end, padding=0.01)
        self._request_matrix()
        parts = [f"<span style='color:{asset_color(s)}'>{short_name(s).replace(' ', '&nbsp;')}"
                 f"</span>&nbsp;{v:+.2f}" for s, v in view.latest_corr.items()]
        if np.isfinite(view.latest_beta):
            parts.append(f"β(S&amp;P)&nbsp;{view.latest_beta:.2f}")
        parts.append(f"<span style='color:{theme.WARNING}'>▲</span> {len(dec)} decoupling "
                     f"day{'s' if len(dec) != 1 else ''}")
        self._summary_now = f"{view.window}-session corr now: " + " · ".join(parts)
        self.summary.setText(self._summary_now)
        self._set_provenance(view)
        self._note_painted()

    def show_at(self, x: float | None) -> None:
        """The summary as a readout: each rolling correlation and the beta of the last session
        closed at or before the cursor's instant; the latest values when it leaves."""
        if x is None or self.view is None:
            self.summary.setText(self._summary_now)
            return
        parts = []
        for name, color, times, values in self._at_cursor:
            value = value_at_or_before(times, values, x)
            shown = f"{value:+.2f}" if np.isfinite(value) else "–"
            parts.append(f"<span style='color:{color}'>{name}</span> {shown}")
        self.summary.setText(f"<b>{cursor_stamp(x)}</b> &nbsp; corr: " + " · ".join(parts))

    def _set_provenance(self, view: RotationAnalysis) -> None:
        window = view.window
        self.corr_plot.setToolTip(DERIVED[f"corr.btc_spx.{window}"].provenance().tooltip())
        self.beta_plot.setToolTip(DERIVED[f"beta.btc_spx.{window}"].provenance().tooltip())
        self.ratio_plot.setToolTip(DERIVED["ratio.btc_gold"].provenance().tooltip())
        self.summary.setToolTip(DERIVED["decoupling.btc_spx"].provenance().tooltip())

    def _request_matrix(self) -> None:
        """The correlation matrix of the sessions in the visible window (pandas: a worker)."""
        view = self.view
        if view is None or not len(view.returns):
            return
        x0, x1 = self.corr_plot.vb.viewRange()[0]
        self.ctx.scheduler.run(f"{self.key}:matrix", correlation_matrix_between, view.returns,
                               x0 * 1e3, x1 * 1e3, on_result=self._draw_matrix)

    def _draw_matrix(self, matrix: CorrelationMatrix | None) -> None:
        if matrix is None:
            return
        names = matrix.tickers
        values = matrix.values
        self.matrix.set_grid(0.0, 1.0, values)
        self.matrix.limit = 1.0
        self.matrix.setLevels((-1.0, 1.0))
        # The cells' numbers are kept and rewritten: a new TextItem per cell per redraw kept
        # references to None under PySide 6.11 (the soak counts them).
        cells = len(names) ** 2
        while len(self._cell_texts) < cells:
            text = pg.TextItem("", anchor=(0.5, 0.5))
            text.setFont(self._cell_font)
            self.matrix_plot.addItem(text)
            self._cell_texts.append(text)
        while len(self._cell_texts) > cells:
            self.matrix_plot.removeItem(self._cell_texts.pop())
        for k, text in enumerate(self._cell_texts):
            i, j = divmod(k, len(names))
            # "+.27": cells are ~30 px wide in a half-width dock
            label = f"{values[i, j]:+.2f}".replace("0.", ".")
            color = theme.text_on(self.matrix.color_at(values[i, j]))
            if (text.toPlainText(), text.color.name()) != (label, color):
                text.setText(label, color=color)
            text.setPos(j + 0.5, i + 0.5)
        ticks = [(i + 0.5, n) for i, n in enumerate(names)]
        if ticks != self._matrix_ticks:  # setTicks drops references to None (PySide 6.11)
            self.matrix_plot.getAxis("bottom").setTicks([ticks])
            self.matrix_plot.getAxis("left").setTicks([ticks])
            self._matrix_ticks = ticks
        set_title(self.matrix_plot, f"correlation, {matrix.sessions} sessions in view")

    def has_data(self) -> bool:
        return self.view is not None

    def _on_params(self) -> None:
        self.ctx.feeds.set_shared_params("rotation", k=self.k_box.value(),
                                         threshold=self.threshold_box.value())

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        """The time plots' series and the matrix of the sessions in view (recomputed by the
        function that drew it, over the same window)."""
        from models.export_view import rotation_series

        view = self.view
        if view is None:
            return []
        x0, x1 = self.plotted_x_range()
        window_ms = (x0 * 1e3, x1 * 1e3)
        matrix = correlation_matrix_between(view.returns, *window_ms) if len(view.returns) \
            else None
        return rotation_series(view, matrix, window_ms)

    def plotted_x_range(self) -> tuple[float, float]:
        x0, x1 = self.corr_plot.vb.viewRange()[0]
        return float(x0), float(x1)
