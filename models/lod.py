"""Level-of-detail pyramids: per-frame chart cost that depends on pixels, not rows.

A line chart can show at most a min and a max per pixel column (M4, Jugel et al. 2014), so a
frame never needs more than ~2 vertices per column, whatever the row count. `MinMaxPyramid`
keeps the min and max of buckets of `bucket` rows (64 by default), and of 4, 16, 64 … such
buckets above that. A frame picks the coarsest level that still has at least two buckets per
pixel column, slices the visible buckets (a few thousand at most), and reduces them per pixel
column with `np.fmin.reduceat` / `np.fmax.reduceat`. Below ~128 rows per column it reduces the
raw rows instead (exact), and below 2 rows per column it returns the raw rows.

`OhlcPyramid` does the same for candles: high = max, low = min, open = first row's open, close =
last row's close (read from the raw rows, so they cost no memory), at the coarsest level whose
candle is at most ~3 px wide.

Pure numpy, no Qt. A build is a handful of numpy reductions (they release the GIL), so it can run
on a worker thread; the built object is then handed to the GUI thread, which owns it from then on
(`append` / `replace_last` mutate it and are not thread-safe).

Exactness: a bucket belongs to the pixel column that holds its first row, and buckets hold at most
half a column's rows, so a column's drawn min/max are those of its own rows give or take half a
pixel's rows at its two edges. NaN rows are gaps: a column whose rows are all NaN, or an x gap of
more than a column that contains a NaN row (`models.series.break_gaps`), breaks the line.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

FACTOR = 4  # each level holds 4 buckets of the level below
DEFAULT_BUCKET = 64  # rows per level-0 bucket: ~2 % memory on top of x and y (2 floats + 1 bool)
RAW_BELOW_SPP = 2.0  # fewer rows per pixel column than this: draw the raw rows
MAX_CANDLE_PX = 3.0

_EMPTY = np.empty(0, dtype=np.float64)


def _as_f8(a: object, name: str, scalar_ok: bool = False) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if scalar_ok and arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _check_ascending(x: np.ndarray) -> None:
    # Also rejects NaN in x (every comparison with NaN is False).
    if len(x) > 1 and not bool((x[1:] >= x[:-1]).all()):
        raise ValueError("x must be finite and ascending")
    if len(x) and not (math.isfinite(x[0]) and math.isfinite(x[-1])):
        raise ValueError("x must be finite and ascending")


def _bucket_minmax(lo_src: np.ndarray, hi_src: np.ndarray,
                   size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(min, max, has_nan) of consecutive buckets of `size` rows (the last one may be short).

    min/max ignore NaN (NaN only when a bucket is all NaN). `minimum.reduceat` propagates NaN and
    is the fastest reduction here (4 ms per 10M rows); the few buckets holding a NaN are redone
    with `fmin`, so a series without gaps pays for one pass per column.
    """
    n = len(lo_src)
    starts = np.arange(0, n, size)
    mn = np.minimum.reduceat(lo_src, starts)
    mx = np.maximum.reduceat(hi_src, starts)
    has_nan = np.isnan(mn) | np.isnan(mx)
    bad = np.flatnonzero(has_nan)
    if len(bad):
        if len(bad) * 4 > len(starts):  # mostly gaps: one NaN-aware pass is cheaper
            mn = np.fmin.reduceat(lo_src, starts)
            mx = np.fmax.reduceat(hi_src, starts)
        else:
            for b in bad:  # rare: a handful of gap buckets
                lo, hi = b * size, min(b * size + size, n)
                mn[b] = np.fmin.reduce(lo_src[lo:hi])
                mx[b] = np.fmax.reduce(hi_src[lo:hi])
    return mn, mx, has_nan


