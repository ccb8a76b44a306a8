"""NYSE sessions from the exchange calendar: half days, holidays and DST, and BTC sampled at the
real close. Expected close times are written out by hand (13:00 or 16:00 New York, converted with
zoneinfo), never taken from the package under test."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from models import rotation as rot
from models import sessions
from models.catalog import CATALOG
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData
from services.refresh import plan_refresh

NEW_YORK = ZoneInfo("America/New_York")
# NYSE 2025, from the exchange's published holiday and early-close schedule.
HOLIDAYS_2025 = {date(2025, 1, 1), date(2025, 1, 9), date(2025, 1, 20), date(2025, 2, 17),
                 date(2025, 4, 18), date(2025, 5, 26), date(2025, 6, 19), date(2025, 7, 4),
                 date(2025, 9, 1), date(2025, 11, 27), date(2025, 12, 25)}
HALF_DAYS_2025 = {date(2025, 7, 3), date(2025, 11, 28), date(2025, 12, 24)}


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def expected_close(day: date) -> pd.Timestamp:
    """13:00 New York on a half day, 16:00 otherwise, as UTC."""
    local = time(13) if day in HALF_DAYS_2025 else time(16)
    return pd.Timestamp(datetime.combine(day, local, NEW_YORK)).tz_convert("UTC")


def days_2025(start: date, end: date) -> list[date]:
    out, d = [], start
    while d <= end:
        out.append(d)
        d += timedelta(days=1)
    return out


def daily_bars(days: list[date], closes: list[float], hour: float = 0.0) -> SeriesData:
    times = [_ms(datetime(d.year, d.month, d.day, tzinfo=UTC)) + int(hour * MS_PER_HOUR)
             for d in days]
    return SeriesData.from_rows(times, close=closes)


def hourly_bars(start: datetime, end: datetime, price) -> SeriesData:
    times = np.arange(_ms(start), _ms(end), MS_PER_HOUR, dtype=np.int64)
    return SeriesData(times, {"close": np.array([price(int(t)) for t in times])})


ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)


def hour_marker(t_ms: int) -> float:
    """A price that names its hourly bar: hours since 2025-01-01, + 1."""
    return (t_ms - _ms(ORIGIN)) / MS_PER_HOUR + 1.0


def marker_at_close(close: pd.Timestamp) -> float:
    """The marker of the hourly bar that closes exactly at `close` (it opened an hour earlier)."""
    return hour_marker(int(close.timestamp() * 1000) - MS_PER_HOUR)


# -- sessions and close instants ----------------------------------------------------------------
def test_half_days_close_at_13_new_york_and_holidays_are_no_session():
    days = [date(2025, 7, 2), date(2025, 7, 3), date(2025, 7, 4), date(2025, 7, 7),
            date(2025, 11, 26), date(2025, 11, 27), date(2025, 11, 28),
            date(2025, 12, 23), date(2025, 12, 24), date(2025, 12, 25), date(2025, 12, 26)]
    closes = rot.session_closes(daily_bars(days, [float(i + 1) for i in range(len(days))],
                                           hour=13.5))
    assert closes.to_dict() == {
        _utc("2025-07-02 20:00"): 1.0,
        _utc("2025-07-03 17:00"): 2.0,  # 13:00 EDT
        _utc("2025-07-07 20:00"): 4.0,  # 2025-07-04 is a holiday: no session
        _utc("2025-11-26 21:00"): 5.0,
        _utc("2025-11-28 18:00"): 7.0,  # 13:00 EST, the day after Thanksgiving
        _utc("2025-12-23 21:00"): 8.0,
        _utc("2025-12-24 18:00"): 9.0,  # 13:00 EST
        _utc("2025-12-26 21:00"): 11.0,
    }


def test_regular_close_moves_with_both_2025_dst_changes():
    # Clocks went forward on Sun 2025-03-09 and back on Sun 2025-11-02.
    days = [date(2025, 3, 7), date(2025, 3, 10), date(2025, 10, 31), date(2025, 11, 3)]
    closes = rot.session_closes(daily_bars(days, [1.0, 2.0, 3.0, 4.0]))
    assert list(closes.index) == [_utc("2025-03-07 21:00"), _utc("2025-03-10 20:00"),
                                  _utc("2025-10-31 20:00"), _utc("2025-11-03 21:00")]
    assert list(closes.index) == [expected_close(d) for d in days]


def test_every_2025_session_and_close_matches_the_published_schedule():
    every_day = days_2025(date(2025, 1, 1), date(2025, 12, 31))
    expected = [d for d in every_day if d.weekday() < 5 and d not in HOLIDAYS_2025]
    assert len(expected) == 250
    found = sessions.sessions_between("2025-01-01", "2025-12-31")
    assert [d.date() for d in found] == expected
    closes = rot.session_close_instants(pd.DatetimeIndex([str(d) for d in expected]))
    assert list(closes) == [expected_close(d) for d in expected]
    assert str(closes.tz) == "UTC" and closes.name == "time"


def test_a_date_that_is_no_session_is_refused_by_name():
    with pytest.raises(ValueError, match="2025-07-04"):
        rot.session_close_instants(pd.DatetimeIndex(["2025-07-03", "2025-07-04"]))
    times = sessions.session_close_times(pd.DatetimeIndex(["2025-07-04", "2025-07-05"]))
    assert times.isna().all()


def test_the_calendar_is_built_once_and_widened_for_older_dates():
    first = sessions.nyse_calendar()
    assert sessions.nyse_calendar("2001-01-01", "2025-12-31") is first
    # 1987-10-19 (EDT) lies before the default span: the calendar grows to cover it.
    close = sessions.session_close_times(pd.DatetimeIndex(["1987-10-19"]))
    assert list(close) == [_utc("1987-10-19 20:00")]
    wider = sessions.nyse_calendar()
    assert wider.first_session <= pd.Timestamp("1987-10-19")
    assert sessions.nyse_calendar("1988-01-04") is wider


# -- BTC at the real close -------------------------------------------------------------------
HOURLY = hourly_bars(datetime(2025, 6, 1, tzinfo=UTC), datetime(2026, 1, 10, tzinfo=UTC),
                     hour_marker)


def test_btc_is_the_last_hourly_close_at_or_before_each_session_close():
    days = [date(2025, 7, 2), date(2025, 7, 3), date(2025, 7, 7), date(2025, 11, 28),
            date(2025, 12, 24), date(2025, 3, 10)]
    index = rot.session_closes(daily_bars(days, [1.0] * len(days))).index
    btc = rot.crypto_at_session_close(HOURLY, index)
    # On 2025-07-03 that is the 16:00 UTC bar, closing at 17:00 (the old 16:00 New York rule
    # took the 19:00 bar, three hours after the close). March 10 has no hourly bars: left out.
    assert btc.to_dict() == {expected_close(d): marker_at_close(expected_close(d))
                             for d in sorted(days) if d.month >= 6}
    assert btc[_utc("2025-07-03 17:00")] == hour_marker(_ms(datetime(2025, 7, 3, 16,
                                                                      tzinfo=UTC)))


def test_daily_btc_fills_only_sessions_before_the_hourly_history():
    days = days_2025(date(2025, 5, 1), date(2025, 7, 10))
    daily = daily_bars(days, [10_000.0 + i for i in range(len(days))])
    # Hourly bars from 2025-06-01, with a hole over the whole of 2025-06-24.
    hole = (HOURLY.time >= _ms(datetime(2025, 6, 24, tzinfo=UTC))) & (
        HOURLY.time < _ms(datetime(2025, 6, 25, tzinfo=UTC)))
    hourly = SeriesData(HOURLY.time[~hole], {"close": HOURLY["close"][~hole]})
    index = rot.session_closes(daily_bars([d for d in days if d.weekday() < 5],
                                          [1.0] * sum(d.weekday() < 5 for d in days))).index
    btc = rot.btc_session_closes(hourly, daily, index)
    # May (no hourly bars yet): the daily bar of the session's date.
    may_30 = expected_close(date(2025, 5, 30))
    assert btc[may_30] == 10_000.0 + days.index(date(2025, 5, 30))
    # June 24 lies inside the hourly history: a gap, not a daily bar from 4 h after the close.
    assert expected_close(date(2025, 6, 24)) not in btc.index
    assert btc[expected_close(date(2025, 7, 3))] == marker_at_close(expected_close(
        date(2025, 7, 3)))
    assert _utc("2025-07-04 20:00") not in btc.index


def test_btc_over_sp500_ratio_is_exact_on_half_days():
    """The S&P 500 is set to BTC's price at each real close ÷ 2: the ratio is 2 on every session,
    the half days included (the 16:00 New York rule read 2 × (1 + 3 h / hours) there)."""
    every_day = days_2025(date(2025, 6, 2), date(2025, 12, 31))
    spx_days = [d for d in every_day if d.weekday() < 5 and d not in HOLIDAYS_2025]
    spx = daily_bars(spx_days, [marker_at_close(expected_close(d)) / 2 for d in spx_days],
                     hour=14.5)
    series = {"btc.1h": HOURLY, "btc.1d": SeriesData.empty(["close"]), "spx.1d": spx}

    class Loader:
        def read(self, series_id, start_ms=None, end_ms=None):
            empty = SeriesData.empty(["open", "high", "low", "close"])
            return series.get(series_id, empty).between(start_ms, end_ms)

        def latest_snapshot(self, series_id, at_ms=None):
            return None

    from models.catalog import derived_specs

    spec = derived_specs()["ratio.btc_spx"]
    ratio = spec.compute(Loader())["ratio"]
    assert len(ratio) == len(spx_days)
    assert ratio.to_numpy() == pytest.approx(2.0, rel=1e-12)
    for half_day in HALF_DAYS_2025:
        assert ratio[expected_close(half_day)] == pytest.approx(2.0, rel=1e-12)


# -- hourly BTC/ETH history deep enough for the rotation windows -------------------------------
BINANCE_FIRST_HOUR_MS = _ms(datetime(2017, 8, 17, tzinfo=UTC))


def test_crypto_hourly_history_reaches_back_to_binances_first_bar():
    now = _ms(datetime(2026, 12, 1, tzinfo=UTC))
    for series_id in ("btc.1h", "eth.1h"):
        spec = CATALOG[series_id]
        assert now - spec.history_days * MS_PER_DAY <= BINANCE_FIRST_HOUR_MS
        # A cache holding the last 120 days plans one paged backfill back to before 2017-08-17.
        first_cached = now - 120 * MS_PER_DAY
        plan = plan_refresh(spec, (first_cached, now, 120 * 24),
                            want_start_ms=now - spec.history_days * MS_PER_DAY, now=now,
                            last_fetch_ms=now)
        assert plan.ranges == ((now - spec.history_days * MS_PER_DAY, first_cached - 1),)
        # Once the venue's first bar is known, nothing older is asked for again.
        done = plan_refresh(spec, (BINANCE_FIRST_HOUR_MS, now, 80_000),
                            want_start_ms=now - spec.history_days * MS_PER_DAY, now=now,
                            history_start_ms=BINANCE_FIRST_HOUR_MS, last_fetch_ms=now)
        assert done.empty
    # The exchange-traded peers keep Yahoo's limits.
    assert CATALOG["spx.1h"].history_days == 120 and CATALOG["spx.1h"].max_history_days == 729
