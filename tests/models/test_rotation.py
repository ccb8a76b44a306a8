"""Rotation analytics on hand-built series whose answers are known in advance."""

from __future__ import annotations

import io
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from models import rotation as rot
from models.catalog import derived_specs, validate_series_id
from models.series import MS_PER_HOUR, SeriesData
from models.sessions import sessions_between
from tests.models.calendar_days import weekdays

HOURLY_START = datetime(2025, 12, 1, tzinfo=UTC)


# -- builders ---------------------------------------------------------------------------------
def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def daily_bars(days: list[date], closes: list[float], hour: float = 0.0) -> SeriesData:
    """Daily bars stamped `hour` hours after 00:00 UTC of each date."""
    times = [_ms(datetime(d.year, d.month, d.day, tzinfo=UTC)) + int(hour * MS_PER_HOUR)
             for d in days]
    return SeriesData.from_rows(times, close=closes)


def every_day(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def hourly_bars(start: datetime, end: datetime, price) -> SeriesData:
    """Hourly bars from start (inclusive) to end (exclusive); close = price(open time ms)."""
    times = np.arange(_ms(start), _ms(end), MS_PER_HOUR, dtype=np.int64)
    return SeriesData(times, {"close": np.array([price(int(t)) for t in times])})


def hour_marker(t_ms: int) -> float:
    """A price that names its bar: hours since HOURLY_START, + 1 so it stays positive."""
    return (t_ms - _ms(HOURLY_START)) / MS_PER_HOUR + 1.0


def nyse_days(start: date, end: date) -> list[date]:
    """The NYSE sessions from start to end, from the exchange calendar."""
    return [d.date() for d in sessions_between(start, end)]


def returns_frame(**columns: np.ndarray) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    index = rot.session_close_instants(sessions_between("2025-01-02", "2026-12-31")[:n])
    return pd.DataFrame(columns, index=index)


class MemoryLoader:
    """The DataLoader protocol over a dict: what a derived spec may read."""

    def __init__(self, series: dict[str, SeriesData]) -> None:
        self.series = series
        self.reads: list[str] = []

    def read(self, series_id: str, start_ms: int | None = None,
             end_ms: int | None = None) -> SeriesData:
        self.reads.append(series_id)
        return self.series.get(series_id, SeriesData.empty()).between(start_ms, end_ms)

    def latest_snapshot(self, series_id: str, at_ms: int | None = None):
        return None


# -- sessions ---------------------------------------------------------------------------------
def test_session_close_is_16_new_york_in_utc_across_the_dst_change():
    # US clocks moved forward on Sunday 2026-03-08.
    data = daily_bars([date(2026, 3, 6), date(2026, 3, 9)], [100.0, 101.0])
    closes = rot.session_closes(data)
    assert list(closes.index) == [_utc("2026-03-06 21:00"), _utc("2026-03-09 20:00")]
    assert list(closes) == [100.0, 101.0]
    assert str(closes.index.tz) == "UTC"


def test_session_closes_accepts_open_stamps_and_drops_weekends_and_nan():
    at_open = daily_bars([date(2026, 1, 5), date(2026, 1, 6)], [10.0, 11.0], hour=14.5)
    assert list(rot.session_closes(at_open).index) == [_utc("2026-01-05 21:00"),
                                                        _utc("2026-01-06 21:00")]
    # A 24/7 daily series: the Saturday and Sunday bars are no session, a NaN close is no price.
    crypto = daily_bars(every_day(date(2026, 1, 2), date(2026, 1, 6)),
                        [1.0, 2.0, 3.0, np.nan, 5.0])
    closes = rot.session_closes(crypto)
    assert closes.to_dict() == {_utc("2026-01-02 21:00"): 1.0, _utc("2026-01-06 21:00"): 5.0}


def test_crypto_daily_bar_of_a_date_stands_for_that_dates_session():
    crypto = daily_bars(every_day(date(2026, 1, 2), date(2026, 1, 5)), [1.0, 2.0, 3.0, 4.0])
    closes = rot.session_closes(crypto)
    # Friday's bar (closing Sat 00:00 UTC) is Friday's session, Monday's bar Monday's.
    assert closes.to_dict() == {_utc("2026-01-02 21:00"): 1.0, _utc("2026-01-05 21:00"): 4.0}


def test_btc_sampled_at_the_session_close_hour_before_and_after_dst():
    hourly = hourly_bars(HOURLY_START, datetime(2026, 3, 12, tzinfo=UTC), hour_marker)
    sessions = rot.session_closes(daily_bars([date(2026, 3, 6), date(2026, 3, 9)], [1.0, 1.0]))
    sampled = rot.crypto_at_session_close(hourly, sessions.index)
    # Before the change the 20:00 UTC bar closes at 21:00; after it the 19:00 UTC bar at 20:00.
    expected_open = [datetime(2026, 3, 6, 20, tzinfo=UTC), datetime(2026, 3, 9, 19, tzinfo=UTC)]
    assert list(sampled.index) == list(sessions.index)
    assert list(sampled) == [hour_marker(_ms(t)) for t in expected_open]


def test_btc_at_session_close_is_never_filled_over_a_gap():
    session = rot.session_close_instants(pd.DatetimeIndex(["2026-01-06", "2026-01-07"]))
    # Bars stop at 18:00 UTC on the 6th (last close 19:00, 2 h before the 21:00 close: kept)
    # and resume on the 8th: the 7th's close has no bar within 2 h and is left out.
    before = hourly_bars(datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 6, 19, tzinfo=UTC),
                         lambda t: 50.0)
    after = hourly_bars(datetime(2026, 1, 8, tzinfo=UTC), datetime(2026, 1, 9, tzinfo=UTC),
                        lambda t: 60.0)
    sampled = rot.crypto_at_session_close(before.merge(after), session)
    assert sampled.to_dict() == {_utc("2026-01-06 21:00"): 50.0}
    tighter = rot.crypto_at_session_close(before, session, tolerance_ms=MS_PER_HOUR)
    assert tighter.empty


