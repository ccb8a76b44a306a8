"""The price chart's indicator lines (models/indicator_lines.py): what is drawn equals the
indicator over the same bars, lines break where the price line breaks, sessions restart the VWAP
where the exchange opens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import indicators as ind
from models.indicator_lines import (
    anchor_row,
    compute_lines,
    session_anchors,
    visible_profile,
)
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData

FEB_02_2026 = 1_769_990_400_000  # a Monday, 00:00 UTC


def bars(times: np.ndarray, seed: int = 1, volume: bool = True) -> SeriesData:
    rng = np.random.default_rng(seed)
    close = 70_000 + np.cumsum(rng.normal(0, 50, len(times)))
    cols = {"open": close, "high": close + 30, "low": close - 30, "close": close}
    if volume:
        cols["volume"] = rng.uniform(1, 10, len(times))
    return SeriesData(np.asarray(times, dtype=np.int64), cols)


def finite_rows(pyramid) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(pyramid.y)
    return pyramid.x[keep], pyramid.y[keep]


def test_lines_equal_the_indicators_over_the_same_bars() -> None:
    data = bars(FEB_02_2026 + np.arange(300) * MS_PER_HOUR)
    got = compute_lines(data, ("sma20", "bb20", "rsi14", "atr14"), MS_PER_HOUR)
    x, y = finite_rows(got.lines["sma20"][0][1])
    ref = pd.Series(data["close"]).rolling(20).mean()
    np.testing.assert_allclose(y, ref.dropna().to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(x, data.time[19:] / 1e3)
    assert [name for name, _ in got.lines["bb20"]] == ["upper", "middle", "lower"]
    _, rsi = finite_rows(got.lines["rsi14"][0][1])
    np.testing.assert_allclose(rsi, ind.rsi(data["close"], 14)[14:])
    assert got.last["rsi14:RSI 14"] == rsi[-1]


def test_a_market_closed_gap_breaks_the_line() -> None:
    t = FEB_02_2026 + np.r_[np.arange(30), np.arange(60, 90)] * MS_PER_HOUR
    got = compute_lines(bars(t), ("ema21",), MS_PER_HOUR)
    pyramid = got.lines["ema21"][0][1]
    assert len(pyramid) == 61  # one NaN row after the last bar before the gap
    assert np.isnan(pyramid.y[30])


def test_on_a_compressed_axis_the_lines_sit_at_the_bars_compressed_x() -> None:
    """Closed hours squeezed out (models/gap_axis.py): a 30-hour close is one bar wide on x, so
    the line no longer breaks there and every point sits at its bar's compressed place."""
    t = FEB_02_2026 + np.r_[np.arange(30), np.arange(60, 90)] * MS_PER_HOUR
    squeeze = 30 * MS_PER_HOUR  # the closed hours between the two blocks

    def to_x(ms: np.ndarray) -> np.ndarray:
        return np.where(ms >= t[30], ms - squeeze, ms).astype(np.float64)

    got = compute_lines(bars(t), ("sma20",), MS_PER_HOUR, to_x=to_x)
    x, y = finite_rows(got.lines["sma20"][0][1])
    assert len(got.lines["sma20"][0][1]) == 60  # no break row
    np.testing.assert_array_equal(x, to_x(t)[19:] / 1e3)
    np.testing.assert_allclose(y, pd.Series(bars(t)["close"]).rolling(20).mean().dropna())


def test_session_vwap_restarts_each_utc_day_for_crypto() -> None:
    data = bars(FEB_02_2026 + np.arange(72) * MS_PER_HOUR)
    got = compute_lines(data, ("vwap",), MS_PER_HOUR, calendar="24/7")
    _, y = finite_rows(got.lines["vwap"][0][1])
    tp = (data["high"] + data["low"] + data["close"]) / 3
    v = data["volume"]
    day2 = slice(24, 48)
    ref = np.cumsum(tp[day2] * v[day2]) / np.cumsum(v[day2])
    np.testing.assert_allclose(y[day2], ref, rtol=1e-12)
    assert y[24] == pytest.approx(tp[24], rel=1e-12)  # the day's first bar: its own price


def test_exchange_sessions_start_at_the_nyse_open() -> None:
    # hourly bars around the clock over Mon 2 .. Wed 4 Feb 2026: NYSE opens 14:30 UTC
    t = FEB_02_2026 + np.arange(0, 72 * 60, 30) * 60_000
    rows = session_anchors(t, "XNYS")
    assert [pd.Timestamp(int(t[i]), unit="ms").strftime("%d %H:%M") for i in rows] == \
        ["02 14:30", "03 14:30", "04 14:30"]
    assert session_anchors(t, "24/7").tolist() == [0, 48, 96]


def test_notes_say_why_a_picked_indicator_shows_nothing() -> None:
    hourly = bars(FEB_02_2026 + np.arange(50) * MS_PER_HOUR, volume=False)
    got = compute_lines(hourly, ("vwap", "avwap"), MS_PER_HOUR)
    assert got.notes == {"vwap": "no volume in this series", "avwap": "no volume in this series"}
    daily = bars(FEB_02_2026 + np.arange(50) * MS_PER_DAY)
    got = compute_lines(daily, ("vwap", "avwap"), MS_PER_DAY, by_date=True)
    assert got.notes == {"vwap": "session VWAP needs intraday bars",
                         "avwap": "right-click a bar: Anchor VWAP here"}


def test_anchored_vwap_starts_at_the_bar_holding_the_anchor() -> None:
    data = bars(FEB_02_2026 + np.arange(100) * MS_PER_HOUR)
    anchor = int(data.time[40]) + 25 * 60_000  # inside bar 40
    assert anchor_row(data.time, anchor) == 40
    assert anchor_row(data.time, int(data.time[0]) - 1) == -1
    got = compute_lines(data, ("avwap",), MS_PER_HOUR, anchor_ms=anchor)
    x, y = finite_rows(got.lines["avwap"][0][1])
    assert x[0] == data.time[40] / 1e3
    tp = (data["high"] + data["low"] + data["close"]) / 3
    ref = np.sum(tp[40:] * data["volume"][40:]) / np.sum(data["volume"][40:])
    assert y[-1] == pytest.approx(ref, rel=1e-12)


def test_visible_profile_counts_only_the_bars_in_view() -> None:
    data = bars(FEB_02_2026 + np.arange(100) * MS_PER_HOUR)
    x0, x1 = data.time[10] / 1e3, data.time[29] / 1e3
    prof = visible_profile(data, x0, x1, bins=20)
    assert prof is not None
    assert prof.total == pytest.approx(np.sum(data["volume"][10:30]), rel=1e-12)
    assert prof.edges[0] == data["low"][10:30].min()
    assert prof.edges[-1] == data["high"][10:30].max()
    assert visible_profile(data, 0, 1) is None
