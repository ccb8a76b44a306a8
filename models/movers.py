"""Movers: each asset's last price, 1D/1W/1M change, 30-day realised vol, z-score of the last
move and drawdown from its 52-week high, from its own daily bars (no session alignment).

numpy only, so the movers dock fills at start-up without waiting for pandas to import
(`models.rotation.movers` gives the same rows as a DataFrame).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.series import MS_PER_DAY, SeriesData

CRYPTO_STEMS = frozenset({"btc", "eth"})
MOVER_COLUMNS = ("last", "chg_1d_pct", "chg_1w_pct", "chg_1m_pct", "rv30_pct", "z_1d",
                 "drawdown_52w_pct")
Z_LOOKBACK = 60  # previous daily returns behind the z-score of the last one
RV_DAYS = 30
DRAWDOWN_DAYS = 365


def valid_closes(data: SeriesData, column: str = "close") -> tuple[np.ndarray, np.ndarray]:
    """(time_ms, close) of the rows with a usable price: finite and > 0 (logs follow)."""
    if column not in data.columns or not len(data):
        return np.empty(0, np.int64), np.empty(0)
    values = data[column]
    ok = np.isfinite(values) & (values > 0)
    return data.time[ok], values[ok]


def _close_at_or_before(t: np.ndarray, v: np.ndarray, when_ms: int) -> float:
    pos = int(np.searchsorted(t, when_ms, side="right")) - 1
    return float(v[pos]) if pos >= 0 else np.nan


def _pct_change(last: float, ref: float) -> float:
    return (last / ref - 1.0) * 100.0 if np.isfinite(ref) and ref > 0 else np.nan


def _sample_std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) >= 2 else np.nan


def mover_row(stem: str, data: SeriesData, now_ms: int) -> dict[str, float]:
    """The MOVER_COLUMNS of one asset from its daily bars up to `now_ms` (NaN where unknown).

    1W / 1M compare the last close with the last bar stamped at or before now − 7 / 30 calendar
    days. rv30_pct: std of the last 30 days' daily log returns, annualised √365 for crypto and
    √252 otherwise, in %. z_1d: the last log return over the std of the 60 before it (NaN with
    fewer). drawdown_52w_pct: last / highest close of the last 365 days − 1, in % (≤ 0).
    """
    t, v = valid_closes(data.between(None, now_ms))
    row = dict.fromkeys(MOVER_COLUMNS, np.nan)
    if not len(t):
        return row
    last = float(v[-1])
    row["last"] = last
    log_ret = np.diff(np.log(v))  # log_ret[i] is the return into bar i + 1
    if len(v) >= 2:
        row["chg_1d_pct"] = _pct_change(last, float(v[-2]))
    row["chg_1w_pct"] = _pct_change(last, _close_at_or_before(t, v, now_ms - 7 * MS_PER_DAY))
    row["chg_1m_pct"] = _pct_change(last, _close_at_or_before(t, v, now_ms - 30 * MS_PER_DAY))
    # RV: returns into bars stamped in the last 30 calendar days (30 for crypto, ~21 sessions
    # for exchange-traded assets), annualised by the asset's trading days per year.
    recent = log_ret[t[1:] > now_ms - RV_DAYS * MS_PER_DAY]
    days_per_year = 365 if stem in CRYPTO_STEMS else 252
    row["rv30_pct"] = _sample_std(recent) * np.sqrt(days_per_year) * 100.0
    if len(log_ret) >= Z_LOOKBACK + 1:
        yardstick = _sample_std(log_ret[-Z_LOOKBACK - 1:-1])
        row["z_1d"] = float(log_ret[-1]) / yardstick if yardstick > 0 else np.nan
    year_high = float(np.max(v[t > now_ms - DRAWDOWN_DAYS * MS_PER_DAY]))
    row["drawdown_52w_pct"] = (last / year_high - 1.0) * 100.0
    return row


def mover_rows(daily: Mapping[str, SeriesData], now_ms: int) -> dict[str, dict[str, float]]:
    """`mover_row` of every asset stem, in the order given."""
    return {stem: mover_row(stem, data, int(now_ms)) for stem, data in daily.items()}
