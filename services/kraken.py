"""Kraken OHLC, the last fallback for BTC and ETH: only the 720 most recent bars, whatever
`since` asks, so one request per refresh. Errors come in the `error` array, e.g.
`EQuery:Unknown asset pair`; the result key is Kraken's own pair name, not the one asked for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import requests

from models.catalog import SeriesSpec
from models.series import Snapshot
from services.config import Endpoints
from services.errors import BadRequest, RateLimited, UnknownSymbol, VenueUnavailable
from services.http import HttpClient
from services.parsing import make_frame, require, to_float, to_int, valid_candles

INTERVAL_MIN = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "4h": 240, "1d": 1440, "1w": 10080}


def parse_ohlc(payload: Any, venue: str = "kraken") -> pd.DataFrame:
    require(isinstance(payload, dict) and isinstance(payload.get("result"), dict),
            "OHLC: missing result", venue)
    series = [v for k, v in payload["result"].items() if k != "last"]
    require(len(series) == 1 and isinstance(series[0], list), "OHLC: expected one pair", venue)
    times, cols = [], {"open": [], "high": [], "low": [], "close": [], "volume": []}
    for row in series[0]:
        require(isinstance(row, list) and len(row) >= 7, "OHLC row needs 7 fields", venue)
        times.append(to_int(row[0], "time", venue) * 1000)
        for i, name in ((1, "open"), (2, "high"), (3, "low"), (4, "close"), (6, "volume")):
            cols[name].append(to_float(row[i]))
    return valid_candles(make_frame(times, cols))


class KrakenClient(HttpClient):
    venue = "kraken"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["kraken"], **kwargs)

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        errors = payload.get("error") if isinstance(payload, dict) else None
        if not errors:
            return
        text = "; ".join(str(e) for e in errors)
        if "Unknown asset pair" in text:
            raise UnknownSymbol(text, venue=self.venue)
        if "Too many requests" in text or "Rate limit" in text:
            raise RateLimited(text, venue=self.venue, retry_after=10.0)
        if text.startswith("EService"):
            raise VenueUnavailable(text, venue=self.venue)
        raise BadRequest(text, venue=self.venue)

    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        payload = self.get_json("/0/public/OHLC", {"pair": symbol,
                                                   "interval": INTERVAL_MIN[spec.interval],
                                                   "since": start_ms // 1000})
        yield parse_ohlc(payload, self.venue)

    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        raise BadRequest(f"{spec.kind} is not served by Kraken", venue=self.venue)
