"""Funding normalisation and the cross-venue average, checked against hand computations.

Convention under test (models/funding.py): a settlement stamped t covers [t − interval, t);
hour h of a grid is [h, h + 1h).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.funding import (
    OI_STALE_MS,
    annualize_funding,
    average_funding,
    fill_oi_usd,
    funding_grid,
    funding_weights,
    negative_periods,
    oi_change_pct,
    oi_from_snapshots,
    per_8h,
)
from models.series import SeriesData, Snapshot

H = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def funding(stamps_h, aprs, interval):
    """Settlements stamped at T0 + stamps_h hours with the given APRs."""
    t = T0 + np.asarray(stamps_h, dtype=np.int64) * H
    aprs = np.broadcast_to(np.asarray(aprs, dtype=float), t.shape)
    return SeriesData(t, {"rate": aprs / (8760 / interval * 100),
                          "interval_hours": np.full(len(t), float(interval)),
                          "apr_pct": aprs})


def oi_usd(hours_h, usd):
    t = T0 + np.asarray(hours_h, dtype=np.int64) * H
    usd = np.broadcast_to(np.asarray(usd, dtype=float), t.shape)
    return SeriesData(t, {"open_interest": usd / 50_000.0, "open_interest_usd": usd})


def hours_of(avg):
    return ((avg.time - T0) // H).tolist()


def test_apr_is_rate_times_periods_per_year():
    assert annualize_funding(0.0001, 8) == pytest.approx(10.95)  # 0.01 % × 3 × 365 × 100
    assert annualize_funding(0.0000125, 1) == pytest.approx(10.95)  # 8760 periods a year
    assert annualize_funding(0.0001, 4) == pytest.approx(21.9)  # a 4h Binance symbol
    assert per_8h(0.0000125, 1) == pytest.approx(0.0001)
    np.testing.assert_allclose(annualize_funding(np.array([0.0001, -0.0002]), np.array([8, 8])),
                               [10.95, -21.9])


# -- item 1: a rate stamped t belongs to [t − interval, t) -------------------------------------
def issue_example():
    """An 8h venue and an hourly venue, both −10.95 % over 00:00–08:00 and +10.95 % otherwise."""
    stamps_8h = [-16, -8, 0, 8, 16, 24]
    eight = funding(stamps_8h, [-10.95 if s == 8 else 10.95 for s in stamps_8h], 8)
    stamps_1h = list(range(-7, 25))
    hourly = funding(stamps_1h, [-10.95 if 1 <= s <= 8 else 10.95 for s in stamps_1h], 1)
    return {"binance": eight, "hyperliquid": hourly}


def test_average_puts_each_rate_on_the_period_it_paid_for():
    avg, note = average_funding(issue_example())
    assert note == "equal-weighted (no OI)"
    # Binance's first row (stamped −16h) covers [−24h, −16h); the last rows (24h) cover [23h, 24h).
    assert hours_of(avg) == list(range(-24, 24))
    by_hour = dict(zip(hours_of(avg), avg["apr_pct"].tolist(), strict=True))
    # The old code (rate held over [t, t + interval)) read 0 at 01:00–07:00, −10.95 only at 08:00.
    for h in range(0, 8):
        assert by_hour[h] == pytest.approx(-10.95), h
    for h in [*range(-24, 0), *range(8, 24)]:
        assert by_hour[h] == pytest.approx(10.95), h
    assert negative_periods(avg) == [(T0, T0 + 8 * H)]  # was [(08:00, 09:00)]


def test_heatmap_grid_puts_each_rate_on_the_period_it_paid_for():
    hours, grid, venues = funding_grid(issue_example(), T0 - 8 * H, T0 + 30 * H)
    assert venues == ["binance", "hyperliquid"]
    assert ((hours - T0) // H).tolist() == list(range(-8, 30))  # end exclusive
    for row in grid:
        np.testing.assert_allclose(row[8:16], -10.95)  # 00:00 … 07:00
        np.testing.assert_allclose(row[:8], 10.95)
        np.testing.assert_allclose(row[16:32], 10.95)  # 08:00 … 23:00
        # 24:00 onwards is the period now running: not settled, so not filled with the last rate.
        assert np.isnan(row[32:]).all()


def test_the_average_ends_where_the_slowest_venue_still_settling_has_settled():
    # 8h venue settled at 16:00, hourly venue at 23:00: 16:00-23:00 is the 8h venue's period
    # now running, so the average stops at 16:00 instead of being the hourly venue alone.
    series = {"binance": funding([8, 16], [10.0, 10.0], 8),
              "hyperliquid": funding(range(1, 24), [-30.0], 1)}
    avg, _ = average_funding(series)
    assert hours_of(avg) == list(range(16))
    np.testing.assert_allclose(avg["apr_pct"], -10.0)
    # A venue whose history stopped a whole interval ago does not hold the others back.
    series["okx"] = funding([0], [50.0], 8)
    avg, _ = average_funding(series)
    assert hours_of(avg) == list(range(-8, 16))
    np.testing.assert_allclose(avg["apr_pct"], [50.0] * 8 + [-10.0] * 16)


def test_a_stale_rate_is_not_carried_across_a_gap():
    avg, _ = average_funding({"binance": funding([8, 32], [10.0, 10.0], 8)})
    assert hours_of(avg) == list(range(0, 8)) + list(range(24, 32))


def test_a_row_with_a_changed_interval_covers_only_its_own_period():
    # 8h settlements then 4h ones: the 4h row at 20:00 covers [16:00, 20:00) only.
    data = SeriesData(T0 + np.array([8, 16, 20, 24]) * H,
                      {"rate": np.array([1e-4, 1e-4, 2e-4, 3e-4]),
                       "interval_hours": np.array([8.0, 8.0, 4.0, 4.0]),
                       "apr_pct": np.array([1.0, 2.0, 3.0, 4.0])})
    _, grid, _ = funding_grid({"okx": data}, T0, T0 + 24 * H)
    assert grid[0].tolist() == [1.0] * 8 + [2.0] * 8 + [3.0] * 4 + [4.0] * 4


# -- item 2: OI weights at each hour -----------------------------------------------------------
def four_venues():
    return {"binance": funding([8], [10.0], 8), "bybit": funding([8], [-20.0], 8),
            "okx": funding([8], [30.0], 8), "hyperliquid": funding(range(1, 9), [40.0], 1)}


def test_oi_weighted_average_by_hand_with_time_varying_oi():
    oi = {"binance": oi_usd([0, 4], [3e9, 1e9]),  # 3 bn until 04:00, then 1 bn
          "bybit": oi_usd([-1], [1e9]),  # held from 23:00 the day before
          "hyperliquid": oi_usd([2, 3, 4, 5, 6, 7], [2e9]),  # known from 02:00
          "okx": None}  # no OI at all: out of the weights, the others renormalise
    avg, note = average_funding(four_venues(), oi)
    assert note == "OI-weighted (Binance, Bybit, Hyperliquid); no OI: OKX"
    assert hours_of(avg) == list(range(8))
    # 00-01: (3×10 + 1×(−20)) / 4 = 2.5
    # 02-03: (3×10 + 1×(−20) + 2×40) / 6 = 15
    # 04-07: (1×10 + 1×(−20) + 2×40) / 4 = 17.5
    np.testing.assert_allclose(avg["apr_pct"], [2.5, 2.5, 15.0, 15.0] + [17.5] * 4)
    w = funding_weights(four_venues(), oi)
    assert w.venues == ["binance", "bybit", "okx", "hyperliquid"]
    np.testing.assert_allclose(w.weights[:, 0], [0.75, 0.25, 0.0, 0.0])
    np.testing.assert_allclose(w.weights[:, 2], [0.5, 1 / 6, 0.0, 1 / 3])
    np.testing.assert_allclose(w.weights[:, 7], [0.25, 0.25, 0.0, 0.5])
    assert w.oi_weighted.all()


def test_missing_oi_for_one_venue_does_not_switch_to_equal_weights():
    series = {"binance": funding([8], [10.0], 8), "okx": funding([8], [-20.0], 8)}
    avg, note = average_funding(series, {"binance": oi_usd([0], [5e9])})
    assert note == "OI-weighted (Binance); no OI: OKX"
    np.testing.assert_allclose(avg["apr_pct"], np.full(8, 10.0))  # the old code: −5 (equal)


def test_stale_oi_stops_weighting_after_the_limit():
    assert OI_STALE_MS == 48 * H
    series = {"binance": funding([8], [10.0], 8), "bybit": funding([8], [-20.0], 8)}
    oi = {"binance": oi_usd([0], [1e9]), "bybit": oi_usd([-47], [3e9])}
    avg, _ = average_funding(series, oi)
    # bybit's reading is 47 h old at 00:00 and 48 h at 01:00 (kept), 49 h at 02:00 (dropped).
    np.testing.assert_allclose(avg["apr_pct"], [(10 - 60) / 4] * 2 + [10.0] * 6)


def test_no_oi_anywhere_is_equal_weighted_and_said():
    series = {"binance": funding([8], [10.0], 8), "bybit": funding([8], [-20.0], 8)}
    for oi in (None, {}, {"binance": SeriesData.empty(["open_interest_usd"])}):
        avg, note = average_funding(series, oi)
        assert note == "equal-weighted (no OI)"
        np.testing.assert_allclose(avg["apr_pct"], np.full(8, -5.0))


def test_hours_before_any_oi_are_equal_weighted_and_the_note_says_from_when():
    series = {"binance": funding([8, 16], [10.0, 10.0], 8),
              "bybit": funding([8, 16], [-20.0, -20.0], 8)}
    oi = {"binance": oi_usd([8], [3e9]), "bybit": oi_usd([8], [1e9])}
    avg, note = average_funding(series, oi)
    assert note == ("OI-weighted (Binance, Bybit); equal-weighted before 2026-01-01 08:00 UTC "
                    "(no OI then)")
    np.testing.assert_allclose(avg["apr_pct"], [-5.0] * 8 + [2.5] * 8)


def test_oi_in_usd_from_coins_and_price_and_from_snapshots():
    coins = SeriesData(T0 + np.array([0, 1, 2]) * H,
                       {"open_interest": np.array([10.0, 20.0, 30.0]),
                        "open_interest_usd": np.array([np.nan, 1e6, np.nan])})
    price = SeriesData(T0 + np.array([-1, 1]) * H, {"close": np.array([50_000.0, 60_000.0])})
    filled = fill_oi_usd(coins, price)
    np.testing.assert_allclose(filled["open_interest_usd"], [500_000.0, 1e6, 1_800_000.0])

    def snap(h, row):
        return Snapshot("fundingnow.okx.btc", T0 + h * H, pd.DataFrame([row]))

    got = oi_from_snapshots([
        snap(5, {"open_interest": 2.0, "open_interest_usd": np.nan, "mark_price": 70_000.0}),
        snap(3, {"open_interest": 1.0, "open_interest_usd": 65_000.0, "mark_price": 60_000.0})])
    assert hours_of(got) == [3, 5]
    np.testing.assert_allclose(got["open_interest_usd"], [65_000.0, 140_000.0])


def test_negative_periods_and_oi_change():
    avg = SeriesData(np.arange(6, dtype=np.int64) * H,
                     {"apr_pct": np.array([1.0, -1.0, -2.0, 3.0, -1.0, -1.0])})
    assert negative_periods(avg) == [(1 * H, 3 * H), (4 * H, 6 * H)]
    oi = SeriesData(np.arange(0, 49, dtype=np.int64) * H,
                    {"open_interest": np.linspace(100.0, 148.0, 49)})
    assert oi_change_pct(oi, 24) == pytest.approx((148.0 / 124.0 - 1) * 100)
    assert np.isnan(oi_change_pct(oi.between(40 * H), 24))


def test_settlement_steps_hold_each_rate_over_the_period_it_paid_for():
    from models.funding import settlement_steps

    h = 3_600_000
    # 8h settlements at 08:00 and 16:00, then one at 08:00 next day (a 8h hole before it)
    t = np.array([8, 16, 32], dtype=np.int64) * h
    data = SeriesData(t, {"apr_pct": np.array([1.0, -2.0, 3.0]),
                          "interval_hours": np.full(3, 8.0), "rate": np.zeros(3)})
    x, y = settlement_steps(data)
    assert list(x // h) == [0, 8, 8, 16, 16, 24, 32]
    assert list(y[:4]) == [1.0, 1.0, -2.0, -2.0] and np.isnan(y[4]) and list(y[5:]) == [3.0, 3.0]


def test_a_now_row_with_null_fields_blanks_those_cells_only():
    # A venue's ticker without OI or mark (stored as null) once failed the whole funding
    # analysis (float(None)); now those cells are NaN and every other venue's row stands.
    from models.analyses import analyse_funding
    from models.ids import funding_now_id

    rows = {
        funding_now_id("binance", "btc"): {"rate": 0.0001, "interval_hours": 8.0,
                                           "apr_pct": 10.95, "next_funding_ms": T0 + 8 * H,
                                           "mark_price": None, "open_interest_usd": None,
                                           "open_interest": None},
        funding_now_id("okx", "btc"): {"rate": -0.0002, "interval_hours": 8.0,
                                       "apr_pct": -21.9, "next_funding_ms": T0 + 8 * H,
                                       "mark_price": 70_000.0, "open_interest_usd": np.nan,
                                       "open_interest": 3.0, "extra": "text"},
        funding_now_id("bybit", "btc"): {"rate": "n/a", "interval_hours": 8.0},
    }

    class Loader:
        def read(self, series_id, start_ms=None, end_ms=None):
            return SeriesData.empty()

        def latest_snapshot(self, series_id, at_ms=None):
            row = rows.get(series_id)
            return None if row is None else Snapshot(series_id, T0, pd.DataFrame([row]))

    now = analyse_funding(Loader(), "btc").now
    assert now["binance"]["apr_pct"] == pytest.approx(10.95)
    assert np.isnan(now["binance"]["mark_price"]) and np.isnan(now["binance"]["open_interest_usd"])
    assert now["okx"]["open_interest_usd"] == pytest.approx(3.0 * 70_000.0)  # coins × mark
    assert now["okx"]["rate_8h"] == pytest.approx(-0.0002)
    assert np.isnan(now["bybit"]["rate"]) and np.isnan(now["bybit"]["apr_pct"])
