"""Cold start of `main.py --demo` to the first painted chart and to all docks painted.

A temp ROTOR_DATA_DIR is warmed by one run (it writes the demo cache), then each timed run is
spawned with `ROTOR_STARTUP_MARKERS=1 ROTOR_EXIT_AFTER_PAINT=1 ROTOR_T0=<time.time() just
before the spawn>`; main.py prints `ROTOR_MARK <name> <ms since T0>` lines. The import-only
baseline is the wall time of `python -c "import PySide6.QtWidgets, pyqtgraph"`.
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
    env = dict(os.environ)
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


def import_baseline(reps: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    times = []
    for _ in range(reps + 1):  # the first run warms the page cache
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import PySide6.QtWidgets, pyqtgraph"], env=env,
                       check=True)
        times.append((time.perf_counter() - t) * 1e3)
    return {"command": 'python -c "import PySide6.QtWidgets, pyqtgraph"',
            "median_ms": round(float(np.median(times[1:])), 1),
            "min_ms": round(float(min(times[1:])), 1), "reps": reps}
