"""Resampling exactness: models/resample.py against pandas' resample and groupby."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.catalog import INTERVAL_MS
from models.resample import (
    WEEK_MS,
    Sessions,
    complete_bins,
    fill_older,
    resample_ohlcv,
    session_bins,
    session_table,
)
from models.series import SeriesData

MIN = 60_000
HOUR = 3_600_000
AGG = {"open": "first", "high": "max", "low": "min", "close": "last"}


def _random_bars(rng, time_ms: np.ndarray, *, nan_volume: float = 0.0) -> SeriesData:
    n = len(time_ms)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.random(n) * 0.001)
    low = np.minimum(open_, close) * (1 - rng.random(n) * 0.001)
    volume = rng.random(n) * 10
    volume[rng.random(n) < nan_volume] = np.nan
    return SeriesData(time_ms, {"open": open_, "high": high, "low": low, "close": close,
                                "volume": volume})


def _minutes_with_gaps(rng, start: str, days: int, drop: float = 0.02) -> np.ndarray:
    t0 = pd.Timestamp(start, tz="UTC").value // 1_000_000
    t = t0 + MIN * np.arange(days * 1440, dtype=np.int64)
    return t[rng.random(len(t)) >= drop]


def _pandas(data: SeriesData, rule: str, **kw) -> pd.DataFrame:
    frame = data.to_frame()
    r = frame.resample(rule, label="left", closed="left", **kw)
    out = r.agg(AGG)
    out["volume"] = r["volume"].sum(min_count=1)
    return out.dropna(subset=["open"])  # pandas keeps empty bins: a bar needs a row


def _same(ours: SeriesData, theirs: pd.DataFrame) -> None:
    expected = theirs.index.as_unit("ms").asi8
    assert np.array_equal(ours.time, expected)
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(ours[col], theirs[col].to_numpy()), col
    assert np.allclose(ours["volume"], theirs["volume"].to_numpy(), rtol=1e-12,
                       equal_nan=True)


@pytest.mark.parametrize("interval", ["5m", "15m", "1h", "4h", "1d"])
def test_fixed_bins_equal_pandas_left_labels_left_closed(interval):
    rng = np.random.default_rng(16)
    data = _random_bars(rng, _minutes_with_gaps(rng, "2026-01-28 13:07", 12),
                        nan_volume=0.1)
    rule = {"5m": "5min", "15m": "15min", "1h": "1h", "4h": "4h", "1d": "24h"}[interval]
    _same(resample_ohlcv(data, INTERVAL_MS[interval]), _pandas(data, rule, origin="epoch"))


def test_weeks_open_monday_utc_like_pandas_w_mon():
    rng = np.random.default_rng(7)
    t0 = pd.Timestamp("2025-12-03 05:00", tz="UTC").value // 1_000_000  # a Wednesday
    data = _random_bars(rng, t0 + HOUR * np.arange(24 * 60, dtype=np.int64))
    ours = resample_ohlcv(data, WEEK_MS)
    assert INTERVAL_MS["1w"] == WEEK_MS
    # pandas: 168-hour bins from a Monday 00:00 UTC
    theirs = _pandas(data, "168h", origin=pd.Timestamp("2025-12-01", tz="UTC"))
    _same(ours, theirs)
    days = pd.to_datetime(ours.time, unit="ms", utc=True)
    assert (days.day_of_week == 0).all() and (days.hour == 0).all()
    assert days[0] == pd.Timestamp("2025-12-01", tz="UTC")  # the partial first week, at Monday


def test_volume_sums_skip_nan_but_an_all_nan_bar_stays_nan():
    t = np.arange(6, dtype=np.int64) * MIN
    ones = np.ones(6)
    data = SeriesData(t, {"open": ones, "high": ones, "low": ones, "close": ones,
                          "volume": np.array([1.0, np.nan, 2.0, np.nan, np.nan, np.nan])})
    bars = resample_ohlcv(data, 3 * MIN)
    assert bars["volume"][0] == 3.0
    assert np.isnan(bars["volume"][1])


def test_by_hand_one_hour_from_four_rows():
    t = np.array([0, 15, 30, 59, 60], dtype=np.int64) * MIN
    data = SeriesData(t, {"open": np.array([10.0, 11, 12, 13, 20]),
                          "high": np.array([11.0, 15, 12.5, 13.5, 21]),
                          "low": np.array([9.0, 10.5, 8, 12, 19]),
                          "close": np.array([11.0, 12, 13, 14, 20.5]),
                          "volume": np.array([1.0, 2, 3, 4, 5])})
    bars = resample_ohlcv(data, HOUR)
    assert bars.time.tolist() == [0, HOUR]
    assert [bars[c][0] for c in ("open", "high", "low", "close", "volume")] == \
        [10.0, 15.0, 8.0, 14.0, 10.0]


def test_complete_bins_keep_only_hours_holding_all_sixty_minutes():
    rng = np.random.default_rng(3)
    t0 = pd.Timestamp("2026-02-04", tz="UTC").value // 1_000_000
    t = t0 + MIN * np.arange(6 * 60, dtype=np.int64)
    missing = t0 + 2 * HOUR + 17 * MIN
    data = _random_bars(rng, t[t != missing])
    full = resample_ohlcv(data, HOUR)
    exact = complete_bins(data, HOUR, MIN)
    assert len(full) == 6 and len(exact) == 5
    assert t0 + 2 * HOUR not in exact.time
    keep = np.isin(full.time, exact.time)
    for col in full.names:
        assert np.array_equal(full[col][keep], exact[col], equal_nan=True)
    with pytest.raises(ValueError):
        complete_bins(data, HOUR, 7 * MIN)


# -- sessions --------------------------------------------------------------------------------
def _yahoo_hours(sessions: Sessions) -> np.ndarray:
    """Yahoo's regular-hours 1h bars: from each open every hour, the last one cut at the close."""
    out = []
    for o, c in zip(sessions.open_ms, sessions.close_ms, strict=True):
        out.extend(range(int(o), int(c), HOUR))
    return np.array(out, dtype=np.int64)