def _group(mn: np.ndarray, mx: np.ndarray,
           nan: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts = np.arange(0, len(mn), FACTOR)
    return (np.fmin.reduceat(mn, starts), np.fmax.reduceat(mx, starts),
            np.logical_or.reduceat(nan, starts))


class _Levels:
    """min/max/has-NaN per bucket for every level, in growable arrays (amortised appends)."""

    def __init__(self, bucket: int) -> None:
        if bucket < 1:
            raise ValueError("bucket must be >= 1")
        self.bucket = bucket
        self.mn: list[np.ndarray] = []
        self.mx: list[np.ndarray] = []
        self.nan: list[np.ndarray] = []
        self.count: list[int] = []

    def size(self, level: int) -> int:
        return self.bucket * FACTOR ** level

    def _store(self, level: int, start: int, mn: np.ndarray, mx: np.ndarray,
               nan: np.ndarray) -> None:
        end = start + len(mn)
        if level == len(self.mn):
            assert start == 0, "a new level is always computed whole"
            self.mn.append(mn)
            self.mx.append(mx)
            self.nan.append(nan)
            self.count.append(end)
            return
        if end > len(self.mn[level]):
            cap = max(end, len(self.mn[level]) + len(self.mn[level]) // 4 + 16)
            for arrays in (self.mn, self.mx, self.nan):
                grown = np.empty(cap, dtype=arrays[level].dtype)
                grown[:start] = arrays[level][:start]
                arrays[level] = grown
        self.mn[level][start:end] = mn
        self.mx[level][start:end] = mx
        self.nan[level][start:end] = nan
        self.count[level] = end

    def update(self, lo_src: np.ndarray, hi_src: np.ndarray, n: int, first_row: int) -> None:
        """Recompute every bucket touched by rows [first_row, n): O(changed rows + 4·levels)."""
        if n == 0:
            self.mn, self.mx, self.nan, self.count = [], [], [], []
            return
        b = first_row // self.bucket
        lo = b * self.bucket
        self._store(0, b, *_bucket_minmax(lo_src[lo:n], hi_src[lo:n], self.bucket))
        level = 0
        while self.count[level] > 1:
            below = level
            level += 1
            b = b // FACTOR if level < len(self.count) else 0
            s = b * FACTOR
            c = self.count[below]
            self._store(level, b, *_group(self.mn[below][s:c], self.mx[below][s:c],
                                          self.nan[below][s:c]))
        del self.mn[level + 1:], self.mx[level + 1:], self.nan[level + 1:]
        del self.count[level + 1:]

    def nbytes(self) -> int:
        return sum(a.nbytes for arrays in (self.mn, self.mx, self.nan) for a in arrays)

    def range_minmax(self, lo_src: np.ndarray, hi_src: np.ndarray, n: int, i0: int,
                     i1: int) -> tuple[float, float]:
        """NaN-ignoring (min, max) over rows [i0, i1) in O(bucket + 2·FACTOR·levels)."""
        i0, i1 = max(i0, 0), min(i1, n)
        if i1 <= i0:
            return math.nan, math.nan
        size = self.bucket
        b0 = -(-i0 // size)
        b1 = i1 // size + (1 if i1 == n and n % size else 0)  # the short last bucket is whole
        if b1 <= b0 or not self.count:
            return (float(np.fmin.reduce(lo_src[i0:i1])), float(np.fmax.reduce(hi_src[i0:i1])))
        mins = [np.fmin.reduce(lo_src[i0:b0 * size]) if b0 * size > i0 else math.nan,
                np.fmin.reduce(lo_src[b1 * size:i1]) if b1 * size < i1 else math.nan]
        maxs = [np.fmax.reduce(hi_src[i0:b0 * size]) if b0 * size > i0 else math.nan,
                np.fmax.reduce(hi_src[b1 * size:i1]) if b1 * size < i1 else math.nan]
        lo_b, hi_b = b0, b1
        for level in range(len(self.count)):
            count = self.count[level]
            up0 = -(-lo_b // FACTOR)
            up1 = hi_b // FACTOR + (1 if hi_b == count and count % FACTOR else 0)
            if level + 1 >= len(self.count) or up1 <= up0:
                mins.append(np.fmin.reduce(self.mn[level][lo_b:hi_b]))
                maxs.append(np.fmax.reduce(self.mx[level][lo_b:hi_b]))
                break
            # whole parents go up a level; the ragged ends are read here
            edges = ((lo_b, up0 * FACTOR), (up1 * FACTOR, hi_b))
            for a, z in edges:
                if z > a:
                    mins.append(np.fmin.reduce(self.mn[level][a:z]))
                    maxs.append(np.fmax.reduce(self.mx[level][a:z]))
            lo_b, hi_b = up0, up1
        return float(np.fmin.reduce(np.asarray(mins))), float(np.fmax.reduce(np.asarray(maxs)))


class _Rows:
    """Raw columns in buffers that grow by 25 % when an append does not fit.

    A build adopts the caller's arrays (no copy); the first append copies them once into owned
    buffers with headroom. `reserve()` does that copy up front, e.g. on the worker that built it.
    """

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        lens = {len(v) for v in columns.values()}
        if len(lens) != 1:
            sizes = {k: len(v) for k, v in columns.items()}
            raise ValueError(f"columns differ in length: {sizes}")
        self.n = lens.pop()
        self.buf = dict(columns)
        self.owned = False

    def view(self, name: str) -> np.ndarray:
        return self.buf[name][:self.n]

    def reserve(self, extra: int) -> None:
        need = self.n + max(int(extra), 0)
        cap = len(next(iter(self.buf.values())))
        if self.owned and cap >= need:
            return
        # room for a quarter more rows, at most 64k: 25 % of BTC's 4.9M minutes was ~70 MB a
        # pyramid; 64k live bars (45 days of minutes) then cost one copy
        cap = max(need, self.n + min(self.n // 4, 65_536) + 1024)
        for name, arr in self.buf.items():
            grown = np.empty(cap, dtype=np.float64)
            grown[:self.n] = arr[:self.n]
            self.buf[name] = grown
        self.owned = True

    def extend(self, columns: dict[str, np.ndarray]) -> int:
        k = len(next(iter(columns.values())))
        self.reserve(k)
        for name, arr in columns.items():
            self.buf[name][self.n:self.n + k] = arr
        first = self.n
        self.n += k
        return first

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.buf.values())


class MinMaxPyramid:
    """Min/max level-of-detail pyramid over (x ascending, y with NaN gaps).

    >>> p = MinMaxPyramid.build(x, y)        # worker thread: numpy reductions only
    >>> xs, ys = p.query(x0, x1, n_px)      # GUI thread, per range change: O(pixels)
    >>> p.append(x_new, y_new); p.replace_last(y_forming)
    """

    def __init__(self, x: object = _EMPTY, y: object = _EMPTY, *,
                 bucket: int = DEFAULT_BUCKET) -> None:
        xa, ya = _as_f8(x, "x"), _as_f8(y, "y")
        if xa.shape != ya.shape:
            raise ValueError(f"x has {len(xa)} rows, y has {len(ya)}")
        _check_ascending(xa)
        self._rows = _Rows({"x": xa, "y": ya})
        self._levels = _Levels(bucket)
        self._levels.update(ya, ya, len(ya), 0)
        self._version = 0
        self._col_index: np.ndarray | None = None

    @classmethod
    def build(cls, x: object, y: object, *, bucket: int = DEFAULT_BUCKET) -> MinMaxPyramid:
        """Build from whole arrays (adopted, not copied: do not mutate them afterwards)."""
        return cls(x, y, bucket=bucket)

    # -- data ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._rows.n

    @property
    def x(self) -> np.ndarray:
        return self._rows.view("x")

    @property
    def y(self) -> np.ndarray:
        return self._rows.view("y")

    @property
    def bucket(self) -> int:
        return self._levels.bucket

    @property
    def version(self) -> int:
        """Bumped by every change; items use it to invalidate cached bounds."""
        return self._version

    def nbytes(self) -> int:
        """Memory of the pyramid levels (the rows themselves not counted)."""
        return self._levels.nbytes()

    def reserve(self, extra: int) -> None:
        """Make room for `extra` appended rows now (copies adopted arrays once)."""
        self._rows.reserve(extra)

    def append(self, x: object, y: object) -> None:
        """Append rows after the last one: O(rows + 4·levels), amortised growth."""
        xa, ya = _as_f8(x, "x", True), _as_f8(y, "y", True)
        if xa.shape != ya.shape:
            raise ValueError(f"x has {len(xa)} rows, y has {len(ya)}")
        if not len(xa):
            return
        _check_ascending(xa)
        if self._rows.n and not xa[0] >= self._rows.buf["x"][self._rows.n - 1]:
            raise ValueError("appended x must not be before the last row")
        first = self._rows.extend({"x": xa, "y": ya})
        y_all = self.y
        self._levels.update(y_all, y_all, self._rows.n, first)
        self._version += 1

    def replace_last(self, y: float) -> None:
        """Change the last row's value (the bar still forming): O(bucket + 4·levels)."""
        n = self._rows.n
        if n == 0:
            raise IndexError("replace_last on an empty pyramid")
        self._rows.reserve(0)  # adopted arrays are the caller's: never write into them
        self._rows.buf["y"][n - 1] = float(y)
        y_all = self.y
        self._levels.update(y_all, y_all, n, n - 1)
        self._version += 1

    # -- queries ------------------------------------------------------------------------------
    def bounds(self) -> tuple[float, float, float, float] | None:
        """(x_min, x_max, y_min, y_max) of all rows, NaN ignored; None when empty or all NaN."""
        n = self._rows.n
        if n == 0:
            return None
        top = len(self._levels.count) - 1
        lo = float(np.fmin.reduce(self._levels.mn[top][:self._levels.count[top]]))
        hi = float(np.fmax.reduce(self._levels.mx[top][:self._levels.count[top]]))
        if math.isnan(lo):
            return None
        x = self._rows.buf["x"]
        return float(x[0]), float(x[n - 1]), lo, hi

    def y_range(self, x0: float, x1: float) -> tuple[float, float]:
        """NaN-ignoring (min, max) of y over rows with x0 <= x <= x1, in O(levels)."""
        x = self.x
        i0 = int(np.searchsorted(x, x0, "left"))
        i1 = int(np.searchsorted(x, x1, "right"))
        y = self.y
        return self._levels.range_minmax(y, y, self._rows.n, i0, i1)

    def min_positive(self) -> float | None:
        """Smallest y > 0 (log-scale bounds when some y <= 0); O(N), callers cache it."""
        y = self.y
        pos = y[y > 0]
        return float(pos.min()) if len(pos) else None

    def choose_level(self, rows: int, n_px: int) -> int:
        """Level index for a view holding `rows` rows over `n_px` columns.

        -2: draw raw rows; -1: reduce raw rows per column; >= 0: reduce that level per column.
        """
        spp = rows / max(n_px, 1)
        if spp < RAW_BELOW_SPP:
            return -2
        level = -1
        for lv in range(len(self._levels.count)):
            if self._levels.size(lv) * 2 <= spp:
                level = lv
            else:
                break
        return level

    def query(self, x0: float, x1: float, n_px: int) -> tuple[np.ndarray, np.ndarray]:
        """Vertices (xs, ys) that draw rows x0 <= x <= x1 on `n_px` pixel columns.

        At most two vertices per pixel column (placed at the column's centre, min and max in the
        order the column's first and last rows suggest) plus one row beyond each edge so the line
        runs off the view; NaN in `ys` is a break. With fewer than 2 rows per column the raw rows
        are returned.
        """
        n = self._rows.n
        n_px = int(n_px)
        if n == 0 or n_px < 1 or not x1 > x0:
            return _EMPTY, _EMPTY
        x, y = self.x, self.y
        i0 = int(np.searchsorted(x, x0, "left"))
        i1 = int(np.searchsorted(x, x1, "right"))
        dx = (x1 - x0) / n_px
        level = self.choose_level(i1 - i0, n_px)
        if level == -2:
            lo, hi = max(i0 - 1, 0), min(i1 + 1, n)
            xs, ys = x[lo:hi].copy(), y[lo:hi].copy()
            _clamp_edges(xs, ys, x0 - dx, x1 + dx)
            return xs, ys

        if level == -1:
            size, b_lo, b_hi = 1, i0, i1
            first_x = x[i0:i1]
            mn_src = mx_src = y[i0:i1]
            nan_src = None
        else:
            size = self._levels.size(level)
            b_lo, b_hi = i0 // size, -(-i1 // size)
            first_x = x[b_lo * size:b_hi * size:size]
            mn_src = self._levels.mn[level][b_lo:b_hi]
            mx_src = self._levels.mx[level][b_lo:b_hi]
            nan_src = self._levels.nan[level][b_lo:b_hi]

        # Buckets go to the column holding their first row; those starting before x0 go to
        # column 0 (searchsorted gives 0), so no row inside the view is lost.
        edges = x0 + dx * self._column_index(n_px)
        bounds = np.empty(n_px + 1, dtype=np.intp)
        bounds[0] = 0
        bounds[1:-1] = np.searchsorted(first_x, edges[1:-1], "left")
        bounds[-1] = len(first_x)
        nonempty = bounds[1:] > bounds[:-1]
        cols = np.flatnonzero(nonempty)
        starts = bounds[:-1][nonempty]
        ends = bounds[1:][nonempty]
        if not len(cols):
            return _EMPTY, _EMPTY
        if nan_src is None:  # raw rows: minimum.reduceat propagates NaN, so it flags gaps
            mn_nan = np.minimum.reduceat(mn_src, starts)
            col_nan = np.isnan(mn_nan)
            if col_nan.any():
                mn = np.fmin.reduceat(mn_src, starts)
                mx = np.fmax.reduceat(mx_src, starts)
            else:
                mn, mx = mn_nan, np.maximum.reduceat(mx_src, starts)
        else:
            mn = np.fmin.reduceat(mn_src, starts)
            mx = np.fmax.reduceat(mx_src, starts)
            col_nan = np.logical_or.reduceat(nan_src, starts)

        # first / last row of each column, for the min/max order (a rising column goes min->max)
        first_row = (b_lo + starts) * size
        last_row = np.minimum((b_lo + ends) * size, n) - 1
        rising = ~(y[last_row] < y[first_row])
        v0 = np.where(rising, mn, mx)
        v1 = np.where(rising, mx, mn)
        pos = cols.astype(np.float64)
        cx = x0 + dx * (pos + 0.5)

        # One row beyond each edge, as pseudo-columns -1 and n_px with a single vertex.
        left, right = b_lo * size - 1, min(b_hi * size, n)
        two = np.ones(len(cols), dtype=bool)
        if left >= 0 or right < n:
            pre = [left] if left >= 0 else []
            post = [right] if right < n else []
            ey = y[pre + post]
            pos = np.concatenate(([-1.0] * len(pre), pos, [float(n_px)] * len(post)))
            cx = np.concatenate((x[pre], cx, x[post]))
            v0 = np.concatenate((ey[:len(pre)], v0, ey[len(pre):]))
            v1 = np.concatenate((ey[:len(pre)], v1, ey[len(pre):]))
            col_nan = np.concatenate((np.isnan(ey[:len(pre)]), col_nan,
                                      np.isnan(ey[len(pre):])))
            two = np.concatenate((np.zeros(len(pre), bool), two, np.zeros(len(post), bool)))

        keep = np.flatnonzero(~np.isnan(v0))
        if not len(keep):
            return _EMPTY, _EMPTY
        # A break between two drawn columns more than a column apart with a NaN row in between
        # (a NaN-only column, or an x gap that break_gaps marked).
        nan_before = np.concatenate(([0], np.cumsum(col_nan)))
        a, b = keep[:-1], keep[1:]
        brk = (pos[b] - pos[a] > 1) & (nan_before[b] - nan_before[a] > 0)
        nv = 1 + two[keep]
        out = np.zeros(len(keep), dtype=np.intp)
        np.cumsum(nv[:-1] + brk, out=out[1:])
        total = int(out[-1] + nv[-1])
        xs = np.empty(total)
        ys = np.full(total, np.nan)
        xs[out] = cx[keep]
        ys[out] = v0[keep]
        second = out[two[keep]] + 1
        xs[second] = cx[keep][two[keep]]
        ys[second] = v1[keep][two[keep]]
        gap = out[1:][brk] - 1
        xs[gap] = xs[gap - 1]  # a break keeps an x (only y is NaN)
        _clamp_edges(xs, ys, x0 - dx, x1 + dx)
        return xs, ys

    def _column_index(self, n_px: int) -> np.ndarray:
        idx = self._col_index
        if idx is None or len(idx) != n_px + 1:
            idx = np.arange(n_px + 1, dtype=np.float64)
            self._col_index = idx
        return idx


def _clamp_edges(xs: np.ndarray, ys: np.ndarray, left: float, right: float) -> None:
    """Pull an off-view end vertex in to one column outside the view, on the same line.

    Keeps pixel coordinates small when zoomed far in (Qt's raster engine mis-draws segments
    with huge coordinates) without changing what is visible.
    """
    m = len(xs)
    if m >= 2:
        if xs[0] < left < xs[1] and math.isfinite(ys[0]) and math.isfinite(ys[1]):
            t = (left - xs[0]) / (xs[1] - xs[0])
            ys[0] = ys[0] + (ys[1] - ys[0]) * t
            xs[0] = left
        if xs[-2] < right < xs[-1] and math.isfinite(ys[-1]) and math.isfinite(ys[-2]):
            t = (right - xs[-2]) / (xs[-1] - xs[-2])
            ys[-1] = ys[-2] + (ys[-1] - ys[-2]) * t
            xs[-1] = right


class Candles(NamedTuple):
    """Candles to draw: centre x, OHLC, and the slot width (data units) each one covers.

    `first_row[i]` .. `first_row[i] + size - 1` are the rows candle i aggregates (the last
    candle may hold fewer).
    """

    x: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    width: float
    size: int
    first_row: np.ndarray


_NO_CANDLES = Candles(_EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY, 0.0, 1, np.empty(0, np.intp))


class OhlcPyramid:
    """OHLC level-of-detail pyramid for candles (rows with a non-finite price are dropped).

    Stored levels hold low/high per 64, 256 … rows (open and close are read from the rows);
    aggregations of 4 and 16 rows are made per frame from the (few) visible rows.
    """

    def __init__(self, x: object = _EMPTY, o: object = _EMPTY, h: object = _EMPTY,
                 low: object = _EMPTY, c: object = _EMPTY, *, bucket: int = DEFAULT_BUCKET,
                 bar_width: float | None = None) -> None:
        if bucket < FACTOR or FACTOR ** round(math.log(bucket, FACTOR)) != bucket:
            raise ValueError(f"bucket must be a power of {FACTOR}")
        cols = {"x": _as_f8(x, "x"), "o": _as_f8(o, "open"), "h": _as_f8(h, "high"),
                "l": _as_f8(low, "low"), "c": _as_f8(c, "close")}
        if len({len(v) for v in cols.values()}) != 1:
            raise ValueError("x, open, high, low and close must have the same length")
        cols = _finite_rows(cols)
        _check_ascending(cols["x"])
        self._rows = _Rows(cols)
        self._levels = _Levels(bucket)
        self._levels.update(cols["l"], cols["h"], self._rows.n, 0)
        self._bar_width = bar_width
        self._version = 0

    @classmethod
    def build(cls, x: object, o: object, h: object, low: object, c: object, *,
              bucket: int = DEFAULT_BUCKET, bar_width: float | None = None) -> OhlcPyramid:
        return cls(x, o, h, low, c, bucket=bucket, bar_width=bar_width)

    def __len__(self) -> int:
        return self._rows.n

    @property
    def version(self) -> int:
        return self._version

    def column(self, name: str) -> np.ndarray:
        """One of "x", "o", "h", "l", "c" (a view of the stored rows)."""
        return self._rows.view(name)

    @property
    def bar_width(self) -> float:
        """One bar's width in x units: given, else the median spacing of the last rows."""
        if self._bar_width is not None:
            return self._bar_width
        x = self._rows.view("x")
        if len(x) < 2:
            return 1.0
        d = np.diff(x[-4097:])
        d = d[d > 0]
        return float(np.median(d)) if len(d) else 1.0

    def nbytes(self) -> int:
        return self._levels.nbytes()

    def reserve(self, extra: int) -> None:
        self._rows.reserve(extra)

    def append(self, x: object, o: object, h: object, low: object, c: object) -> None:
        cols = {"x": _as_f8(x, "x", True), "o": _as_f8(o, "open", True),
                "h": _as_f8(h, "high", True), "l": _as_f8(low, "low", True),
                "c": _as_f8(c, "close", True)}
        if len({len(v) for v in cols.values()}) != 1:
            raise ValueError("x, open, high, low and close must have the same length")
        cols = _finite_rows(cols)
        if not len(cols["x"]):
            return
        _check_ascending(cols["x"])
        n = self._rows.n
        if n and not cols["x"][0] >= self._rows.buf["x"][n - 1]:
            raise ValueError("appended x must not be before the last row")
        first = self._rows.extend(cols)
        self._levels.update(self._rows.view("l"), self._rows.view("h"), self._rows.n, first)
        self._version += 1

    def replace_last(self, o: float, h: float, low: float, c: float) -> None:
        """Update the forming bar: O(bucket + 4·levels)."""
        n = self._rows.n
        if n == 0:
            raise IndexError("replace_last on an empty pyramid")
        values = (float(o), float(h), float(low), float(c))
        if not all(map(math.isfinite, values)):
            raise ValueError("OHLC values must be finite")
        self._rows.reserve(0)
        for name, v in zip("ohlc", values, strict=True):
            self._rows.buf[name][n - 1] = v
        self._levels.update(self._rows.view("l"), self._rows.view("h"), n, n - 1)
        self._version += 1

    def bounds(self) -> tuple[float, float, float, float] | None:
        n = self._rows.n
        if n == 0:
            return None
        top = len(self._levels.count) - 1
        c = self._levels.count[top]
        x = self._rows.buf["x"]
        half = self.bar_width / 2
        return (float(x[0]) - half, float(x[n - 1]) + half,
                float(self._levels.mn[top][:c].min()), float(self._levels.mx[top][:c].max()))

    def y_range(self, x0: float, x1: float) -> tuple[float, float]:
        """(lowest low, highest high) of rows with x0 <= x <= x1, in O(levels)."""
        x = self._rows.view("x")
        i0 = int(np.searchsorted(x, x0, "left"))
        i1 = int(np.searchsorted(x, x1, "right"))
        return self._levels.range_minmax(self._rows.view("l"), self._rows.view("h"),
                                         self._rows.n, i0, i1)

    def choose_size(self, x0: float, x1: float, n_px: int,
                    max_px: float = MAX_CANDLE_PX) -> int:
        """Rows per candle: the largest of 1, 4, 16 … whose candle spans <= max_px pixels."""
        px = (x1 - x0) / max(int(n_px), 1)
        bar = self.bar_width
        size = 1
        top = self._levels.size(len(self._levels.count) - 1) if self._levels.count else 1
        while size * FACTOR <= max(top, 1) and size * FACTOR * bar <= max_px * px:
            size *= FACTOR
        return size

    def query(self, x0: float, x1: float, n_px: int,
              max_px: float = MAX_CANDLE_PX) -> Candles:
        """The candles overlapping x0..x1 at the level whose candles are <= max_px wide."""
        n = self._rows.n
        if n == 0 or int(n_px) < 1 or not x1 > x0:
            return _NO_CANDLES
        x = self._rows.view("x")
        bar = self.bar_width
        size = self.choose_size(x0, x1, n_px, max_px)
        # a candle is drawn around its x: take the ones whose slot reaches into the view
        i0 = int(np.searchsorted(x, x0 - size * bar, "left"))
        i1 = int(np.searchsorted(x, x1 + size * bar, "right"))
        if i1 <= i0:
            return _NO_CANDLES
        g0, g1 = i0 // size, -(-i1 // size)
        first = np.arange(g0, g1, dtype=np.intp) * size
        last = np.minimum(first + size, n) - 1
        o = self._rows.view("o")[first]
        c = self._rows.view("c")[last]
        if size == 1:
            hi = self._rows.view("h")[i0:i1].copy()
            lo = self._rows.view("l")[i0:i1].copy()
        elif size < self._levels.bucket:  # 4 or 16 rows: reduce the visible rows directly
            r0, r1 = g0 * size, min(g1 * size, n)
            rel = first - r0
            hi = np.maximum.reduceat(self._rows.view("h")[r0:r1], rel)
            lo = np.minimum.reduceat(self._rows.view("l")[r0:r1], rel)
        else:
            level = round(math.log(size // self._levels.bucket, FACTOR))
            hi = self._levels.mx[level][g0:g1].copy()
            lo = self._levels.mn[level][g0:g1].copy()
        cx = _candle_centres(x, first, last, size, bar)
        return Candles(cx, o, hi, lo, c, size * bar, size, first)


def _candle_centres(x: np.ndarray, first: np.ndarray, last: np.ndarray, size: int,
                    bar: float) -> np.ndarray:
    """Each candle's x: the middle of its first and last rows' times; for a candle whose rows
    straddle a closed market (a night, a weekend: more than a slot of time more than its rows
    span), the time of its middle row(s), where most of its rows are, not in the closed hours."""
    cx = (x[first] + x[last]) * 0.5
    if size == 1 or not len(first):
        return cx
    gapped = np.flatnonzero(x[last] - x[first] > (last - first) * bar + size * bar)
    if len(gapped):
        f, z = first[gapped], last[gapped]
        lo, hi = f + (z - f) // 2, f + (z - f + 1) // 2  # the middle row, or the middle two
        cx[gapped] = x[lo] + np.minimum(x[hi] - x[lo], bar) * 0.5
    return cx


def _finite_rows(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    ok = np.isfinite(cols["o"]) & np.isfinite(cols["h"]) & np.isfinite(cols["l"])
    ok &= np.isfinite(cols["c"])
    if bool(ok.all()):
        return cols
    return {k: v[ok] for k, v in cols.items()}
