"""Reported liquidations per interval, bursts over a threshold, and their derived exports, each
checked against sums done by hand from the events."""

from __future__ import annotations

import numpy as np
import pytest

from models.analyses import analyse_liquidations
from models.derived import DERIVED
from models.ids import liq_id
from models.liquidations import (
    COVERAGE,
    LONG,
    SHORT,
    bucket_rows,
    find_bursts,
    interval_totals,
)
from models.series import SeriesData
from models.stream_events import BANKRUPTCY, Liquidation

T0 = 1_770_336_000_000  # 2026-02-06T00:00Z
H = 3_600_000
M = 60_000


def ev(t: int, venue: str, side: str, usd: float, asset: str = "btc") -> Liquidation:
    return Liquidation(t, venue, "X", asset, side, usd / 50_000.0, 50_000.0, usd, BANKRUPTCY)


EVENTS = [
    ev(T0 + 5 * M, "bybit", SHORT, 4e6), ev(T0 + 59 * M, "bybit", SHORT, 3e6),
    ev(T0 + 10 * M, "binance", SHORT, 4e6), ev(T0 + 20 * M, "binance", LONG, 1e6),
    ev(T0 + H + M, "okx", LONG, 12e6),  # the second hour: a long burst on one venue
    ev(T0 + 3 * H, "deribit", SHORT, 2e6),
]


class Loader:
    def __init__(self, series: dict[str, SeriesData]) -> None:
        self.series = series

    def read(self, series_id, start_ms=None, end_ms=None):
        return self.series.get(series_id, SeriesData.empty())


def buckets_by_venue(events):
    return {sid.split(".")[1]: data for sid, data in bucket_rows(events).items()}


def test_hourly_totals_per_venue_and_in_total():
    totals = interval_totals(buckets_by_venue(EVENTS), H)
    assert totals.times.tolist() == [T0, T0 + H, T0 + 2 * H, T0 + 3 * H]
    assert totals.short_usd["bybit"].tolist() == [7e6, 0, 0, 0]
    assert totals.long_usd["binance"].tolist() == [1e6, 0, 0, 0]
    assert totals.total_short.tolist() == [11e6, 0, 0, 2e6]
    assert totals.total_long.tolist() == [1e6, 12e6, 0, 0]


def test_daily_intervals_are_utc_aligned():
    late = [ev(T0 - 1, "bybit", LONG, 1e6), ev(T0, "bybit", LONG, 2e6)]
    totals = interval_totals(buckets_by_venue(late), 24 * H)
    assert totals.times.tolist() == [T0 - 24 * H, T0]
    assert totals.total_long.tolist() == [1e6, 2e6]


def test_bursts_over_the_threshold_on_each_side():
    totals = interval_totals(buckets_by_venue(EVENTS), H)
    bursts = find_bursts(totals, 10e6)
    assert [(b.time_ms, b.side, b.usd) for b in bursts] == [(T0, SHORT, 11e6),
                                                            (T0 + H, LONG, 12e6)]
    assert find_bursts(totals, 12_000_001) == []


def test_analysis_reads_every_venue_and_reports_coverage():
    loader = Loader({liq_id(v, "btc"): d for v, d in buckets_by_venue(EVENTS).items()})
    result = analyse_liquidations(loader, "btc", "15m", 10)
    assert result.totals.interval_ms == 15 * M
    assert result.totals.total_short.sum() == pytest.approx(13e6)
    # bursts are judged per hour whatever interval is shown
    assert [(b.time_ms, b.side) for b in result.bursts] == [(T0, SHORT), (T0 + H, LONG)]
    assert set(result.coverage) == {"binance", "bybit", "okx", "deribit"}
    assert "per symbol per second" in result.coverage["binance"]
    assert "hyperliquid" in COVERAGE and result.as_of_ms == T0 + 3 * H
    with pytest.raises(ValueError):
        analyse_liquidations(loader, "btc", "2m")


def test_derived_exports_are_labelled_reported_and_match_hand_sums():
    loader = Loader({liq_id(v, "btc"): d for v, d in buckets_by_venue(EVENTS).items()})
    spec = DERIVED["liqtotals.btc"]
    assert "reported" in spec.label
    frame = spec.compute(loader)
    assert frame["total_short_usd"].tolist() == [11e6, 0, 0, 2e6]
    assert frame["okx_long_usd"].tolist() == [0, 12e6, 0, 0]
    assert str(frame.index[0]) == "2026-02-06 00:00:00+00:00"
    bursts = DERIVED["liqbursts.btc"].compute(loader)
    assert bursts["side"].tolist() == [SHORT, LONG]
    assert np.allclose(bursts["usd"], [11e6, 12e6])
    assert "reported" in DERIVED["liqbursts.btc"].label
    assert DERIVED["liqtotals.btc"].inputs == tuple(
        liq_id(v, "btc") for v in ("binance", "bybit", "okx", "deribit"))
    assert not DERIVED["liqtotals.eth"].compute(Loader({})).shape[0]
