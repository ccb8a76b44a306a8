"""The case list, ratios and targets for `python -m bench` (one JSON document)."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

Spawn = Callable[[list[str], float], dict[str, Any]]
E4, E5, E6, E7 = 10_000, 100_000, 1_000_000, 10_000_000
FRAME_BUDGET_MS = 16.7


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    qt = None
    try:
        from PySide6 import QtCore

        qt = QtCore.qVersion()
    except ImportError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "qt": qt, "pyside6": _version("PySide6-Essentials") or _version("PySide6"),
            "pyqtgraph": _version("pyqtgraph"), "numpy": _version("numpy"),
            "pandas": _version("pandas"), "finplot": _version("finplot"),
            "pyqt6_installed": _version("PyQt6") is not None,
            "qpa": "offscreen", "size": [1600, 900], "size_4k": [3840, 2160],
            "switch_interval_s": sys.getswitchinterval()}


def plan(quick: bool) -> list[tuple[str, list[str], float]]:
    """(key, argv, timeout_s) per case, in run order."""
    cases: list[tuple[str, list[str], float]] = []
    fr = "10" if quick else "30"
    tmo = 120.0 if quick else 600.0

    def line(contender: str, n: int, view: str, size: str = "1600x900",
             frames: str = fr) -> None:
        key = f"line/{contender}/{n:.0e}/{view}" + ("/4k" if size != "1600x900" else "")
        cases.append((key, ["--case", "line", "--contender", contender, "--n", str(n),
                            "--view", view, "--frames", frames, "--size", size], tmo))

    def candles(contender: str, n: int, view: str, frames: str = fr) -> None:
        cases.append((f"candles/{contender}/{n:.0e}/{view}",
                      ["--case", "candles", "--contender", contender, "--n", str(n),
                       "--view", view, "--frames", frames], tmo))

    if quick:
        for c in ("empty", "defaults", "clippeak", "rotor"):
            line(c, E4, "out")
        for c in ("clippeak", "rotor"):
            line(c, E7, "out")
            line(c, E7, "in1")
        line("empty", E4, "out", "3840x2160")
        line("rotor", E7, "out", "3840x2160")
        for c in ("rotor", "finplot"):
            candles(c, E6, "out")
            candles(c, E6, "in1")
        candles("naive", E5, "out", "5")
    else:
        for n in (E4, E5, E6, E7):
            for view in ("out", "in1"):
                for c in ("empty", "defaults", "clippeak", "rotor"):
                    if c == "empty" and n != E4:
                        continue  # the empty chart holds no rows: one size is enough
                    line(c, n, view)
        for view in ("out", "in1"):
            line("empty", E4, view, "3840x2160")
            line("rotor", E7, view, "3840x2160")
            line("clippeak", E7, view, "3840x2160")
        for n in (E6, E7):
            for view in ("out", "in1"):
                candles("rotor", n, view)
                candles("finplot", n, view, fr if n == E6 else "10")
        candles("naive", E5, "out", "10")
        candles("naive", E6, "out", "5")
    # The price dock's own layout: four stacked, x-linked plots with grids.
    for grid in ("none", "pyqtgraph", "rotor"):
        cases.append((f"stacked/{grid}", ["--case", "stacked", "--contender", grid, "--n",
                                          str(E5 if quick else E6), "--frames", fr], tmo))
    # A 5M-row series panned with and without three indicators (bench/indicators.py).
    cases.append(("indicators", ["--case", "indicators", "--n", str(500_000 if quick else 5 * E6),
                                 "--frames", fr], tmo))
    # Issue 16: the real price dock (bench/dock_pan.py) at a laptop's and a desktop's size, the
    # 1h -> 1m switch over BTC's whole minute history, memory and cold start with it.
    for size in ("1366x768", "1920x1080"):
        cases.append((f"dock_pan/{size}", ["--case", "dock_pan", "--n", str(E6), "--frames", fr,
                                           "--size", size], tmo))
    minutes = str(E6 if quick else 4_900_000)
    cases.append(("minutes", ["--case", "minutes", "--n", minutes, "--reps", "3"], tmo))
    cases.append(("minutes_cached", ["--case", "minutes_cached", "--n", minutes, "--reps",
                                     "3"], tmo))
    cases.append(("minutes_rss", ["--case", "minutes_rss", "--n", minutes], tmo))
    cases.append(("coldstart_minutes", ["--case", "coldstart_minutes", "--n", minutes,
                                        "--reps", "3" if quick else "5"], tmo))
    rows = str(200_000 if quick else E6)
    cases.append(("stall/backfill", ["--case", "stall", "--task", "backfill", "--n", rows], tmo))
    cases.append(("stall/json_loads", ["--case", "stall", "--task", "json_loads", "--n", rows],
                  tmo))
    cases.append(("cache_read", ["--case", "cache_read", "--n", str(E6), "--reps",
                                 "5" if quick else "9"], tmo))
    cases.append(("backfill_size", ["--case", "backfill_size", "--n",
                                    str(200_000 if quick else E6), "--reps", "5"], tmo))
    cases.append(("append", ["--case", "append", "--n", str(E7), "--reps",
                             "20" if quick else "100"], tmo))
    cases.append(("append_pg", ["--case", "append_pg", "--n", str(E7), "--reps",
                                "1" if quick else "3"], tmo))
    cases.append(("swap", ["--case", "swap", "--n", str(E7), "--reps", "3" if quick else "7"],
                  tmo))
    cases.append(("import_baseline", ["--case", "import_baseline", "--reps",
                                      "3" if quick else "5"], tmo))
    cases.append(("minimal_chart", ["--case", "minimal_chart", "--reps",
                                    "3" if quick else "5"], tmo))
    # The live window streaming from the loopback venues: steady, then a liquidation cascade.
    cases.append(("streams", ["--case", "streams", "--idle-s", "10" if quick else "20",
                              "--steady-s", "20" if quick else "60", "--burst-rate", "2000",
                              "--burst-s", "10"], tmo))
    # Alert rules: a new row through 100 rules, and the back-test of 100 rules (bench/alerts.py).
    cases.append(("alerts", ["--case", "alerts", "--reps", "1" if quick else "3", "--n",
                             "500" if quick else "2000"], tmo))
    # BTC's whole minute history to hourly bars, against pandas in the same process.
    cases.append(("resample", ["--case", "resample", "--n", "4900000", "--reps",
                               "3" if quick else "5"], tmo))
    cases.append(("cold_start", ["--case", "coldstart", "--reps", "3" if quick else "5",
                                 "--wait-all-s", "3" if quick else "8"], tmo))
    return cases


def _ok(r: dict[str, Any] | None) -> bool:
    return bool(r) and r.get("status") == "ok"


def _get(r: dict[str, Any] | None, *path: str) -> float | None:
    cur: Any = r
    if not _ok(r):
        return None
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur if isinstance(cur, int | float) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def ratios(res: dict[str, dict[str, Any]]) -> dict[str, Any]:
    med = {k: _get(v, "median_ms") for k, v in res.items()}
    out: dict[str, Any] = {}

    def put(name: str, slower: str, faster: str) -> None:
        """out[name] = median(slower case) / median(faster case), when both ran."""
        r = _ratio(med.get(slower), med.get(faster))
        if r is not None:
            out[name] = r

    for n in (E4, E5, E6, E7):
        for view in ("out", "in1"):
            rotor = f"line/rotor/{n:.0e}/{view}"
            for peer, name in (("clippeak", "vs_clippeak"), ("defaults", "vs_defaults")):
                put(f"line_{n:.0e}_{view}_{name}", f"line/{peer}/{n:.0e}/{view}", rotor)
            put(f"line_{n:.0e}_{view}_floor_ratio", rotor, f"line/empty/{E4:.0e}/{view}")
    for view in ("out", "in1"):
        put(f"line_n_scaling_{view}", f"line/rotor/{E7:.0e}/{view}",
            f"line/rotor/{E4:.0e}/{view}")
        put(f"line_n_scaling_{view}_clippeak", f"line/clippeak/{E7:.0e}/{view}",
            f"line/clippeak/{E4:.0e}/{view}")
        put(f"line_4k_1e+07_{view}_floor_ratio", f"line/rotor/{E7:.0e}/{view}/4k",
            f"line/empty/{E4:.0e}/{view}/4k")
        put(f"line_4k_1e+07_{view}_vs_clippeak", f"line/clippeak/{E7:.0e}/{view}/4k",
            f"line/rotor/{E7:.0e}/{view}/4k")
        for n in (E6, E7):
            for peer in ("finplot", "naive"):
                put(f"candles_{n:.0e}_{view}_vs_{peer}", f"candles/{peer}/{n:.0e}/{view}",
                    f"candles/rotor/{n:.0e}/{view}")
    # The headline names.
    out["vs_clippeak"] = out.get("line_1e+07_out_vs_clippeak")
    out["vs_finplot"] = out.get("candles_1e+06_out_vs_finplot")
    out["floor_ratio"] = out.get("line_1e+07_out_floor_ratio")
    out["n_scaling"] = out.get("line_n_scaling_out")
    sm = res.get("streams")
    for name, path in (("streams_cpu_steady_over_idle", ("cpu_steady_over_idle",)),):
        value = _get(sm, *path)
        if value is not None:
            out[name] = value
    burst_p99 = _get(sm, "burst_phase", "latency", "p99_ms")
    steady_p99 = _get(sm, "steady", "latency", "p99_ms")
    if _ratio(burst_p99, steady_p99) is not None:
        out["streams_latency_p99_burst_over_steady"] = _ratio(burst_p99, steady_p99)
    # Three indicators on a 5M-row series against the bare series, panned alternately in one
    # process (bench/indicators.py).
    for view in ("out", "in1"):
        for stat in ("p95", "median"):
            value = _get(res.get("indicators"), f"{view}/{stat}_ratio")
            if value is not None:
                out[f"indicators_{view}_{stat}_ratio"] = value
    for size in ("1366x768", "1920x1080"):
        dock = res.get(f"dock_pan/{size}")
        value = _get(dock, "ratio_four_over_one/out", "p95")
        if value is not None:
            out[f"dock_pan_{size}_four_over_one_plot_p95"] = value
    value = _get(res.get("coldstart_minutes"), "with_over_without")
    if value is not None:
        out["cold_start_with_minutes_over_without"] = value
    put("stacked_vs_pyqtgraph_grid", "stacked/pyqtgraph", "stacked/rotor")
    put("stacked_floor_ratio", "stacked/rotor", "stacked/none")
    stall_max = _get(res.get("stall/backfill"), "lateness_max_ms")
    out["stall_max_over_frame_budget"] = _ratio(stall_max, FRAME_BUDGET_MS)
    # Cold start against two same-run baselines: the bare `import PySide6.QtWidgets, pyqtgraph`
    # (no Qt + pyqtgraph program starts faster) and the first paint of the simplest one-chart
    # pyqtgraph program; "beyond" is what Rotor's window adds on top.
    for base in ("import_baseline", "minimal_chart"):
        floor = _get(res.get(base), "median_ms")
        for mark in ("first_chart_painted", "all_docks_painted"):
            value = _get(res.get("cold_start"), f"{mark}_ms")
            if value is not None and floor is not None:
                out[f"cold_start_{mark}_beyond_{base}_ms"] = round(value - floor, 1)
                out[f"cold_start_{mark}_over_{base}"] = _ratio(value, floor)
    return out


def targets(res: dict[str, dict[str, Any]], rat: dict[str, Any]) -> list[dict[str, Any]]:
    def t(name: str, value: float | None, op: str, limit: float, what: str) -> dict[str, Any]:
        if value is None:
            verdict: str = "missing"
        elif op == "<=":
            verdict = "pass" if value <= limit else "fail"
        else:
            verdict = "pass" if value >= limit else "fail"
        return {"target": name, "value": value, "op": op, "limit": limit, "result": verdict,
                "measure": what}

    line7 = res.get("line/rotor/1e+07/out")
    k4 = res.get("line/rotor/1e+07/out/4k")
    c6 = res.get("candles/rotor/1e+06/out")
    c6in = res.get("candles/rotor/1e+06/in1")
    c7 = res.get("candles/rotor/1e+07/out")
    st = res.get("stall/backfill")
    cs = res.get("cold_start")
    ap = res.get("append")
    sw = res.get("swap")
    cr = res.get("cache_read")
    bs = res.get("backfill_size")
    sm = res.get("streams")
    out = [
        t("G1 10M line out median", _get(line7, "median_ms"), "<=", 4.0, "ms, settled"),
        t("G1 10M line out p95", _get(line7, "p95_ms"), "<=", 6.0, "ms, settled"),
        t("G1 vs clipToView+peak", rat.get("vs_clippeak"), ">=", 4.0, "clippeak/rotor median"),
        t("G2 n_scaling", rat.get("n_scaling"), "<=", 1.25, "rotor 1e7/1e4 out median"),
        t("G3 floor_ratio", rat.get("floor_ratio"), "<=", 2.0, "rotor 1e7 out / empty chart"),
        t("G4 4K 10M out median", _get(k4, "median_ms"), "<=", 12.0, "ms, 3840x2160"),
        t("G4 4K 10M out p95", _get(k4, "p95_ms"), "<=", 16.7, "ms, 3840x2160"),
        t("G5 1M candles out p95", _get(c6, "p95_ms"), "<=", 6.0, "ms, settled"),
        t("G5 vs finplot", rat.get("vs_finplot"), ">=", 15.0, "finplot/rotor candles 1M median"),
        t("G6 1M candles in1 max", _get(c6in, "max_ms"), "<=", 8.0, "ms, zoomed to 1 %"),
        t("G7 stall p99", _get(st, "lateness_p99_ms"), "<=", 5.0, "ms timer lateness, backfill"),
        t("G7 stall max", _get(st, "lateness_max_ms"), "<=", 16.7, "ms timer lateness, backfill"),
        t("G8 cold start first chart", _get(cs, "first_chart_painted_ms"), "<=", 600.0,
          "ms, median, warm cache"),
        t("G8 cold start all docks", _get(cs, "all_docks_painted_ms"), "<=", 1000.0,
          "ms, median, warm cache"),
        t("G9 append (LodCurveItem.appendData call)",
          _get(ap, "rotor_item", "append_call_ms", "median"), "<=", 1.0, "ms, GUI thread"),
        t("G9 append (MinMaxPyramid.append)", _get(ap, "pyramid_append_ms", "median"), "<=", 1.0,
          "ms"),
        t("G10 swap (setPyramid call)", _get(sw, "setpyramid_call_ms", "median"), "<=", 2.0,
          "ms, GUI thread"),
        t("G11 cache read 1M", _get(cr, "cache_read_ms", "median"), "<=", 50.0, "ms, median"),
        t("B1 bytes per million 1m candles", _get(bs, "mb_per_million_candles"), "<=", 40.0,
          "MB of chunk blobs, compact format"),
    ]
    out += [
        t("S1 tick-to-pixel p99, steady", _get(sm, "steady", "latency", "p99_ms"), "<=", 16.7,
          "ms, socket arrival -> end of the paint showing it"),
        t("S2 tick-to-pixel p99, burst", _get(sm, "burst_phase", "latency", "p99_ms"), "<=",
          33.0, "ms, 2,000 liquidation msgs/s"),
        t("S3 paints per chart per frame", _get(sm, "burst_phase",
                                                 "max_paints_per_chart_per_frame"), "<=", 1.0,
          "most paints of one chart within 16.7 ms, burst"),
        t("S4 GUI timer lateness p99, burst", _get(sm, "burst_phase", "lateness", "p99_ms"),
          "<=", 5.0, "ms, 1 ms PreciseTimer"),
        t("S5 CPU steady streaming", _get(sm, "steady", "cpu_pct_of_core"), "<=", 15.0,
          "% of one core (idle window beside it)"),
    ]
    al = res.get("alerts")
    out += [
        t("A1 alert evaluation per new row, 100 rules",
          _get(al, "incremental_all_100_read_it_ms", "median"), "<=", 1.0,
          "ms, median of on_operand, every rule reading the row"),
        t("A2 alert back-test, 100 rules over 5 y hourly + 1 y 1m", _get(al, "backtest_s",
                                                                          "median"),
          "<=", 3.0, "s"),
    ]
    rs = res.get("resample")
    out.append(t("I1 resample 4.9M 1m rows to 1h", _get(rs, "resample_ms", "median"), "<=",
                 150.0, "ms, median, numpy on one thread (pandas in the same run: "
                 "resample.pandas_over_rotor)"))
    out += [
        t(f"P1 price dock pan p95, {size}", _get(res.get(f"dock_pan/{size}"), "p95_ms"), "<=",
          6.9, "ms, four stacked 1M-row plots, grid, crosshair, overlays (bench/dock_pan.py)")
        for size in ("1366x768", "1920x1080")]
    out += [
        t("P2 1h -> 1m first paint", _get(res.get("minutes_cached"), "first_paint_ms"), "<=",
          150.0, "ms, BTC's 4.9M minutes in the cache, read by the scheduler "
          "(bench/minutes_cached.py; minutes.first_paint_ms: already in the store)"),
        t("P3 RSS, BTC + ETH minutes on the dock", _get(res.get("minutes_rss"), "rss_mb"), "<=",
          1200.0, "MB, every other price series loaded"),
        t("P4 cold start with the minutes cached", rat.get("cold_start_with_minutes_over_without"),
          "<=", 1.05, "first chart with / without them, same run"),
    ]
    if c7 is not None:
        out.insert(8, t("G5 10M candles out p95", _get(c7, "p95_ms"), "<=", 6.0, "ms, settled"))
    return out


def run_suite(quick: bool, spawn: Spawn) -> dict[str, Any]:
    t_start = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    cases = plan(quick)
    for i, (key, argv, timeout) in enumerate(cases, 1):
        t = time.perf_counter()
        sys.stderr.write(f"[{i}/{len(cases)}] {key} ...")
        sys.stderr.flush()
        results[key] = spawn(argv, timeout)
        sys.stderr.write(f" {results[key].get('status')} "
                         f"{results[key].get('median_ms', '')} ({time.perf_counter() - t:.1f} s)\n")
    rat = ratios(results)
    tg = targets(results, rat)

    def group(prefix: str) -> list[dict[str, Any]]:
        return [{"case": k, **v} for k, v in results.items() if k.startswith(prefix)]

    skipped = []
    if quick:
        skipped = [
            "line defaults at 1e7 (~0.5 s per settled frame plus ~2 s setup: over the quick "
            "budget; run the full suite)",
            "line 1e5/1e6 and all in1 except 1e7 (quick subset)",
            "naive QPicture candles at 1e6 (7 s build, 2.5 s per frame): 1e5 only",
            "candles 1e7; 4K in1 and 4K clip+peak",
            "stall tasks use 200k rows instead of 1M (a 1M-row backfill takes 15-25 s here)",
        ]
    return {
        "mode": "quick" if quick else "full",
        "machine": machine(),
        "method": ("settled frame: setXRange(padding=0) -> processEvents until two rounds bring "
                   "no paint; time to the end of the last paintEvent; warm-up frame discarded; "
                   "each case in its own process (performance.md §1, §8.1)"),
        "line": group("line/"),
        "candles": group("candles/"),
        "stall": group("stall/"),
        "stacked": group("stacked/"),
        "dock_pan": group("dock_pan/"),
        "minutes": results.get("minutes"),
        "minutes_cached": results.get("minutes_cached"),
        "minutes_rss": results.get("minutes_rss"),
        "coldstart_minutes": results.get("coldstart_minutes"),
        "streams": results.get("streams"),
        "cold_start": results.get("cold_start"),
        "import_baseline": results.get("import_baseline"),
        "minimal_chart": results.get("minimal_chart"),
        "cache_read": results.get("cache_read"),
        "backfill_size": results.get("backfill_size"),
        "append": results.get("append"),
        "append_pyqtgraph_setdata": results.get("append_pg"),
        "swap": results.get("swap"),
        "ratios": rat,
        "targets": tg,
        "targets_summary": {v: sum(1 for x in tg if x["result"] == v)
                            for v in ("pass", "fail", "missing")},
        "skipped": skipped,
        "peak_rss_mb": {k: v.get("peak_rss_mb") for k, v in results.items()},
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
