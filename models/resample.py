"""OHLCV resampling: coarser bars from finer ones, exact (docs/timeframes.md).

A bar is labelled at its open and holds the rows stamped in [open, open + interval) (pandas'
`resample(label="left", closed="left")`): first open, highest high, lowest low, last close,
summed volume (NaN when every row's volume is NaN: Yahoo sends none for indices). Columns other
than OHLC are summed the same way.

- **Fixed UTC bins** (crypto, any 24/7 market): bins of `interval_ms` from `anchor_ms`; weeks
  open Monday 00:00 UTC (`WEEK_ANCHOR_MS`) as Binance's do.
- **Sessions** (exchange-traded assets): a day is an exchange session (its open to its close,
  stamped at the open, as Yahoo stamps daily bars), a week the sessions of one calendar week,
  a 4h bar four hours from the session's open, cut at its close (`session_bins`).
- **Exact bins only** (`complete_bins`): keep a bar only when every source row it spans is
  present, so a bar built from stored minutes equals the venue's own.

Numpy only (the hot path runs on workers; 4.9M minutes to hours in well under 150 ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.series import MS_PER_DAY, SeriesData

#: 1970-01-01 was a Thursday: the first Monday 00:00 UTC after the epoch
WEEK_ANCHOR_MS = 4 * MS_PER_DAY
WEEK_MS = 7 * MS_PER_DAY

_FIRST = "open"
_MAX = "high"
_MIN = "low"
_LAST = "close"


def default_anchor(interval_ms: int) -> int:
    """Weeks (and multiples) open on Monday; every shorter bin on the epoch (UTC midnight)."""
    return WEEK_ANCHOR_MS if interval_ms % WEEK_MS == 0 else 0


def bin_open(time_ms: np.ndarray, interval_ms: int, anchor_ms: int = 0) -> np.ndarray:
    """Each time's bin open: the latest anchor_ms + k·interval_ms at or before it."""
    t = np.asarray(time_ms, dtype=np.int64)
    return t - (t - anchor_ms) % interval_ms  # numpy's % is non-negative for a positive divisor


