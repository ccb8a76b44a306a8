"""Drawings: every drawing of every asset in one table, to find, select, edit and delete them.

It reads and edits only `ctx.drawings` (the window's `DrawingBook`): selecting a row selects the
drawing on the price chart and back, since the selection lives in the book.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.assets import short_name
from models.drawings import BOX, KIND_NAMES, LEVEL, Drawing, box_numbers
from ui import drawing_dialogs, theme
from ui.charts.axis_format import tick_labels
from ui.panels.base import Panel, UiContext, debounced
from ui.table_cells import select_row_quietly
from ui.table_fit import FitColumns
from ui.time_display import format_time, on_zone_changed, zone_label

COLUMNS = ("Asset", "Kind", "Label", "Where (UTC)")


def price_text(price: float) -> str:
    """A drawing's price as the axes write it, to five significant digits: "67.25k",
    "79.723k", "2,000.5"."""
    step = 10.0 ** (math.floor(math.log10(price)) - 4) if price > 0 else 0.01
    return tick_labels([price], step)[0]


def where_text(drawing: Drawing) -> str:
    """Its price(s) and time(s) in the display zone: "67.25k",
    "60k 2026-02-02 14:00 → 66k 2026-02-03 14:00"."""
    def at(point: tuple[float, float]) -> str:
        return f"{price_text(point[1])} {format_time(int(point[0] * 1000), '%Y-%m-%d %H:%M')}"

    if drawing.kind == LEVEL:
        return price_text(drawing.points[0][1])
    return " → ".join(at(p) for p in drawing.points)


def tooltip_text(drawing: Drawing) -> str:
    """The row's full story on hover: a box adds its change and duration."""
    text = where_text(drawing)
    if drawing.kind == BOX:
        text += f"\n{box_numbers(drawing.points).text()}"
    return f"{KIND_NAMES[drawing.kind]} on {short_name(drawing.asset)}" + \
        (f": {drawing.label}" if drawing.label else "") + f"\n{text}"


class DrawingsPanel(Panel):
    key = "drawings"
    title = "Drawings"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.book = ctx.drawings
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("drawingsTable")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)  # one line a drawing; the full text is its tooltip
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.table.cellDoubleClicked.connect(lambda _r, _c: self._edit_label())
        self._fit = FitColumns(self.table)
        self.empty = QLabel("No drawings yet: pick a tool under Draw in the price chart's tool "
                            "row, then click on a chart.")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(f"color: {theme.MUTED};")
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for name, text, slot in (("delete", "Delete", self._delete),
                                 ("color", "Colour…", self._edit_color),
                                 ("label", "Label…", self._edit_label),
                                 ("undo", "Undo", self.book.undo),
                                 ("redo", "Redo", self.book.redo)):
            button = QPushButton(text)
            button.setObjectName(f"drawings_{name}")
            button.clicked.connect(lambda _=False, s=slot: s())
            buttons.addWidget(button)
            self.buttons[name] = button
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.demo_badge, 0, Qt.AlignmentFlag.AlignRight)
        self.hide_freshness()  # no series of its own
        self._ids: list[str] = []
        self._refill_soon = debounced(self, 0, self.refill)
        self.book.add_listener(self._refill_soon)
        self.book.add_selection_listener(self._show_selection)
        on_zone_changed(self.refill)
        self.refill()

    def has_data(self) -> bool:
        return True  # an empty list is what there is to show

    def shutdown(self) -> None:
        self.book.remove_listener(self._refill_soon)
        self.book.remove_selection_listener(self._show_selection)
        super().shutdown()

    # -- the table ----------------------------------------------------------------------------
    def refill(self) -> None:
        drawings = list(self.book)
        self._ids = [d.id for d in drawings]
        self.table.setHorizontalHeaderLabels(
            [c.replace("(UTC)", f"({zone_label()})") for c in COLUMNS])
        self.table.blockSignals(True)
        self.table.setRowCount(len(drawings))
        for row, drawing in enumerate(drawings):
            color = drawing.color or theme.SECONDARY
            cells = (short_name(drawing.asset), KIND_NAMES[drawing.kind], drawing.label,
                     where_text(drawing))
            tip = tooltip_text(drawing)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                if col == 1:
                    item.setForeground(QColor(color))
                self.table.setItem(row, col, item)
        self.table.blockSignals(False)
        self.empty.setVisible(not drawings)
        self._fit.refit()
        self._show_selection()
        self._note_painted()

    def selected_row(self) -> int:
        return self._ids.index(self.book.selected) if self.book.selected in self._ids else -1

    def _show_selection(self) -> None:
        row = self.selected_row()
        select_row_quietly(self.table, row)
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.book.get(self.book.selected) is not None
        for name in ("delete", "color", "label"):
            self.buttons[name].setEnabled(chosen)
        self.buttons["undo"].setEnabled(self.book.can_undo)
        self.buttons["redo"].setEnabled(self.book.can_redo)
        self.buttons["undo"].setToolTip(f"Undo {self.book.undo_name()}"
                                        if self.book.can_undo else "Nothing to undo")
        self.buttons["redo"].setToolTip(f"Redo {self.book.redo_name()}"
                                        if self.book.can_redo else "Nothing to redo")

    def _on_row_selected(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        row = min(rows) if rows else -1
        self.book.select(self._ids[row] if 0 <= row < len(self._ids) else None)

    # -- actions ------------------------------------------------------------------------------
    def _delete(self) -> None:
        if self.book.get(self.book.selected) is not None:
            self.book.delete(self.book.selected)

    def _edit_color(self) -> None:
        if self.book.selected:
            drawing_dialogs.edit_color(self.book, self.book.selected, self)

    def _edit_label(self) -> None:
        if self.book.selected:
            drawing_dialogs.edit_label(self.book, self.book.selected, self)
