"""Table columns as wide as their headers need, the rest shared out.

Stretched columns are all equally wide, so in a half-width dock a long header is cut ("om 52w
high", "lext fundin") while short ones have room to spare. Here each column gets at least what
its header needs (text, margins, the sort arrow), then what its cells need, then an equal share
of what is left.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QHeaderView, QTableWidget


def column_widths(needs: Sequence[int], floors: Sequence[int], width: int) -> list[int]:
    """Widths for columns wanting `needs` (header and cells) that must not go below `floors`
    (the header), in `width` pixels: the spare shared equally when all fit; else every column
    gets its floor and the rest is shared in proportion to what each still wants; the floors
    alone when even they do not fit (the table scrolls)."""
    count = len(needs)
    if not count:
        return []
    needs = [max(n, f) for n, f in zip(needs, floors, strict=True)]
    spare = width - sum(needs)
    if spare >= 0:
        widths = [n + spare // count for n in needs]
        widths[-1] += spare - (spare // count) * count
        return widths
    room = width - sum(floors)
    if room <= 0:
        return list(floors)
    wants = [n - f for n, f in zip(needs, floors, strict=True)]
    total = sum(wants)
    return [f + (w * room) // total for f, w in zip(floors, wants, strict=True)]


class FitColumns(QObject):
    """Keeps a table's columns fitted (`column_widths`) as it is resized; call `refit()` after
    filling it."""

    def __init__(self, table: QTableWidget) -> None:
        super().__init__(table)
        self.table = table
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        # The viewport, not the table: a vertical scroll bar coming narrows only the viewport.
        self._viewport = table.viewport()
        self._viewport.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Compared without asking the table: events still reach the viewport while the table
        # is being destroyed.
        if event.type() == QEvent.Type.Resize and watched is self._viewport:
            self.refit()
        return super().eventFilter(watched, event)

    def refit(self) -> None:
        table = self.table
        header = table.horizontalHeader()
        columns = range(table.columnCount())
        floors = header_floors(header)
        needs = [table.sizeHintForColumn(c) for c in columns]
        for col, width in enumerate(column_widths(needs, floors, table.viewport().width())):
            header.resizeSection(col, width)


def header_floors(header: QHeaderView) -> list[int]:
    """What each header needs: Qt's hint, which counts room for the sort arrow in every column,
    that room only where the arrow is (it cost 29 px a column: 8 headers no longer fit 620)."""
    columns = range(header.count())
    if not header.isSortIndicatorShown():
        return [header.sectionSizeHint(c) for c in columns]
    with_arrow = [header.sectionSizeHint(c) for c in columns]
    header.setSortIndicatorShown(False)
    plain = [header.sectionSizeHint(c) for c in columns]
    header.setSortIndicatorShown(True)
    sorted_column = header.sortIndicatorSection()
    return [with_arrow[c] if c == sorted_column else plain[c] for c in columns]
