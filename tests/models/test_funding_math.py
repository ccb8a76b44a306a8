"""Funding normalisation and the cross-venue average, checked against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from models.funding import (
    annualize_funding,
    average_funding,
    negative_periods,
    oi_change_pct,
    per_8h,
)
from models.series import SeriesData

H = 3_600_000


def funding(times_h, aprs, interval):
    t = np.asarray(times_h, dtype=np.int64) * H
    return SeriesData(t, {"rate": np.asarray(aprs) / (8760 / interval * 100),
                          "interval_hours": np.full(len(t), float(interval)),
                          "apr_pct": np.asarray(aprs, dtype=float)})


def test_apr_is_rate_times_periods_per_year():
    assert annualize_funding(0.0001, 8) == pytest.approx(10.95)  # 0.01 % × 3 × 365 × 100
    assert annualize_funding(0.0000125, 1) == pytest.approx(10.95)  # 8760 periods a year
    assert annualize_funding(0.0001, 4) == pytest.approx(21.9)  # a 4h Binance symbol
    assert per_8h(0.0000125, 1) == pytest.approx(0.0001)
    np.testing.assert_allclose(annualize_funding(np.array([0.0001, -0.0002]), np.array([8, 8])),
                               [10.95, -21.9])


def test_oi_weighted_average_by_hand():
    # binance 8h: +10 % from hour 0; bybit 8h: -20 % from hour 0; hyperliquid 1h: +40 % at
    # hours 0 and 1 only.
    series = {"binance": funding([0], [10.0], 8), "bybit": funding([0], [-20.0], 8),
              "hyperliquid": funding([0, 1], [40.0, 40.0], 1)}
    oi = {"binance": 3e9, "bybit": 1e9, "hyperliquid": 1e9}
    avg, note = average_funding(series, oi)
    assert note == "OI-weighted"
    # hours 0-1: (3×10 − 1×20 + 1×40) / 5 = 10; hours 2-7: (3×10 − 1×20) / 4 = 2.5
    assert list(avg.time // H) == list(range(8))
    np.testing.assert_allclose(avg["apr_pct"], [10.0, 10.0] + [2.5] * 6)


def test_missing_open_interest_falls_back_to_equal_weights_and_says_so():
    series = {"binance": funding([0], [10.0], 8), "okx": funding([0], [-20.0], 8)}
    avg, note = average_funding(series, {"binance": 5e9})
    assert note == "equal-weighted (OI missing for okx)"
    np.testing.assert_allclose(avg["apr_pct"], np.full(8, -5.0))


def test_a_stale_rate_is_not_carried_across_a_gap():
    series = {"binance": funding([0, 24], [10.0, 10.0], 8)}
    avg, _ = average_funding(series, None)
    assert list(avg.time // H) == list(range(8)) + list(range(24, 32))


def test_negative_periods_and_oi_change():
    avg = SeriesData(np.arange(6, dtype=np.int64) * H,
                     {"apr_pct": np.array([1.0, -1.0, -2.0, 3.0, -1.0, -1.0])})
    assert negative_periods(avg) == [(1 * H, 3 * H), (4 * H, 6 * H)]
    oi = SeriesData(np.arange(0, 49, dtype=np.int64) * H,
                    {"open_interest": np.linspace(100.0, 148.0, 49)})
    assert oi_change_pct(oi, 24) == pytest.approx((148.0 / 124.0 - 1) * 100)
    assert np.isnan(oi_change_pct(oi.between(40 * H), 24))
