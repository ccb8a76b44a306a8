"""The rule editor's form: a rule's name, switch, cooldown, active hours and delivery, and its
condition when it is one of the common ones (a series or derived column above, below or crossing
a value or another column; a change over a window). Anything else (all/any, count across venues,
liquidations, regime, decoupling) is edited as JSON; the form then says so and still edits the
rest.

The form edits the rule's JSON object: `load(obj)` shows it, `edited(obj)` hands the object
back with the form's fields written into it (whatever the form does not show is kept). Typed
text goes in as typed (a number when it reads as one), so `validate_rule_json` names what is
wrong with it: the form never guesses.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from models.alert_operands import derived_known
from models.catalog import CATALOG, derived_specs
from ui import theme

#: the condition types the form shows, with how it words them
FORM_TYPES = {"above": "is above", "below": "is below", "cross_above": "crosses above",
              "cross_below": "crosses below", "change": "changes by"}
LEVEL_KINDS = {"value": "a value", "series": "a series", "derived": "a derived quantity"}
UNITS = {"pct": "%", "abs": "absolute"}
DIRECTIONS = {"up": "up", "down": "down", "any": "either way"}


def series_ids() -> list[str]:
    """Stored series a rule can read (snapshots are no rows over time)."""
    return [i for i, spec in CATALOG.items() if not spec.is_snapshot]


def derived_ids() -> list[str]:
    """Derived quantities with a known time for each row (models/alert_operands.py)."""
    return [i for i in derived_specs() if derived_known(i) is not None]


def columns_of(kind: str, ident: str) -> list[str]:
    if kind == "series":
        spec = CATALOG.get(ident)
        return list(spec.columns) if spec is not None else []
    known = derived_known(ident)
    return list(known.columns) if known is not None else []


def typed_value(text: str) -> Any:
    """A number when the text reads as one (an int when whole), else the text itself, for the
    validation to name."""
    text = text.strip()
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def shown_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}" if abs(value) < 1e15 else str(value)
    return str(value)


def form_condition(obj: Any) -> dict[str, Any] | None:
    """The rule's condition when the form can show it, else None."""
    when = obj.get("when") if isinstance(obj, dict) else None
    if isinstance(when, dict) and when.get("type") in FORM_TYPES:
        operand = when.get("operand")
        value = when.get("value")
        if isinstance(operand, dict) and (not isinstance(value, dict)
                                          or "series" in value or "derived" in value):
            return when
    return None


class OperandPicker(QWidget):
    """kind, id and column of an operand (ids and columns typed or picked)."""

    changed = Signal()

    def __init__(self, kinds: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        for value, label in kinds.items():
            self.kind.addItem(label, value)
        self.ident = QComboBox()
        self.ident.setEditable(True)
        self.ident.setMinimumContentsLength(10)
        self.column = QComboBox()
        self.column.setEditable(True)
        self.column.setMinimumContentsLength(5)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.kind)
        row.addWidget(self.ident, 2)
        row.addWidget(self.column, 1)
        self._filling = False
        self.kind.currentIndexChanged.connect(self._on_kind)
        self.ident.currentTextChanged.connect(self._on_ident)
        self.column.currentTextChanged.connect(self._emit)

    def _emit(self) -> None:
        if not self._filling:
            self.changed.emit()

    def _on_kind(self) -> None:
        self._fill_ids()
        self._emit()

    def _on_ident(self) -> None:
        self._fill_columns()
        self._emit()

    def _fill_ids(self) -> None:
        kind = self.kind.currentData()
        was = self._filling
        self._filling = True
        text = self.ident.currentText()
        self.ident.clear()
        if kind in ("series", "derived"):
            self.ident.addItems(series_ids() if kind == "series" else derived_ids())
        self.ident.setCurrentText(text)
        self._filling = was

    def _fill_columns(self) -> None:
        was = self._filling
        self._filling = True
        text = self.column.currentText()
        self.column.clear()
        self.column.addItems(columns_of(self.kind.currentData(), self.ident.currentText()))
        self.column.setCurrentText(text if text else self.column.itemText(0))
        self._filling = was

    def set_operand(self, kind: str, ident: str, column: str) -> None:
        self._filling = True
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
        self._fill_ids()
        self.ident.setCurrentText(ident)
        self._fill_columns()
        self.column.setCurrentText(column)
        self._filling = False
        self.set_enabled_fields()

    def set_enabled_fields(self) -> None:
        on = self.kind.currentData() in ("series", "derived")
        self.ident.setVisible(on)
        self.column.setVisible(on)

    def operand(self) -> dict[str, str] | None:
        kind = self.kind.currentData()
        if kind not in ("series", "derived"):
            return None
        return {kind: self.ident.currentText().strip(), "column": self.column.currentText()}


