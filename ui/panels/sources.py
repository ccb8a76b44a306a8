"""Sources: every series the window keeps fresh, with its venue, freshness and last error.

The status bar summarises per venue; this table is where a trader looks to see exactly which
series is stale, why, and when Rotor will try again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.catalog import find_spec, source_label
from models.status import STATE_TEXT, SourceState
from ui import theme
from ui.panels.base import Panel, UiContext, debounced
from ui.status_bar import source_line_html, source_lines
from ui.time_display import format_time, on_zone_changed, zone_label

COLUMNS = ("Series", "Venue", "State", "Last row (UTC)", "Updated (UTC)", "Next retry (UTC)",
           "Last error")


def _state_color(state: SourceState) -> str:
    return {SourceState.OK: theme.OK, SourceState.DEMO: theme.WARNING,
            SourceState.STALE: theme.WARNING, SourceState.ERROR: theme.ERROR,
            }.get(state, theme.FOREGROUND)


def _stamp(ms: int | None, with_date: bool = True) -> str:
    if ms is None:
        return "–"
    fmt = "%Y-%m-%d %H:%M" if with_date else "%H:%M:%S"
    return format_time(ms, fmt)


class SourcesPanel(Panel):
    key = "sources"
    title = "Sources"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSortingEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        # One line per source, as the status bar's chips (collapsed there when space is short).
        self.by_source = QLabel()
        self.by_source.setObjectName("sourcesBySource")
        self.by_source.setTextFormat(Qt.TextFormat.RichText)
        self.by_source.setWordWrap(True)  # wraps in a narrow dock (a box layout does the height)
        layout.addWidget(self.by_source)
        layout.addWidget(self.table)
        # This dock is the freshness of every series: no footer line, only the demo badge.
        self.hide_freshness()  # no series of its own
        layout.addWidget(self.demo_badge, 0, Qt.AlignmentFlag.AlignRight)
        self._rows: dict[str, int] = {}
        # A start-up publishes ~100 statuses in a burst; with resize-to-contents every cell
        # edit re-measured the whole table (0.2 s of GUI time), so edits are applied in batches.
        self._pending: dict[str, None] = dict.fromkeys(ctx.store.statuses())
        self._flush_soon = debounced(self, 0, self.flush)
        ctx.store.statusChanged.connect(self._on_status)
        on_zone_changed(self._show_zone)
        self._show_zone()

    def has_data(self) -> bool:
        return bool(self._rows)

    def _show_zone(self) -> None:
        """Headers name the display zone (File → Settings); every row is re-stamped in it."""
        self.table.setHorizontalHeaderLabels(
            [c.replace("(UTC)", f"({zone_label()})") for c in COLUMNS])
        self._pending.update(dict.fromkeys(self._rows))
        self.flush()

    @Slot(str)
    def _on_status(self, series_id: str) -> None:
        self._pending[series_id] = None
        self._flush_soon()

    def flush(self) -> None:
        """Apply the status changes received since the last flush, in one table update."""
        pending, self._pending = self._pending, {}
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for series_id in pending:
            self._update_row(series_id)
        lines = source_lines(self.ctx.store.statuses().values())
        self.by_source.setText(" &nbsp;·&nbsp; ".join(
            source_line_html(name, state, text) for name, (state, text) in lines.items()))
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self._note_painted()

    def _update_row(self, series_id: str) -> None:
        status = self.ctx.store.status(series_id)
        if status is None:
            return
        row = self._rows.get(series_id)
        if row is None:
            row = self.table.rowCount()
            self.table.insertRow(row)
            self._rows[series_id] = row
        spec = find_spec(series_id)
        venue = status.venue if status.venue and status.venue != "demo" else (
            spec.source if spec else "")
        values = (
            spec.label if spec else series_id,
            "demo (synthetic)" if status.state == SourceState.DEMO else source_label(venue),
            STATE_TEXT[status.state],
            _stamp(status.data_last_ms),
            _stamp(status.last_good_ms, with_date=False),
            _stamp(status.next_retry_ms, with_date=False),
            status.last_error or (f"rows refused: {status.dropped}" if status.dropped
                                  else status.note),
        )
        for col, value in enumerate(values):
            item = self.table.item(row, col)
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(row, col, item)
            if item.text() != value:
                item.setText(value)
            if col == 0:
                item.setToolTip(series_id)
                item.setData(Qt.ItemDataRole.UserRole, series_id)
            if col == 2:
                item.setForeground(QColor(_state_color(status.state)))
            if col == 6:
                item.setToolTip(status.last_error or status.dropped)

    def shutdown(self) -> None:
        self.ctx.store.statusChanged.disconnect(self._on_status)