@pytest.fixture(scope="module")
def nyse_autumn() -> Sessions:
    # the DST change (2 Nov 2025) and Thanksgiving's early close (28 Nov, 13:00 New York)
    lo = pd.Timestamp("2025-10-27", tz="UTC").value // 1_000_000
    hi = pd.Timestamp("2025-12-06", tz="UTC").value // 1_000_000
    found = session_table("XNYS", lo, hi)
    keep = (found.open_ms >= lo) & (found.open_ms < hi)
    return Sessions(found.day_ms[keep], found.open_ms[keep], found.close_ms[keep])


def test_session_days_are_the_exchange_sessions_stamped_at_the_open(nyse_autumn):
    rng = np.random.default_rng(11)
    data = _random_bars(rng, _yahoo_hours(nyse_autumn), nan_volume=1.0)  # an index: no volume
    days = session_bins(data, nyse_autumn, "1d")
    frame = data.to_frame()
    ny_date = frame.index.tz_convert("America/New_York").date
    grouped = frame.groupby(ny_date)
    theirs = grouped.agg(AGG)
    assert len(days) == len(theirs) == len(nyse_autumn)
    assert np.array_equal(days.time, nyse_autumn.open_ms)
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(days[col], theirs[col].to_numpy()), col
    assert np.isnan(days["volume"]).all()
    stamps = pd.to_datetime(days.time, unit="ms", utc=True).tz_convert("America/New_York")
    assert set(zip(stamps.hour, stamps.minute, strict=True)) == {(9, 30)}  # across DST too


def test_session_4h_bars_open_at_the_session_open_and_stop_at_its_close(nyse_autumn):
    rng = np.random.default_rng(12)
    data = _random_bars(rng, _yahoo_hours(nyse_autumn))
    bars = session_bins(data, nyse_autumn, "4h", source_ms=HOUR)
    local = pd.to_datetime(bars.time, unit="ms", utc=True).tz_convert("America/New_York")
    assert set(zip(local.hour, local.minute, strict=True)) == {(9, 30), (13, 30)}
    # 28 Nov closes at 13:00: one 4h bar of three and a half hours, none at 13:30
    day = local.date == pd.Timestamp("2025-11-28").date()
    assert day.sum() == 1
    frame = data.to_frame()
    ny = frame.index.tz_convert("America/New_York")
    half = np.where((ny.hour * 60 + ny.minute) < 13 * 60 + 30, 0, 1)
    theirs = frame.groupby([ny.date, half]).agg({**AGG, "volume": "sum"})
    assert len(bars) == len(theirs)
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(bars[col], theirs[col].to_numpy()), col
    assert np.allclose(bars["volume"], theirs["volume"].to_numpy())


