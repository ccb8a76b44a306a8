"""`python -m bench --case indicators`: a 5M-row minute series panned with and without three
indicators (SMA 50, EMA 200, session VWAP) on it, in one process (docs/indicators.md).

Both charts are the price dock's: a PlotItem on the prompt ViewBox with Rotor's LOD line item;
the indicator lines are LOD items too, built by `models.indicator_lines.compute_lines` (the
worker's job, timed here as `compute_ms`). The two charts are panned alternately, frame by
frame, so both see the same machine load; the ratios are with / without.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench import frames as fr

KEYS = ("sma50", "ema200", "vwap")


def _chart(size: tuple[int, int], pyramids: list[Any]) -> tuple[Any, Any]:
    import pyqtgraph as pg

    from ui.charts.indicator_items import IndicatorLineItem
    from ui.charts.lod_item import LodCurveItem
    from ui.charts.viewbox import PromptViewBox

    w = pg.PlotWidget(viewBox=PromptViewBox())
    w.resize(*size)
    plot = w.getPlotItem()
    for i, pyramid in enumerate(pyramids):
        line = (LodCurveItem if i == 0 else IndicatorLineItem)(
            pyramid, pen=pg.mkPen("w" if i == 0 else "y"))
        plot.addItem(line, ignoreBounds=i > 0)  # as the dock adds indicator lines
    w.show()
    return w, plot


def indicators(n: int, frames: int, size: tuple[int, int]) -> dict[str, Any]:
    from models import indicator_lines
    from models.lod import MinMaxPyramid
    from models.series import SeriesData

    indicator_lines.INDICATORS.setdefault("ema200", "EMA 200")  # a bench-only period
    out: dict[str, Any] = {"n": n, "indicators": list(KEYS), "size": list(size)}
    x, close = fr.line_data(n)
    rng = np.random.default_rng(4)
    spread = np.abs(rng.standard_normal(n)) * 0.5
    data = SeriesData((x * 1e3).astype(np.int64),
                      {"open": close, "high": close + spread, "low": close - spread,
                       "close": close, "volume": rng.uniform(0.1, 5.0, n)})
    t = time.perf_counter()
    lines = indicator_lines.compute_lines(data, KEYS, int(fr.DX * 1e3), calendar="24/7")
    out["compute_ms"] = round((time.perf_counter() - t) * 1e3, 1)
    price = MinMaxPyramid.build(x, close)
    extra = [p for key in KEYS for _name, p in lines.lines[key]]
    qapp = fr.app()
    charts = {"price": _chart(size, [price]), "with_indicators": _chart(size, [price, *extra])}
    for view in ("out", "in1"):
        ranges = fr.sweep(view, n, frames, "line")
        setters = {}
        for name, (_w, plot) in charts.items():
            vb = plot.getViewBox()

            def set_range(a: float, b: float, vb: Any = vb) -> None:
                vb.setXRange(fr.X0 + fr.DX * a, fr.X0 + fr.DX * b, padding=0)

            setters[name] = set_range
            set_range(*ranges[0])
            fr.settle(qapp)
        # frame by frame, alternating: both charts see the same machine load
        timed: dict[str, list[dict[str, float]]] = {name: [] for name in charts}
        for a, b in ranges:
            for name, set_range in setters.items():
                timed[name].append(fr.timed_frame(qapp, lambda a=a, b=b, f=set_range: f(a, b)))
        for name, frames_of in timed.items():
            out[f"{view}/{name}"] = fr.stats(frames_of[1:])  # frame 0 is the warm-up
        for stat in ("p95_ms", "median_ms"):
            base = out[f"{view}/price"][stat]
            with_ind = out[f"{view}/with_indicators"][stat]
            out[f"{view}/{stat[:-3]}_ratio"] = round(with_ind / base, 3) if base else None
    for w, _plot in charts.values():
        w.close()
    return out