def aggregate(data: SeriesData, labels: np.ndarray) -> tuple[SeriesData, np.ndarray]:
    """Rows grouped into runs of equal `labels` (non-decreasing, one per row) -> one bar per run
    stamped with its label, and how many rows each bar holds."""
    if len(data) == 0:
        return SeriesData.empty(data.names), np.empty(0, np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    starts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate(([0], starts))
    return _reduce(data, labels[starts], starts)


def _reduce(data: SeriesData, stamps: np.ndarray, starts: np.ndarray
            ) -> tuple[SeriesData, np.ndarray]:
    """One bar per run of rows beginning at `starts` (increasing, the first 0)."""
    counts = np.diff(np.append(starts, len(data)))
    ends = starts + counts - 1
    out = {}
    for name, col in data.columns.items():
        if name == _FIRST:
            out[name] = col[starts]
        elif name == _LAST:
            out[name] = col[ends]
        elif name == _MAX:
            out[name] = np.maximum.reduceat(col, starts)
        elif name == _MIN:
            out[name] = np.minimum.reduceat(col, starts)
        else:
            out[name] = _nan_sum(col, starts)
    return SeriesData(stamps, out), counts


def _fixed_bins(data: SeriesData, interval_ms: int, anchor_ms: int
                ) -> tuple[SeriesData, np.ndarray]:
    """`aggregate` over fixed bins, without a label per row when bins are few: each bin's first
    row is found by a search per bin edge (a hundredth of the work for minutes to hours)."""
    t = data.time
    n = len(t)
    if n == 0:
        return SeriesData.empty(data.names), np.empty(0, np.int64)
    first = int(bin_open(t[:1], interval_ms, anchor_ms)[0])
    edges = np.arange(first, int(t[-1]) + 1, interval_ms, dtype=np.int64)
    if len(edges) * 8 > n:  # bins nearly as many as rows: a label per row is as cheap
        return aggregate(data, bin_open(t, interval_ms, anchor_ms))
    starts = _search_sorted(t, edges)
    nonempty = np.flatnonzero(np.diff(np.append(starts, n)) > 0)
    return _reduce(data, edges[nonempty], starts[nonempty])


_BLOCK = 64


def _search_sorted(t: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """np.searchsorted(t, keys, "left") for sorted keys: first in every 64th row (which fits in
    the CPU cache), then a vectorised binary search inside the block, so the millions of rows
    are touched only log2(64) times per key instead of at random."""
    n = len(t)
    block = np.searchsorted(t[::_BLOCK], keys, side="left")
    lo = np.maximum(block - 1, 0) * _BLOCK
    hi = np.minimum(block * _BLOCK, n)  # t[hi] >= key (or hi = n): the answer is in (lo, hi]
    while True:
        open_ = lo < hi
        if not open_.any():
            return hi
        mid = (lo + hi) // 2
        below = open_ & (t[np.minimum(mid, n - 1)] < keys)
        lo = np.where(below, mid + 1, lo)
        hi = np.where(open_ & ~below, mid, hi)


def _nan_sum(col: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums per run skipping NaN; NaN where the run has no number at all (pandas min_count=1)."""
    sums = np.add.reduceat(col, starts)
    if not np.isnan(sums).any():  # NaN propagates: a clean result had none in its rows
        return sums
    nan = np.isnan(col)
    sums = np.add.reduceat(np.where(nan, 0.0, col), starts)
    numbers = np.add.reduceat((~nan).astype(np.int64), starts)
    sums[numbers == 0] = np.nan
    return sums


def resample_ohlcv(data: SeriesData, interval_ms: int, *,
                   anchor_ms: int | None = None) -> SeriesData:
    """Fixed UTC bins of `interval_ms` from `anchor_ms` (default: `default_anchor`)."""
    anchor = default_anchor(interval_ms) if anchor_ms is None else anchor_ms
    bars, _ = _fixed_bins(data, interval_ms, anchor)
    return bars


def complete_bins(data: SeriesData, interval_ms: int, source_ms: int, *,
                  anchor_ms: int | None = None) -> SeriesData:
    """`resample_ohlcv`, keeping only the bins holding all interval_ms / source_ms source rows
    (rows are assumed on the source grid, unique: a stored series is)."""
    if interval_ms % source_ms:
        raise ValueError(f"{source_ms} ms rows do not tile {interval_ms} ms bins")
    anchor = default_anchor(interval_ms) if anchor_ms is None else anchor_ms
    bars, counts = _fixed_bins(data, interval_ms, anchor)
    keep = counts == interval_ms // source_ms
    return _take(bars, keep)


def _take(data: SeriesData, keep: np.ndarray) -> SeriesData:
    if keep.all():
        return data
    return SeriesData(data.time[keep], {k: v[keep] for k, v in data.columns.items()})


# -- sessions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sessions:
    """An exchange's sessions in order: the UTC midnight of each session's date, its open and
    its close (epoch ms). Built from a calendar by `session_table`; plain arrays here."""

    day_ms: np.ndarray
    open_ms: np.ndarray
    close_ms: np.ndarray

    def __post_init__(self) -> None:
        for name in ("day_ms", "open_ms", "close_ms"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int64))

    def __len__(self) -> int:
        return int(self.open_ms.shape[0])


SESSION_INTERVALS = ("4h", "1d", "1w")
_FOUR_HOURS_MS = 4 * 3_600_000


def session_labels(time_ms: np.ndarray, sessions: Sessions, interval: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row: its bin's label (its open, epoch ms), and whether it falls in a session
    (rows outside every session, pre- or post-market, are left out); plus each label's span end
    (the bin's close), for telling complete bins."""
    if interval not in SESSION_INTERVALS:
        raise ValueError(f"session bins are {SESSION_INTERVALS}, not {interval!r}")
    t = np.asarray(time_ms, dtype=np.int64)
    idx = np.searchsorted(sessions.open_ms, t, side="right") - 1
    inside = idx >= 0
    inside[inside] &= t[inside] < sessions.close_ms[idx[inside]]
    idx = np.where(inside, idx, 0)
    opens, closes = sessions.open_ms[idx], sessions.close_ms[idx]
    if interval == "1d":
        return opens, inside, closes
    if interval == "4h":
        label = opens + (t - opens) // _FOUR_HOURS_MS * _FOUR_HOURS_MS
        return label, inside, np.minimum(label + _FOUR_HOURS_MS, closes)
    # a week: the sessions whose dates fall in one Monday-to-Sunday week, stamped at the first
    # one's open and closed at the last one's close
    week = bin_open(sessions.day_ms, WEEK_MS, WEEK_ANCHOR_MS)
    first = np.searchsorted(week, week, side="left")
    last = np.searchsorted(week, week, side="right") - 1
    return sessions.open_ms[first][idx], inside, sessions.close_ms[last][idx]


def session_bins(data: SeriesData, sessions: Sessions, interval: str, *,
                 source_ms: int | None = None) -> SeriesData:
    """Bars of `interval` ("4h", "1d", "1w") on `sessions`. With `source_ms`, only the bars
    holding every source row their span has (a bar spanning 6.5 h holds seven 1h rows: the
    last one half an hour long, as Yahoo's are)."""
    labels, inside, span_end = session_labels(data.time, sessions, interval)
    kept = _take(data, inside)
    bars, counts = aggregate(kept, labels[inside])
    if source_ms is None or not len(bars):
        return bars
    ends = span_end[inside]
    first_of_bar = np.concatenate(([0], np.cumsum(counts)[:-1]))
    span = ends[first_of_bar] - bars.time
    expected = -(-span // source_ms)  # ceil: a session's last row may be shorter
    if interval == "1w":
        # a week spans its closed nights too: count the source rows each session holds
        expected = _week_rows(sessions, bars.time, source_ms)
    return _take(bars, counts == expected)


def _week_rows(sessions: Sessions, week_open: np.ndarray, source_ms: int) -> np.ndarray:
    per_session = -(-(sessions.close_ms - sessions.open_ms) // source_ms)
    week = bin_open(sessions.day_ms, WEEK_MS, WEEK_ANCHOR_MS)
    first = np.searchsorted(week, week, side="left")
    key = sessions.open_ms[first]
    totals = {}
    for k, rows in zip(key.tolist(), per_session.tolist(), strict=True):
        totals[k] = totals.get(k, 0) + rows
    return np.array([totals.get(int(w), -1) for w in week_open], dtype=np.int64)


def session_table(calendar: str, start_ms: int, end_ms: int) -> Sessions:
    """The sessions of an exchange-calendars calendar (XNYS, CMES …) overlapping
    [start_ms, end_ms]; "24/5" gives each UTC weekday. Needs pandas (runs on a worker)."""
    from models.sessions import WEEKDAYS, exchange_calendar

    if calendar == WEEKDAYS:
        days = np.arange(start_ms - start_ms % MS_PER_DAY, end_ms + 1, MS_PER_DAY,
                         dtype=np.int64)
        days = days[(days // MS_PER_DAY + 3) % 7 < 5]
        return Sessions(days, days, days + MS_PER_DAY)
    import pandas as pd

    first = pd.Timestamp(start_ms - 8 * MS_PER_DAY, unit="ms", tz="UTC")
    last = pd.Timestamp(end_ms + 8 * MS_PER_DAY, unit="ms", tz="UTC")
    cal = exchange_calendar(calendar, first, last)
    sched = cal.schedule
    lo, hi = first.tz_localize(None).normalize(), last.tz_localize(None).normalize()
    sched = sched.loc[max(lo, sched.index[0]):min(hi, sched.index[-1])]
    day = sched.index.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    opens = sched["open"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
    closes = sched["close"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
    return Sessions(day, opens, closes)


def fill_older(native: SeriesData, derived: SeriesData) -> SeriesData:
    """The venue's own bars, with bars derived from finer rows where the venue's are missing
    (its history is shorter than the stored minutes'). Where both exist the venue's win."""
    if not len(derived):
        return native
    if not len(native):
        return derived
    missing = ~np.isin(derived.time, native.time, assume_unique=True)
    names = native.names
    extra = SeriesData(derived.time[missing], {k: derived[k][missing] for k in names
                                               if k in derived.columns})
    if not len(extra):
        return native
    return extra.merge(native)


def intervals_dividing(interval_ms: int, candidates: Sequence[int]) -> list[int]:
    """The candidate intervals (ms) finer than `interval_ms` that tile it, finest first."""
    return sorted(c for c in candidates if c < interval_ms and interval_ms % c == 0)
