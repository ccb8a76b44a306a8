"""Alert rules: the live evaluation per new row and the back-test (docs/alerts.md §Performance).

Synthetic market (deterministic): 5 years of hourly BTC, 1 year of 1-minute BTC (the perp's mark,
a row a minute), five venues' 8-hourly funding for 5 years, four venues' minute liquidation
buckets for the last 90 days (a third of the minutes; the streams' history the recorder keeps),
the hourly squeeze regime and a daily gamma flip. 100 rules of every
condition type (`bench_rules`).

- incremental: a `RuleEvaluator` warm on that history gets new rows one at a time; per call
  of `on_operand` (the whole evaluation of that row), two cases: a new hourly bar that all 100
  rules read (the worst case), and a new 1-minute row that only its readers read. Baseline in
  the same run: a plain Python loop doing the least any evaluator must (for each rule, read the
  value and compare it with a level, remember the side).
- backtest: `backtest` of the 100 rules over the whole history, sampling the stored series from
  an in-memory loader. Baseline in the same run: pandas doing the least any back-test must per
  rule (align its inputs on the union of their times, forward-fill, compare the first, find the
  rising edges).

Targets: incremental <= 1 ms a row for 100 rules (median; p95 reported), back-test <= 3 s.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import numpy as np

H = 3_600_000
M = 60_000
DAY = 86_400_000
T0 = 1_612_137_600_000  # 2021-02-01 00:00 UTC
YEARS = 5
FUNDING_VENUES = ("binance", "bybit", "okx", "deribit", "hyperliquid")
LIQ_VENUES = ("binance", "bybit", "okx", "deribit")


def market(seed: int = 17) -> tuple[dict[str, Any], dict[Any, Any]]:
    """(stored series id -> SeriesData, derived operand -> OperandSeries)."""
    from models.alert_operands import Operand, OperandSeries
    from models.series import SeriesData

    rng = np.random.default_rng(seed)
    hours = YEARS * 365 * 24
    t_h = T0 + np.arange(hours, dtype=np.int64) * H
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.006, hours)))
    stored: dict[str, Any] = {"btc.1h": SeriesData(t_h, {
        "open": close, "high": close * 1.002, "low": close * 0.998, "close": close,
        "volume": np.ones(hours)})}
    minutes = 365 * 24 * 60
    t_m = t_h[-1] + H - minutes * M + np.arange(minutes, dtype=np.int64) * M
    mark = close[-1] * np.exp(np.cumsum(rng.normal(0, 0.0008, minutes)))
    stored["premium.binance.btc"] = SeriesData(t_m, {"mark": mark, "index": mark * 0.9999,
                                                     "premium_pct": np.full(minutes, 0.01)})
    t_f = T0 + np.arange(0, hours, 8, dtype=np.int64) * H
    # funding drifts with the market (a slow mean-reverting level shared by the venues)
    level = np.zeros(len(t_f))
    for i in range(1, len(t_f)):
        level[i] = 0.97 * level[i - 1] + rng.normal(0, 0.00002)
    for venue in FUNDING_VENUES:
        rate = 0.00008 + 0.5 * level / level.std() * 0.0001 + rng.normal(0, 0.00002,
                                                                          len(t_f))
        stored[f"funding.{venue}.btc"] = SeriesData(t_f, {
            "rate": rate, "interval_hours": np.full(len(t_f), 8.0), "apr_pct": rate * 109_500})
    # liquidations come from the venues' streams (no long history): the recorder's 90 days
    liq_minutes = 90 * 24 * 60
    for venue in LIQ_VENUES:
        at = np.sort(rng.choice(liq_minutes, liq_minutes // 3, replace=False)) + \
            minutes - liq_minutes
        n = len(at)
        stored[f"liq.{venue}.btc"] = SeriesData(t_m[at], {
            "long_usd": rng.exponential(2e5, n), "short_usd": rng.exponential(2e5, n),
            "long_qty": np.ones(n), "short_qty": np.ones(n), "count": np.ones(n)})
    # the squeeze regime: neutral, with a run of a few hours of either regime about weekly
    regime = np.zeros(hours)
    for start in rng.choice(hours - 12, hours // 168, replace=False):
        regime[start:start + rng.integers(2, 12)] = rng.choice([1.0, -1.0])
    derived = {
        Operand("derived", "regime.btc", "regime"): OperandSeries(t_h + H, regime),
        Operand("derived", "gammalevels.btc", "gamma_flip"): OperandSeries(
            t_h[::24][-365:], close[::24][-365:] * rng.normal(1.0, 0.03, 365)),
    }
    return stored, derived


def bench_rules(n: int = 100) -> list[Any]:
    """`n` rules cycling through every condition type, thresholds spread so they all fire."""
    from models.alerts import rule_from_json

    hourly = {"series": "btc.1h", "column": "close"}
    minute = {"series": "premium.binance.btc", "column": "mark"}
    flip = {"derived": "gammalevels.btc", "column": "gamma_flip"}
    out = []
    for i in range(n):
        k = i % 10
        level = 30_000 * (1 + (i % 7) / 10)
        whens = [
            {"type": "above", "operand": hourly, "value": level, "hysteresis": 200},
            {"type": "cross_below", "operand": hourly, "value": level},
            {"type": "cross_above", "operand": minute, "value": flip, "hysteresis": 50},
            {"type": "change", "operand": minute, "window": "15m", "by": 1.5 + (i % 5) / 10,
             "direction": "any"},
            {"type": "change", "operand": hourly, "window": "4h", "by": 2 + i % 3,
             "direction": "up"},
            {"type": "count", "family": "funding.*.btc", "column": "rate",
             "direction": "below", "value": 0, "at_least": 3 + i % 3},
            {"type": "liquidations", "asset": "btc", "side": ("short", "long", "both")[i % 3],
             "window": "1h", "over_usd": 4e7 + i * 1e5},
            {"type": "regime_entered", "asset": "btc", "regime": "short_squeeze"},
            {"all": [{"type": "count", "family": "funding.*.btc", "column": "rate",
                      "direction": "below", "value": 0, "at_least": 2},
                     {"type": "cross_above", "operand": hourly, "value": flip, "within": "4h"},
                     {"type": "liquidations", "asset": "btc", "side": "short",
                      "window": "1h", "over_usd": 3e7}]},
            {"any": [{"type": "regime_entered", "asset": "btc", "regime": "long_flush"},
                     {"type": "below", "operand": minute, "value": level * 0.8}]},
        ]
        rule = {"id": f"bench-{i}", "name": f"bench {i}", "when": whens[k],
                "cooldown": ("0", "1h", "4h")[i % 3]}
        if i % 4 == 0:
            rule["active_hours"] = {"start": "07:00", "end": "22:00", "days": [0, 1, 2, 3, 4],
                                    "zone": "Europe/London"}
        out.append(rule_from_json(rule))
    return out


class _Loader:
    def __init__(self, stored: dict[str, Any]) -> None:
        self.stored = stored

    def read(self, series_id: str, start_ms: int | None = None, end_ms: int | None = None):
        from models.series import SeriesData

        return self.stored.get(series_id, SeriesData.empty())


def _dist_ms(values: list[float]) -> dict[str, float]:
    a = np.asarray(values) * 1000.0
    return {"median": round(float(np.median(a)), 4), "mean": round(float(a.mean()), 4),
            "p95": round(float(np.percentile(a, 95)), 4), "max": round(float(a.max()), 4),
            "n": len(values)}


def _incremental(rules: list[Any], sampled: dict[Any, Any], op: Any, rows: int
                 ) -> tuple[list[float], list[float], int]:
    """Per-call seconds of `on_operand` (wall clock and this thread's CPU) for the last
    `rows` rows of `op`, the rest history."""
    from models.alert_operands import OperandSeries
    from models.alerts import RuleEvaluator

    series = sampled[op]
    first = len(series) - rows
    start = int(series.known_ms[first - 1])
    ev = RuleEvaluator(rules, start_ms=start)
    for other, data in sampled.items():  # every input's history, read not evaluated
        cut = int(np.searchsorted(data.known_ms, start, side="right"))
        ev.on_operand(other, OperandSeries(data.known_ms[:cut], data.values[:cut]), start)
    times, cpu, fired = [], [], 0
    known, values = series.known_ms, series.values
    for j in range(first, len(series)):
        data = OperandSeries(known[:j + 1], values[:j + 1])
        now = int(known[j])
        c = time.thread_time()
        t = time.perf_counter()
        fired += len(ev.on_operand(op, data, now))
        times.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    return times, cpu, fired


def _floor_loop(rules: int, values: np.ndarray) -> list[float]:
    """The least per row: each rule reads the value, compares with its level, keeps a side."""
    levels = [float(values[0]) * (1 + (i % 7) / 1000) for i in range(rules)]
    sides = [False] * rules
    times = []
    for v in values.tolist():
        t = time.perf_counter()
        for i in range(rules):
            above = v > levels[i]
            if above and not sides[i]:
                pass
            sides[i] = above
        times.append(time.perf_counter() - t)
    return times


def _pandas_baseline(rules: list[Any], sampled: dict[Any, Any]) -> float:
    """Seconds for pandas to align each rule's inputs and find its first leaf's rising
    edges (less than a rule means: the floor of a back-test)."""
    import pandas as pd

    from models.alerts import rule_operands

    t = time.perf_counter()
    edges = 0
    for rule in rules:
        ops = sorted(rule_operands(rule))
        columns = {op.key: pd.Series(sampled[op].values, index=sampled[op].known_ms)
                   for op in ops}
        frame = pd.concat([s.groupby(level=0).last() for s in columns.values()], axis=1,
                          keys=list(columns)).sort_index().ffill()
        first = frame.iloc[:, 0]
        cond = first > first.median()
        edges += int((cond & ~cond.shift(fill_value=False)).sum())
    return time.perf_counter() - t


def alerts(reps: int = 3, rows: int = 2000) -> dict[str, Any]:
    from models.alert_operands import Operand
    from models.alerts import backtest, rule_operands, sample_operands

    out: dict[str, Any] = {"rules": 100, "history": "5 y hourly BTC + 1 y 1-minute BTC, "
                           "5 venues' 8-hourly funding (5 y), 4 venues' minute liquidations "
                           "(90 d), hourly regime (5 y), daily gamma flip (1 y)"}
    t = time.perf_counter()
    stored, derived = market()
    rules = bench_rules()
    out["build_s"] = round(time.perf_counter() - t, 2)
    loader = _Loader(stored)
    needed = frozenset().union(*(rule_operands(r) for r in rules))
    sampled = {**sample_operands([op for op in needed if op.kind == "series"], loader),
               **derived}
    out["rows"] = {op.key: len(s) for op, s in sorted(sampled.items())}

    # -- incremental ----------------------------------------------------------------------
    hourly = Operand("series", "btc.1h", "close")
    minute = Operand("series", "premium.binance.btc", "mark")
    every = rules
    readers_all = _all_read(hourly)
    times, cpu, fired = _incremental(readers_all, sampled, hourly, rows)
    out["incremental_all_100_read_it_ms"] = {**_dist_ms(times), "firings": fired,
                                             "cpu": _dist_ms(cpu)}
    times, cpu, fired = _incremental(every, sampled, minute, rows)
    out["incremental_mixed_1m_row_ms"] = {
        **_dist_ms(times), "firings": fired, "cpu": _dist_ms(cpu),
        "rules_reading_it": sum(minute in rule_operands(r) for r in every)}
    floor = _floor_loop(100, sampled[hourly].values[-rows:])
    out["baseline_floor_loop_ms"] = _dist_ms(floor)

    # -- back-test ------------------------------------------------------------------------
    runs, cpus, counts = [], [], []
    for _ in range(reps):
        c = time.process_time()
        t = time.perf_counter()
        firings = backtest(rules, loader, data=derived)  # samples the stored series itself
        runs.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        counts.append(len(firings))
    out["backtest_s"] = {"median": round(statistics.median(runs), 3),
                         "max": round(max(runs), 3), "cpu_median": round(
                             statistics.median(cpus), 3), "firings": counts[-1]}
    base = [_pandas_baseline(rules, sampled) for _ in range(reps)]
    out["baseline_pandas_align_s"] = {"median": round(statistics.median(base), 3)}

    inc = out["incremental_all_100_read_it_ms"]["median"]
    out["ratios"] = {
        "incremental_over_floor_loop": _ratio(inc, out["baseline_floor_loop_ms"]["median"]),
        "backtest_over_pandas_align": _ratio(out["backtest_s"]["median"],
                                             out["baseline_pandas_align_s"]["median"]),
    }
    out["load_average"] = list(os.getloadavg())  # wall times on a shared machine: see cpu
    out["targets"] = [
        _target("A1 evaluation per new row, 100 rules (median)", inc, 1.0, "ms"),
        _target("A1 evaluation per new row, 100 rules (mean)",
                out["incremental_all_100_read_it_ms"]["mean"], 1.0, "ms"),
        _target("A1 evaluation per new row, 100 rules (p95)",
                out["incremental_all_100_read_it_ms"]["p95"], None, "ms (reported)"),
        _target("A2 back-test 100 rules, 5 y hourly + 1 y 1m", out["backtest_s"]["median"],
                3.0, "s"),
        _target("A2 back-test 100 rules (CPU time)", out["backtest_s"]["cpu_median"], 3.0,
                "s of CPU"),
    ]
    return out


def _all_read(op: Any) -> list[Any]:
    """100 rules that all read `op` (the hourly close), of the kinds that can."""
    from models.alerts import rule_operands

    rules = [r for r in bench_rules(400) if op in rule_operands(r)]
    return rules[:100]


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def _target(name: str, value: float, limit: float | None, unit: str) -> dict[str, Any]:
    result = "info" if limit is None else ("pass" if value <= limit else "fail")
    return {"target": name, "value": value, "op": "<=", "limit": limit, "unit": unit,
            "result": result}
