"""Squeeze anatomy (models/squeeze.py): each convention against numbers worked out by hand, and
the regime of a hand-made squeeze, flush and quiet stretch through the analysis itself."""

from __future__ import annotations

import numpy as np
import pytest

from models import squeeze as sq
from models.series import MS_PER_HOUR, SeriesData

H = MS_PER_HOUR
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def bars(closes: list[float], start: int = T0) -> SeriesData:
    t = start + np.arange(len(closes)) * H
    return SeriesData(t, {"close": np.asarray(closes, dtype=float)})


def test_price_change_is_against_the_close_w_bars_earlier_and_nan_without_it():
    data = bars([100, 102, 105, 99, 110])
    change = sq.price_change_pct(data, 2)
    # bar 2: 105 / 100 − 1 = +5 %; bar 3: 99 / 102 − 1 = −2.941 %; bar 4: 110 / 105 − 1
    np.testing.assert_allclose(change[2:], [5.0, -2.9411764705882355, 4.761904761904762])
    assert np.isnan(change[:2]).all()
    gappy = SeriesData(np.array([T0, T0 + H, T0 + 3 * H]), {"close": np.array([1.0, 2.0, 4.0])})
    # the bar an hour before the last is missing: unknown, not the nearest one
    np.testing.assert_allclose(sq.price_change_pct(gappy, 1), [np.nan, 100.0, np.nan])


def settlements(times_h: list[int], rates: list[float], interval: float) -> SeriesData:
    rates_a = np.asarray(rates, dtype=float)
    return SeriesData(T0 + np.asarray(times_h) * H,
                      {"rate": rates_a, "interval_hours": np.full(len(rates), interval),
                       "apr_pct": rates_a * 24 / interval * 365 * 100})


def oi_rows(hours_h: list[int], usd: list[float]) -> SeriesData:
    return SeriesData(T0 + np.asarray(hours_h) * H,
                      {"open_interest": np.asarray(usd) / 50_000.0,
                       "open_interest_usd": np.asarray(usd, dtype=float)})


def test_oi_weighted_funding_by_hand_a_venue_without_oi_is_left_out():
    hours = T0 + np.arange(8) * H
    # A: one 8 h settlement at 8 h paying for hours 0–7, rate 0.0001 → 10.95 % APR.
    # B: hourly, rate −0.0001 → −87.6 % APR, paying for each hour before its stamp.
    # C: hourly +0.0002 (175.2 %), no OI at all: out of the average wherever A or B has OI.
    settled = {"a": settlements([8], [0.0001], 8),
               "b": settlements(list(range(1, 9)), [-0.0001] * 8, 1),
               "c": settlements(list(range(1, 9)), [0.0002] * 8, 1)}
    oi = {"a": oi_rows([0], [300.0]), "b": oi_rows([0, 4], [100.0, 300.0])}
    apr, note = sq.funding_apr(hours, settled, oi, {})
    # hours 0–3: weights 300 : 100 → (3 × 10.95 − 87.6) / 4; hours 4–7: 300 : 300
    np.testing.assert_allclose(apr[:4], (3 * 10.95 - 87.6) / 4)
    np.testing.assert_allclose(apr[4:], (10.95 - 87.6) / 2)
    assert note.startswith("OI-weighted (") and "c" not in note.lower().split("(")[1]


def test_without_any_oi_the_venues_with_a_rate_weigh_equally():
    apr = np.array([[10.0, np.nan, 4.0], [20.0, 30.0, np.nan]])
    oi = np.full((2, 3), np.nan)
    average, weighted = sq.oi_weighted_apr(apr, oi)
    np.testing.assert_allclose(average, [15.0, 30.0, 4.0])
    assert not weighted.any()
    average, weighted = sq.oi_weighted_apr(np.array([[np.nan], [np.nan]]), np.ones((2, 1)))
    assert np.isnan(average[0]) and not weighted[0]


def test_the_running_period_takes_the_current_rate_up_to_the_snapshot():
    data = settlements([8], [0.0001], 8)  # last settlement at 8 h: the period 8–16 h runs
    hours = T0 + np.arange(14) * H
    running = sq.RunningRate(T0 + 11 * H + 30 * 60_000, -21.9)  # fetched at 11:30
    apr = sq.venue_hourly_apr(data, hours, running)
    np.testing.assert_allclose(apr[:8], 10.95)
    np.testing.assert_allclose(apr[8:12], -21.9)  # hours 8, 9, 10, 11 (≤ 11:30)
    assert np.isnan(apr[12:]).all()
    # a snapshot older than the last settlement, or past its period, fills nothing
    for stale in (T0 + 7 * H, T0 + 16 * H):
        assert np.isnan(sq.venue_hourly_apr(data, hours, sq.RunningRate(stale, 5.0))[8:]).all()


