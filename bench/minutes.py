"""Switching the price dock from 1h to 1m with BTC's whole minute history loaded:
`python -m bench --case minutes --n 4900000 --reps 3 --json`.

The store holds BTC's n synthetic minutes (4.9M: Binance's history since 2017-08-17) and its
hours, and a month of minutes and hours for the dock's other default intraday assets (the
futures: ES and NQ, not the cash indices, which a switch from 1h to 1m would not swap in);
the trader picks 1m in the interval box. Measured from the pick: the GUI thread's time inside
it, the first paint that shows BTC's minutes, and the paint once the whole history is drawable.
Each repetition forgets the prepared minutes first (as a fresh window would). The same switches
are then timed without drawing the newest rows first (models/newest_first.py), for the ratio.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench import frames as fr
from bench.dock_pan import STEMS as DAILY_STEMS
from bench.dock_pan import make_panel, synthetic_candles

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


def _intraday_stems() -> tuple[str, ...]:
    from models.assets import assets_for_interval

    return tuple(assets_for_interval(list(DAILY_STEMS), intraday=True))


STEMS = _intraday_stems()  # what the dock shows at 1h and 1m: BTC, ES, NQ, gold


def _series(n_minutes: int) -> dict[str, Any]:
    from models.ids import price_id

    out: dict[str, Any] = {}
    for i, stem in enumerate(STEMS):
        level = (50_000.0, 6_000.0, 21_000.0, 2_000.0)[i]
        minutes = n_minutes if stem == "btc" else 30 * 1440
        out[price_id(stem, "1m")] = synthetic_candles(minutes, seed=10 + i, interval_ms=MINUTE_MS,
                                                      level=level)
        out[price_id(stem, "1h")] = synthetic_candles(max(minutes // 60, 2), seed=20 + i,
                                                      interval_ms=HOUR_MS, level=level)
    return out


def _btc_minutes_drawn(panel: Any, full_rows: int | None) -> bool:
    """BTC's curve draws minute bars (all `full_rows` of them, when given)."""
    curve = panel._curves.get("btc")
    pyramid = curve.pyramid() if curve is not None else None
    if pyramid is None or len(pyramid) < 2:
        return False
    x = pyramid.x
    if x[-1] - x[-2] != 60.0:
        return False
    return full_rows is None or len(panel._prepared[_btc_1m()].t_raw) >= full_rows


def _btc_1m() -> str:
    from models.ids import price_id

    return price_id("btc", "1m")


def _switch(qapp: Any, panel: Any, full_rows: int, timeout_s: float = 120.0) -> dict[str, float]:
    """Pick 1m; pump events, noting the first paint that shows BTC's minutes and the first
    paint after the whole history became drawable."""
    first: float | None = None
    full: float | None = None
    paints = fr.PaintLog.count
    t0 = time.perf_counter()
    panel.interval_box.setCurrentText("1m")
    in_call = time.perf_counter() - t0
    deadline = t0 + timeout_s
    full_ready_at = None
    while full is None and time.perf_counter() < deadline:
        qapp.processEvents()
        if fr.PaintLog.count == paints:
            time.sleep(0.0005)
            continue
        paints = fr.PaintLog.count
        if first is None and _btc_minutes_drawn(panel, None):
            first = fr.PaintLog.last_end - t0
        if full_ready_at is None and _btc_minutes_drawn(panel, full_rows):
            full_ready_at = fr.PaintLog.last_end
            full = fr.PaintLog.last_end - t0
    return {"pick_call_ms": round(in_call * 1e3, 1),
            "first_paint_ms": round(first * 1e3, 1) if first is not None else None,
            "full_history_paint_ms": round(full * 1e3, 1) if full is not None else None}


def summarize_switches(out: dict[str, Any], baseline: str) -> None:
    """Medians of `out["runs"]` and of `out[baseline]["runs"]`, and the first paints' ratio."""
    for where in (out, out[baseline]):
        for key in ("pick_call_ms", "first_paint_ms", "full_history_paint_ms"):
            values = [r[key] for r in where["runs"] if r[key] is not None]
            where[key] = round(float(np.median(values)), 1) if values else None
    a, b = out["first_paint_ms"], out[baseline]["first_paint_ms"]
    out[f"first_paint_over_{baseline}"] = round(a / b, 3) if a and b else None
    out["median_ms"] = out["first_paint_ms"]


