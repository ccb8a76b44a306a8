"""Coinbase Exchange candles, the first fallback for BTC and ETH when Binance is unreachable.

`GET /products/{id}/candles?granularity=&start=&end=` answers at most 300 candles, newest first,
as `[time_s, low, high, open, close, volume]` (low before high). An unknown product answers
`{"message": "NotFound"}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import requests

from models.catalog import SeriesSpec
from models.series import Snapshot
from services.config import Endpoints
from services.errors import BadRequest, RateLimited, UnknownSymbol
from services.http import HttpClient
from services.parsing import make_frame, require, to_float, to_int, valid_candles

GRANULARITY_S = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}  # no 4h, no week
MAX_CANDLES = 300


def parse_candles(rows: Any, venue: str = "coinbase") -> pd.DataFrame:
    require(isinstance(rows, list), f"candles: expected a list, got {type(rows).__name__}", venue)
    times, cols = [], {"open": [], "high": [], "low": [], "close": [], "volume": []}
    for row in rows:
        require(isinstance(row, list) and len(row) >= 6, "candle row needs 6 fields", venue)
        times.append(to_int(row[0], "time", venue) * 1000)
        cols["low"].append(to_float(row[1]))
        cols["high"].append(to_float(row[2]))
        cols["open"].append(to_float(row[3]))
        cols["close"].append(to_float(row[4]))
        cols["volume"].append(to_float(row[5]))
    return valid_candles(make_frame(times, cols))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CoinbaseClient(HttpClient):
    venue = "coinbase"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["coinbase"], **kwargs)

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        if not isinstance(payload, dict) or "message" not in payload:
            return
        message = str(payload["message"])
        if "notfound" in message.replace(" ", "").lower():
            raise UnknownSymbol(f"unknown product ({message})", venue=self.venue)
        if status == 429:
            raise RateLimited(f"rate limited ({message})", venue=self.venue, retry_after=5.0)
        if status < 500:
            raise BadRequest(message, venue=self.venue)

    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        step_s = GRANULARITY_S[spec.interval]
        window_ms = step_s * 1000 * (MAX_CANDLES - 1)
        hi = end_ms
        while hi >= start_ms:  # newest window first: the recent bars matter most
            lo = max(start_ms, hi - window_ms)
            rows = self.get_json(f"/products/{symbol}/candles", {
                "granularity": step_s, "start": _iso(lo), "end": _iso(hi)})
            yield parse_candles(rows, self.venue)
            hi = lo - 1

    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        raise BadRequest(f"{spec.kind} is not served by Coinbase", venue=self.venue)
