"""Table cells written in place: a refill updates the items a table already holds instead of
replacing them. Replacing a coloured `QTableWidgetItem` keeps 1 to 3 references to `None` under
PySide 6.11 (never given back; the soak counts them), and the funding and movers tables refill
with every recompute of their feeds (a mark price moves every second)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem


def put_cell(table: QTableWidget, row: int, col: int, text: str, *,
             item_type: type[QTableWidgetItem] = QTableWidgetItem, value: Any = None,
             color: str | None = None, tooltip: str | None = None,
             align: Qt.AlignmentFlag | None = None) -> QTableWidgetItem:
    """Cell (row, col) shows `text` (and sorts by `value`, in the user role), in `color`, with
    `tooltip`; the item there is reused when it is of `item_type`. Call with sorting off: with
    it on, a changed cell moves its row at once."""
    item = table.item(row, col)
    if item is None or type(item) is not item_type:
        item = item_type(text)
        table.setItem(row, col, item)
    elif item.text() != text:
        item.setText(text)
    if value is not None and item.data(Qt.ItemDataRole.UserRole) != value:
        item.setData(Qt.ItemDataRole.UserRole, value)
    if color is not None and item.foreground().color() != QColor(color):
        item.setForeground(QColor(color))
    if tooltip is not None and item.toolTip() != tooltip:
        item.setToolTip(tooltip)
    if align is not None and item.textAlignment() != int(align):
        item.setTextAlignment(align)
    return item


def select_row_quietly(table: QTableWidget, row: int) -> None:
    """Select `row` (none when negative) without the table's selection signals: a refill that
    puts the model's selection back is not the trader choosing a row."""
    table.blockSignals(True)
    try:
        if row < 0:
            table.clearSelection()
        else:
            table.selectRow(row)
    finally:
        table.blockSignals(False)
