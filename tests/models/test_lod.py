"""models.lod: the level-of-detail pyramids are exact to half a pixel's rows.

What "exact" means here (models/lod.py docstring): in a reduced view, column c of the n_px
columns covers x in [x0 + c·dx, x0 + (c+1)·dx). A bucket of s rows is drawn in the column that
holds its first row, and s <= spp / 2 (spp = visible rows per column). So, with h = s - 1 and
the column's own rows being f..l (indices):

* the drawn min of the column is >= the NaN-ignoring min of rows [f - h, l + h] (it never shows
  a value from further away) and <= the min of rows [f + h, l - h] (it never hides a value of
  the column's interior); the same, mirrored, for the max;
* a column with a finite row in [f + h, l - h] is drawn;
* h < spp / 2: the slack is less than half a pixel's rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.lod import DEFAULT_BUCKET, FACTOR, MinMaxPyramid, OhlcPyramid
from models.series import break_gaps


def _series(rng: np.random.Generator, n: int, nan_share: float = 0.01) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Irregular, strictly ascending x; a random walk y with NaN gaps (single rows and runs)."""
    x = 1.7e9 + np.cumsum(rng.choice([1.0, 1.0, 1.0, 2.5, 60.0], size=n) * rng.uniform(
        0.5, 1.5, size=n))
    y = np.cumsum(rng.standard_normal(n)) + 100.0
    y[rng.random(n) < nan_share] = np.nan
    for _ in range(3):  # a few longer gaps
        a = int(rng.integers(0, n))
        y[a:a + int(rng.integers(1, 500))] = np.nan
    return x, y


def _nanmin(a: np.ndarray) -> float:
    return float(np.fmin.reduce(a)) if len(a) else math.nan


def _nanmax(a: np.ndarray) -> float:
    return float(np.fmax.reduce(a)) if len(a) else math.nan


def _level_size(p: MinMaxPyramid, rows: int, n_px: int) -> int:
    level = p.choose_level(rows, n_px)
    assert level != -2
    return 1 if level == -1 else p.bucket * FACTOR ** level


def _check_view(p: MinMaxPyramid, x: np.ndarray, y: np.ndarray, x0: float, x1: float,
                n_px: int) -> int:
    """Checks one reduced view; returns the number of columns compared."""
    xs, ys = p.query(x0, x1, n_px)
    i0 = int(np.searchsorted(x, x0, "left"))
    i1 = int(np.searchsorted(x, x1, "right"))
    spp = (i1 - i0) / n_px
    s = _level_size(p, i1 - i0, n_px)
    h = s - 1
    assert s == 1 or s <= spp / 2
    assert h < max(spp / 2, 1)

    dx = (x1 - x0) / n_px
    inside = (xs >= x0) & (xs <= x1)
    col_of_vertex = np.floor((xs[inside] - x0) / dx).astype(np.intp)
    assert np.allclose(xs[inside], x0 + dx * (col_of_vertex + 0.5))  # column centres
    vy = ys[inside]
    # vertices per column: at most 2 (NaN break markers reuse the previous x)
    finite = ~np.isnan(vy)
    counts = np.bincount(col_of_vertex[finite], minlength=n_px)
    assert counts.max(initial=0) <= 2

    row_col = np.floor((x[i0:i1] - x0) / dx).astype(np.intp)
    row_col = np.minimum(row_col, n_px - 1)  # x == x1 belongs to the last column
    cols, first = np.unique(row_col, return_index=True)
    last = np.r_[first[1:], len(row_col)] - 1
    checked = 0
    for c, f, lst in zip(cols, first + i0, last + i0, strict=True):
        sel = finite & (col_of_vertex == c)
        drawn = vy[sel]
        outer = y[max(f - h, 0):lst + h + 1]
        inner = y[f + h:lst - h + 1] if lst - h >= f + h else y[0:0]
        inner_has = bool(np.isfinite(inner).any())
        if not len(drawn):
            assert not inner_has, f"column {c} has rows but drew nothing"
            continue
        lo, hi = drawn.min(), drawn.max()
        assert lo >= _nanmin(outer) and hi <= _nanmax(outer), f"column {c}: value from outside"
        if inner_has:
            assert lo <= _nanmin(inner) and hi >= _nanmax(inner), f"column {c}: value hidden"
        if h == 0:  # raw rows reduced per column: exact
            own = y[f:lst + 1]
            assert lo == _nanmin(own) and hi == _nanmax(own)
        checked += 1
    return checked


