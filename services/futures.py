"""Dated futures, shared by the venue clients that list them (docs/basis.md).

Each client (Deribit, Binance USD-M, OKX) turns its venue's answers into one `FuturesCurve`:
every live dated future of one underlying with its expiry, mark price and the venue's index.
From it come both stored series:
- BASIS (`basis.<venue>.<asset>`): one row per poll, the front quarterly's basis
  (models/basis.py: front_quarterly), stamped with the venue's time. No venue serves this
  history key-less, so it grows from the polls; a range that ends before the curve's time gets
  no rows (the refresh then knows the venue keeps nothing older).
- BASIS_CURVE (`basiscurve.<asset>`): the curve as a snapshot table (CURVE_COLUMNS plus the
  venue's stamp), merged across venues by the refresh (`extra["merge_venues"]`).
A client keeps its last curve for CURVE_REUSE_S, so the two series polled together cost one
set of requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.basis import CURVE_COLUMNS, basis_row, front_quarterly
from models.series import Snapshot
from services.errors import BadPayload
from services.parsing import make_frame

CURVE_REUSE_S = 30.0


@dataclass(frozen=True)
class FuturesCurve:
    venue: str  # the stored series' venue key (binance, okx, deribit)
    time_ms: int  # the venue's own stamp of the marks
    instruments: tuple[str, ...]
    expiry_ms: np.ndarray
    future_price: np.ndarray  # mark prices, USD
    index_price: float

    def frame(self) -> pd.DataFrame:
        n = len(self.instruments)
        return pd.DataFrame({
            "venue": pd.Series([self.venue] * n, dtype=object),
            "instrument": pd.Series(list(self.instruments), dtype=object),
            "expiry_ms": self.expiry_ms.astype(np.float64),
            "future_price": self.future_price.astype(np.float64),
            "index_price": np.full(n, self.index_price),
            "time_ms": np.full(n, float(self.time_ms)),
        })[[*CURVE_COLUMNS, "time_ms"]]


def make_curve(venue: str, time_ms: int, rows: list[tuple[str, int, float]],
               index_price: float) -> FuturesCurve:
    """rows: (instrument, expiry_ms, mark) of the venue's live dated futures."""
    if not rows:
        raise BadPayload("no dated futures listed", venue=venue)
    if not index_price > 0:
        raise BadPayload("no index price for the futures", venue=venue)
    rows = sorted(rows, key=lambda r: r[1])
    return FuturesCurve(venue, int(time_ms), tuple(r[0] for r in rows),
                        np.array([r[1] for r in rows], dtype=np.int64),
                        np.array([r[2] for r in rows], dtype=np.float64), float(index_price))


def basis_pages(curve: FuturesCurve, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
    """The front quarterly's row at the curve's time, when that lies in [start_ms, end_ms]."""
    if not start_ms <= curve.time_ms <= end_ms:
        return
    expiry = front_quarterly(curve.expiry_ms.tolist(), curve.time_ms)
    if expiry is None:
        raise BadPayload("no quarterly future with more than a week to go", venue=curve.venue)
    i = int(np.flatnonzero(curve.expiry_ms == expiry)[0])
    row = basis_row(float(curve.future_price[i]), curve.index_price, expiry, curve.time_ms)
    yield make_frame([curve.time_ms], {k: [v] for k, v in row.items()})


def curve_snapshot(series_id: str, curve: FuturesCurve, symbol: str) -> Snapshot:
    return Snapshot(series_id, curve.time_ms, curve.frame(),
                    {"venue": curve.venue, "symbol": symbol})


class CurveCache:
    """The last curve per symbol for CURVE_REUSE_S (thread-safe: workers share a client)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._curves: dict[str, tuple[float, FuturesCurve]] = {}

    def get(self, symbol: str, fetch: Callable[[], FuturesCurve]) -> FuturesCurve:
        with self._lock:
            held = self._curves.get(symbol)
        if held is not None and time.monotonic() - held[0] < CURVE_REUSE_S:
            return held[1]
        curve = fetch()
        with self._lock:
            self._curves[symbol] = (time.monotonic(), curve)
        return curve
