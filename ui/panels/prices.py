"""Cross-asset prices: BTC, ETH, S&P 500, Nasdaq 100, gold, silver, the dollar index and VIX.

Two views over the same data:
- stacked: one chart per asset, all sharing one linked UTC time axis;
- compare: every asset rebased to 100 at the left edge of the visible range, re-based as you pan.
Market-closed gaps (nights, weekends, holidays) break the lines instead of drawing false segments.
"""

from __future__ import annotations

import html
import math
from functools import partial
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models import dock_choices
from models.analyses import (
    ChainAnalysis,
    FundingAnalysis,
    LiquidationAnalysis,
    RotationAnalysis,
)
from models.assets import assets_for_interval, short_name
from models.catalog import (
    BASE_PRICE_INTERVALS,
    CATALOG,
    DATE_PLACED_INTERVALS,
    PRICE_INTERVALS,
    PRICE_STEMS,
    find_spec,
)
from models.derived import DERIVED
from models.drawings import KIND_NAMES, KINDS, LEVEL, make_drawing
from models.ids import dvol_id, parse_series_id, price_id
from models.levels import (
    CALL_WALL,
    DEMO_LEVELS,
    GAMMA_FLIP,
    PUT_WALL,
    USER,
)
from models.newest_first import NEWEST_FIRST_ROWS, newest_rows
from models.price_view import (
    PREPARE_ON_WORKER,
    PreparedPrices,
    candles_caught_up,
    change_at,
    closes_at,
    extend_prepared,
    index_at_or_before,
    prepare_prices,
    rebase_factor,
    with_candles,
    without_candles,
)
from models.series import MS_PER_DAY, SeriesData
from ui import theme
from ui.charts.axes import FrameAxisItem, ValueAxisItem
from ui.charts.bands import BandsItem
from ui.charts.candles import CandlestickItem
from ui.charts.chart_state import ChartStateMarks
from ui.charts.crosshair import Crosshair, format_price
from ui.charts.drawing_items import DrawingLayer
from ui.charts.gap_axis import BreakMarks, GapDateAxisItem
from ui.charts.implied_bands import DVOL_STEMS, ImpliedBandsLayer, ahead_seconds
from ui.charts.levels import LevelLabels, LevelLine
from ui.charts.lod_item import LodCurveItem
from ui.charts.viewbox import PromptViewBox
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, debounced, elastic, symbol_params
from ui.price_gaps import INTRADAY, PriceGaps
from ui.price_indicators import PriceIndicators
from ui.price_intervals import IntervalWatch, fill_interval_box
from ui.readout_bar import PlotLabel, ReadoutBar
from ui.settings_file import read_setting
from ui.symbols import open_add_symbol
from ui.theme import asset_color  # the current theme's variant
from ui.time_display import format_time, zone_label

# The choices and their defaults live in one table the headless export reads too.
RANGES_DAYS = dock_choices.RANGES_DAYS
DEFAULT_ASSETS = dock_choices.DEFAULT_PRICE_ASSETS
AXIS_WIDTH = 62
AFTER_PAINT_MS = 200  # a job waiting for a paint starts by then anyway (a hidden dock)
STYLES = dock_choices.PRICE_STYLES
MODES = dock_choices.PRICE_MODES


def level_color(kind: str) -> str:
    """A level line's colour in the current theme."""
    return {USER: theme.SECONDARY, GAMMA_FLIP: theme.FLIP, CALL_WALL: theme.UP,
            PUT_WALL: theme.DOWN}.get(kind, theme.MUTED)


def readout_part(name: str, color: str, text: str) -> str:
    """One asset in the readout, kept on one line (the readout wraps between assets)."""
    return f"<span style='color:{color}'>{html.escape(name).replace(' ', '&nbsp;')}</span>" \
           f"&nbsp;{text}"


def ohlc_text(data: SeriesData, i: int) -> str:
    """Bar i's open, high, low and close, for the readout of a candle chart."""
    return "&nbsp;&nbsp;".join(f"{key}&nbsp;{format_price(float(data[column][i]))}" for key, column
                          in (("O", "open"), ("H", "high"), ("L", "low"), ("C", "close")))


class _PlotLayout(pg.GraphicsLayoutWidget):
    painted = Signal()

    def paintEvent(self, event):
        super().paintEvent(event)
        self.painted.emit()


