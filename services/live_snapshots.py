"""The funding "now" snapshots from a stream's ticks (docs/streams.md, "The window").

A `TickUpdate` carries a venue's latest perpetual values (mark, index, funding rate …) under the
names of `models.stream_events.TICK_FIELDS`; the funding dock reads the same one-row FUNDING_NOW
frame the REST clients build (`services.parsing.funding_now_frame`). A tick may carry only some
fields (OKX sends funding and mark on separate channels; no venue streams everything the REST
snapshot has), so the fields a tick lacks keep the values of the snapshot it replaces. Runs on a
worker: it builds pandas frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from models.catalog import FUNDING_NOW, find_spec
from models.ids import funding_now_id
from models.series import Snapshot
from models.stream_events import TickUpdate
from services.parsing import FUNDING_NOW_COLUMNS, funding_now_frame

#: TICK_FIELDS name -> FUNDING_NOW column
TICK_TO_COLUMN = {"funding_rate": "rate", "funding_interval_hours": "interval_hours",
                  "next_funding_ms": "next_funding_ms", "mark": "mark_price",
                  "index": "index_price", "open_interest": "open_interest",
                  "open_interest_usd": "open_interest_usd"}


def _previous_row(snap: Snapshot | None) -> dict[str, float]:
    if snap is None or snap.frame.empty:
        return {}
    row = snap.frame.iloc[0]
    out = {}
    for name in FUNDING_NOW_COLUMNS:
        try:
            out[name] = float(row.get(name))
        except (TypeError, ValueError):
            continue
    return out


def funding_now_from_tick(tick: TickUpdate, previous: Snapshot | None) -> Snapshot | None:
    """The FUNDING_NOW snapshot `tick` makes of `previous` (None: the venue/asset has no such
    series, or neither carries a funding rate yet)."""
    series_id = funding_now_id(tick.venue, tick.asset)
    spec = find_spec(series_id)
    if spec is None or spec.kind != FUNDING_NOW:
        return None
    row = _previous_row(previous)
    for field, column in TICK_TO_COLUMN.items():
        value = tick.values.get(field)
        if value is not None and math.isfinite(float(value)):
            row[column] = float(value)
    if "open_interest" in tick.values and "open_interest_usd" not in tick.values:
        row.pop("open_interest_usd", None)  # recomputed from the new coin amount and mark
    rate = row.get("rate", math.nan)
    interval = row.get("interval_hours", math.nan)
    if not (math.isfinite(rate) and math.isfinite(interval) and interval > 0):
        return None
    frame = funding_now_frame(
        rate=rate, interval_hours=interval,
        next_funding_ms=row.get("next_funding_ms", math.nan),
        mark_price=row.get("mark_price", math.nan), index_price=row.get("index_price", math.nan),
        open_interest=row.get("open_interest", math.nan),
        open_interest_usd=row.get("open_interest_usd", math.nan), venue=tick.venue)
    meta: dict[str, object] = {**(previous.meta if previous is not None else {}),
                               "venue": tick.venue, "from": "stream"}
    return Snapshot(series_id, tick.time_ms, frame, meta)


def funding_now_snapshots(ticks: Mapping[tuple[str, str], TickUpdate],
                          previous: Mapping[str, Snapshot]) -> dict[str, Snapshot]:
    """Every FUNDING_NOW snapshot the ticks update, by series id."""
    out = {}
    for tick in ticks.values():
        series_id = funding_now_id(tick.venue, tick.asset)
        snap = funding_now_from_tick(tick, previous.get(series_id))
        if snap is not None:
            out[series_id] = snap
    return out