class RuleForm(QScrollArea):
    #: the rule's JSON object with the form's fields written in
    edited = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        # narrow docks: the fields shrink, the form does not scroll sideways
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._obj: dict[str, Any] | None = None
        self._loading = False
        body = QWidget()
        self.setWidget(body)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(4, 4, 4, 4)

        top = QFormLayout()
        self.name = QLineEdit()
        self.name.setObjectName("alertFormName")
        self.enabled = QCheckBox("On watch")
        self.enabled.setToolTip("Evaluated on every new row of its inputs while ticked")
        top.addRow("Name", self.name)
        top.addRow("", self.enabled)
        outer.addLayout(top)

        self.condition_box = QGroupBox("Condition")
        cond = QFormLayout(self.condition_box)
        self.condition_note = QLabel("")
        self.condition_note.setWordWrap(True)
        self.condition_note.setStyleSheet(f"color: {theme.MUTED};")
        cond.addRow(self.condition_note)
        self.operand = OperandPicker({"series": "series", "derived": "derived"})
        self.kind = QComboBox()
        self.kind.setObjectName("alertFormType")
        for value, label in FORM_TYPES.items():
            self.kind.addItem(label, value)
        self.level_kind = OperandPicker(LEVEL_KINDS)
        self.value = QLineEdit()
        self.value.setObjectName("alertFormValue")
        self.value.setPlaceholderText("a number, e.g. 70000")
        self.hysteresis = QLineEdit()
        self.hysteresis.setPlaceholderText("0: re-arms once it is false again")
        self.hysteresis.setToolTip("Once true, it stays true until the operand is back this far "
                                   "beyond the level (in the operand's units)")
        self.within = QLineEdit()
        self.within.setPlaceholderText("0, or e.g. 4h: stays true that long after the cross")
        self.window = QLineEdit()
        self.window.setPlaceholderText("e.g. 24h")
        self.by = QLineEdit()
        self.by.setPlaceholderText("e.g. 5")
        self.unit = QComboBox()
        for value, label in UNITS.items():
            self.unit.addItem(label, value)
        self.direction = QComboBox()
        for value, label in DIRECTIONS.items():
            self.direction.addItem(label, value)
        self._rows: dict[str, tuple[QLabel, QWidget]] = {}
        for key, label, widget in (("operand", "When", self.operand),
                                   ("kind", "", self.kind),
                                   ("level", "Level", self.level_kind),
                                   ("value", "Value", self.value),
                                   ("hysteresis", "Hysteresis", self.hysteresis),
                                   ("within", "True for", self.within),
                                   ("window", "Over", self.window),
                                   ("by", "By at least", self.by),
                                   ("unit", "Unit", self.unit),
                                   ("direction", "Direction", self.direction)):
            caption = QLabel(label)
            cond.addRow(caption, widget)
            self._rows[key] = (caption, widget)
        outer.addWidget(self.condition_box)

        timing = QGroupBox("Timing")
        times = QFormLayout(timing)
        self.cooldown = QLineEdit()
        self.cooldown.setPlaceholderText("0, or e.g. 4h: no second firing within it")
        self.hours_on = QCheckBox("Only")
        self.hours_start = QLineEdit()
        self.hours_start.setPlaceholderText("08:00")
        self.hours_end = QLineEdit()
        self.hours_end.setPlaceholderText("20:00")
        self.hours_zone = QLineEdit()
        self.hours_zone.setPlaceholderText("UTC, Europe/London …")
        hours = QHBoxLayout()
        for widget in (self.hours_on, self.hours_start, QLabel("to"), self.hours_end):
            hours.addWidget(widget)
        self.hours_on.setToolTip("Fire only between these local times (end excluded; an end "
                                 "before the start runs past midnight); the weekdays are in "
                                 "the JSON tab")
        times.addRow("Cooldown", self.cooldown)
        times.addRow("Active hours", hours)
        times.addRow("Time zone", self.hours_zone)
        outer.addWidget(timing)

        delivery = QGroupBox("Delivery")
        send = QFormLayout(delivery)
        self.notify = QCheckBox("Desktop notification")
        self.sound = QCheckBox("Sound")
        row = QHBoxLayout()
        row.addWidget(self.notify)
        row.addWidget(self.sound)
        row.addStretch(1)
        self.webhook = QLineEdit()
        self.webhook.setObjectName("alertFormWebhook")
        self.webhook.setPlaceholderText("https://… (optional; headers in the JSON tab)")
        self.webhook.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)  # URLs may hold tokens
        send.addRow(row)
        send.addRow("Webhook", self.webhook)
        outer.addWidget(delivery)
        outer.addStretch(1)

        for edit in (self.name, self.value, self.hysteresis, self.within, self.window, self.by,
                     self.cooldown, self.hours_start, self.hours_end, self.hours_zone,
                     self.webhook):
            edit.textEdited.connect(self._on_edit)
        for box in (self.kind, self.unit, self.direction):
            box.currentIndexChanged.connect(self._on_edit)
        for check in (self.enabled, self.hours_on, self.notify, self.sound):
            check.toggled.connect(self._on_edit)
        self.operand.changed.connect(self._on_edit)
        self.level_kind.changed.connect(self._on_edit)
        self.setEnabled(False)

    # -- showing a rule -----------------------------------------------------------------------
    def load(self, obj: Any) -> None:
        """Show the rule's JSON object (anything but an object: the form is disabled)."""
        self._loading = True
        try:
            self._obj = copy.deepcopy(obj) if isinstance(obj, dict) else None
            self.setEnabled(self._obj is not None)
            if self._obj is not None:
                self._load(self._obj)
        finally:
            self._loading = False
        self._show_rows()

    def _load(self, obj: dict[str, Any]) -> None:
        self.name.setText(str(obj.get("name", "")))
        self.enabled.setChecked(obj.get("enabled", True) is True)
        when = form_condition(obj)
        if when is not None:
            self.kind.setCurrentIndex(max(0, self.kind.findData(when["type"])))
            kind, ident = _operand_parts(when["operand"])
            self.operand.set_operand(kind, ident, str(when["operand"].get("column", "")))
            value = when.get("value")
            if isinstance(value, dict):
                level_kind, level_id = _operand_parts(value)
                self.level_kind.set_operand(level_kind, level_id, str(value.get("column", "")))
                self.value.setText("")
            else:
                self.level_kind.set_operand("value", "", "")
                self.value.setText(shown_value(value))
            self.hysteresis.setText(shown_value(when.get("hysteresis", "")))
            self.within.setText(shown_value(when.get("within", "")))
            self.window.setText(shown_value(when.get("window", "")))
            self.by.setText(shown_value(when.get("by", "")))
            self.unit.setCurrentIndex(max(0, self.unit.findData(when.get("unit", "pct"))))
            self.direction.setCurrentIndex(
                max(0, self.direction.findData(when.get("direction", "up"))))
        self.cooldown.setText(shown_value(obj.get("cooldown", "")))
        hours = obj.get("active_hours")
        self.hours_on.setChecked(isinstance(hours, dict))
        hours = hours if isinstance(hours, dict) else {}
        self.hours_start.setText(str(hours.get("start", "")))
        self.hours_end.setText(str(hours.get("end", "")))
        self.hours_zone.setText(str(hours.get("zone", "")))
        delivery = obj.get("delivery") if isinstance(obj.get("delivery"), dict) else {}
        self.notify.setChecked(delivery.get("notify", True) is True)
        self.sound.setChecked(delivery.get("sound", False) is True)
        hook = delivery.get("webhook")
        self.webhook.setText(str(hook.get("url", "")) if isinstance(hook, dict) else "")

    def _show_rows(self) -> None:
        """The condition's rows for its type; a condition the form cannot show is named."""
        shown = self._obj is not None and form_condition(self._obj) is not None
        kind = self.kind.currentData()
        level = self.level_kind.kind.currentData()
        wanted = {"operand", "kind"}
        if kind in ("above", "below", "cross_above", "cross_below"):
            wanted |= {"level", "hysteresis"} | ({"value"} if level == "value" else set())
            if kind.startswith("cross"):
                wanted.add("within")
        elif kind == "change":
            wanted |= {"window", "by", "unit", "direction"}
        for key, (caption, widget) in self._rows.items():
            caption.setVisible(shown and key in wanted)
            widget.setVisible(shown and key in wanted)
        self.level_kind.set_enabled_fields()
        if shown:
            self.condition_note.setVisible(False)
        else:
            self.condition_note.setVisible(True)
            self.condition_note.setText(
                "This rule's condition (" + _describe(self._obj) + ") is edited in the JSON "
                "tab; the form edits one comparison or one change.")
            self.condition_note.setToolTip(
                "All / any, counts across venues, liquidations, regimes and decoupling days "
                "are written in JSON: docs/alerts.md has an example of each.")
        self.hours_start.setEnabled(self.hours_on.isChecked())
        self.hours_end.setEnabled(self.hours_on.isChecked())
        self.hours_zone.setEnabled(self.hours_on.isChecked())

    # -- writing the fields back -----------------------------------------------------------------
    def _on_edit(self, *_args: Any) -> None:
        if self._loading or self._obj is None:
            return
        self._show_rows()
        self.edited.emit(self.rule_json())

    def rule_json(self) -> dict[str, Any] | None:
        """The loaded rule's JSON object with the form's fields in it."""
        if self._obj is None:
            return None
        obj = copy.deepcopy(self._obj)
        obj["name"] = self.name.text()
        obj["enabled"] = self.enabled.isChecked()
        if form_condition(obj) is not None:
            obj["when"] = self._condition()
        obj["cooldown"] = typed_value(self.cooldown.text()) if self.cooldown.text().strip() \
            else "0"
        if self.hours_on.isChecked():
            old = obj.get("active_hours") if isinstance(obj.get("active_hours"), dict) else {}
            obj["active_hours"] = {**old, "start": self.hours_start.text().strip() or "00:00",
                                   "end": self.hours_end.text().strip() or "00:00",
                                   "zone": self.hours_zone.text().strip() or "UTC"}
        else:
            obj["active_hours"] = None
        delivery = dict(obj.get("delivery") or {}) if isinstance(obj.get("delivery"),
                                                                 dict) else {}
        delivery["notify"] = self.notify.isChecked()
        delivery["sound"] = self.sound.isChecked()
        url = self.webhook.text().strip()
        hook = delivery.get("webhook") if isinstance(delivery.get("webhook"), dict) else {}
        delivery["webhook"] = {**hook, "url": url, "headers": hook.get("headers", {})} \
            if url else None
        obj["delivery"] = delivery
        self._obj = copy.deepcopy(obj)
        return obj

    def _condition(self) -> dict[str, Any]:
        kind = self.kind.currentData()
        out: dict[str, Any] = {"type": kind, "operand": self.operand.operand()}
        if kind == "change":
            out["window"] = self.window.text().strip()
            out["by"] = typed_value(self.by.text())
            out["unit"] = self.unit.currentData()
            out["direction"] = self.direction.currentData()
            return out
        level = self.level_kind.operand()
        out["value"] = level if level is not None else typed_value(self.value.text())
        before = (self._obj or {}).get("when") or {}
        if before.get("label"):  # the JSON's own name for the level stays
            out["label"] = before["label"]
        if self.hysteresis.text().strip():
            out["hysteresis"] = typed_value(self.hysteresis.text())
        if kind.startswith("cross") and self.within.text().strip():
            out["within"] = typed_value(self.within.text())
        return out


def _operand_parts(operand: dict[str, Any]) -> tuple[str, str]:
    kind = "series" if "series" in operand else "derived"
    return kind, str(operand.get(kind, ""))


def _describe(obj: dict[str, Any] | None) -> str:
    when = obj.get("when") if isinstance(obj, dict) else None
    if not isinstance(when, dict):
        return "none yet"
    if "all" in when or "any" in when:
        key = "all" if "all" in when else "any"
        items = when[key] if isinstance(when[key], list) else []
        return f"{key} of {len(items)} conditions"
    return str(when.get("type", "no type"))
