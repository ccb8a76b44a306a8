"""Binance USD-M futures: funding history, current funding, open-interest history.

- FUNDING: `GET /fapi/v1/fundingRate` (ascending, ≤ 1000 rows, both times inclusive), paged forward
  with `startTime = last fundingTime + 1`. `fundingTime` can be a few ms past the hour: stored
  times are floored to the hour so every venue's settlements line up on the hourly grid.
- Interval: most symbols settle every 8h; `GET /fapi/v1/fundingInfo` lists only symbols with an
  adjusted interval (`fundingIntervalHours`), absent ones are 8h. That is today's interval; a row's
  own interval is the spacing to the previous settlement when it is a plausible one (a symbol
  moved from 8h to 4h keeps its old rows at 8h), across pages too and from 8h before the range
  (so its first row has a previous settlement), else today's.
- FUNDING_NOW: `GET /fapi/v1/premiumIndex` (lastFundingRate, nextFundingTime, markPrice, time) plus
  the latest 5-minute `openInterestHist` row for the open interest (best effort).
- OPEN_INTEREST: `GET /futures/data/openInterestHist` period=1h, ≤ 500 rows, only ~30 days kept;
  the row order is undocumented, so it is asked in ≤ 500-hour windows and sorted here.
  sumOpenInterest is in coin, sumOpenInterestValue in USD(T).
- BASIS / BASIS_CURVE (services/futures.py): the pair's quarterlies from `GET /fapi/v1/exchangeInfo`
  (`pair`, `contractType` CURRENT_QUARTER / NEXT_QUARTER, `deliveryDate` ms, `status` TRADING;
  cached like fundingInfo), each one's `markPrice`, `indexPrice` and `time` from
  `GET /fapi/v1/premiumIndex?symbol=BTCUSDT_260327`.
Errors are Binance's `{code, msg}`; HTTP 451 is a region block (same handling as spot).

The frame builders and checks shared with the other perpetual venues (funding_frame,
funding_now_frame, oi_frame, between, floor_hour, check_symbol) live in `services.parsing`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd

from models.catalog import BASIS, BASIS_CURVE, FUNDING, FUNDING_NOW, OPEN_INTEREST, SeriesSpec
from models.series import MS_PER_HOUR, Snapshot
from services.binance import BinanceClient
from services.config import Endpoints
from services.errors import BadPayload, BadRequest, ServiceError, TransientError, UnknownSymbol
from services.futures import CurveCache, FuturesCurve, basis_pages, curve_snapshot, make_curve
from services.http import HttpClient
from services.parsing import (
    DEFAULT_INTERVAL_HOURS,
    INTERVAL_LOOKBACK_MS,
    MAX_PAGES,
    between,
    check_symbol,
    funding_frame,
    funding_now_frame,
    oi_frame,
    require,
    to_float,
    to_int,
    with_first_interval,
)

log = logging.getLogger(__name__)

FUNDING_LIMIT = 1000
OI_LIMIT = 500
FUNDING_INFO_TTL_S = 6 * 3600
QUARTERLY_TYPES = ("CURRENT_QUARTER", "NEXT_QUARTER")
SERIES_VENUE = "binance"  # the registry key the stored basis series are named after


# -- parsers -----------------------------------------------------------------------------------
def parse_funding_rates(rows: Any, default_hours: float = DEFAULT_INTERVAL_HOURS,
                        venue: str = "binance_futures") -> tuple[pd.DataFrame, int | None]:
    """One `/fapi/v1/fundingRate` page -> (FUNDING frame, last raw fundingTime or None)."""
    require(isinstance(rows, list), f"fundingRate: expected a list, got {type(rows).__name__}",
            venue)
    times: list[int] = []
    rates: list[float] = []
    for row in rows:
        require(isinstance(row, dict) and "fundingTime" in row and "fundingRate" in row,
                f"funding row without fundingTime/fundingRate: {str(row)[:80]}", venue)
        times.append(to_int(row["fundingTime"], "fundingTime", venue))
        rates.append(to_float(row["fundingRate"]))
    last = max(times) if times else None
    return funding_frame(times, rates, default_hours=default_hours), last


def parse_oi_hist(rows: Any, venue: str = "binance_futures") -> tuple[pd.DataFrame, int | None]:
    """One `openInterestHist` page -> (OPEN_INTEREST frame, newest timestamp or None)."""
    require(isinstance(rows, list),
            f"openInterestHist: expected a list, got {type(rows).__name__}", venue)
    times: list[int] = []
    oi: list[float] = []
    usd: list[float] = []
    for row in rows:
        require(isinstance(row, dict) and "timestamp" in row and "sumOpenInterest" in row,
                f"open-interest row without timestamp/sumOpenInterest: {str(row)[:80]}", venue)
        times.append(to_int(row["timestamp"], "timestamp", venue))  # int live, string in docs
        oi.append(to_float(row["sumOpenInterest"]))
        usd.append(to_float(row.get("sumOpenInterestValue")))
    return oi_frame(times, oi, usd), (max(times) if times else None)


def parse_funding_info(rows: Any, venue: str = "binance_futures") -> dict[str, float]:
    """`/fapi/v1/fundingInfo` -> {symbol: interval hours} (only symbols with adjusted settings)."""
    require(isinstance(rows, list), "fundingInfo: expected a list", venue)
    out: dict[str, float] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        hours = to_float(row.get("fundingIntervalHours"))
        if isinstance(row.get("symbol"), str) and math.isfinite(hours) and hours > 0:
            out[row["symbol"]] = hours
    return out


def parse_quarterlies(info: Any, pair: str,
                      venue: str = "binance_futures") -> dict[str, int]:
    """`exchangeInfo` -> {symbol: deliveryDate} of the pair's trading quarterly contracts."""
    require(isinstance(info, dict) and isinstance(info.get("symbols"), list),
            "exchangeInfo: no `symbols` list", venue)
    out: dict[str, int] = {}
    for row in info["symbols"]:
        if not isinstance(row, dict) or row.get("pair") != pair \
                or row.get("contractType") not in QUARTERLY_TYPES \
                or row.get("status", "TRADING") != "TRADING":
            continue
        delivery = to_float(row.get("deliveryDate"))
        if isinstance(row.get("symbol"), str) and math.isfinite(delivery):
            out[row["symbol"]] = int(delivery)
    return out


