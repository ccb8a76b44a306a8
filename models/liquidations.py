"""Reported liquidations: minute buckets per venue and asset (docs/streams.md).

Venue feeds are incomplete (Binance pushes at most one order per symbol per second), so every
total built here is a *reported* total. A bucket row is stamped at its minute's start and holds
the USD value and base-coin size liquidated on each side, and how many reports it summed.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from models.ids import liq_id
from models.series import SeriesData
from models.stream_events import LONG, SHORT, Liquidation

BUCKET_MS = 60_000
BUCKET_COLUMNS = ("long_usd", "short_usd", "long_qty", "short_qty", "count")


def bucket_start(time_ms: int) -> int:
    return time_ms - time_ms % BUCKET_MS


def bucket_rows(events: Iterable[Liquidation]) -> dict[str, SeriesData]:
    """The minute buckets of these events alone, one series per (venue, asset)."""
    sums: dict[str, dict[int, list[float]]] = {}
    for ev in events:
        if ev.side not in (LONG, SHORT):
            raise ValueError(f"liquidated side must be long or short, got {ev.side!r}")
        row = sums.setdefault(liq_id(ev.venue, ev.asset), {}).setdefault(
            bucket_start(ev.time_ms), [0.0, 0.0, 0.0, 0.0, 0.0])
        if ev.side == LONG:
            row[0] += ev.usd
            row[2] += ev.qty
        else:
            row[1] += ev.usd
            row[3] += ev.qty
        row[4] += 1
    out = {}
    for series_id, rows in sums.items():
        times = sorted(rows)
        table = np.array([rows[t] for t in times], dtype=float).reshape(-1, len(BUCKET_COLUMNS))
        out[series_id] = SeriesData.from_rows(
            times, **{name: table[:, i] for i, name in enumerate(BUCKET_COLUMNS)})
    return out


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
