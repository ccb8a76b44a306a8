"""Rotation: is BTC moving with stocks and metals, or on its own?

Daily analytics on the sessions BTC shares with the exchange-traded assets (BTC sampled at the
16:00 New York close; weekends and holidays never become zero returns): rolling correlation,
rolling beta to the S&P 500, BTC/gold and BTC/S&P 500 ratios, a correlation matrix for the
visible window, and decoupling days (a big BTC move while its correlation with equities is low),
which are also marked on the price chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from models.series import SeriesData
from ui import theme
from ui.charts.axes import UtcDateAxisItem
from ui.charts.heatmap import HeatmapItem
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.panels.base import (
    Panel,
    UiContext,
    choice_buttons,
    debounced,
    elastic,
    stored_choice,
)
from ui.panels.prices import DECOUPLING_KEY

if TYPE_CHECKING:
    import pandas as pd

WINDOWS = (20, 60, 120)
PEERS = ("spx", "ndx", "gold", "silver", "dxy")
TICKERS = {"btc": "BTC", "spx": "SPX", "ndx": "NDX", "gold": "XAU", "silver": "XAG",
           "dxy": "DXY", "eth": "ETH", "vix": "VIX"}
NAMES = {"btc": "BTC", "spx": "S&P 500", "ndx": "Nasdaq 100", "gold": "Gold",
         "silver": "Silver", "dxy": "DXY", "eth": "ETH", "vix": "VIX"}


@dataclass(frozen=True)
class RotationView:
    window: int
    returns: pd.DataFrame
    corr: dict[str, pd.Series]
    beta: pd.Series
    ratios: dict[str, pd.Series]
    decoupling: pd.DataFrame


def analyse(inputs: dict[str, SeriesData], window: int, k: float,
            threshold: float) -> RotationView:
    from models import rotation as rot  # pandas: imported on the worker, off start-up

    daily = {stem: inputs[f"{stem}.1d"] for stem in PEERS if f"{stem}.1d" in inputs}
    sessions = None
    closes: dict[str, Any] = {}
    for stem, data in daily.items():
        closes[stem] = rot.session_closes(data)
        sessions = closes[stem].index if sessions is None else sessions.union(closes[stem].index)
    if sessions is not None:
        closes["btc"] = rot.btc_session_closes(inputs.get("btc.1h"), inputs.get("btc.1d"),
                                               sessions)
    corr: dict[str, Any] = {}
    returns = None
    for stem in daily:
        pair = rot.aligned_log_returns({"btc": closes["btc"], stem: closes[stem]})
        corr[stem] = rot.rolling_correlation(pair, "btc", stem, window)
    returns = rot.aligned_log_returns({s: closes[s] for s in ["btc", *daily]})
    # The panel only asks for an analysis once the S&P 500 and BTC are both loaded.
    spx_pair = rot.aligned_log_returns({"btc": closes["btc"], "spx": closes["spx"]})
    beta = rot.rolling_beta(spx_pair, "btc", "spx", window)
    ratios = {stem: rot.ratio_series(closes["btc"], closes[stem]) for stem in ("gold", "spx")
              if stem in closes}
    decoupling = rot.decoupling_days(spx_pair, corr["spx"], k=k, corr_threshold=threshold)
    return RotationView(window, returns, corr, beta, ratios, decoupling)


def _x_seconds(index: Any) -> np.ndarray:
    """Session dates (or a UTC DatetimeIndex) as epoch seconds for a date axis."""
    import pandas as pd

    idx = pd.DatetimeIndex(index)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.as_unit("s").asi8.astype(np.float64)


def _add_line(target: pg.PlotItem | pg.ViewBox, series: Any, **kwargs: Any) -> LodCurveItem:
    curve = LodCurveItem(**kwargs)
    curve.setData(_x_seconds(series.index), series.to_numpy(float))
    target.addItem(curve)
    return curve


class RotationPanel(Panel):
    key = "rotation"
    title = "Rotation: BTC vs stocks and metals"
    series_ids = ("btc.1h", "btc.1d", *(f"{s}.1d" for s in PEERS))

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        self.window = stored_choice(ctx.settings, "rotation/window", WINDOWS, 60)
        self.view: RotationView | None = None

        bar = QHBoxLayout()
        self._group = choice_buttons(self, bar, WINDOWS, self.window, self._on_window,
                                     lambda w: f"{w}d",
                                     lambda w: f"Rolling window: {w} equity sessions")
        bar.addSpacing(12)
        bar.addWidget(QLabel("flag |BTC move| >"))
        self.k_box = QDoubleSpinBox(decimals=1, minimum=0.5, maximum=6.0, singleStep=0.5)
        self.k_box.setValue(stored_choice(ctx.settings, "rotation/k", None, 2.0))
        self.k_box.setSuffix(" σ")
        bar.addWidget(self.k_box)
        bar.addWidget(QLabel("and corr(S&P) <"))
        self.threshold_box = QDoubleSpinBox(decimals=2, minimum=-1.0, maximum=1.0,
                                            singleStep=0.05)
        self.threshold_box.setValue(stored_choice(ctx.settings, "rotation/threshold", None, 0.2))
        bar.addWidget(self.threshold_box)
        self.k_box.valueChanged.connect(self._on_params)
        self.threshold_box.valueChanged.connect(self._on_params)
        self.summary = elastic(QLabel(""))
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        bar.addStretch(1)

        self.chart = pg.GraphicsLayoutWidget()
        self.corr_plot = self._date_plot(0, 0, "rolling correlation with BTC (log returns)")
        self.corr_plot.setYRange(-1, 1)
        theme.legend(self.corr_plot)
        self.corr_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        self.matrix_plot = self.chart.addPlot(row=0, col=1, title="correlation matrix",
                                              enableMenu=False)
        self.matrix_plot.setMenuEnabled(False)
        # Not square: the cells widen to fit their numbers in a short dock.
        self.matrix_plot.vb.setMouseEnabled(x=False, y=False)
        self.matrix_plot.invertY(True)
        self.matrix = HeatmapItem()
        self._cell_font = QFont()
        self._cell_font.setPointSizeF(7.5)
        self.matrix_plot.addItem(self.matrix)
        self.beta_plot = self._date_plot(1, 0, "rolling beta of BTC to the S&P 500")
        self.beta_plot.setXLink(self.corr_plot)
        self.ratio_plot = self._date_plot(1, 1, "BTC/gold (oz) and BTC/S&P 500 (right)")
        self.ratio_plot.setXLink(self.corr_plot)
        self.ratio_right = pg.ViewBox()
        self.ratio_plot.showAxis("right")
        self.ratio_plot.scene().addItem(self.ratio_right)
        self.ratio_plot.getAxis("right").linkToView(self.ratio_right)
        self.ratio_right.setXLink(self.ratio_plot)
        self.ratio_plot.vb.sigResized.connect(self._sync_ratio_views)
        self.chart.ci.layout.setColumnStretchFactor(0, 1)
        self.chart.ci.layout.setColumnStretchFactor(1, 1)
        self.corr_plot.vb.sigXRangeChanged.connect(debounced(self, 200, self._update_matrix))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.chart, 1)
        ctx.store.seriesChanged.connect(self._on_series_changed)
        self._recompute()

    def _date_plot(self, row: int, col: int, title: str) -> pg.PlotItem:
        plot = self.chart.addPlot(row=row, col=col, title=title, viewBox=PromptViewBox(),
                                  axisItems={"bottom": UtcDateAxisItem()})
        theme.grid(plot)
        plot.setMenuEnabled(False)
        plot.setLabel("bottom", "session (UTC)")
        return plot

    def _sync_ratio_views(self) -> None:
        self.ratio_right.setGeometry(self.ratio_plot.vb.sceneBoundingRect())
        self.ratio_right.linkedViewChanged(self.ratio_plot.vb, self.ratio_right.XAxis)

    # -- data ---------------------------------------------------------------------------------
    @Slot(str)
    def _on_series_changed(self, series_id: str) -> None:
        if series_id in self.series_ids:
            self._recompute_soon()

    def _inputs(self) -> dict[str, SeriesData]:
        out = {}
        for series_id in self.series_ids:
            data = self.ctx.store.series(series_id)
            if data is not None and len(data):
                out[series_id] = data
        return out

    def _recompute(self) -> None:
        inputs = self._inputs()
        if "spx.1d" not in inputs or not ({"btc.1h", "btc.1d"} & set(inputs)):
            return
        self.ctx.scheduler.run(f"rotation:{self.key}", analyse, inputs, self.window,
                               self.k_box.value(), self.threshold_box.value(),
                               on_result=self._on_view)

    def _on_view(self, view: RotationView) -> None:
        self.view = view
        first_draw = not self.corr_plot.listDataItems()
        self.corr_plot.clear()
        self.corr_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        for stem, series in view.corr.items():
            _add_line(self.corr_plot, series, name=NAMES[stem],
                      pen=theme.pen(theme.ASSET_COLORS[stem]))
        dec = view.decoupling
        sessions = _x_seconds(dec.index) if len(dec) else np.empty(0)
        if len(dec):
            self.corr_plot.plot(sessions, dec["corr"].to_numpy(float), pen=None, symbol="t",
                                symbolSize=11, symbolBrush=theme.WARNING,
                                name="decoupling day")
        self.ctx.store.set_derived(DECOUPLING_KEY, [int(s * 1000) for s in sessions])
        self.beta_plot.clear()
        self.beta_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        _add_line(self.beta_plot, view.beta, pen=theme.pen(theme.ASSET_COLORS["spx"]))
        self.ratio_plot.clear()
        self.ratio_right.clear()
        if "gold" in view.ratios:
            r = view.ratios["gold"]
            _add_line(self.ratio_plot, r, pen=theme.pen(theme.ASSET_COLORS["gold"]))
            self.ratio_plot.setLabel("left", "BTC / gold (oz)")
        if "spx" in view.ratios:
            r = view.ratios["spx"]
            _add_line(self.ratio_right, r, pen=theme.pen(theme.ASSET_COLORS["spx"]))
            self.ratio_plot.getAxis("right").setLabel("BTC / S&P 500")
        self._sync_ratio_views()
        if first_draw and len(view.returns):
            end = _x_seconds(view.returns.index)[-1]
            self.corr_plot.setXRange(end - 2 * 365 * 86400, end, padding=0.01)
        self._update_matrix()
        latest = {stem: s.dropna().iloc[-1] for stem, s in view.corr.items() if s.notna().any()}
        parts = [f"<span style='color:{theme.ASSET_COLORS[s]}'>{NAMES[s]}</span> {v:+.2f}"
                 for s, v in latest.items()]
        beta_now = view.beta.dropna()
        if len(beta_now):
            parts.append(f"β(S&P) {beta_now.iloc[-1]:.2f}")
        parts.append(f"{len(dec)} decoupling day{'s' if len(dec) != 1 else ''}")
        if self.ctx.demo:
            parts.append(f"<span style='color:{theme.WARNING}'>Demo data (synthetic)</span>")
        self.summary.setText(f"{view.window}-session corr now: " + " · ".join(parts))
        self._note_painted()

    def _update_matrix(self) -> None:
        """The correlation matrix of the sessions in the visible window."""
        view = self.view
        if view is None or not len(view.returns):
            return
        from models.rotation import correlation_matrix

        x0, x1 = self.corr_plot.vb.viewRange()[0]
        seconds = _x_seconds(view.returns.index)
        mask = (seconds >= x0) & (seconds <= x1)
        if mask.sum() < 5:
            return
        visible = view.returns[mask]
        matrix = correlation_matrix(visible)
        names = [TICKERS.get(c, c) for c in matrix.columns]
        values = matrix.to_numpy(float)
        self.matrix.set_grid(0.0, 1.0, values)
        self.matrix.limit = 1.0
        self.matrix.setLevels((-1.0, 1.0))
        self.matrix_plot.clear()
        self.matrix_plot.addItem(self.matrix)
        for i in range(len(names)):
            for j in range(len(names)):
                # "+.27": cells are ~30 px wide in a half-width dock
                label = f"{values[i, j]:+.2f}".replace("0.", ".")
                text = pg.TextItem(label, color=theme.FOREGROUND, anchor=(0.5, 0.5))
                text.setFont(self._cell_font)
                text.setPos(j + 0.5, i + 0.5)
                self.matrix_plot.addItem(text)
        ticks = [(i + 0.5, n) for i, n in enumerate(names)]
        self.matrix_plot.getAxis("bottom").setTicks([ticks])
        self.matrix_plot.getAxis("left").setTicks([ticks])
        self.matrix_plot.setTitle(f"correlation, {int(mask.sum())} sessions in view")

    def has_data(self) -> bool:
        return self.view is not None

    def _on_window(self, window: int) -> None:
        self.window = window
        self.ctx.settings.setValue("rotation/window", window)
        self._recompute()

    def _on_params(self) -> None:
        self.ctx.settings.setValue("rotation/k", self.k_box.value())
        self.ctx.settings.setValue("rotation/threshold", self.threshold_box.value())
        self._recompute()

    def shutdown(self) -> None:
        self.ctx.store.seriesChanged.disconnect(self._on_series_changed)