@pytest.mark.parametrize("seed", range(6))
def test_query_min_max_per_column_within_half_a_pixel_of_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20_000, 200_000))
    x, y = _series(rng, n)
    p = MinMaxPyramid.build(x, y)
    checked = 0
    for _ in range(12):
        n_px = int(rng.integers(50, 2000))
        a, b = np.sort(rng.uniform(x[0] - 0.05 * (x[-1] - x[0]), x[-1] * 1.0 + 100, size=2))
        if rng.random() < 0.3:  # zoomed in to a short stretch, still reduced
            b = a + (b - a) * rng.uniform(0.005, 0.05)
        i0, i1 = np.searchsorted(x, [a, b], "left")[0], np.searchsorted(x, b, "right")
        if (i1 - i0) / n_px < 2:
            continue
        checked += _check_view(p, x, y, float(a), float(b), n_px)
    assert checked > 100


def test_query_uses_pyramid_levels_and_stays_within_vertex_budget() -> None:
    rng = np.random.default_rng(7)
    x, y = _series(rng, 1_000_000, nan_share=0.0)
    p = MinMaxPyramid.build(x, y)
    assert p.choose_level(len(x), 1000) == 1  # 256-row buckets, 1000 rows per column
    xs, _ys = p.query(x[0], x[-1], 1000)
    assert len(xs) <= 2 * 1000 + 2
    assert _check_view(p, x, y, float(x[0]), float(x[-1]), 1000) > 900


def test_raw_rows_below_two_samples_per_pixel() -> None:
    rng = np.random.default_rng(3)
    x, y = _series(rng, 5_000)
    p = MinMaxPyramid.build(x, y)
    i0, i1 = 1000, 1900  # 900 rows on 600 columns: 1.5 per column
    x0, x1 = float(x[i0]), float(x[i1 - 1])
    assert p.choose_level(i1 - i0, 600) == -2
    xs, ys = p.query(x0, x1, 600)
    # the visible rows and one beyond each edge (its ends may be pulled in to the view's edge)
    np.testing.assert_array_equal(xs[1:-1], x[i0:i1])
    np.testing.assert_array_equal(ys[1:-1], y[i0:i1])
    assert len(xs) == i1 - i0 + 2
    assert xs[0] >= x[i0 - 1] and xs[-1] <= x[i1]


def test_nan_only_columns_and_break_gaps_break_the_line() -> None:
    t = np.arange(0, 100_000, dtype=np.int64) * 60_000
    t[50_000:] += 3 * 86_400_000  # a closed market: three days without rows
    v = np.sin(np.arange(len(t)) / 500.0) + 2
    t2, v2 = break_gaps(t, v, max_gap_ms=3_600_000)
    assert np.isnan(v2).sum() == 1
    p = MinMaxPyramid.build(t2.astype(np.float64), v2)
    xs, ys = p.query(float(t2[0]), float(t2[-1]), 800)
    brk = np.flatnonzero(np.isnan(ys))
    assert len(brk) == 1
    gap_x = float(t[49_999]), float(t[50_000])
    assert xs[brk[0] - 1] <= gap_x[0] + (t2[-1] - t2[0]) / 800
    assert xs[brk[0] + 1] >= gap_x[1] - (t2[-1] - t2[0]) / 800
    # without the NaN row the same data draws one unbroken line
    _xs_c, ys_c = MinMaxPyramid.build(t.astype(np.float64), v).query(float(t[0]), float(t[-1]),
                                                                    800)
    assert not np.isnan(ys_c).any()


def test_all_nan_and_empty() -> None:
    x = np.arange(10_000, dtype=np.float64)
    p = MinMaxPyramid.build(x, np.full(10_000, np.nan))
    assert p.bounds() is None
    xs, ys = p.query(0, 9999, 100)
    assert len(xs) == 0 or np.isnan(ys).all()
    e = MinMaxPyramid()
    assert len(e) == 0 and e.bounds() is None
    assert len(e.query(0, 1, 100)[0]) == 0


def _levels_equal(a: MinMaxPyramid, b: MinMaxPyramid) -> None:
    la, lb = a._levels, b._levels
    assert la.count == lb.count
    for lv, c in enumerate(la.count):
        np.testing.assert_array_equal(la.mn[lv][:c], lb.mn[lv][:c])
        np.testing.assert_array_equal(la.mx[lv][:c], lb.mx[lv][:c])
        np.testing.assert_array_equal(la.nan[lv][:c], lb.nan[lv][:c])


