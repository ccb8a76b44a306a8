"""Volmex implied-volatility indices (BVIV, EVIV): a best-effort source beside Deribit DVOL.

Volmex documents no key-less API. Its own chart code reads an undocumented endpoint,
`GET /public/iv/history?symbol=BVIV&resolution=60&from=<s>&to=<s>`, answering in TradingView
UDF column form: `{"s": "ok", "t": [...], "o": [...], "h": [...], "l": [...], "c": [...]}`,
`{"s": "no_data"}` for an empty window, `{"s": "error", "errmsg": ...}` otherwise. It has been
seen answering 500 for days, so the status bar may show it failing while DVOL carries on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import requests

from models.catalog import VOL_INDEX, SeriesSpec
from models.series import MS_PER_DAY, Snapshot
from services.config import Endpoints
from services.errors import BadPayload, BadRequest, UnknownSymbol
from services.http import HttpClient
from services.parsing import between, make_frame, require, to_float, to_int

RESOLUTION = {"1h": "60", "1d": "D"}
WINDOW_MS = {"1h": 60 * MS_PER_DAY, "1d": 1500 * MS_PER_DAY}  # ≤ 1,500 rows per answer
# close first: open, high and low fall back to it
OHLC = {"c": "close", "o": "open", "h": "high", "l": "low"}


def parse_udf(payload: Any, venue: str = "volmex") -> pd.DataFrame:
    """A UDF history answer -> OHLC frame (rows with a missing close dropped)."""
    require(isinstance(payload, dict) and "s" in payload, "history: no status field", venue)
    status = payload["s"]
    if status == "no_data":
        return make_frame([], {name: [] for name in OHLC.values()})
    require(status == "ok", f"history: status {status!r}", venue)
    stamps = payload.get("t")
    require(isinstance(stamps, list), "history: no time column", venue)
    columns = {}
    for key, name in OHLC.items():
        values = payload.get(key)
        if values is None and key != "c":
            values = payload.get("c")  # some indices carry only closes
        require(isinstance(values, list) and len(values) == len(stamps),
                f"history: column {key!r} missing or of the wrong length", venue)
        columns[name] = [to_float(v) for v in values]
    columns = {name: columns[name] for name in ("open", "high", "low", "close")}
    frame = make_frame([to_int(t, "t", venue) * 1000 for t in stamps], columns)
    return frame[frame["close"].notna() & (frame["close"] > 0)]


class VolmexClient(HttpClient):
    venue = "volmex"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["volmex"], **kwargs)

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        if not isinstance(payload, dict) or payload.get("s") != "error":
            return
        message = str(payload.get("errmsg") or payload.get("message") or "error")
        if "symbol" in message.lower():
            raise UnknownSymbol(f"unknown symbol ({message})", venue=self.venue)
        if status >= 500 or status == 200:
            raise BadPayload(f"error: {message}", venue=self.venue)
        raise BadRequest(f"error: {message}", venue=self.venue)

    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        if spec.kind != VOL_INDEX or spec.interval not in RESOLUTION:
            raise BadRequest(f"{spec.kind} {spec.interval} is not served by Volmex",
                             venue=self.venue)
        window = WINDOW_MS[spec.interval]
        cursor = start_ms
        while cursor <= end_ms:  # oldest window first, so the cache grows forward
            upper = min(cursor + window, end_ms)
            frame = parse_udf(self.get_json("/public/iv/history", {
                "symbol": symbol, "resolution": RESOLUTION[spec.interval],
                "from": cursor // 1000, "to": upper // 1000}), self.venue)
            yield between(frame, start_ms, end_ms)
            cursor = upper + 1

    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        raise BadRequest(f"{spec.kind} is not served by Volmex", venue=self.venue)
