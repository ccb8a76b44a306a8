"""Basis: the perpetual premium (mark against index) and dated futures' annualised basis.

Conventions (docs/basis.md; every one is tested by hand in tests/models/test_basis.py):

- **Premium** `premium_pct = (mark − index) / index × 100`, per venue, with the venue's own
  index (Hyperliquid: its oracle price). Negative: the perpetual trades at a discount, which is
  what negative funding pays for.
- **Basis** of a dated future `basis_pct = (future − index) / index × 100`, the future at its
  mark price (every venue publishes one; a last trade can be hours old on a far expiry), the
  index being the venue's own spot index for that future.
- **Days to expiry** `days = (expiry_ms − t_ms) / 86 400 000`: actual days, fractional.
- **Annualised basis** `apr_pct = basis_pct × 365 / days` (simple, actual/365, not
  compounded). Under `MIN_CURVE_DAYS` of life the annualised number is noise (a 0.01 % basis a
  day from expiry is 3.65 % APR) and is left out of the term structure.
- **Quarterly**: a crypto venue's quarterly future expires on the last Friday of March, June,
  September or December (08:00 UTC on Deribit, Binance and OKX). An expiry is quarterly when
  its UTC date is that Friday.
- **Front quarterly** (the history per venue): the earliest quarterly with more than
  `ROLL_DAYS` (7) days to go. Inside its last week a quarterly converges onto the index and its
  APR swings on a few dollars, so the history rolls to the next quarterly a week early.
- **CME Bitcoin futures** (Yahoo `BTC=F`, the continuous front month): a monthly contract for
  every month, expiring on the last Friday of its month, or the business day before when that
  Friday is a UK or US holiday (Good Friday is the one that has ever hit: March 2024 expired on
  Thursday the 28th); final settlement at 16:00 London time (the CME CF Bitcoin Reference
  Rate). The front month is the current month's contract until its expiry instant, then the
  next month's. CME basis is against spot (Binance BTC/USDT hourly closes): USDT, not USD, a
  difference of a few basis points that this ignores.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np

from models.series import MS_PER_DAY, SeriesData

DAYS_PER_YEAR = 365.0
ROLL_DAYS = 7.0
MIN_CURVE_DAYS = 1.0
QUARTER_MONTHS = (3, 6, 9, 12)
CRYPTO_EXPIRY_HOUR_UTC = 8
CME_SETTLEMENT_ZONE = "Europe/London"
CME_SETTLEMENT_HOUR = 16
BASIS_COLUMNS = ("future_price", "index_price", "days_to_expiry", "basis_pct", "apr_pct")


def premium_pct(mark: float, index: float) -> float:
    """The perpetual's premium over its index, in percent; NaN without a positive index."""
    if not (math.isfinite(mark) and math.isfinite(index)) or index <= 0:
        return math.nan
    return (mark - index) / index * 100.0


def basis_pct(future: np.ndarray | float, index: np.ndarray | float) -> np.ndarray:
    """(future − index) / index × 100; NaN where the index is not positive."""
    f = np.asarray(future, dtype=np.float64)
    i = np.asarray(index, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(i > 0, (f - i) / i * 100.0, np.nan)


def days_to_expiry(expiry_ms: np.ndarray | int, t_ms: np.ndarray | int) -> np.ndarray:
    """Actual days from t to expiry, fractional (negative once expired)."""
    return (np.asarray(expiry_ms, dtype=np.float64) - np.asarray(t_ms, dtype=np.float64)) \
        / MS_PER_DAY


def annualised_pct(basis: np.ndarray | float, days: np.ndarray | float) -> np.ndarray:
    """basis_pct × 365 / days (simple); NaN where days ≤ 0."""
    b = np.asarray(basis, dtype=np.float64)
    d = np.asarray(days, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d > 0, b * DAYS_PER_YEAR / d, np.nan)


def basis_row(future: float, index: float, expiry_ms: int, t_ms: int) -> dict[str, float]:
    """One stored BASIS row (models.catalog BASIS columns)."""
    days = float(days_to_expiry(expiry_ms, t_ms))
    b = float(basis_pct(future, index))
    return {"future_price": float(future), "index_price": float(index),
            "days_to_expiry": days, "basis_pct": b, "apr_pct": float(annualised_pct(b, days))}


# -- expiries -----------------------------------------------------------------------------------
def last_friday(year: int, month: int) -> dt.date:
    """The last Friday of a month."""
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    last = first_next - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - 4) % 7)


def _utc_date(t_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).date()


def is_quarterly_expiry(expiry_ms: int) -> bool:
    """True when the expiry's UTC date is the last Friday of March, June, September or December."""
    day = _utc_date(int(expiry_ms))
    return day.month in QUARTER_MONTHS and day == last_friday(day.year, day.month)


