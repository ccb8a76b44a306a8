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
