"""Technical indicators of a price series: SMA, EMA, Bollinger bands, RSI, ATR, anchored VWAP and
the volume profile of a range (conventions: docs/indicators.md).

Everything is vectorised numpy (the recursive averages run through pandas' `ewm`, a C loop;
pandas is imported on first use, on a worker), so a 5M-row minute history is a fraction of a
second there. No Qt.

NaN rows (a missing bar, a gap row) never poison the rest of a series:
- rolling windows (SMA, Bollinger) are NaN while their window holds a NaN, as pandas'
  `rolling(n).mean()` with its default `min_periods=n`;
- the recursive averages (EMA, RSI, ATR) skip NaN rows: the output is NaN on them and the state
  carries over the gap (the next finite row continues from the last finite one);
- VWAP and the volume profile count a row with a NaN price or volume as no volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CHUNK = 1 << 12  # rows per block of the rolling sums (see _rolling_sums)


def _f8(a: object) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"expected a one-dimensional series, got shape {arr.shape}")
    return arr


def _check_period(n: int) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"period must be a positive integer, got {n!r}")
    return int(n)


# -- rolling windows -----------------------------------------------------------------------------
def _rolling_sums(x: np.ndarray, n: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Σ(x-c), Σ(x-c)², the count of NaN (or missing) rows over each window of n rows ending at
    row i, and c: the centre of the block the window ends in.

    Cumulative sums make a window O(1), but over millions of rows at BTC's price level their
    difference would lose the variance of a quiet hour to rounding. Each block of `_CHUNK` rows
    therefore sums deviations from its own mean, starting n-1 rows early for its first windows.
    """
    size = len(x)
    s1 = np.full(size, np.nan)
    s2 = np.full(size, np.nan)
    nans = np.zeros(size, dtype=np.int64)
    centre = np.zeros(size)
    for start in range(0, size, _CHUNK):
        end = min(start + _CHUNK, size)
        lo = max(start - n + 1, 0)
        seg = x[lo:end]
        bad = ~np.isfinite(seg)
        good = seg[~bad]
        c = float(good.mean()) if len(good) else 0.0
        d = np.where(bad, 0.0, seg - c)
        cs1 = np.concatenate(([0.0], np.cumsum(d)))
        cs2 = np.concatenate(([0.0], np.cumsum(d * d)))
        csn = np.concatenate(([0], np.cumsum(bad)))
        # windows ending at rows start..end-1 (local index i - lo), starting n-1 rows earlier
        e_local = np.arange(start, end) - lo + 1
        b_local = np.maximum(e_local - n, 0)
        s1[start:end] = cs1[e_local] - cs1[b_local]
        s2[start:end] = cs2[e_local] - cs2[b_local]
        nans[start:end] = csn[e_local] - csn[b_local]
        centre[start:end] = c
    short = (np.arange(size) < n - 1) * n  # the first n-1 windows are incomplete
    return s1, s2, nans + short, centre


def sma(x: object, n: int) -> np.ndarray:
    """Simple moving average of the last n rows; NaN for the first n-1 rows and while a NaN is
    in the window."""
    x, n = _f8(x), _check_period(n)
    s1, _, bad, centre = _rolling_sums(x, n)
    out = centre + s1 / n
    out[bad > 0] = np.nan
    return out


@dataclass(frozen=True)
class Bands:
    """Bollinger bands: the middle line (SMA) and middle ± k·σ."""

    middle: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


def rolling_std(x: object, n: int) -> np.ndarray:
    """Population standard deviation (ddof=0, Bollinger's own) of the last n rows."""
    x, n = _f8(x), _check_period(n)
    s1, s2, bad, _ = _rolling_sums(x, n)
    var = np.maximum(s2 / n - (s1 / n) ** 2, 0.0)
    out = np.sqrt(var)
    out[bad > 0] = np.nan
    return out


