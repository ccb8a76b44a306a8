"""Settled-frame measurement (docs/performance.md, Frames).

One frame = from just before the range change until the end of the *last* paintEvent it caused,
draining the event loop until two `processEvents()` rounds in a row bring no new paint. Paints
are counted by wrapping `pyqtgraph.GraphicsView.paintEvent` at class level, so every view
(PlotWidget, finplot's FinWindow, a GraphicsLayoutWidget) is counted the same way.
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np

SIZE = (1600, 900)
SIZE_4K = (3840, 2160)
X0 = 1_600_000_000.0  # epoch seconds of row 0
DX = 60.0  # one-minute rows


class PaintLog:
    count = 0
    last_end = 0.0


_hooked = False


def install_paint_hook() -> None:
    global _hooked
    if _hooked:
        return
    import pyqtgraph as pg

    original = pg.GraphicsView.paintEvent

    def paintEvent(self: Any, ev: Any) -> None:
        original(self, ev)
        PaintLog.count += 1
        PaintLog.last_end = time.perf_counter()

    pg.GraphicsView.paintEvent = paintEvent
    _hooked = True


def app() -> Any:
    from PySide6.QtWidgets import QApplication

    install_paint_hook()
    return QApplication.instance() or QApplication([])


def settle(qapp: Any, max_s: float = 600.0) -> None:
    """Process events until two rounds in a row bring no new paint."""
    quiet = 0
    deadline = time.perf_counter() + max_s
    while quiet < 2 and time.perf_counter() < deadline:
        n = PaintLog.count
        qapp.processEvents()
        quiet = quiet + 1 if PaintLog.count == n else 0


def timed_frame(qapp: Any, action: Callable[[], object]) -> dict[str, float]:
    """Run `action` (a range change) and drain: settled ms, first-paint ms, paints."""
    first_end: list[float] = []
    p0 = PaintLog.count
    t0 = time.perf_counter()
    action()
    quiet = 0
    while quiet < 2:
        n = PaintLog.count
        qapp.processEvents()
        if PaintLog.count != n and not first_end:
            first_end.append(PaintLog.last_end)
        quiet = quiet + 1 if PaintLog.count == n else 0
    paints = PaintLog.count - p0
    if paints == 0:  # nothing repainted: the frame is the time spent until settled
        end = time.perf_counter()
        return {"ms": (end - t0) * 1e3, "first_ms": float("nan"), "paints": 0}
    return {"ms": (PaintLog.last_end - t0) * 1e3, "first_ms": (first_end[0] - t0) * 1e3,
            "paints": paints}


def stats(frames: Sequence[dict[str, float]]) -> dict[str, float]:
    ms = np.array([f["ms"] for f in frames])
    first = np.array([f["first_ms"] for f in frames])
    paints = np.array([f["paints"] for f in frames])
    first = first[np.isfinite(first)]
    return {
        "median_ms": round(float(np.median(ms)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "max_ms": round(float(ms.max()), 3),
        "first_paint_ms": round(float(np.median(first)), 3) if len(first) else None,
        "paints_per_pan": round(float(np.median(paints)), 2),
        "frames": len(frames),
    }


def sweep(view: str, n: int, frames: int, kind: str = "line") -> list[tuple[float, float]]:
    """x ranges (row units) for frames + 1 pans (the first one is the warm-up, discarded).

    out:  lines: all rows in view, panned over -5 % .. +5 % of the span;
          candles: 90 % of the rows in view, the sweep covers the other 10 %.
    in1:  the last 1 % of the rows, panned left by 2 % (lines) or 5 % (candles) of a view width
          per frame.
    """
    steps = frames + 1
    span = float(max(n - 1, 1))
    if view == "out":
        if kind == "candles":
            width = 0.9 * span
            starts = np.linspace(0.0, 0.1 * span, steps)
        else:
            width = span
            starts = np.linspace(-0.05 * span, 0.05 * span, steps)
        return [(float(s), float(s) + width) for s in starts]
    if view == "in1":
        width = 0.01 * span
        step = (0.05 if kind == "candles" else 0.02) * width
        right = span
        return [(right - width - i * step, right - i * step) for i in range(steps)]
    raise ValueError(f"unknown view {view!r}")


def run_sweep(qapp: Any, set_range: Callable[[float, float], object],
              ranges: Sequence[tuple[float, float]]) -> dict[str, float]:
    out = [timed_frame(qapp, lambda a=a, b=b: set_range(a, b)) for a, b in ranges]
    return stats(out[1:])  # frame 0 is the warm-up


def walk(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(n)
    np.cumsum(y, out=y)
    y += 10_000.0
    return y


def line_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = X0 + DX * np.arange(n, dtype=np.float64)
    return x, walk(n)


def ohlc_data(n: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(2)
    x = X0 + DX * np.arange(n, dtype=np.float64)
    c = walk(n, seed=3)
    o = np.empty(n)
    o[0] = c[0]
    o[1:] = c[:-1]
    spread = np.abs(rng.standard_normal(n)) * 0.5
    h = np.maximum(o, c) + spread
    low = np.minimum(o, c) - spread[::-1]
    return x, o, h, low, c


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def finite(v: float | None) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return v
