"""Streaming into the real window: tick-to-pixel latency, paints per chart per frame, GUI timer
lateness and CPU, steady and during a liquidation cascade (issue 15; docs/streams.md).

    python -m bench --case streams --steady-s 20 --burst-rate 2000 --burst-s 10 --json

One process, in phases, all inside `QApplication.exec()` (a busy processEvents loop would compete
for the GIL and skew every number: performance.md §8.1):

1. *idle*: the live window (REST from the loopback venues, streams not started) for `idle_s`;
   its CPU is the baseline.
2. *steady*: the streams from `bench.fake_streams.FakeStreamVenues` at realistic rates
   (`STEADY_RATES`), after a warm-up.
3. *burst*: the same plus `burst_rate` liquidation messages a second for `burst_s` on one venue.

The loopback servers (websocket and REST) run in a child process, so the CPU measured is the
window's alone. Latency is measured per drained batch, from the earliest socket arrival behind a
series it published (`StreamBatch.recv_ns`, `time.perf_counter_ns()` when the frame left the
socket) to the end of the first paint of a chart that shows that series (a class-level hook on
`pyqtgraph.GraphicsView.paintEvent`): the worst message of each batch, so p99 is conservative.
Lateness: a 1 ms PreciseTimer on the GUI thread, gap between ticks minus 1 ms.
`BENCH_SWITCH_INTERVAL_S` sets `sys.setswitchinterval` in this process, to compare GIL intervals.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import tempfile
import time
from typing import Any

import numpy as np

from bench.fake_streams import DEFAULT_RATES

FRAME_MS = 1000 / 60
#: frames a second per connection at a calm market's pace (bench/fake_streams.py, after
#: docs/streams.md: Binance klines every 2 s and markPrice@1s, Bybit and Deribit 100 ms, OKX
#: mark price every 200 ms, Hyperliquid about 1 s)
STEADY_RATES = dict(DEFAULT_RATES)
#: after start-up, before the idle phase: the last panels and analyses finish
SETTLE_S = 5.0
BURST_VENUE = "bybit"  # allLiquidation: every liquidation, no per-second cap


# -- the servers, in a child process ------------------------------------------------------------
def _serve(conn: Any, rates: dict[str, float]) -> None:
    """Child process: REST and websocket venues on loopback; commands over `conn`."""
    from bench.fake_streams import FakeStreamVenues
    from bench.fake_venues import FakeVenues

    with FakeVenues() as rest, FakeStreamVenues(rates=rates) as streams:
        conn.send({**rest.env(), **streams.env()})
        while True:
            cmd = conn.recv()
            if cmd[0] == "burst":
                streams.burst(*cmd[1:])
                conn.send("ok")
            elif cmd[0] == "stop":
                break
    conn.send("stopped")


class Servers:
    def __init__(self, rates: dict[str, float]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, rates), daemon=True)
        self.proc.start()
        self.env: dict[str, str] = self.conn.recv()

    def burst(self, venue: str, rate: float, seconds: float) -> None:
        self.conn.send(("burst", venue, rate, seconds))
        self.conn.recv()

    def stop(self) -> None:
        try:
            self.conn.send(("stop",))
            self.conn.recv()
        except (EOFError, OSError):
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()


# -- measuring in the window ---------------------------------------------------------------------
def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


class Probe:
    """Paint ends per chart view, drained batches, timer ticks; latencies matched at paint."""

    def __init__(self, window: Any) -> None:
        import pyqtgraph as pg

        self.window = window
        self.paints: dict[int, list[int]] = {}  # id(view) -> paint end ns
        #: (recv_ns, drain ns, views showing it)
        self.pending: list[tuple[int, int, frozenset[int]]] = []
        #: (paint end ns, total ms, socket -> drain ms, drain -> paint start ms, paint ms)
        self.latency_ms: list[tuple[int, float, float, float, float]] = []
        self.ticks: list[float] = []
        self.drains: list[int] = []
        original = pg.GraphicsView.paintEvent
        probe = self

        def paintEvent(view: Any, ev: Any) -> None:
            start = time.perf_counter_ns()
            original(view, ev)
            probe.painted(id(view), start, time.perf_counter_ns())

        pg.GraphicsView.paintEvent = paintEvent
        window.streams.drained.connect(self.on_drained)

    def views_showing(self, series_id: str) -> frozenset[int]:
        import pyqtgraph as pg

        out = set()
        for panel in self.window.panels.values():
            if not panel.on_screen():
                continue
            shown = panel.shown_series() if hasattr(panel, "shown_series") else panel.series_ids
            if series_id in shown:
                out.update(id(v) for v in panel.findChildren(pg.GraphicsView) if v.isVisible())
        return frozenset(out)

    def on_drained(self, batch: Any) -> None:
        drained = time.perf_counter_ns()
        self.drains.append(drained)
        for key, recv_ns in batch.recv_ns.items():
            if key in batch.series and recv_ns:
                views = self.views_showing(key)
                if views:
                    self.pending.append((recv_ns, drained, views))

    def painted(self, view: int, start_ns: int, end_ns: int) -> None:
        self.paints.setdefault(view, []).append(end_ns)
        if not self.pending:
            return
        keep = []
        for recv_ns, drained, views in self.pending:
            if view in views:
                self.latency_ms.append((end_ns, (end_ns - recv_ns) / 1e6,
                                        (drained - recv_ns) / 1e6, (start_ns - drained) / 1e6,
                                        (end_ns - start_ns) / 1e6))
            else:
                keep.append((recv_ns, drained, views))
        self.pending = keep

    def tick(self) -> None:
        self.ticks.append(time.perf_counter())

    # -- summaries over [t0, t1) (perf_counter seconds) --
    def latency(self, t0: float, t1: float) -> dict[str, Any]:
        lo, hi = int(t0 * 1e9), int(t1 * 1e9)
        rows = np.array([r[1:] for r in self.latency_ms if lo <= r[0] < hi])
        if not len(rows):
            return {"samples": 0}
        ms = rows[:, 0]

        def p50(col: int) -> float:
            return round(float(np.median(rows[:, col])), 2)

        return {"samples": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
                "p99_ms": round(float(np.percentile(ms, 99)), 2),
                "max_ms": round(float(ms.max()), 2),
                "p50_socket_to_drain_ms": p50(1), "p50_drain_to_paint_ms": p50(2),
                "p50_paint_ms": p50(3)}

    def paints_per_frame(self, t0: float, t1: float) -> dict[str, Any]:
        """Most paints of one chart within any 16.7 ms, and paints per chart per second."""
        lo, hi, frame = int(t0 * 1e9), int(t1 * 1e9), int(FRAME_MS * 1e6)
        worst, rates = 0, []
        for ends in self.paints.values():
            t = np.array([e for e in ends if lo <= e < hi], dtype=np.int64)
            if not len(t):
                continue
            within = np.searchsorted(t, t + frame, "left") - np.arange(len(t))
            worst = max(worst, int(within.max()))
            rates.append(len(t) / (t1 - t0))
        drains = [d for d in self.drains if lo <= d < hi]
        return {"max_paints_per_chart_per_frame": worst, "charts_painting": len(rates),
                "paints_per_chart_per_s_max": round(max(rates), 1) if rates else 0.0,
                "drains_per_s": round(len(drains) / (t1 - t0), 1)}

    def lateness(self, t0: float, t1: float) -> dict[str, Any]:
        t = np.array([x for x in self.ticks if t0 <= x < t1])
        if len(t) < 3:
            return {"samples": len(t)}
        late = np.maximum(np.diff(t) * 1e3 - 1.0, 0.0)
        return {"samples": len(late), "p50_ms": round(float(np.percentile(late, 50)), 3),
                "p99_ms": round(float(np.percentile(late, 99)), 3),
                "max_ms": round(float(late.max()), 2),
                "gaps_over_16_7ms": int((late > FRAME_MS).sum())}


def streams(idle_s: float = 10.0, warmup_s: float = 5.0, steady_s: float = 20.0,
            burst_rate: float = 2000.0, burst_s: float = 10.0,
            size: tuple[int, int] = (1600, 900)) -> dict[str, Any]:
    servers = Servers(STEADY_RATES)
    try:
        with tempfile.TemporaryDirectory() as data:
            os.environ.update(servers.env)
            os.environ["ROTOR_DATA_DIR"] = data
            os.environ["ROTOR_STREAMS"] = "on"
            return _run(servers, idle_s, warmup_s, steady_s, burst_rate, burst_s, size)
    finally:
        servers.stop()


def _run(servers: Servers, idle_s: float, warmup_s: float, steady_s: float, burst_rate: float,
         burst_s: float, size: tuple[int, int]) -> dict[str, Any]:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow, open_settings

    if os.environ.get("BENCH_SWITCH_INTERVAL_S"):  # to compare GIL switch intervals
        import sys

        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL_S"]))
    app = QApplication.instance() or QApplication([])
    window = MainWindow(open_settings(os.path.join(os.environ["ROTOR_DATA_DIR"], "s.ini")))
    window.streams.enabled = False  # the idle phase first; streams start on cue
    window.resize(*size)
    window.show()
    probe = Probe(window)
    ticker = QTimer()
    ticker.setTimerType(Qt.TimerType.PreciseTimer)
    ticker.timeout.connect(probe.tick)
    ticker.start(1)
    marks: dict[str, float] = {}
    cpu: dict[str, float] = {}
    out: dict[str, Any] = {}
    started = time.perf_counter()

    def mark(name: str) -> None:
        marks[name] = time.perf_counter()
        cpu[name] = _cpu_s()

    def step() -> None:
        now = time.perf_counter()
        if "ready" not in marks:  # start-up over: every panel shows data, no refresh running
            if (window.panels_have_data() and not window.scheduler.tracker.inflight) \
                    or now - started > 60:
                mark("ready")
        elif "idle0" not in marks:
            if now - marks["ready"] >= SETTLE_S:
                mark("idle0")
        elif "idle1" not in marks:
            if now - marks["idle0"] >= idle_s:
                mark("idle1")
                window.streams.enabled = True
                window.streams.start()
        elif "live" not in marks:
            states = window.streams.statuses
            if (states and all(s.label == "live" for s in states.values())) \
                    or now - marks["idle1"] > 30:
                mark("live")
                out["streams_live"] = {k: s.label for k, s in states.items()}
        elif "steady0" not in marks:
            if now - marks["live"] >= warmup_s:
                mark("steady0")
        elif "steady1" not in marks:
            if now - marks["steady0"] >= steady_s:
                mark("steady1")
                servers.burst(BURST_VENUE, burst_rate, burst_s)
                mark("burst0")
        elif "burst1" not in marks and now - marks["burst0"] >= burst_s:
            mark("burst1")
            stepper.stop()
            ticker.stop()
            hub = window.streams.hub
            out["stream_stats"] = hub.stats() if hub is not None else {}
            out["drained_never_painted"] = len(probe.pending)
            closing = time.perf_counter()
            window.close()
            out["close_ms"] = round((time.perf_counter() - closing) * 1e3, 1)
            app.quit()

    stepper = QTimer()
    stepper.timeout.connect(step)
    stepper.start(100)
    app.exec()

    def phase(a: str, b: str) -> dict[str, Any]:
        wall = marks[b] - marks[a]
        return {"seconds": round(wall, 1),
                "cpu_pct_of_core": round((cpu[b] - cpu[a]) / wall * 100, 1),
                "latency": probe.latency(marks[a], marks[b]),
                "lateness": probe.lateness(marks[a], marks[b]),
                **probe.paints_per_frame(marks[a], marks[b])}

    idle, steady, burst = phase("idle0", "idle1"), phase("steady0", "steady1"), \
        phase("burst0", "burst1")
    return {**out, "rates_msgs_per_s": STEADY_RATES,
            "burst": {"venue": BURST_VENUE, "msgs_per_s": burst_rate, "seconds": burst_s},
            "idle": idle, "steady": steady, "burst_phase": burst,
            "cpu_steady_over_idle": round(steady["cpu_pct_of_core"]
                                          / max(idle["cpu_pct_of_core"], 0.1), 2),
            "method": __doc__.split("\n\n")[2].replace("\n", " ")}
