"""models/indicators.py against independent references: pandas rolling/ewm, plain loops of the
textbook formulas, and worked examples with numbers computed by hand (docs/indicators.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models import indicators as ind


def walk(n: int, seed: int = 7, level: float = 60_000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level + np.cumsum(rng.normal(0.0, 25.0, n))


def ohlcv(n: int, seed: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    close = walk(n, seed)
    high = close + rng.uniform(0, 40, n)
    low = close - rng.uniform(0, 40, n)
    volume = rng.uniform(0.5, 20, n)
    return high, low, close, volume


# -- SMA / Bollinger ---------------------------------------------------------------------------
def test_sma_matches_pandas_rolling_mean_across_blocks_and_gaps() -> None:
    x = walk(3 * ind._CHUNK + 123)
    x[5000:5003] = np.nan  # a gap: windows holding it are NaN, as pandas' min_periods=n
    for n in (1, 20, 200):
        ref = pd.Series(x).rolling(n).mean().to_numpy()
        got = ind.sma(x, n)
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-7, equal_nan=True)


def test_rolling_std_is_the_population_sigma_of_each_window() -> None:
    x = walk(2 * ind._CHUNK + 50, seed=11)
    n = 20
    windows = np.lib.stride_tricks.sliding_window_view(x, n)
    exact = windows.std(axis=1)  # two-pass numpy, ddof=0
    got = ind.rolling_std(x, n)
    assert np.isnan(got[: n - 1]).all()
    np.testing.assert_allclose(got[n - 1:], exact, rtol=1e-9, atol=1e-9)
    ref = pd.Series(x).rolling(n).std(ddof=0).to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-6, equal_nan=True)


def test_bollinger_worked_example() -> None:
    # 1..5: mean 3, population variance (4+1+0+1+4)/5 = 2
    bands = ind.bollinger([1.0, 2, 3, 4, 5], n=5, k=2.0)
    assert np.isnan(bands.middle[:4]).all()
    assert bands.middle[4] == pytest.approx(3.0)
    assert bands.upper[4] == pytest.approx(3.0 + 2.0 * math.sqrt(2.0))
    assert bands.lower[4] == pytest.approx(3.0 - 2.0 * math.sqrt(2.0))


def test_bollinger_matches_pandas_with_ddof_zero() -> None:
    x = walk(500, seed=5)
    bands = ind.bollinger(x, 20, 2.5)
    s = pd.Series(x).rolling(20)
    np.testing.assert_allclose(bands.upper, (s.mean() + 2.5 * s.std(ddof=0)).to_numpy(),
                               rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(bands.lower, (s.mean() - 2.5 * s.std(ddof=0)).to_numpy(),
                               rtol=1e-10, equal_nan=True)


# -- EMA ---------------------------------------------------------------------------------------
def ema_loop(x: list[float], n: int) -> list[float]:
    """The textbook EMA: seed with the SMA of the first n values, then y += α (x − y)."""
    alpha = 2.0 / (n + 1)
    out = [math.nan] * len(x)
    y = sum(x[:n]) / n
    out[n - 1] = y
    for i in range(n, len(x)):
        y = y + alpha * (x[i] - y)
        out[i] = y
    return out


def test_ema_worked_example() -> None:
    # n=3: α=0.5, seed (1+2+3)/3 = 2; then 2+0.5·(4−2)=3, 3+0.5·(5−3)=4, 4+0.5·(6−4)=5
    got = ind.ema([1.0, 2, 3, 4, 5, 6], 3)
    np.testing.assert_allclose(got, [np.nan, np.nan, 2, 3, 4, 5], equal_nan=True)


def test_ema_matches_a_loop_and_pandas_ewm() -> None:
    x = walk(3000, seed=2)
    n = 50
    got = ind.ema(x, n)
    np.testing.assert_allclose(got, ema_loop(list(x), n), rtol=1e-12, equal_nan=True)
    # pandas' recursive form (adjust=False) from the same SMA seed
    seeded = pd.Series(np.concatenate(([x[:n].mean()], x[n:])))
    ref = seeded.ewm(span=n, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(got[n - 1:], ref, rtol=1e-12)


def test_ema_skips_nan_rows_and_carries_its_state_over() -> None:
    x = np.array([1.0, 2, 3, np.nan, 4, 5, np.nan])
    got = ind.ema(x, 3)
    np.testing.assert_allclose(got, [np.nan, np.nan, 2, np.nan, 3, 4, np.nan], equal_nan=True)


def test_too_short_series_give_nan_and_bad_periods_raise() -> None:
    assert np.isnan(ind.ema([1.0, 2.0], 3)).all()
    assert np.isnan(ind.sma([1.0, 2.0], 3)).all()
    assert np.isnan(ind.rsi([1.0, 2.0, 3.0], 3)).all()
    assert ind.sma([], 3).shape == (0,)
    with pytest.raises(ValueError):
        ind.sma([1.0], 0)
    with pytest.raises(ValueError):
        ind.ema([1.0], 2.5)


# -- RSI ---------------------------------------------------------------------------------------
def rsi_loop(close: list[float], n: int) -> list[float]:
    """Wilder (1978): average gain/loss seeded with the mean of the first n changes, then
    avg = (avg·(n−1) + current)/n; RSI = 100 − 100/(1 + RS)."""
    out = [math.nan] * len(close)
    changes = [close[i] - close[i - 1] for i in range(1, len(close))]
    gain = sum(max(c, 0.0) for c in changes[:n]) / n
    loss = sum(max(-c, 0.0) for c in changes[:n]) / n

    def value(g: float, lo: float) -> float:
        if lo == 0:
            return 50.0 if g == 0 else 100.0
        return 100.0 - 100.0 / (1.0 + g / lo)

    out[n] = value(gain, loss)
    for i in range(n + 1, len(close)):
        c = changes[i - 1]
        gain = (gain * (n - 1) + max(c, 0.0)) / n
        loss = (loss * (n - 1) + max(-c, 0.0)) / n
        out[i] = value(gain, loss)
    return out


def test_rsi_worked_example() -> None:
    # changes +1 +1 −1 +1, n=2: seed gain 1, loss 0 → 100; then gain 0.5, loss 0.5 → 50;
    # then gain 0.75, loss 0.25 → RS 3 → 75
    got = ind.rsi([1.0, 2, 3, 2, 3], 2)
    np.testing.assert_allclose(got, [np.nan, np.nan, 100, 50, 75], equal_nan=True)


def test_rsi_matches_the_textbook_loop_and_pandas() -> None:
    x = walk(2000, seed=9)
    got = ind.rsi(x, 14)
    np.testing.assert_allclose(got, rsi_loop(list(x), 14), rtol=1e-10, equal_nan=True)
    change = pd.Series(np.diff(x))
    gains, losses = change.clip(lower=0), (-change).clip(lower=0)
    g = pd.Series(np.r_[gains[:14].mean(), gains[14:]]).ewm(alpha=1 / 14, adjust=False).mean()
    lo = pd.Series(np.r_[losses[:14].mean(), losses[14:]]).ewm(alpha=1 / 14, adjust=False).mean()
    ref = (100 - 100 / (1 + g / lo)).to_numpy()
    np.testing.assert_allclose(got[14:], ref, rtol=1e-10)


def test_rsi_of_a_flat_series_is_50_and_nan_closes_are_skipped() -> None:
    assert ind.rsi(np.full(10, 5.0), 3)[3:].tolist() == [50.0] * 7
    with_gap = ind.rsi([1.0, 2, np.nan, 3, 2, 3], 2)
    np.testing.assert_allclose(with_gap, [np.nan, np.nan, np.nan, 100, 50, 75], equal_nan=True)


# -- ATR ---------------------------------------------------------------------------------------
def atr_loop(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    tr = [h[0] - lo[0]] + [max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1]))
                           for i in range(1, len(h))]
    out = [math.nan] * len(h)
    a = sum(tr[:n]) / n
    out[n - 1] = a
    for i in range(n, len(h)):
        a = (a * (n - 1) + tr[i]) / n
        out[i] = a
    return out


def test_atr_worked_example() -> None:
    high, low, close = [10.0, 12, 11, 15], [8.0, 9, 9, 12], [9.0, 11, 10, 14]
    # TR: 2; max(3, 3, 0)=3; max(2, 0, 2)=2; max(3, 5, 2)=5. n=2: seed 2.5, then 2.25, 3.625
    np.testing.assert_allclose(ind.true_range(high, low, close), [2, 3, 2, 5])
    np.testing.assert_allclose(ind.atr(high, low, close, 2), [np.nan, 2.5, 2.25, 3.625],
                               equal_nan=True)


def test_atr_matches_the_textbook_loop() -> None:
    h, lo, c, _ = ohlcv(1500)
    np.testing.assert_allclose(ind.atr(h, lo, c, 14), atr_loop(list(h), list(lo), list(c), 14),
                               rtol=1e-12, equal_nan=True)


def test_true_range_skips_a_nan_bar() -> None:
    tr = ind.true_range([10.0, np.nan, 15], [8.0, 1, 12], [9.0, 1, 14])
    np.testing.assert_allclose(tr, [2, np.nan, 6], equal_nan=True)  # |15 − 9| from bar 0


# -- VWAP --------------------------------------------------------------------------------------
def test_vwap_worked_example() -> None:
    high, low, close = [11.0, 12, 14, 20], [9.0, 10, 12, 18], [10.0, 11, 13, 19]
    volume = [1.0, 3, 0, 2]  # typical prices 10, 11, 13, 19
    # anchored at 0: 10; (10+33)/4 = 10.75; 10.75 (no volume); (43+38)/6 = 13.5
    np.testing.assert_allclose(ind.anchored_vwap(high, low, close, volume, [0]),
                               [10, 10.75, 10.75, 13.5])
    # a second anchor at row 2: its VWAP is NaN until a volume arrives, then 19
    np.testing.assert_allclose(ind.anchored_vwap(high, low, close, volume, [0, 2]),
                               [10, 10.75, np.nan, 19], equal_nan=True)
    # anchored on a clicked bar: nothing before it
    np.testing.assert_allclose(ind.anchored_vwap(high, low, close, volume, [1]),
                               [np.nan, 11, 11, (33 + 38) / 5], equal_nan=True)


def test_session_vwap_matches_a_per_day_loop() -> None:
    n = 3 * 1440 + 500
    h, lo, c, v = ohlcv(n, seed=4)
    v[100] = np.nan
    t = 1_770_000_000_000 + np.arange(n, dtype=np.int64) * 60_000 + 17 * 60_000
    starts = ind.day_starts(t)
    assert (t[starts] % 86_400_000 < 60_000).all() or starts[0] == 0
    got = ind.anchored_vwap(h, lo, c, v, starts)
    ref = []
    day = None
    for i in range(n):
        if t[i] // 86_400_000 != day:  # a new UTC day: the sums restart
            day, num, den = t[i] // 86_400_000, 0.0, 0.0
        if np.isfinite(v[i]):
            num += (h[i] + lo[i] + c[i]) / 3 * v[i]
            den += v[i]
        ref.append(num / den)
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_session_starts_put_each_open_on_the_first_bar_at_or_after_it() -> None:
    t = np.array([0, 10, 20, 30, 40, 50], dtype=np.int64)
    assert ind.session_starts(t, [5, 30, 100]).tolist() == [1, 3]
    assert ind.day_starts(np.array([0, 86_399_999, 86_400_000, 86_400_001])).tolist() == [0, 2]


# -- volume profile ----------------------------------------------------------------------------
def profile_loop(h: list[float], lo: list[float], v: list[float],
                 edges: list[float]) -> list[float]:
    out = [0.0] * (len(edges) - 1)
    for hi, low, vol in zip(h, lo, v, strict=True):
        if not (vol > 0):
            continue
        for k in range(len(out)):
            a, b = edges[k], edges[k + 1]
            if hi == low:
                last = k == len(out) - 1
                if a <= low < b or (last and low == b):
                    out[k] += vol
            else:
                overlap = max(0.0, min(hi, b) - max(low, a))
                out[k] += vol * overlap / (hi - low)
    return out


def test_profile_worked_example() -> None:
    edges = [0.0, 2.5, 5, 7.5, 10]
    # a bar over 0..10 with 100 spreads 25 per bin; one over 4..6 with 10 puts 5 in bins 1, 2;
    # a flat bar at 7.5 puts its 3 in bin 3, one at the top edge its 2 in the last bin
    got = ind.profile_volume([10.0, 6, 7.5, 10], [0.0, 4, 7.5, 10], [100.0, 10, 3, 2], edges)
    np.testing.assert_allclose(got, [25, 30, 30, 30])


def test_profile_matches_the_overlap_loop_and_keeps_the_volume() -> None:
    h, lo, _, v = ohlcv(400, seed=8)
    h[3] = lo[3]  # a flat bar
    v[7] = np.nan
    edges = np.linspace(lo.min() - 10, h.max() + 10, 31)
    got = ind.profile_volume(h, lo, v, edges)
    np.testing.assert_allclose(got, profile_loop(list(h), list(lo), list(v), list(edges)),
                               rtol=1e-9, atol=1e-9)
    assert got.sum() == pytest.approx(np.nansum(v))


def test_profile_clips_bars_that_reach_outside_the_edges() -> None:
    edges = [10.0, 20, 30]
    got = ind.profile_volume([40.0], [0.0], [40.0], edges)  # 10 per 10 of price
    np.testing.assert_allclose(got, [10, 10])
    np.testing.assert_allclose(got, profile_loop([40.0], [0.0], [40.0], edges))


def test_high_volume_nodes_worked_example() -> None:
    vol = [1.0, 9, 2, 1, 1, 1, 8, 8, 1, 1]  # mean 3.3: peaks at 1 and 6 (first of the tie)
    assert ind.high_volume_nodes(vol, reach=2, min_share=1.5).tolist() == [1, 6]
    # a bump under 1.5× the mean is not a node
    assert ind.high_volume_nodes([2.0, 3, 2, 2, 2], reach=1, min_share=1.5).tolist() == []


def test_volume_profile_of_a_range() -> None:
    high, low, volume = [110.0, 105, 120], [100.0, 100, 100], [10.0, 10, 20]
    prof = ind.volume_profile(high, low, volume, bins=4)
    assert prof is not None
    np.testing.assert_allclose(prof.edges, [100, 105, 110, 115, 120])
    # 5+10+5, 5+5, 5, 5
    np.testing.assert_allclose(prof.volume, [20, 10, 5, 5])
    assert prof.poc == 0 and prof.total == pytest.approx(40)
    assert ind.volume_profile([1.0], [1.0], [0.0]) is None