def bollinger(x: object, n: int = 20, k: float = 2.0) -> Bands:
    """SMA(n) ± k · population σ of the same n rows (Bollinger's definition; pandas' rolling
    std defaults to the sample σ, ddof=1, which is √(n/(n-1)) wider)."""
    x = _f8(x)
    mid = sma(x, n)
    sd = rolling_std(x, n)
    return Bands(mid, mid + k * sd, mid - k * sd)


# -- recursive averages --------------------------------------------------------------------------
def _recursive_mean(x: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """y = y_prev + α (x − y_prev) over the finite rows of x, seeded with the mean of the first n
    finite rows (at the n-th of them); NaN before the seed and on NaN rows."""
    import pandas as pd  # its ewm is the C loop; scipy is only a test dependency

    out = np.full(len(x), np.nan)
    idx = np.flatnonzero(np.isfinite(x))
    if len(idx) < n:
        return out
    v = x[idx]
    seed = v[:n].mean()
    rest = v[n:]
    # y_t = (1-α) y_{t-1} + α x_t from y = seed: pandas' adjust=False recursion started on it
    ys = pd.Series(np.concatenate(([seed], rest))).ewm(alpha=alpha, adjust=False).mean()
    ys = ys.to_numpy()[1:]
    out[idx[n - 1]] = seed
    out[idx[n:]] = ys
    return out


def ema(x: object, n: int) -> np.ndarray:
    """Exponential moving average with α = 2/(n+1), seeded with the SMA of the first n rows
    (so EMA and SMA agree on row n-1); NaN rows are skipped (module note)."""
    x, n = _f8(x), _check_period(n)
    return _recursive_mean(x, n, 2.0 / (n + 1.0))


def wilder(x: object, n: int) -> np.ndarray:
    """Wilder's smoothing (α = 1/n), seeded with the mean of the first n rows."""
    x, n = _f8(x), _check_period(n)
    return _recursive_mean(x, n, 1.0 / n)


def rsi(close: object, n: int = 14) -> np.ndarray:
    """Wilder's RSI: 100 − 100/(1 + avg gain / avg loss), both averages Wilder-smoothed and
    seeded with the plain mean of the first n changes. The first value is at row n (n changes
    need n+1 closes). All-gain windows give 100, flat ones 50. A NaN close is skipped: the change
    after it is measured from the last finite close."""
    c, n = _f8(close), _check_period(n)
    out = np.full(len(c), np.nan)
    idx = np.flatnonzero(np.isfinite(c))
    if len(idx) <= n:
        return out
    v = c[idx]
    change = np.diff(v)
    gain = wilder(np.maximum(change, 0.0), n)
    loss = wilder(np.maximum(-change, 0.0), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + gain / loss)
    value = np.where(loss == 0.0, np.where(gain == 0.0, 50.0, 100.0), value)
    value[np.isnan(gain)] = np.nan
    out[idx[1:]] = value
    return out


def true_range(high: object, low: object, close: object) -> np.ndarray:
    """max(high − low, |high − previous close|, |low − previous close|); the first bar's (no
    previous close) is high − low. Rows with a NaN are skipped: the previous close is the last
    finite bar's."""
    h, lo, c = _f8(high), _f8(low), _f8(close)
    out = np.full(len(h), np.nan)
    finite = np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
    if finite.all():  # the usual case: no copies
        hh, ll, cc, idx = h, lo, c, slice(None)
    else:
        idx = np.flatnonzero(finite)
        if not len(idx):
            return out
        hh, ll, cc = h[idx], lo[idx], c[idx]
    tr = hh - ll
    prev = cc[:-1]
    np.maximum(tr[1:], np.abs(hh[1:] - prev), out=tr[1:])
    np.maximum(tr[1:], np.abs(ll[1:] - prev), out=tr[1:])
    out[idx] = tr
    return out


def atr(high: object, low: object, close: object, n: int = 14) -> np.ndarray:
    """Wilder's average true range: the true range Wilder-smoothed, seeded with the mean of the
    first n true ranges (the first value at row n-1)."""
    return wilder(true_range(high, low, close), _check_period(n))


# -- VWAP ----------------------------------------------------------------------------------------
def typical_price(high: object, low: object, close: object) -> np.ndarray:
    return (_f8(high) + _f8(low) + _f8(close)) / 3.0


def anchored_vwap(high: object, low: object, close: object, volume: object,
                  anchors: object) -> np.ndarray:
    """Σ typical price · volume / Σ volume from the latest anchor at or before each row.

    `anchors` are row indices where a VWAP restarts (a session's first bar, or one clicked bar);
    rows before the first anchor are NaN, and so are rows whose running volume is still 0.
    Typical price = (high + low + close) / 3. A row with a NaN price or volume adds nothing."""
    tp = typical_price(high, low, close)
    vol = _f8(volume)
    size = len(tp)
    ok = np.isfinite(tp) & np.isfinite(vol) & (vol > 0)
    if ok.all():  # the usual case: fewer temporaries
        vv = vol
        pv = tp * vol
    else:
        vv = np.where(ok, vol, 0.0)
        pv = np.where(ok, tp, 0.0) * vv
    starts = np.unique(np.asarray(anchors, dtype=np.int64))
    starts = starts[(starts >= 0) & (starts < size)]
    out = np.full(size, np.nan)
    if not len(starts):
        return out
    first = starts[0]
    cpv = np.cumsum(pv[first:])
    cvv = np.cumsum(vv[first:])
    # each row's own anchor: subtract the running sums just before it
    local = starts - first
    marks = np.zeros(size - first, dtype=np.int64)
    marks[local] = 1
    group = np.cumsum(marks) - 1  # each row's anchor, by its number
    base_pv = np.concatenate(([0.0], cpv))[local][group]
    base_vv = np.concatenate(([0.0], cvv))[local][group]
    num = cpv - base_pv
    den = cvv - base_vv
    with np.errstate(divide="ignore", invalid="ignore"):
        out[first:] = np.where(den > 0, num / den, np.nan)
    return out


def day_starts(time_ms: object, day_ms: int = 86_400_000) -> np.ndarray:
    """Row indices of the first bar of each UTC day (a crypto session)."""
    t = np.asarray(time_ms, dtype=np.int64)
    if not len(t):
        return np.empty(0, dtype=np.int64)
    day = t // day_ms
    return np.flatnonzero(np.concatenate(([True], day[1:] != day[:-1])))


def session_starts(time_ms: object, session_opens_ms: object) -> np.ndarray:
    """Row indices of the first bar of each session: bar i starts one when a session opened in
    (t[i-1], t[i]] (and the first bar at or after the first open). `session_opens_ms` are the
    opens of an exchange calendar's sessions (models/sessions.py: open_windows)."""
    t = np.asarray(time_ms, dtype=np.int64)
    opens = np.sort(np.asarray(session_opens_ms, dtype=np.int64))
    if not len(t) or not len(opens):
        return np.empty(0, dtype=np.int64)
    # the bar holding each open: the first bar stamped at or after it
    rows = np.searchsorted(t, opens, side="left")
    return np.unique(rows[rows < len(t)])


# -- volume profile ------------------------------------------------------------------------------
@dataclass(frozen=True)
class VolumeProfile:
    """Volume by price over a range of bars.

    `edges` are the n+1 bin edges (equal widths from the range's lowest low to its highest
    high), `volume` the n bins' volume, `poc` the bin with the most volume (point of control),
    `nodes` the high-volume nodes (see `high_volume_nodes`), both as bin indices."""

    edges: np.ndarray
    volume: np.ndarray
    poc: int
    nodes: np.ndarray

    @property
    def centres(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2.0

    @property
    def total(self) -> float:
        return float(self.volume.sum())


def profile_volume(high: object, low: object, volume: object, edges: object) -> np.ndarray:
    """Each bar's volume spread uniformly over its [low, high] range, summed per price bin.

    A bar puts volume · overlap / (high − low) into each bin it overlaps; a bar with
    high == low puts it all into the bin holding its price (the last bin holds its top edge).
    O(bars + bins): each bar's share below a price p is linear in p between its low and high,
    so the cumulative volume at every edge comes from cumulative sums of the bars' densities
    binned by their low and by their high."""
    h, lo, v = _f8(high), _f8(low), _f8(volume)
    e = _f8(edges)
    ok = np.isfinite(h) & np.isfinite(lo) & np.isfinite(v) & (v > 0) & (h >= lo)
    h, lo, v = h[ok], lo[ok], v[ok]
    nbins = len(e) - 1
    out = np.zeros(max(nbins, 0))
    if nbins < 1 or not len(v):
        return out
    base = e[0]  # prices relative to the bottom edge: smaller numbers, less rounding
    h, lo, ee = h - base, lo - base, e - base
    flat = h == lo
    if flat.any():
        pos = np.clip(np.searchsorted(ee, lo[flat], side="right") - 1, 0, nbins - 1)
        inside = (lo[flat] >= ee[0]) & (lo[flat] <= ee[-1])
        out += np.bincount(pos[inside], weights=v[flat][inside], minlength=nbins)
    h, lo, v = h[~flat], lo[~flat], v[~flat]
    if len(v):
        density = v / (h - lo)
        # cumulative volume below each edge: Σ density·(clip(edge, lo, hi) − lo)
        #   = Σ_{lo<edge} density·(edge − lo) − Σ_{hi<edge} density·(edge − hi)
        def below(points: np.ndarray) -> np.ndarray:
            # j = edges at or below each point: the point is strictly below edge k iff j <= k
            j = np.searchsorted(ee, points, side="right")
            cd = np.cumsum(np.bincount(j, weights=density, minlength=nbins + 2))
            cdp = np.cumsum(np.bincount(j, weights=density * points, minlength=nbins + 2))
            return ee * cd[:nbins + 1] - cdp[:nbins + 1]

        cum = below(lo) - below(h)
        out += np.diff(cum)
    return out


def high_volume_nodes(volume: object, reach: int = 2, min_share: float = 1.5) -> np.ndarray:
    """Bins that hold the most volume within `reach` bins on either side (the first of a tie) and
    at least `min_share` times the mean bin's volume: the peaks a trader reads as support or
    resistance."""
    vol = _f8(volume)
    size = len(vol)
    if not size or not (vol.sum() > 0):
        return np.empty(0, dtype=np.int64)
    padded = np.concatenate((np.full(reach, -np.inf), vol, np.full(reach, -np.inf)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    peak = vol >= windows.max(axis=1)
    # ties: only the first bin of a run of equal peaks
    left = windows[:, :reach]
    first = ~(left == vol[:, None]).any(axis=1)
    return np.flatnonzero(peak & first & (vol >= min_share * vol.mean()))


def volume_profile(high: object, low: object, volume: object, bins: int = 48,
                   reach: int = 2, min_share: float = 1.5) -> VolumeProfile | None:
    """The volume profile of a range of bars in `bins` equal price bins from its lowest low to
    its highest high; None when the range has no volume."""
    h, lo, v = _f8(high), _f8(low), _f8(volume)
    ok = np.isfinite(h) & np.isfinite(lo) & np.isfinite(v) & (v > 0)
    if not ok.any():
        return None
    top, bottom = float(h[ok].max()), float(lo[ok].min())
    if not top > bottom:
        top = bottom + max(abs(bottom) * 1e-9, 1e-9)
    edges = np.linspace(bottom, top, int(bins) + 1)
    volume_by_bin = profile_volume(h, lo, v, edges)
    return VolumeProfile(edges, volume_by_bin, int(np.argmax(volume_by_bin)),
                         high_volume_nodes(volume_by_bin, reach, min_share))
