"""Columnar time series: the one data shape every layer passes around.

`SeriesData` is immutable: a worker can merge new rows into the current value and hand the GUI
thread a new object, and the GUI thread only swaps a reference. Times are int64 epoch
milliseconds (UTC), ascending and unique; values are float64 columns, NaN where unknown.
pandas is imported lazily so the cold-start path (cache -> chart) never pays for it.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MS_PER_SECOND = 1_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000


def now_ms() -> int:
    """The wall clock as epoch milliseconds, the unit of every `SeriesData.time`."""
    return int(_time.time() * 1000)


@dataclass(frozen=True, eq=False)
class SeriesData:
    time: np.ndarray
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        time = np.ascontiguousarray(self.time, dtype=np.int64)
        cols = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in self.columns.items()}
        for name, col in cols.items():
            if col.shape != time.shape:
                raise ValueError(
                    f"column {name!r} has {col.shape[0]} rows, time has {time.shape[0]}")
        for arr in (time, *cols.values()):
            arr.setflags(write=False)
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "columns", cols)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def empty(cls, names: Iterable[str] = ()) -> SeriesData:
        return cls(np.empty(0, np.int64), {n: np.empty(0) for n in names})

    @classmethod
    def from_rows(cls, time_ms: Iterable[int], **columns: Iterable[float]) -> SeriesData:
        """Build from unsorted rows, possibly with repeated times (the last one wins)."""
        t = np.asarray(list(time_ms) if not isinstance(time_ms, np.ndarray) else time_ms,
                       dtype=np.int64)
        cols = {k: np.asarray(list(v) if not isinstance(v, np.ndarray) else v, dtype=np.float64)
                for k, v in columns.items()}
        return cls(t, cols).normalized()

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> SeriesData:
        """From a DataFrame with a tz-aware UTC DatetimeIndex and numeric columns."""
        index = frame.index
        if getattr(index, "tz", None) is None:
            raise ValueError("frame index must be a tz-aware UTC DatetimeIndex")
        t = index.as_unit("ms").asi8.astype(np.int64, copy=False)
        cols = {str(c): frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in frame.columns}
        return cls(t, cols).normalized()

    # -- access ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.time.shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def first_ms(self) -> int | None:
        return int(self.time[0]) if len(self) else None

    @property
    def last_ms(self) -> int | None:
        return int(self.time[-1]) if len(self) else None

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        index = pd.DatetimeIndex(pd.to_datetime(self.time, unit="ms", utc=True), name="time")
        return pd.DataFrame({k: np.array(v) for k, v in self.columns.items()}, index=index)

    # -- transforms (all return new objects) --------------------------------------------------
    def normalized(self) -> SeriesData:
        """Sort by time and drop repeated times, keeping the last occurrence."""
        t = self.time
        if len(t) == 0 or (np.all(t[1:] > t[:-1])):
            return self
        order = np.argsort(t, kind="stable")
        ts = t[order]
        keep = np.ones(len(ts), dtype=bool)
        keep[:-1] = ts[1:] != ts[:-1]  # last of each run of equal times
        idx = order[keep]
        return SeriesData(t[idx], {k: v[idx] for k, v in self.columns.items()})

    def merge(self, newer: SeriesData) -> SeriesData:
        """Union by time; where both have a row, `newer` wins. Columns are unioned (NaN-filled)."""
        if len(newer) == 0:
            return self
        if len(self) == 0:
            return newer.normalized()
        names = list(dict.fromkeys([*self.columns, *newer.columns]))
        newer = newer.normalized()
        # Rows before the first new time stay as they are: only the tail from there is sorted
        # (a refresh replaces the forming bar and appends: a few rows, not the whole series).
        keep = int(np.searchsorted(self.time, newer.time[0], "left"))
        tail_t = np.concatenate([self.time[keep:], newer.time])
        tail_cols = {n: np.concatenate([self._col_or_nan(n)[keep:], newer._col_or_nan(n)])
                     for n in names}
        tail = SeriesData(tail_t, tail_cols).normalized()
        t = np.concatenate([self.time[:keep], tail.time])
        cols = {n: np.concatenate([self._col_or_nan(n)[:keep], tail.columns[n]]) for n in names}
        return SeriesData(t, cols)

    def merge_with_tail(self, newer: SeriesData) -> tuple[SeriesData, int | None]:
        """`merge(newer)` and the index from which the result may differ from `self`.

        Rows before that index are `self`'s, unchanged: a view can extend what it drew from
        there. None when the merge reaches the first row (older history arrived, or `self` was
        empty): then everything is new.
        """
        merged = self.merge(newer)
        if len(newer) == 0:
            return merged, len(self)
        tail_from = int(np.searchsorted(self.time, newer.time.min(), "left"))
        return merged, tail_from if tail_from > 0 else None

    @classmethod
    def concat(cls, parts: Iterable[SeriesData]) -> SeriesData:
        """Union of `parts` by time; for a repeated time the later part wins (like merging
        them in order, in one copy)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0].normalized()
        names = list(dict.fromkeys(n for p in parts for n in p.columns))
        t = np.concatenate([p.time for p in parts])
        cols = {n: np.concatenate([p._col_or_nan(n) for p in parts]) for n in names}
        return cls(t, cols).normalized()

    def without_empty_rows(self) -> SeriesData:
        """Drop rows with no finite value in any column (nothing worth keeping)."""
        if not len(self) or not self.columns:
            return self
        finite = np.zeros(len(self), dtype=bool)
        for col in self.columns.values():
            finite |= np.isfinite(col)
        if finite.all():
            return self
        return SeriesData(self.time[finite], {k: v[finite] for k, v in self.columns.items()})

    def between(self, start_ms: int | None = None, end_ms: int | None = None) -> SeriesData:
        """Rows with start_ms <= time <= end_ms (either bound optional)."""
        lo = 0 if start_ms is None else int(np.searchsorted(self.time, start_ms, "left"))
        hi = len(self) if end_ms is None else int(np.searchsorted(self.time, end_ms, "right"))
        if lo == 0 and hi == len(self):
            return self
        return SeriesData(self.time[lo:hi], {k: v[lo:hi] for k, v in self.columns.items()})

    def select(self, names: Iterable[str]) -> SeriesData:
        return SeriesData(self.time, {n: self._col_or_nan(n) for n in names})

    def _col_or_nan(self, name: str) -> np.ndarray:
        col = self.columns.get(name)
        return col if col is not None else np.full(len(self), np.nan)

    def __repr__(self) -> str:
        span = f"{self.first_ms}..{self.last_ms}" if len(self) else "empty"
        return f"SeriesData({len(self)} rows, {span}, columns={list(self.columns)})"


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A point-in-time table, e.g. an option chain: valued at `time_ms`, not the wall clock."""

    series_id: str
    time_ms: int
    frame: pd.DataFrame
    meta: Mapping[str, object] = field(default_factory=dict)
    #: when the cache stored this revision (wall clock ms); None when not read from a cache
    recorded_ms: int | None = None


def break_gaps(time_ms: np.ndarray, values: np.ndarray, max_gap_ms: int) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Insert a NaN after every gap longer than `max_gap_ms` so a chart line breaks there.

    A market-closed weekend or holiday must show as a break, not as a straight segment that
    looks like two days of quiet trading. Returns (time_ms, values) with the NaN rows added.
    """
    t = np.asarray(time_ms, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    if len(t) < 2:
        return t, v
    gaps = np.flatnonzero(np.diff(t) > max_gap_ms)
    if not len(gaps):
        return t, v
    # The NaN row sits one millisecond after the bar before the gap: invisible, but it splits.
    t_out = np.insert(t, gaps + 1, t[gaps] + 1)
    v_out = np.insert(v, gaps + 1, np.nan)
    return t_out, v_out


# -- row validation (before anything is stored) ----------------------------------------------------
#: rows and snapshots stamped later than this past "now" are refused: a row dated 2100 would
#: otherwise stay the newest for good
FUTURE_TOLERANCE_MS = 10 * 60_000
#: how far a bar's stamp may run ahead of "now", in bar intervals (a venue that stamps a forming
#: bar at its close)
FUTURE_BARS = 1

# The range each stored column must lie in; NaN is "unknown" and always allowed.
_POSITIVE = ("open", "high", "low", "close", "interval_hours", "mark", "index",
             "future_price", "index_price")
_NON_NEGATIVE = ("volume", "open_interest", "open_interest_usd", "long_usd", "short_usd",
                 "long_qty", "short_qty", "count", "days_to_expiry")
_BELOW_ONE_IN_SIZE = ("rate",)  # a funding rate per interval: |r| < 1 (100 %)


def _in_range(name: str, col: np.ndarray) -> np.ndarray:
    """True where the value is NaN or within the column's range (±inf is never in range)."""
    known = ~np.isnan(col)
    with np.errstate(invalid="ignore"):
        if name in _POSITIVE:
            ok = col > 0
        elif name in _NON_NEGATIVE:
            ok = col >= 0
        elif name in _BELOW_ONE_IN_SIZE:
            ok = np.abs(col) < 1
        else:
            ok = np.ones(len(col), dtype=bool)
    return ~known | (ok & np.isfinite(col))


@dataclass(frozen=True, eq=False)
class RowCheck:
    """The rows fit to store, and how many were dropped (or collapsed) for which reason."""

    data: SeriesData
    reasons: Mapping[str, int] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        return sum(self.reasons.values())

    def summary(self) -> str:
        """e.g. "2 dropped: non-finite volume" (empty when nothing was dropped)."""
        if not self.reasons:
            return ""
        parts = ", ".join(f"{n} {r}" if len(self.reasons) > 1 else r
                          for r, n in sorted(self.reasons.items()))
        return f"{self.rows_dropped} dropped: {parts}"


def check_rows(time_ms: np.ndarray, columns: Mapping[str, np.ndarray], *, now: int,
               interval_ms: int | None = None) -> RowCheck:
    """Validate raw rows (any order, repeated times allowed) before they are stored.

    A row is dropped when a value is ±inf ("non-finite <col>") or out of its range
    ("<col> out of range": prices and intervals > 0, volume and open interest >= 0, a funding
    rate |r| < 1), or when it is stamped more than FUTURE_TOLERANCE_MS (plus one bar) after
    `now` ("future time"). Repeated times keep the last row; a repeat with different values is
    counted ("duplicate time, different values"), an identical one is not. The result is
    sorted with strictly increasing times.
    """
    t = np.asarray(time_ms, dtype=np.int64)
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    reasons: dict[str, int] = {}
    keep = np.ones(len(t), dtype=bool)

    def drop(bad: np.ndarray, reason: str) -> None:
        bad = bad & keep
        count = int(bad.sum())
        if count:
            reasons[reason] = reasons.get(reason, 0) + count
            keep[bad] = False

    limit = now + FUTURE_TOLERANCE_MS + FUTURE_BARS * (interval_ms or 0)
    drop(t > limit, "future time")
    for name, col in cols.items():
        drop(np.isinf(col), f"non-finite {name}")
        drop(~_in_range(name, col), f"{name} out of range")
    t, cols = t[keep], {k: v[keep] for k, v in cols.items()}
    t, cols, conflicts = collapse_repeats(t, cols)
    if conflicts:
        reasons[DUPLICATE_REASON] = reasons.get(DUPLICATE_REASON, 0) + conflicts
    return RowCheck(SeriesData(t, cols), reasons)


DUPLICATE_REASON = "duplicate time, different values"
#: `frame.attrs` key a venue page carries: how many of its rows repeated a time with different
#: values (services/parsing.make_frame keeps the last); the refresh counts them
DUPLICATE_CONFLICTS = "duplicate_conflicts"


def collapse_repeats(time_ms: np.ndarray, columns: Mapping[str, np.ndarray]
                     ) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    """Sort by time and keep the last row of each repeated time. Also returns how many dropped
    repeats differed from the row kept (an identical repeat is harmless; NaN equals NaN)."""
    t = np.asarray(time_ms, dtype=np.int64)
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    if len(t) < 2 or np.all(t[1:] > t[:-1]):
        return t, cols, 0
    order = np.argsort(t, kind="stable")
    t, cols = t[order], {k: v[order] for k, v in cols.items()}
    last_of_run = np.ones(len(t), dtype=bool)
    last_of_run[:-1] = t[1:] != t[:-1]
    run_end = np.flatnonzero(last_of_run)
    kept_index = run_end[np.searchsorted(run_end, np.arange(len(t)))]
    differs = np.zeros(len(t), dtype=bool)
    for col in cols.values():
        kept = col[kept_index]
        differs |= ~((col == kept) | (np.isnan(col) & np.isnan(kept)))
    conflicts = int((differs & ~last_of_run).sum())
    return t[last_of_run], {k: v[last_of_run] for k, v in cols.items()}, conflicts


def frame_rows(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A page frame's times and columns as they came (unsorted, repeats kept) for `check_rows`."""
    index = frame.index
    if getattr(index, "tz", None) is None:
        raise ValueError("frame index must be a tz-aware UTC DatetimeIndex")
    t = index.as_unit("ms").asi8.astype(np.int64, copy=False)
    cols = {str(c): frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in frame.columns}
    return t, cols
