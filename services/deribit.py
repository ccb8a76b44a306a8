"""Deribit API v2 (JSON-RPC over HTTP GET): DVOL, perpetual funding, the option chain.

Every call is `GET /api/v2/public/<method>?<params>`. A success carries `result`; a failure carries
`error {code, message, data {reason, param}}`, with HTTP 400 in the captures seen and sometimes
200, so the body is read first whatever the status (`check_payload`):
- 10028 too_many_requests, 10066 too_many_concurrent_requests -> RateLimited
- 11051 system_maintenance, 13028 temporarily_unavailable -> VenueUnavailable
- 13020 not_found, or invalid params/arguments (-32602, 11029) naming the currency, the
  instrument or the index ("instrument not found", "invalid currency") -> UnknownSymbol
- anything else -> BadRequest

Series:
- VOL_INDEX (DVOL, vol points): `get_volatility_index_data`, paged backwards: while `continuation`
  is not null, ask again with `end_timestamp = continuation`.
- FUNDING: `get_funding_rate_history`, hourly rows, asked in ≤ 14-day windows (the answer is capped;
  the cap is not published). A row stamped exactly at `start_timestamp` is not returned, so each
  window asks from one millisecond before its first wanted hour.
  The stored rate is `interest_1h`: the funding actually accrued over that hour, per unit of
  position (interval_hours = 1, APR = rate × 8760 × 100). Deribit funds continuously, so the
  hourly accrual is the one per-period number; `interest_8h` is documented only as "8hour interest
  rate" (a trailing 8-hour figure in third-party docs) and real rows show it is not 8 × the same
  hour's `interest_1h`, so it is not used.
- FUNDING_NOW: `ticker` on the perpetual. `current_funding` is the instantaneous rate, which
  Deribit expresses as an 8-hour rate (support.deribit.com "Funding Specifications"): stored with
  interval_hours = 8. Perpetual open interest is in USD; the coin amount is OI / mark price. There
  is no discrete next funding time (funding accrues every millisecond): next_funding_ms is NaN.
- OPTION_CHAIN: `get_book_summary_by_currency?kind=option` plus `get_index_price`. Inverse options:
  prices are in coin, open interest in contracts of one coin, mark_iv in percent.
- BASIS / BASIS_CURVE (services/futures.py): `get_instruments?currency=<C>&kind=future` for each
  future's `expiration_timestamp` (the perpetual, `settlement_period` "perpetual", is left out),
  `get_book_summary_by_currency?currency=<C>&kind=future` for its `mark_price` (USD: inverse
  futures are quoted in USD) and `creation_timestamp`, `get_index_price` (`<c>_usd`) for the index.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import requests

from models.catalog import (
    BASIS,
    BASIS_CURVE,
    FUNDING,
    FUNDING_NOW,
    OPTION_CHAIN,
    VOL_INDEX,
    SeriesSpec,
)
from models.funding import annualize_funding
from models.options import parse_instrument
from models.series import MS_PER_DAY, MS_PER_HOUR, Snapshot
from services.config import Endpoints
from services.errors import (
    BadPayload,
    BadRequest,
    RateLimited,
    ServiceError,
    UnknownSymbol,
    VenueUnavailable,
)
from services.futures import CurveCache, FuturesCurve, basis_pages, curve_snapshot, make_curve
from services.http import HttpClient
from services.parsing import (  # FUNDING_NOW_COLUMNS: re-exported, the "now" table's columns
    FUNDING_NOW_COLUMNS,
    MAX_PAGES,
    between,
    make_frame,
    require,
    to_float,
    to_int,
    valid_candles,
)

API_PREFIX = "/api/v2/public"
DVOL_RESOLUTION = {"1m": "60", "1h": "3600", "12h": "43200", "1d": "1D"}
FUNDING_WINDOW_MS = 14 * MS_PER_DAY  # ≤ 337 hourly rows per answer
FUNDING_INTERVAL_HOURS = 1.0  # interest_1h
CURRENT_FUNDING_INTERVAL_HOURS = 8.0  # Deribit quotes funding as an 8-hour rate
# The credit pool refills in well under a second (10k credits/s); a few seconds is plenty.
RATE_LIMIT_WAIT_S = 5.0

RATE_LIMIT_CODES = frozenset({10028, 10066})
UNAVAILABLE_CODES = frozenset({11051, 13028})
NOT_FOUND_CODE = 13020
INVALID_PARAMS_CODES = frozenset({-32602, 11029})
SYMBOL_PARAMS = frozenset({"currency", "instrument_name", "index_name"})

CHAIN_COLUMNS = ("instrument_name", "expiry_ms", "strike", "option_type", "mark_iv",
                 "open_interest", "underlying_price", "mark_price", "bid_price", "ask_price")


def classify_error(error: Mapping[str, Any], status: int, venue: str = "deribit") -> ServiceError:
    """A JSON-RPC `error` object as the typed error the refresh acts on."""
    code = error.get("code")
    message = str(error.get("message", ""))
    data = error.get("data")
    reason = str(data.get("reason", "")) if isinstance(data, Mapping) else ""
    param = str(data.get("param", "")) if isinstance(data, Mapping) else ""
    detail = f"error {code}: {message}" + (f" ({reason}" + (f", {param}" if param else "") + ")"
                                           if reason or param else "")
    if status and status != 200:
        detail += f" [HTTP {status}]"
    if code in RATE_LIMIT_CODES:
        return RateLimited(f"rate limited, {detail}", venue=venue, retry_after=RATE_LIMIT_WAIT_S)
    if code in UNAVAILABLE_CODES:
        return VenueUnavailable(detail, venue=venue)
    if code == NOT_FOUND_CODE:
        return UnknownSymbol(f"unknown symbol, {detail}", venue=venue)
    if code in INVALID_PARAMS_CODES:
        text = f"{reason} {message}".lower()
        if param in SYMBOL_PARAMS or "instrument" in text or "currency" in text:
            return UnknownSymbol(f"unknown symbol, {detail}", venue=venue)
    return BadRequest(detail, venue=venue)


# -- parsers (one page of `result` each) -------------------------------------------------------
def parse_dvol(result: Any, venue: str = "deribit") -> pd.DataFrame:
    """`{"data": [[ts, open, high, low, close], ...], ...}` -> OHLC frame in vol points."""
    require(isinstance(result, Mapping), "volatility index: expected an object", venue)
    rows = result.get("data")
    require(isinstance(rows, list), "volatility index: `data` is not a list", venue)
    times: list[int] = []
    cols: dict[str, list[float]] = {"open": [], "high": [], "low": [], "close": []}
    for row in rows:
        require(isinstance(row, list) and len(row) >= 5,
                f"volatility index row needs 5 fields: {str(row)[:60]}", venue)
        times.append(to_int(row[0], "timestamp", venue))
        for i, name in enumerate(("open", "high", "low", "close"), start=1):
            cols[name].append(to_float(row[i]))
    return valid_candles(make_frame(times, cols))


def parse_funding_history(result: Any, venue: str = "deribit") -> pd.DataFrame:
    """Hourly rows -> rate (interest_1h), interval_hours (1), apr_pct; unusable rows dropped."""
    require(isinstance(result, list), "funding history: expected a list", venue)
    times: list[int] = []
    rates: list[float] = []
    for row in result:
        # A null rate is an unusable row (dropped below); no rate field at all is a changed shape.
        require(isinstance(row, Mapping) and "timestamp" in row and "interest_1h" in row,
                f"funding row without timestamp/interest_1h: {str(row)[:60]}", venue)
        times.append(to_int(row["timestamp"], "timestamp", venue))
        rates.append(to_float(row.get("interest_1h")))
    rate = np.asarray(rates, dtype=np.float64)
    keep = np.isfinite(rate)
    t = np.asarray(times, dtype=np.int64)[keep]
    rate = rate[keep]
    interval = np.full(len(rate), FUNDING_INTERVAL_HOURS)
    return make_frame(t, {"rate": rate, "interval_hours": interval,
                          "apr_pct": annualize_funding(rate, interval)})


def parse_book_summary(result: Any, currency: str,
                       venue: str = "deribit") -> tuple[pd.DataFrame, int | None]:
    """Option rows -> (chain frame, newest creation_timestamp or None).

    Every field but the name is optional (old captures have no mark_iv; bids can be null); rows
    whose name does not parse as a `currency` option are dropped (linear USDC options included).
    """
    require(isinstance(result, list), "book summary: expected a list", venue)
    out: dict[str, list[Any]] = {c: [] for c in CHAIN_COLUMNS}
    newest: int | None = None
    for row in result:
        if not isinstance(row, Mapping):
            continue
        try:
            oid = parse_instrument(str(row.get("instrument_name", "")))
        except ValueError:
            continue
        if oid.currency != currency:
            continue
        out["instrument_name"].append(str(row["instrument_name"]))
        out["expiry_ms"].append(float(oid.expiry_ms))
        out["strike"].append(oid.strike)
        out["option_type"].append(oid.kind)
        for name in ("mark_iv", "open_interest", "underlying_price", "mark_price", "bid_price",
                     "ask_price"):
            out[name].append(to_float(row.get(name)))
        created = to_float(row.get("creation_timestamp"))
        if math.isfinite(created):
            newest = int(created) if newest is None else max(newest, int(created))
    frame = pd.DataFrame({
        "instrument_name": pd.Series(out["instrument_name"], dtype=object),
        **{c: np.asarray(out[c], dtype=np.float64) for c in CHAIN_COLUMNS
           if c not in ("instrument_name", "option_type")},
        "option_type": pd.Series(out["option_type"], dtype=object),
    })[list(CHAIN_COLUMNS)]
    return frame.reset_index(drop=True), newest


def parse_perpetual_ticker(result: Any, venue: str = "deribit") -> tuple[pd.DataFrame, int | None]:
    """A perpetual's ticker -> the one-row FUNDING_NOW frame and its timestamp (ms)."""
    require(isinstance(result, Mapping), "ticker: expected an object", venue)
    rate = to_float(result.get("current_funding"))
    mark = to_float(result.get("mark_price"))
    oi_usd = to_float(result.get("open_interest"))  # perpetual OI is quoted in USD
    with np.errstate(invalid="ignore", divide="ignore"):
        oi_coin = oi_usd / mark if mark > 0 else math.nan
    row = {
        "rate": rate,
        "interval_hours": CURRENT_FUNDING_INTERVAL_HOURS,
        "apr_pct": float(annualize_funding(rate, CURRENT_FUNDING_INTERVAL_HOURS)),
        "next_funding_ms": math.nan,  # continuous funding: no next funding instant
        "mark_price": mark,
        "index_price": to_float(result.get("index_price")),
        "open_interest": oi_coin,
        "open_interest_usd": oi_usd,
    }
    stamp = to_float(result.get("timestamp"))
    frame = pd.DataFrame({k: [float(v)] for k, v in row.items()})[list(FUNDING_NOW_COLUMNS)]
    return frame, (int(stamp) if math.isfinite(stamp) else None)


