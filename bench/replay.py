"""Replay in the demo window: one step that updates every dock, and playback at 3600×
(issue 17; docs/replay.md).

    python -m bench --case replay --json

1. *step*: the cursor moves one hour at a time across 5–6 Feb 2026 (the demo's sell-off and
   rebound: every hourly feed changes each step, and the chain and basis snapshots every few
   steps). A step's time runs from `ReplayController.set_time` to the end of the last paint it
   caused, once the snapshots are read and no feed is computing (every dock shows t).
   Baseline in the same run: the same steps done the naive way, every series republished whole
   at t (as a refresh would) and every feed recomputed, each step waiting for the last.
2. *play*: 3600× for `play_s` inside `QApplication.exec()`. No backlog: at most one run per feed
   is out at any time, the cursor keeps pace with the wall clock, and after a pause the docks
   show the last t within one feed run.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np

from bench import frames as fr

STEP_FROM_MS = 1_770_249_600_000  # 2026-02-05 00:00 UTC
STEP_MS = 3_600_000
STEPS = 40
WAIT_S = 30.0


def _pump(app: Any, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.0005)  # let the workers have the GIL


def _until(app: Any, cond: Any, timeout: float = WAIT_S) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.0005)
    return bool(cond())


def _settle_after(app: Any, start: float, ready: Any) -> float:
    """Seconds from `start` to the end of the last paint, once `ready()` and paints have
    stopped for 3 rounds (bench/frames.py's settled frame, with the workers' results)."""
    if not _until(app, ready):
        return float("nan")
    quiet, seen = 0, fr.PaintLog.count
    while quiet < 3:
        app.processEvents()
        time.sleep(0.001)
        if fr.PaintLog.count == seen:
            quiet += 1
        else:
            quiet, seen = 0, fr.PaintLog.count
    return max(fr.PaintLog.last_end, start) - start


def _stats(ms: list[float]) -> dict[str, Any]:
    a = np.array([m for m in ms if np.isfinite(m)])
    if not len(a):
        return {"samples": 0}
    return {"samples": len(a), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1), "max_ms": round(float(a.max()), 1),
            "timeouts": len(ms) - len(a)}


def _window(app: Any, data_dir: str) -> Any:
    from ui.main_window import MainWindow, open_settings

    window = MainWindow(open_settings(os.path.join(data_dir, "settings.ini")), demo=True)
    window.resize(*fr.SIZE)
    window.show()
    if not _until(app, lambda: len(window.panels) == len(window.docks)
                  and window.panels_have_data() and window.feeds.settled(), 90):
        raise RuntimeError("the demo window did not settle")
    _pump(app, 1.0)
    return window


def _in_flight_counter(window: Any) -> dict[str, int]:
    """Wrap the scheduler's runner: the most feed runs out at once, per feed and in all."""
    state = {"most_per_feed": 0, "most_total": 0, "runs": 0}
    out: dict[str, int] = {}
    run = window.scheduler.run

    def counted(key: str, fn: Any, *args: Any, on_result: Any, on_error: Any = None) -> int:
        if not key.startswith("feed:"):
            return run(key, fn, *args, on_result=on_result, on_error=on_error)
        out[key] = out.get(key, 0) + 1
        state["runs"] += 1
        state["most_per_feed"] = max(state["most_per_feed"], out[key])
        state["most_total"] = max(state["most_total"], sum(out.values()))

        def done(cb: Any) -> Any:
            def call(value: Any) -> None:
                out[key] = max(0, out.get(key, 0) - 1)
                if cb is not None:
                    cb(value)
            return call
        return run(key, fn, *args, on_result=done(on_result), on_error=done(on_error))

    window.scheduler.run = counted
    return state