# -- aligned returns --------------------------------------------------------------------------
def _btc_with_saturday_jump(t_ms: int) -> float:
    """Drifts 0.1 % an hour; +10 % from Saturday 2026-01-10 12:00 UTC on."""
    hours = (t_ms - _ms(HOURLY_START)) / MS_PER_HOUR
    jump = 1.1 if t_ms >= _ms(datetime(2026, 1, 10, 12, tzinfo=UTC)) else 1.0
    return 100.0 * math.exp(0.001 * hours) * jump


def test_weekend_btc_move_lands_in_mondays_return_and_no_weekend_rows():
    days = weekdays(date(2026, 1, 5), date(2026, 1, 16))
    spx = rot.session_closes(daily_bars(days, [100.0 + i for i in range(len(days))]))
    hourly = hourly_bars(HOURLY_START, datetime(2026, 1, 20, tzinfo=UTC), _btc_with_saturday_jump)
    btc = rot.crypto_at_session_close(hourly, spx.index)
    returns = rot.aligned_log_returns({"btc": btc, "spx": spx})
    assert len(returns) == len(days) - 1
    assert (returns.index.day_of_week < 5).all()
    assert (returns["spx"] != 0).all() and (returns["btc"] != 0).all()
    friday, monday = _utc("2026-01-09 21:00"), _utc("2026-01-12 21:00")
    assert returns.index.get_loc(monday) == returns.index.get_loc(friday) + 1
    # Friday 21:00 UTC to Monday 21:00 UTC is 72 hours of drift plus the jump.
    assert returns.loc[monday, "btc"] == pytest.approx(0.072 + math.log(1.1), rel=1e-12)
    assert returns.loc[monday, "spx"] == pytest.approx(math.log(105 / 104), rel=1e-12)


def test_us_holiday_is_absent_and_btc_return_spans_both_sessions():
    mlk = date(2026, 1, 19)
    days = weekdays(date(2026, 1, 12), date(2026, 1, 23), skip=(mlk,))
    spx = rot.session_closes(daily_bars(days, [200.0 + 3 * i for i in range(len(days))]))
    calendar = every_day(date(2026, 1, 10), date(2026, 1, 25))
    btc_daily = daily_bars(calendar, [1000.0 + 10 * i for i in range(len(calendar))])
    btc = rot.session_closes(btc_daily)
    returns = rot.aligned_log_returns({"btc": btc, "spx": spx})
    assert _utc("2026-01-19 21:00") not in returns.index
    tuesday = _utc("2026-01-20 21:00")
    prev = returns.index[returns.index.get_loc(tuesday) - 1]
    assert prev == _utc("2026-01-16 21:00")
    btc_close = dict(zip(calendar, (1000.0 + 10 * i for i in range(len(calendar))), strict=True))
    expected = math.log(btc_close[date(2026, 1, 20)] / btc_close[date(2026, 1, 16)])
    assert returns.loc[tuesday, "btc"] == pytest.approx(expected, rel=1e-12)
    assert (returns != 0).all().all()


