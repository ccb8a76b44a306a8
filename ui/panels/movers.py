"""Movers: every asset's last price, 1-day / 1-week / 1-month change, 30-day realised vol, the
z-score of today's move against its own recent volatility, and the drawdown from its 52-week high
— so "BTC +10%, S&P 500 +0.47%" is visible at a glance. Sortable; colour says direction."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.analyses import movers_inputs
from models.assets import ASSETS, short_name
from models.derived import DERIVED
from models.movers import COLUMN_DEFINITIONS, COLUMN_HEADERS, DRAWDOWN_BASES, MOVER_COLUMNS
from ui import theme
from ui.flow_layout import FlowLayout
from ui.panels.base import Panel, UiContext, convention_box, symbol_params
from ui.table_cells import put_cell
from ui.table_fit import FitColumns
from ui.theme import asset_color  # the current theme's variant

COLUMNS = (("Asset", None), *((COLUMN_HEADERS[f][0], f) for f in MOVER_COLUMNS))
ASSET_ORDER = {stem: i for i, stem in enumerate(ASSETS)}  # BTC first, as everywhere


def header_tooltip(field: str) -> str:
    """A column's full name and its definition (the header itself is short)."""
    return f"{COLUMN_HEADERS[field][1]}. {COLUMN_DEFINITIONS.get(field, '')}"


def in_asset_order(rows: dict[str, dict[str, float]]) -> list[str]:
    return sorted(rows, key=lambda stem: (ASSET_ORDER.get(str(stem), len(ASSET_ORDER)), stem))


class _NumberItem(QTableWidgetItem):
    def __lt__(self, other: QTableWidgetItem) -> bool:
        a = self.data(Qt.ItemDataRole.UserRole)
        b = other.data(Qt.ItemDataRole.UserRole)
        if isinstance(a, float) and isinstance(b, float):
            return (a if np.isfinite(a) else -np.inf) < (b if np.isfinite(b) else -np.inf)
        # Not the base class's operator<: PySide dispatches it back to this override.
        return self.text() < other.text()


class MoversPanel(Panel):
    key = "movers"
    title = "Movers"
    series_ids = movers_inputs()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([c for c, _ in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self._fit = FitColumns(self.table)  # headers never cut ("om 52w high")
        # The assets' own order (BTC first) until the trader clicks a header; a third click
        # on it goes back to that order.
        header = self.table.horizontalHeader()
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        for col, (_title, field) in enumerate(COLUMNS):
            if field is not None:
                self.table.horizontalHeaderItem(col).setToolTip(header_tooltip(field))
        bar = FlowLayout()
        self.drawdown_box = convention_box(
            bar, ((basis, f"drawdown {text}", f"Drawdown {text}") for basis, text in
                  DRAWDOWN_BASES.items()),
            ctx.feeds.shared_params("movers")["drawdown"],
            lambda v: ctx.feeds.set_shared_params("movers", drawdown=v),
            "The high the drawdown is measured from")
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self.add_footer(layout)
        self.rows = 0
        self._shown_rows: dict[str, dict[str, float]] = {}
        self._feed = self.follow("movers", self._on_movers, **symbol_params(ctx))
        # The user's symbols get rows too, after the built-ins.
        self.follow_symbols(lambda: self._feed.update(symbols=ctx.symbols.feed_param()))

    def _on_movers(self, rows: dict[str, dict[str, float]]) -> None:
        if rows == self._shown_rows:  # NaN != NaN makes a table with gaps redraw: harmless
            return
        self._shown_rows = rows
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for row, stem in enumerate(in_asset_order(rows)):
            values = rows[stem]
            for col, (_title, field) in enumerate(COLUMNS):
                if field is None:
                    put_cell(self.table, row, col, short_name(str(stem)),
                             color=asset_color(str(stem)),
                             tooltip=DERIVED["movers"].provenance().tooltip())
                else:
                    value = float(values.get(field, np.nan))
                    put_cell(self.table, row, col, self._format(field, value),
                             item_type=_NumberItem, value=value,
                             color=self._color(field, value),
                             tooltip=COLUMN_DEFINITIONS.get(field, ""),
                             align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.setSortingEnabled(True)
        self._fit.refit()
        self.rows = len(rows)
        self._note_painted()

    @staticmethod
    def _format(field: str, value: float) -> str:
        if not np.isfinite(value):
            return "–"
        if field == "last":
            return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
        if field == "z_1d":
            return f"{value:+.1f}"
        if field == "rv30_pct":
            return f"{value:.1f}"
        return f"{value:+.2f}"

    @staticmethod
    def _color(field: str, value: float) -> str:
        if not np.isfinite(value) or field in ("last", "rv30_pct"):
            return theme.FOREGROUND
        if field == "z_1d" and abs(value) >= 2:
            return theme.WARNING
        return theme.UP if value >= 0 else theme.DOWN

    def has_data(self) -> bool:
        return self.rows > 0

    # -- export (docs/export.md) --------------------------------------------------------------
    def plotted_series(self) -> list:
        """The table in the order it is shown (a clicked header sorts it)."""
        from models.export_view import movers_series

        if not self._shown_rows:
            return []
        names = {short_name(stem): stem for stem in self._shown_rows}
        order = [names[self.table.item(r, 0).text()] for r in range(self.table.rowCount())
                 if self.table.item(r, 0) is not None and self.table.item(r, 0).text() in names]
        return [movers_series(self._shown_rows, order,
                              self.ctx.feeds.shared_params("movers")["drawdown"])]

    def plotted_x_range(self) -> None:
        return None