def _steps(app: Any, window: Any, gui_cpu: list[float]) -> list[float]:
    """Each step's time; `gui_cpu` gets the GUI thread's CPU time of each (the rest is waiting
    for the workers, and for the GIL they hold)."""
    replay = window.replay
    replay.enter(STEP_FROM_MS)
    _settle_after(app, time.perf_counter(), replay.settled)
    _until(app, lambda: not window.scheduler.jobs.pending, 60)  # the chains computed ahead
    out = []
    for i in range(1, STEPS + 1):
        start, cpu = time.perf_counter(), time.thread_time()
        replay.set_time(STEP_FROM_MS + i * STEP_MS)
        out.append(_settle_after(app, start, replay.settled) * 1000)
        gui_cpu.append((time.thread_time() - cpu) * 1000)
    replay.leave()
    _until(app, window.feeds.settled)
    return out


def _naive_steps(app: Any, window: Any) -> list[float]:
    """Each step republishes every series cut at t, whole, and recomputes every feed."""
    from models.asof import known_rows

    store = window.store
    full = {i: store.live_series(i) for i in store.series_ids()}
    out = []
    for i in range(1, STEPS + 1):
        t = STEP_FROM_MS + i * STEP_MS
        start = time.perf_counter()
        for series_id, data in full.items():
            store.set_series(series_id, known_rows(series_id, data, t), None)
        out.append(_settle_after(app, start, window.feeds.settled) * 1000)
    for series_id, data in full.items():
        store.set_series(series_id, data, None)
    _until(app, window.feeds.settled)
    return out


def _play(app: Any, window: Any, play_s: float) -> dict[str, Any]:
    from PySide6.QtCore import QTimer

    replay = window.replay
    replay.enter(STEP_FROM_MS)
    _settle_after(app, time.perf_counter(), replay.settled)
    counter = _in_flight_counter(window)
    ticks: list[float] = []
    replay.timeChanged.connect(lambda _t: ticks.append(time.perf_counter()))
    t_start = replay.t_ms
    wall = time.perf_counter()
    replay.play(3600)
    QTimer.singleShot(int(play_s * 1000), app.quit)
    app.exec()
    replay.pause()
    played_s = time.perf_counter() - wall
    t_end = replay.t_ms
    drain = _settle_after(app, time.perf_counter(), replay.settled) * 1000
    gaps = np.diff(ticks) * 1000 if len(ticks) > 2 else np.array([np.nan])
    replay.leave()
    return {"speed": 3600, "play_s": round(played_s, 2),
            "data_hours_played": round((t_end - t_start) / 3.6e6, 2),
            "data_hours_per_wall_s": round((t_end - t_start) / 3.6e6 / played_s, 3),
            "steps": len(ticks), "step_gap_p95_ms": round(float(np.percentile(gaps, 95)), 1),
            "feed_runs": counter["runs"], "most_runs_out_per_feed": counter["most_per_feed"],
            "most_runs_out_in_all": counter["most_total"],
            "drain_after_pause_ms": round(drain, 1)}


def replay(play_s: float = 10.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ["ROTOR_DATA_DIR"] = data_dir
        app = fr.app()
        import ui  # noqa: F401  (pins the Qt binding)

        window = _window(app, data_dir)
        visible = sorted(k for k, p in window.panels.items() if p.on_screen())
        naive = _stats(_naive_steps(app, window))
        gui_cpu: list[float] = []
        step = _stats(_steps(app, window, gui_cpu))
        step["gui_thread_cpu_p50_ms"] = round(float(np.median(gui_cpu)), 1)
        play = _play(app, window, play_s)
        window.close()
        app.processEvents()
    ratio = (naive["p95_ms"] / step["p95_ms"]) if step.get("p95_ms") else None
    return {"case": "replay", "size": list(fr.SIZE), "docks_on_screen": visible,
            "steps_from": "2026-02-05 00:00 UTC", "step_ms": STEP_MS,
            "step": step, "baseline_naive_step": naive,
            "naive_over_replay_p95": round(ratio, 2) if ratio else None,
            "target_step_p95_ms": 50, "load_average": [round(x, 2) for x in os.getloadavg()],
            "play": play}