def test_aligned_returns_skip_missing_and_non_positive_closes():
    index = rot.session_close_instants(pd.bdate_range("2026-02-02", periods=4))
    a = pd.Series([1.0, 0.0, 4.0, 8.0], index=index)  # a zero price is no price
    b = pd.Series([1.0, 2.0, np.nan, 4.0], index=index)
    returns = rot.aligned_log_returns({"a": a, "b": b})
    assert list(returns.index) == [index[3]]
    assert returns.iloc[0].tolist() == pytest.approx([math.log(8.0), math.log(4.0)])
    assert rot.aligned_log_returns({"a": a.iloc[:1], "b": b.iloc[:1]}).empty


# -- correlation, beta, ratio -----------------------------------------------------------------
def test_perfect_correlation_and_anti_correlation():
    x = np.random.default_rng(1).normal(0, 0.02, 80)
    returns = returns_frame(x=x, up=3 * x + 0.001, down=-0.5 * x)
    up = rot.rolling_correlation(returns, "x", "up", 20)
    down = rot.rolling_correlation(returns, "x", "down", 20)
    assert up.iloc[:19].isna().all()
    assert up.iloc[19:].to_numpy() == pytest.approx(1.0, abs=1e-9)
    assert down.iloc[19:].to_numpy() == pytest.approx(-1.0, abs=1e-9)


def test_rolling_beta_of_twice_the_market_is_two():
    x = np.random.default_rng(2).normal(0, 0.01, 70)
    returns = returns_frame(x=x, y=2 * x)
    beta = rot.rolling_beta(returns, "y", "x", 60)
    assert beta.dropna().to_numpy() == pytest.approx(2.0, rel=1e-9)
    assert beta.notna().sum() == 11


def test_rolling_correlation_matches_numpy_corrcoef_on_the_same_window():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.02, 150)
    y = 0.4 * x + rng.normal(0, 0.02, 150)
    returns = returns_frame(x=x, y=y)
    window = 60
    corr = rot.rolling_correlation(returns, "x", "y", window)
    for end in (window - 1, 97, 149):
        lo = end - window + 1
        expected = np.corrcoef(x[lo:end + 1], y[lo:end + 1])[0, 1]
        assert corr.iloc[end] == pytest.approx(expected, abs=1e-10)
    assert corr.index.equals(returns.index)


def test_constant_window_gives_nan_correlation_not_a_warning():
    returns = returns_frame(x=np.zeros(30), y=np.linspace(-0.01, 0.01, 30))
    assert rot.rolling_correlation(returns, "x", "y", 10).isna().all()
    assert rot.rolling_beta(returns, "y", "x", 10).isna().all()


def test_ratio_on_common_sessions_and_matrix():
    index = rot.session_close_instants(pd.bdate_range("2026-02-02", periods=4))
    num = pd.Series([10.0, 20.0, 30.0, 40.0], index=index)
    den = pd.Series([2.0, 0.0, 5.0], index=index[[0, 1, 3]])
    ratio = rot.ratio_series(num, den)
    assert ratio.to_dict() == {index[0]: 5.0, index[3]: 8.0}

    x = np.random.default_rng(4).normal(0, 0.01, 40)
    matrix = rot.correlation_matrix(returns_frame(a=x, b=-x, c=2 * x))
    assert list(matrix.columns) == ["a", "b", "c"] and list(matrix.index) == ["a", "b", "c"]
    assert matrix.to_numpy() == pytest.approx(np.array([[1, -1, 1], [-1, 1, -1], [1, -1, 1]]))