def minutes(n: int, reps: int, size: tuple[int, int]) -> dict[str, Any]:
    qapp = fr.app()
    from models.ids import price_id

    out: dict[str, Any] = {"btc_minutes": n, "size": list(size), "reps": reps}
    series = _series(n)
    panel = make_panel(qapp, size, series, STEMS, "1h")
    from ui.panels import prices

    def switches(newest_first: bool) -> list[dict[str, float]]:
        runs = []
        saved = prices.NEWEST_FIRST_ROWS
        if not newest_first:  # the whole history prepared before anything is drawn
            prices.NEWEST_FIRST_ROWS = 1 << 62
        try:
            for _ in range(reps):
                panel.interval_box.setCurrentText("1h")
                fr.settle(qapp)
                for stem in STEMS:  # as a window that has not shown minutes yet
                    panel._prepared.pop(price_id(stem, "1m"), None)
                runs.append(_switch(qapp, panel, n))
                fr.settle(qapp)
        finally:
            prices.NEWEST_FIRST_ROWS = saved
        return runs

    out["runs"] = switches(True)
    out["without_newest_first"] = {"runs": switches(False)}
    summarize_switches(out, "without_newest_first")
    panel.shutdown()
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(30_000)
    return out


# -- memory: BTC and ETH's whole minute history on the dock, every other series loaded ----------
def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    return float("nan")


