"""Which stored series a stream's reconnect may have left a hole in, for the REST gap-fill.

A `Gap` names the connection's venue key (`VenueStream.venue`): Binance spot ("binance") carries
the price bars; the perpetual venues ("binance_futures", "bybit", "okx", "deribit",
"hyperliquid") carry funding, open interest and liquidations. Only series REST can fill are
named: a stream-only series (`extra={"rest_history": False}`, e.g. most liquidation feeds and
the premium) has no history to fetch, so its hole stays (docs/streams.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from models.catalog import CANDLES, CATALOG, FUNDING, LIQUIDATIONS, OPEN_INTEREST
from models.ids import parse_series_id
from models.stream_events import Gap
from services.streams.binance import SPOT_INTERVALS

_SPOT_KINDS = frozenset({CANDLES})
_PERP_KINDS = frozenset({FUNDING, OPEN_INTEREST, LIQUIDATIONS})


def gap_series_ids(gap: Gap, assets: Iterable[str]) -> list[str]:
    """The catalog ids of `assets` that `gap.venue`'s stream feeds and REST can backfill, in
    catalog order."""
    wanted = set(assets)
    kinds = _SPOT_KINDS if gap.venue == "binance" else _PERP_KINDS
    out = []
    for spec in CATALOG.values():
        if spec.source != gap.venue or spec.kind not in kinds or spec.is_snapshot:
            continue
        if spec.extra.get("rest_history") is False:
            continue
        if spec.kind == CANDLES and spec.interval not in SPOT_INTERVALS:
            continue  # the stream carries these bars only: 1m … 1w follow their REST poll
        if parse_series_id(spec.id).asset in wanted:
            out.append(spec.id)
    return out
