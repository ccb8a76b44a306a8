"""The real price dock panned: `python -m bench --case dock_pan --n 1000000 --json`.

`ui/panels/prices.py`'s `PricesPanel` on its own store (no window), four stacked x-linked plots
(BTC, S&P 500, Nasdaq 100, gold: the default assets) of n synthetic hourly candles each, with
its grid, crosshair (moved every frame, as a drag does: on the same instant), gamma levels, funding
shading and liquidation-burst marks. Then the same panel with BTC alone: the ratio of the two
is the price of stacking. Frames are settled frames (bench/frames.py, docs/performance.md).
"""

from __future__ import annotations

import tempfile
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench import frames as fr

HOUR_MS = 3_600_000
END_MS = 1_770_422_400_000  # 2026-02-07 00:00 UTC, the demo's end
STEMS = ("btc", "spx", "ndx", "gold")


def synthetic_candles(n: int, seed: int, interval_ms: int = HOUR_MS,
                      end_ms: int = END_MS, level: float = 50_000.0) -> Any:
    """n OHLCV bars ending at end_ms: a positive random walk (multiplicative, like prices)."""
    from models.series import SeriesData

    rng = np.random.default_rng(seed)
    times = end_ms - interval_ms * np.arange(n - 1, -1, -1, dtype=np.int64)
    close = level * np.exp(np.cumsum(rng.standard_normal(n) * 0.002))
    open_ = np.empty(n)
    open_[0] = close[0]
    open_[1:] = close[:-1]
    wick = np.abs(rng.standard_normal(n)) * close * 0.001
    return SeriesData(times, {"open": open_, "high": np.maximum(open_, close) + wick,
                              "low": np.minimum(open_, close) - wick, "close": close,
                              "volume": np.abs(rng.standard_normal(n)) * 10.0})


def _wait(qapp: Any, cond: Any, timeout_s: float = 120.0) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not cond():
        if time.perf_counter() > deadline:
            return False
        qapp.processEvents()
        time.sleep(0.002)
    return True


def _overlays(panel: Any, data: dict[str, Any]) -> dict[str, int]:
    """What the dock draws over the prices in a live window: gamma levels on BTC (the demo's
    preset plus derived ones), negative-funding shading on every plot, liquidation bursts."""
    from models.levels import CALL_WALL, GAMMA_FLIP, PUT_WALL, Level

    btc = data["btc"]
    t = btc.time
    last = float(btc["close"][-1])
    # ~1 run of negative funding a fortnight over the last 2 years (what BTC's history shows)
    starts = t[-17_520::336]
    negative = tuple((int(a), int(a) + 12 * HOUR_MS) for a in starts)
    panel._on_overlay("_funding")(SimpleNamespace(
        negative=negative, as_of_ms=int(t[-1]), venues={}, weighting="open interest"))
    levels = [Level(last * 0.97, "gamma flip", GAMMA_FLIP),
              Level(last * 1.05, "call wall", CALL_WALL), Level(last * 0.92, "put wall", PUT_WALL)]
    panel._on_overlay("_chain")(SimpleNamespace(
        levels=lambda: levels, time_ms=int(t[-1]), convention="synthetic", spot=last))
    return {"funding_bands_per_plot": len(negative), "levels": len(levels)}


def make_panel(qapp: Any, size: tuple[int, int], series: dict[str, Any], stems: tuple[str, ...],
               interval: str = "1h") -> Any:
    """A price panel on its own store and feeds, shown at `size`, with `series` (series id ->
    SeriesData) in the store, waiting until the shown interval's series are prepared."""
    from ui.derived_feeds import DerivedFeeds
    from ui.main_window import open_settings
    from ui.panels.base import UiContext
    from ui.panels.prices import PricesPanel
    from ui.scheduler import Scheduler
    from ui.store import DataStore

    settings = open_settings(tempfile.mkdtemp(prefix="rotor-dockpan-") + "/settings.ini")
    settings.setValue("prices/assets", list(stems))
    settings.setValue("prices/interval", interval)
    store = DataStore()
    store.demo = True  # the demo's preset BTC level is drawn too
    scheduler = Scheduler()
    ctx = UiContext(store, scheduler, settings,
                    DerivedFeeds(store, scheduler, settings, held=False))
    panel = PricesPanel(ctx)
    panel.resize(*size)
    panel.show()
    for series_id, data in series.items():
        store.set_series(series_id, data)
    shown = [sid for sid in series if sid.endswith(f".{interval}")]
    if not _wait(qapp, lambda: all(sid in panel._prepared for sid in shown)):
        raise RuntimeError("the prices were not prepared within 120 s")
    fr.settle(qapp)
    return panel


