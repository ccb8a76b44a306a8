"""GUI event-loop stall while a worker thread does real data work (performance.md §6.7, §8.1.5).

A 1 ms `PreciseTimer` ticks on the GUI thread inside `QEventLoop.exec()` (never a busy
processEvents loop); lateness = gap between ticks - 1 ms, over the worker's run.

Tasks:
  backfill    the real path: `services.refresh.refresh_series` with the real `BinanceClient`
              paging 1000-row JSON pages from a loopback server process (`bench.klines_server`)
              -> `parse_klines` -> `Cache.upsert` per page -> `Cache.read` -> `MinMaxPyramid.build`
              -> a Qt signal queued to the GUI thread.
  json_loads  baseline: one `json.loads` of the whole N-row klines document in a thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import frames as fr

ROOT = Path(__file__).resolve().parents[1]
IDLE_MS = 300  # timer runs alone first (idle baseline)
TAIL_MS = 200


def _start_server(rows: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.klines_server", str(rows)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"klines server did not start: {line!r}")
    return proc, int(line.split()[1])


def _lateness(ticks: np.ndarray, t_start: float, t_end: float) -> dict[str, Any]:
    sel = ticks[(ticks >= t_start) & (ticks <= t_end)]
    # include the gap that spans the start: the tick before t_start
    before = ticks[ticks < t_start]
    if len(before):
        sel = np.concatenate([before[-1:], sel])
    gaps = np.diff(sel) * 1e3
    if not len(gaps):
        return {"ticks": 0}
    late = np.maximum(gaps - 1.0, 0.0)
    wall = (t_end - t_start) * 1e3
    big = gaps[gaps > 16.7]
    # where the long gaps were: (ms after the start of the window, gap ms), at most 10
    big_at = [[round((float(sel[i]) - t_start) * 1e3, 1), round(float(gaps[i]), 1)]
              for i in np.flatnonzero(gaps > 16.7)[:10]]
    return {
        "lateness_p50_ms": round(float(np.percentile(late, 50)), 3),
        "lateness_p95_ms": round(float(np.percentile(late, 95)), 3),
        "lateness_p99_ms": round(float(np.percentile(late, 99)), 3),
        "lateness_max_ms": round(float(late.max()), 3),
        "gaps_over_16_7ms": len(big),
        "gaps_over_50ms": int((gaps > 50).sum()),
        "time_in_gaps_over_16_7ms_ms": round(float(big.sum()), 1),
        "share_in_gaps_over_16_7ms": round(float(big.sum() / wall), 4) if wall > 0 else None,
        "ticks": len(gaps),
        "gaps_over_16_7ms_at": big_at,
    }


def stall(task: str, rows: int) -> dict[str, Any]:
    from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal

    fr.app()
    from services.app import freeze_startup_heap

    freeze_startup_heap()  # as main.py does once its window is built
    out: dict[str, Any] = {"task": task, "rows": rows,
                           "switch_interval_s": sys.getswitchinterval()}
    server = None
    tmp = tempfile.TemporaryDirectory()
    try:
        if task == "backfill":
            server, port = _start_server(rows)
            os.environ["ROTOR_BINANCE_SPOT_URL"] = f"http://127.0.0.1:{port}"
            work = _backfill_work(rows, Path(tmp.name), out)
        elif task == "json_loads":
            from bench.klines_server import klines_json

            doc = klines_json(rows)
            out["json_mb"] = round(len(doc) / 2**20, 1)
            work = _json_work(doc, rows, out)
        else:
            raise ValueError(f"unknown stall task {task!r}")

        class Bridge(QObject):
            done = Signal(object)

        bridge = Bridge()
        loop = QEventLoop()
        ticks: list[float] = []
        marks: dict[str, float] = {}
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(1)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

        def worker() -> None:
            try:
                result = work()
            except Exception as e:  # noqa: BLE001 (reported in the JSON)
                result = {"error": f"{type(e).__name__}: {e}"}
            bridge.done.emit(result)  # queued to the GUI thread

        def on_done(result: Any) -> None:
            marks["done"] = time.perf_counter()
            out.update(result)
            QTimer.singleShot(TAIL_MS, loop.quit)

        bridge.done.connect(on_done, Qt.ConnectionType.QueuedConnection)
        th = threading.Thread(target=worker, daemon=True)

        def start() -> None:
            marks["start"] = time.perf_counter()
            th.start()

        timer.start()
        QTimer.singleShot(IDLE_MS, start)
        QTimer.singleShot(600_000, loop.quit)  # safety net
        t_loop = time.perf_counter()
        loop.exec()
        timer.stop()
        th.join(timeout=5)
        arr = np.asarray(ticks)
        out["idle"] = _lateness(arr, t_loop + 0.05, marks.get("start", t_loop))
        if "done" in marks:
            out["worker_wall_ms"] = round((marks["done"] - marks["start"]) * 1e3, 1)
            out.update(_lateness(arr, marks["start"], marks["done"]))
        else:
            out["status"] = "error"
            out["why"] = "worker did not finish"
    finally:
        if server is not None:
            server.kill()
            server.wait()
        tmp.cleanup()
    return out


def _backfill_work(rows: int, folder: Path, out: dict[str, Any]) -> Any:
    from bench.klines_server import STEP_MS, T0_MS
    from models.catalog import CANDLES, SeriesSpec
    from models.lod import MinMaxPyramid
    from services.cache import Cache
    from services.config import Endpoints
    from services.refresh import refresh_series
    from services.sources import Sources

    spec = SeriesSpec(id="bench.btc.1m", kind=CANDLES, source="binance", symbol="BTCUSDT",
                      interval="1m", label="BTC/USD", asset="BTC")
    cache = Cache(folder / "cache.sqlite")
    sources = Sources(Endpoints.from_env())
    end = T0_MS + (rows - 1) * STEP_MS
    out["path"] = ("refresh_series -> BinanceClient.iter_pages (1000-row pages, loopback) -> "
                   "parse_klines -> Cache.upsert -> Cache.read -> MinMaxPyramid.build -> signal")

    def work() -> dict[str, Any]:
        t = time.perf_counter()
        res = refresh_series(spec, cache, sources, want_start_ms=T0_MS, end_ms=end,
                             now=end + STEP_MS)
        t_fetch = time.perf_counter()
        data = cache.read(spec.id)
        t_read = time.perf_counter()
        pyr = MinMaxPyramid.build(data.time / 1000.0, data.columns["close"])
        t_lod = time.perf_counter()
        sources.close()
        cache.close()
        r: dict[str, Any] = {
            "rows_cached": len(data), "pyramid_rows": len(pyr), "requests": res.requests,
            "fetch_parse_store_ms": round((t_fetch - t) * 1e3, 1),
            "cache_read_ms": round((t_read - t_fetch) * 1e3, 1),
            "lod_build_ms": round((t_lod - t_read) * 1e3, 1)}
        if res.error is not None:
            r["error"] = str(res.error)
        return r

    return work


def _json_work(doc: str, rows: int, out: dict[str, Any]) -> Any:
    import json

    def work() -> dict[str, Any]:
        t = time.perf_counter()
        parsed = json.loads(doc)
        ms = (time.perf_counter() - t) * 1e3
        return {"rows_parsed": len(parsed), "json_loads_ms": round(ms, 1)}

    return work
