"""The price dock's indicators: its "Indicators" menu, the choices it keeps, and the drawing of
the lines (docs/indicators.md).

One asset at a time carries the indicators (the trader picks which, BTC by default) in the
stacked view: SMA, EMA, Bollinger and VWAP lines on its price plot, RSI and ATR in panes under
it, and the volume profile of the visible range along its right edge. The lines are computed on
a worker for long series (models/indicator_lines.py) and drawn with the level-of-detail line
item, so a pan costs the same whatever the row count. Compare view rebases prices to 100: the
indicators are hidden there.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QMenu, QToolButton

from models.assets import find_asset, short_name
from models.catalog import find_spec
from models.ids import price_id
from models.indicator_lines import (
    INDICATORS,
    OVERLAY_INDICATORS,
    PANE_INDICATORS,
    IndicatorLines,
    compute_lines,
    visible_profile,
)
from models.price_view import PREPARE_ON_WORKER, index_at_or_before
from models.series import MS_PER_DAY
from models.sessions import YAHOO_MARKETS
from ui import theme
from ui.charts.indicator_items import IndicatorLineItem, VolumeProfileItem, rsi_guides
from ui.charts.lod_item import LodCurveItem
from ui.settings_file import read_setting

if TYPE_CHECKING:
    from ui.panels.prices import PricesPanel

#: a long series is recomputed at most this often while live bars arrive, and never more often
#: than ten times its last computation took (a worker busy at most ~10 % of the time)
RECOMPUTE_EVERY_S = 5.0
#: the lines of a longer series are computed on a worker (~10 ms for seven indicators here)
COMPUTE_ON_WORKER = 10_000
#: the visible range's profile is computed on a worker past this many bars
PROFILE_ON_WORKER = 50_000
PROFILE_BINS = 48


def line_pen(key: str, part: str) -> Any:
    """An indicator line's pen in the current theme (read when the line is drawn)."""
    dash = Qt.PenStyle.DashLine
    return {
        "sma20": lambda: theme.pen(theme.IMPLIED),
        "sma50": lambda: theme.pen(theme.REALISED),
        "sma200": lambda: theme.pen(theme.SECONDARY, width=1.5),
        "ema21": lambda: theme.pen(theme.VOLMEX),
        "bb20": lambda: theme.pen(theme.MUTED, style=None if part == "middle" else dash),
        "vwap": lambda: theme.pen(theme.STRONG, width=1.2),
        "avwap": lambda: theme.pen(theme.FLIP, width=1.5, style=Qt.PenStyle.DashDotLine),
        "rsi14": lambda: theme.pen(theme.SECONDARY),
        "atr14": lambda: theme.pen(theme.WARNING),
    }[key]()


def session_calendar(stem: str, symbols: Any = None) -> str:
    """Where a session VWAP restarts: "24/7" (each UTC day) for crypto, else the exchange
    calendar the asset trades on (models/sessions.py)."""
    asset = find_asset(stem)
    if asset is not None and asset.asset_class.trades_24_7:
        return "24/7"
    if stem in YAHOO_MARKETS:
        return YAHOO_MARKETS[stem]
    symbol = symbols.find(stem) if symbols is not None else None
    if symbol is not None:
        return symbol.calendar
    spec = find_spec(price_id(stem, "1d"))
    if spec is not None and str(spec.symbol).endswith("=F"):
        return "CMES"  # a Yahoo future (ES=F, NQ=F …) trades on CME Globex hours
    return "XNYS"


