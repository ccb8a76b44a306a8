"""When alert rules fire: the vectorised back-test and the incremental evaluator, one semantics.

A rule is evaluated at *points*: each moment one of its inputs gets a row (the row's known
time). Inputs with a row at the same moment are applied one at a time in operand order
(kind, id, column: `Operand` sorts so), which is also the order the live evaluator meets them
when they arrive together; the point (t, k) sees the rows known at t of the inputs up to k and
the rows known before t of the others. At each point every condition is evaluated on the newest
known values (docs/alerts.md "Semantics"), then:

- the rule fires if the tree holds, the rule is armed, t is inside its active hours and at
  least the cooldown after its last firing; a firing disarms it;
- a disarmed rule re-arms at a later point where its `rearm` condition holds (default: where
  the tree does not hold), so a condition that stays true fires once;
- `true_since_ms` is the first point of the run of points where the tree held.

`backtest` computes this with numpy over whole histories (sequential only over firings);
`RuleEvaluator` steps it row by row with scalar state (the live path, <= 1 ms per row for 100
rules). tests/models/test_alert_engine.py checks that both agree on a stream of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.alert_operands import Operand, OperandSeries, sample_operands
from models.alerts import (
    REGIMES,
    AllOf,
    AnyOf,
    Change,
    Compare,
    Condition,
    Count,
    Cross,
    Decoupling,
    Firing,
    Liquidations,
    RegimeEntered,
    Rule,
    format_duration,
    rule_operands,
    rule_to_json,
)

MS_PER_DAY = 86_400_000
_NAN = float("nan")


# -- shared: leaves in order, descriptions ------------------------------------------------------
def _leaves(cond: Condition | None) -> list[Condition]:
    if cond is None:
        return []
    if isinstance(cond, AllOf | AnyOf):
        return [leaf for c in cond.items for leaf in _leaves(c)]
    return [cond]


def _fmt(value: float) -> str:
    if value != value:
        return "unknown"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:,.1f}M"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def _name(op: Operand) -> str:
    return f"{op.id} {op.column}"


def _level_text(value: float | Operand, level: float) -> str:
    if isinstance(value, Operand):
        return f"{_name(value)} {_fmt(level)}"
    return _fmt(level)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class _Scalar:
    """What a leaf's description reads at one point: operand values, series, window sums."""

    value: Callable[[Operand], float]
    value_then: Callable[[Operand, int, int], float]
    window_sum: Callable[[Operand, int, int], float]


def _change(leaf: Change, now: float, then: float) -> float:
    if leaf.unit == "abs":
        return now - then
    return (now / then - 1.0) * 100.0 if then != 0 else _NAN


def _describe(leaf: Condition, t: int, s: _Scalar) -> str:
    if isinstance(leaf, Compare | Cross):
        v = s.value(leaf.operand)
        level = s.value(leaf.value) if isinstance(leaf.value, Operand) else leaf.value
        verb = leaf.direction if isinstance(leaf, Compare) else f"crossed {leaf.direction}"
        label = f" ({leaf.label})" if leaf.label else ""
        return f"{_name(leaf.operand)} {_fmt(v)} {verb} {_level_text(leaf.value, level)}{label}"
    if isinstance(leaf, Change):
        now = s.value(leaf.operand)
        then = s.value_then(leaf.operand, t, leaf.window_ms)
        change = _change(leaf, now, then)
        window = format_duration(leaf.window_ms)
        if change != change:
            return f"{_name(leaf.operand)} {_fmt(now)}, no change known over {window}"
        unit = "%" if leaf.unit == "pct" else ""
        return (f"{_name(leaf.operand)} {_fmt(then)} -> {_fmt(now)} in {window} "
                f"({change:+.2f}{unit})")
    if isinstance(leaf, Count):
        hits = [op.id for op in leaf.operands
                if _compare_value(leaf.direction, s.value(op), leaf.value)]
        return (f"{len(hits)} of {len(leaf.operands)} {leaf.family} {leaf.column} "
                f"{leaf.direction} {_fmt(leaf.value)} ({', '.join(hits) or 'none'})")
    if isinstance(leaf, Liquidations):
        total = sum(s.window_sum(op, t, leaf.window_ms) for op in leaf.operands)
        return (f"{leaf.asset.upper()} {leaf.side} liquidations ${_fmt(total)} in "
                f"{format_duration(leaf.window_ms)} (over ${_fmt(leaf.over_usd)})")
    if isinstance(leaf, RegimeEntered):
        return f"{leaf.asset.upper()} regime entered {leaf.regime.replace('_', ' ')}"
    if isinstance(leaf, Decoupling):
        return f"decoupling day {leaf.pair} (BTC move {s.value(leaf.operand) * 100:+.2f}%)"
    raise TypeError(leaf)


