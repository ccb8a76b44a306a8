"""Movers against numbers worked out by hand: rolling windows for crypto, sessions otherwise."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from models import movers as mv
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData
from tests.models.calendar_days import weekdays


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _day_ms(d: date) -> int:
    return _ms(datetime(d.year, d.month, d.day, tzinfo=UTC))


def daily(days: list[date], closes: list[float], highs: list[float] | None = None,
          hour: float = 0.0) -> SeriesData:
    times = [_day_ms(d) + int(hour * MS_PER_HOUR) for d in days]
    columns = {"close": closes} if highs is None else {"close": closes, "high": highs}
    return SeriesData.from_rows(times, **columns)


def every_day(start: date, n: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def pct(a: float, b: float) -> float:
    return (a / b - 1.0) * 100.0


# -- crypto: rolling windows back from the last trade ----------------------------------------
DAYS = every_day(date(2025, 12, 1), 40)  # bars stamped 00:00 UTC, 2025-12-01 … 2026-01-09
# The last eight closes: a week's slide to 67 000, the week-old close 80 000, the day after 78 500.
CLOSES = [90_000.0 + 100.0 * i for i in range(32)] + [80_000.0, 78_500.0, 76_000.0, 74_000.0,
                                                        72_000.0, 70_000.0, 69_000.0, 67_000.0]
LAST_BAR = DAYS[-1]
AFTER_LAST_BAR = _day_ms(LAST_BAR) + MS_PER_DAY  # 2026-01-10 00:00: the last bar has closed


def test_crypto_week_is_seven_days_back_from_the_last_trade():
    # The last close trades at 2026-01-10 00:00; 7 days earlier is 2026-01-03 00:00, the end of
    # the bar stamped 2026-01-02 (80 000). The old code took the bar *stamped* at or before
    # now − 7 d, 2026-01-03 (78 500, closing 2026-01-04): a 6-day span.
    rows = mv.mover_rows({"btc": daily(DAYS, CLOSES)}, AFTER_LAST_BAR)
    row = rows["btc"]
    assert row["last"] == 67_000.0
    assert row["chg_1w_pct"] == pytest.approx(pct(67_000, 80_000))  # −16.25 %, old −14.65 %
    assert row["chg_1d_pct"] == pytest.approx(pct(67_000, 69_000))
    # 30 days before 2026-01-10 00:00 is 2025-12-11 00:00, the end of the 2025-12-10 bar.
    assert row["chg_1m_pct"] == pytest.approx(pct(67_000, CLOSES[9]))
    assert DAYS[9] == date(2025, 12, 10)


def test_crypto_rv30_is_the_std_of_30_daily_returns():
    logs = np.diff(np.log(CLOSES))
    row = mv.mover_rows({"btc": daily(DAYS, CLOSES)}, AFTER_LAST_BAR)["btc"]
    expected = statistics.stdev(logs[-30:].tolist()) * math.sqrt(365) * 100
    assert row["rv30_pct"] == pytest.approx(expected, rel=1e-12)
    # The old window (bars stamped after now − 30 d) held 29 returns.
    assert expected != pytest.approx(statistics.stdev(logs[-29:].tolist()) * math.sqrt(365) * 100,
                                     rel=1e-3)


def test_crypto_as_of_the_data_when_now_is_none():
    with_none = mv.mover_rows({"btc": daily(DAYS, CLOSES)}, None)["btc"]
    assert with_none == mv.mover_rows({"btc": daily(DAYS, CLOSES)}, AFTER_LAST_BAR)["btc"]


def test_crypto_forming_daily_bar_trades_now():
    # At 2026-01-09 12:00 the bar stamped 2026-01-09 is forming: its close (67 000) is the price
    # at 12:00. 24 h earlier, 2026-01-08 12:00, the newest finished bar is 2026-01-07's (70 000).
    now = _day_ms(LAST_BAR) + 12 * MS_PER_HOUR
    row = mv.mover_rows({"btc": daily(DAYS, CLOSES)}, now)["btc"]
    assert row["chg_1d_pct"] == pytest.approx(pct(67_000, 70_000))
    # 7 × 24 h back, 2026-01-02 12:00: the bar stamped 2026-01-01 (ended 2026-01-02 00:00).
    assert DAYS[31] == date(2026, 1, 1)
    assert row["chg_1w_pct"] == pytest.approx(pct(67_000, CLOSES[31]))


def hour_price(t_ms: int) -> float:
    """A price that names its hourly bar: 1000 + hours since 2026-01-01."""
    return 1000.0 + (t_ms - _ms(datetime(2026, 1, 1, tzinfo=UTC))) / MS_PER_HOUR


def test_crypto_hourly_bars_give_the_reference_to_the_hour_and_daily_before_them():
    hourly_start = datetime(2026, 1, 15, tzinfo=UTC)
    times = np.arange(_ms(hourly_start), _ms(datetime(2026, 2, 21, tzinfo=UTC)), MS_PER_HOUR)
    hourly = SeriesData(times, {"close": np.array([hour_price(int(t)) for t in times])})
    days = every_day(date(2025, 12, 1), 82)  # to 2026-02-20
    daily_closes = [500.0 + i for i in range(len(days))]
    now = _ms(datetime(2026, 2, 20, 15, 37, tzinfo=UTC))
    row = mv.mover_rows({"btc": daily(days, daily_closes)}, now,
                        hourly={"btc": hourly})["btc"]
    # The last trade: the forming 15:00 bar's close, at 15:37.
    last = hour_price(_ms(datetime(2026, 2, 20, 15, tzinfo=UTC)))
    assert row["last"] == last
    # 24 h back is 2026-02-19 15:37: the last hourly bar ending by then opened at 14:00.
    assert row["chg_1d_pct"] == pytest.approx(
        pct(last, hour_price(_ms(datetime(2026, 2, 19, 14, tzinfo=UTC)))))
    assert row["chg_1w_pct"] == pytest.approx(
        pct(last, hour_price(_ms(datetime(2026, 2, 13, 14, tzinfo=UTC)))))
    # 30 days back, 2026-01-21 15:37, is inside the hourly history too.
    assert row["chg_1m_pct"] == pytest.approx(
        pct(last, hour_price(_ms(datetime(2026, 1, 21, 14, tzinfo=UTC)))))
    # Without hourly bars 30 days back (hourly from 2026-02-01), the daily bar ending by
    # 2026-01-21 15:37 is the one stamped 2026-01-20.
    late = hourly.between(_ms(datetime(2026, 2, 1, tzinfo=UTC)), None)
    row = mv.mover_rows({"btc": daily(days, daily_closes)}, now, hourly={"btc": late})["btc"]
    assert row["chg_1m_pct"] == pytest.approx(
        pct(last, daily_closes[days.index(date(2026, 1, 20))]))


def test_crypto_reference_inside_a_gap_is_unknown_not_stale():
    # Bars from 2025-12-25 to 2026-01-05 are missing: the week-old reference has no price.
    kept = [i for i, d in enumerate(DAYS) if not date(2025, 12, 25) <= d <= date(2026, 1, 5)]
    data = daily([DAYS[i] for i in kept], [CLOSES[i] for i in kept])
    row = mv.mover_rows({"btc": data}, AFTER_LAST_BAR)["btc"]
    assert np.isnan(row["chg_1w_pct"])
    assert row["chg_1d_pct"] == pytest.approx(pct(67_000, 69_000))
    assert np.isnan(row["rv30_pct"])  # fewer than 30 known returns


def test_crypto_z_score_from_the_60_rolling_returns_before_the_last():
    days = every_day(date(2025, 11, 1), 71)
    r = 0.01
    logs = [r if i % 2 == 0 else -r for i in range(len(days) - 2)] + [0.05]
    closes = list(100.0 * np.exp(np.concatenate([[0.0], np.cumsum(logs)])))
    row = mv.mover_rows({"btc": daily(days, closes)}, None)["btc"]
    # 60 alternating ±1 % returns: σ = 0.01 · √(60/59).
    assert row["z_1d"] == pytest.approx(0.05 / (r * math.sqrt(60 / 59)))


# -- sessions: exchange-traded assets count their own sessions -------------------------------
MLK = date(2026, 1, 19)
SESSIONS = weekdays(date(2025, 12, 1), date(2026, 1, 23), skip=(date(2025, 12, 25),
                                                                 date(2026, 1, 1), MLK))
SESSION_CLOSES = [6000.0 + 7.0 * i + (13.0 if i % 3 == 0 else -5.0)
                  for i in range(len(SESSIONS))]


def test_equity_week_and_month_are_5_and_21_sessions():
    now = _ms(datetime(2026, 1, 23, 21, tzinfo=UTC))
    row = mv.mover_rows({"spx": daily(SESSIONS, SESSION_CLOSES, hour=14.5)}, now)["spx"]
    last = SESSION_CLOSES[-1]
    # With MLK day closed, 5 sessions before Fri 2026-01-23 is Thu 2026-01-15; the old
    # "last bar at or before now − 7 d" took Fri 2026-01-16, 4 sessions back.
    assert SESSIONS[-6] == date(2026, 1, 15)
    assert row["chg_1w_pct"] == pytest.approx(pct(last, SESSION_CLOSES[-6]))
    assert row["chg_1d_pct"] == pytest.approx(pct(last, SESSION_CLOSES[-2]))
    # 21 sessions back: 2025-12-22 (the old code: the last bar by 2025-12-24 21:00, 12-24).
    assert SESSIONS[-22] == date(2025, 12, 22)
    assert row["chg_1m_pct"] == pytest.approx(pct(last, SESSION_CLOSES[-22]))
    logs = np.diff(np.log(SESSION_CLOSES))
    assert row["rv30_pct"] == pytest.approx(
        statistics.stdev(logs[-30:].tolist()) * math.sqrt(252) * 100, rel=1e-12)


def test_equity_with_too_short_a_history_leaves_the_longer_horizons_unknown():
    row = mv.mover_rows({"spx": daily(SESSIONS[:4], SESSION_CLOSES[:4])}, None)["spx"]
    assert row["chg_1d_pct"] == pytest.approx(pct(SESSION_CLOSES[3], SESSION_CLOSES[2]))
    assert np.isnan(row["chg_1w_pct"]) and np.isnan(row["chg_1m_pct"])
    assert np.isnan(row["rv30_pct"]) and np.isnan(row["z_1d"])


def test_asset_class_comes_from_the_catalog_or_the_caller():
    assert mv.asset_class_of("btc") == mv.CRYPTO and mv.asset_class_of("eth") == mv.CRYPTO
    assert mv.asset_class_of("spx") == mv.SESSIONS and mv.asset_class_of("gold") == mv.SESSIONS
    # The same daily bars read as sessions: 1W is 5 bars back, not 7 days.
    data = daily(DAYS, CLOSES)
    as_sessions = mv.mover_rows({"btc": data}, None, asset_classes={"btc": "equity"})["btc"]
    assert as_sessions["chg_1w_pct"] == pytest.approx(pct(67_000, CLOSES[-6]))
    # The asset table's classes can be passed as they are.
    from models.assets import AssetClass

    assert mv.mover_rows({"btc": data}, None, asset_classes={"btc": AssetClass.METAL}) == {
        "btc": as_sessions}
    assert mv.mover_rows({"x": data}, None, asset_classes={"x": AssetClass.CRYPTO})["x"][
        "chg_1w_pct"] == pytest.approx(pct(67_000, 80_000))
    assert mv.asset_class_of("not-in-any-table") == mv.SESSIONS


# -- drawdown ---------------------------------------------------------------------------------
def test_drawdown_from_closes_or_from_intraday_highs():
    days = every_day(date(2025, 1, 1), 400)
    closes = [100.0] * 400
    highs = [101.0] * 400
    closes[10], highs[10] = 200.0, 210.0  # more than 52 weeks before the last bar: not counted
    closes[300], highs[300] = 120.0, 130.0
    closes[-1], highs[-1] = 90.0, 95.0
    data = daily(days, closes, highs)
    by_close = mv.mover_rows({"btc": data}, None)["btc"]
    by_high = mv.mover_rows({"btc": data}, None, drawdown_basis="high")["btc"]
    assert by_close["drawdown_52w_pct"] == pytest.approx(pct(90, 120))  # −25 %
    assert by_high["drawdown_52w_pct"] == pytest.approx(pct(90, 130))  # −30.77 %
    assert mv.drawdown_description("close") == "from the highest close of the last 52 weeks"
    assert "intraday high" in mv.drawdown_description("high")
    no_highs = mv.mover_rows({"btc": daily(days, closes)}, None, drawdown_basis="high")
    assert np.isnan(no_highs["btc"]["drawdown_52w_pct"])
    with pytest.raises(ValueError, match="drawdown basis"):
        mv.mover_rows({"btc": data}, None, drawdown_basis="open")


def test_every_column_has_a_one_sentence_definition():
    assert tuple(mv.COLUMN_DEFINITIONS) == mv.MOVER_COLUMNS
    for column, text in mv.COLUMN_DEFINITIONS.items():
        assert text.endswith(".") and text.count(". ") == 0, column
    assert "24 h" in mv.COLUMN_DEFINITIONS["chg_1d_pct"]
    assert "21 sessions" in mv.COLUMN_DEFINITIONS["chg_1m_pct"]
    assert "30 daily log returns" in mv.COLUMN_DEFINITIONS["rv30_pct"]


# -- the audit's numbers on the demo dataset --------------------------------------------------
def test_demo_btc_week_is_minus_16_21_not_minus_14_90():
    from services.demo import DEMO_NOW_MS, load_demo

    btc = load_demo().series["btc.1d"]
    row = mv.mover_rows({"btc": btc}, DEMO_NOW_MS)["btc"]
    # DEMO_NOW_MS is 2026-02-07 00:00, the end of the last bar; 7 days earlier, 2026-01-31 00:00,
    # is the end of the bar stamped 2026-01-30.
    week_ago = float(btc["close"][btc.time == _day_ms(date(2026, 1, 30))][0])
    assert row["chg_1w_pct"] == pytest.approx(pct(float(btc["close"][-1]), week_ago))
    assert round(row["chg_1w_pct"], 2) == -16.21