def parse_future_expiries(result: Any, venue: str = "deribit") -> dict[str, int]:
    """`get_instruments?kind=future` -> {dated future's name: expiration_timestamp}."""
    require(isinstance(result, list), "instruments: expected a list", venue)
    out: dict[str, int] = {}
    for row in result:
        if not isinstance(row, Mapping) or row.get("settlement_period") == "perpetual":
            continue
        name, expiry = row.get("instrument_name"), to_float(row.get("expiration_timestamp"))
        if isinstance(name, str) and math.isfinite(expiry):
            out[name] = int(expiry)
    return out


def parse_future_marks(result: Any, venue: str = "deribit") -> tuple[dict[str, float], int | None]:
    """`get_book_summary_by_currency?kind=future` -> ({name: mark_price}, newest stamp)."""
    require(isinstance(result, list), "book summary: expected a list", venue)
    marks: dict[str, float] = {}
    newest: int | None = None
    for row in result:
        if not isinstance(row, Mapping) or not isinstance(row.get("instrument_name"), str):
            continue
        mark = to_float(row.get("mark_price"))
        if mark > 0:
            marks[row["instrument_name"]] = mark
        created = to_float(row.get("creation_timestamp"))
        if math.isfinite(created):
            newest = int(created) if newest is None else max(newest, int(created))
    return marks, newest