def _compare_value(direction: str, v: float, level: float) -> bool:
    return v > level if direction == "above" else v < level


def _tree_text(cond: Condition, t: int, s: _Scalar, nested: bool = False) -> str:
    """The tree with each leaf's numbers: "A; B" for all, "A or B" for any."""
    if isinstance(cond, AllOf | AnyOf):
        parts = [_tree_text(c, t, s, True) for c in cond.items]
        text = ("; " if isinstance(cond, AllOf) else " or ").join(parts)
        return f"({text})" if nested and len(parts) > 1 else text
    return _describe(cond, t, s)


def _summary(rule: Rule, t: int, s: _Scalar) -> str:
    return f"{rule.name}: {_tree_text(rule.when, t, s)}"


@dataclass(frozen=True)
class _About:
    """What a firing of a rule reports besides the moment (worked out once per rule)."""

    rule: Rule
    ops: tuple[Operand, ...]
    subject: str | None

    @classmethod
    def of(cls, rule: Rule) -> _About:
        return cls(rule, tuple(sorted(rule_operands(rule))), rule.subject)

    def firing(self, since: int, t: int, noticed: int | None, s: _Scalar) -> Firing:
        rule = self.rule
        return Firing(rule.id, rule.name, int(since), int(t), noticed, _summary(rule, t, s),
                      {op.key: float(s.value(op)) for op in self.ops}, self.subject)


# -- the vectorised back-test -------------------------------------------------------------------
class _Points:
    """A rule's evaluation points (t, k) and each operand's row index at them."""

    def __init__(self, ops: Sequence[Operand], data: Mapping[Operand, OperandSeries],
                 end_ms: int | None, sums: dict[Operand, np.ndarray] | None = None) -> None:
        self.ops = list(ops)
        self.data = data
        times, order = [], []
        self._last_rows: list[np.ndarray] = []
        for k, op in enumerate(self.ops):
            known = data[op].known_ms
            if end_ms is not None:
                known = known[:int(np.searchsorted(known, end_ms, side="right"))]
            # distinct known times (rows are sorted) and the last row of each
            change = np.flatnonzero(known[1:] != known[:-1])
            last = np.append(change, len(known) - 1) if len(known) else change
            self._last_rows.append(last)
            times.append(known[last])
            order.append(np.full(len(last), k, dtype=np.int64))
        t = np.concatenate(times) if times else np.empty(0, np.int64)
        k = np.concatenate(order) if order else np.empty(0, np.int64)
        sort = np.argsort(t * max(len(self.ops), 1) + k, kind="stable")  # by t, then k
        self.t = t[sort]
        self.k = k[sort]
        self.n = len(self.t)
        where = np.empty(self.n, dtype=np.int64)
        where[sort] = np.arange(self.n)
        bounds = np.cumsum([0, *(len(x) for x in times)])
        #: each operand's points, in time order
        self._pos = [where[bounds[j]:bounds[j + 1]] for j in range(len(self.ops))]
        self._idx: dict[Operand, np.ndarray] = {}
        self._vals: dict[Operand, np.ndarray] = {}
        self._cumsum: dict[Operand, np.ndarray] = {} if sums is None else sums
        self._windows: dict[tuple[Operand, str, int], np.ndarray] = {}

    def idx(self, op: Operand) -> np.ndarray:
        """The row of `op` applied at each point (−1: none yet). Each distinct known time of
        op owns one point, so the count of op's points so far is how many of its times are
        applied: at (t, k < j) op's own point at t comes later, as it should."""
        out = self._idx.get(op)
        if out is None:
            j = self.ops.index(op)
            out = np.full(self.n, -1, dtype=np.int64)
            out[self._pos[j]] = self._last_rows[j]
            np.maximum.accumulate(out, out=out)  # rows only move forward
            self._idx[op] = out
        return out

    def vals(self, op: Operand) -> np.ndarray:
        out = self._vals.get(op)
        if out is None:
            values = self.data[op].values
            i = self.idx(op)
            if not len(values):
                out = np.full(self.n, np.nan)
            else:
                out = np.where(i >= 0, values[np.maximum(i, 0)], np.nan)
            self._vals[op] = out
        return out

    def level(self, value: float | Operand) -> np.ndarray | float:
        return self.vals(value) if isinstance(value, Operand) else float(value)

    def cumsum(self, op: Operand) -> np.ndarray:
        out = self._cumsum.get(op)
        if out is None:
            out = _cumsum(self.data[op].values)
            self._cumsum[op] = out
        return out

    def window_sum(self, op: Operand, window_ms: int) -> np.ndarray:
        """Sum of op's applied rows known in (t − window, t] at each point."""
        key = (op, "sum", window_ms)
        out = self._windows.get(key)
        if out is None:
            cs = self.cumsum(op)
            start = np.searchsorted(self.data[op].known_ms, self.t - window_ms, side="right")
            out = self._windows[key] = cs[self.idx(op) + 1] - cs[start]
        return out

    def then(self, op: Operand, window_ms: int) -> np.ndarray:
        """op's value known at t − window at each point (NaN before its first row)."""
        key = (op, "then", window_ms)
        out = self._windows.get(key)
        if out is None:
            series = self.data[op]
            i = np.searchsorted(series.known_ms, self.t - window_ms, side="right") - 1
            out = np.where(i >= 0, series.values[np.maximum(i, 0)], np.nan) if len(series) \
                else np.full(self.n, np.nan)
            self._windows[key] = out
        return out

    def scalar(self, p: int) -> _Scalar:
        return _Scalar(lambda op: float(self.vals(op)[p]),
                       lambda op, t, w: float(self.then(op, w)[p]),
                       lambda op, t, w: float(self.window_sum(op, w)[p]))


