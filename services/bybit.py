"""Bybit v5 linear perpetuals: funding history, current funding (tickers), open-interest history.

Envelope `{"retCode": 0, "retMsg": "OK", "result": {...}, "time": ms}`; errors come inside HTTP 200
with retCode != 0 (`check_payload`):
- 10006 / 10018 too many visits -> RateLimited
- 10001 params error naming the symbol, 10029 invalid symbol -> UnknownSymbol
  (any other 10001 -> BadRequest)
- 10009 region restricted -> GeoBlocked; 10016 server error -> VenueUnavailable
HTTP 403 goes to US and mainland-China addresses -> GeoBlocked, unless the body says "access too
frequent" (the IP limit, a 10-minute cool-off) -> RateLimited.

Lists are NEWEST FIRST and numbers are strings.
- FUNDING: `/v5/market/funding/history` (limit 200, both startTime and endTime sent: startTime alone
  is an error), paged backwards with `endTime = oldest fundingRateTimestamp - 1`. A row's interval
  is its spacing to the previous settlement when plausible, across page seams too (a page's
  oldest row is measured against the next page's newest; the range is asked from 8h earlier so
  its first row has its previous settlement), else today's `fundingIntervalHour` from tickers
  (8h when absent).
- FUNDING_NOW: `/v5/market/tickers` (fundingRate, nextFundingTime, markPrice, indexPrice,
  openInterest, openInterestValue, fundingIntervalHour when present); stamped with the
  envelope time.
- OPEN_INTEREST: `/v5/market/open-interest` intervalTime=1h, limit 200, cursor paging with
  `nextPageCursor`. `openInterest` is in coin for linear contracts; the history has no USD value
  (open_interest_usd is NaN).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import requests

from models.catalog import FUNDING, FUNDING_NOW, OPEN_INTEREST, SeriesSpec
from models.series import Snapshot
from services.config import Endpoints
from services.errors import (
    BadPayload,
    BadRequest,
    GeoBlocked,
    RateLimited,
    TransientError,
    UnknownSymbol,
    VenueUnavailable,
)
from services.http import HttpClient, body_excerpt
from services.parsing import (
    INTERVAL_LOOKBACK_MS,
    MAX_PAGES,
    between,
    check_symbol,
    funding_frame,
    funding_now_frame,
    intervals_across_pages,
    now_ms,
    oi_frame,
    require,
    spec_interval_hours,
    to_float,
    to_int,
)

CATEGORY = "linear"
FUNDING_LIMIT = 200
OI_LIMIT = 200
RATE_LIMIT_CODES = frozenset({10006, 10018})
RATE_LIMIT_WAIT_S = 5.0
IP_BAN_WAIT_S = 600.0  # "access too frequent": stop for at least 10 minutes

log = logging.getLogger(__name__)


def _list(result: Any, what: str, venue: str) -> list:
    require(isinstance(result, Mapping), f"{what}: `result` is not an object", venue)
    rows = result.get("list")
    require(isinstance(rows, list), f"{what}: `result.list` is not a list", venue)
    return rows


def parse_funding_history(result: Any, default_hours: float = 8.0,
                          venue: str = "bybit") -> tuple[pd.DataFrame, int | None]:
    """One funding page -> (FUNDING frame, oldest raw timestamp or None)."""
    rows = _list(result, "funding history", venue)
    times: list[int] = []
    rates: list[float] = []
    for row in rows:
        require(isinstance(row, Mapping) and "fundingRateTimestamp" in row
                and "fundingRate" in row,
                f"funding row without fundingRateTimestamp/fundingRate: {str(row)[:80]}", venue)
        times.append(to_int(row["fundingRateTimestamp"], "fundingRateTimestamp", venue))
        rates.append(to_float(row["fundingRate"]))
    oldest = min(times) if times else None
    return funding_frame(times, rates, default_hours=default_hours), oldest


def parse_open_interest(result: Any, venue: str = "bybit") -> tuple[pd.DataFrame, int | None, str]:
    """One OI page -> (OPEN_INTEREST frame, oldest timestamp or None, nextPageCursor)."""
    rows = _list(result, "open interest", venue)
    times: list[int] = []
    oi: list[float] = []
    for row in rows:
        require(isinstance(row, Mapping) and "timestamp" in row and "openInterest" in row,
                f"open-interest row without timestamp/openInterest: {str(row)[:80]}", venue)
        times.append(to_int(row["timestamp"], "timestamp", venue))
        oi.append(to_float(row["openInterest"]))
    cursor = result.get("nextPageCursor") or ""
    return (oi_frame(times, oi, [math.nan] * len(oi)), (min(times) if times else None),
            str(cursor))


def ticker_interval_hours(ticker: Mapping[str, Any], default: float) -> float:
    hours = to_float(ticker.get("fundingIntervalHour"))
    return hours if math.isfinite(hours) and hours > 0 else default


class BybitClient(HttpClient):
    venue = "bybit"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["bybit"], **kwargs)

    def _decode(self, resp: requests.Response, url: str) -> Any:
        # A 403 body may be HTML (CloudFront) or JSON: judge it before the generic handling.
        if resp.status_code == 403:
            excerpt = body_excerpt(resp.content)
            if "too frequent" in excerpt.lower():
                raise RateLimited(f"IP rate limit (HTTP 403: {excerpt})", venue=self.venue,
                                  url=url, retry_after=IP_BAN_WAIT_S)
            raise GeoBlocked(f"not available from your region (HTTP 403: {excerpt})",
                             venue=self.venue, url=url)
        return super()._decode(resp, url)

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        if not isinstance(payload, Mapping) or "retCode" not in payload:
            return
        code = payload.get("retCode")
        try:
            code = int(code)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise BadPayload(f"retCode is not a number: {code!r}", venue=self.venue) from None
        if code == 0:
            return
        msg = str(payload.get("retMsg", ""))
        detail = f"retCode {code}: {msg}"
        low = msg.lower()
        if code in RATE_LIMIT_CODES:
            raise RateLimited(f"rate limited ({detail})", venue=self.venue,
                              retry_after=RATE_LIMIT_WAIT_S)
        if code == 10029 or (code == 10001 and "symbol" in low
                             and ("invalid" in low or "not exist" in low or "not found" in low)):
            raise UnknownSymbol(f"unknown symbol ({detail})", venue=self.venue)
        if code == 10009:
            raise GeoBlocked(f"not available from your region ({detail})", venue=self.venue)
        if code == 10016:
            raise VenueUnavailable(detail, venue=self.venue)
        raise BadRequest(detail, venue=self.venue)

    def call(self, path: str, params: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any]]:
        """(result, envelope); BadPayload when there is no `result`."""
        payload = self.get_json(path, params)
        if not isinstance(payload, Mapping) or "result" not in payload:
            raise BadPayload(f"{path}: no `result` in {str(payload)[:80]}", venue=self.venue)
        return payload["result"], payload

    def _ticker(self, symbol: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        result, envelope = self.call("/v5/market/tickers",
                                     {"category": CATEGORY, "symbol": symbol})
        rows = _list(result, "tickers", self.venue)
        row = next((r for r in rows if isinstance(r, Mapping) and r.get("symbol") == symbol),
                   None)
        if row is None:
            raise UnknownSymbol(f"{symbol} is not a linear perpetual on Bybit", venue=self.venue)
        return row, envelope

    # -- history -------------------------------------------------------------------------------
    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        symbol = check_symbol(symbol, self.venue)
        if spec.kind == FUNDING:
            default = spec_interval_hours(spec)
            try:
                ticker, _env = self._ticker(symbol)
                default = ticker_interval_hours(ticker, default)
            except TransientError as e:  # only a default: the rows' own spacing still decides
                log.warning("ticker unavailable (%s); assuming %sh", e, default)
            yield from self._funding_pages(symbol, start_ms, end_ms, default)
        elif spec.kind == OPEN_INTEREST:
            yield from self._oi_pages(symbol, start_ms, end_ms)
        else:
            raise BadRequest(f"{spec.kind} has no history on Bybit", venue=self.venue)

    def _funding_pages(self, symbol: str, start_ms: int, end_ms: int,
                       default_hours: float) -> Iterator[pd.DataFrame]:
        pages = self._raw_funding_pages(symbol, start_ms - INTERVAL_LOOKBACK_MS, end_ms,
                                        default_hours)
        for frame in intervals_across_pages(pages):
            frame = between(frame, start_ms, end_ms)
            if len(frame):
                yield frame

    def _raw_funding_pages(self, symbol: str, start_ms: int, end_ms: int,
                           default_hours: float) -> Iterator[pd.DataFrame]:
        """Every page as sent, newest first (the rows before the range are only spacing)."""
        end = end_ms
        for _ in range(MAX_PAGES):
            if end < start_ms:
                return
            result, _env = self.call("/v5/market/funding/history", {
                "category": CATEGORY, "symbol": symbol, "startTime": start_ms, "endTime": end,
                "limit": FUNDING_LIMIT})
            frame, oldest = parse_funding_history(result, default_hours, self.venue)
            yield frame
            n = len(result["list"])
            # Newest first: the next page ends just before this page's oldest row.
            if oldest is None or n < FUNDING_LIMIT or oldest <= start_ms or oldest > end:
                return
            end = oldest - 1

    def _oi_pages(self, symbol: str, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
        params: dict[str, Any] = {"category": CATEGORY, "symbol": symbol, "intervalTime": "1h",
                                  "startTime": start_ms, "endTime": end_ms, "limit": OI_LIMIT}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            result, _env = self.call("/v5/market/open-interest", params)
            frame, oldest, cursor = parse_open_interest(result, self.venue)
            frame = between(frame, start_ms, end_ms)
            if len(frame):
                yield frame
            # A repeated cursor would loop forever; a page reaching the start ends the range.
            if not cursor or cursor in seen or oldest is None or oldest <= start_ms:
                return
            seen.add(cursor)
            params = {**params, "cursor": cursor}

    # -- snapshot ------------------------------------------------------------------------------
    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        symbol = check_symbol(symbol, self.venue)
        if spec.kind != FUNDING_NOW:
            raise BadRequest(f"{spec.kind} is not a Bybit snapshot", venue=self.venue)
        row, envelope = self._ticker(symbol)
        if "fundingRate" not in row:
            raise BadPayload(f"ticker without fundingRate: {str(row)[:80]}", venue=self.venue)
        frame = funding_now_frame(
            rate=to_float(row["fundingRate"]),
            interval_hours=ticker_interval_hours(row, spec_interval_hours(spec)),
            next_funding_ms=to_float(row.get("nextFundingTime")),
            mark_price=to_float(row.get("markPrice")),
            index_price=to_float(row.get("indexPrice")),
            open_interest=to_float(row.get("openInterest")),
            open_interest_usd=to_float(row.get("openInterestValue")), venue=self.venue)
        stamp = to_float(envelope.get("time"))
        time_ms = int(stamp) if math.isfinite(stamp) else now_ms()
        return Snapshot(spec.id, time_ms, frame, {"venue": self.venue, "symbol": symbol})