def coins(hours_h: list[int], values: list[float]) -> SeriesData:
    return SeriesData(T0 + np.asarray(hours_h) * H,
                      {"open_interest": np.asarray(values, dtype=float)})


def test_oi_change_sums_the_venues_known_at_both_instants():
    oi = {"a": coins([0, 1, 2, 3, 4], [100, 100, 90, 80, 70]),
          "b": coins([2, 3, 4], [50, 50, 40])}  # b starts at hour 2
    instants = T0 + np.array([2, 4]) * H
    change, total = sq.coin_oi_change_pct(instants, 2, oi)
    # at 2 h: only a is known at both 0 h and 2 h: 90 / 100 − 1
    # at 4 h: a and b at both 2 h and 4 h: (70 + 40) / (90 + 50) − 1
    np.testing.assert_allclose(change, [-10.0, (110 / 140 - 1) * 100])
    np.testing.assert_allclose(total, [140.0, 110.0])
    # a row older than two hours does not count: b's last row (4 h) at 7 h is stale
    change, _ = sq.coin_oi_change_pct(np.array([T0 + 7 * H]), 1, {"b": oi["b"]})
    assert np.isnan(change[0])


def liq(minutes: list[int], long_usd: list[float], short_usd: list[float]) -> SeriesData:
    return SeriesData(T0 + np.asarray(minutes) * 60_000,
                      {"long_usd": np.asarray(long_usd, dtype=float),
                       "short_usd": np.asarray(short_usd, dtype=float)})


def test_hourly_liquidations_sum_minutes_and_venues_within_their_span():
    hours = T0 + np.arange(5) * H
    buckets = {"x": liq([61, 62, 150], [10, 5, 0], [1, 2, 30]),
               "y": liq([65, 179], [100, 0], [0, 7])}
    long_usd, short_usd = sq.hourly_liquidations(hours, buckets)
    # hour 0 is before the first bucket (01:01): unknown; hour 1: 10 + 5 + 100 long, 1 + 2
    # short; hour 2: 30 + 7 short; hours 3–4 after the last bucket (02:59): unknown
    np.testing.assert_allclose(long_usd, [np.nan, 115, 0, np.nan, np.nan])
    np.testing.assert_allclose(short_usd, [np.nan, 3, 37, np.nan, np.nan])
    empty = sq.hourly_liquidations(hours, {})
    assert np.isnan(empty[0]).all() and np.isnan(empty[1]).all()


def test_elevation_is_the_window_mean_over_the_median_usual_hour():
    values = np.array([1.0, 3.0, 2.0, 100.0, 8.0, 10.0])
    ratio, usual = sq.elevation(values, 2, baseline_hours=3, min_baseline=2)
    # hour 3: window [2, 100] mean 51 over median of [1, 3] = 2 → 25.5
    # hour 4: window [100, 8] mean 54 over median of [1, 3, 2] = 2 → 27
    # hour 5: window [8, 10] mean 9 over median of [3, 2, 100] = 3 → 3
    np.testing.assert_allclose(ratio[3:], [25.5, 27.0, 3.0])
    np.testing.assert_allclose(usual[3:], [2.0, 2.0, 3.0])
    assert np.isnan(ratio[:3]).all()  # fewer than two baseline hours
    zeros = sq.elevation(np.array([0.0, 0.0, 0.0, 5.0, 0.0, 0.0]), 1, 3, 2)[0]
    assert zeros[3] == np.inf and zeros[4] == 0.0  # over a baseline of none
    assert np.isnan(sq.elevation(np.array([1.0, 1.0, np.nan, 1.0]), 2, 3, 1)[0][2:]).all()


def test_elevation_equals_the_hour_by_hour_definition_with_gaps_and_quiet_stretches():
    rng = np.random.default_rng(7)
    values = rng.lognormal(0, 1, 500)
    values[rng.random(500) < 0.3] = 0.0  # quiet hours: medians of 0 happen
    values[100:110] = np.nan  # a stretch unknown
    for window, baseline, least in ((1, 48, 5), (6, 100, 24), (24, 30, 30)):
        ratio, usual = sq.elevation(values, window, baseline, least)
        for i in range(len(values)):
            w = values[max(0, i - window + 1):i + 1]
            base = values[max(0, i - window + 1 - baseline):max(0, i - window + 1)]
            base = base[np.isfinite(base)]
            if i < window - 1 or not np.isfinite(w).all() or len(base) < least:
                assert np.isnan(ratio[i]) and np.isnan(usual[i]), (window, i)
                continue
            median = float(np.median(base))
            expected = w.mean() / median if median > 0 else (np.inf if w.mean() > 0 else 0.0)
            assert usual[i] == pytest.approx(median) and ratio[i] == pytest.approx(expected)