def _cumsum(values: np.ndarray) -> np.ndarray:
    """Running sum with a leading 0 (missing values count 0), summed left to right: the
    incremental evaluator extends it row by row to the same floats."""
    out = np.empty(len(values) + 1)
    out[0] = 0.0
    np.cumsum(np.nan_to_num(values, nan=0.0), out=out[1:])
    return out


def _ffill_state(code: np.ndarray, initial: int) -> np.ndarray:
    """Each point's latest code ≥ 0 (1 set, 0 reset), `initial` before the first."""
    n = len(code)
    pos = np.where(code >= 0, np.arange(n), -1)
    np.maximum.accumulate(pos, out=pos)
    return np.where(pos >= 0, code[np.maximum(pos, 0)], initial)


def _schmitt(leaf: Compare | Cross, pts: _Points, nan_resets: bool) -> np.ndarray:
    v = pts.vals(leaf.operand)
    level = pts.level(leaf.value)
    h = leaf.hysteresis
    with np.errstate(invalid="ignore"):
        if leaf.direction == "above":
            on, off = v > level, v <= level - h
        else:
            on, off = v < level, v >= level + h
    if nan_resets:
        off = off | np.isnan(v) | np.isnan(level)
    code = np.where(on, 1, np.where(off, 0, -1))
    return _ffill_state(code, 0 if nan_resets else -1)


def _latch(event: np.ndarray, t: np.ndarray, within_ms: int) -> np.ndarray:
    """True at an event's point and at every later point no more than `within_ms` after it."""
    last = np.where(event, t, np.iinfo(np.int64).min)
    np.maximum.accumulate(last, out=last)
    return event | ((last > np.iinfo(np.int64).min) & (t - last <= within_ms))


def _event(event: np.ndarray, t: np.ndarray, within_ms: int,
           fresh: list[np.ndarray] | None) -> np.ndarray:
    if fresh is not None:
        fresh.append(event)
    return _latch(event, t, within_ms)


def _vector(cond: Condition, pts: _Points, fresh: list[np.ndarray] | None = None
            ) -> np.ndarray:
    """The condition at every point; event leaves add their events to `fresh`."""
    if isinstance(cond, AllOf):
        out = np.ones(pts.n, dtype=bool)
        for c in cond.items:
            out &= _vector(c, pts, fresh)
        return out
    if isinstance(cond, AnyOf):
        out = np.zeros(pts.n, dtype=bool)
        for c in cond.items:
            out |= _vector(c, pts, fresh)
        return out
    if isinstance(cond, Compare):
        return _schmitt(cond, pts, nan_resets=True) == 1
    if isinstance(cond, Cross):
        state = _schmitt(cond, pts, nan_resets=False)
        event = np.zeros(pts.n, dtype=bool)
        event[1:] = (state[1:] == 1) & (state[:-1] == 0)
        return _event(event, pts.t, cond.within_ms, fresh)
    if isinstance(cond, Change):
        now = pts.vals(cond.operand)
        then = pts.then(cond.operand, cond.window_ms)
        with np.errstate(invalid="ignore", divide="ignore"):
            change = now - then if cond.unit == "abs" else np.where(
                then != 0, (now / then - 1.0) * 100.0, np.nan)
            if cond.direction == "up":
                return change >= cond.by
            if cond.direction == "down":
                return change <= -cond.by
            return np.abs(change) >= cond.by
    if isinstance(cond, Count):
        hits = np.zeros(pts.n, dtype=np.int64)
        for op in cond.operands:
            v = pts.vals(op)
            with np.errstate(invalid="ignore"):
                hits += (v > cond.value) if cond.direction == "above" else (v < cond.value)
        return hits >= cond.at_least
    if isinstance(cond, Liquidations):
        total = np.zeros(pts.n)
        for op in cond.operands:
            total = total + pts.window_sum(op, cond.window_ms)
        return total > cond.over_usd
    if isinstance(cond, RegimeEntered):
        inside = pts.vals(cond.operand) == REGIMES[cond.regime]
        event = np.zeros(pts.n, dtype=bool)
        event[1:] = inside[1:] & ~inside[:-1]
        return _event(event, pts.t, cond.within_ms, fresh)
    if isinstance(cond, Decoupling):
        i = pts.idx(cond.operand)
        new = np.empty(pts.n, dtype=bool)
        if pts.n:
            new[0] = i[0] >= 0
            new[1:] = i[1:] > i[:-1]
        v = pts.vals(cond.operand)
        with np.errstate(invalid="ignore"):
            if cond.direction == "up":
                new &= v > 0
            elif cond.direction == "down":
                new &= v < 0
        return _event(new, pts.t, cond.within_ms, fresh)
    raise TypeError(f"not a condition: {cond!r}")


