"""Helpers every venue parser shares: shape checks, number conversion, row validation.

Parsers turn one page of a venue's JSON into a DataFrame with a UTC `DatetimeIndex` named "time"
and float64 columns. They raise `BadPayload` when the shape is wrong (a missing field, a list where
an object goes) and drop individual rows whose values are unusable (null, NaN, non-positive prices),
so the cache only ever gains valid rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from services.errors import BadPayload

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")


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
    frame = frame[~frame.index.duplicated(keep="last")]
    return frame.sort_index()


def valid_candles(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep rows whose OHLC are finite and positive and consistent (low <= open,close <= high).

    A null volume is kept as NaN (Yahoo sends null volume for indices); a row without prices is
    dropped.
    """
    if frame.empty:
        return frame
    ohlc = frame[["open", "high", "low", "close"]].to_numpy()
    ok = np.isfinite(ohlc).all(axis=1) & (ohlc > 0).all(axis=1)
    with np.errstate(invalid="ignore"):
        ok &= (ohlc[:, 2] <= ohlc[:, [0, 3]].min(axis=1) + 1e-9 * ohlc[:, 2])
        ok &= (ohlc[:, 1] >= ohlc[:, [0, 3]].max(axis=1) - 1e-9 * ohlc[:, 1])
    return frame[ok]


def finite_rows(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Drop rows where any of `columns` is NaN or infinite."""
    if frame.empty:
        return frame
    ok = np.isfinite(frame[list(columns)].to_numpy()).all(axis=1)
    return frame[ok]
