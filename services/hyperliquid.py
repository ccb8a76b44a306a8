"""Hyperliquid perpetuals: funding history and current funding, all by `POST /info`.

- FUNDING: `{"type": "fundingHistory", "coin": "BTC", "startTime": ms, "endTime": ms}` -> ascending
  rows `{coin, fundingRate, premium, time}`, at most 500 per answer, paged forward from the last
  time + 1. Funding settles every hour: interval_hours = 1. Times (a few ms past the hour) are
  floored to the hour.
- FUNDING_NOW: `{"type": "metaAndAssetCtxs"}` -> `[meta {universe: [{name}]}, [ctx ...]]`, the
  contexts aligned with the universe by index (funding, openInterest in coin, markPx, oraclePx).
  The answer has no timestamp: it is stamped with the local clock; the next settlement is the next
  top of the hour.
- An unknown coin: the history answer is empty (or an error), so an empty first page is checked
  against the universe and reported as UnknownSymbol.
Errors: a bad request body gets HTTP 422 (plain text) -> BadRequest; an `{"error": ...}` object
-> BadRequest.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import requests

from models.catalog import FUNDING, FUNDING_NOW, SeriesSpec
from models.series import MS_PER_HOUR, Snapshot
from services.config import Endpoints
from services.errors import BadPayload, BadRequest, UnknownSymbol
from services.http import HttpClient
from services.parsing import (
    MAX_PAGES,
    between,
    check_symbol,
    floor_hour,
    funding_frame,
    funding_now_frame,
    now_ms,
    require,
    to_float,
    to_int,
)

PAGE_ROWS = 500  # the cap on a time-ranged answer
INTERVAL_HOURS = 1.0


def parse_funding_history(rows: Any, venue: str = "hyperliquid") -> tuple[pd.DataFrame, int | None]:
    """One `fundingHistory` answer -> (FUNDING frame, newest raw time or None)."""
    require(isinstance(rows, list),
            f"fundingHistory: expected a list, got {type(rows).__name__}", venue)
    times: list[int] = []
    rates: list[float] = []
    for row in rows:
        require(isinstance(row, Mapping) and "time" in row and "fundingRate" in row,
                f"funding row without time/fundingRate: {str(row)[:80]}", venue)
        times.append(to_int(row["time"], "time", venue))
        rates.append(to_float(row["fundingRate"]))
    newest = max(times) if times else None
    return funding_frame(times, rates, INTERVAL_HOURS), newest


def parse_asset_ctx(payload: Any, coin: str, venue: str = "hyperliquid") -> Mapping[str, Any]:
    """The context of `coin` in a `metaAndAssetCtxs` answer (UnknownSymbol when not listed)."""
    require(isinstance(payload, list) and len(payload) == 2,
            "metaAndAssetCtxs: expected [meta, contexts]", venue)
    meta, ctxs = payload
    require(isinstance(meta, Mapping) and isinstance(meta.get("universe"), list),
            "metaAndAssetCtxs: meta has no universe list", venue)
    require(isinstance(ctxs, list), "metaAndAssetCtxs: contexts are not a list", venue)
    names = [u.get("name") if isinstance(u, Mapping) else None for u in meta["universe"]]
    if coin not in names:
        raise UnknownSymbol(f"{coin} is not a Hyperliquid perpetual", venue=venue)
    i = names.index(coin)
    require(i < len(ctxs) and isinstance(ctxs[i], Mapping),
            f"metaAndAssetCtxs: no context for {coin} (universe and contexts differ)", venue)
    return ctxs[i]


class HyperliquidClient(HttpClient):
    venue = "hyperliquid"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["hyperliquid"], **kwargs)

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        if isinstance(payload, Mapping) and "error" in payload:
            raise BadRequest(f"error: {str(payload['error'])[:120]}", venue=self.venue)

    def info(self, body: Mapping[str, Any]) -> Any:
        return self.post_json("/info", body)

    # -- history -------------------------------------------------------------------------------
    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        coin = check_symbol(symbol, self.venue)
        if spec.kind != FUNDING:
            raise BadRequest(f"{spec.kind} has no history on Hyperliquid", venue=self.venue)
        cursor = start_ms
        for page in range(MAX_PAGES):
            if cursor > end_ms:
                return
            rows = self.info({"type": "fundingHistory", "coin": coin, "startTime": cursor,
                              "endTime": end_ms})
            if rows is None:
                rows = []  # JSON null: nothing for this coin
            frame, newest = parse_funding_history(rows, self.venue)
            if page == 0 and not rows:
                # Empty from the very start: a quiet range, or a coin Hyperliquid does not list.
                parse_asset_ctx(self.info({"type": "metaAndAssetCtxs"}), coin, self.venue)
            frame = between(frame, start_ms, end_ms)
            if len(frame):
                yield frame
            if newest is None or len(rows) < PAGE_ROWS or newest < cursor:
                return
            cursor = newest + 1

    # -- snapshot ------------------------------------------------------------------------------
    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        coin = check_symbol(symbol, self.venue)
        if spec.kind != FUNDING_NOW:
            raise BadRequest(f"{spec.kind} is not a Hyperliquid snapshot", venue=self.venue)
        ctx = parse_asset_ctx(self.info({"type": "metaAndAssetCtxs"}), coin, self.venue)
        if "funding" not in ctx:
            raise BadPayload(f"asset context without funding: {str(ctx)[:80]}",
                             venue=self.venue)
        now = now_ms()
        mark = to_float(ctx.get("markPx"))
        oi = to_float(ctx.get("openInterest"))
        frame = funding_now_frame(
            rate=to_float(ctx["funding"]), interval_hours=INTERVAL_HOURS,
            next_funding_ms=float(floor_hour(now) + MS_PER_HOUR),
            mark_price=mark, index_price=to_float(ctx.get("oraclePx")),
            open_interest=oi,
            open_interest_usd=oi * mark if math.isfinite(oi) and math.isfinite(mark) else math.nan,
            venue=self.venue)
        return Snapshot(spec.id, now, frame, {"venue": self.venue, "symbol": coin})