def _zone_of(name: str) -> Any:
    from models.alerts import _zone

    return _zone(name)


def _in_hours(rule: Rule, t: np.ndarray) -> np.ndarray:
    hours = rule.active_hours
    if hours is None or not len(t):
        return np.ones(len(t), dtype=bool)
    if hours.zone != "UTC":
        # the zone's UTC offset per UTC hour (offsets change on the hour): local wall time
        zone = _zone_of(hours.zone)
        hour = t // 3_600_000
        unique, back = np.unique(hour, return_inverse=True)
        offsets = np.array([datetime.fromtimestamp(int(h) * 3600, zone).utcoffset()
                            .total_seconds() * 1000 for h in unique.tolist()], dtype=np.int64)
        t = t + offsets[back]
    weekday = (t // MS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday
    minute = (t % MS_PER_DAY) // 60_000
    days = np.zeros(7, dtype=bool)
    days[list(hours.days)] = True
    start, end = hours.start_minute, hours.end_minute
    if start == end:
        return days[weekday]
    if start < end:
        return days[weekday] & (minute >= start) & (minute < end)
    return np.where(minute >= start, days[weekday], (minute < end) & days[(weekday - 1) % 7])


def _fire_points(rule: Rule, cond: np.ndarray, rearm: np.ndarray | None, fresh: np.ndarray,
                 t: np.ndarray) -> list[tuple[int, int]]:
    """(firing point, first point of its true run): the state machine, stepping from one
    firing to the next by binary search. Re-armed after a point where `rearm` holds (default:
    where `cond` does not), or, by default, at a point with a new event (a cross, a regime
    entered, a decoupling session: each is a new occurrence)."""
    candidates = np.flatnonzero(cond)
    if not len(candidates):
        return []
    candidates = candidates[_in_hours(rule, t[candidates])]
    after = np.flatnonzero(~cond if rearm is None else rearm)
    at = np.flatnonzero(fresh) if rearm is None else np.empty(0, dtype=np.int64)
    previous = np.concatenate(([False], cond[:-1]))
    starts = np.flatnonzero(cond & (~previous | fresh))
    cand_t = t[candidates]
    out = []
    pos = 0
    while pos < len(candidates):
        p = int(candidates[pos])
        out.append((p, int(starts[np.searchsorted(starts, p, side="right") - 1])))
        armed_from = len(t)
        r = int(np.searchsorted(after, p, side="right"))
        if r < len(after):
            armed_from = int(after[r]) + 1  # re-armed at that point, may fire after it
        r = int(np.searchsorted(at, p, side="right"))
        if r < len(at):
            armed_from = min(armed_from, int(at[r]))  # a new event re-arms before firing
        pos = int(np.searchsorted(candidates, armed_from, side="left"))
        if rule.cooldown_ms:
            pos = max(pos, int(np.searchsorted(cand_t, int(t[p]) + rule.cooldown_ms,
                                               side="left")))
    return out


def _rule_firings(rule: Rule, data: Mapping[Operand, OperandSeries], start_ms: int | None,
                  end_ms: int | None, cache: dict) -> list[Firing]:
    ops = sorted(rule_operands(rule))
    key = tuple(ops)
    pts = cache.get(key)
    if pts is None:
        pts = cache[key] = _Points(ops, data, end_ms, cache.setdefault("sums", {}))
    if not pts.n:
        return []
    events: list[np.ndarray] = []
    cond = _vector(rule.when, pts, events)
    fresh = np.zeros(pts.n, dtype=bool)
    for event in events:
        fresh |= event
    rearm = None if rule.rearm is None else _vector(rule.rearm, pts)
    out = []
    about = _About.of(rule)
    for p, since in _fire_points(rule, cond, rearm, fresh, pts.t):
        t = int(pts.t[p])
        if start_ms is not None and t < start_ms:
            continue
        out.append(about.firing(int(pts.t[since]), t, None, pts.scalar(p)))
    return out


def backtest(rules: Iterable[Rule], loader: Any, start_ms: int | None = None,
             end_ms: int | None = None, *,
             data: Mapping[Operand, OperandSeries] | None = None) -> list[Firing]:
    """When each enabled rule would have fired over what `loader` holds, sorted by fired_ms.
    The rules run over the whole history (windows and states need it); firings before
    `start_ms` are left out, rows known after `end_ms` are not read. `data`: operands sampled
    already (else `sample_operands` over `loader`)."""
    rules = [r for r in rules if r.enabled]
    needed = frozenset().union(*(rule_operands(r) for r in rules)) if rules else frozenset()
    sampled = dict(data) if data is not None else {}
    missing = [op for op in needed if op not in sampled]
    if missing:
        sampled.update(sample_operands(missing, loader))
    cache: dict = {}
    firings = [f for r in rules for f in _rule_firings(r, sampled, start_ms, end_ms, cache)]
    firings.sort(key=lambda f: (f.fired_ms, f.rule_id))
    return firings


# -- the incremental evaluator ------------------------------------------------------------------
class _Feed:
    """One operand as the evaluator holds it: its latest series, how far it is applied, the
    value now, its running sum (liquidation windows)."""

    __slots__ = ("applied", "cumsum", "first_known", "last_known", "memo", "series", "value",
                 "wants_sum")

    def __init__(self) -> None:
        self.series = OperandSeries.empty()
        self.applied = -1  # index of the newest row applied
        self.last_known: int | None = None  # its known time
        self.value = _NAN
        self.cumsum: list[float] = [0.0]
        self.first_known: int | None = None  # of the row the running sum starts at
        self.wants_sum = False
        #: (what, window) -> (t, applied, result): rules sharing a window share the lookup
        self.memo: dict[tuple[str, int], tuple[int, int, float]] = {}

    def value_then(self, t: int, window_ms: int) -> float:
        """The value known at t − window (NaN before the first row)."""
        hit = self.memo.get(("then", window_ms))
        if hit is not None and hit[0] == t and hit[1] == self.applied:
            return hit[2]
        i = int(self.series.known_ms.searchsorted(t - window_ms, side="right")) - 1
        value = float(self.series.values[i]) if i >= 0 else _NAN
        self.memo[("then", window_ms)] = (t, self.applied, value)
        return value

    def window_sum(self, t: int, window_ms: int) -> float:
        """The sum of the applied rows known in (t − window, t]."""
        if self.applied < 0:
            return 0.0
        hit = self.memo.get(("sum", window_ms))
        if hit is not None and hit[0] == t and hit[1] == self.applied:
            return hit[2]
        start = int(self.series.known_ms.searchsorted(t - window_ms, side="right"))
        cs = self.cumsum
        value = cs[self.applied + 1] - cs[min(start, self.applied + 1)]
        self.memo[("sum", window_ms)] = (t, self.applied, value)
        return value


class _Leaf:
    """A condition's scalar state; `step(t)` evaluates it at one point (`fresh`: an event
    leaf's event happened at it)."""

    fresh = False

    def step(self, t: int) -> bool:
        raise NotImplementedError

    def state(self) -> list:
        return []

    def restore(self, state: list) -> None:
        pass


class _CompareLeaf(_Leaf):
    def __init__(self, leaf: Compare | Cross, feeds: Mapping[Operand, _Feed],
                 nan_resets: bool) -> None:
        self.feed = feeds[leaf.operand]
        self.level_feed = feeds[leaf.value] if isinstance(leaf.value, Operand) else None
        self.level = float(leaf.value) if self.level_feed is None else _NAN
        self.above = leaf.direction == "above"
        self.h = leaf.hysteresis
        self.nan_resets = nan_resets
        self.on = 0 if nan_resets else -1  # -1: unknown yet (a cross needs a side first)

    def _update(self) -> int:
        v = self.feed.value
        level = self.level if self.level_feed is None else self.level_feed.value
        if v != v or level != level:
            if self.nan_resets:
                self.on = 0
            return self.on
        if self.above:
            if v > level:
                self.on = 1
            elif v <= level - self.h:
                self.on = 0
        elif v < level:
            self.on = 1
        elif v >= level + self.h:
            self.on = 0
        return self.on

    def step(self, t: int) -> bool:
        return self._update() == 1

    def state(self) -> list:
        return [self.on]

    def restore(self, state: list) -> None:
        self.on = int(state[0])


class _CrossLeaf(_CompareLeaf):
    def __init__(self, leaf: Cross, feeds: Mapping[Operand, _Feed]) -> None:
        super().__init__(leaf, feeds, nan_resets=False)
        self.within = leaf.within_ms
        self.last_event: int | None = None
        self.fresh = False
        # a rule added after rows were seen takes its side from the values held now, so the
        # next row can cross (a new evaluator holds none: its first row sets the side)
        self._update()

    def step(self, t: int) -> bool:
        before = self.on
        self.fresh = self._update() == 1 and before == 0
        if self.fresh:
            self.last_event = t
        return self.last_event is not None and t - self.last_event <= self.within

    def state(self) -> list:
        return [self.on, self.last_event]

    def restore(self, state: list) -> None:
        self.on, self.last_event = int(state[0]), state[1]


class _ChangeLeaf(_Leaf):
    def __init__(self, leaf: Change, feeds: Mapping[Operand, _Feed]) -> None:
        self.leaf = leaf
        self.feed = feeds[leaf.operand]

    def step(self, t: int) -> bool:
        leaf = self.leaf
        then = self.feed.value_then(t, leaf.window_ms)
        if then != then:
            return False
        change = _change(leaf, self.feed.value, then)
        if change != change:
            return False
        if leaf.direction == "up":
            return change >= leaf.by
        if leaf.direction == "down":
            return change <= -leaf.by
        return abs(change) >= leaf.by


class _CountLeaf(_Leaf):
    def __init__(self, leaf: Count, feeds: Mapping[Operand, _Feed]) -> None:
        self.feeds = [feeds[op] for op in leaf.operands]
        self.above = leaf.direction == "above"
        self.value = leaf.value
        self.at_least = leaf.at_least

    def step(self, t: int) -> bool:
        level = self.value
        if self.above:
            hits = sum(1 for f in self.feeds if f.value > level)
        else:
            hits = sum(1 for f in self.feeds if f.value < level)
        return hits >= self.at_least


class _LiquidationsLeaf(_Leaf):
    def __init__(self, leaf: Liquidations, feeds: Mapping[Operand, _Feed]) -> None:
        self.feeds = [feeds[op] for op in leaf.operands]
        for feed in self.feeds:
            feed.wants_sum = True
        self.window = leaf.window_ms
        self.over = leaf.over_usd

    def step(self, t: int) -> bool:
        total = 0.0
        for feed in self.feeds:
            total += feed.window_sum(t, self.window)
        return total > self.over


class _RegimeLeaf(_Leaf):
    def __init__(self, leaf: RegimeEntered, feeds: Mapping[Operand, _Feed]) -> None:
        self.feed = feeds[leaf.operand]
        self.target = REGIMES[leaf.regime]
        self.within = leaf.within_ms
        self.inside: bool | None = None  # None before the first point
        self.last_event: int | None = None

    def step(self, t: int) -> bool:
        inside = self.feed.value == self.target
        self.fresh = inside and self.inside is False
        if self.fresh:
            self.last_event = t
        self.inside = inside
        return self.last_event is not None and t - self.last_event <= self.within

    def state(self) -> list:
        return [self.inside, self.last_event]

    def restore(self, state: list) -> None:
        self.inside, self.last_event = state


class _DecouplingLeaf(_Leaf):
    def __init__(self, leaf: Decoupling, feeds: Mapping[Operand, _Feed]) -> None:
        self.feed = feeds[leaf.operand]
        self.direction = leaf.direction
        self.within = leaf.within_ms
        self.seen: int | None = None  # known time of the newest row already counted
        self.last_event: int | None = None

    def step(self, t: int) -> bool:
        known = self.feed.last_known
        self.fresh = False
        if known is not None and (self.seen is None or known > self.seen):
            self.seen = known
            v = self.feed.value
            if self.direction == "any" or (v > 0 if self.direction == "up" else v < 0):
                self.fresh = True
                self.last_event = t
        return self.last_event is not None and t - self.last_event <= self.within

    def state(self) -> list:
        return [self.seen, self.last_event]

    def restore(self, state: list) -> None:
        self.seen, self.last_event = state


def _compile(cond: Condition, feeds: Mapping[Operand, _Feed], leaves: list[_Leaf]
             ) -> Callable[[int], bool]:
    """The tree as a function of t; every leaf is stepped at every point (their states must
    see every point, as the vectorised path's do), so no short-circuit."""
    if isinstance(cond, AllOf | AnyOf):
        parts = [_compile(c, feeds, leaves) for c in cond.items]
        if isinstance(cond, AllOf):
            return lambda t: all([p(t) for p in parts])
        return lambda t: any([p(t) for p in parts])
    if isinstance(cond, Cross):
        leaf: _Leaf = _CrossLeaf(cond, feeds)
    elif isinstance(cond, Compare):
        leaf = _CompareLeaf(cond, feeds, nan_resets=True)
    elif isinstance(cond, Change):
        leaf = _ChangeLeaf(cond, feeds)
    elif isinstance(cond, Count):
        leaf = _CountLeaf(cond, feeds)
    elif isinstance(cond, Liquidations):
        leaf = _LiquidationsLeaf(cond, feeds)
    elif isinstance(cond, RegimeEntered):
        leaf = _RegimeLeaf(cond, feeds)
    elif isinstance(cond, Decoupling):
        leaf = _DecouplingLeaf(cond, feeds)
    else:
        raise TypeError(f"not a condition: {cond!r}")
    leaves.append(leaf)
    return leaf.step


class _RuleState:
    def __init__(self, rule: Rule, feeds: Mapping[Operand, _Feed], start_ms: int | None
                 ) -> None:
        self.rule = rule
        self.about = _About.of(rule)
        self.fingerprint = repr(rule_to_json(rule))
        self.leaves: list[_Leaf] = []
        self.when = _compile(rule.when, feeds, self.leaves)
        self.events = [leaf for leaf in self.leaves
                       if isinstance(leaf, _CrossLeaf | _RegimeLeaf | _DecouplingLeaf)]
        self.rearm = None if rule.rearm is None else _compile(rule.rearm, feeds, self.leaves)
        self.hours = rule.active_hours
        self.armed = True
        self.last_fired: int | None = None
        self.since: int | None = None  # first point of the current true run
        self.start_ms = start_ms  # points at or before it are not evaluated

    def step(self, t: int) -> bool:
        """Evaluate at point t; True when the rule fires."""
        holds = self.when(t)
        rearm = (not holds) if self.rearm is None else self.rearm(t)
        fresh = False
        for leaf in self.events:
            fresh = fresh or leaf.fresh
        if holds:
            if self.since is None or fresh:
                self.since = t
        else:
            self.since = None
        if fresh and self.rearm is None:
            self.armed = True  # a new event is a new occurrence
        rule = self.rule
        if (holds and self.armed
                and (self.hours is None or self.hours.contains(t))
                and (self.last_fired is None or t - self.last_fired >= rule.cooldown_ms)):
            self.armed = False
            self.last_fired = t
            return True
        if not self.armed and rearm:
            self.armed = True
        return False

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "armed": self.armed,
                "last_fired_ms": self.last_fired, "true_since_ms": self.since,
                "leaves": [leaf.state() for leaf in self.leaves]}

    def restore(self, obj: Mapping[str, Any]) -> bool:
        if obj.get("fingerprint") != self.fingerprint:
            return False  # the rule changed since: its old state means nothing
        leaves = obj.get("leaves", [])
        if len(leaves) != len(self.leaves):
            return False
        self.armed = bool(obj.get("armed", True))
        self.last_fired = obj.get("last_fired_ms")
        self.since = obj.get("true_since_ms")
        for leaf, state in zip(self.leaves, leaves, strict=True):
            leaf.restore(list(state))
        return True