def _sweep(qapp: Any, panel: Any, ranges: list[tuple[float, float]], cursor: bool
           ) -> dict[str, Any]:
    plots = list(dict.fromkeys(panel._plots.values()))
    first = plots[0]
    cross = panel.crosshair
    # A drag moves the data with the mouse: the cursor stays on one instant (inside every
    # range of the sweep); its height on screen stays, the price there follows the y range.
    x_cursor = (max(a for a, _ in ranges) + min(b for _, b in ranges)) / 2

    def pan(a: float, b: float) -> None:
        # as a mouse drag does (ViewBox.mouseDragEvent): the range, then "the user moved it",
        # which the window's time link publishes to the linked docks
        first.setXRange(a, b, padding=0)
        first.vb.sigRangeChangedManually.emit(first.vb.state["mouseEnabled"])
        if cursor:  # the mouse over BTC's plot: lines and readout follow it
            y = float(np.mean(first.vb.viewRange()[1]))
            cross._show(x_cursor, y, first)

    frames, cpu = [], []
    for a, b in ranges:
        c0 = time.thread_time()
        frames.append(fr.timed_frame(qapp, lambda a=a, b=b: pan(a, b)))
        cpu.append((time.thread_time() - c0) * 1e3)
    out = fr.stats(frames[1:])  # frame 0 is the warm-up
    out["slowest_ms"] = sorted(round(f["ms"], 1) for f in frames[1:])[-3:]
    # the GUI thread's CPU time per frame (incl. the drain's empty rounds): steadier than the
    # wall clock while other processes share the cores
    out["cpu_median_ms"] = round(float(np.median(cpu[1:])), 3)
    out["cpu_p95_ms"] = round(float(np.percentile(cpu[1:], 95)), 3)
    return out


def _ranges(t_first_s: float, t_last_s: float, view: str, frames: int
            ) -> list[tuple[float, float]]:
    span = t_last_s - t_first_s
    out = []
    for a, b in fr.sweep(view, 1_000_001, frames, "line"):
        out.append((t_first_s + span * a / 1e6, t_first_s + span * b / 1e6))
    return out


def dock_pan(n: int, frames: int, size: tuple[int, int], views: tuple[str, ...] = ("out", "in1"),
             profile: str | None = None) -> dict[str, Any]:
    qapp = fr.app()
    out: dict[str, Any] = {"n": n, "plots": len(STEMS), "size": list(size), "interval": "1h"}
    data = {stem: synthetic_candles(n, seed=i + 1, level=(50_000.0, 6_000.0, 21_000.0,
                                                          2_000.0)[i])
            for i, stem in enumerate(STEMS)}
    t_first = data["btc"].time[0] / 1e3
    t_last = data["btc"].time[-1] / 1e3
    tb = time.perf_counter()
    from models.ids import price_id

    panel = make_panel(qapp, size, {price_id(s, "1h"): data[s] for s in STEMS}, STEMS)
    out["build_and_prepare_s"] = round(time.perf_counter() - tb, 2)
    out["overlays"] = _overlays(panel, data)
    fr.settle(qapp)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    for view in views:
        ranges = _ranges(t_first, t_last, view, frames)
        if profiler is not None:
            profiler.enable()
        out[f"four/{view}"] = _sweep(qapp, panel, ranges, cursor=True)
        if profiler is not None:
            profiler.disable()
        out[f"four/{view}/no_cursor"] = _sweep(qapp, panel, ranges, cursor=False)
    if profiler is not None:
        profiler.dump_stats(profile)
    # The same panel with BTC alone: the single-plot pan of the same run.
    for stem in STEMS[1:]:
        panel.asset_boxes[stem].setChecked(False)
    fr.settle(qapp)
    assert len(panel._plots) == 1
    for view in views:
        ranges = _ranges(t_first, t_last, view, frames)
        out[f"one/{view}"] = _sweep(qapp, panel, ranges, cursor=True)
    for view in views:
        four, one = out[f"four/{view}"], out[f"one/{view}"]
        out[f"ratio_four_over_one/{view}"] = {
            "median": round(four["median_ms"] / one["median_ms"], 3),
            "p95": round(four["p95_ms"] / one["p95_ms"], 3)}
    # the headline numbers: the zoomed-out four-plot pan
    head = out[f"four/{views[0]}"]
    out.update(median_ms=head["median_ms"], p95_ms=head["p95_ms"], max_ms=head["max_ms"])
    panel.shutdown()
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(30_000)  # the feeds' workers, before exiting
    return out