class PriceIndicators(QObject):
    """The indicators of one `PricesPanel` (it calls the hooks: `menu_button`, `pane_keys`,
    `add_pane`, `attach`, `on_prepared`, `refresh`, `close`)."""

    def __init__(self, panel: PricesPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        settings = panel.ctx.settings
        chosen = read_setting(settings, "prices/indicators", [])
        self.keys: list[str] = [k for k in INDICATORS if k in chosen]
        self.asset: str = read_setting(settings, "prices/indicator_asset", "btc")
        anchor = read_setting(settings, "prices/vwap_anchor_ms", 0)
        self.anchor_ms: int | None = anchor if anchor > 0 else None
        self.result: IndicatorLines | None = None
        self._items: dict[tuple[str, str], LodCurveItem] = {}
        self._placed: list[tuple[pg.PlotItem, LodCurveItem]] = []
        self._panes: dict[str, pg.PlotItem] = {}
        self._pane_labels: dict[str, pg.LabelItem] = {}
        self._profile_item: VolumeProfileItem | None = None
        self._legend: pg.LabelItem | None = None  # the overlay lines' names, in their colours
        self._host: pg.PlotItem | None = None  # the asset's price plot
        self._range_vb: pg.ViewBox | None = None  # whose range changes move the profile
        self._last_compute = 0.0
        self._compute_s = 0.0  # the last computation's duration
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._compute)
        self._profile_soon = QTimer(self)
        self._profile_soon.setSingleShot(True)
        self._profile_soon.setInterval(150)  # after a pan settles, not per frame
        self._profile_soon.timeout.connect(self._compute_profile)
        self._actions: dict[str, Any] = {}
        self._clicks_hooked = False
        self._crosshair_hooked = False

    # -- choices ------------------------------------------------------------------------------
    def _save(self) -> None:
        settings = self.panel.ctx.settings
        settings.setValue("prices/indicators", list(self.keys))
        settings.setValue("prices/indicator_asset", self.asset)
        settings.setValue("prices/vwap_anchor_ms", int(self.anchor_ms or 0))

    def set_keys(self, keys: list[str]) -> None:
        """Show exactly `keys` (the menu's ticks); panes come and go with a rebuild."""
        keys = [k for k in INDICATORS if k in keys]
        panes_changed = [k for k in keys if k in PANE_INDICATORS] != \
            [k for k in self.keys if k in PANE_INDICATORS]
        self.keys = keys
        self._save()
        self._sync_actions()
        if panes_changed:
            self.panel._rebuild_plots()  # attach() follows from there
        else:
            self.attach()

    def set_asset(self, stem: str) -> None:
        self.asset = stem
        self._save()
        self.panel._rebuild_plots()

    def set_anchor(self, anchor_ms: int | None) -> None:
        """Anchor the VWAP on the bar holding `anchor_ms` (None: remove the anchor)."""
        self.anchor_ms = anchor_ms
        if anchor_ms is not None and "avwap" not in self.keys:
            self.keys = [k for k in INDICATORS if k in (*self.keys, "avwap")]
            self._sync_actions()
        self._save()
        self._compute(force=True)

    def _sync_actions(self) -> None:
        """The menu's ticks from `keys`, without each tick asking for a redraw again."""
        for key, action in self._actions.items():
            blocked = action.blockSignals(True)
            action.setChecked(key in self.keys)
            action.blockSignals(blocked)

    # -- the menu -----------------------------------------------------------------------------
    def menu_button(self) -> QToolButton:
        menu = QMenu(self.panel)
        menu.setToolTipsVisible(True)
        tips = {
            "bb20": "SMA 20 ± 2 population σ of the same 20 closes",
            "vwap": "Volume-weighted average of (high+low+close)/3, restarting each session "
                    "(UTC day for crypto, the exchange's session otherwise); intraday bars",
            "avwap": "VWAP from a bar you pick: right-click the price chart → Anchor VWAP here",
            "rsi14": "Wilder's relative strength index, in a pane under the price",
            "atr14": "Wilder's average true range, in a pane under the price",
            "profile": "Volume by price of the bars in view, at the right edge; POC = most "
                       "volume, HVN = high-volume nodes (local peaks ≥ 1.5× the mean bin)",
        }
        for key, label in INDICATORS.items():
            action = menu.addAction(label)
            action.setObjectName(f"indicator_{key}")
            action.setCheckable(True)
            action.setChecked(key in self.keys)
            action.setToolTip(tips.get(key, label))
            action.toggled.connect(lambda on, k=key: self.set_keys(
                [*self.keys, k] if on else [x for x in self.keys if x != k]))
            self._actions[key] = action
        menu.addSeparator()
        self._asset_menu = menu.addMenu("Show on")
        self._asset_menu.aboutToShow.connect(self._fill_asset_menu)
        self._unanchor = menu.addAction("Remove the VWAP anchor",
                                        lambda: self.set_anchor(None))
        menu.aboutToShow.connect(lambda: self._unanchor.setEnabled(self.anchor_ms is not None))
        button = QToolButton(text="Indicators")
        button.setObjectName("indicatorsButton")
        button.setToolTip("Moving averages, Bollinger bands, VWAP, RSI, ATR and the volume "
                          "profile on one asset's chart (stacked view)")
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button = button
        return button

    def _fill_asset_menu(self) -> None:
        self._asset_menu.clear()
        for stem in self.panel._stems():
            action = self._asset_menu.addAction(short_name(stem))
            action.setCheckable(True)
            action.setChecked(stem == self.asset)
            action.triggered.connect(lambda _=False, s=stem: self.set_asset(s))

    # -- plots --------------------------------------------------------------------------------
    def _shown_here(self, stem: str) -> bool:
        return self.panel.mode == "stacked" and stem == self.asset

    def pane_keys(self, stem: str) -> list[str]:
        """The panes the stacked view puts under `stem`'s price plot."""
        if not self._shown_here(stem):
            return []
        return [k for k in PANE_INDICATORS if k in self.keys]

    def add_pane(self, key: str, plot: pg.PlotItem) -> None:
        """A pane the panel laid out under the asset's plot for indicator `key`."""
        plot.setLogMode(y=False)
        if key == "rsi14":
            plot.enableAutoRange(y=False)
            plot.setYRange(0, 100, padding=0.05)
            rsi_guides(plot, theme.pen(theme.MUTED, style=Qt.PenStyle.DotLine))
        label = pg.LabelItem(justify="left", size="8pt")
        label.setParentItem(plot.vb)
        label.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(4, 0))
        self._panes[key] = plot
        self._pane_labels[key] = label

    def pane_plots(self) -> list[pg.PlotItem]:
        """The indicator panes on the chart now (the crosshair spans them too)."""
        return [p for k, p in self._panes.items() if p.scene() is not None and k in self.keys]

    def attach(self) -> None:
        """After the panel built its plots (or the choices changed): put the items on them and
        compute what they show."""
        for plot, item in self._placed:
            plot.removeItem(item)
        self._placed.clear()
        self._items.clear()
        if self._profile_item is not None:
            self._profile_item.detach()
            self._profile_item = None
        if self._legend is not None and self._legend.scene() is not None:
            self._legend.scene().removeItem(self._legend)
        self._legend = None
        self._panes = {k: p for k, p in self._panes.items()
                       if p.scene() is not None and k in self.keys}
        self._pane_labels = {k: v for k, v in self._pane_labels.items() if k in self._panes}
        host = self.panel._plots.get(self.asset) if self.panel.mode == "stacked" else None
        if self._range_vb is not None and (host is None or host.vb is not self._range_vb):
            try:
                self._range_vb.sigXRangeChanged.disconnect(self._on_range)
            except (RuntimeError, TypeError):  # the old plot is gone with its signal
                pass
            self._range_vb = None
        self._host = host
        self._stretch_rows()
        if host is None or not self.keys:
            self.result = None
            if self.keys and hasattr(self, "button"):
                where = ("the compare view rebases to 100: switch to Stacked" if
                         self.panel.mode != "stacked" else
                         f"tick {short_name(self.asset)} to see them (or Show on another)")
                self.button.setToolTip(f"Indicators hidden: {where}")
            return
        if self._range_vb is None:
            host.vb.sigXRangeChanged.connect(self._on_range)
            self._range_vb = host.vb
        self._hook_clicks()
        if not self._crosshair_hooked:  # the panes' titles read the value under the cursor
            self.panel.crosshair.moved.connect(self._show_pane_values)
            self.panel.crosshair.left.connect(lambda: self._show_pane_values(None))
            self._crosshair_hooked = True
        self._legend = pg.LabelItem(justify="left", size="8pt")
        self._legend.setParentItem(host.vb)
        self._legend.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(4, 18))
        self._show_legend()
        if "profile" in self.keys:
            self._profile_item = VolumeProfileItem(
                host.vb, fill=theme.translucent(theme.MUTED, 60),
                node_fill=theme.translucent(theme.WARNING, 110),
                poc_pen=theme.pen(theme.WARNING), text_color=theme.FOREGROUND)
            self._profile_soon.start()
        self.result = None
        self._compute(force=True)

    def _stretch_rows(self) -> None:
        """Price plots three times as tall as an indicator pane."""
        layout = self.panel.chart.ci.layout
        panes = set(self._panes.values())
        for row in range(layout.rowCount()):
            item = self.panel.chart.ci.getItem(row, 0)
            layout.setRowStretchFactor(row, 1 if item in panes else 3)

    def refresh(self) -> None:
        """The panel's interval changed: the same indicators over the new bars."""
        self.result = None
        for item in self._items.values():
            item.clear()
        self._compute(force=True)
        self._profile_soon.start()

    def close(self) -> None:
        self._later.stop()
        self._profile_soon.stop()

    # -- data ---------------------------------------------------------------------------------
    def _series_id(self) -> str:
        return self.panel._series_id(self.asset)

    def on_prepared(self, series_id: str) -> None:
        """The panel has new bars for `series_id`."""
        if self._host is None or series_id != self._series_id() or not self.keys:
            return
        self._compute()
        if "profile" in self.keys:
            self._profile_soon.start()

    def _compute(self, force: bool = False) -> None:
        if self._host is None or not self.keys:
            return
        sid = self._series_id()
        data = self.panel.ctx.store.series(sid)
        spec = find_spec(sid)
        if data is None or not len(data) or spec is None or "high" not in data.columns:
            return
        long = len(data) >= PREPARE_ON_WORKER
        spacing = max(RECOMPUTE_EVERY_S if long else 0.0, 10.0 * self._compute_s)
        wait = self._last_compute + spacing - time.monotonic()
        if not force and wait > 0:
            if not self._later.isActive():
                self._later.start(int(wait * 1000))
            return
        self._last_compute = time.monotonic()
        keys = tuple(k for k in self.keys if k in OVERLAY_INDICATORS or k in PANE_INDICATORS)
        if not keys:
            return
        interval_ms = spec.interval_ms or MS_PER_DAY
        args = (data, keys, interval_ms)
        kwargs = {"by_date": spec.interval == "1d",
                  "calendar": session_calendar(self.asset, self.panel.ctx.symbols),
                  "anchor_ms": self.anchor_ms,
                  # closed hours squeezed out of x: the lines sit on the same compressed x
                  "to_x": tm.axis.to_x if (tm := self.panel.time_map).active else None}
        if len(data) >= COMPUTE_ON_WORKER or ("vwap" in keys and kwargs["calendar"] != "24/7"):
            # a long series, or an exchange calendar to read: not on the GUI thread
            self.panel.ctx.scheduler.run(
                "indicators:prices", lambda: compute_lines(*args, **kwargs),
                on_result=lambda result: self._on_lines(result, sid))
        else:
            self._on_lines(compute_lines(*args, **kwargs), sid)

    def _on_lines(self, result: IndicatorLines, series_id: str) -> None:
        if self._host is None or self._host.scene() is None:
            return
        if series_id != self._series_id():
            return  # computed for the interval or asset shown before: its own result follows
        self.result = result
        self._compute_s = result.seconds
        for key, lines in result.lines.items():
            if key not in self.keys:
                continue
            plot = self._panes.get(key) if key in PANE_INDICATORS else self._host
            if plot is None:
                continue
            for name, pyramid in lines:
                item = self._items.get((key, name))
                if item is None:
                    item = IndicatorLineItem(name=f"{INDICATORS[key]} {name}",
                                             pen=line_pen(key, name))
                    item.setZValue(5)
                    # the price sets the scale; an SMA 200 far off screen must not squeeze it
                    plot.addItem(item, ignoreBounds=plot is self._host)
                    self._items[(key, name)] = item
                    self._placed.append((plot, item))
                item.setPyramid(pyramid)
        for (key, _name), item in self._items.items():
            if key not in result.lines:
                item.clear()
        self._show_pane_values(None)
        self._show_legend()
        self._update_tooltip()

    def _show_pane_values(self, x: float | None) -> None:
        """Each pane's title with its value at the cursor's bar (the last value without one)."""
        for key, label in self._pane_labels.items():
            name = "RSI 14" if key == "rsi14" else "ATR 14"
            item = self._items.get((key, name))
            value = None
            if x is None and self.result is not None:
                value = self.result.last.get(f"{key}:{name}")
            elif x is not None and item is not None:
                at = item.xy_at(x, side="before")
                value = at[1] if at is not None and np.isfinite(at[1]) else None
            text = INDICATORS[key] + ("" if value is None else f"  {value:,.2f}")
            label.setText(text, color=theme.FOREGROUND)

    def _show_legend(self) -> None:
        import html

        parts = []
        for key in self.keys:
            if key not in OVERLAY_INDICATORS:
                continue
            color = line_pen(key, "middle").color().name()
            note = self.result.notes.get(key) if self.result is not None else None
            text = html.escape(INDICATORS[key]) + (f" ({html.escape(note)})" if note else "")
            parts.append(f"<span style='color:{color}'>{text}</span>")
        if self._legend is not None:
            self._legend.setText(" &nbsp; ".join(parts))

    def _update_tooltip(self) -> None:
        notes = self.result.notes if self.result is not None else {}
        lines = [f"{INDICATORS[k]}: {why}" for k, why in notes.items()]
        base = ("Moving averages, Bollinger bands, VWAP, RSI, ATR and the volume profile on "
                f"{short_name(self.asset)}'s chart (stacked view)")
        self.button.setToolTip("\n".join([base, *lines]))

    # -- the volume profile of the visible range ----------------------------------------------
    def _on_range(self, *_args: Any) -> None:
        if self._profile_item is not None:
            self._profile_soon.start()  # restarts: once, after the pan

    def _compute_profile(self) -> None:
        item, host = self._profile_item, self._host
        if item is None or host is None:
            return
        sid = self._series_id()
        data = self.panel.ctx.store.series(sid)
        spec = find_spec(sid)
        if data is None or spec is None or "high" not in data.columns:
            item.set_profile(None)
            return
        x0, x1 = self.panel.time_map.real_range(*host.vb.viewRange()[0])
        by_date = spec.interval == "1d"
        log = self.panel.log_scale
        i0, i1 = np.searchsorted(data.time, [x0 * 1e3, x1 * 1e3])
        if i1 - i0 >= PROFILE_ON_WORKER:
            self.panel.ctx.scheduler.run(
                "indicators:profile", visible_profile, data, x0, x1, PROFILE_BINS, by_date,
                on_result=lambda prof: self._on_profile(prof, log, sid))
        else:
            self._on_profile(visible_profile(data, x0, x1, PROFILE_BINS, by_date), log, sid)

    def _on_profile(self, profile: Any, log: bool, series_id: str) -> None:
        if self._profile_item is not None and series_id == self._series_id():
            self._profile_item.set_profile(profile, log)

    # -- anchoring the VWAP on a clicked bar ----------------------------------------------------
    def _hook_clicks(self) -> None:
        if self._clicks_hooked:
            return
        self.panel.chart.scene().sigMouseClicked.connect(self._on_click)
        self._clicks_hooked = True

    def _on_click(self, ev: Any) -> None:
        host = self._host
        if host is None or host.scene() is None or ev.button() != Qt.MouseButton.RightButton \
                or ev.isAccepted():
            return
        pos = ev.scenePos()
        if not host.vb.sceneBoundingRect().contains(pos):
            return
        x = host.vb.mapSceneToView(pos).x()
        bar_ms = self.bar_at(x)
        if bar_ms is None:
            return
        ev.accept()
        self.context_menu(bar_ms).popup(ev.screenPos().toPoint())

    def bar_at(self, x_seconds: float) -> int | None:
        """The stamp (ms) of the asset's bar at or before plot x `x_seconds` (real time unless
        closed hours are compressed)."""
        prepared = self.panel._prepared.get(self._series_id())
        if prepared is None or not len(prepared.t_raw):
            return None
        i = index_at_or_before(prepared, float(self.panel.time_map.to_real_s(x_seconds)))
        return None if i < 0 else int(prepared.source.time[i])

    def context_menu(self, bar_ms: int) -> QMenu:
        """Right-click on the asset's price plot: anchor the VWAP on that bar."""
        from ui.time_display import format_time, zone_label

        menu = QMenu(self.panel)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        when = f"{format_time(bar_ms, '%Y-%m-%d %H:%M')} {zone_label()}"
        anchor = menu.addAction(f"Anchor VWAP here ({when})",
                                lambda: self.set_anchor(bar_ms))
        anchor.setObjectName("anchorVwapHere")
        if self.anchor_ms is not None:
            menu.addAction("Remove the VWAP anchor", lambda: self.set_anchor(None))
        return menu