def _everything(n_minutes: int) -> dict[str, Any]:
    """BTC and ETH: n minutes and every coarser interval over the same span (what the store
    holds once they are resampled); the other assets: 1h and 1d over 8 years, a month of 1m."""
    from models.catalog import INTERVAL_MS, PRICE_INTERVALS, PRICE_STEMS
    from models.ids import price_id

    out: dict[str, Any] = {}
    span_ms = n_minutes * MINUTE_MS
    for i, stem in enumerate(PRICE_STEMS):
        for interval in PRICE_INTERVALS:
            step = INTERVAL_MS[interval]
            if stem in ("btc", "eth"):
                rows = span_ms // step
            elif interval == "1m":
                rows = 30 * 1440
            else:
                rows = min(8 * 365 * 86_400_000 // step, 30 * 1440)
            out[price_id(stem, interval)] = synthetic_candles(max(int(rows), 2), seed=100 + i,
                                                              interval_ms=step)
    return out


def prepared_bytes(prepared: Any) -> int:
    """Bytes of the row buffers the prepared series hold beyond the store's (a buffer two of
    them share counted once; a view counted as the buffer it is a view of)."""
    buffers: dict[int, int] = {}
    for p in prepared:
        rows = [*p.line._rows.buf.values(), p.t_raw]
        if p.ohlc is not None:
            rows += p.ohlc._rows.buf.values()
        for a in rows:
            base = a if a.base is None else a.base
            if not any(np.may_share_memory(base, c) for c in p.source.columns.values()):
                buffers[id(base)] = base.nbytes
    return sum(buffers.values())


def minutes_rss(n: int, size: tuple[int, int]) -> dict[str, Any]:
    """RSS with BTC and ETH's n minutes each drawn on the price dock as lines (its default: a
    line pyramid each; a candle pyramid is built only when candles are drawn) and every other
    price series in the store; then the same drawn as candles (`rss_candles_mb`), then as
    lines again (`rss_line_again_mb`)."""
    import gc

    qapp = fr.app()
    out: dict[str, Any] = {"btc_eth_minutes_each": n, "size": list(size)}
    out["rss_start_mb"] = _rss_mb()
    series = _everything(n)
    out["series"] = len(series)
    out["rows_total"] = int(sum(len(d) for d in series.values()))
    out["store_mb"] = round(sum(d.time.nbytes + sum(c.nbytes for c in d.columns.values())
                                for d in series.values()) / 2**20, 1)
    panel = make_panel(qapp, size, series, ("btc", "eth", "spx", "gold"), "1m")
    from models.ids import price_id

    full = {price_id("btc", "1m"), price_id("eth", "1m")}
    from bench.dock_pan import _wait

    out["whole_history_prepared"] = _wait(
        qapp, lambda: all(s in panel._prepared and panel._prepared[s].source is series[s]
                          for s in full), 300.0)
    fr.settle(qapp)
    gc.collect()
    out["rss_mb"] = _rss_mb()
    out["prepared_rows"] = {sid: len(p.t_raw) for sid, p in panel._prepared.items()
                            if len(p.t_raw) > 100_000}
    out["prepared_rows_mb"] = round(prepared_bytes(panel._prepared.values()) / 2**20, 1)
    out["prepared_levels_mb"] = round(sum(p.line.nbytes() + (p.ohlc.nbytes() if p.ohlc else 0)
                                          for p in panel._prepared.values()) / 2**20, 1)
    panel.style_box.setCurrentText("candles")
    out["candles_prepared"] = _wait(
        qapp, lambda: all(panel._prepared[s].ohlc is not None for s in full), 300.0)
    fr.settle(qapp)
    gc.collect()
    out["rss_candles_mb"] = _rss_mb()
    panel.style_box.setCurrentText("line")  # the candle pyramids are dropped again
    fr.settle(qapp)
    gc.collect()
    out["rss_line_again_mb"] = _rss_mb()
    out["median_ms"] = None
    panel.shutdown()
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(60_000)
    return out


# -- cold start with the minute history in the cache ------------------------------------------
def coldstart_minutes(n: int, reps: int) -> dict[str, Any]:
    """`main.py --demo` to its first painted chart, with and without BTC and ETH's n minutes
    each in its cache (same data dir, same run), against the same run's minimal one-chart
    program. The window opens on 1h: the minutes must cost its start nothing."""
    import tempfile
    from pathlib import Path

    from bench.startup import _env, _run, minimal_chart_baseline
    from models.ids import price_id
    from services.app import DEMO_CACHE_FILE
    from services.cache import Cache

    out: dict[str, Any] = {"btc_eth_minutes_each": n, "reps": reps}

    def runs(env: dict[str, str], data_dir: str) -> dict[str, Any]:
        for f in Path(data_dir).rglob("*"):  # page-cache warm, as a second start has it
            if f.is_file():
                f.read_bytes()
        marks = [_run(env, 0.5)[0].get("first_chart_painted") for _ in range(reps)]
        ok = [m for m in marks if m is not None]
        return {"first_chart_painted_ms": round(float(np.median(ok)), 1) if ok else None,
                "runs_ms": marks}

    with tempfile.TemporaryDirectory() as data_dir:
        env = _env(data_dir)
        _run(env, 0.5)  # writes the demo cache
        out["without_minutes"] = runs(env, data_dir)
        cache = Cache(Path(data_dir) / DEMO_CACHE_FILE)
        t = time.perf_counter()
        for i, stem in enumerate(("btc", "eth")):
            cache.upsert(price_id(stem, "1m"), synthetic_candles(
                n, seed=30 + i, interval_ms=MINUTE_MS, level=(50_000.0, 3_000.0)[i]))
        out["store_minutes_s"] = round(time.perf_counter() - t, 1)
        out["cache_mb"] = round((Path(data_dir) / DEMO_CACHE_FILE).stat().st_size / 2**20, 1)
        cache.close()
        out["with_minutes"] = runs(env, data_dir)
    out["minimal_chart"] = minimal_chart_baseline(reps)
    base = out["minimal_chart"]["median_ms"]
    for key in ("without_minutes", "with_minutes"):
        value = out[key]["first_chart_painted_ms"]
        out[key]["beyond_minimal_chart_ms"] = None if value is None else round(value - base, 1)
    a = out["with_minutes"]["first_chart_painted_ms"]
    b = out["without_minutes"]["first_chart_painted_ms"]
    out["with_over_without"] = round(a / b, 3) if a and b else None
    out["median_ms"] = a
    return out