# -- decoupling -------------------------------------------------------------------------------
def test_decoupling_flags_exactly_the_planted_day():
    n = 100
    btc = np.where(np.arange(n) % 2 == 0, 0.01, -0.01)  # a steady ±1 % market: |z| ≈ 1
    planted, coupled = 80, 90
    btc[planted], btc[coupled] = 0.08, -0.08
    returns = returns_frame(btc=btc, spx=np.full(n, 0.001))
    corr = pd.Series(0.0, index=returns.index)
    corr.iloc[coupled] = 0.9  # a big move while BTC tracks stocks is no decoupling
    flagged = rot.decoupling_days(returns, corr, k=3.0, corr_threshold=0.2)
    day = returns.index[planted]
    assert list(flagged.index) == [day]
    assert flagged.index.name == "time"
    assert flagged.loc[day, "session"] == day
    assert flagged.loc[day, "btc_ret"] == pytest.approx(0.08)
    assert flagged.loc[day, "peer_ret"] == pytest.approx(0.001)
    assert flagged.loc[day, "corr"] == 0.0
    # The yardstick excludes the day itself: σ of the 60 returns before it.
    assert flagged.loc[day, "z"] == pytest.approx(0.08 / np.std(btc[20:80], ddof=1))
    assert {"btc_ret", "z", "corr"} <= set(flagged.columns)
    # A looser k, still only low-correlation big moves; a tight threshold, none at all.
    assert rot.decoupling_days(returns, corr, k=3.0, corr_threshold=-0.5).empty


# -- movers -----------------------------------------------------------------------------------
SPX_DAYS = weekdays(date(2026, 1, 5), date(2026, 1, 16))
SPX_CLOSES = [100.0, 104.0, 102.0, 103.0, 101.0, 99.0, 100.0, 98.0, 97.0, 99.0]


def test_movers_frame_holds_the_rows_of_models_movers():
    # The by-hand checks of each column are in tests/models/test_movers.py.
    now = _ms(datetime(2026, 1, 16, 21, tzinfo=UTC))
    frame = rot.movers({"spx": daily_bars(SPX_DAYS, SPX_CLOSES, hour=14.5)}, now,
                       drawdown_basis="close")
    assert list(frame.columns) == list(rot.MOVER_COLUMNS)
    assert list(frame.index) == ["spx"]
    row = frame.loc["spx"]
    assert row["last"] == 99.0
    assert row["chg_1d_pct"] == pytest.approx((99 / 97 - 1) * 100)
    assert row["chg_1w_pct"] == pytest.approx((99 / 101 - 1) * 100)  # 5 sessions back: the 9th
    assert np.isnan(row["chg_1m_pct"]) and np.isnan(row["rv30_pct"])  # too short a history
    assert row["drawdown_52w_pct"] == pytest.approx((99 / 104 - 1) * 100)


def test_movers_keeps_an_asset_without_prices_as_a_row_of_nan():
    frame = rot.movers({"gold": SeriesData.empty(["close"]),
                        "dxy": daily_bars([date(2026, 1, 5)], [98.0])},
                       _ms(datetime(2026, 1, 6, tzinfo=UTC)))
    assert frame.loc["gold"].isna().all()
    assert frame.loc["dxy", "last"] == 98.0 and frame.loc["dxy", "drawdown_52w_pct"] == 0.0
    assert frame.dtypes.eq(np.float64).all()


# -- derived series ---------------------------------------------------------------------------
EXPECTED_IDS = {f"corr.btc_{p}.{w}" for p in ("spx", "ndx", "gold", "silver", "dxy")
                for w in (20, 60, 120)} | {"beta.btc_spx.60", "ratio.btc_gold", "ratio.btc_spx"}


def rotation_specs():
    return [spec for spec in derived_specs().values() if spec.id in EXPECTED_IDS]


def test_derived_ids_are_declared_valid_and_listed():
    ids = {spec.id for spec in rotation_specs()}
    assert ids == EXPECTED_IDS
    assert all(validate_series_id(i) == i for i in ids)
    assert set(derived_specs()) >= EXPECTED_IDS
    from services.commands import cmd_list

    out = io.StringIO()
    cmd_list(out)
    assert "corr.btc_spx.60\tderived\tbtc.1h,btc.1d,spx.1d" in out.getvalue()


