"""Alert rules: the workspace's rules, to switch on and off, edit, add from the shipped examples
and back-test on the cached history.

The list's check boxes enable a rule at once. The editor holds a draft of the selected rule: a
form for the common conditions (one comparison of a series or derived column with a value or
another column, change over a window) and the rule's JSON for everything else (docs/alerts.md).
Both are checked as they are typed (`models.alerts.validate_rule_json`); Save stays disabled
while the draft has a problem, and the problem is shown in words. A draft survives switching to
another rule until it is saved or reverted.

Back-test runs `models.alerts.backtest` for the draft (or the saved rule) on a worker over the
cache: its firings are listed (a click shows the moment on the charts) and marked on the price
chart (ui/alerts.py `AlertEngine.set_backtest`). The dock reads and edits only `ctx.alerts`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.alerts import (
    Rule,
    RuleError,
    backtest,
    rule_from_json,
    rule_operands,
    rule_to_json,
    validate_rule_json,
)
from ui import theme
from ui.alert_form import RuleForm
from ui.alert_table import FiringTable
from ui.panels.base import Panel, UiContext, debounced, elastic
from ui.table_cells import select_row_quietly
from ui.table_fit import FitColumns
from ui.time_display import format_time, zone_label

BACKTEST_COLUMNS = ("true_since", "fired", "summary")  # one rule's: no rule column
RULE_COLUMNS = ("Rule", "Reads")
#: problems listed under the editor (the rest are counted)
SHOWN_PROBLEMS = 4
#: below this height the rules list sits beside the editor, this wide
SIDE_BY_SIDE_BELOW_PX = 480
LIST_WIDTH_PX = 260


def json_problems(text: str) -> tuple[Any, list[str]]:
    """The draft's JSON and what is wrong with it, in words ([] when it can be saved)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return None, [f"not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}"]
    return obj, validate_rule_json(obj)


def rule_text(rule: Rule) -> str:
    return json.dumps(rule_to_json(rule), indent=2, ensure_ascii=False)


def unique_id(wanted: str, taken: set[str]) -> str:
    """`wanted`, or `wanted-2`, `wanted-3` … when a rule of the book has it already."""
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


class _RuleTable(QTableWidget):
    """The rules list: the names are read first, what a rule reads is cut when space is short
    (its tooltip has it all)."""

    READS_WANT_PX = 100

    def sizeHintForColumn(self, column: int) -> int:
        wanted = super().sizeHintForColumn(column)
        return min(wanted, self.READS_WANT_PX) if column == 1 else wanted


