"""Binance spot klines (`GET /api/v3/klines`), paged forward 1000 rows at a time.

Errors come as `{"code": -1121, "msg": "Invalid symbol."}`; US addresses get HTTP 451 (a region
block, not worth retrying: the refresh falls back to Coinbase or Kraken). Rows are ascending; the
last one is the bar still forming.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import requests

from models.catalog import SeriesSpec
from models.series import Snapshot
from services.config import Endpoints
from services.errors import BadPayload, BadRequest, GeoBlocked, RateLimited, UnknownSymbol
from services.http import HttpClient
from services.parsing import candles_frame, make_frame, require, to_float, to_int, valid_candles

# Binance spells its intervals as Rotor does; its weeks open Monday 00:00 UTC like ours.
KLINE_INTERVALS = {i: i for i in ("1m", "5m", "15m", "1h", "4h", "1d", "1w")}
PAGE_LIMIT = 1000
# The documented row: openTime, open, high, low, close, volume, closeTime, quoteVolume, trades,
# takerBase, takerQuote, ignore.
_ROW_TYPES = (int, str, str, str, str, str, int, str, int, str, str, str)


class KlineColumns(NamedTuple):
    """A klines page already in columns: openTime (int64) and open..volume as (n, 5) float64."""

    time: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.time)


def klines_columns(content: bytes) -> KlineColumns | None:
    """A compact klines body as columns, or None when it is not exactly the documented shape.

    `json.loads` of a 1000-row page builds 1001 lists; the cyclic GC promotes the ones alive
    when a young collection runs, and every ~130 pages that promotion triggers a full
    collection of the whole process (30-80 ms holding the GIL: a GUI stall). Parsing the rows
    as one flat list builds one list per page instead. Anything unusual (another row width,
    null, a number where a string goes) returns None and takes the plain `json.loads` path.
    """
    body = content.strip()
    if not (body.startswith(b"[[") and body.endswith(b"]]")):
        return None
    width = len(_ROW_TYPES)
    n = body.count(b"],[") + 1
    try:
        flat = json.loads(b"[" + body[2:-2].replace(b"],[", b",") + b"]")
    except ValueError:
        return None
    if len(flat) != width * n:
        return None
    # Every column has its documented type: a row that is one field short or long shifts the
    # ones after it, which this catches.
    for i, tp in enumerate(_ROW_TYPES):
        if set(map(type, flat[i::width])) != {tp}:
            return None
    try:
        t = np.array(flat[0::width], dtype=np.int64)
        values = np.empty((n, 5), dtype=np.float64)
        for i in range(5):
            values[:, i] = list(map(float, flat[i + 1::width]))
    except (ValueError, OverflowError):  # "" or garbage: the row path turns those into NaN
        return None
    return KlineColumns(t, values)


def parse_klines(rows: Any, venue: str = "binance") -> pd.DataFrame:
    """One page of `/api/v3/klines` rows -> candles frame (strings to float, bad rows dropped)."""
    if isinstance(rows, KlineColumns):
        return candles_frame(rows.time, rows.values)
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

    def decode_json(self, content: bytes) -> Any:
        cols = klines_columns(content)
        return cols if cols is not None else json.loads(content)

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
            n = len(rows)
            if n == 0:
                return
            last_open = (int(rows.time[-1]) if isinstance(rows, KlineColumns)
                         else to_int(rows[-1][0]))
            del rows  # not kept alive while the consumer stores the page
            yield frame
            if n < PAGE_LIMIT or last_open < cursor:
                return
            cursor = last_open + 1

    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        raise BadRequest(f"{spec.kind} is not served by Binance spot", venue=self.venue)