def test_classify_short_squeeze_long_flush_and_unknown():
    t = sq.SqueezeThresholds(window_hours=6, funding_apr_max=0.0, oi_change_max_pct=-0.5,
                             price_change_min_pct=1.5, liq_multiple=3.0)
    funding = np.array([-10.0, 5.0, -10.0, np.nan, -10.0, 5.0])
    oi = np.array([-1.0, -1.0, 0.0, -1.0, -1.0, -1.0])
    price = np.array([2.0, -2.0, 2.0, 2.0, 1.5, -2.0])
    short_ratio = np.array([4.0, 0.0, 4.0, 4.0, 4.0, 0.0])
    long_ratio = np.array([0.0, 4.0, 0.0, 0.0, 0.0, 3.0])
    regime = sq.classify(t, funding, oi, price, short_ratio, long_ratio)
    # squeeze; flush; OI not falling; funding unknown; price not above p (strict); long ratio
    # not above L (strict)
    np.testing.assert_array_equal(regime, [1.0, -1.0, 0.0, np.nan, 0.0, 0.0])
    assert "funding < +0 % APR" in t.describe() and "long flush: funding > -0" in t.describe()
    with pytest.raises(ValueError):
        sq.SqueezeThresholds(window_hours=5)


def test_regime_periods_are_runs_of_consecutive_bars():
    hours = T0 + np.array([0, 1, 2, 3, 5, 6, 7]) * H  # bar 4 is missing
    regime = np.array([1, 1, -1, np.nan, 1, 1, 0], dtype=float)
    assert sq.regime_periods(hours, regime) == [
        (T0, T0 + 2 * H, 1), (T0 + 2 * H, T0 + 3 * H, -1), (T0 + 5 * H, T0 + 7 * H, 1)]


def test_hourly_mean_and_venue_mean():
    hours = T0 + np.arange(3) * H
    data = SeriesData(T0 + np.array([0, 30, 61, 200]) * 60_000,
                      {"premium_pct": np.array([0.1, 0.3, -0.2, 9.0])})
    first = sq.hourly_mean(data, "premium_pct", hours)
    np.testing.assert_allclose(first, [0.2, -0.2, np.nan])
    second = np.array([0.4, np.nan, np.nan])
    np.testing.assert_allclose(sq.venue_mean([first, second], 3), [0.3, -0.2, np.nan])


# -- the analysis on a hand-made market -------------------------------------------------------
class Loader:
    def __init__(self, series: dict[str, SeriesData], snapshots: dict | None = None) -> None:
        self.series = series
        self.snapshots = snapshots or {}

    def read(self, series_id, start_ms=None, end_ms=None):
        return self.series.get(series_id, SeriesData.empty())

    def latest_snapshot(self, series_id, at_ms=None):
        return self.snapshots.get(series_id)

    def snapshot_times(self, series_id):
        return np.empty(0, dtype=np.int64)

    def snapshot_at(self, series_id, time_ms):
        return None


def market(n: int = 24 * 40, squeeze_at: int = 24 * 38) -> dict[str, SeriesData]:
    """Forty quiet days (flat price, positive funding, flat OI, steady small liquidations),
    then twelve hours of a short squeeze: price +1 % an hour, OI −1 % an hour, funding
    negative, short liquidations ten times the usual."""
    from models.ids import funding_id, liq_id, oi_id, price_id

    t = T0 + np.arange(n) * H
    steps = np.where((np.arange(n) > squeeze_at) & (np.arange(n) <= squeeze_at + 12), 1, 0)
    close = 50_000 * 1.01 ** np.cumsum(steps)
    oi = 1_000 * 0.99 ** np.cumsum(steps)
    rate = np.where(np.arange(n) >= squeeze_at - 24, -0.0002, 0.0001)
    minutes = T0 + np.arange(n * 60) * 60_000
    hour_of = np.arange(n * 60) // 60
    short = np.where(steps[hour_of] == 1, 1_000.0, 100.0) / 60
    return {
        price_id("btc", "1h"): SeriesData(t, {"close": close}),
        funding_id("bybit", "btc"): SeriesData(t + H, {"rate": rate, "interval_hours":
                                                       np.ones(n), "apr_pct": rate * 876_000}),
        oi_id("bybit", "btc"): SeriesData(t, {"open_interest": oi,
                                              "open_interest_usd": oi * close}),
        liq_id("bybit", "btc"): SeriesData(minutes, {"long_usd": np.full(n * 60, 100.0 / 60),
                                                     "short_usd": short}),
    }


