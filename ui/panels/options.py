"""The option chain: dealer gamma (GEX) by strike and across spot, the zero-gamma level and the
walls, the ATM term structure, the smile, and 25-delta risk reversal / butterfly.

Everything is valued at the snapshot's own timestamp, so a cached or demo chain stays right. The
dealer-positioning convention is stated on screen and can be flipped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from models import dock_choices
from models.analyses import ChainAnalysis
from models.derived import DERIVED
from models.ids import options_id
from models.options import DealerPositioning, DeltaConvention
from ui import theme
from ui.charts.axes import UtcDateAxisItem, ValueAxisItem
from ui.charts.fit import set_title
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, choice_buttons, convention_box, elastic
from ui.time_display import format_time, zone_label

if TYPE_CHECKING:
    import pandas as pd

ASSETS = ("btc", "eth")
#: the chart's rows; a short dock shows one at a time, chosen with buttons
ROW_PAGES = {"gex": ("GEX", "Dealer gamma by strike and across spot"),
             "iv": ("IV", "ATM implied vol by expiry, and the smile"),
             "skew": ("Skew", "25Δ risk reversal and butterfly by expiry, and their history")}
ROW_MIN_PX = 150  # below this per row, six plots are unreadable: one row at a time


def _utc(ms: int) -> str:
    return f"{format_time(ms, '%Y-%m-%d %H:%M')} {zone_label()}"


def _expiry_label(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d %b %y").upper()


class OptionsPanel(Panel):
    key = "options"
    title = "Options and dealer gamma"
    tab_title = "Options"
    series_ids = tuple(options_id(a) for a in ASSETS)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        theme.configure_pyqtgraph()
        chosen = dock_choices.DOCK_DEFAULTS[self.key]
        self.asset = self.persisted("asset", ASSETS, chosen["asset"])
        self.page = self.persisted("page", ROW_PAGES, chosen["page"])
        self._rows_shown: list[str] = list(ROW_PAGES)
        self.view: ChainAnalysis | None = None
        self.net_curve: pg.PlotDataItem | None = None
        self.profile_curve: pg.PlotDataItem | None = None
        self.term_curve: pg.PlotDataItem | None = None

        bar = FlowLayout()
        self._group = choice_buttons(self, bar, ASSETS, self.asset,
                                     lambda a: self.choose("asset", a), str.upper)
        shared = ctx.feeds.shared_params("chain")
        self.positioning_box = convention_box(
            bar, ((p.value, p.label, p.description) for p in DealerPositioning),
            shared["positioning"],
            lambda v: ctx.feeds.set_shared_params("chain", positioning=v),
            "Dealer positioning assumed for GEX (shared with the gamma levels on the price chart)")
        self.delta_box = convention_box(
            bar, ((d.value, f"25Δ: {d.label}", d.description) for d in DeltaConvention),
            shared["delta"], self._on_delta,
            "Which delta picks the 25Δ strikes of the risk reversal and butterfly")
        self.expiry_box = QComboBox()
        self.expiry_box.setToolTip("Expiry shown in the smile (the IV row)")
        self.expiry_box.currentIndexChanged.connect(lambda _i: self._draw_smile())
        bar.addWidget(self.expiry_box)  # no "smile:" label: the row must fit a half-width dock
        bar.addStretch(1)
        # Its own row, wrapped, the snapshot time first: in a half-width dock the tool row has
        # no room left, and a cut line lost the time first.
        self.convention = elastic(QLabel(""))
        self.convention.setWordWrap(True)
        self.convention.setStyleSheet(f"color: {theme.MUTED}; font-size: 8pt;")

        self.headline = elastic(QLabel(""))
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        self.chart = pg.GraphicsLayoutWidget()
        plot = partial(self.chart.addPlot, enableMenu=False)  # no pyqtgraph context menus

        def money_axes() -> dict[str, ValueAxisItem]:  # "$40M" and "70k", not "4e+07"
            return {"left": ValueAxisItem("left", currency="$"),
                    "bottom": ValueAxisItem("bottom")}

        self.gex_plot = plot(row=0, col=0, axisItems=money_axes())
        self.profile_plot = plot(row=0, col=1, axisItems=money_axes())
        self.term_plot = plot(row=1, col=0)
        self.smile_plot = plot(row=1, col=1, axisItems={"bottom": ValueAxisItem("bottom")})
        for titled, title in ((self.gex_plot, "GEX by strike"),
                              (self.profile_plot, "Total GEX vs spot"),
                              (self.term_plot, "ATM IV by expiry"), (self.smile_plot, "Smile")):
            set_title(titled, title)
        # Which line is which is said in the titles, in the lines' colours: a legend inside
        # these short plots covered most of their points.
        key = (f"<span style='color:{theme.DOWN}'>● RR (C − P)</span> · "
               f"<span style='color:{theme.SECONDARY}'>■ BF</span>")
        self.skew_plot = self.chart.addPlot(row=2, col=0, enableMenu=False)
        set_title(self.skew_plot, f"25Δ {key} by expiry")
        self.history_plot = self.chart.addPlot(
            row=2, col=1, enableMenu=False,
            axisItems={"bottom": UtcDateAxisItem()})
        set_title(self.history_plot, f"30-day history of {key}")
        self.history_plot.setLabel("bottom", "snapshot (UTC)")
        self.history_plot.setLabel("left", "vol pts")
        for plot in (self.gex_plot, self.profile_plot, self.term_plot, self.smile_plot,
                     self.skew_plot, self.history_plot):
            theme.grid(plot)
            plot.setMenuEnabled(False)
        self.gex_plot.setLabel("bottom", "strike")
        self.gex_plot.setLabel("left", "USD per 1% move")
        self.profile_plot.setLabel("bottom", "spot")
        self.profile_plot.setLabel("left", "USD per 1% move")
        self.term_plot.setLabel("bottom", "days to expiry")
        self.term_plot.setLabel("left", "ATM IV %")
        self.smile_plot.setLabel("bottom", "strike")
        self.smile_plot.setLabel("left", "mark IV %")
        self.skew_plot.setLabel("bottom", "days to expiry")
        self.skew_plot.setLabel("left", "vol pts")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        headline_row = QHBoxLayout()
        self._page_buttons = QWidget()
        pages = QHBoxLayout(self._page_buttons)
        pages.setContentsMargins(0, 0, 0, 0)
        self._page_group = choice_buttons(self, pages, ROW_PAGES, self.page,
                                          lambda p: self.choose("page", p),
                                          lambda p: ROW_PAGES[p][0], lambda p: ROW_PAGES[p][1])
        headline_row.addWidget(self._page_buttons)
        headline_row.addWidget(self.headline, 1)
        layout.addLayout(headline_row)
        layout.addWidget(self.convention)
        layout.addWidget(self.chart, 1)
        self.add_footer(layout)
        self._rows = {"gex": (self.gex_plot, self.profile_plot),
                      "iv": (self.term_plot, self.smile_plot),
                      "skew": (self.skew_plot, self.history_plot)}
        self.chart.installEventFilter(self)
        self._fit_rows()
        self._chain = self.follow("chain", self._on_view, asset=self.asset)
        self._history = self.follow("skew_history", self._on_history, asset=self.asset)

    # -- data ---------------------------------------------------------------------------------
    def freshness_ids(self) -> tuple[str, ...]:
        return (options_id(self.asset),)

    def _on_history(self, history: pd.DataFrame) -> None:
        self.history_plot.clear()
        if not len(history):
            return
        x = history.index.as_unit("s").asi8.astype(float)
        self.history_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        for column, color, symbol in (("rr25", theme.DOWN, "o"), ("bf25", theme.SECONDARY, "s")):
            self.history_plot.plot(x, history[column].to_numpy(float), pen=theme.pen(color),
                                   symbol=symbol, symbolSize=5, symbolBrush=color)
        self.history_plot.setToolTip(DERIVED[f"skew30.{self.asset}"].provenance().tooltip())

    def _on_view(self, view: ChainAnalysis | None) -> None:
        if view is None or view.asset != self.asset:
            return
        self.view = view
        self._draw()
        self._note_painted()

    # -- drawing ------------------------------------------------------------------------------
    def _draw(self) -> None:
        view = self.view
        if view is None:
            return
        self.convention.setText(f"snapshot {_utc(view.time_ms)}, valued then · GEX = OI × Γ × "
                                f"S² × 1% (USD per 1% move); {view.convention}")
        for prefix, plot in (("gex", self.gex_plot), ("gexprofile", self.profile_plot),
                             ("term", self.term_plot), ("smile", self.smile_plot),
                             ("skew", self.skew_plot)):
            tip = DERIVED[f"{prefix}.{view.asset}"].provenance(view, view.time_ms).tooltip()
            plot.setToolTip(tip)
        self.convention.setToolTip(self.gex_plot.toolTip())
        self.headline.setToolTip(
            DERIVED[f"gammalevels.{view.asset}"].provenance(view, view.time_ms).tooltip())
        flip = f"{view.flip:,.0f}" if view.flip is not None else "none in ±50%"
        walls = (f"call wall {view.call_wall:,.0f} · put wall {view.put_wall:,.0f}"
                 if view.call_wall is not None and view.put_wall is not None else "")
        atm = f" · front ATM IV {view.term['atm_iv'].iloc[0]:.1f}%" if len(view.term) else ""
        self.headline.setText(f"<b>{view.asset.upper()}</b> spot {view.spot:,.0f} · "
                              f"<span style='color:{theme.FLIP}'>gamma flip {flip}</span> · {walls}"
                              f"{atm}")
        self._draw_gex(view)
        self._draw_term_and_skew(view)
        current = self.expiry_box.currentData()
        self.expiry_box.blockSignals(True)
        self.expiry_box.clear()
        for expiry in view.smiles:
            self.expiry_box.addItem(_expiry_label(expiry), expiry)
        index = self.expiry_box.findData(current)
        self.expiry_box.setCurrentIndex(index if index >= 0 else min(1, len(view.smiles) - 1))
        self.expiry_box.blockSignals(False)
        self._draw_smile()

    def _vline(self, plot: pg.PlotItem, x: float | None, color: str, label: str,
               height: float = 0.92) -> None:
        if x is None or not np.isfinite(x):
            return
        plot.addItem(pg.InfiniteLine(pos=x, angle=90, pen=theme.pen(color,
                                     style=Qt.PenStyle.DashLine), label=label,
                                     labelOpts={"position": height, "color": color,
                                                # readable over the bars it crosses
                                                "fill": theme.translucent(theme.BACKGROUND, 200)}))

    def _draw_gex(self, view: ChainAnalysis) -> None:
        self.gex_plot.clear()
        gex = view.gex
        if len(gex):
            strikes = gex["strike"].to_numpy(float)
            width = float(np.median(np.diff(strikes))) * 0.4 if len(strikes) > 1 else 1.0
            self.gex_plot.addItem(pg.BarGraphItem(x=strikes - width / 2, height=gex["call_gex"],
                                                  width=width, brush=theme.UP, pen=None))
            self.gex_plot.addItem(pg.BarGraphItem(x=strikes + width / 2, height=gex["put_gex"],
                                                  width=width, brush=theme.DOWN, pen=None))
            self.net_curve = self.gex_plot.plot(strikes, gex["net_gex"].to_numpy(float),
                                                pen=theme.pen(theme.STRONG))
        self.gex_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        # Staggered label heights: the four levels often sit within a few strikes.
        self._vline(self.gex_plot, view.spot, theme.FOREGROUND, "spot", 0.95)
        self._vline(self.gex_plot, view.flip, theme.FLIP, "flip", 0.8)
        self._vline(self.gex_plot, view.call_wall, theme.UP, "call wall", 0.65)
        self._vline(self.gex_plot, view.put_wall, theme.DOWN, "put wall", 0.5)
        self.gex_plot.setXRange(view.spot * 0.7, view.spot * 1.3, padding=0)

        self.profile_plot.clear()
        self.profile_curve = self.profile_plot.plot(view.spots, view.profile,
                                                    pen=theme.pen(theme.STRONG), fillLevel=0.0,
                                                    brush=pg.mkBrush(*theme.AREA_FILL))
        self.profile_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
        self._vline(self.profile_plot, view.spot, theme.FOREGROUND, "spot", 0.95)
        self._vline(self.profile_plot, view.flip, theme.FLIP, "flip", 0.8)  # often near spot

    def _draw_term_and_skew(self, view: ChainAnalysis) -> None:
        self.term_plot.clear()
        if len(view.term):
            self.term_curve = self.term_plot.plot(
                view.term["days"].to_numpy(float), view.term["atm_iv"].to_numpy(float),
                pen=theme.pen(theme.IMPLIED), symbol="o", symbolSize=5, symbolBrush=theme.IMPLIED)
        self.skew_plot.clear()
        if len(view.skew):
            days = view.skew["days"].to_numpy(float)
            self.skew_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=theme.pen(theme.MUTED)))
            self.skew_plot.plot(days, view.skew["rr25"].to_numpy(float), name="25Δ RR (C − P)",
                                pen=theme.pen(theme.DOWN), symbol="o", symbolSize=5,
                                symbolBrush=theme.DOWN)
            self.skew_plot.plot(days, view.skew["bf25"].to_numpy(float), name="25Δ BF",
                                pen=theme.pen(theme.SECONDARY), symbol="s", symbolSize=5,
                                symbolBrush=theme.SECONDARY)

    def _draw_smile(self) -> None:
        self.smile_plot.clear()
        view = self.view
        expiry = self.expiry_box.currentData()
        if view is None or expiry is None or expiry not in view.smiles:
            return
        smile = view.smiles[expiry]
        for kind, color in (("C", theme.UP), ("P", theme.DOWN)):
            part = smile[smile["option_type"] == kind]
            self.smile_plot.plot(part["strike"].to_numpy(float), part["mark_iv"].to_numpy(float),
                                 pen=theme.pen(color), symbol="o", symbolSize=4,
                                 symbolBrush=color)
        self._vline(self.smile_plot, view.spot, theme.FOREGROUND, "spot")
        set_title(self.smile_plot, f"Smile {_expiry_label(expiry)} (C green, P red)")

    def has_data(self) -> bool:
        return self.view is not None

    # -- user actions -------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.chart and event.type() == QEvent.Type.Resize:
            self._fit_rows()
        return super().eventFilter(watched, event)

    def _fit_rows(self) -> None:
        """All three rows of plots when the dock is tall enough, else the chosen one."""
        compact = self.chart.height() < len(ROW_PAGES) * ROW_MIN_PX
        wanted = [self.page] if compact else list(ROW_PAGES)
        self._page_buttons.setVisible(compact)
        if wanted == self._rows_shown:
            return
        layout = self.chart.ci
        for page in self._rows_shown:
            for plot in self._rows[page]:
                layout.removeItem(plot)
        for row, page in enumerate(wanted):
            for col, plot in enumerate(self._rows[page]):
                layout.addItem(plot, row=row, col=col)
        self._rows_shown = wanted

    def rows_shown(self) -> list[str]:
        return list(self._rows_shown)

    def _on_choice(self, name: str) -> None:
        if name == "page":
            self._fit_rows()
            return
        self.view = None
        self._chain.update(asset=self.asset)
        self._history.update(asset=self.asset)
        self.freshness.refresh()

    def _on_delta(self, delta: str) -> None:
        self.ctx.feeds.set_shared_params("chain", delta=delta)
        self.ctx.feeds.set_shared_params("skew_history", delta=delta)

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        """GEX, profile, term, skew and the smile of the expiry shown (x: strike, spot, days)."""
        from models.export_view import options_series

        if self.view is None:
            return []
        return options_series(self.view, self.expiry_box.currentData())

    def plotted_x_range(self) -> None:
        return None  # not a time chart: every plotted point is exported