def test_session_weeks_group_the_sessions_of_a_calendar_week(nyse_autumn):
    rng = np.random.default_rng(13)
    data = _random_bars(rng, _yahoo_hours(nyse_autumn))
    weeks = session_bins(data, nyse_autumn, "1w", source_ms=HOUR)
    frame = data.to_frame()
    ny = frame.index.tz_convert("America/New_York")
    monday = (ny.normalize() - pd.to_timedelta(ny.day_of_week, unit="D")).date
    theirs = frame.groupby(monday).agg({**AGG, "volume": "sum"})
    assert len(weeks) == len(theirs)
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(weeks[col], theirs[col].to_numpy()), col
    # each week is stamped at its first session's open (Thanksgiving week too)
    first_open = frame.groupby(monday).apply(lambda g: g.index[0]).to_numpy()
    assert np.array_equal(weeks.time, pd.DatetimeIndex(first_open).as_unit("ms").asi8)


def test_complete_session_bars_need_every_hour_including_the_half_hour(nyse_autumn):
    rng = np.random.default_rng(14)
    t = _yahoo_hours(nyse_autumn)
    gone = int(nyse_autumn.close_ms[3]) - HOUR // 2  # the 15:30 half-hour bar of session 3
    assert gone in t
    data = _random_bars(rng, t[t != gone])
    days = session_bins(data, nyse_autumn, "1d", source_ms=HOUR)
    assert len(days) == len(nyse_autumn) - 1
    assert int(nyse_autumn.open_ms[3]) not in days.time
    weeks = session_bins(data, nyse_autumn, "1w", source_ms=HOUR)
    assert len(weeks) == len(session_bins(data, nyse_autumn, "1w")) - 1


def test_cme_sessions_open_the_evening_before_and_count_in_the_next_days_week():
    lo = pd.Timestamp("2026-01-26", tz="UTC").value // 1_000_000
    hi = pd.Timestamp("2026-02-07", tz="UTC").value // 1_000_000
    cme = session_table("CMES", lo, hi)
    sunday_open = pd.Timestamp("2026-02-01 23:00", tz="UTC").value // 1_000_000
    assert sunday_open in cme.open_ms  # Monday's session opens Sunday 17:00 Chicago
    rng = np.random.default_rng(15)
    t = np.concatenate([np.arange(o, c, MIN, dtype=np.int64)
                        for o, c in zip(cme.open_ms, cme.close_ms, strict=True)
                        if o >= lo and c <= hi])
    data = _random_bars(rng, t)
    days = session_bins(data, cme, "1d")
    assert sunday_open in days.time
    weeks = session_bins(data, cme, "1w")
    assert sunday_open in weeks.time  # the Sunday evening opens the week of 2 Feb
    minutes_in_week = t[(t >= sunday_open) & (t < sunday_open + 6 * 86_400_000)]
    i = int(np.searchsorted(weeks.time, sunday_open))
    assert weeks["high"][i] == data["high"][np.isin(t, minutes_in_week)].max()


def test_fill_older_keeps_the_venues_bars_and_adds_older_derived_ones():
    t = np.arange(6, dtype=np.int64) * HOUR
    ones = np.ones(6)

    def bars(times, level):
        return SeriesData(times, {c: ones[:len(times)] * level
                                  for c in ("open", "high", "low", "close", "volume")})

    native = bars(t[3:], 2.0)
    derived = bars(t[:5], 1.0)
    merged = fill_older(native, derived)
    assert merged.time.tolist() == t.tolist()
    assert merged["close"].tolist() == [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    assert fill_older(native, SeriesData.empty(native.names)) is native


def test_the_blocked_search_finds_what_numpy_searchsorted_finds():
    from models.resample import _search_sorted

    rng = np.random.default_rng(17)
    for n in (1, 2, 63, 64, 65, 129, 5000):
        t = np.unique(rng.integers(0, 10**6, n))
        keys = np.sort(np.concatenate([rng.integers(-10, 10**6 + 10, 300), t[:3], t[-3:]]))
        assert np.array_equal(_search_sorted(t, keys), np.searchsorted(t, keys, "left")), n