class RuleEvaluator:
    """The live path: `on_operand` gets an operand's series whenever it changes and evaluates
    only the rules reading it, only at its rows known since the last call (and by `now_ms`),
    with scalar state per rule (same semantics as `backtest`).

    `start_ms`: rows known at or before it are history (read for windows and levels, not
    evaluated), so opening the app on a full cache does not replay old alerts. Rules added
    later by `set_rules` start at the newest moment seen so far."""

    def __init__(self, rules: Sequence[Rule] = (), *, start_ms: int | None = None) -> None:
        self._feeds: dict[Operand, _Feed] = {}
        self._states: dict[str, _RuleState] = {}
        self._readers: dict[Operand, list[_RuleState]] = {}
        self._start_ms = start_ms
        self._newest: int | None = start_ms
        self.set_rules(rules)

    # -- rules ---------------------------------------------------------------------------------
    def set_rules(self, rules: Sequence[Rule]) -> None:
        """Replace the rules; a rule whose JSON is unchanged keeps its state."""
        old = self._states
        self._states = {}
        for rule in rules:
            if not rule.enabled:
                continue
            kept = old.get(rule.id)
            if kept is not None and kept.rule == rule:
                self._states[rule.id] = kept
                continue
            for op in rule_operands(rule):
                self._feeds.setdefault(op, _Feed())
            # before any row: from the evaluator's start; after: from the newest row seen
            self._states[rule.id] = _RuleState(rule, self._feeds, self._newest)
        self._readers = {}
        for state in self._states.values():
            for op in sorted(rule_operands(state.rule)):
                self._readers.setdefault(op, []).append(state)

    @property
    def rules(self) -> list[Rule]:
        return [s.rule for s in self._states.values()]

    def needs(self) -> frozenset[Operand]:
        return frozenset(self._readers)

    # -- rows ----------------------------------------------------------------------------------
    def on_operand(self, op: Operand, data: OperandSeries, now_ms: int) -> list[Firing]:
        """Apply `data`'s rows of `op` known after those applied already and by `now_ms`;
        return the firings (noticed at `now_ms`)."""
        feed = self._feeds.get(op)
        readers = self._readers.get(op)
        if feed is None or not readers:
            return []
        known = data.known_ms
        values = data.values
        first = 0 if feed.last_known is None else int(
            np.searchsorted(known, feed.last_known, side="right"))
        last = int(np.searchsorted(known, now_ms, side="right"))
        feed.series = data
        if feed.wants_sum:
            if len(known) and feed.first_known != int(known[0]):  # a new or trimmed series
                feed.cumsum = _cumsum(values[:last]).tolist()
                feed.first_known = int(known[0])
            else:
                _extend_sum(feed, values, last)
        # rows up to the readers' start are history: the newest of them is the value now
        starts = [s.start_ms for s in readers]
        if None not in starts:
            first = max(first, int(np.searchsorted(known, min(starts), side="right")))
        if first > 0:
            feed.applied = first - 1
            feed.value = float(values[first - 1])
            feed.last_known = int(known[first - 1])
            if self._newest is None or feed.last_known > self._newest:
                self._newest = feed.last_known
        if first >= last:
            return []
        out: list[Firing] = []
        # one point per distinct known time, at its newest row
        if last - first == 1:
            ends = [first]
        else:
            chunk = known[first:last]
            ends = [*(np.flatnonzero(chunk[1:] != chunk[:-1]) + first).tolist(), last - 1]
        for end in ends:
            t = int(known[end])
            feed.applied = end
            feed.last_known = t
            feed.value = float(values[end])
            if self._newest is None or t > self._newest:
                self._newest = t
            for state in readers:
                if state.start_ms is not None and t <= state.start_ms:
                    continue  # history for this rule
                if state.step(t):
                    since = state.since if state.since is not None else t
                    out.append(state.about.firing(since, t, int(now_ms), self._scalar()))
        return out

    def _scalar(self) -> _Scalar:
        feeds = self._feeds

        def value(op: Operand) -> float:
            return feeds[op].value

        def window_sum(op: Operand, t: int, window_ms: int) -> float:
            return feeds[op].window_sum(t, window_ms)

        return _Scalar(value, lambda op, t, w: feeds[op].value_then(t, w), window_sum)

    # -- restarts ------------------------------------------------------------------------------
    def state_to_json(self) -> dict[str, Any]:
        """Armed, cooldown and leaf states per rule and how far each operand is evaluated: a
        restart continues without firing again on rows it has seen."""
        return {"version": 1, "newest_ms": self._newest,
                "operands": {op.key: f.last_known for op, f in sorted(self._feeds.items())
                             if f.last_known is not None},
                "rules": {rid: s.to_json() for rid, s in self._states.items()}}

    def state_from_json(self, obj: Mapping[str, Any]) -> None:
        """Continue from a saved state: rows known by each operand's saved time are history;
        a rule changed since starts afresh."""
        if not isinstance(obj, Mapping) or obj.get("version") != 1:
            return
        operands = obj.get("operands") or {}
        newest = obj.get("newest_ms")
        for op, feed in self._feeds.items():
            last = operands.get(op.key)
            if not isinstance(last, int) and isinstance(newest, int):
                last = newest  # an input with no row then: what came before is history
            if isinstance(last, int):
                feed.last_known = last
                feed.applied = -1
        if isinstance(newest, int):
            self._newest = newest if self._newest is None else max(self._newest, newest)
        saved = obj.get("rules") or {}
        for rid, state in self._states.items():
            if rid in saved and isinstance(saved[rid], Mapping):
                try:
                    if state.restore(saved[rid]):
                        state.start_ms = None
                        continue
                except (TypeError, ValueError):
                    pass
            state.start_ms = self._newest


def _extend_sum(feed: _Feed, values: np.ndarray, last: int) -> None:
    """The running sum up to row `last`, extended left to right as `np.cumsum` adds."""
    cs = feed.cumsum
    have = len(cs) - 1
    if have >= last:
        return
    total = cs[-1]
    for v in values[have:last].tolist():
        total += 0.0 if v != v else v
        cs.append(total)
