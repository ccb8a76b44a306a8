"""OKX v5 perpetual swaps: funding history, current funding, current open interest.

Envelope `{"code": "0", "msg": "", "data": [...]}`; `code` != "0" is an error (`check_payload`):
- 50011 (and 50061) too many requests -> RateLimited
- 51001 instrument doesn't exist -> UnknownSymbol
- 50001 / 50004 / 50013 / 50026 service unavailable, timeout, busy -> VenueUnavailable
- anything else -> BadRequest (an unknown path gives HTTP 404 with a NUMERIC code; the generic
  HTTP handling reports it)

Lists are NEWEST FIRST, numbers are strings.
- BASIS / BASIS_CURVE (services/futures.py), per instrument family (`BTC-USD`, coin-margined):
  `/api/v5/public/instruments?instType=FUTURES&instFamily=` (instId, expTime ms as a string,
  alias this_week … next_quarter, state live), `/api/v5/public/mark-price?instType=FUTURES&
  instFamily=` (instId, markPx, ts), `/api/v5/market/index-tickers?instId=<family>` (idxPx, ts).
- FUNDING: `/api/v5/public/funding-rate-history` (limit 100: the documented maximum in one source,
  400 in another). Paged back in time with `after` = the oldest fundingTime of the previous page
  (`after` returns strictly older rows). OKX keeps ~3 months. The stored rate is `realizedRate`
  (what was actually charged; `fundingRate` is documented as the predicted one), falling back to
  `fundingRate` when it is absent. Interval: spacing to the previous settlement when plausible
  (across page seams too, and paging on until a row older than the range gives its first row
  one), else today's from the current funding's fundingTime -> nextFundingTime, else the
  catalog's 8h.
- LIQUIDATIONS (reported, recent only): `/api/v5/public/liquidation-orders` with instType=SWAP,
  instFamily/uly (BTC-USDT), state=filled, limit 100, paged back with `after` (rows older than
  that `ts`). `data` = [{instId, instFamily, uly, details: [{side, posSide, bkPx, sz, ts, …}]}];
  `sz` is in contracts (× `CONTRACT_VALUES`), `side` the order side (`sell` closes a long),
  `posSide` long/short in hedge mode (`net` otherwise). OKX says the feed "doesn't represent the
  total number of liquidations" and keeps only recent ones (docs/streams.md §5.2, §8).
- FUNDING_NOW: `/api/v5/public/funding-rate` (fundingRate for the period settling at fundingTime;
  nextFundingRate may be ""), plus `/api/v5/public/open-interest` (oiCcy coin, oiUsd) as a best
  effort. Mark and index prices are not in these answers (NaN).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import requests

from models.catalog import BASIS, BASIS_CURVE, FUNDING, FUNDING_NOW, LIQUIDATIONS, SeriesSpec
from models.liquidations import check_liquidation
from models.series import MS_PER_HOUR, Snapshot
from models.stream_events import BANKRUPTCY, Liquidation
from services.config import Endpoints
from services.errors import (
    BadPayload,
    BadRequest,
    RateLimited,
    ServiceError,
    TransientError,
    UnknownSymbol,
    VenueUnavailable,
)
from services.futures import CurveCache, FuturesCurve, basis_pages, curve_snapshot, make_curve
from services.http import HttpClient
from services.parsing import (
    MAX_PAGES,
    between,
    check_symbol,
    funding_frame,
    funding_now_frame,
    intervals_across_pages,
    now_ms,
    require,
    spec_interval_hours,
    to_float,
    to_int,
)
from services.streams.okx import CONTRACT_VALUES, liquidated_side

log = logging.getLogger(__name__)

FUNDING_LIMIT = 100
RATE_LIMIT_CODES = frozenset({"50011", "50061"})
UNAVAILABLE_CODES = frozenset({"50001", "50004", "50013", "50026"})
UNKNOWN_INSTRUMENT = "51001"
RATE_LIMIT_WAIT_S = 2.0  # the funding-history limit is 10 requests / 2 s


def parse_funding_history(data: Any, default_hours: float = 8.0,
                          venue: str = "okx") -> tuple[pd.DataFrame, int | None]:
    """One `data` page -> (FUNDING frame, oldest raw fundingTime or None)."""
    require(isinstance(data, list), "funding history: `data` is not a list", venue)
    times: list[int] = []
    rates: list[float] = []
    for row in data:
        require(isinstance(row, Mapping) and "fundingTime" in row
                and ("realizedRate" in row or "fundingRate" in row),
                f"funding row without fundingTime/rate: {str(row)[:80]}", venue)
        times.append(to_int(row["fundingTime"], "fundingTime", venue))
        rate = to_float(row.get("realizedRate"))
        if not math.isfinite(rate):
            rate = to_float(row.get("fundingRate"))
        rates.append(rate)
    oldest = min(times) if times else None
    return funding_frame(times, rates, default_hours=default_hours), oldest


LIQUIDATION_LIMIT = 100
# Base coin per contract (`ctVal` of GET /api/v5/public/instruments?instType=SWAP): OKX sizes
# swap liquidations in contracts.


def parse_liquidations(data: Any, inst_id: str, asset: str,
                       venue: str = "okx") -> tuple[list[Liquidation], int | None, int]:
    """One `data` page -> (this instrument's events, oldest ts of the page, details on it).

    A detail that cannot be read (no side, no size) is skipped and logged, never guessed."""
    require(isinstance(data, list), "liquidation orders: `data` is not a list", venue)
    ct_val = CONTRACT_VALUES.get(inst_id)
    if ct_val is None:
        raise BadRequest(f"no contract size known for {inst_id}", venue=venue)
    events: list[Liquidation] = []
    oldest: int | None = None
    count = 0
    for entry in data:
        require(isinstance(entry, Mapping) and isinstance(entry.get("details"), list),
                f"liquidation entry without details: {str(entry)[:80]}", venue)
        for detail in entry["details"]:
            count += 1
            require(isinstance(detail, Mapping) and "ts" in detail,
                    f"liquidation detail without ts: {str(detail)[:80]}", venue)
            ts = to_int(detail["ts"], "ts", venue)
            oldest = ts if oldest is None else min(oldest, ts)
            if entry.get("instId", inst_id) != inst_id:
                continue
            side = liquidated_side(detail)
            qty = to_float(detail.get("sz")) * ct_val
            price = to_float(detail.get("bkPx"))
            event = Liquidation(ts, venue, inst_id, asset, side or "", qty, price, qty * price,
                                BANKRUPTCY)
            problem = check_liquidation(event)
            if problem:
                log.warning("OKX liquidation skipped (%s): %s", problem, str(detail)[:120])
                continue
            events.append(event)
    return events, oldest, count


def current_interval_hours(row: Mapping[str, Any], default: float) -> float:
    """fundingTime -> nextFundingTime of the current funding answer, if it is a sane interval."""
    this, following = to_float(row.get("fundingTime")), to_float(row.get("nextFundingTime"))
    if math.isfinite(this) and math.isfinite(following):
        hours = (following - this) / MS_PER_HOUR
        if 0 < hours <= 24:
            return hours
    return default


def parse_future_instruments(data: Any, venue: str = "okx") -> dict[str, int]:
    """`public/instruments?instType=FUTURES` -> {instId: expTime} of the live contracts."""
    require(isinstance(data, list), "instruments: `data` is not a list", venue)
    out: dict[str, int] = {}
    for row in data:
        if not isinstance(row, Mapping) or row.get("state", "live") != "live":
            continue
        expiry = to_float(row.get("expTime"))
        if isinstance(row.get("instId"), str) and math.isfinite(expiry):
            out[row["instId"]] = int(expiry)
    return out


def parse_marks(data: Any, venue: str = "okx") -> tuple[dict[str, float], int | None]:
    """`public/mark-price` -> ({instId: markPx}, newest ts)."""
    require(isinstance(data, list), "mark-price: `data` is not a list", venue)
    marks: dict[str, float] = {}
    newest: int | None = None
    for row in data:
        if not isinstance(row, Mapping) or not isinstance(row.get("instId"), str):
            continue
        mark = to_float(row.get("markPx"))
        if mark > 0:
            marks[row["instId"]] = mark
        stamp = to_float(row.get("ts"))
        if math.isfinite(stamp):
            newest = int(stamp) if newest is None else max(newest, int(stamp))
    return marks, newest


class OkxClient(HttpClient):
    venue = "okx"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["okx"], **kwargs)
        self._curves = CurveCache()

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        if not isinstance(payload, Mapping) or "code" not in payload:
            return
        code = str(payload.get("code"))
        if code == "0":
            return
        msg = str(payload.get("msg", ""))
        detail = f"error {code}: {msg}"
        if code in RATE_LIMIT_CODES:
            raise RateLimited(f"rate limited ({detail})", venue=self.venue,
                              retry_after=RATE_LIMIT_WAIT_S)
        if code == UNKNOWN_INSTRUMENT:
            raise UnknownSymbol(f"unknown instrument ({detail})", venue=self.venue)
        if code in UNAVAILABLE_CODES:
            raise VenueUnavailable(detail, venue=self.venue)
        if status >= 400:
            return  # e.g. the numeric-code 404 body: the HTTP status says it
        raise BadRequest(detail, venue=self.venue)

    def call(self, path: str, params: Mapping[str, Any]) -> list:
        payload = self.get_json(path, params)
        if not isinstance(payload, Mapping) or not isinstance(payload.get("data"), list):
            raise BadPayload(f"{path}: no `data` list in {str(payload)[:80]}", venue=self.venue)
        return payload["data"]

    def _current(self, inst_id: str) -> Mapping[str, Any]:
        data = self.call("/api/v5/public/funding-rate", {"instId": inst_id})
        row = next((r for r in data if isinstance(r, Mapping) and r.get("instId") == inst_id),
                   None)
        if row is None:
            raise UnknownSymbol(f"no current funding for {inst_id}", venue=self.venue)
        return row

    # -- history -------------------------------------------------------------------------------
    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        symbol = check_symbol(symbol, self.venue)
        if spec.kind == BASIS:
            yield from basis_pages(self.futures_curve(symbol), start_ms, end_ms)
            return
        if spec.kind != FUNDING:
            raise BadRequest(f"{spec.kind} has no history on OKX (liquidations: "
                             "iter_liquidations)", venue=self.venue)
        default = spec_interval_hours(spec)
        try:
            default = current_interval_hours(self._current(symbol), default)
        except TransientError as e:  # only a default: the rows' own spacing still decides
            log.warning("current funding unavailable (%s); assuming %sh", e, default)
        for frame in intervals_across_pages(self._raw_funding_pages(symbol, start_ms, end_ms,
                                                                     default)):
            frame = between(frame, start_ms, end_ms)
            if len(frame):
                yield frame

    def _raw_funding_pages(self, symbol: str, start_ms: int, end_ms: int,
                           default_hours: float) -> Iterator[pd.DataFrame]:
        """Every page as sent, newest first, until one reaches before start_ms: the range's first
        row then has its previous settlement on the same page."""
        after = end_ms + 1  # `after` is exclusive: rows strictly older than it
        for _ in range(MAX_PAGES):
            data = self.call("/api/v5/public/funding-rate-history", {
                "instId": symbol, "after": after, "limit": FUNDING_LIMIT})
            frame, oldest = parse_funding_history(data, default_hours, self.venue)
            yield frame
            # A cursor that does not move back (OKX answers a future `after` with the newest
            # page) ends the walk instead of looping.
            if oldest is None or len(data) < FUNDING_LIMIT or oldest < start_ms \
                    or oldest >= after:
                return
            after = oldest

    def iter_liquidations(self, spec: SeriesSpec, symbol: str, start_ms: int,
                          end_ms: int) -> Iterator[list[Liquidation]]:
        """This swap's reported liquidations in [start_ms, end_ms], one list per page, newest
        pages first. OKX keeps only recent ones: the walk ends where its rows end."""
        symbol = check_symbol(symbol, self.venue)
        if spec.kind != LIQUIDATIONS:
            raise BadRequest(f"{spec.kind} is not a liquidation series", venue=self.venue)
        family = symbol.removesuffix("-SWAP")
        asset = spec.id.rsplit(".", 1)[-1]
        after = end_ms + 1
        for _ in range(MAX_PAGES):
            data = self.call("/api/v5/public/liquidation-orders", {
                "instType": "SWAP", "instFamily": family, "uly": family, "state": "filled",
                "after": after, "limit": LIQUIDATION_LIMIT})
            events, oldest, count = parse_liquidations(data, symbol, asset, self.venue)
            yield [e for e in events if start_ms <= e.time_ms <= end_ms]
            # The next page starts at the oldest ts again (inclusive): orders sharing that
            # millisecond across the page seam are not lost, and the repeats are deduped by the
            # cache. A page that does not move the cursor back ends the walk.
            if oldest is None or count < LIQUIDATION_LIMIT or oldest < start_ms \
                    or oldest + 1 >= after:
                return
            after = oldest + 1

    # -- snapshot ------------------------------------------------------------------------------
    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        symbol = check_symbol(symbol, self.venue)
        if spec.kind == BASIS_CURVE:
            return curve_snapshot(spec.id, self.futures_curve(symbol), symbol)
        if spec.kind != FUNDING_NOW:
            raise BadRequest(f"{spec.kind} is not an OKX snapshot", venue=self.venue)
        row = self._current(symbol)
        if "fundingRate" not in row:
            raise BadPayload(f"funding-rate without fundingRate: {str(row)[:80]}",
                             venue=self.venue)
        oi, oi_usd = self._open_interest(symbol)
        frame = funding_now_frame(
            rate=to_float(row["fundingRate"]),
            interval_hours=current_interval_hours(row, spec_interval_hours(spec)),
            next_funding_ms=to_float(row.get("fundingTime")),  # the settlement now running
            open_interest=oi, open_interest_usd=oi_usd, venue=self.venue)
        stamp = to_float(row.get("ts"))
        time_ms = int(stamp) if math.isfinite(stamp) else now_ms()  # older answers had no ts
        meta: dict[str, object] = {"venue": self.venue, "symbol": symbol}
        predicted = to_float(row.get("nextFundingRate"))
        if math.isfinite(predicted):
            meta["next_rate"] = predicted
        return Snapshot(spec.id, time_ms, frame, meta)

    def _open_interest(self, inst_id: str) -> tuple[float, float]:
        """Current open interest (coin, USD); NaN when it cannot be had."""
        try:
            data = self.call("/api/v5/public/open-interest",
                             {"instType": "SWAP", "instId": inst_id})
        except ServiceError as e:
            log.info("open interest for %s unavailable: %s", inst_id, e)
            return math.nan, math.nan
        row = next((r for r in data if isinstance(r, Mapping)), None)
        if row is None:
            return math.nan, math.nan
        return to_float(row.get("oiCcy")), to_float(row.get("oiUsd"))

    # -- dated futures -------------------------------------------------------------------------
    def futures_curve(self, family: str) -> FuturesCurve:
        return self._curves.get(family, lambda: self._fetch_curve(family))

    def _fetch_curve(self, family: str) -> FuturesCurve:
        expiries = parse_future_instruments(self.call(
            "/api/v5/public/instruments", {"instType": "FUTURES", "instFamily": family}),
            self.venue)
        marks, stamp = parse_marks(self.call(
            "/api/v5/public/mark-price", {"instType": "FUTURES", "instFamily": family}),
            self.venue)
        index = next((r for r in self.call("/api/v5/market/index-tickers", {"instId": family})
                      if isinstance(r, Mapping) and r.get("instId") == family), None)
        index_price = to_float(index.get("idxPx")) if index is not None else math.nan
        if stamp is None:
            raise BadPayload("mark-price without a ts", venue=self.venue)
        rows = [(inst, expiry, marks[inst]) for inst, expiry in expiries.items() if inst in marks]
        return make_curve(self.venue, stamp, rows, index_price)
