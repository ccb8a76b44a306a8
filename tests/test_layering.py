"""models/ and services/ stay Qt-free: they run in scripts, cron jobs and tests without a window."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "pyqtgraph", "shiboken6", "ui")


def _modules(package: str) -> list[str]:
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(ROOT / package)])]


def test_models_and_services_import_no_qt():
    modules = _modules("models") + _modules("services")
    assert len(modules) > 8
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from models.catalog import derived_specs\n"
        "derived_specs()\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "", f"Qt or ui imported by models/services: {out.stdout}"


def test_the_window_imports_without_pandas_or_requests():
    """pandas costs ~0.25 s of import (and of GIL on a worker), requests ~0.1 s: the first chart
    must not wait for them, so nothing on the window's import path may import them at module
    level (the panels' analyses and the venue clients import them on the workers)."""
    code = (
        "import sys\n"
        "import ui, ui.main_window, models.movers, models.derived, ui.derived_feeds\n"
        "print('pandas' in sys.modules, 'requests' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.strip() == "False False"


def test_no_panel_imports_another_panel():
    """Panels draw what the store and the derived feeds hand them: an analysis or overlay that
    two docks need lives in models/ and ui/derived_feeds.py, not in one of the docks."""
    import ast

    panels = ROOT / "ui" / "panels"
    for path in panels.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("ui.panels.") and name != "ui.panels.base":
                    raise AssertionError(f"{path.name} imports {name}")


def test_the_app_imports_only_its_declared_runtime_dependencies():
    """A fresh `pip install .` has none of the test extras: scipy (the greeks' and indicators'
    independent references), pytest and friends must never be imported by app code."""
    import ast

    test_only = {"scipy", "pytest", "pytest_httpserver", "trustme", "xdist", "finplot"}
    found = []
    for package in ("models", "services", "ui"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                found += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] in test_only]
    assert not found, found
