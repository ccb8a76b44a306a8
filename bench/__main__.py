"""`python -m bench [--quick]`: every case in its own process, one JSON document on stdout.

    python -m bench                 full run (several minutes)
    python -m bench --quick         a subset, under a minute on 2 vCPU
    python -m bench --case line --contender rotor --n 10000000 --view out --frames 10 --json
                                    one case in this process (what the runner spawns)
    python -m bench --case streams --steady-s 20 --burst-rate 2000 --burst-s 10 --json
                                    the live window streaming (bench/streams.py)
    python -m bench --case alerts --reps 3 --n 2000
                                    alert rules: per new row and back-test (bench/alerts.py)
    python -m bench --case backfill_size --n 1000000 --reps 5
                                    bytes per million minute candles, compact vs plain
                                    chunks (bench/backfill.py)
    python -m bench --case replay --json
                                    replay steps and 3600× playback (bench/replay.py)
    python -m bench --case dock_pan --n 1000000 --frames 30 --size 1366x768 --json
                                    the real price dock, four stacked plots (bench/dock_pan.py)
    python -m bench --case minutes_cached --n 4900000 --reps 3 --json
                                    1h -> 1m, BTC's minutes in the cache (minutes_cached.py)
    python -m bench --case resample --json
                                    4.9M 1m rows to 1h, against pandas (bench/resample.py)

    python -m bench --case indicators --n 5000000 --frames 30
                                    a 5M-row pan with and without three indicators

Method and targets: docs/performance.md.
Progress goes to stderr; stdout carries only the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASE_ENV = {"QT_QPA_PLATFORM": "offscreen", "QT_API": "pyside6", "PYQTGRAPH_QT_LIB": "PySide6"}


# -- one case in this process -----------------------------------------------------------------
def run_case(a: argparse.Namespace) -> dict[str, Any]:
    for k, v in CASE_ENV.items():
        os.environ.setdefault(k, v)
    from bench import frames as fr

    size = tuple(int(v) for v in a.size.split("x"))
    if a.case == "line":
        from bench.cases import line
        res = line(a.contender or "defaults", a.n, a.view, a.frames, size)
    elif a.case == "candles":
        from bench.cases import candles
        res = candles(a.contender or "rotor", a.n, a.view, a.frames, size)
    elif a.case == "stacked":
        from bench.cases import stacked
        res = stacked(a.contender or "rotor", a.n, a.frames, size)
    elif a.case == "dock_pan":
        from bench.dock_pan import dock_pan
        res = dock_pan(a.n, a.frames, size, profile=a.profile)
    elif a.case == "minutes":
        from bench.minutes import minutes
        res = minutes(a.n, a.reps, size)
    elif a.case == "minutes_cached":
        from bench.minutes_cached import minutes_cached
        res = minutes_cached(a.n, a.reps, size)
    elif a.case == "minutes_rss":
        from bench.minutes import minutes_rss
        res = minutes_rss(a.n, size)
    elif a.case == "coldstart_minutes":
        from bench.minutes import coldstart_minutes
        res = coldstart_minutes(a.n, a.reps)
    elif a.case == "drawings":
        from bench.drawings import drawings
        res = drawings(a.contender or "rotor", a.n, a.frames, size)
    elif a.case == "append":
        from bench.cases import append
        res = append(a.n, a.reps)
    elif a.case == "append_pg":
        from bench.cases import append_pg
        res = append_pg(a.n, a.reps)
    elif a.case == "swap":
        from bench.cases import swap
        res = swap(a.n, a.reps)
    elif a.case == "cache_read":
        from bench.cases import cache_read
        res = cache_read(a.n, a.reps)
    elif a.case == "backfill_size":
        from bench.backfill import backfill_size
        res = backfill_size(a.n, a.reps)
    elif a.case == "stall":
        from bench.stall import stall
        res = stall(a.task or "backfill", a.n)
    elif a.case == "coldstart":
        from bench.startup import cold_start
        res = cold_start(a.reps, a.wait_all_s)
    elif a.case == "import_baseline":
        from bench.startup import import_baseline
        res = import_baseline(a.reps)
    elif a.case == "minimal_chart":
        from bench.startup import minimal_chart_baseline
        res = minimal_chart_baseline(a.reps)
    elif a.case == "streams":
        from bench.streams import streams
        res = streams(idle_s=a.idle_s, steady_s=a.steady_s, burst_rate=a.burst_rate,
                      burst_s=a.burst_s)
    elif a.case == "alerts":
        from bench.alerts import alerts
        res = alerts(a.reps, a.n)
    elif a.case == "replay":
        from bench.replay import replay
        res = replay(play_s=a.play_s)
    elif a.case == "resample":
        from bench.resample import resample
        res = resample(a.n if a.n != 10_000 else 4_900_000, a.reps)

    elif a.case == "indicators":
        from bench.indicators import indicators
        res = indicators(a.n, a.frames, size)
    else:
        raise SystemExit(f"unknown case {a.case!r}")
    res.setdefault("status", "ok")
    res["peak_rss_mb"] = fr.peak_rss_mb()
    return res


def _clean(obj: Any) -> Any:
    """NaN/inf are not JSON: write them as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


# -- the runner -------------------------------------------------------------------------------
def spawn(argv: list[str], timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(CASE_ENV)
    cmd = [sys.executable, "-m", "bench", *argv, "--json"]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "timeout_s": timeout, "argv": argv}
    wall = round(time.perf_counter() - t, 2)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"status": "error", "argv": argv, "returncode": proc.returncode,
                "stderr_tail": proc.stderr[-800:]}
    res = json.loads(lines[-1])
    res["wall_s"] = wall
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a subset, under a minute")
    p.add_argument("--case", help="run one case in this process")
    p.add_argument("--contender", help="line: empty|defaults|clippeak|rotor; "
                   "candles: rotor|finplot|naive")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--view", default="out", choices=("out", "in1"))
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--size", default="1600x900")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--task", help="stall: backfill|json_loads")
    p.add_argument("--wait-all-s", type=float, default=8.0,
                   help="coldstart: how long after the first chart to wait for all docks")
    p.add_argument("--idle-s", type=float, default=10.0, help="streams: idle window phase")
    p.add_argument("--steady-s", type=float, default=20.0, help="streams: steady phase")
    p.add_argument("--burst-rate", type=float, default=2000.0,
                   help="streams: liquidation messages a second in the burst")
    p.add_argument("--burst-s", type=float, default=10.0, help="streams: burst length")
    p.add_argument("--play-s", type=float, default=10.0, help="replay: playback at 3600×")
    p.add_argument("--profile", help="dock_pan: write a cProfile of the four-plot sweeps here")
    p.add_argument("--json", action="store_true", help="print the case result as one JSON line")
    a = p.parse_args(argv)
    if a.case:
        res = _clean(run_case(a))
        print(json.dumps(res) if a.json else json.dumps(res, indent=1))
        return 0
    from bench.suite import run_suite

    doc = _clean(run_suite(quick=a.quick, spawn=spawn))
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