class AlertRulesPanel(Panel):
    key = "alert_rules"
    title = "Alert rules"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.engine = ctx.alerts
        self.book = self.engine.book if self.engine is not None else None
        self._ids: list[str] = []
        self._selected: str | None = None
        self._drafts: dict[str, str] = {}  # rule id -> unsaved JSON text
        self._examples: list[Rule] = []
        self._filling = False
        self._from_form = False

        # -- the buttons
        buttons = QHBoxLayout()
        self.new_button = QPushButton("New")
        self.new_button.setObjectName("alertRulesNew")
        self.new_button.setToolTip("A new rule (switched off): BTC's hourly close crossing a "
                                   "round number near its last close; edit it in the form")
        self.new_button.clicked.connect(self.new_rule)
        self.add_button = QToolButton(text="Add example")
        self.add_button.setObjectName("alertRulesAdd")
        self.add_button.setToolTip("Add one of the shipped example rules (it starts switched "
                                   "off: back-test it, then tick it)")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self)
        self.add_button.setMenu(self.add_menu)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("alertRulesDelete")
        self.delete_button.clicked.connect(self._delete)
        self.backtest_button = QPushButton("Back-test")
        self.backtest_button.setObjectName("alertRulesBacktest")
        self.backtest_button.setToolTip("When would this rule have fired? Runs it over the "
                                        "cached history; the firings are listed and starred "
                                        "on the price chart")
        self.backtest_button.clicked.connect(self.run_backtest)
        for button in (self.new_button, self.add_button, self.delete_button,
                       self.backtest_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        # -- the rules
        self.table = _RuleTable(0, len(RULE_COLUMNS))
        self.table.setObjectName("alertRulesTable")
        self.table.setHorizontalHeaderLabels(list(RULE_COLUMNS))
        self.table.horizontalHeaderItem(0).setToolTip("Ticked: on watch (evaluated on every "
                                                      "new row of its inputs)")
        self.table.horizontalHeaderItem(1).setToolTip("The series and derived quantities the "
                                                      "rule reads")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.table.itemChanged.connect(self._on_item_changed)
        # an unticked box must show on the dark theme too (the window's sheet styles only
        # QCheckBox's indicator)
        self.table.setStyleSheet(
            f"QTableView::indicator {{ width: 10px; height: 10px; border: 1px solid "
            f"{theme.MUTED}; border-radius: 2px; background: {theme.BACKGROUND}; }}"
            f"QTableView::indicator:checked {{ background: {theme.ACCENT}; "
            f"border-color: {theme.ACCENT}; }}")
        self._fit = FitColumns(self.table)
        self.empty = QLabel("No rules in this workspace: add a shipped example with "
                            "“Add example”, then edit it.")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(f"color: {theme.MUTED};")

        # -- the editor: JSON (the form joins it when the schema allows, see _build_form)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("alertRuleJson")
        self.editor.setFont(QFont("monospace", 9))
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setPlaceholderText("Select a rule to edit its JSON")
        self.editor.textChanged.connect(self._on_text_changed)
        self.problems = QLabel("")
        self.problems.setObjectName("alertRuleProblems")
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("alertRuleSave")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setObjectName("alertRuleRevert")
        self.revert_button.setToolTip("Forget the unsaved edits of this rule")
        self.revert_button.clicked.connect(self._revert)
        save_row = QHBoxLayout()
        save_row.addWidget(self.problems, 1)
        save_row.addWidget(self.revert_button, 0, Qt.AlignmentFlag.AlignTop)
        save_row.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignTop)
        json_page = QWidget()
        json_layout = QVBoxLayout(json_page)
        json_layout.setContentsMargins(0, 0, 0, 0)
        json_layout.addWidget(self.editor, 1)

        # -- back-test results
        self.backtest_table = FiringTable(BACKTEST_COLUMNS, self._jump)
        self.backtest_table.setObjectName("alertBacktestTable")
        self.backtest_note = elastic(QLabel("Back-test a rule to see when it would have fired."))
        self.backtest_note.setWordWrap(True)
        self.backtest_note.setStyleSheet(f"color: {theme.MUTED};")
        self.clear_button = QPushButton("Clear stars")
        self.clear_button.setObjectName("alertBacktestClear")
        self.clear_button.setToolTip("Take the back-test's stars off the price chart")
        self.clear_button.setEnabled(False)
        self.clear_button.clicked.connect(self.clear_backtest)
        note_row = QHBoxLayout()
        note_row.addWidget(self.backtest_note, 1)
        note_row.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignTop)
        backtest_page = QWidget()
        backtest_layout = QVBoxLayout(backtest_page)
        backtest_layout.setContentsMargins(0, 0, 0, 0)
        backtest_layout.addLayout(note_row)
        backtest_layout.addWidget(self.backtest_table, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("alertRuleTabs")
        self.form = self._build_form()
        self.tabs.addTab(self.form, "Form")
        self.tabs.addTab(json_page, "JSON")
        self.tabs.addTab(backtest_page, "Back-test")
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.tabs, 1)
        lower_layout.addLayout(save_row)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.empty)
        upper_layout.addWidget(self.table, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self._list_sized_by_hand = False
        self.splitter.splitterMoved.connect(self._on_splitter_moved)
        # short tables and editor may scroll: the dock shares its tab group's height (a laptop)
        for scrolled in (self.table, self.editor, self.form, self.backtest_table):
            scrolled.setMinimumHeight(3 * self.fontMetrics().height())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.demo_badge, 0, Qt.AlignmentFlag.AlignRight)
        self.hide_freshness()  # no series of its own

        self._refill_soon = debounced(self, 0, self.refill)
        if self.book is not None:
            self.book.add_listener(self._refill_soon)
        self._load_examples()
        self.refill()

    def _build_form(self) -> RuleForm:
        form = RuleForm()
        form.setObjectName("alertRuleForm")
        form.edited.connect(self._on_form_edited)
        return form

    def _on_form_edited(self, obj: dict[str, Any]) -> None:
        """The form changed a field: the JSON follows (and is checked); the form is not
        reloaded from it, so the field being typed in keeps its cursor."""
        self._from_form = True
        try:
            self.editor.setPlainText(json.dumps(obj, indent=2, ensure_ascii=False))
        finally:
            self._from_form = False

    def has_data(self) -> bool:
        return True  # an empty list is what there is to show

    def resizeEvent(self, event: QResizeEvent) -> None:
        """A short, wide dock (its default place, tabbed under the funding dock on a laptop)
        puts the list beside the editor; a tall one puts it above."""
        super().resizeEvent(event)
        beside = self.height() < SIDE_BY_SIDE_BELOW_PX and self.width() >= 2 * LIST_WIDTH_PX
        orientation = Qt.Orientation.Horizontal if beside else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
        self._size_list()

    def shutdown(self) -> None:
        if self.book is not None:
            self.book.remove_listener(self._refill_soon)
        super().shutdown()

    # -- the list -------------------------------------------------------------------------------
    def rules(self) -> list[Rule]:
        return list(self.book.rules) if self.book is not None else []

    def refill(self) -> None:
        rules = self.rules()
        self._ids = [r.id for r in rules]
        self._drafts = {i: t for i, t in self._drafts.items() if i in self._ids}
        self._filling = True
        self.table.blockSignals(True)
        self.table.setRowCount(len(rules))
        for row, rule in enumerate(rules):
            name_item = QTableWidgetItem(rule.name + (" •" if rule.id in self._drafts else ""))
            name_item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled |
                               Qt.ItemFlag.ItemIsSelectable)
            name_item.setCheckState(Qt.CheckState.Checked if rule.enabled
                                    else Qt.CheckState.Unchecked)
            name_item.setToolTip(
                f"{rule.name} ({rule.id}): " + ("on watch, evaluated on every new row of its "
                                               "inputs" if rule.enabled else "switched off") +
                ("\nunsaved edits in the editor" if rule.id in self._drafts else ""))
            reads = ", ".join(sorted({op.id for op in rule_operands(rule)}))
            reads_item = QTableWidgetItem(reads)
            reads_item.setToolTip(reads)
            self.table.setItem(row, 0, name_item)
            self.table.setItem(row, 1, reads_item)
        self.table.blockSignals(False)
        self._filling = False
        self.empty.setVisible(not rules)
        self._fit.refit()
        self._size_list()
        if self._selected not in self._ids:
            self._selected = self._ids[0] if self._ids else None
        self._show_selection()
        self._note_painted()

    def _on_splitter_moved(self, *_args: object) -> None:
        self._list_sized_by_hand = True

    def _size_list(self) -> None:
        """Above the editor, the list is as tall as its rules (up to 40 % of the dock); beside
        it, `LIST_WIDTH_PX` wide; until the trader drags the splitter."""
        if self._list_sized_by_hand:
            return
        total = sum(self.splitter.sizes())
        if total <= 0:
            return
        if self.splitter.orientation() == Qt.Orientation.Horizontal:
            self.splitter.setSizes([LIST_WIDTH_PX, max(0, total - LIST_WIDTH_PX)])
            return
        rows = max(1, self.table.rowCount())
        wanted = (self.table.horizontalHeader().height() + 2 * self.table.frameWidth() + 4 +
                  sum(self.table.rowHeight(r) for r in range(rows)) +
                  (self.empty.sizeHint().height() if self.empty.isVisible() else 0))
        upper = max(self.splitter.widget(0).minimumSizeHint().height(),
                    min(wanted, int(total * 0.4)))
        self.splitter.setSizes([upper, total - upper])

    def _show_selection(self) -> None:
        row = self._ids.index(self._selected) if self._selected in self._ids else -1
        select_row_quietly(self.table, row)
        self._load_editor()

    def _on_row_selected(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        row = min(rows) if rows else -1
        chosen = self._ids[row] if 0 <= row < len(self._ids) else None
        if chosen != self._selected:
            self._selected = chosen
            self._load_editor()

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0 or self.book is None:
            return
        rule = self.rule(self._ids[item.row()])
        on = item.checkState() == Qt.CheckState.Checked
        if rule is not None and rule.enabled != on:
            self.book.set_rule(dataclasses.replace(rule, enabled=on))

    def rule(self, rule_id: str | None) -> Rule | None:
        return next((r for r in self.rules() if r.id == rule_id), None)

    def select(self, rule_id: str) -> None:
        self._selected = rule_id
        self._show_selection()

    # -- adding and deleting ----------------------------------------------------------------------
    def _load_examples(self) -> None:
        """The shipped example rules, read on a worker (they are package files)."""
        from services.alerts_files import shipped_rules

        self.add_button.setEnabled(False)
        self.ctx.scheduler.run("alerts:examples", shipped_rules, on_result=self._on_examples,
                               on_error=self._on_examples_failed)

    def _on_examples(self, rules: list[Rule]) -> None:
        self._examples = list(rules)
        self.add_menu.clear()
        for rule in self._examples:
            action = self.add_menu.addAction(rule.name)
            action.triggered.connect(lambda _=False, r=rule: self.add_rule(r))
        self.add_button.setEnabled(bool(self._examples) and self.book is not None)

    def _on_examples_failed(self, exc: Exception) -> None:
        self.add_button.setToolTip(f"The shipped example rules could not be read: {exc}")

    def add_rule(self, rule: Rule) -> Rule:
        """A copy of `rule` in the book, switched off, under an id no other rule has."""
        assert self.book is not None
        taken = set(self._ids)
        names = {r.name for r in self.rules()}
        name = rule.name
        n = 2
        while name in names:  # a second copy is told apart in the list
            name = f"{rule.name} ({n})"
            n += 1
        added = dataclasses.replace(rule, id=unique_id(rule.id, taken), name=name,
                                    enabled=False)
        self.book.set_rule(added)
        self._selected = added.id
        self.refill()
        return added

    def new_rule(self) -> Rule:
        """BTC's hourly close crossing the round number above its last close (switched off)."""
        btc = self.ctx.store.series("btc.1h")
        last = float(btc["close"][-1]) if btc is not None and len(btc) else 70_000.0
        level = (int(last // 1000) + 1) * 1000
        return self.add_rule(rule_from_json({
            "id": "rule", "name": f"BTC crosses above {level:,}",
            "when": {"type": "cross_above", "operand": {"series": "btc.1h", "column": "close"},
                     "value": level}}))

    def _delete(self) -> None:
        rule = self.rule(self._selected)
        if self.book is None or rule is None:
            return
        answer = QMessageBox.question(self, "Delete rule", f"Delete the rule “{rule.name}”? "
                                      "It cannot be undone (a shipped example can be added "
                                      "again).")
        if answer == QMessageBox.StandardButton.Yes:
            self._drafts.pop(rule.id, None)
            self.book.remove(rule.id)

    # -- the editor ---------------------------------------------------------------------------
    def _load_editor(self) -> None:
        rule = self.rule(self._selected)
        self.editor.blockSignals(True)
        if rule is None:
            self.editor.setPlainText("")
        else:
            self.editor.setPlainText(self._drafts.get(rule.id, rule_text(rule)))
        self.editor.blockSignals(False)
        self.editor.setEnabled(rule is not None)
        self._check()
        self.form.load(json_problems(self.editor.toPlainText())[0] if rule else None)

    def _on_text_changed(self) -> None:
        rule = self.rule(self._selected)
        if rule is None:
            return
        text = self.editor.toPlainText()
        had = rule.id in self._drafts
        if text == rule_text(rule):
            self._drafts.pop(rule.id, None)
        else:
            self._drafts[rule.id] = text
        if had != (rule.id in self._drafts):
            self._mark_draft(rule.id)
        self._check()
        if not self._from_form:
            self.form.load(json_problems(text)[0])

    def _mark_draft(self, rule_id: str) -> None:
        """The list's "•" for unsaved edits, without refilling (the editor keeps its cursor)."""
        rule = self.rule(rule_id)
        if rule is None or rule_id not in self._ids:
            return
        item = self.table.item(self._ids.index(rule_id), 0)
        if item is not None:
            self._filling = True
            item.setText(rule.name + (" •" if rule_id in self._drafts else ""))
            self._filling = False

    def draft_problems(self) -> tuple[Any, list[str]]:
        """The editor's rule JSON and its problems; a new id must not be another rule's."""
        obj, problems = json_problems(self.editor.toPlainText())
        if not problems and isinstance(obj, dict):
            new_id = obj.get("id")
            if new_id != self._selected and new_id in self._ids:
                problems = [f"another rule has the id {new_id!r}: choose another"]
        return obj, problems

    def _check(self) -> None:
        rule = self.rule(self._selected)
        dirty = rule is not None and rule.id in self._drafts
        if rule is None:
            problems: list[str] = []
            self.problems.setText("")
        else:
            _obj, problems = self.draft_problems()
            if problems:
                shown = problems[:SHOWN_PROBLEMS]
                more = len(problems) - len(shown)
                self.problems.setText("Cannot save: " + "; ".join(shown) +
                                      (f" (and {more} more)" if more else ""))
                self.problems.setStyleSheet(f"color: {theme.ERROR};")
            else:
                self.problems.setText("Unsaved edits: the rule is valid." if dirty
                                      else "Saved.")
                self.problems.setStyleSheet(f"color: {theme.MUTED};")
        self.save_button.setEnabled(dirty and not problems)
        self.save_button.setToolTip(
            "Nothing to save" if not dirty else
            ("Fix the problems first: " + problems[0]) if problems else
            "Save this rule in the workspace")
        self.revert_button.setEnabled(dirty)
        self.delete_button.setEnabled(rule is not None)
        self.backtest_button.setEnabled(rule is not None and not problems)

    def save(self) -> bool:
        """Put the draft into the book (it is saved with the workspace); False when it has a
        problem (the button is disabled then)."""
        rule = self.rule(self._selected)
        obj, problems = self.draft_problems()
        if rule is None or problems or self.book is None:
            return False
        try:
            new = rule_from_json(obj)
        except RuleError as e:  # validate_rule_json found nothing: should not happen
            self.problems.setText(f"Cannot save: {e}")
            return False
        self._drafts.pop(rule.id, None)
        if new.id != rule.id:
            self.book.remove(rule.id)
        self.book.set_rule(new)
        self._selected = new.id
        self.refill()
        return True

    def _revert(self) -> None:
        if self._selected is not None:
            self._drafts.pop(self._selected, None)
            self._mark_draft(self._selected)
            self._load_editor()

    # -- back-test --------------------------------------------------------------------------------
    def draft_rule(self) -> Rule | None:
        """The rule as the editor has it (the draft when it is valid)."""
        obj, problems = self.draft_problems()
        if problems:
            return None
        try:
            return rule_from_json(obj)
        except RuleError:
            return None

    def run_backtest(self) -> None:
        rule = self.draft_rule()
        services = self.ctx.scheduler.services
        if rule is None:
            return
        if services is None:
            self.backtest_note.setText("The cache is not open yet: try again in a moment.")
            self.tabs.setCurrentIndex(self.tabs.count() - 1)
            return
        self.backtest_button.setEnabled(False)
        self.backtest_note.setText(f"Back-testing {rule.name} over the cached history…")
        self.tabs.setCurrentIndex(self.tabs.count() - 1)
        test_rule = dataclasses.replace(rule, enabled=True)
        self.ctx.scheduler.run("alerts:backtest", backtest, [test_rule], services.cache,
                               on_result=lambda firings, r=rule: self._on_backtest(r, firings),
                               on_error=lambda exc, r=rule: self._on_backtest_failed(r, exc))

    def _on_backtest(self, rule: Rule, firings: list[Any]) -> None:
        self.backtest_button.setEnabled(True)
        self._check()
        self.backtest_table.set_firings(firings)
        self.clear_button.setEnabled(bool(firings))
        if self.engine is not None:
            self.engine.set_backtest([rule.id], firings)
        if not firings:
            self.backtest_note.setText(f"{rule.name} would not have fired on the cached "
                                       "history.")
            return
        first, last = firings[0].fired_ms, firings[-1].fired_ms
        fmt = "%Y-%m-%d %H:%M"
        when = (f"once, at {format_time(first, fmt)}" if len(firings) == 1 else
                f"{len(firings)} times, from {format_time(first, fmt)} to "
                f"{format_time(last, fmt)}")
        self.backtest_note.setText(
            f"{rule.name} would have fired {when} {zone_label()} (starred on the price chart; "
            "click a row to see its moment)")

    def clear_backtest(self) -> None:
        self.backtest_table.set_firings([])
        self.clear_button.setEnabled(False)
        self.backtest_note.setText("Back-test a rule to see when it would have fired.")
        if self.engine is not None:
            self.engine.set_backtest([], [])

    def _on_backtest_failed(self, rule: Rule, exc: Exception) -> None:
        self.backtest_button.setEnabled(True)
        self._check()
        self.backtest_note.setText(f"Back-test of {rule.name} failed: {exc}")

    def _jump(self, ms: int) -> None:
        if self.engine is not None:
            self.engine.jump_to(ms)