@pytest.mark.parametrize("seed", range(4))
def test_append_equals_rebuild(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    x, y = _series(rng, 30_000, nan_share=0.02)
    k = int(rng.integers(0, 200))
    p = MinMaxPyramid.build(x[:k].copy(), y[:k].copy())
    version = p.version
    while k < len(x):
        step = int(rng.choice([1, 1, 3, 64, 1000]))
        p.append(x[k:k + step], y[k:k + step])
        k += step
        if rng.random() < 0.05:
            _levels_equal(p, MinMaxPyramid.build(x[:k], y[:k]))
    assert p.version > version
    full = MinMaxPyramid.build(x, y)
    _levels_equal(p, full)
    np.testing.assert_array_equal(p.x, x)
    np.testing.assert_array_equal(p.y, y)
    for n_px in (100, 777):
        for got, want in zip(p.query(x[10], x[-10], n_px), full.query(x[10], x[-10], n_px),
                             strict=True):
            np.testing.assert_array_equal(got, want)
    assert p.bounds() == full.bounds()


def test_append_scalar_and_rejects_going_back() -> None:
    p = MinMaxPyramid.build(np.arange(5.0), np.arange(5.0))
    p.append(5.0, 7.0)
    assert len(p) == 6 and p.y[-1] == 7.0
    with pytest.raises(ValueError):
        p.append(1.0, 1.0)


def test_replace_last_equals_rebuild_and_leaves_caller_arrays_alone() -> None:
    rng = np.random.default_rng(11)
    x, y = _series(rng, 10_000, nan_share=0.0)
    original = y.copy()
    p = MinMaxPyramid.build(x, y)
    v0 = p.version
    for value in (1e6, -1e6, np.nan, 42.0):
        p.replace_last(value)
        want = original.copy()
        want[-1] = value
        _levels_equal(p, MinMaxPyramid.build(x, want))
    assert p.version == v0 + 4
    np.testing.assert_array_equal(y, original)  # adopted arrays are never written
    assert p.bounds() == MinMaxPyramid.build(x, want).bounds()


def test_y_range_matches_rows() -> None:
    rng = np.random.default_rng(5)
    x, y = _series(rng, 50_000)
    p = MinMaxPyramid.build(x, y)
    for _ in range(200):
        a, b = np.sort(rng.uniform(x[0] - 10, x[-1] + 10, size=2))
        sel = y[(x >= a) & (x <= b)]
        lo, hi = p.y_range(a, b)
        if np.isfinite(sel).any():
            assert (lo, hi) == (np.nanmin(sel), np.nanmax(sel))
        else:
            assert math.isnan(lo) and math.isnan(hi)


# -- OHLC ---------------------------------------------------------------------------------------
def _ohlc(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    x = 1.7e9 + 60.0 * np.arange(n)
    x[n // 3:] += 3600.0  # one irregular gap
    c = np.cumsum(rng.standard_normal(n)) + 1000.0
    o = np.r_[c[0], c[:-1]] + rng.normal(0, 0.1, n)
    h = np.maximum(o, c) + rng.random(n)
    low = np.minimum(o, c) - rng.random(n)
    return x, o, h, low, c


def _view_for_size(p: OhlcPyramid, x: np.ndarray, size: int, x0: float,
                   x1: float) -> int | None:
    for n_px in range(1, 20_000):
        if p.choose_size(x0, x1, n_px) == size:
            return n_px
    return None


@pytest.mark.parametrize("size", [1, 4, 16, 64, 256])
def test_ohlc_candles_equal_rows_grouped(size: int) -> None:
    rng = np.random.default_rng(size)
    x, o, h, low, c = _ohlc(rng, 20_000 + size * 7 + 3)
    p = OhlcPyramid.build(x, o, h, low, c)
    n = len(x)
    for a, b in ((0, n - 1), (n // 2, n - 1), (101, 101 + 40 * size + 13)):
        x0, x1 = float(x[a]), float(x[min(b, n - 1)])
        n_px = _view_for_size(p, x, size, x0, x1)
        assert n_px is not None
        cd = p.query(x0, x1, n_px)
        assert cd.size == size
        assert cd.width == pytest.approx(size * 60.0)
        first = cd.first_row
        last = np.minimum(first + size, n) - 1
        assert np.all(first % size == 0)
        np.testing.assert_array_equal(cd.open, o[first])
        np.testing.assert_array_equal(cd.close, c[last])
        want_hi = np.array([h[f:f + size].max() for f in first])
        want_lo = np.array([low[f:f + size].min() for f in first])
        np.testing.assert_array_equal(cd.high, want_hi)
        np.testing.assert_array_equal(cd.low, want_lo)
        # at its rows' middle time; one across the hour's gap (longer than its slot) on its
        # middle row, off the gap
        across = (x[last] - x[first]) > (last - first) * 60.0 + size * 60.0
        np.testing.assert_allclose(cd.x[~across], ((x[first] + x[last]) / 2)[~across])
        mid = first + (last - first) // 2
        mid2 = first + (last - first + 1) // 2
        np.testing.assert_allclose(cd.x[across], (x[mid] + np.minimum(x[mid2] - x[mid], 60.0)
                                                  / 2)[across])
        # every visible row is in a candle
        vis = np.flatnonzero((x >= x0) & (x <= x1))
        assert first[0] <= vis[0] and last[-1] >= vis[-1]
        # candle slots are at most ~3 px wide
        assert cd.width / ((x1 - x0) / n_px) <= 3.0 + 1e-9


def test_ohlc_drops_non_finite_rows_and_append_equals_rebuild() -> None:
    rng = np.random.default_rng(9)
    x, o, h, low, c = _ohlc(rng, 5_000)
    h[17] = np.nan
    p = OhlcPyramid.build(x, o, h, low, c)
    assert len(p) == len(x) - 1
    assert 17 * 60.0 + 1.7e9 not in set(p.column("x"))
    q = OhlcPyramid.build(x[:10], o[:10], h[:10], low[:10], c[:10])
    for i in range(10, len(x), 97):
        j = min(i + 97, len(x))
        q.append(x[i:j], o[i:j], h[i:j], low[i:j], c[i:j])
    _levels_equal(q, p)
    q.replace_last(1.0, 5000.0, 0.5, 2.0)
    assert q.bounds()[3] == 5000.0
    assert q.y_range(x[-1], x[-1]) == (0.5, 5000.0)
    assert q.column("c")[-1] == 2.0


def test_default_bucket_is_used() -> None:
    p = MinMaxPyramid.build(np.arange(1000.0), np.arange(1000.0))
    assert p.bucket == DEFAULT_BUCKET


def _session_minutes(days: int) -> np.ndarray:
    """1m bar times (s) of `days` weekdays of 09:30-16:00 New York (14:30-21:00 UTC) sessions."""
    day0 = 1_767_225_600  # 2026-01-01 00:00 UTC
    out = [day0 + d * 86_400 + 14 * 3600 + 30 * 60 + 60 * np.arange(390)
           for d in range(days)]
    return np.concatenate(out).astype(np.float64)


@pytest.mark.parametrize("size", [4, 16, 64, 256])
def test_ohlc_grouped_candle_across_a_closed_night_sits_in_the_session(size: int) -> None:
    x = _session_minutes(12)
    n = len(x)
    rng = np.random.default_rng(size)
    c = 100 + np.cumsum(rng.standard_normal(n))
    o = np.concatenate(([c[0]], c[:-1]))
    p = OhlcPyramid.build(x, o, np.maximum(o, c) + 0.1, np.minimum(o, c) - 0.1, c)
    x0, x1 = float(x[0]), float(x[-1])
    n_px = _view_for_size(p, x, size, x0, x1)
    assert n_px is not None
    cd = p.query(x0, x1, n_px)
    assert cd.size == size
    last = np.minimum(cd.first_row + size, n) - 1
    # seconds after 14:30 UTC within the day: open hours are 0 .. 390 min
    into_session = (cd.x - 14 * 3600 - 30 * 60) % 86_400
    assert np.all(into_session <= 390 * 60), "a candle drawn in closed hours"
    # each candle lies on its own rows: within a bar of one of them
    for cx, f, z in zip(cd.x, cd.first_row, last, strict=True):
        assert np.min(np.abs(x[f:z + 1] - cx)) <= 60.0
    # a candle whose rows are all in one session stays at its rows' middle
    same_day = (x[last] - x[cd.first_row]) < 390 * 60
    np.testing.assert_allclose(cd.x[same_day], (x[cd.first_row] + x[last])[same_day] / 2)
    assert same_day.sum() < len(cd.x)  # and the test did meet candles across a night
