"""Helpers every venue parser shares: shape checks, number conversion, row validation.

Parsers turn one page of a venue's JSON into a DataFrame with a UTC `DatetimeIndex` named "time"
and float64 columns. They raise `BadPayload` when the shape is wrong (a missing field, a list where
an object goes) and drop individual rows whose values are unusable (null, NaN, non-positive prices),
so the cache only ever gains valid rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.catalog import SeriesSpec, validate_symbol
from models.funding import annualize_funding
from models.series import (
    DUPLICATE_CONFLICTS,
    MS_PER_HOUR,
    collapse_repeats,
    now_ms,  # noqa: F401  (for the venue clients)
)
from services.errors import BadPayload, BadRequest

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
FUNDING_NOW_COLUMNS = ("rate", "interval_hours", "apr_pct", "next_funding_ms", "mark_price",
                       "index_price", "open_interest", "open_interest_usd")
DEFAULT_INTERVAL_HOURS = 8.0
# Settlement intervals venues actually use; any other spacing is a gap in the history.
PLAUSIBLE_INTERVALS = frozenset({1.0, 2.0, 4.0, 6.0, 8.0})
MAX_PAGES = 10_000  # a venue whose cursor never ends cannot spin forever
# History is asked from this much before the range, so the range's first row has the previous
# settlement to measure its interval against (it is not kept).
INTERVAL_LOOKBACK_MS = int(max(PLAUSIBLE_INTERVALS) * MS_PER_HOUR)


def require(condition: object, message: str, venue: str = "") -> None:
    if not condition:
        raise BadPayload(message, venue=venue)


def field(row: Mapping[str, Any], name: str, venue: str = "") -> Any:
    """row[name], or a BadPayload naming the missing field."""
    try:
        return row[name]
    except (KeyError, TypeError, IndexError):
        raise BadPayload(f"missing field {name!r} in {str(row)[:80]}", venue=venue) from None


def to_float(value: Any) -> float:
    """A venue number (JSON number or numeric string) as float; NaN for null/empty/garbage."""
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def to_int(value: Any, name: str = "time", venue: str = "") -> int:
    """An integer timestamp given as a number or a string."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise BadPayload(f"{name} is not a number: {value!r}", venue=venue) from None
        if not math.isfinite(f):
            raise BadPayload(f"{name} is not finite: {value!r}", venue=venue) from None
        return int(f)


def make_frame(time_ms: Sequence[int] | np.ndarray, columns: Mapping[str, Any]) -> pd.DataFrame:
    """Build the standard page frame: UTC index named 'time', float64 columns, sorted, unique."""
    t = np.asarray(time_ms, dtype=np.int64)
    index = pd.DatetimeIndex(pd.to_datetime(t, unit="ms", utc=True), name="time")
    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()},
                         index=index)
    conflicts = repeated_time_conflicts(t, columns)
    frame = frame[~frame.index.duplicated(keep="last")]
    frame = frame.sort_index()
    if conflicts:
        frame.attrs[DUPLICATE_CONFLICTS] = conflicts
    return frame


def repeated_time_conflicts(time_ms: np.ndarray, columns: Mapping[str, Any]) -> int:
    """Rows that repeat a time with values different from the last row for that time."""
    if len(time_ms) < 2 or np.all(time_ms[1:] > time_ms[:-1]):
        return 0
    return collapse_repeats(time_ms, {k: np.asarray(v, dtype=np.float64)
                                      for k, v in columns.items()})[2]


def valid_candles(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep rows whose OHLC are finite and positive and consistent (low <= open,close <= high).

    A null volume is kept as NaN (Yahoo sends null volume for indices); a row without prices is
    dropped.
    """
    if frame.empty:
        return frame
    return frame[candles_ok(frame[["open", "high", "low", "close"]].to_numpy())]


def candles_ok(ohlc: np.ndarray) -> np.ndarray:
    """Row mask of `valid_candles` for an (n, 4) open/high/low/close array."""
    ok = np.isfinite(ohlc).all(axis=1) & (ohlc > 0).all(axis=1)
    with np.errstate(invalid="ignore"):
        ok &= (ohlc[:, 2] <= ohlc[:, [0, 3]].min(axis=1) + 1e-9 * ohlc[:, 2])
        ok &= (ohlc[:, 1] >= ohlc[:, [0, 3]].max(axis=1) - 1e-9 * ohlc[:, 1])
    return ok


def candles_frame(time_ms: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """`valid_candles(make_frame(...))` for int64 times and an (n, 5) OHLCV float array.

    The usual page (strictly ascending times) is filtered in numpy and becomes one DataFrame,
    instead of the three pandas frames and index passes the general path builds.
    """
    t = np.asarray(time_ms, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    if len(t) < 2 or not np.all(t[1:] > t[:-1]):
        return valid_candles(make_frame(t, dict(zip(CANDLE_COLUMNS, v.T, strict=True))))
    ok = candles_ok(v[:, :4])
    t, v = t[ok], v[ok]
    index = pd.DatetimeIndex(pd.to_datetime(t, unit="ms", utc=True), name="time")
    return pd.DataFrame({k: np.ascontiguousarray(v[:, i]) for i, k in enumerate(CANDLE_COLUMNS)},
                        index=index)


def finite_rows(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Drop rows where any of `columns` is NaN or infinite."""
    if frame.empty:
        return frame
    ok = np.isfinite(frame[list(columns)].to_numpy()).all(axis=1)
    return frame[ok]


# -- helpers shared by the perpetual venues ---------------------------------------------------
def spec_interval_hours(spec: SeriesSpec, fallback: float = DEFAULT_INTERVAL_HOURS) -> float:
    """The catalog's settlement interval of a funding series, in hours."""
    ms = spec.interval_ms
    return ms / MS_PER_HOUR if ms else fallback


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


def with_first_interval(frame: pd.DataFrame, previous_ms: int) -> pd.DataFrame:
    """The page with its first row's interval (and APR) measured from the previous settlement
    at `previous_ms`, when that spacing is a plausible interval; else unchanged."""
    if frame.empty:
        return frame
    first_ms = int(frame.index[:1].as_unit("ms").asi8[0])
    gap = (first_ms - previous_ms) / MS_PER_HOUR
    if gap not in PLAUSIBLE_INTERVALS:
        return frame
    frame = frame.copy()
    rate = float(frame["rate"].iloc[0])
    frame.iloc[0, frame.columns.get_loc("interval_hours")] = gap
    frame.iloc[0, frame.columns.get_loc("apr_pct")] = float(annualize_funding(rate, gap))
    return frame


def intervals_across_pages(pages_newest_first: Iterable[pd.DataFrame]
                           ) -> Iterator[pd.DataFrame]:
    """FUNDING pages fetched newest first, each with its oldest row's interval taken from the
    next (older) page's newest row: within a page that row has no previous settlement, so
    `funding_frame` gave it today's interval. A page is held until the older one arrives."""
    pending: pd.DataFrame | None = None
    for page in pages_newest_first:
        if page.empty:
            continue
        if pending is not None:
            yield with_first_interval(pending, int(page.index[-1:].as_unit("ms").asi8[0]))
        pending = page
    if pending is not None:
        yield pending


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