def _market() -> dict[str, SeriesData]:
    """BTC hourly (recent) and daily (older); S&P 500 = √BTC, gold = 1/BTC at each session."""
    rng = np.random.default_rng(7)
    hours = np.arange(_ms(HOURLY_START), _ms(datetime(2026, 6, 1, tzinfo=UTC)), MS_PER_HOUR)
    hourly = SeriesData(hours, {"close": 60_000 * np.exp(np.cumsum(rng.normal(0, 0.003,
                                                                              len(hours))))})
    calendar = every_day(date(2025, 6, 1), date(2026, 5, 31))
    btc_daily = daily_bars(calendar, list(50_000 * np.exp(np.cumsum(
        rng.normal(0, 0.02, len(calendar))))))
    sessions = nyse_days(date(2025, 6, 2), date(2026, 5, 29))
    session_index = rot.session_closes(daily_bars(sessions, [1.0] * len(sessions))).index
    btc_at_close = rot.btc_session_closes(hourly, btc_daily, session_index)
    assert len(btc_at_close) == len(sessions)
    values = btc_at_close.to_numpy()
    noise = list(100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(sessions)))))
    return {"btc.1h": hourly, "btc.1d": btc_daily,
            "spx.1d": daily_bars(sessions, list(np.sqrt(values)), hour=14.5),
            "gold.1d": daily_bars(sessions, list(1.0 / values)),
            **{f"{p}.1d": daily_bars(sessions, noise) for p in ("ndx", "silver", "dxy")}}


def _check_export_shape(frame: pd.DataFrame) -> None:
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert str(frame.index.tz) == "UTC" and frame.index.name == "time"
    assert frame.dtypes.eq(np.float64).all()
    assert frame.index.is_monotonic_increasing


def test_derived_compute_through_a_memory_loader_gives_known_answers():
    loader = MemoryLoader(_market())
    specs = {spec.id: spec for spec in rotation_specs()}
    frames = {sid: spec.compute(loader) for sid, spec in specs.items()}
    for sid, frame in frames.items():
        _check_export_shape(frame)
        assert len(frame) > 100, sid
        assert set(loader.reads) >= set(specs[sid].inputs)
    # S&P 500 = √BTC: log returns are exactly half, so corr = 1 and BTC's beta to it is 2.
    assert frames["corr.btc_spx.20"]["corr"].to_numpy() == pytest.approx(1.0, abs=1e-9)
    assert frames["beta.btc_spx.60"]["beta"].to_numpy() == pytest.approx(2.0, rel=1e-9)
    assert frames["corr.btc_gold.120"]["corr"].to_numpy() == pytest.approx(-1.0, abs=1e-9)
    assert frames["corr.btc_ndx.60"]["corr"].abs().max() < 0.5
    # The first full 20-session window ends on the 21st session (20 returns).
    assert len(frames["corr.btc_spx.20"]) == len(frames["ratio.btc_spx"]) - 20
    # BTC/gold = BTC / (1/BTC) = BTC² and BTC/S&P 500 = √BTC.
    btc_sq = frames["ratio.btc_gold"]["ratio"]
    assert (frames["ratio.btc_spx"]["ratio"] ** 4).to_numpy() == pytest.approx(btc_sq.to_numpy(),
                                                                            rel=1e-9)


def test_derived_compute_through_the_real_cache(cache, tmp_path):
    market = _market()
    for series_id, data in market.items():
        cache.upsert(series_id, data)
    memory = MemoryLoader(market)
    for spec in rotation_specs():
        from_cache = spec.compute(cache)
        _check_export_shape(from_cache)
        pd.testing.assert_frame_equal(from_cache, spec.compute(memory))

    from services.commands import cmd_export

    class Services:  # what cmd_export uses for a derived id
        pass

    services = Services()
    services.cache = cache
    out_path = tmp_path / "corr.csv"
    assert cmd_export(services, "corr.btc_spx.60", str(out_path), None, None, io.StringIO()) == 0
    lines = out_path.read_text().splitlines()
    assert lines[0] == "time,corr,unit"
    assert len(lines) == len(spec_frame := derived_specs()["corr.btc_spx.60"].compute(cache)) + 1
    first_time, first_corr, unit = lines[1].split(",")
    assert unit.startswith("correlation")
    assert first_time == spec_frame.index[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert float(first_corr) == pytest.approx(1.0, abs=1e-9)


def test_derived_compute_on_an_empty_cache_is_empty_not_an_error(cache):
    for spec in rotation_specs():
        frame = spec.compute(cache)
        assert frame.empty
        _check_export_shape(frame)
