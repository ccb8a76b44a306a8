"""Binance USD-M futures: funding history, current funding, open-interest history.

- FUNDING: `GET /fapi/v1/fundingRate` (ascending, ≤ 1000 rows, both times inclusive), paged forward
  with `startTime = last fundingTime + 1`. `fundingTime` can be a few ms past the hour: stored
  times are floored to the hour so every venue's settlements line up on the hourly grid.
- Interval: most symbols settle every 8h; `GET /fapi/v1/fundingInfo` lists only symbols with an
  adjusted interval (`fundingIntervalHours`), absent ones are 8h. That is today's interval; a row's
  own interval is the spacing to the previous settlement when it is a plausible one (a symbol
  moved from 8h to 4h keeps its old rows at 8h), else today's.
- FUNDING_NOW: `GET /fapi/v1/premiumIndex` (lastFundingRate, nextFundingTime, markPrice, time) plus
  the latest 5-minute `openInterestHist` row for the open interest (best effort).
- OPEN_INTEREST: `GET /futures/data/openInterestHist` period=1h, ≤ 500 rows, only ~30 days kept;
  the row order is undocumented, so it is asked in ≤ 500-hour windows and sorted here.
  sumOpenInterest is in coin, sumOpenInterestValue in USD(T).
Errors are Binance's `{code, msg}`; HTTP 451 is a region block (same handling as spot).

The helpers at the top (funding_frame, funding_now_frame, between, floor_hour) are shared by the
other perpetual venues (bybit, okx, hyperliquid).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.catalog import FUNDING, FUNDING_NOW, OPEN_INTEREST, SeriesSpec, validate_symbol
from models.funding import annualize_funding
from models.series import MS_PER_HOUR, Snapshot
from services.binance import BinanceClient
from services.config import Endpoints
from services.deribit import FUNDING_NOW_COLUMNS
from services.errors import BadPayload, BadRequest, ServiceError, UnknownSymbol
from services.http import HttpClient
from services.parsing import make_frame, require, to_float, to_int

log = logging.getLogger(__name__)

FUNDING_LIMIT = 1000
OI_LIMIT = 500
DEFAULT_INTERVAL_HOURS = 8.0
# Settlement intervals venues actually use; any other spacing is a gap in the history.
PLAUSIBLE_INTERVALS = frozenset({1.0, 2.0, 4.0, 6.0, 8.0})
FUNDING_INFO_TTL_S = 6 * 3600
MAX_PAGES = 10_000  # a venue whose cursor never ends cannot spin forever


# -- helpers shared by the perpetual venues ---------------------------------------------------
def floor_hour(t_ms: int) -> int:
    return t_ms - t_ms % MS_PER_HOUR


def check_symbol(symbol: str, venue: str) -> str:
    """The symbol, or BadRequest before it can reach a URL or a body."""
    try:
        return validate_symbol(symbol)
    except (ValueError, TypeError) as e:
        raise BadRequest(str(e), venue=venue) from None


def row_intervals(times_ms: np.ndarray, default_hours: float) -> np.ndarray:
    """Interval per row (ascending times): the spacing to the previous row if plausible."""
    out = np.full(len(times_ms), float(default_hours))
    if len(times_ms) > 1:
        gaps = np.diff(times_ms) / MS_PER_HOUR
        plausible = np.isin(gaps, list(PLAUSIBLE_INTERVALS))
        out[1:] = np.where(plausible, gaps, default_hours)
    return out


def funding_frame(times_ms: Sequence[int], rates: Sequence[float],
                  interval_hours: float | Sequence[float] | None = None, *,
                  default_hours: float = DEFAULT_INTERVAL_HOURS) -> pd.DataFrame:
    """The FUNDING page frame; NaN rates dropped, times floored to the hour, duplicates dropped.

    `interval_hours` None: inferred per row from the spacing (`row_intervals`).
    """
    t = np.asarray([floor_hour(int(x)) for x in times_ms], dtype=np.int64)
    rate = np.asarray(rates, dtype=np.float64)
    given = None
    if interval_hours is not None:
        given = np.broadcast_to(np.asarray(interval_hours, dtype=np.float64), rate.shape)
    keep = np.isfinite(rate)
    if given is not None:
        keep &= np.isfinite(given) & (given > 0)
    t, rate = t[keep], rate[keep]
    # Sorted, one row per time (the last one sent wins), before spacing is measured.
    _, first_in_reversed = np.unique(t[::-1], return_index=True)
    idx = len(t) - 1 - first_in_reversed
    t, rate = t[idx], rate[idx]
    if given is None:
        interval = row_intervals(t, default_hours)
    else:
        interval = given[keep][idx]
    return make_frame(t, {"rate": rate, "interval_hours": interval,
                          "apr_pct": annualize_funding(rate, interval)})


def funding_now_frame(*, rate: float, interval_hours: float, next_funding_ms: float = math.nan,
                      mark_price: float = math.nan, index_price: float = math.nan,
                      open_interest: float = math.nan,
                      open_interest_usd: float = math.nan, venue: str = "") -> pd.DataFrame:
    """The one-row FUNDING_NOW frame, the same columns as Deribit's (the panel's "now" table)."""
    require(math.isfinite(rate), "current funding rate is missing or not a number", venue)
    require(math.isfinite(interval_hours) and interval_hours > 0,
            f"funding interval {interval_hours!r} is not a positive number", venue)
    if not math.isfinite(open_interest_usd) and math.isfinite(open_interest) \
            and math.isfinite(mark_price):
        open_interest_usd = open_interest * mark_price
    row = {
        "rate": rate,
        "interval_hours": interval_hours,
        "apr_pct": float(annualize_funding(rate, interval_hours)),
        "next_funding_ms": next_funding_ms,
        "mark_price": mark_price,
        "index_price": index_price,
        "open_interest": open_interest,
        "open_interest_usd": open_interest_usd,
    }
    return pd.DataFrame({k: [float(row[k])] for k in FUNDING_NOW_COLUMNS})


def oi_frame(times_ms: Sequence[int], oi: Sequence[float],
             oi_usd: Sequence[float]) -> pd.DataFrame:
    """The OPEN_INTEREST page frame; rows without a finite coin amount are dropped."""
    frame = make_frame(np.asarray(times_ms, dtype=np.int64),
                       {"open_interest": oi, "open_interest_usd": oi_usd})
    if frame.empty:
        return frame
    return frame[np.isfinite(frame["open_interest"].to_numpy())]


def between(frame: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    if frame.empty:
        return frame
    ms = frame.index.as_unit("ms").asi8
    return frame[(ms >= start_ms) & (ms <= end_ms)]


def spec_interval_hours(spec: SeriesSpec, fallback: float = DEFAULT_INTERVAL_HOURS) -> float:
    ms = spec.interval_ms
    return ms / MS_PER_HOUR if ms else fallback


def now_ms() -> int:
    return int(time.time() * 1000)


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


class BinanceFuturesClient(HttpClient):
    venue = "binance_futures"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["binance_futures"], **kwargs)
        self._info_lock = threading.Lock()
        self._info: dict[str, float] | None = None
        self._info_at = 0.0

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
        else:
            raise BadRequest(f"{spec.kind} has no history on Binance futures", venue=self.venue)

    def _funding_pages(self, symbol: str, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
        default = self.interval_hours(symbol)
        cursor = start_ms
        prev_tail: pd.DataFrame | None = None
        for _ in range(MAX_PAGES):
            if cursor > end_ms:
                return
            rows = self.get_json("/fapi/v1/fundingRate", {
                "symbol": symbol, "startTime": cursor, "endTime": end_ms,
                "limit": FUNDING_LIMIT})
            frame, last = parse_funding_rates(rows, default, self.venue)
            if prev_tail is not None and len(frame):
                # The first row's interval is its spacing to the previous page's last row.
                gap = (frame.index[0] - prev_tail.index[-1]).total_seconds() / 3600.0
                if gap in PLAUSIBLE_INTERVALS:
                    frame = frame.copy()
                    frame.iloc[0, frame.columns.get_loc("interval_hours")] = gap
                    frame.iloc[0, frame.columns.get_loc("apr_pct")] = float(
                        annualize_funding(frame["rate"].iloc[0], gap))
            frame = between(frame, start_ms, end_ms)
            if len(frame):
                yield frame
                prev_tail = frame
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
