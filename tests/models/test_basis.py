"""The basis conventions (models/basis.py), each against numbers worked out by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from models.basis import (
    annualised_pct,
    basis_pct,
    cme_basis,
    cme_expiry_day,
    cme_expiry_ms,
    cme_front_expiry_ms,
    days_to_expiry,
    easter_sunday,
    front_quarterly,
    is_quarterly_expiry,
    last_friday,
    premium_pct,
    term_structure,
)
from models.series import SeriesData

H = 3_600_000


def utc_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_premium_and_basis_in_percent():
    assert premium_pct(69_930.0, 70_000.0) == pytest.approx(-0.1)  # a perp at a discount
    assert math.isnan(premium_pct(1.0, 0.0))
    assert basis_pct(70_700.0, 70_000.0) == pytest.approx(1.0)
    assert np.isnan(basis_pct(70_700.0, np.nan))


def test_annualised_is_simple_actual_over_365():
    # 1 % with 36.5 days to go is 10 % a year; 0.5 % over 73 days is 2.5 %
    assert annualised_pct(1.0, 36.5) == pytest.approx(10.0)
    assert annualised_pct(0.5, 73.0) == pytest.approx(2.5)
    assert np.isnan(annualised_pct(1.0, 0.0))
    # 12:00 on 6 Feb to 08:00 on 27 Mar 2026: 48 days and 20 hours
    assert days_to_expiry(utc_ms(2026, 3, 27, 8), utc_ms(2026, 2, 6, 12)) \
        == pytest.approx(48 + 20 / 24)


def test_last_friday_and_quarterly_expiries():
    assert last_friday(2026, 3) == dt.date(2026, 3, 27)
    assert last_friday(2026, 2) == dt.date(2026, 2, 27)
    assert last_friday(2025, 12) == dt.date(2025, 12, 26)
    assert last_friday(2026, 7) == dt.date(2026, 7, 31)  # the 31st itself is a Friday
    assert is_quarterly_expiry(utc_ms(2026, 3, 27, 8))
    assert not is_quarterly_expiry(utc_ms(2026, 3, 20, 8))  # a weekly in March
    assert not is_quarterly_expiry(utc_ms(2026, 2, 27, 8))  # a monthly


def test_front_quarterly_rolls_a_week_before_expiry():
    listed = [utc_ms(2026, 2, 13, 8), utc_ms(2026, 2, 27, 8), utc_ms(2026, 3, 27, 8),
              utc_ms(2026, 6, 26, 8)]
    assert front_quarterly(listed, utc_ms(2026, 2, 6, 12)) == utc_ms(2026, 3, 27, 8)
    # 20 March 08:00 is exactly 7 days before: no longer "more than a week"
    assert front_quarterly(listed, utc_ms(2026, 3, 20, 7)) == utc_ms(2026, 3, 27, 8)
    assert front_quarterly(listed, utc_ms(2026, 3, 20, 8)) == utc_ms(2026, 6, 26, 8)
    assert front_quarterly(listed[:2], utc_ms(2026, 2, 6)) is None


def test_cme_expiry_last_friday_16_london_good_friday_moves_it_to_thursday():
    assert easter_sunday(2024) == dt.date(2024, 3, 31)
    assert easter_sunday(2026) == dt.date(2026, 4, 5)
    assert cme_expiry_day(2024, 3) == dt.date(2024, 3, 28)  # 29 March 2024 was Good Friday
    assert cme_expiry_day(2026, 2) == dt.date(2026, 2, 27)
    assert cme_expiry_ms(2026, 2) == utc_ms(2026, 2, 27, 16)  # GMT in winter
    assert cme_expiry_ms(2026, 6) == utc_ms(2026, 6, 26, 15)  # BST in summer


def test_cme_front_month_rolls_at_the_expiry_instant():
    feb = utc_ms(2026, 2, 27, 16)
    assert cme_front_expiry_ms(utc_ms(2026, 2, 6)) == feb
    assert cme_front_expiry_ms(feb - 1) == feb
    assert cme_front_expiry_ms(feb) == utc_ms(2026, 3, 27, 16)  # BST starts on 29 March 2026
    assert cme_front_expiry_ms(utc_ms(2026, 12, 31)) == cme_expiry_ms(2027, 1)


def test_cme_basis_pairs_same_hour_bars_and_annualises_to_the_bar_close():
    t0 = utc_ms(2026, 2, 6, 11)  # bar 11:00–12:00; its close is at 12:00
    cme = SeriesData.from_rows([t0, t0 + H], close=[70_560.0, 70_000.0])
    spot = SeriesData.from_rows([t0 - H, t0, t0 + H], close=[1.0, 70_000.0, 70_000.0])
    out = cme_basis(cme, spot)
    assert out.time.tolist() == [t0, t0 + H]
    days = (dt.datetime(2026, 2, 27, 16) - dt.datetime(2026, 2, 6, 12)).total_seconds() / 86400
    assert out["days_to_expiry"][0] == pytest.approx(days)  # 21 days 4 hours
    assert out["basis_pct"][0] == pytest.approx(0.8)
    assert out["apr_pct"][0] == pytest.approx(0.8 * 365 / days)
    assert out["apr_pct"][1] == 0.0
    # in the last day before expiry (27 Feb 16:00) the APR is left out, the basis kept
    last = utc_ms(2026, 2, 27, 3)
    out = cme_basis(SeriesData.from_rows([last], close=[70_070.0]),
                    SeriesData.from_rows([last], close=[70_000.0]))
    assert out["basis_pct"][0] == pytest.approx(0.1) and np.isnan(out["apr_pct"][0])


def test_term_structure_sorts_per_venue_and_drops_the_last_day():
    t = utc_ms(2026, 2, 6, 12)
    curve = term_structure(
        ["okx", "deribit", "deribit", "deribit"], ["o-jun", "d-jun", "d-mar", "d-today"],
        np.array([utc_ms(2026, 6, 26, 8), utc_ms(2026, 6, 26, 8), utc_ms(2026, 3, 27, 8),
                  utc_ms(2026, 2, 6, 20)]),
        np.array([71_000.0, 71_400.0, 70_700.0, 70_001.0]), np.full(4, 70_000.0), t)
    assert list(curve) == ["okx", "deribit"]
    assert curve["deribit"]["instrument"].tolist() == ["d-mar", "d-jun"]  # 8 hours left: out
    assert curve["deribit"]["apr_pct"][0] == pytest.approx(1.0 * 365 / (48 + 20 / 24))
    assert curve["deribit"]["basis_pct"][1] == pytest.approx(2.0)


class _Loader:
    """A DataLoader over a few hand-made series and one snapshot."""

    def __init__(self, series, snapshot=None):
        self.series, self.snapshot = series, snapshot

    def read(self, series_id, start_ms=None, end_ms=None):
        return self.series.get(series_id, SeriesData.empty())

    def latest_snapshot(self, series_id, at_ms=None):
        return self.snapshot if self.snapshot and self.snapshot.series_id == series_id else None


def test_analysis_and_export_of_the_term_structure_with_cme_at_the_curve_time():
    import pandas as pd

    from models.analyses import analyse_basis
    from models.derived import DERIVED
    from models.series import Snapshot

    t = utc_ms(2026, 2, 6, 12)
    frame = pd.DataFrame({"venue": ["okx", "okx"], "instrument": ["BTC-USD-260626",
                                                               "BTC-USD-260327"],
                          "expiry_ms": [utc_ms(2026, 6, 26, 8), utc_ms(2026, 3, 27, 8)],
                          "future_price": [71_400.0, 70_700.0], "index_price": [70_000.0] * 2,
                          "time_ms": [float(t)] * 2})
    hours = np.array([t - 2 * H, t - H, t + H], dtype=np.int64)  # the last is after the curve
    loader = _Loader({"cmebtc.1h": SeriesData.from_rows(hours, close=[70_560.0, 70_700.0, 1.0]),
                      "btc.1h": SeriesData.from_rows(hours, close=[70_000.0] * 3),
                      "premium.okx.btc": SeriesData.from_rows(
                          [t], mark=[69_930.0], index=[70_000.0], premium_pct=[-0.1])},
                     Snapshot("basiscurve.btc", t, frame))
    result = analyse_basis(loader, "btc")
    assert result.curve_time_ms == t and set(result.premium) == {"okx"}
    assert result.curve["okx"]["instrument"].tolist() == ["BTC-USD-260327", "BTC-USD-260626"]
    # CME: the 11:00 bar (the last at or before 12:00), 1 % over spot, 21 d 4 h to 27 Feb 16:00
    days = (dt.datetime(2026, 2, 27, 16) - dt.datetime(2026, 2, 6, 12)).total_seconds() / 86400
    assert result.curve["cme"]["apr_pct"][0] == pytest.approx(365 / days)
    assert result.curve["cme"]["expiry_ms"][0] == utc_ms(2026, 2, 27, 16)
    table = DERIVED["termstructure.btc"].compute(loader)
    assert table["venue"].tolist() == ["okx", "okx", "cme"]
    assert table["apr_pct"].tolist()[:2] == pytest.approx(
        [1.0 * 365 / (48 + 20 / 24), 2.0 * 365 / (139 + 20 / 24)])
    assert table["expiry_ms"].dtype == np.int64
