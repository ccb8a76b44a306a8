"""Alert rules files: the shipped examples (resources/alerts/*.json) and a trader's own rules
files (`main.py alerts --backtest FILE`, `main.py record --rules FILE`, the editor's export).

A file is {"format": "rotor-alert-rules", "version": 1, "rules": [...]} (docs/alerts.md); a
single rule object is read as a file of one rule. Reading refuses symbolic links and huge files
like the other user files (services/safe_files.py); writing is atomic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from models.alerts import Rule, RuleError, rules_file_from_json, rules_file_to_json
from services.resources import resources_dir
from services.safe_files import RefusedFile, read_regular_file, write_file_atomically

MAX_RULES_FILE_BYTES = 2_000_000


def shipped_rules_dir() -> Path:
    return resources_dir() / "alerts"


def shipped_rules() -> list[Rule]:
    """Every shipped example rule, file by file in name order."""
    rules: list[Rule] = []
    for path in sorted(shipped_rules_dir().glob("*.json")):
        rules += load_rules_file(path)
    return rules


def load_rules_file(path: str | os.PathLike[str]) -> list[Rule]:
    """The rules of a rules file (or of a file holding one rule); RuleError naming the file and
    every problem."""
    name = str(path)
    try:
        raw = read_regular_file(path, MAX_RULES_FILE_BYTES, "rules file")
    except FileNotFoundError as e:
        raise RuleError(f"{name}: no such file") from e
    except RefusedFile as e:
        raise RuleError(str(e)) from e
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RuleError(f"{name}: not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise RuleError(f"{name}: not JSON (line {e.lineno}, column {e.colno}: {e.msg})") from e
    if isinstance(obj, dict) and "format" not in obj and "when" in obj:
        obj = rules_file_to_json([])| {"rules": [obj]}
    try:
        return rules_file_from_json(obj)
    except RuleError as e:
        raise RuleError(f"{name}: {e}") from e


def save_rules_file(path: str | os.PathLike[str], rules: list[Rule]) -> None:
    """Write `rules` as a rules file, atomically (OSError as the system raised it)."""
    text = json.dumps(rules_file_to_json(rules), indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"
    write_file_atomically(path, text.encode("utf-8"), ".rules-")
