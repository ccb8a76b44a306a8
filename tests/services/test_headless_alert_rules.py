"""Which rules `main.py record` evaluates: --rules FILE, else the last-used workspace's "alerts"
section (settings.ini as Qt writes it), else none, said in one line."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings

from models.alerts import RuleBook, rule_from_json, rule_operands
from models.catalog import derived_specs
from models.workspace import Workspace
from services.alerts_files import save_rules_file
from services.headless_alerts import (
    RulesUnavailable,
    current_workspace_name,
    readers_by_series,
    record_rules,
)
from services.workspaces import WorkspaceStore

ABOVE = {"id": "btc-100k", "name": "BTC above 100k",
         "when": {"type": "above", "operand": {"series": "btc.1h", "column": "close"},
                  "value": 100_000}}
FLIP = {"id": "flip", "name": "BTC crosses the flip",
        "when": {"type": "cross_above", "operand": {"series": "btc.1h", "column": "close"},
                 "value": {"derived": "gammalevels.btc", "column": "gamma_flip"}}}


def use_workspace(folder, name: str) -> None:
    """What the window leaves behind: settings.ini written by QSettings."""
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("window/theme", "dark")
    settings.setValue("workspaces/current", name)
    settings.sync()


def save_workspace(folder, name: str, sections: dict) -> None:
    WorkspaceStore(folder / "workspaces").write(Workspace(name=name, sections=sections))


def test_a_rules_file_is_read(tmp_path):
    path = tmp_path / "mine.json"
    save_rules_file(path, [rule_from_json(ABOVE), rule_from_json(FLIP)])
    rules, source = record_rules(str(path), tmp_path)
    assert [r.id for r in rules] == ["btc-100k", "flip"]
    assert source == f"from {path}"


def test_a_bad_rules_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "rotor-alert-rules", "version": 1,
                                "rules": [{**ABOVE, "when": {"type": "above"}}]}))
    with pytest.raises(RulesUnavailable, match=r"^--rules: .*bad\.json: .*btc-100k"):
        record_rules(str(path), tmp_path)
    with pytest.raises(RulesUnavailable, match="no such file"):
        record_rules(str(tmp_path / "missing.json"), tmp_path)


@pytest.mark.parametrize("name", ["My desk", "Squeeze, été"])  # Qt quotes a comma
def test_the_last_used_workspaces_rules_by_default(tmp_path, name):
    save_workspace(tmp_path, name, {"alerts": RuleBook([rule_from_json(FLIP)]).to_json()})
    use_workspace(tmp_path, name)
    assert current_workspace_name(tmp_path) == name
    rules, source = record_rules(None, tmp_path)
    assert [r.id for r in rules] == ["flip"]
    assert source == f"from workspace {name!r}"


def test_no_rules_is_said_and_not_an_error(tmp_path):
    assert record_rules(None, tmp_path) == (
        [], "none (no workspace used yet; give --rules FILE)")
    use_workspace(tmp_path, "Gone")
    assert record_rules(None, tmp_path) == (
        [], "none (the last workspace, 'Gone', is not found)")
    save_workspace(tmp_path, "Gone", {})
    assert record_rules(None, tmp_path) == (
        [], "none (workspace 'Gone' has no alert rules)")
    save_workspace(tmp_path, "Gone", {"alerts": {"format": "rotor-alert-rules", "version": 1,
                                                 "rules": [{"id": "x"}]}})
    rules, source = record_rules(None, tmp_path)
    assert rules == [] and source.startswith("none (workspace 'Gone': alerts: ")


def test_the_series_each_operand_is_read_from():
    rule = rule_from_json(FLIP)
    readers = readers_by_series(rule_operands(rule))
    close = next(op for op in rule_operands(rule) if op.kind == "series")
    flip = next(op for op in rule_operands(rule) if op.kind == "derived")
    assert close in readers["btc.1h"]
    inputs = derived_specs()["gammalevels.btc"].inputs
    assert inputs and all(flip in readers[sid] for sid in inputs)
    assert set(readers) == {"btc.1h", *inputs}
