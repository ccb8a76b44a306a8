"""Yahoo Finance chart API v8 (unofficial, key-less): indices, futures and the dollar index.

`GET /v8/finance/chart/{symbol}?period1=&period2=&interval=` (epoch seconds). Quirks handled here
(docs/venues.md): nulls inside the arrays (a whole bar or one field), an empty window
that drops the `timestamp` key, `chart.error` for an unknown symbol (often with HTTP 404), 1h bars
only for the last 730 days, and the newest bar possibly repeated. Daily bars are stamped at the
session open in exchange time; the stamps are kept as Yahoo sends them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests

from models.catalog import SeriesSpec
from models.series import MS_PER_DAY, Snapshot
from services.config import Endpoints
from services.errors import BadRequest, UnknownSymbol
from services.http import HttpClient
from services.parsing import CANDLE_COLUMNS, make_frame, require, to_float, valid_candles

INTERVALS = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "60m", "1d": "1d", "1w": "1wk"}
# Windows per request, so every JSON page stays small (≈ 1.2k hourly or 2.5k daily bars; a
# future trading 23 h a day: ≈ 7k minutes, 4k five-minute bars). Yahoo refuses 1m windows
# longer than 8 days.
WINDOW_DAYS = {"1m": 5, "5m": 15, "15m": 30, "1h": 180, "1d": 3650, "1w": 3650}


def parse_chart(payload: Any, venue: str = "yahoo") -> tuple[pd.DataFrame, dict]:
    """One chart answer -> (candles frame, meta). An empty window gives an empty frame."""
    require(isinstance(payload, dict) and isinstance(payload.get("chart"), dict),
            "chart: missing 'chart' object", venue)
    chart = payload["chart"]
    results = chart.get("result")
    require(isinstance(results, list) and results, "chart: empty result", venue)
    result = results[0]
    require(isinstance(result, dict), "chart: result is not an object", venue)
    meta = result.get("meta") or {}
    stamps = result.get("timestamp") or []
    quotes = ((result.get("indicators") or {}).get("quote") or [{}])[0] or {}
    if not stamps:
        return make_frame([], {c: [] for c in CANDLE_COLUMNS}), meta
    require(isinstance(stamps, list), "chart: timestamp is not a list", venue)
    columns = {}
    for name in CANDLE_COLUMNS:
        values = quotes.get(name)
        # A missing price field is a changed format; volume is often absent for indices.
        require(values is not None or name == "volume", f"chart: no {name} field", venue)
        if values is None:
            values = [None] * len(stamps)
        require(isinstance(values, list) and len(values) == len(stamps),
                f"chart: {name} has {len(values) if isinstance(values, list) else 'no'} "
                f"values for {len(stamps)} timestamps", venue)
        columns[name] = [to_float(v) for v in values]
    times = [int(s) * 1000 for s in stamps]
    return valid_candles(make_frame(times, columns)), meta


class YahooClient(HttpClient):
    venue = "yahoo"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["yahoo"], **kwargs)

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        chart = payload.get("chart") if isinstance(payload, dict) else None
        error = chart.get("error") if isinstance(chart, dict) else None
        if not error:
            return
        code = str(error.get("code", "")) if isinstance(error, dict) else ""
        text = str(error.get("description", error)) if isinstance(error, dict) else str(error)
        if code == "Not Found" or status == 404:
            raise UnknownSymbol(f"unknown symbol: {text}", venue=self.venue)
        raise BadRequest(f"{code}: {text}", venue=self.venue)

    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        interval = INTERVALS[spec.interval]
        window = WINDOW_DAYS[spec.interval] * MS_PER_DAY
        path = f"/v8/finance/chart/{quote(symbol, safe='')}"
        lo = start_ms
        while lo <= end_ms:
            hi = min(end_ms, lo + window)
            payload = self.get_json(path, {"period1": lo // 1000, "period2": hi // 1000 + 1,
                                           "interval": interval, "includePrePost": "false"})
            frame, _meta = parse_chart(payload, self.venue)
            yield frame
            lo = hi + 1

    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        raise BadRequest(f"{spec.kind} is not served by Yahoo", venue=self.venue)