def _envelope_time_ms(envelope: Mapping[str, Any]) -> int | None:
    """The server's send time: `usOut` is in microseconds."""
    us = to_float(envelope.get("usOut"))
    return int(us) // 1000 if math.isfinite(us) else None


class DeribitClient(HttpClient):
    venue = "deribit"

    def __init__(self, endpoints: Endpoints, **kwargs: Any) -> None:
        super().__init__(endpoints["deribit"], **kwargs)
        self._curves = CurveCache()

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        if isinstance(payload, Mapping) and isinstance(payload.get("error"), Mapping):
            raise classify_error(payload["error"], status, self.venue)

    def call(self, method: str, **params: Any) -> tuple[Any, Mapping[str, Any]]:
        """(result, envelope) of `public/<method>`; BadPayload when there is no result."""
        payload = self.get_json(f"{API_PREFIX}/{method}", params)
        if not isinstance(payload, Mapping) or "result" not in payload:
            raise BadPayload(f"{method}: no `result` in {str(payload)[:80]}", venue=self.venue)
        return payload["result"], payload

    # -- history -------------------------------------------------------------------------------
    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        if spec.kind == VOL_INDEX:
            yield from self._dvol_pages(spec, symbol, start_ms, end_ms)
        elif spec.kind == FUNDING:
            yield from self._funding_pages(symbol, start_ms, end_ms)
        elif spec.kind == BASIS:
            yield from basis_pages(self.futures_curve(symbol), start_ms, end_ms)
        else:
            raise BadRequest(f"{spec.kind} has no history on Deribit", venue=self.venue)

    def _dvol_pages(self, spec: SeriesSpec, currency: str, start_ms: int,
                    end_ms: int) -> Iterator[pd.DataFrame]:
        resolution = DVOL_RESOLUTION.get(spec.interval)
        if resolution is None:
            raise BadRequest(f"no DVOL resolution for {spec.interval!r}", venue=self.venue)
        end = end_ms
        oldest: int | None = None  # the oldest row yielded so far
        for _ in range(MAX_PAGES):
            result, _env = self.call("get_volatility_index_data", currency=currency,
                                     start_timestamp=start_ms, end_timestamp=end,
                                     resolution=resolution)
            frame = parse_dvol(result, self.venue)
            # `end_timestamp` is inclusive, so the row stamped at the continuation can come back
            # on both pages: each page yields only rows older than everything yielded before.
            frame = between(frame, start_ms, end_ms if oldest is None else oldest - 1)
            if len(frame):
                oldest = int(frame.index.as_unit("ms").asi8[0])
                yield frame
            cont = result.get("continuation")
            if cont is None:
                return
            cont = to_int(cont, "continuation", self.venue)
            # Pages go backwards: stop once past the start, or if the cursor fails to move.
            if cont < start_ms or cont >= end:
                return
            end = cont

    def _funding_pages(self, instrument: str, start_ms: int,
                       end_ms: int) -> Iterator[pd.DataFrame]:
        cursor = start_ms  # the first wanted time of the next window
        while cursor <= end_ms:
            window_end = min(cursor + FUNDING_WINDOW_MS, end_ms)
            result, _env = self.call("get_funding_rate_history", instrument_name=instrument,
                                     start_timestamp=cursor - 1, end_timestamp=window_end)
            frame = between(parse_funding_history(result, self.venue), cursor, window_end)
            if len(frame):
                yield frame
            last = int(frame.index[-1].value // 1_000_000) if len(frame) else None
            # An answer that stops more than an hour short of its window was cut by a row cap:
            # continue after its last row instead of skipping the rest of the window.
            if last is not None and last < window_end - MS_PER_HOUR and last >= cursor:
                cursor = last + 1
            else:
                cursor = window_end + 1

    # -- snapshots -----------------------------------------------------------------------------
    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        if spec.kind == OPTION_CHAIN:
            return self._option_chain(spec, symbol)
        if spec.kind == FUNDING_NOW:
            return self._funding_now(spec, symbol)
        if spec.kind == BASIS_CURVE:
            return curve_snapshot(spec.id, self.futures_curve(symbol), symbol)
        raise BadRequest(f"{spec.kind} is not a Deribit snapshot", venue=self.venue)

    def _option_chain(self, spec: SeriesSpec, currency: str) -> Snapshot:
        result, envelope = self.call("get_book_summary_by_currency", currency=currency,
                                     kind="option")
        frame, newest = parse_book_summary(result, currency, self.venue)
        if not len(frame):
            raise BadPayload(f"no {currency} options in the book summary", venue=self.venue)
        index_result, _env = self.call("get_index_price", index_name=f"{currency.lower()}_usd")
        index_price = to_float(index_result.get("index_price")
                               if isinstance(index_result, Mapping) else None)
        if not index_price > 0:
            raise BadPayload(f"no index price for {currency}", venue=self.venue)
        time_ms = newest if newest is not None else _envelope_time_ms(envelope)
        if time_ms is None:
            raise BadPayload("option chain without a venue timestamp", venue=self.venue)
        return Snapshot(spec.id, time_ms, frame,
                        {"index_price": index_price, "currency": currency, "venue": self.venue})

    def _funding_now(self, spec: SeriesSpec, instrument: str) -> Snapshot:
        result, envelope = self.call("ticker", instrument_name=instrument)
        frame, stamp = parse_perpetual_ticker(result, self.venue)
        time_ms = stamp if stamp is not None else _envelope_time_ms(envelope)
        if time_ms is None:
            raise BadPayload("ticker without a timestamp", venue=self.venue)
        return Snapshot(spec.id, time_ms, frame, {"venue": self.venue, "symbol": instrument})

    # -- dated futures -------------------------------------------------------------------------
    def futures_curve(self, currency: str) -> FuturesCurve:
        return self._curves.get(currency, lambda: self._fetch_curve(currency))

    def _fetch_curve(self, currency: str) -> FuturesCurve:
        instruments, _env = self.call("get_instruments", currency=currency, kind="future")
        expiries = parse_future_expiries(instruments, self.venue)
        summary, envelope = self.call("get_book_summary_by_currency", currency=currency,
                                      kind="future")
        marks, newest = parse_future_marks(summary, self.venue)
        index_result, _env = self.call("get_index_price", index_name=f"{currency.lower()}_usd")
        index_price = to_float(index_result.get("index_price")
                               if isinstance(index_result, Mapping) else None)
        stamp = newest if newest is not None else _envelope_time_ms(envelope)
        if stamp is None:
            raise BadPayload("futures book summary without a timestamp", venue=self.venue)
        rows = [(name, expiry, marks[name]) for name, expiry in expiries.items() if name in marks]
        return make_curve(self.venue, stamp, rows, index_price)