def front_quarterly(expiries_ms: Sequence[int], t_ms: int,
                    roll_days: float = ROLL_DAYS) -> int | None:
    """The earliest quarterly expiry more than `roll_days` after t; None when none is listed."""
    alive = sorted(int(e) for e in expiries_ms
                   if is_quarterly_expiry(int(e)) and (int(e) - t_ms) > roll_days * MS_PER_DAY)
    return alive[0] if alive else None


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (the anonymous Gregorian algorithm, "Meeus/Jones/Butcher")."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


def cme_expiry_day(year: int, month: int) -> dt.date:
    """The CME Bitcoin futures' last trading day: the month's last Friday, the Thursday before
    when that Friday is Good Friday (CME and London closed)."""
    day = last_friday(year, month)
    if day == easter_sunday(year) - dt.timedelta(days=2):
        day -= dt.timedelta(days=1)
    return day


@functools.lru_cache(maxsize=1024)  # pure; the CME basis asks once per hourly bar
def cme_expiry_ms(year: int, month: int) -> int:
    """16:00 London time on the last trading day, as UTC epoch ms (15:00 UTC in summer time)."""
    day = cme_expiry_day(year, month)
    local = dt.datetime(day.year, day.month, day.day, CME_SETTLEMENT_HOUR,
                        tzinfo=ZoneInfo(CME_SETTLEMENT_ZONE))
    return int(local.timestamp() * 1000)


def cme_front_expiry_ms(t_ms: int) -> int:
    """The front month's expiry at t: this month's contract until its expiry instant (exclusive:
    at the instant itself it has expired), then next month's."""
    day = _utc_date(int(t_ms))
    expiry = cme_expiry_ms(day.year, day.month)
    if t_ms < expiry:
        return expiry
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return cme_expiry_ms(year, month)


# -- term structure and CME basis -------------------------------------------------------------
CURVE_COLUMNS = ("venue", "instrument", "expiry_ms", "future_price", "index_price")


def term_structure(venue: Sequence[str], instrument: Sequence[str], expiry_ms: np.ndarray,
                   future: np.ndarray, index: np.ndarray, t_ms: int,
                   min_days: float = MIN_CURVE_DAYS) -> dict[str, dict[str, np.ndarray]]:
    """Per venue, its futures sorted by expiry with days, basis_pct and apr_pct, valued at t;
    contracts with `min_days` or less to go, and rows without a positive price, are left out."""
    expiry = np.asarray(expiry_ms, dtype=np.float64)
    days = days_to_expiry(expiry, t_ms)
    basis = basis_pct(future, index)
    apr = annualised_pct(basis, days)
    fut = np.asarray(future, dtype=np.float64)
    keep = (days > min_days) & np.isfinite(apr) & (fut > 0)
    names = np.asarray(venue, dtype=object)
    inst = np.asarray(instrument, dtype=object)
    out: dict[str, dict[str, np.ndarray]] = {}
    for key in dict.fromkeys(names[keep]):
        rows = np.flatnonzero(keep & (names == key))
        rows = rows[np.argsort(expiry[rows], kind="stable")]
        out[str(key)] = {"instrument": inst[rows], "expiry_ms": expiry[rows],
                         "days": days[rows], "basis_pct": basis[rows], "apr_pct": apr[rows],
                         "future_price": fut[rows],
                         "index_price": np.asarray(index, dtype=np.float64)[rows]}
    return out


def cme_basis(cme: SeriesData, spot: SeriesData, bar_ms: int = 3_600_000) -> SeriesData:
    """CME front-month basis against spot, at each CME bar with a spot bar of the same stamp
    (bars of `bar_ms` stamped at their open: both closes are the price at the end of the same
    hour). The expiry is the front month's at the bar's close."""
    if not len(cme) or not len(spot):
        return SeriesData.empty(BASIS_COLUMNS)
    common, ci, si = np.intersect1d(cme.time, spot.time, assume_unique=True,
                                    return_indices=True)
    future = cme["close"][ci]
    index = spot["close"][si]
    close_ms = common + bar_ms
    expiry = np.array([cme_front_expiry_ms(int(t)) for t in close_ms], dtype=np.int64)
    days = days_to_expiry(expiry, close_ms)
    basis = basis_pct(future, index)
    apr = np.where(days > MIN_CURVE_DAYS, annualised_pct(basis, days), np.nan)
    return SeriesData(common, {"future_price": future, "index_price": index,
                               "days_to_expiry": days, "basis_pct": basis, "apr_pct": apr})
