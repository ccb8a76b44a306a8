"""A table of alert firings (the alert log dock, the rule editor's back-test list): one row a
firing, newest or oldest first as handed, a click jumps the charts to its moment."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from models.alerts import Firing
from ui.table_fit import FitColumns
from ui.time_display import format_time, on_zone_changed, zone_label

TIME_FORMAT = "%Y-%m-%d %H:%M"
#: column -> what it shows; the "(UTC)" of a header follows the display zone
COLUMNS = {
    "true_since": "Became true (UTC)",
    "fired": "Fired (UTC)",
    "noticed": "Noticed (UTC)",
    "rule": "Rule",
    "summary": "Summary",
}


#: what the text columns ask for at most when the table is fitted: the times are read first,
#: a long summary is cut (its whole text is the row's tooltip)
TEXT_WANT_PX = {"rule": 120, "summary": 180}


def cell_text(firing: Firing, column: str) -> str:
    if column == "true_since":
        return format_time(firing.true_since_ms, TIME_FORMAT)
    if column == "fired":
        return format_time(firing.fired_ms, TIME_FORMAT)
    if column == "noticed":
        return format_time(firing.noticed_ms, TIME_FORMAT, "back-test")
    if column == "rule":
        return firing.rule_name
    return firing.summary


def firing_tooltip(firing: Firing) -> str:
    lines = [firing.rule_name, firing.summary, "",
             f"Condition true since {format_time(firing.true_since_ms, TIME_FORMAT)} "
             f"{zone_label()}",
             f"Fired {format_time(firing.fired_ms, TIME_FORMAT)} {zone_label()}"]
    if firing.noticed_ms is not None:
        lines.append(f"Noticed {format_time(firing.noticed_ms, TIME_FORMAT)} {zone_label()} "
                     "(wall clock)")
    lines += [f"{name} = {value:,.6g}" for name, value in firing.values.items()]
    lines += ["", "Click: show this moment on the charts (Became true: when the condition "
              "became true; elsewhere: when it fired)"]
    return "\n".join(lines)


def jump_ms(firing: Firing, column: str) -> int:
    """The moment a click on `column` shows: when it became true, or when it fired."""
    return firing.true_since_ms if column == "true_since" else firing.fired_ms


class FiringTable(QTableWidget):
    def __init__(self, columns: Sequence[str], on_jump: Callable[[int], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(0, len(columns), parent)
        self.columns = tuple(columns)
        self._on_jump = on_jump
        self._firings: list[Firing] = []
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)  # one line a firing; the whole story is the tooltip
        self.cellClicked.connect(self._on_clicked)
        self._fit = FitColumns(self)
        self.set_headers()
        on_zone_changed(self.refresh)  # times and headers follow the display zone

    def set_headers(self) -> None:
        self.setHorizontalHeaderLabels(
            [COLUMNS[c].replace("(UTC)", f"({zone_label()})") for c in self.columns])

    def set_firings(self, firings: Sequence[Firing]) -> None:
        self._firings = list(firings)
        self.set_headers()
        self.setRowCount(len(self._firings))
        for row, firing in enumerate(self._firings):
            tip = firing_tooltip(firing)
            for col, column in enumerate(self.columns):
                item = QTableWidgetItem(cell_text(firing, column))
                item.setToolTip(tip)
                if column in ("true_since", "fired", "noticed"):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter |
                                          Qt.AlignmentFlag.AlignLeft)
                self.setItem(row, col, item)
        self._fit.refit()

    def refresh(self) -> None:
        self.set_firings(self._firings)

    def sizeHintForColumn(self, column: int) -> int:
        """What `FitColumns` fits a column to: its text's width when every column fits; when
        they do not, the text columns ask for at most `TEXT_WANT_PX`, so the times are whole."""
        wanted = super().sizeHintForColumn(column)
        cap = TEXT_WANT_PX.get(self.columns[column]) if 0 <= column < len(self.columns) else None
        if cap is None or wanted <= cap:
            return wanted
        total = sum(super(FiringTable, self).sizeHintForColumn(c)
                    for c in range(self.columnCount()))
        return wanted if total <= self.viewport().width() else cap

    def firings(self) -> list[Firing]:
        return list(self._firings)

    def _on_clicked(self, row: int, col: int) -> None:
        if 0 <= row < len(self._firings):
            self._on_jump(jump_ms(self._firings[row], self.columns[col]))
