"""Cold start of `main.py --demo` to the first painted chart and to all docks painted.

A temp ROTOR_DATA_DIR is warmed by one run (it writes the demo cache), then each timed run is
spawned with `ROTOR_STARTUP_MARKERS=1 ROTOR_EXIT_AFTER_PAINT=1 ROTOR_T0=<time.time() just
before the spawn>`; main.py prints `ROTOR_MARK <name> <ms since T0>` lines. The import-only
baselines (`import_baseline`, `minimal_chart_baseline`) are timed the same way.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 60
WAIT_ALL_DOCKS_S = 8.0  # after the first chart; a dock that never paints ends the run


def _env(data_dir: str) -> dict[str, str]:
    # Warm means what a trader's second start has: the page cache and Python's bytecode cache.
    # pip compiles installed packages; Rotor's own modules are compiled by the warm-up run,
    # unless the environment forbids writing bytecode (this sandbox sets that).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"QT_QPA_PLATFORM": "offscreen", "QT_API": "pyside6",
                "PYQTGRAPH_QT_LIB": "PySide6", "ROTOR_DATA_DIR": data_dir,
                "ROTOR_STARTUP_MARKERS": "1", "ROTOR_EXIT_AFTER_PAINT": "1"})
    # Demo mode fetches nothing; point every venue at a dead loopback port all the same.
    from services.config import ENV_VARS

    for var in ENV_VARS.values():
        env[var] = "http://127.0.0.1:9"
    return env


def _run(env: dict[str, str], wait_all_s: float) -> tuple[dict[str, float], float, str]:
    """One spawn; returns (marks, wall ms, note). Killed if all docks do not paint in time."""
    env = dict(env)
    t0 = time.time()
    env["ROTOR_T0"] = repr(t0)
    proc = subprocess.Popen([sys.executable, "main.py", "--demo"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    marks: dict[str, float] = {}
    note = ""
    lines: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.time() + RUN_TIMEOUT_S
    while True:
        if "first_chart_painted" in marks:
            deadline = min(deadline, t0 + marks["first_chart_painted"] / 1e3 + wait_all_s)
        try:
            line = lines.get(timeout=max(0.0, deadline - time.time()))
        except queue.Empty:
            note = (f"killed: all_docks_painted not reached within {wait_all_s:g} s of "
                    "first_chart_painted" if "first_chart_painted" in marks
                    else f"killed: no first_chart_painted within {RUN_TIMEOUT_S} s")
            proc.kill()
            break
        if line is None:
            break
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ROTOR_MARK":
            marks.setdefault(parts[1], float(parts[2]))
    proc.wait()
    wall = (time.time() - t0) * 1e3
    if not note and proc.returncode:
        note = f"exit status {proc.returncode}"
    return marks, wall, note


def cold_start(reps: int, wait_all_s: float = WAIT_ALL_DOCKS_S) -> dict[str, Any]:
    out: dict[str, Any] = {"command": "main.py --demo", "reps": reps,
                           "wait_all_docks_s": wait_all_s}
    with tempfile.TemporaryDirectory() as data_dir:
        env = _env(data_dir)
        warm, warm_wall, note = _run(env, 2.0)
        out["warm_run"] = {"marks_ms": warm, "wall_ms": round(warm_wall, 1), "note": note}
        for f in Path(data_dir).rglob("*"):  # page-cache warm: read the cache files once
            if f.is_file():
                f.read_bytes()
        runs = []
        for _ in range(reps):
            marks, wall, note = _run(env, wait_all_s)
            runs.append({"marks_ms": marks, "wall_ms": round(wall, 1), "note": note})
    out["runs"] = runs
    names = sorted({k for r in runs for k in r["marks_ms"]})
    out["median_ms"] = {k: round(float(np.median([r["marks_ms"][k] for r in runs
                                                  if k in r["marks_ms"]])), 1) for k in names}
    out["first_chart_painted_ms"] = out["median_ms"].get("first_chart_painted")
    out["all_docks_painted_ms"] = out["median_ms"].get("all_docks_painted")
    out["process_wall_ms"] = round(float(np.median([r["wall_ms"] for r in runs])), 1)
    if out["first_chart_painted_ms"] is None:
        out["status"] = "error"
        out["why"] = "no first_chart_painted marker"
    return out


# Baselines, timed like main.py's marks (from a T0 taken just before the spawn to a point inside
# the process), so process exit, which PySide6 makes slow, is not counted.
_IMPORTS_ONLY = """
import os, time
import PySide6.QtWidgets, pyqtgraph
print("ROTOR_MARK baseline", (time.time() - float(os.environ["ROTOR_T0"])) * 1000, flush=True)
"""

_MINIMAL_CHART = """
import os, time
import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

app = QtWidgets.QApplication([])

class Chart(pg.PlotWidget):
    def paintEvent(self, event):
        super().paintEvent(event)
        print("ROTOR_MARK baseline", (time.time() - float(os.environ["ROTOR_T0"])) * 1000,
              flush=True)
        os._exit(0)

chart = Chart(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
x = 1.7e9 + 3600.0 * np.arange(720)
chart.plot(x, 60000 + np.cumsum(np.random.default_rng(0).standard_normal(720)) * 300)
chart.resize(1600, 900)
chart.show()
app.exec()
"""


def _baseline(code: str, command: str, reps: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.update({"QT_QPA_PLATFORM": "offscreen", "PYQTGRAPH_QT_LIB": "PySide6"})
    times = []
    for _ in range(reps + 1):  # the first run warms the page cache
        env["ROTOR_T0"] = repr(time.time())
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True, timeout=RUN_TIMEOUT_S).stdout
        times.append(float(out.split()[-1]))
    return {"command": command, "median_ms": round(float(np.median(times[1:])), 1),
            "min_ms": round(float(min(times[1:])), 1), "reps": reps}


def import_baseline(reps: int) -> dict[str, Any]:
    """Spawn to `import PySide6.QtWidgets, pyqtgraph` done: no Qt + pyqtgraph program starts
    faster on this machine."""
    return _baseline(_IMPORTS_ONLY, "import PySide6.QtWidgets, pyqtgraph", reps)


def minimal_chart_baseline(reps: int) -> dict[str, Any]:
    """Spawn to the first paint of one 1600x900 PlotWidget with a 720-point line and a date axis:
    the simplest pyqtgraph chart program, against which Rotor's first chart is compared."""
    return _baseline(_MINIMAL_CHART, "one PlotWidget, 720 points, first paint", reps)
