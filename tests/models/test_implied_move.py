"""Implied-move bands and σ-sized moves against values worked out by hand (docs/implied-move.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.asof import known_delay_ms
from models.implied_move import (
    band_edges,
    boundaries,
    daily_bands,
    forward_bands,
    implied_view,
    iv_known_at,
    large_moves,
    sigma,
)

H = 3_600_000
D = 24 * H
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, a Thursday


def hourly_dvol(start_ms: int, hours: int, value: float) -> tuple[np.ndarray, np.ndarray]:
    return start_ms + H * np.arange(hours, dtype=np.int64), np.full(hours, value)


def test_sigma_of_97_percent_is_about_5_1_percent_a_day() -> None:
    # 0.97 / √365 = 0.97 / 19.104973 = 0.0507721; 0.97 · √(7/365) = 0.97 · 0.1384850 = 0.1343304
    assert sigma(97.0, 1) == pytest.approx(0.0507721, abs=1e-7)
    assert round(sigma(97.0, 1) * 100, 1) == 5.1
    assert sigma(97.0, 7) == pytest.approx(0.1343304, abs=1e-7)
    assert np.allclose(sigma(np.array([97.0, 36.5]), 1), [0.0507721, 0.0191050], atol=1e-7)


def test_band_edges_are_linear_around_the_centre() -> None:
    # 60,000 · (1 ∓ 0.0507721) and 60,000 · (1 ∓ 2 · 0.0507721)
    assert band_edges(60_000.0, 97.0, 1, 1) == pytest.approx((56_953.67, 63_046.33), abs=0.01)
    assert band_edges(60_000.0, 97.0, 1, 2) == pytest.approx((53_907.35, 66_092.65), abs=0.01)


def test_dvol_is_an_hourly_span_known_an_hour_after_its_stamp() -> None:
    assert known_delay_ms("dvol.btc") == H
    times = np.array([T0, T0 + H], dtype=np.int64)
    iv, stamps = iv_known_at(times, np.array([50.0, 60.0]), H,
                             np.array([T0 + H - 1, T0 + H, T0 + 2 * H]))
    assert list(iv) == [pytest.approx(float("nan"), nan_ok=True), 50.0, 60.0]
    assert list(stamps) == [-1, T0, T0 + H]


def test_an_iv_older_than_two_days_measures_nothing() -> None:
    iv, _ = iv_known_at(np.array([T0]), np.array([50.0]), H, np.array([T0 + H + 2 * D,
                                                                         T0 + H + 2 * D + 1]))
    assert iv[0] == 50.0 and math.isnan(iv[1])


def test_forward_bands_start_at_the_last_bars_end_with_the_dvol_known_then() -> None:
    price_ms = T0 + H * np.arange(48, dtype=np.int64)
    close = np.linspace(60_000.0, 66_800.0, 48)
    start = int(price_ms[-1]) + H
    dvol_ms, dvol = hourly_dvol(T0, 48, 72.14)
    # a print stamped at the band's start is only known an hour later: it must not be used
    dvol_ms = np.append(dvol_ms, start)
    dvol = np.append(dvol, 300.0)
    day, week = forward_bands(price_ms, close, H, dvol_ms, dvol, H)
    assert (day.horizon, week.horizon) == ("day", "week")
    assert day.start_ms == week.start_ms == start
    assert day.end_ms == start + D and week.end_ms == start + 7 * D
    assert day.centre == 66_800.0 and day.iv == 72.14 and day.iv_stamp_ms == start - H
    # 0.7214 / √365 = 0.0377598; 0.7214 · √(7/365) = 0.0999030
    assert day.sigma == pytest.approx(0.0377598, abs=1e-7)
    assert week.sigma == pytest.approx(0.0999030, abs=1e-7)
    assert day.edges(1) == pytest.approx((64_277.64, 69_322.36), abs=0.01)
    assert week.edges(2) == pytest.approx((53_452.95, 80_147.05), abs=0.01)


def test_no_forward_band_without_a_dvol_known_at_the_start() -> None:
    price_ms = T0 + H * np.arange(3, dtype=np.int64)
    late = np.array([T0 + 3 * H], dtype=np.int64)  # known at T0 + 4h: after the start
    assert forward_bands(price_ms, np.ones(3), H, late, np.array([50.0]), H) == []


def test_daily_bands_use_the_close_and_the_iv_known_at_each_midnight() -> None:
    price_ms = T0 + H * np.arange(72, dtype=np.int64)
    close = 100.0 + np.arange(72, dtype=np.float64)
    dvol_ms, dvol = hourly_dvol(T0, 72, 36.5)
    dvol[23] = 73.0  # the 23:00 bar of day one: known at midnight, the day-two band uses it
    dvol[24] = 500.0  # the 00:00 bar of day two is known at 01:00: never used at midnight
    bands = daily_bands(price_ms, close, H, dvol_ms, dvol, H)
    assert list(bands.start_ms) == [T0 + D, T0 + 2 * D]
    assert list(bands.centre) == [123.0, 147.0]  # the closes of the 23:00 bars
    assert list(bands.iv) == [73.0, 36.5]
    # 0.73 / √365 = 0.0382099; 123 · (1 ± 0.0382099)
    lo, hi = bands.edges(1)
    assert lo[0] == pytest.approx(118.30018, abs=1e-5) and hi[0] == pytest.approx(127.69982,
                                                                                  abs=1e-5)


def test_the_seed_sized_week_is_about_minus_3_3_sigma() -> None:
    # −17 % over seven days with IV 37.2 known at the start: −0.17 / (0.372 · √(7/365)) = −3.2999
    days = 20
    price_ms = T0 + D * np.arange(days, dtype=np.int64)
    close = np.full(days, 73_150.0)
    close[8:] = 73_150.0 * 0.83  # day 8's close: the week from day 1's close to it
    dvol_ms, dvol = hourly_dvol(T0 - D, 24 * (days + 1), 37.2)
    moves = large_moves(price_ms, close, D, dvol_ms, dvol, H, days=7)
    assert len(moves) == 1  # the overlapping weeks that hold the drop are one move
    move = moves[0]
    assert move.change == pytest.approx(-0.17)
    assert move.size_sigma == pytest.approx(-3.2999, abs=1e-4)
    assert move.label() == "−3.3σ w"
    # the week ends at the close of the bar that dropped: day 8 ends at T0 + 9 days
    assert (move.start_ms, move.end_ms) == (T0 + 2 * D, T0 + 9 * D)


def test_a_move_uses_the_iv_before_it_not_the_spike_during_it() -> None:
    price_ms = T0 + D * np.arange(4, dtype=np.int64)
    close = np.array([100.0, 100.0, 94.0, 94.0])  # −6 % over day 2 (T0+2d .. T0+3d)
    dvol_ms, dvol = hourly_dvol(T0, 96, 36.5)
    dvol[48:] = 150.0  # from the stamp at the move's start: known an hour into it
    (move,) = large_moves(price_ms, close, D, dvol_ms, dvol, H, days=1)
    assert move.start_ms == T0 + 2 * D and move.iv == 36.5
    # −0.06 / (0.365 / √365) = −0.06 / 0.0191050 = −3.1405
    assert move.size_sigma == pytest.approx(-3.1405, abs=1e-4)
    assert move.label() == "−3.1σ d"


def test_moves_under_the_threshold_are_not_labelled() -> None:
    price_ms = T0 + D * np.arange(4, dtype=np.int64)
    close = np.array([100.0, 100.0, 103.0, 103.0])  # +3 % = 1.57σ at IV 36.5
    dvol_ms, dvol = hourly_dvol(T0, 96, 36.5)
    assert large_moves(price_ms, close, D, dvol_ms, dvol, H, days=1) == []
    assert len(large_moves(price_ms, close, D, dvol_ms, dvol, H, days=1, threshold=1.5)) == 1


def test_weekly_bars_have_no_day_bands_and_weeks_from_bar_to_bar() -> None:
    monday = T0 + 4 * D  # 2026-01-05
    price_ms = monday + 7 * D * np.arange(4, dtype=np.int64)
    close = np.array([100.0, 100.0, 80.0, 80.0])
    dvol_ms, dvol = hourly_dvol(monday, 24 * 28, 50.0)
    assert list(boundaries(price_ms, 7 * D)) == list(price_ms + 7 * D)
    assert not len(daily_bands(price_ms, close, 7 * D, dvol_ms, dvol, H))
    assert large_moves(price_ms, close, 7 * D, dvol_ms, dvol, H, days=1) == []
    (move,) = large_moves(price_ms, close, 7 * D, dvol_ms, dvol, H, days=7)
    # −0.20 / (0.50 · √(7/365)) = −0.20 / 0.0692424 = −2.8884
    assert (move.start_ms, move.end_ms) == (monday + 14 * D, monday + 21 * D)
    assert move.size_sigma == pytest.approx(-2.8884, abs=1e-4)


def test_the_demo_sell_off_week_in_sigma() -> None:
    from services.demo import load_demo

    demo = load_demo()
    prices, dvol = demo.series["btc.1d"], demo.series["dvol.btc"]
    view = implied_view(prices.time, prices["close"], D, dvol.time, dvol["close"],
                        known_delay_ms("dvol.btc"))
    weeks = [m for m in view.moves if m.horizon == "week"]
    last = weeks[-1]
    seed_end = 1_770_336_000_000  # 2026-02-06T00:00Z: the close of 2026-02-05
    assert (last.start_ms, last.end_ms) == (seed_end - 7 * D, seed_end)
    close_at = dict(zip(prices.time.tolist(), prices["close"].tolist(), strict=True))
    iv_at = dict(zip(dvol.time.tolist(), dvol["close"].tolist(), strict=True))
    start_close, end_close = close_at[seed_end - 8 * D], close_at[seed_end - D]
    iv = iv_at[seed_end - 7 * D - H]  # the 23:00 DVOL bar, known at the week's start
    expected = (end_close / start_close - 1) / (iv / 100 * math.sqrt(7 / 365))
    assert last.size_sigma == pytest.approx(expected, rel=1e-12)
    assert round(last.size_sigma, 1) == -4.1  # 84,000 → 60,700 (−27.7 %) on DVOL 48.28
    day, _week = view.forward
    assert day.centre == close_at[seed_end] and day.start_ms == seed_end + D


def test_the_view_of_a_long_series_equals_each_function_on_all_its_rows() -> None:
    """implied_view searches a long series once (one stand-in bar a boundary): same bands and
    moves as every function run on all the rows, gaps and missing closes included."""
    rng = np.random.default_rng(7)
    minutes = 60_000
    price_ms = T0 + 17 * 60_000 + 60_000 * np.arange(minutes, dtype=np.int64)
    price_ms = np.delete(price_ms, np.arange(20_000, 23_000))  # a gap of two days
    close = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.002, len(price_ms))))
    close[rng.integers(0, len(close), 50)] = np.nan
    close[-3:] = np.nan  # the last bars have no close: the last good one is the centre
    dvol_ms, dvol = hourly_dvol(T0, 24 * 45, 40.0)
    dvol = dvol * np.exp(rng.normal(0, 0.1, len(dvol)))
    args = (price_ms, close, 60_000, dvol_ms, dvol, H)
    view = implied_view(*args, threshold=1.0)
    assert view.forward and view.forward == forward_bands(*args)
    full = daily_bands(*args)
    for name in ("start_ms", "centre", "iv", "sigma"):
        np.testing.assert_array_equal(getattr(view.daily, name), getattr(full, name))
    moves = sorted([*large_moves(*args, days=1, threshold=1.0),
                    *large_moves(*args, days=7, threshold=1.0)],
                   key=lambda m: (m.end_ms, m.days))
    assert view.moves == moves and len(moves) > 3
