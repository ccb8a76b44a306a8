"""Reported liquidations: minute buckets per venue and asset (docs/streams.md).

Venue feeds are incomplete (Binance pushes at most one order per symbol per second), so every
total built here is a *reported* total. A bucket row is stamped at its minute's start and holds
the USD value and base-coin size liquidated on each side, and how many reports it summed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from models.ids import liq_id
from models.series import SeriesData
from models.stream_events import BANKRUPTCY, FILL, LONG, SHORT, TRADE, Liquidation

BUCKET_MS = 60_000
BUCKET_COLUMNS = ("long_usd", "short_usd", "long_qty", "short_qty", "count")


def bucket_start(time_ms: int) -> int:
    return time_ms - time_ms % BUCKET_MS


def bucket_rows(events: Iterable[Liquidation]) -> dict[str, SeriesData]:
    """The minute buckets of these events alone, one series per (venue, asset)."""
    groups: dict[tuple[str, str], list[Liquidation]] = {}
    for ev in events:
        if ev.side not in (LONG, SHORT):
            raise ValueError(f"liquidated side must be long or short, got {ev.side!r}")
        groups.setdefault((ev.venue, ev.asset), []).append(ev)
    out = {}
    for (venue, asset), group in groups.items():
        out[liq_id(venue, asset)] = bucket_arrays(
            np.array([e.time_ms for e in group], dtype=np.int64),
            np.array([e.side == LONG for e in group], dtype=bool),
            np.array([e.qty for e in group], dtype=float),
            np.array([e.usd for e in group], dtype=float))
    return out


def bucket_arrays(time_ms: np.ndarray, is_long: np.ndarray, qty: np.ndarray,
                  usd: np.ndarray) -> SeriesData:
    """The minute buckets of one venue's and asset's events given as arrays."""
    if not len(time_ms):
        return SeriesData.empty(BUCKET_COLUMNS)
    minutes, idx = np.unique(time_ms - time_ms % BUCKET_MS, return_inverse=True)
    columns = {}
    for name, values, mask in (("long_usd", usd, is_long), ("short_usd", usd, ~is_long),
                               ("long_qty", qty, is_long), ("short_qty", qty, ~is_long),
                               ("count", np.ones(len(time_ms)), np.ones(len(time_ms), bool))):
        col = np.zeros(len(minutes))
        np.add.at(col, idx[mask], values[mask])
        columns[name] = col
    return SeriesData.from_rows(minutes, **columns)


def add_buckets(base: SeriesData, more: SeriesData) -> SeriesData:
    """`base` with `more`'s rows added to it: sums where a minute is in both."""
    if not len(base):
        return more
    if not len(more):
        return base
    times = np.union1d(base.time, more.time)
    columns = {}
    for name in BUCKET_COLUMNS:
        col = np.zeros(len(times))
        for part in (base, more):
            idx = np.searchsorted(times, part.time)
            values = part[name] if name in part.names else np.zeros(len(part))
            np.add.at(col, idx, np.nan_to_num(values))
        columns[name] = col
    return SeriesData.from_rows(times, **columns)


# -- checks --------------------------------------------------------------------------------
def check_liquidation(ev: Liquidation) -> str:
    """Why an event cannot be stored ("" when it can): side, finite positive size and price."""
    if ev.side not in (LONG, SHORT):
        return f"side {ev.side!r}"
    if not all(math.isfinite(v) and v > 0 for v in (ev.qty, ev.price, ev.usd)):
        return "size, price and USD value must be finite and positive"
    if ev.time_ms <= 0:
        return "no time"
    return ""


# -- what each venue's feed covers (docs/streams.md §8) -------------------------------------
COVERAGE: dict[str, str] = {
    "binance": "Binance: latest order per symbol per second (documented); cascades undercounted",
    "bybit": "Bybit: all liquidations, batched every 500 ms (allLiquidation)",
    "okx": "OKX: 'not the total' by OKX's own words; REST backfills about the last day",
    "deribit": "Deribit: perpetual trades flagged as liquidations (no dedicated feed)",
    "hyperliquid": "Hyperliquid: no public liquidation feed",
}
#: the same, in a few words for a line under a chart (the full notes go in its tooltip)
COVERAGE_SHORT: dict[str, str] = {
    "binance": "≤1/s per symbol",
    "bybit": "all",
    "okx": "partial",
    "deribit": "flagged trades",
    "hyperliquid": "none",
}
REPORTED_NOTE = ("Reported liquidations: what each venue's public feed shows, not every "
                 "liquidation that happened.")