class BinanceFuturesClient(HttpClient):
    venue = "binance_futures"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["binance_futures"], **kwargs)
        self._info_lock = threading.Lock()
        self._info: dict[str, float] | None = None
        self._info_at = 0.0
        self._exchange_info: Any = None
        self._exchange_info_at = 0.0
        self._curves = CurveCache()

    # Same `{code, msg}` errors and 451 region block as spot.
    check_payload = BinanceClient.check_payload

    def interval_hours(self, symbol: str) -> float:
        """Today's settlement interval of `symbol` (fundingInfo, cached; absent -> 8h)."""
        with self._info_lock:
            if self._info is None or time.monotonic() - self._info_at > FUNDING_INFO_TTL_S:
                self._info = parse_funding_info(self.get_json("/fapi/v1/fundingInfo"),
                                                self.venue)
                self._info_at = time.monotonic()
            return self._info.get(symbol, DEFAULT_INTERVAL_HOURS)

    # -- history -------------------------------------------------------------------------------
    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        symbol = check_symbol(symbol, self.venue)
        if spec.kind == FUNDING:
            yield from self._funding_pages(symbol, start_ms, end_ms)
        elif spec.kind == OPEN_INTEREST:
            yield from self._oi_pages(symbol, start_ms, end_ms)
        elif spec.kind == BASIS:
            yield from basis_pages(self.futures_curve(symbol), start_ms, end_ms)
        else:
            raise BadRequest(f"{spec.kind} has no history on Binance futures", venue=self.venue)

    def _funding_pages(self, symbol: str, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
        try:
            default = self.interval_hours(symbol)
        except TransientError as e:  # only a default: the rows' own spacing still decides
            log.warning("fundingInfo unavailable (%s); assuming %sh", e, DEFAULT_INTERVAL_HOURS)
            default = DEFAULT_INTERVAL_HOURS
        # From 8h before the range, so its first row has the previous settlement to measure
        # its interval against; those earlier rows are not kept.
        cursor = start_ms - INTERVAL_LOOKBACK_MS
        previous_ms: int | None = None
        for _ in range(MAX_PAGES):
            if cursor > end_ms:
                return
            rows = self.get_json("/fapi/v1/fundingRate", {
                "symbol": symbol, "startTime": cursor, "endTime": end_ms,
                "limit": FUNDING_LIMIT})
            frame, last = parse_funding_rates(rows, default, self.venue)
            if previous_ms is not None:
                # The first row's interval is its spacing to the previous page's last row.
                frame = with_first_interval(frame, previous_ms)
            if len(frame):
                previous_ms = int(frame.index[-1:].as_unit("ms").asi8[0])
            frame = between(frame, start_ms, end_ms)
            if len(frame):
                yield frame
            if last is None or len(rows) < FUNDING_LIMIT or last < cursor:
                return
            cursor = last + 1

    def _oi_pages(self, symbol: str, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
        # Windows of ≤ 500 hourly rows: whichever end of a longer range Binance would favour,
        # nothing is skipped.
        cursor = start_ms
        for _ in range(MAX_PAGES):
            if cursor > end_ms:
                return
            window_end = min(end_ms, cursor + (OI_LIMIT - 1) * MS_PER_HOUR)
            rows = self.get_json("/futures/data/openInterestHist", {
                "symbol": symbol, "period": "1h", "startTime": cursor, "endTime": window_end,
                "limit": OI_LIMIT})
            frame, _newest = parse_oi_hist(rows, self.venue)
            frame = between(frame, cursor, window_end)
            if len(frame):
                yield frame
            cursor = window_end + 1

    # -- snapshot ------------------------------------------------------------------------------
    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        symbol = check_symbol(symbol, self.venue)
        if spec.kind == BASIS_CURVE:
            return curve_snapshot(spec.id, self.futures_curve(symbol), symbol)
        if spec.kind != FUNDING_NOW:
            raise BadRequest(f"{spec.kind} is not a Binance futures snapshot", venue=self.venue)
        payload = self.get_json("/fapi/v1/premiumIndex", {"symbol": symbol})
        if isinstance(payload, list):  # the all-symbols form; should not happen with `symbol`
            payload = next((p for p in payload if isinstance(p, dict)
                            and p.get("symbol") == symbol), None)
            if payload is None:
                raise UnknownSymbol(f"{symbol} not in premiumIndex", venue=self.venue)
        require(isinstance(payload, dict), "premiumIndex: expected an object", self.venue)
        for name in ("lastFundingRate", "time"):
            if name not in payload:
                raise BadPayload(f"premiumIndex without {name!r}: {str(payload)[:80]}",
                                 venue=self.venue)
        oi, oi_usd = self._latest_oi(symbol)
        frame = funding_now_frame(
            rate=to_float(payload["lastFundingRate"]),
            interval_hours=self.interval_hours(symbol),
            next_funding_ms=to_float(payload.get("nextFundingTime")),
            mark_price=to_float(payload.get("markPrice")),
            index_price=to_float(payload.get("indexPrice")),
            open_interest=oi, open_interest_usd=oi_usd, venue=self.venue)
        return Snapshot(spec.id, to_int(payload["time"], "time", self.venue), frame,
                        {"venue": self.venue, "symbol": symbol})

    def _latest_oi(self, symbol: str) -> tuple[float, float]:
        """The newest 5-minute open interest (coin, USD); NaN when it cannot be had."""
        try:
            rows = self.get_json("/futures/data/openInterestHist",
                                 {"symbol": symbol, "period": "5m", "limit": 1})
            frame, _ = parse_oi_hist(rows, self.venue)
        except ServiceError as e:
            # The rate is what matters here; the panel falls back to equal weights without OI.
            log.info("open interest for %s unavailable: %s", symbol, e)
            return math.nan, math.nan
        if frame.empty:
            return math.nan, math.nan
        last = frame.iloc[-1]
        return float(last["open_interest"]), float(last["open_interest_usd"])

    # -- dated futures -------------------------------------------------------------------------
    def futures_curve(self, pair: str) -> FuturesCurve:
        return self._curves.get(pair, lambda: self._fetch_curve(pair))

    def _quarterlies(self, pair: str) -> dict[str, int]:
        with self._info_lock:
            if self._exchange_info is None \
                    or time.monotonic() - self._exchange_info_at > FUNDING_INFO_TTL_S:
                self._exchange_info = self.get_json("/fapi/v1/exchangeInfo")
                self._exchange_info_at = time.monotonic()
            info = self._exchange_info
        found = parse_quarterlies(info, pair, self.venue)
        # A contract delivered since the list was read: read it again once.
        if not found or min(found.values()) <= time.time() * 1000:
            with self._info_lock:
                self._exchange_info = None
        return found

    def _fetch_curve(self, pair: str) -> FuturesCurve:
        rows: list[tuple[str, int, float]] = []
        index_price, stamp = math.nan, None
        for symbol, delivery in self._quarterlies(pair).items():
            payload = self.get_json("/fapi/v1/premiumIndex", {"symbol": check_symbol(
                symbol, self.venue)})
            require(isinstance(payload, dict), "premiumIndex: expected an object", self.venue)
            mark = to_float(payload.get("markPrice"))
            if not mark > 0:
                continue
            rows.append((symbol, delivery, mark))
            index_price = to_float(payload.get("indexPrice"))
            when = to_float(payload.get("time"))
            if math.isfinite(when):
                stamp = int(when) if stamp is None else max(stamp, int(when))
        if stamp is None and rows:
            raise BadPayload("premiumIndex without a time", venue=self.venue)
        return make_curve(SERIES_VENUE, stamp or 0, rows, index_price)