class PricesPanel(Panel):
    key = "prices"
    title = "Cross-asset prices"
    series_ids = tuple(price_id(s, i) for i in BASE_PRICE_INTERVALS for s in PRICE_STEMS)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        settings = ctx.settings
        chosen = dock_choices.DOCK_DEFAULTS[self.key]
        self.interval = self.persisted("interval", PRICE_INTERVALS, chosen["interval"])
        self.range_key = self.persisted("range_key", RANGES_DAYS, chosen["range_key"])
        self.mode = self.persisted("mode", MODES, chosen["mode"])
        self.style = self.persisted("style", STYLES, chosen["style"])
        self.log_scale = read_setting(settings, "prices/log", chosen["log"])
        saved = read_setting(settings, "prices/assets", list(DEFAULT_ASSETS))
        self.visible = [s for s in PRICE_STEMS if s in saved] or list(DEFAULT_ASSETS)
        if not settings.contains("prices/assets"):  # intraday views default to the futures
            self.visible = assets_for_interval(self.visible, self.interval in INTRADAY)
        self._assets_intraday = self.interval in INTRADAY  # the side of the line they are for
        self.visible += self._shown_user_stems()
        self.interval_watch = IntervalWatch(ctx.scheduler, self.shown_series())
        self._prepared: dict[str, PreparedPrices] = {}
        #: series shown from their newest rows while a worker prepares all (-> their data)
        self._newest_first: dict[str, SeriesData] = {}
        self._plots: dict[str, pg.PlotItem] = {}
        self._curves: dict[str, LodCurveItem | CandlestickItem] = {}
        self._labels: dict[str, PlotLabel] = {}
        self._range_applied = False
        self._rebase_factors: dict[str, float] = {}
        self.shade_funding = read_setting(settings, "prices/shade_funding", True)
        self.show_levels = read_setting(settings, "prices/levels", True)
        self.show_implied = read_setting(settings, "prices/implied", chosen["implied"])
        self.implied = ImpliedBandsLayer(ctx.scheduler.run)  # docs/implied-move.md
        self._overlay_items: list[tuple[pg.PlotItem, pg.GraphicsObject]] = []
        self._decoupling_marks: pg.ScatterPlotItem | None = None
        self._level_labels = LevelLabels(self)  # labels closer than their height are merged
        # What the overlays show, handed over by the derived feeds (no other panel involved).
        self._funding: FundingAnalysis | None = None
        self._chain: ChainAnalysis | None = None
        self._rotation: RotationAnalysis | None = None
        #: asset -> its reported liquidation bursts (the Liquidations dock's threshold)
        self._liquidations: dict[str, LiquidationAnalysis] = {}
        self._burst_marks: dict[str, pg.ScatterPlotItem] = {}
        #: asset -> the marks of the last alert back-test (the Alert rules dock)
        self._alert_marks: dict[str, pg.ScatterPlotItem] = {}
        # closed hours squeezed out of x (ui/price_gaps.py); the map is identity while off
        self.gaps = PriceGaps(ctx, self)
        self.time_map = self.gaps.time_map
        self._gap_real_range: tuple[float, float] | None = None
        self.gaps.changed.connect(self._on_gaps_changed)
        # live bars rebuild the compressed drawing at most this often (a throttle, not a
        # debounce: a bar a second would postpone a debounce for ever)
        self._gap_timer = QTimer(self)
        self._gap_timer.setSingleShot(True)
        self._gap_timer.setInterval(1500)
        self._gap_timer.timeout.connect(self._refresh_gaps)

        self.indicator_layer = PriceIndicators(self)  # docs/indicators.md
        self._build_controls()
        self.chart = _PlotLayout()
        self._on_x_range_changed = debounced(self, 250, self._on_view_settled)
        self._show_last_values_soon = debounced(self, 0, self._show_last_values)
        self.chart.ci.setSpacing(0)
        self.chart.painted.connect(self._mark_painted)
        self._after_paint: list[Any] = []  # jobs that wait for the next paint
        self.chart.painted.connect(self._run_after_paint)
        self.readout = elastic(QLabel(" "))
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setWordWrap(True)  # every visible asset, on a second line if need be
        self.readout.setStyleSheet(f"color: {theme.FOREGROUND}; padding: 2px 6px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(self._controls)
        layout.addLayout(self._legend)
        # outside the layout: its text changes on every crosshair move (ui/readout_bar.py)
        self._readout_bar = ReadoutBar(self.readout)
        layout.addWidget(self._readout_bar)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.freshness)  # the demo badge sits in the legend row
        self._readout_x: float | None = None  # the cursor the readout shows, None: last bar
        self.crosshair = Crosshair(self.chart.scene(), self)
        self.crosshair.moved.connect(self._on_crosshair)
        self.crosshair.left.connect(lambda: self._update_readout(None))
        # the other docks' cursor, in real time (x is compressed time while gaps are squeezed)
        ctx.time_link.attach(self.crosshair, self._update_readout, convert=self.time_map)
        self.state_marks = ChartStateMarks.for_panel(self)  # stale, failing, empty
        self.drawing_layer = DrawingLayer(ctx.drawings, self.chart.scene(), self,
                                          self._bar_seconds)
        self.drawing_layer.toolChanged.connect(self._on_tool_changed)
        self._rebuild_plots()
        self.listen(ctx.store.seriesChanged, self._on_series_changed)
        self._symbol_boxes_at = len(PRICE_STEMS)  # the user's boxes follow the built-ins'
        self._shown_symbols = ctx.symbols.stems()
        self._sync_symbol_boxes()
        self.follow_symbols(self._on_symbols_changed)
        for stem in self._stems():
            data = ctx.store.series(price_id(stem, self.interval))
            if data is not None:
                self._on_series_changed(price_id(stem, self.interval))
        self.follow("funding", self._on_overlay("_funding"), asset="btc")
        self.follow("chain", self._on_overlay("_chain"), asset="btc")
        # Shares the rotation dock's feed: the user's symbols are a parameter of it.
        self._rotation_feed = self.follow("rotation", self._on_overlay("_rotation"),
                                          **symbol_params(ctx))
        for stem in dock_choices.DERIVATIVE_ASSETS:
            self.follow("liquidations", self._on_liquidations, asset=stem, interval="1h")
        if ctx.alerts is not None:
            self.listen(ctx.alerts.backtestChanged, self._draw_overlays)

    # -- controls -----------------------------------------------------------------------------
    def _build_controls(self) -> None:
        bar = FlowLayout()
        bar.setSpacing(4)
        self.interval_box = QComboBox()
        fill_interval_box(self.interval_box, PRICE_STEMS)  # 1m … 1w (ui/price_intervals.py)
        self.interval_box.setCurrentText(self.interval)
        self.interval_box.setToolTip("Bar interval, for the stacked and the compare view")
        self.interval_box.currentTextChanged.connect(lambda i: self.choose("interval", i))
        bar.addWidget(self.interval_box)
        self.style_box = QComboBox()
        self.style_box.addItems(list(STYLES))
        self.style_box.setCurrentText(self.style)
        self.style_box.setToolTip("Candles (OHLC) or a close line. Compare view always draws "
                                  "lines: rebased candles of eight assets would overlap.")
        self.style_box.currentTextChanged.connect(lambda v: self.choose("style", v))
        bar.addWidget(self.style_box)
        self.range_group = QButtonGroup(self)
        self.range_buttons: dict[str, QToolButton] = {}
        for key in RANGES_DAYS:
            button = QToolButton(text=key, checkable=True)
            button.setChecked(key == self.range_key)
            button.clicked.connect(lambda _=False, k=key: self.choose("range_key", k))
            self.range_group.addButton(button)
            self.range_buttons[key] = button
            bar.addWidget(button)
        bar.addSpacing(12)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QToolButton] = {}
        for mode, label, tip in (("stacked", "Stacked", "One chart per asset, linked time axis"),
                                 ("compare", "Compare", "Rebased to 100 at the left edge")):
            button = QToolButton(text=label, checkable=True)
            button.setToolTip(tip)
            button.setChecked(mode == self.mode)
            button.clicked.connect(lambda _=False, m=mode: self.choose("mode", m))
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            bar.addWidget(button)
        self.log_box = QCheckBox("Log")
        self.log_box.setChecked(self.log_scale)
        self.log_box.toggled.connect(self._on_log)
        bar.addWidget(self.log_box)
        # Overlays live in a menu so the tool row stays narrow enough for a half-width dock.
        overlays = QMenu(self)
        self.shade_action = overlays.addAction("Shade negative funding")
        self.shade_action.setToolTip("Shade the periods when the average perpetual funding rate "
                                     "across venues was negative (shorts paying longs)")
        self.shade_action.setCheckable(True)
        self.shade_action.setChecked(self.shade_funding)
        self.shade_action.toggled.connect(self._on_shade_toggled)
        self.levels_action = overlays.addAction("Gamma levels on BTC")
        self.levels_action.setToolTip("Gamma flip, call and put walls on the BTC chart "
                                      "(stacked view). Your own levels are drawings: Draw → "
                                      "Level.")
        self.levels_action.setCheckable(True)
        self.levels_action.setChecked(self.show_levels)
        self.levels_action.toggled.connect(self._on_levels_toggled)
        self.implied_action = overlays.addAction("Implied-move bands (DVOL)")
        self.implied_action.setToolTip("±1σ (shaded) and ±2σ (lines) expected moves for the "
                                       "next day and week from DVOL, past day bands, and large "
                                       "moves labelled in σ (BTC and ETH, stacked view)")
        self.implied_action.setCheckable(True)
        self.implied_action.setChecked(self.show_implied)
        self.implied_action.toggled.connect(self._on_implied_toggled)
        self.compress_action = overlays.addAction("Compress closed hours")
        self.compress_action.setToolTip(
            "Intraday views of exchange-traded assets: squeeze nights, weekends and holidays "
            "out of the time axis (a dotted line marks each break); times shown stay true")
        self.compress_action.setCheckable(True)
        self.compress_action.setChecked(self.gaps.enabled)
        self.compress_action.toggled.connect(self._on_compress_toggled)
        overlays.addSeparator()
        add_level = overlays.addAction("Add a BTC level at the last price")
        add_level.triggered.connect(self._on_add_level)
        overlays.setToolTipsVisible(True)
        overlay_button = QToolButton(text="Overlays")
        overlay_button.setMenu(overlays)
        overlay_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(overlay_button)
        bar.addWidget(self.indicator_layer.menu_button())
        self._build_draw_button(bar)
        self.add_symbol_button = QToolButton(text="+ Symbol")
        self.add_symbol_button.setObjectName("addSymbolButton")
        self.add_symbol_button.setToolTip("Add a Binance pair or a Yahoo ticker to the chart, "
                                          "movers and rotation")
        self.add_symbol_button.clicked.connect(
            lambda: open_add_symbol(self.ctx.symbols, self.ctx.scheduler, self))
        bar.addWidget(self.add_symbol_button)
        bar.addStretch(1)
        self._controls = bar

        legend = FlowLayout()
        legend.setSpacing(10)
        self.asset_boxes: dict[str, QCheckBox] = {}
        for stem in PRICE_STEMS:
            box = QCheckBox(short_name(stem))
            box.setChecked(stem in self.visible)
            box.setStyleSheet(f"QCheckBox {{ color: {asset_color(stem)}; }}")
            spec = CATALOG[price_id(stem, "1d")]
            box.setToolTip(f"Show or hide {spec.label} ({spec.symbol})")
            box.toggled.connect(lambda on, s=stem: self._on_asset_toggled(s, on))
            legend.addWidget(box)
            self.asset_boxes[stem] = box
        legend.addStretch(1)
        legend.addWidget(self.demo_badge)
        self._legend = legend

    # -- plots --------------------------------------------------------------------------------
    def _new_plot(self, show_time_axis: bool) -> pg.PlotItem:
        axis = GapDateAxisItem(self.time_map)  # a plain UTC date axis while nothing is squeezed
        # The right axis and the time axis between stacked plots only frame the plot: they
        # draw their line alone (ui/charts/axes.py FrameOnlyMixin, docs/performance.md).
        plot = pg.PlotItem(axisItems={"bottom": axis, "left": ValueAxisItem(),
                                      "right": FrameAxisItem("right")},
                           viewBox=PromptViewBox())
        theme.grid(plot)
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.showAxis("right")
        plot.getAxis("right").setWidth(8)
        plot.setMenuEnabled(False)
        if self.time_map.active:
            plot.addItem(BreakMarks(self.time_map), ignoreBounds=True)
        if show_time_axis:
            plot.setLabel("bottom", "time (UTC), closed hours compressed" if self.time_map.active
                          else "time (UTC)")
        else:
            axis.set_frame_only()
            axis.setHeight(4)
        plot.vb.setMouseEnabled(x=True, y=False)
        plot.setLogMode(y=self.log_scale)
        plot.enableAutoRange(y=True)
        plot.setAutoVisible(y=True)
        return plot

    def _new_curve(self, stem: str) -> LodCurveItem | CandlestickItem:
        if self.style == "candles" and self.mode == "stacked":
            return CandlestickItem(name=short_name(stem))
        return LodCurveItem(name=short_name(stem), pen=theme.pen(asset_color(stem)))

    def _rebuild_plots(self) -> None:
        """Lay out the charts for the current mode and visible assets (cheap: no data copies)."""
        if not self._wants_candles():  # drawn as lines: their candle pyramids only cost memory
            for sid, prepared in list(self._prepared.items()):
                self._prepared[sid] = without_candles(prepared)
        old_range = None
        if self._plots:
            old_range = next(iter(self._plots.values())).vb.viewRange()[0]
        self.chart.clear()
        self._plots.clear()
        self._curves.clear()
        self._labels.clear()
        self.state_marks.clear()
        stems = [s for s in self._stems() if s in self.visible]
        if self.mode == "compare":
            plot = self._new_plot(show_time_axis=True)
            plot.setLabel("left", "rebased to 100")
            plot.addItem(pg.InfiniteLine(pos=2.0 if self.log_scale else 100.0, angle=0,
                                         pen=theme.pen(theme.MUTED, style=Qt.PenStyle.DotLine)))
            self.chart.addItem(plot, row=0, col=0)
            for stem in stems:
                curve = self._new_curve(stem)
                plot.addItem(curve)
                self._curves[stem] = curve
                self._plots[stem] = plot
            self._add_label(plot, "compare")
            plot.vb.sigXRangeChanged.connect(self._on_compare_range)
        else:
            first: pg.PlotItem | None = None
            row = 0
            for i, stem in enumerate(stems):
                last = i == len(stems) - 1
                panes = self.indicator_layer.pane_keys(stem)  # RSI, ATR under its price
                plot = self._new_plot(show_time_axis=last and not panes)
                if first is None:
                    first = plot
                else:
                    plot.setXLink(first)
                self.chart.addItem(plot, row=row, col=0)
                row += 1
                curve = self._new_curve(stem)
                plot.addItem(curve)
                self._curves[stem] = curve
                self._plots[stem] = plot
                self._add_label(plot, stem)
                for k, key in enumerate(panes):
                    pane = self._new_plot(show_time_axis=last and k == len(panes) - 1)
                    pane.setXLink(first)
                    self.chart.addItem(pane, row=row, col=0)
                    row += 1
                    self.indicator_layer.add_pane(key, pane)
        plots = list(dict.fromkeys(self._plots.values()))
        self.crosshair.set_plots([*plots, *self.indicator_layer.pane_plots()])
        if plots:
            plots[0].vb.sigXRangeChanged.connect(self._on_x_range_changed)
            self.ctx.time_link.attach_range(self.key, plots[0], convert=self.time_map)
        for stem in stems:
            self._apply_data(stem)
        self._draw_overlays()
        self._attach_drawings()
        self.indicator_layer.attach()
        if old_range is not None and plots:
            plots[0].setXRange(*old_range, padding=0)
        else:
            self._range_applied = False
            self._apply_range()
        self._show_last_values()
        self._refresh_gaps()

    def _add_label(self, plot: pg.PlotItem, key: str) -> None:
        label = PlotLabel(justify="left", size="9pt")  # cheap new prices (ui/readout_bar.py)
        label.setParentItem(plot.vb)
        label.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(4, 0))
        self._labels[key] = label
        self.state_marks.watch(plot, lambda: self.shown_series() if key == "compare"
                               else [self._series_id(key)])

    # -- data ---------------------------------------------------------------------------------
    def _series_id(self, stem: str) -> str:
        return price_id(stem, self.interval)

    def freshness_ids(self) -> tuple[str, ...]:
        return tuple(self.shown_series())

    @Slot(str)
    def _on_series_changed(self, series_id: str) -> None:
        if series_id in DVOL_STEMS:
            self._place_implied(DVOL_STEMS[series_id])
            return
        spec = find_spec(series_id)
        if spec is None or spec.kind != "candles" or spec.interval != self.interval:
            return
        data = self.ctx.store.series(series_id)
        if data is None or not len(data):
            return
        prepared = self._prepared.get(series_id)
        if prepared is not None and prepared.source is data:
            return
        if self._newest_first.get(series_id) is data:
            return  # its newest rows are shown, all of them are being prepared
        interval_ms = spec.interval_ms or MS_PER_DAY
        by_date = spec.interval in DATE_PLACED_INTERVALS  # at their trading date (price_view)
        candles = self._wants_candles()  # else no candle pyramid: ~190 MB at 4.9M rows
        tail_from = self.ctx.store.tail_from(series_id)
        extended = extend_prepared(prepared, data, interval_ms, tail_from) \
            if prepared and series_id not in self._newest_first else None
        if extended is not None:  # a live update: new bars appended, no rebuild
            self._on_prepared(series_id, extended)
        elif len(data) >= PREPARE_ON_WORKER:
            if len(data) >= NEWEST_FIRST_ROWS and parse_series_id(series_id).asset in self._curves:
                # the newest rows drawn now, the whole history when the worker has it
                # (models/newest_first.py)
                view = self.plotted_x_range()
                head = newest_rows(data, *(None, None) if view is None else
                                   (int(view[0] * 1000), int(view[1] * 1000)))
                self._on_prepared(series_id, prepare_prices(head, interval_ms, by_date,
                                                                   candles, room=False), of=data)
            job = partial(self.ctx.scheduler.run, f"prepare:{series_id}", prepare_prices, data,
                          interval_ms, by_date, candles,
                          on_result=lambda p, sid=series_id: self._on_prepared(sid, p))
            if series_id in self._newest_first:
                # after the newest rows are painted: the worker's GIL share would delay it
                self._after_paint.append(job)
                QTimer.singleShot(AFTER_PAINT_MS, self, self._run_after_paint)  # a hidden dock
            else:
                job()
        else:
            self._on_prepared(series_id, prepare_prices(data, interval_ms, by_date, candles,
                                                        room=False))  # short: no copy now

    def _run_after_paint(self) -> None:
        jobs, self._after_paint = self._after_paint, []
        for job in jobs:
            job()

    def _on_prepared(self, series_id: str, prepared: PreparedPrices,
                     of: SeriesData | None = None) -> None:
        """`prepared` shows series_id's data; `of`: the data it is the newest rows of."""
        if self.ctx.store.series(series_id) is not (prepared.source if of is None else of):
            return  # newer data arrived meanwhile: its own preparation follows
        if of is None:
            self._newest_first.pop(series_id, None)
        elif self._newest_first.get(series_id) is of or (
                series_id in self._prepared and self._prepared[series_id].source is of):
            return  # already shown (the newest rows, or all of them)
        else:
            self._newest_first[series_id] = of
        self._prepared[series_id] = prepared
        stem = parse_series_id(series_id).asset
        if stem in self._curves and series_id == self._series_id(stem):
            if not self.time_map.active:
                self._refresh_gaps()
            elif not self._gap_timer.isActive():
                self._gap_timer.start()
            self._apply_data(stem)
            if not self._range_applied:
                self._apply_range()
            elif self.mode == "compare" and stem not in self._rebase_factors:
                self._on_compare_range()  # arrived after the others: rebase it too
            if self.ctx.store.replaying:  # a step moves every series: one readout for all
                self._show_last_values_soon()
            else:
                self._show_last_values()
        self.indicator_layer.on_prepared(series_id)
        if stem == "btc" and series_id == self._series_id(stem):
            self._place_decoupling_marks()
        if stem in self._burst_marks and series_id == self._series_id(stem):
            self._place_burst_marks(stem)
        if stem in self._alert_marks and series_id == self._series_id(stem):
            self._place_alert_marks(stem)
        if stem in self.implied.items and series_id == self._series_id(stem):
            self._place_implied(stem)

    def _apply_data(self, stem: str) -> None:
        prepared = self._prepared.get(self._series_id(stem))
        curve = self._curves.get(stem)
        if curve is None:
            return
        if prepared is None:
            curve.clear()
            return
        candles = isinstance(curve, CandlestickItem)
        if candles and prepared.ohlc is None:
            prepared = self._add_candles(self._series_id(stem))
        prepared = self.gaps.drawn(self._series_id(stem), prepared)
        if prepared is None:
            return  # its compressed pyramids are being built (then drawn by _on_gaps_changed)
        pyramid = prepared.ohlc if candles else prepared.line
        if pyramid is None:  # its candles are being built (then drawn by _on_candles)
            curve.clear()
            return
        curve.setPyramid(pyramid)
        self._apply_rebase(stem)

    def _wants_candles(self) -> bool:
        return self.style == "candles" and self.mode == "stacked"

    def _add_candles(self, series_id: str) -> PreparedPrices:
        """A prepared series gets its candle pyramid when first drawn as candles: at once when
        short, else on a worker (what is prepared until then)."""
        prepared = self._prepared[series_id]
        spec = find_spec(series_id)
        interval_ms = (spec.interval_ms if spec else None) or MS_PER_DAY
        if len(prepared.source) < PREPARE_ON_WORKER:
            self._prepared[series_id] = with_candles(prepared, interval_ms, room=False)
        else:
            self.ctx.scheduler.run(f"candles:{series_id}", with_candles, prepared, interval_ms,
                                   on_result=lambda p, sid=series_id: self._on_candles(sid, p))
        return self._prepared[series_id]

    def _on_candles(self, series_id: str, prepared: PreparedPrices) -> None:
        current = self._prepared.get(series_id)
        if current is None or current.ohlc is not None or not self._wants_candles():
            return  # gone, done, or drawn as a line again (its candles would only cost memory)
        if current.source is not prepared.source:  # live bars arrived meanwhile
            prepared = candles_caught_up(prepared, current)
            if prepared is None:
                self._add_candles(series_id)  # not an extension: build again
                return
        self._prepared[series_id] = prepared
        stem = parse_series_id(series_id).asset
        if stem in self._curves and series_id == self._series_id(stem):
            self._refresh_gaps()
            self._apply_data(stem)

    def _apply_rebase(self, stem: str) -> None:
        """Compare view: scale the curve (a shift in log scale); its pyramid stays as it is."""
        curve = self._curves.get(stem)
        if curve is None:
            return
        factor = self._rebase_factors.get(stem, 1.0) if self.mode == "compare" else 1.0
        if self.log_scale:
            curve.setTransform(QTransform.fromTranslate(0.0, math.log10(factor)))
        else:
            curve.setTransform(QTransform.fromScale(1.0, factor))

    def has_data(self) -> bool:
        return any(self._series_id(s) in self._prepared for s in self.visible)

    def shown_series(self) -> list[str]:
        """The series on screen now (read from the cache before any other at start-up)."""
        return [self._series_id(s) for s in self.visible]

    def _data_end_s(self) -> float:
        ends = [p.t_raw[-1] for sid, p in self._prepared.items()
                if len(p.t_raw) and sid.endswith(f".{self.interval}")]
        return max(ends) if ends else self.ctx.now_ms() / 1e3

    def _apply_range(self, chosen: bool = False) -> None:
        """The range button's span, ending at the data; the linked time docks follow. A chart
        that was not asked for a range (built anew, e.g. by a theme switch) joins the range the
        trader set on the linked docks instead, when there is one."""
        if not self._plots:
            return
        if not self.has_data():
            return
        plot = next(iter(self._plots.values()))
        link = self.ctx.time_link
        if not chosen and link.linked and link.user_range is not None:
            plot.setXRange(*self.time_map.x_range(*link.user_range), padding=0)
        else:
            end = self._data_end_s()
            span = RANGES_DAYS[self.range_key] * 86400
            x0, x1 = self.time_map.x_range(end - span, end)
            plot.setXRange(x0, x1 + self.room_ahead(x1 - x0), padding=0)
        self._range_applied = True
        self._request_history_for_view()
        # The price chart's range is where the linked time docks start, not only after a pan.
        link.publish(self.key)

    # -- compare mode: rebase to 100 at the left edge -----------------------------------------
    def _on_compare_range(self, _vb: object = None, _range: object = None) -> None:
        if self.mode != "compare" or not self._plots:
            return
        x0 = self.time_map.to_real_s(next(iter(self._plots.values())).vb.viewRange()[0][0])
        changed = False
        for stem in self._curves:
            prepared = self._prepared.get(self._series_id(stem))
            if prepared is None or not len(prepared.t_raw):
                continue
            factor = rebase_factor(prepared, x0)
            if abs(factor - self._rebase_factors.get(stem, 0.0)) > 1e-12:
                self._rebase_factors[stem] = factor
                changed = True
        if changed:
            for stem in self._curves:
                self._apply_rebase(stem)

    # -- history on scroll-back ---------------------------------------------------------------
    def _on_view_settled(self) -> None:
        """250 ms after the user stopped panning or zooming."""
        self._request_history_for_view()
        self._show_last_values()

    def _request_history_for_view(self) -> None:
        if not self._plots:
            return
        x0, x1 = self.time_map.real_range(*next(iter(self._plots.values())).vb.viewRange()[0])
        want_ms = int((x0 - 0.1 * (x1 - x0)) * 1000)
        for stem in self.visible:
            prepared = self._prepared.get(self._series_id(stem))
            first_ms = prepared.source.first_ms if prepared else None
            if first_ms is None or want_ms < first_ms:
                self.ctx.scheduler.request_history(self._series_id(stem), want_ms)

    # -- crosshair readout --------------------------------------------------------------------
    @Slot(float)
    def _on_crosshair(self, x: float) -> None:
        self._update_readout(self.time_map.to_real_s(x))  # the readout speaks real time

    def _show_last_values(self) -> None:
        """Redraw the readout after the data or the view changed: at the cursor while there is
        one (a streamed bar arrives every second while the trader hovers), else the last bar."""
        self._update_readout(self._readout_x)

    def _update_readout(self, x: float | None) -> None:
        self._readout_x = x
        parts: list[str] = []
        when = None
        for stem in [s for s in self._stems() if s in self.visible]:
            prepared = self._prepared.get(self._series_id(stem))
            color = asset_color(stem)
            name = short_name(stem)
            if prepared is None or not len(prepared.t_raw):
                parts.append(readout_part(name, color, "–"))
                self._set_plot_label(stem, name, color)  # the state mark says why
                continue
            i = len(prepared.t_raw) - 1 if x is None else index_at_or_before(prepared, x)
            if i < 0:
                parts.append(readout_part(name, color, "–"))
                continue
            value = prepared.close_raw[i]
            change = ""
            pct = change_at(prepared, i)
            if np.isfinite(pct):
                tone = theme.UP if pct >= 0 else theme.DOWN
                change = f"&nbsp;<span style='color:{tone}'>{pct:+.2f}%</span>"
            if x is not None:
                when = prepared.t_raw[i] if when is None else max(when, prepared.t_raw[i])
            text = f"{format_price(value)}{change}"
            if self.mode == "compare":
                rebased = value * self._rebase_factors.get(stem, 1.0)
                text = f"{rebased:.1f}&nbsp;({format_price(value)})"
            elif isinstance(self._curves.get(stem), CandlestickItem):
                text = ohlc_text(prepared.source, i) + change
            parts.append(readout_part(name, color, text))
            self._set_plot_label(stem, f"{name} {format_price(value)}", color)
        stamp = ""
        if when is not None and self.interval in DATE_PLACED_INTERVALS:  # at their trading date
            day = np.datetime_as_string(np.datetime64(int(when), "s"), unit="D")
            stamp = f"{day} (trading date) &nbsp; " if self.interval == "1d" \
                else f"week of {day} &nbsp; "
        elif when is not None:
            stamp = f"{format_time(int(when * 1000), '%Y-%m-%d %H:%M')} {zone_label()} &nbsp; "
        per_bar = f"Δ per {self.interval} bar" if x is not None else f"last {self.interval} bar"
        text = (f"<b>{stamp}</b>" + " &nbsp; ".join(parts) +
                f" &nbsp; <span style='color:{theme.MUTED}'>({per_bar})</span>")
        self._readout_bar.set_text(text)  # no relayout of the dock (ui/readout_bar.py)

    def _set_plot_label(self, stem: str, text: str, color: str) -> None:
        label = self._labels.get(stem)
        # unchanged labels are left alone: each setText lays out its HTML (~1 ms)
        if label is not None and getattr(label, "_rotor_shown", None) != (text, color):
            label.setText(text, color=color)
            label._rotor_shown = (text, color)

    # -- user actions -------------------------------------------------------------------------
    def _on_choice(self, name: str) -> None:
        if name == "interval":
            self._swap_index_futures()
            self.interval_watch.follow(self.shown_series())  # read and refresh those bars
            for stem in self._stems():
                self._on_series_changed(self._series_id(stem))
            for stem in self._curves:
                self._apply_data(stem)
            self._on_compare_range()
            self._draw_overlays()  # marks sit on the shown interval's closes
            self.drawing_layer.refresh()  # a box counts bars of the shown interval
            self.indicator_layer.refresh()
            self._request_history_for_view()
            self._show_last_values()
            self.freshness.refresh()
            self._refresh_gaps()
        elif name == "range_key":
            self._range_applied = False
            self._apply_range(chosen=True)  # and the linked docks follow
        elif name == "mode":
            self._rebase_factors.clear()
            self._rebuild_plots()
            self._on_compare_range()
        elif name == "style":
            self._rebuild_plots()

    def _setting(self, name: str) -> str:
        # "range_key" was saved as "range" by earlier versions
        return super()._setting("range" if name == "range_key" else name)

    def _on_log(self, on: bool) -> None:
        self.log_scale = on
        self.ctx.settings.setValue("prices/log", on)
        self._rebuild_plots()
        self._on_compare_range()

    def _on_asset_toggled(self, stem: str, on: bool) -> None:
        if on and stem not in self.visible:
            self.visible.append(stem)
        elif not on and stem in self.visible:
            self.visible.remove(stem)
        self.ctx.settings.setValue("prices/assets", list(self.visible))
        self.interval_watch.follow(self.shown_series())
        if self.ctx.symbols.find(stem) is not None:
            self._remember_hidden_symbol(stem, hidden=not on)
        self._rebuild_plots()
        self._on_compare_range()

    # -- the user's symbols (models/symbols.py): boxes after the built-ins', in their colours --
    def _stems(self) -> list[str]:
        """Every asset the chart can show: the built-ins, then the user's symbols."""
        return [*PRICE_STEMS, *(s for s in self.ctx.symbols.stems() if s not in PRICE_STEMS)]

    def _hidden_symbols(self) -> list[str]:
        return [str(s) for s in read_setting(self.ctx.settings, "prices/hidden_symbols", [])]

    def _remember_hidden_symbol(self, stem: str, hidden: bool) -> None:
        kept = [s for s in self._hidden_symbols() if s != stem and
                self.ctx.symbols.find(s) is not None]
        self.ctx.settings.setValue("prices/hidden_symbols", [*kept, stem] if hidden else kept)

    def _sync_symbol_boxes(self) -> None:
        """One checkbox per user symbol, after the built-ins'; its context menu removes it."""
        stems = self.ctx.symbols.stems()
        for stem in [s for s in self.asset_boxes if s not in PRICE_STEMS and s not in stems]:
            box = self.asset_boxes.pop(stem)
            self._legend.removeWidget(box)
            box.deleteLater()
        for i, stem in enumerate(stems):
            if stem in self.asset_boxes:
                continue
            symbol = self.ctx.symbols.find(stem)
            assert symbol is not None
            box = QCheckBox(short_name(stem))
            box.setObjectName(f"symbolBox_{stem}")
            box.setChecked(stem in self.visible)
            box.setStyleSheet(f"QCheckBox {{ color: {asset_color(stem)}; }}")
            venue = "Binance" if symbol.venue == "binance" else "Yahoo"
            box.setToolTip(f"Show or hide {symbol.name} ({symbol.symbol}, {venue}, "
                           f"{symbol.calendar}). Right-click to remove it from your symbols.")
            box.toggled.connect(lambda on, s=stem: self._on_asset_toggled(s, on))
            box.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            box.customContextMenuRequested.connect(
                lambda _pos, s=stem, b=box: self._symbol_menu(s).popup(
                    b.mapToGlobal(b.rect().bottomLeft())))
            self._legend.insertWidget(self._symbol_boxes_at + i, box)
            self.asset_boxes[stem] = box

    def _symbol_menu(self, stem: str) -> QMenu:
        """A user symbol's checkbox menu: remove it from the list (and every dock)."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        symbol = self.ctx.symbols.find(stem)
        name = symbol.name if symbol is not None else stem
        menu.addAction(f"Remove {name}", lambda: self.ctx.symbols.remove(stem))
        return menu

    def _shown_user_stems(self) -> list[str]:
        """The user's symbols the chart shows: all but those the trader unchecked."""
        hidden = self._hidden_symbols()
        return [s for s in self.ctx.symbols.stems() if s not in hidden and s not in PRICE_STEMS]

    def _on_symbols_changed(self) -> None:
        stems = self.ctx.symbols.stems()
        new = [s for s in stems if s not in self._shown_symbols]
        self._shown_symbols = stems
        self.visible = [s for s in self.visible if s in PRICE_STEMS] + self._shown_user_stems()
        self.ctx.settings.setValue("prices/assets", list(self.visible))
        self.interval_watch.follow(self.shown_series())  # a removed symbol's bars are let go
        self._rotation_feed.update(symbols=self.ctx.symbols.feed_param())
        self._sync_symbol_boxes()
        for stem in new:
            self.asset_boxes[stem].setChecked(stem in self.visible)
            self._on_series_changed(self._series_id(stem))
        self._rebuild_plots()
        self._on_compare_range()

    # -- overlays: negative funding, gamma levels, the trader's own levels ---------------------
    def _on_overlay(self, attribute: str) -> Any:
        """A feed's result for one overlay: redrawn only when what the overlay shows changed
        (the funding feed recomputes with every forming BTC bar; its negative runs rarely do)."""
        shown = {"_funding": lambda r: r.negative, "_chain": lambda r: r.levels(),
                 "_rotation": lambda r: r.decoupling_ms}[attribute]

        def receive(result: Any) -> None:
            before = getattr(self, attribute)
            setattr(self, attribute, result)
            same = (before is not None and result is not None
                    and shown(before) == shown(result))
            if not same:
                self._draw_overlays()
        return receive

    def _draw_overlays(self) -> None:
        for plot, item in self._overlay_items:
            plot.removeItem(item)
        self._overlay_items = []
        self._decoupling_marks = None
        self._level_labels.show(None, [])
        if not self._plots:
            return
        if self.shade_funding:
            periods = self._funding.negative if self._funding is not None else ()
            bands = [self.time_map.x_range(a / 1e3, b / 1e3) for a, b in periods]
            tooltip = "average funding < 0\n\n" + DERIVED["fundingneg.btc"].provenance(
                self._funding, self._funding.as_of_ms if self._funding else None).tooltip()
            for plot in dict.fromkeys(self._plots.values()):
                if not bands:
                    break
                shading = BandsItem(theme.translucent(theme.DOWN, 38), tooltip=tooltip)
                shading.setBands(bands)
                shading.setZValue(-10)
                plot.addItem(shading, ignoreBounds=True)
                self._overlay_items.append((plot, shading))
        self._burst_marks = {}
        self._alert_marks = {}
        if self.mode == "stacked":
            for stem in self._liquidations:
                if stem in self._plots:
                    self._draw_burst_marks(stem, self._plots[stem])
            self._draw_alert_marks()
        # the bands are painted in real time (per UTC day): not on a compressed axis
        implied_shown = self.show_implied and self.mode == "stacked" and not self.time_map.active
        self._overlay_items += self.implied.attach(
            self._plots if implied_shown else {}, self.log_scale)
        for stem in self.implied.items:
            self._place_implied(stem)
        btc_plot = self._plots.get("btc")
        if btc_plot is None or self.mode != "stacked":
            return
        self._draw_decoupling(btc_plot)
        if not self.show_levels:
            return
        derived = self._chain.levels() if self._chain is not None else []
        presets = list(DEMO_LEVELS) if self.ctx.demo else []
        levels = derived + presets  # the trader's own levels are drawings (_attach_drawings)
        gamma_tip = DERIVED["gammalevels.btc"].provenance(
            self._chain, self._chain.time_ms if self._chain else None).tooltip()
        labelled: list[tuple[pg.InfiniteLine, str, str]] = []
        for level in levels:
            color = level_color(level.kind)
            own = level.kind == USER
            # The demo's preset is labelled on the right, the derived ones on the left: the
            # gamma flip often sits a few hundred dollars from a round-number level.
            line = LevelLine(
                np.log10(level.price) if self.log_scale else level.price, level.label, color,
                side="right" if own else "left", position=0.85 if own else 0.02,
                movable=False, pen=theme.pen(color, style=Qt.PenStyle.DashLine),
                hoverPen=theme.pen(theme.STRONG))
            line.setToolTip("a preset of the demo story (synthetic data)" if own else gamma_tip)
            line.setZValue(20)
            btc_plot.addItem(line, ignoreBounds=True)
            self._overlay_items.append((btc_plot, line))
            labelled.append((line, level.label, "right" if own else "left"))
        self._level_labels.show(btc_plot, labelled)

    def _decoupling_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The flagged sessions on the shown BTC series: x, and its close then (log10 in log
        scale). Empty until both the rotation result and the series are here."""
        sessions = self._rotation.decoupling_ms if self._rotation is not None else ()
        prepared = self._prepared.get(self._series_id("btc"))
        if not sessions or prepared is None or not len(prepared.t_raw):
            return np.empty(0), np.empty(0)
        spec = CATALOG[self._series_id("btc")]
        bar_seconds = 0.0 if prepared.by_date else (spec.interval_ms or 0) / 1e3
        xs, ys = closes_at(prepared, np.asarray(sessions, dtype=np.float64) / 1e3, bar_seconds)
        return self.time_map.to_x_s(xs), (np.log10(ys) if self.log_scale else ys)

    def _draw_decoupling(self, plot: pg.PlotItem) -> None:
        """Triangles at the sessions the rotation analysis flags as decoupling days."""
        marks = pg.ScatterPlotItem(symbol="t1", size=11, brush=theme.WARNING,
                                   pen=pg.mkPen(None))
        marks.setToolTip("decoupling day: big BTC move while its correlation with the "
                         "S&P 500 was low\n\n"
                         + DERIVED["decoupling.btc_spx"].provenance(
                             None, None).tooltip())
        marks.setZValue(30)
        plot.addItem(marks, ignoreBounds=True)
        self._overlay_items.append((plot, marks))
        self._decoupling_marks = marks
        self._place_decoupling_marks()

    def _place_decoupling_marks(self) -> None:
        """Move the marks onto the shown series (a new interval's bars, a rebuilt history)."""
        marks = self._decoupling_marks
        if marks is None or marks.scene() is None:
            return
        xs, ys = self._decoupling_points()
        old_x, old_y = marks.getData()
        if not (np.array_equal(old_x, xs) and np.array_equal(old_y, ys)):
            marks.setData(xs, ys)

    # -- liquidation bursts (the Liquidations dock's threshold, stacked view) -------------------
    def _on_liquidations(self, result: LiquidationAnalysis) -> None:
        before = self._liquidations.get(result.asset)
        self._liquidations[result.asset] = result
        if (before.bursts if before is not None else ()) == result.bursts:
            return  # only when the marks change: none yet is no change
        if result.asset not in self._curves:
            return  # not on the chart: drawn with the rest if it is ticked
        marks = self._burst_marks.get(result.asset)
        if marks is not None and marks.scene() is not None and before is not None \
                and before.bursts and result.bursts:
            # a cascade grows the hour's burst every result: move the marks, and leave the
            # other overlays (levels, shading) alone (redrawing them all cost a burst's frames)
            self._place_burst_marks(result.asset)
        else:
            self._draw_overlays()

    def _draw_burst_marks(self, stem: str, plot: pg.PlotItem) -> None:
        """▲ above the close for an hour of short liquidations over the threshold, ▼ below it
        for longs: small, so they mark the chart without hiding it."""
        result = self._liquidations[stem]
        marks = pg.ScatterPlotItem(size=9, pen=pg.mkPen(None))
        marks.setToolTip(f"reported liquidation bursts: hours ≥ ${result.burst_usd / 1e6:g}M "
                         "on one side over every venue (▲ shorts, ▼ longs; threshold set in "
                         "the Liquidations dock)\n\n"
                         + DERIVED[f"liqbursts.{stem}"].provenance(
                             result, result.as_of_ms).tooltip())
        marks.setZValue(25)
        plot.addItem(marks, ignoreBounds=True)
        self._overlay_items.append((plot, marks))
        self._burst_marks[stem] = marks
        self._place_burst_marks(stem)

    def _place_burst_marks(self, stem: str) -> None:
        marks = self._burst_marks.get(stem)
        result = self._liquidations.get(stem)
        prepared = self._prepared.get(self._series_id(stem))
        if marks is None or marks.scene() is None or result is None:
            return
        if prepared is None or not len(prepared.t_raw) or not result.bursts:
            marks.setData([], [])
            marks._rotor_placed = None
            return
        spec = find_spec(self._series_id(stem))
        bar_seconds = 0.0 if prepared.by_date else ((spec.interval_ms if spec else 0) or 0) / 1e3
        # each burst at the close of its hour, on the shown interval's bars
        ends = np.array([b.time_ms / 1e3 + 3600.0 for b in result.bursts])
        xs, closes = closes_at(prepared, ends, bar_seconds)
        shown = result.bursts[len(ends) - len(xs):]  # closes_at drops only the leading ones
        xs = self.time_map.to_x_s(xs)
        ys = np.log10(closes) if self.log_scale else closes
        sides = tuple(b.side for b in shown)
        placed = getattr(marks, "_rotor_placed", None)
        if placed is not None and placed[2] == sides and np.array_equal(placed[0], xs) \
                and np.array_equal(placed[1], ys):
            return  # a new bar after the bursts moves none (each replay step brings one)
        marks.setData(x=xs, y=ys,
                      symbol=["t1" if side == "short" else "t" for side in sides],
                      brush=[theme.UP if side == "short" else theme.DOWN for side in sides])
        marks._rotor_placed = (np.array(xs), np.array(ys), sides)

    # -- alert back-test firings (the Alert rules dock's Back-test, stacked view) ----------------
    def _alert_firings(self) -> dict[str, list[Any]]:
        """The last back-test's firings by the shown asset they sit on: their own asset's
        chart, else BTC's (a rule on funding or a regime names its asset)."""
        engine = self.ctx.alerts
        by_stem: dict[str, list[Any]] = {}
        for firing in engine.backtest_firings() if engine is not None else ():
            stem = firing.asset if firing.asset in self._plots else "btc"
            if stem in self._plots:
                by_stem.setdefault(stem, []).append(firing)
        return by_stem

    def _draw_alert_marks(self) -> None:
        """A star at the close of the bar each back-tested firing fired in; hover says what
        fired, a click shows the moment on every time chart."""
        engine = self.ctx.alerts
        if engine is None:
            return
        for stem in self._alert_firings():
            marks = pg.ScatterPlotItem(
                symbol="star", size=15, brush=theme.ACCENT, pen=theme.pen(theme.STRONG),
                hoverable=True, hoverSize=19,
                tip=lambda x, y, data: f"alert back-test: {data.rule_name}\n{data.summary}\n"
                f"fired {format_time(data.fired_ms, '%Y-%m-%d %H:%M')} {zone_label()}"
                "\n(click: show this moment on the charts)")
            marks.setZValue(35)
            marks.sigClicked.connect(
                lambda _item, points, _ev: engine.jump_to(points[0].data().fired_ms)
                if len(points) else None)
            self._plots[stem].addItem(marks, ignoreBounds=True)
            self._overlay_items.append((self._plots[stem], marks))
            self._alert_marks[stem] = marks
            self._place_alert_marks(stem)

    def _place_alert_marks(self, stem: str) -> None:
        marks = self._alert_marks.get(stem)
        prepared = self._prepared.get(self._series_id(stem))
        firings = self._alert_firings().get(stem, [])
        if marks is None or marks.scene() is None:
            return
        if prepared is None or not len(prepared.t_raw) or not firings:
            marks.setData([], [])
            return
        spec = find_spec(self._series_id(stem))
        bar_seconds = 0.0 if prepared.by_date else ((spec.interval_ms if spec else 0) or 0) / 1e3
        xs, closes = closes_at(prepared, np.array([f.fired_ms / 1e3 for f in firings]),
                               bar_seconds)
        shown = firings[len(firings) - len(xs):]  # closes_at drops only the leading ones
        marks.setData(x=self.time_map.to_x_s(xs),
                      y=np.log10(closes) if self.log_scale else closes, data=shown)

    def _on_add_level(self) -> None:
        prepared = self._prepared.get(self._series_id("btc"))
        if prepared is None or not len(prepared.close_raw):
            return
        last = float(prepared.close_raw[-1])
        step = 1000.0 if last > 10_000 else 10.0
        self.add_level(round(last / step) * step)

    def _on_shade_toggled(self, on: bool) -> None:
        self.shade_funding = on
        self.ctx.settings.setValue("prices/shade_funding", on)
        self._draw_overlays()

    def _on_levels_toggled(self, on: bool) -> None:
        self.show_levels = on
        self.ctx.settings.setValue("prices/levels", on)
        self._draw_overlays()

    # -- implied-move bands (ui/charts/implied_bands.py, docs/implied-move.md) -----------------
    def _place_implied(self, stem: str) -> None:
        prepared = self._prepared.get(self._series_id(stem))
        spec = find_spec(self._series_id(stem))
        self.implied.place(stem, prepared.source if prepared else None,
                           spec.interval_ms if spec else None,
                           self.ctx.store.series(dvol_id(stem)))

    def room_ahead(self, span: float) -> float:
        """Right of the last bar: 2 % of the span, or the week band's room when it is shown."""
        if self.show_implied and self.mode == "stacked" and self.implied.items:
            return max(span * 0.02, ahead_seconds(span))
        return span * 0.02

    def _on_implied_toggled(self, on: bool) -> None:
        self.show_implied = on
        self.ctx.settings.setValue("prices/implied", on)
        self._draw_overlays()
        if self.time_map.active:
            self._attach_drawings()  # its note says what compression hides
        if on and self._plots and self.has_data():  # make room for the week ahead
            plot = next(iter(self._plots.values()))
            (x0, x1), end = plot.vb.viewRange()[0], self._data_end_s()
            if x1 >= end and x1 < end + self.room_ahead(x1 - x0):
                plot.setXRange(x0, end + self.room_ahead(x1 - x0), padding=0)

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        """What the chart draws, one table per shown asset (models/export_view.py)."""
        from models.export_view import price_series

        x_range = self.plotted_x_range()
        return price_series(self._prepared, list(self._curves),  # the charts' own order
                            self.interval, self.mode, self.style,
                            x_range[0] if x_range else None)

    def plotted_x_range(self) -> tuple[float, float] | None:
        """The visible time window (epoch seconds)."""
        if not self._plots:
            return None
        return self.time_map.real_range(*next(iter(self._plots.values())).vb.viewRange()[0])
    # -- the trader's drawings (models/drawings.py, ui/charts/drawing_items.py) -----------------
    def _build_draw_button(self, bar: FlowLayout) -> None:
        menu = QMenu(self)
        self.draw_actions: dict[str, Any] = {}
        for kind in KINDS:
            action = menu.addAction(KIND_NAMES[kind].capitalize())
            action.setObjectName(f"draw_{kind}")
            action.setCheckable(True)
            action.triggered.connect(lambda on, k=kind: self.drawing_layer.set_tool(k if on
                                                                                   else ""))
            self.draw_actions[kind] = action
        self.draw_button = QToolButton(text="Draw")
        self.draw_button.setObjectName("drawButton")
        self.draw_button.setCheckable(True)
        self.draw_button.setMenu(menu)
        self.draw_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(self.draw_button)
        # Compare view rebases every line to 100: a drawing's prices have no place there.
        self.drawings_note = QLabel("drawings hidden in compare view")
        self.drawings_note.setObjectName("drawingsNote")
        self.drawings_note.setStyleSheet(f"color: {theme.MUTED}; font-size: 8pt;")
        bar.addWidget(self.drawings_note)

    def _attach_drawings(self) -> None:
        """Each shown asset's drawings on its own plot (stacked view, real time axis only: a
        drawing's points are real instants)."""
        stacked = self.mode == "stacked" and not self.time_map.active
        self.drawing_layer.attach(self._plots if stacked else {}, self.log_scale)
        self.draw_button.setEnabled(stacked)
        self.drawings_note.setText(
            ("drawings and implied-move bands hidden while closed hours are compressed"
             if self.show_implied else "drawings hidden while closed hours are compressed")
            if self.time_map.active else "drawings hidden in compare view")
        self.draw_button.setToolTip(
            "Draw on a price chart: pick a tool, then click on the chart (twice for a line, "
            "a ray or a box). Click a drawing to select it, drag it or a point handle to move "
            "it, right-click it to edit or delete it." if stacked else
            "Drawings are hidden in compare view: its lines are rebased to 100, not prices. "
            "Switch to Stacked (and closed hours back) to see and draw them.")
        self.drawings_note.setVisible(not stacked)

    # -- closed hours compressed (ui/price_gaps.py, docs/sessions-gaps.md) ---------------------
    def _on_compress_toggled(self, on: bool) -> None:
        self.gaps.set_enabled(on)
        self._refresh_gaps()

    def _swap_index_futures(self) -> None:
        """Across the daily/intraday line, a cash index shown alone becomes its future and back
        (models/assets.py: assets_for_interval); the other assets stay. Within a side (1h to
        1m) nothing is swapped: the trader's cash index at 1h stays theirs at 1m."""
        intraday = self.interval in INTRADAY
        if intraday == self._assets_intraday:
            return
        self._assets_intraday = intraday
        swapped = assets_for_interval(self.visible, intraday)
        if swapped == self.visible:
            return
        self.visible = swapped
        self.ctx.settings.setValue("prices/assets", list(self.visible))
        for stem, box in self.asset_boxes.items():
            box.blockSignals(True)
            box.setChecked(stem in self.visible)
            box.blockSignals(False)
        self._rebuild_plots()

    def _remember_real_range(self) -> None:
        """Before the map changes: the real span on screen, to show it again after."""
        if self._plots:
            view = next(iter(self._plots.values())).vb.viewRange()[0]
            self._gap_real_range = self.time_map.real_range(*view)

    def _refresh_gaps(self) -> None:
        stems = [s for s in self._stems() if s in self.visible]
        self.compress_action.setEnabled(self.gaps.available(self.interval, stems))
        shown = {self._series_id(s): p for s in stems
                 if (p := self._prepared.get(self._series_id(s))) is not None}
        self.gaps.refresh(self.interval, stems, shown, self._remember_real_range)

    def _on_gaps_changed(self) -> None:
        """The axis was built or dropped: redraw on it, keeping the real span on screen."""
        real = self._gap_real_range
        self._rebuild_plots()
        if real is not None and self._plots:
            next(iter(self._plots.values())).setXRange(*self.time_map.x_range(*real), padding=0)

    def _on_tool_changed(self, kind: str) -> None:
        for name, action in self.draw_actions.items():
            action.setChecked(name == kind)
        self.draw_button.setChecked(bool(kind))
        self.draw_button.setText(f"Draw: {KIND_NAMES[kind]}" if kind else "Draw")

    def _bar_seconds(self) -> float | None:
        spec = CATALOG.get(self._series_id("btc"))
        return spec.interval_ms / 1e3 if spec is not None and spec.interval_ms else None

    def add_level(self, price: float, asset: str = "btc") -> None:
        """A level drawing on `asset` at `price` (an undoable step)."""
        x = self._data_end_s()
        self.ctx.drawings.add(make_drawing(asset, LEVEL, [(x, round(float(price), 2))]))

    def shutdown(self) -> None:
        self.drawing_layer.close()  # the book outlives this panel (a theme switch rebuilds it)
        self.indicator_layer.close()
        super().shutdown()
