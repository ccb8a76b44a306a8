"""Binance spot klines (`GET /api/v3/klines`), paged forward 1000 rows at a time.

Errors come as `{"code": -1121, "msg": "Invalid symbol."}`; US addresses get HTTP 451 (a region
block, not worth retrying: the refresh falls back to Coinbase or Kraken). Rows are ascending; the
last one is the bar still forming.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import requests

from models.catalog import SeriesSpec
from models.series import Snapshot
from services.config import Endpoints
from services.errors import BadPayload, BadRequest, GeoBlocked, RateLimited, UnknownSymbol
from services.http import HttpClient
from services.parsing import make_frame, require, to_float, to_int, valid_candles

KLINE_INTERVALS = {"1m": "1m", "5m": "5m", "1h": "1h", "4h": "4h", "1d": "1d"}
PAGE_LIMIT = 1000


def parse_klines(rows: Any, venue: str = "binance") -> pd.DataFrame:
    """One page of `/api/v3/klines` rows -> candles frame (strings to float, bad rows dropped)."""
    require(isinstance(rows, list), f"klines: expected a list, got {type(rows).__name__}", venue)
    times, cols = [], {"open": [], "high": [], "low": [], "close": [], "volume": []}
    for row in rows:
        require(isinstance(row, list) and len(row) >= 6,
                f"kline row has {len(row) if isinstance(row, list) else 'no'} fields, need 6",
                venue)
        times.append(to_int(row[0], "openTime", venue))
        for i, name in enumerate(("open", "high", "low", "close", "volume"), start=1):
            cols[name].append(to_float(row[i]))
    return valid_candles(make_frame(times, cols))


class BinanceClient(HttpClient):
    venue = "binance"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["binance"], **kwargs)

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        if not (isinstance(payload, dict) and "code" in payload and "msg" in payload):
            return
        code, msg = payload.get("code"), str(payload.get("msg"))
        if status == 451 or "restricted location" in msg:
            raise GeoBlocked("not available from your region (HTTP 451)", venue=self.venue)
        if code == -1121:
            raise UnknownSymbol(f"unknown symbol ({msg})", venue=self.venue)
        if code == -1003 or status in (418, 429):
            raise RateLimited(f"rate limited ({msg})", venue=self.venue, retry_after=60.0)
        if status >= 500 or status == 200:
            raise BadPayload(f"error {code}: {msg}", venue=self.venue)
        raise BadRequest(f"error {code}: {msg}", venue=self.venue)

    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        interval = KLINE_INTERVALS[spec.interval]
        cursor = start_ms
        while cursor <= end_ms:
            rows = self.get_json("/api/v3/klines", {
                "symbol": symbol, "interval": interval, "startTime": cursor,
                "endTime": end_ms, "limit": PAGE_LIMIT})
            frame = parse_klines(rows, self.venue)
            if len(rows) == 0:
                return
            yield frame
            last_open = to_int(rows[-1][0])
            if len(rows) < PAGE_LIMIT or last_open < cursor:
                return
            cursor = last_open + 1

    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        raise BadRequest(f"{spec.kind} is not served by Binance spot", venue=self.venue)