def test_the_analysis_shades_the_squeeze_and_nothing_in_the_quiet_days(monkeypatch):
    from models import analyses
    from models.ids import liq_id

    monkeypatch.setattr(analyses, "liquidation_ids", lambda asset: (liq_id("bybit", asset),))
    result = analyses.analyse_squeeze(Loader(market()), "btc", window_hours=4)
    squeeze_at = 24 * 38
    shaded = np.flatnonzero(result.regime == 1)
    # bars squeeze_at + 1 … + 12 rise; with W = 4 the price change passes +1.5 % from the
    # second rising bar (1.01² − 1 = 2.01 %) and liquidations pass 3× their usual hour
    # (mean of 4 hours ≥ (2 × 1000 + 2 × 100) / 4 = 550 > 300) from the second as well; the
    # window keeps both for two bars after the last rise (+ 14: two rising bars of four)
    assert shaded.min() == squeeze_at + 2
    assert shaded.max() == squeeze_at + 14
    assert len(shaded) == 13
    assert len(result.periods) == 1 and result.periods[0][2] == sq.SHORT_SQUEEZE
    assert not (result.regime[:squeeze_at] == 1).any()
    assert not (result.regime == -1).any()
    # the inputs at one squeeze bar, by hand
    i = squeeze_at + 6
    assert result.price_change_pct[i] == pytest.approx((1.01 ** 4 - 1) * 100)
    assert result.oi_change_pct[i] == pytest.approx((0.99 ** 4 - 1) * 100)
    assert result.funding_apr_pct[i] == pytest.approx(-0.0002 * 876_000)
    assert result.short_usd[i] == pytest.approx(1_000.0)
    assert result.short_ratio[i] == pytest.approx(10.0)
    assert set(result.missing) <= {"dvol", "basis"}  # this market has no DVOL or basis


def test_missing_inputs_are_reasons_not_failures():
    from models import analyses

    result = analyses.analyse_squeeze(Loader({}), "btc")
    assert len(result.hours) == 0 and result.periods == ()
    assert set(result.missing) >= {"price", "funding", "oi", "liq", "dvol", "basis"}


# -- the demo: the 6 Feb 2026 rebound -------------------------------------------------------------
def demo_loader() -> Loader:
    """The bundled demo as the window reads it: its series, each snapshot id's newest snapshot,
    and the minute buckets of its stream-shaped liquidation events (`bucket_arrays`, what
    `Cache.add_liquidation_arrays` stores)."""
    from models.liquidations import bucket_arrays
    from services.demo import load_demo

    demo = load_demo()
    series = dict(demo.series)
    for series_id, events in demo.liquidations.items():
        series[series_id] = bucket_arrays(events["time"], events["side"] == 1, events["qty"],
                                          events["qty"] * events["price"])
    newest: dict = {}
    for snap in demo.snapshots:
        if snap.series_id not in newest or snap.time_ms > newest[snap.series_id].time_ms:
            newest[snap.series_id] = snap
    return Loader(series, newest)


def test_on_the_demo_6_feb_is_shaded_short_squeeze_and_the_quiet_month_before_is_not():
    """The demo's rebound (funding negative, OI falling, price up, short liquidations elevated,
    as `tools/build_demo.py` and the liquidation demo shape them) under the default
    thresholds."""
    from models.analyses import analyse_squeeze
    from models.derived import DERIVED

    loader = demo_loader()
    result = analyse_squeeze(loader, "btc")
    assert not result.missing
    day = 1_770_336_000_000  # 2026-02-06 00:00 UTC
    rebound = (result.hours >= day) & (result.hours < day + 24 * H)
    assert rebound.sum() == 24
    squeezed = result.regime[rebound] == sq.SHORT_SQUEEZE
    assert squeezed.sum() >= 18, squeezed  # most of the day: shorts closing into the rise
    assert (result.hours[rebound][squeezed] >= day + 9 * H).sum() >= 15  # the afternoon run
    # in every squeezed hour, each condition holds by the numbers shown
    i = np.flatnonzero(rebound)[squeezed]
    assert (result.funding_apr_pct[i] < 0).all() and (result.oi_change_pct[i] < -0.5).all()
    assert (result.price_change_pct[i] > 1.5).all() and (result.short_ratio[i] > 3).all()
    month = (result.hours >= day - 30 * 24 * H) & (result.hours < day - 24 * H)
    known = np.isfinite(result.regime[month])
    assert known.mean() > 0.9  # decided (every input present), not merely unknown
    assert not (result.regime[month] == sq.SHORT_SQUEEZE).any()
    assert all(start >= day for start, _end, kind in result.periods
               if kind == sq.SHORT_SQUEEZE)
    periods = DERIVED["regimeperiods.btc"].compute(loader)
    assert set(periods["regime"]) == {"short squeeze"}
    assert periods.index.min().strftime("%Y-%m-%d") == "2026-02-06"