# What each venue's price of a liquidation is (docs/streams.md §8).
PRICE_KINDS_BY_VENUE = {"binance": FILL, "bybit": BANKRUPTCY, "okx": BANKRUPTCY,
                        "deribit": TRADE}


def price_kind_of(venue: str) -> str:
    return PRICE_KINDS_BY_VENUE.get(venue, BANKRUPTCY)


def coverage_note(venue: str) -> str:
    return COVERAGE.get(venue, f"{venue}: coverage unknown")


# -- totals per interval and bursts ---------------------------------------------------------
LIQ_INTERVALS_MS: dict[str, int] = {"5m": 300_000, "15m": 900_000, "1h": 3_600_000,
                                    "4h": 14_400_000, "1d": 86_400_000}
BURST_INTERVAL_MS = 3_600_000  # bursts are judged per hour, whatever the dock shows
BURST_THRESHOLDS_MUSD = (1, 2, 5, 10, 20, 50, 100)
DEFAULT_BURST_MUSD = 10


@dataclass(frozen=True)
class IntervalTotals:
    """Long and short USD per interval on one grid, per venue and summed over venues."""

    interval_ms: int
    times: np.ndarray  # interval starts, ms
    long_usd: dict[str, np.ndarray]  # venue -> USD per interval (0 where nothing was reported)
    short_usd: dict[str, np.ndarray]

    @property
    def total_long(self) -> np.ndarray:
        return _sum(self.long_usd.values(), len(self.times))

    @property
    def total_short(self) -> np.ndarray:
        return _sum(self.short_usd.values(), len(self.times))


def _sum(parts: Iterable[np.ndarray], n: int) -> np.ndarray:
    out = np.zeros(n)
    for part in parts:
        out += part
    return out


def interval_totals(buckets: Mapping[str, SeriesData], interval_ms: int) -> IntervalTotals:
    """Sum each venue's minute buckets into intervals stamped at their start (UTC-aligned),
    on one grid spanning every venue's rows; an interval with no report is 0."""
    present = {v: d for v, d in buckets.items() if len(d)}
    if not present:
        return IntervalTotals(interval_ms, np.empty(0, dtype=np.int64), {}, {})
    first = min(int(d.time[0]) for d in present.values())
    last = max(int(d.time[-1]) for d in present.values())
    start = first - first % interval_ms
    times = np.arange(start, last - last % interval_ms + interval_ms, interval_ms,
                      dtype=np.int64)
    longs, shorts = {}, {}
    for venue, data in present.items():
        idx = (data.time - start) // interval_ms
        for side, out in (("long_usd", longs), ("short_usd", shorts)):
            col = np.zeros(len(times))
            np.add.at(col, idx, np.nan_to_num(data[side]))
            out[venue] = col
    return IntervalTotals(interval_ms, times, longs, shorts)


@dataclass(frozen=True)
class Burst:
    """An interval whose reported liquidations on one side reached the threshold."""

    time_ms: int  # the interval's start
    side: str  # LONG or SHORT
    usd: float  # that side's total over every venue


def find_bursts(totals: IntervalTotals, threshold_usd: float) -> list[Burst]:
    """Every (interval, side) whose total over venues is at least `threshold_usd`, in time
    order, longs before shorts within an interval."""
    out = []
    longs, shorts = totals.total_long, totals.total_short
    for i in np.flatnonzero((longs >= threshold_usd) | (shorts >= threshold_usd)):
        t = int(totals.times[i])
        if longs[i] >= threshold_usd:
            out.append(Burst(t, LONG, float(longs[i])))
        if shorts[i] >= threshold_usd:
            out.append(Burst(t, SHORT, float(shorts[i])))
    return out
