"""Rotation analytics: is BTC moving with stocks and metals, or on its own?

Everything is measured on *sessions*: the NYSE's trading days, each stamped at its close instant
as a tz-aware UTC timestamp. Session dates and close times come from the `exchange-calendars`
package (calendar XNYS, `models.sessions`): holidays are no session, a half day closes at 13:00
New York, a regular day at 16:00 (20:00 UTC in summer, 21:00 UTC in winter). BTC trades around
the clock, so it is sampled at those instants:

* `crypto_at_session_close`: from hourly bars, the last hourly close at or before the session
  close (an hourly bar stamped t closes at t + 1h), only when such a close lies within a
  tolerance (2 h) of the session close. A gap in the hourly data leaves the session out; nothing
  is forward-filled.
* `session_closes` on BTC's daily bars, the fallback only for sessions where no hourly data
  exists (before the hourly history starts or after it ends): the bar of UTC date D
  (00:00 → 00:00 next day) stands for the session of D. Its close comes 3–4 h *after* a regular
  equity close and 7–8 h after a half day's; the alternative, the previous bar's close at 00:00
  UTC of D, is 20 h stale and its return would overlap the equity session's return by only 4 h
  of 24 instead of 20, biasing correlations towards zero. A few hours of look-ahead is harmless
  for historical co-movement; it is not a trading signal. The catalog backfills BTC's hourly
  bars to 2017 so this fallback should not be needed within the peers' history.
  The same date rule is exact for equities.

Returns are log returns between consecutive sessions common to every input
(`aligned_log_returns`): a weekend is never a row (Saturday's BTC move lands in Monday's
return), a US holiday is simply absent (BTC's return across it spans two sessions), and no zero
return is ever invented.

`movers` (computed in `models.movers`, numpy only) works on each asset's own bars.

No Qt, no I/O: inputs are `SeriesData` (the cache's shape), outputs pandas objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from models.assets import ROTATION_PEERS
from models.movers import DEFAULT_DRAWDOWN_BASIS, MOVER_COLUMNS, mover_rows, valid_closes
from models.series import MS_PER_HOUR, SeriesData
from models.sessions import CALENDAR_NAME, session_close_times

if TYPE_CHECKING:
    from collections.abc import Mapping

SESSION_TOLERANCE_MS = 2 * MS_PER_HOUR
CORR_WINDOWS = (20, 60, 120)
BETA_WINDOW = 60
DECOUPLING_VOL_WINDOW = 60
PEERS = ROTATION_PEERS


# -- sessions ---------------------------------------------------------------------------------
def _empty_series(name: str) -> pd.Series:
    index = pd.DatetimeIndex(pd.to_datetime(np.empty(0, np.int64), unit="ms", utc=True),
                             name="time")
    return pd.Series(np.empty(0), index=index, name=name, dtype=np.float64)


def session_close_instants(dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The NYSE close instant (UTC) of each date (XNYS: 13:00 New York on half days, DST aware).

    Raises ValueError for a date that is no session (a weekend or an exchange holiday).
    """
    dates = pd.DatetimeIndex(dates)
    closes = session_close_times(dates)
    if closes.isna().any():
        missing = [d.date().isoformat() for d in dates[closes.isna()][:3]]
        raise ValueError(f"not NYSE sessions: {', '.join(missing)}")
    return closes.rename("time")


def session_closes(data: SeriesData, column: str = "close",
                   calendar: str = CALENDAR_NAME) -> pd.Series:
    """Daily bars → close per NYSE session, indexed by the session's close instant (UTC).

    A bar belongs to the UTC calendar date of its time stamp: Yahoo stamps a session at 00:00 or
    at the exchange open, both on the session date in UTC; a 24/7 daily bar (00:00 UTC) stands
    for the session of its own date (see the module note). Bars on dates that are no XNYS
    session (weekends, exchange holidays) are dropped: BTC's weekend moves, or a metal's move on
    a US holiday, land in the next session's return. Missing or non-positive closes are dropped.
    `calendar`: another exchange's sessions instead (a user's symbol listed elsewhere,
    models/symbols.py), by the same date rule.
    """
    t, v = valid_closes(data, column)
    if not len(t):
        return _empty_series(column)
    closes_at = session_close_times(pd.to_datetime(t, unit="ms"), calendar)
    is_session = np.asarray(closes_at.notna())
    series = pd.Series(v[is_session], index=closes_at[is_session].rename("time"), name=column)
    # Two bars on one date (e.g. a provisional and a final stamp): the later one wins.
    return series[~series.index.duplicated(keep="last")].sort_index()


def crypto_at_session_close(hourly: SeriesData, sessions: pd.Index, *,
                            bar_ms: int = MS_PER_HOUR,
                            tolerance_ms: int = SESSION_TOLERANCE_MS,
                            column: str = "close") -> pd.Series:
    """The last bar close at or before each session close, if it is at most `tolerance_ms` old.

    A bar stamped t closes at t + `bar_ms`. Sessions whose nearest earlier close is older than
    the tolerance (a gap in the data, or a session still in the future) are left out.
    """
    t, v = valid_closes(hourly, column)
    index = pd.DatetimeIndex(sessions).sort_values().unique()
    if not len(t) or not len(index):
        return _empty_series(column)
    if index.tz is None:
        index = index.tz_localize("UTC")
    session_ms = index.as_unit("ms").asi8
    close_ms = t + bar_ms
    pos = np.searchsorted(close_ms, session_ms, side="right") - 1
    found = pos >= 0
    age = np.where(found, session_ms - close_ms[np.maximum(pos, 0)], np.iinfo(np.int64).max)
    keep = found & (age <= tolerance_ms)
    return pd.Series(v[pos[keep]], index=index[keep].rename("time"), name=column,
                     dtype=np.float64)


def btc_session_closes(hourly: SeriesData | None, daily: SeriesData | None,
                       sessions: pd.Index) -> pd.Series:
    """BTC at each session close: the last hourly close at or before it.

    Daily bars (see `session_closes`) fill in only the sessions outside the hourly history
    (before its first bar or after its last); inside it, a gap in the hourly data stays a gap.
    """
    t, _ = (valid_closes(hourly) if hourly is not None
            else (np.empty(0, np.int64), np.empty(0)))
    sampled = (crypto_at_session_close(hourly, sessions) if len(t)
               else _empty_series("close"))
    if daily is None or not len(daily):
        return sampled
    older = session_closes(daily)
    if len(t):
        close_ms = older.index.as_unit("ms").asi8
        outside = (close_ms < t[0] + MS_PER_HOUR) | (close_ms > t[-1] + MS_PER_HOUR
                                                     + SESSION_TOLERANCE_MS)
        older = older[outside]
    wanted = pd.DatetimeIndex(sessions)
    if wanted.tz is None:
        wanted = wanted.tz_localize("UTC")
    older = older[older.index.isin(wanted)]
    if not len(sampled):
        return older
    return sampled.combine_first(older)


# -- returns and co-movement ------------------------------------------------------------------
def aligned_log_returns(closes: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Log returns between consecutive sessions common to all inputs (inner join, no fill).

    The first common session has no return and is not a row; non-positive or missing closes
    are treated as missing sessions (never a zero or infinite return).
    """
    names = list(closes)
    if not names:
        return pd.DataFrame()
    cleaned = []
    for name in names:
        s = pd.Series(closes[name], dtype=np.float64)
        s = s[np.isfinite(s.to_numpy()) & (s.to_numpy() > 0)]
        cleaned.append(s[~s.index.duplicated(keep="last")].rename(name))
    frame = pd.concat(cleaned, axis=1, join="inner").sort_index()
    frame.index.name = "time"
    if len(frame) < 2:
        return pd.DataFrame({n: np.empty(0) for n in names}, index=frame.index[:0])
    return np.log(frame).diff().iloc[1:]


def rolling_correlation(returns: pd.DataFrame, a: str, b: str, window: int) -> pd.Series:
    """Pearson correlation of columns a and b over the last `window` rows (NaN until full,
    NaN where either side is constant)."""
    x, y = returns[a].astype(np.float64), returns[b].astype(np.float64)
    roll_x = x.rolling(window, min_periods=window)
    cov = roll_x.cov(y)
    var_x = roll_x.var()
    var_y = y.rolling(window, min_periods=window).var()
    denom = (var_x * var_y).clip(lower=0.0) ** 0.5
    # A constant window has zero variance: its correlation is undefined, not ±inf.
    corr = cov.where(denom > 0) / denom.where(denom > 0)
    return corr.clip(-1.0, 1.0).rename("corr")


def rolling_beta(returns: pd.DataFrame, a: str, b: str, window: int) -> pd.Series:
    """Beta of a on b over the last `window` rows: cov(a, b) / var(b)."""
    x, y = returns[a].astype(np.float64), returns[b].astype(np.float64)
    cov = x.rolling(window, min_periods=window).cov(y)
    var_y = y.rolling(window, min_periods=window).var()
    return (cov / var_y.where(var_y > 0)).rename("beta")


def ratio_series(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den on the sessions both have, where den > 0."""
    frame = pd.concat([pd.Series(num, dtype=np.float64).rename("num"),
                       pd.Series(den, dtype=np.float64).rename("den")],
                      axis=1, join="inner").sort_index()
    frame = frame[np.isfinite(frame["num"]) & np.isfinite(frame["den"]) & (frame["den"] > 0)]
    out = (frame["num"] / frame["den"]).rename("ratio")
    out.index.name = "time"
    return out


def correlation_matrix(returns: pd.DataFrame) -> pd.DataFrame:
    """Pairwise Pearson correlation of the columns (pairwise-complete rows)."""
    return returns.astype(np.float64).corr(min_periods=3)


def decoupling_days(pair_returns: pd.DataFrame, corr: pd.Series, *, k: float,
                    corr_threshold: float, btc: str = "btc",
                    vol_window: int = DECOUPLING_VOL_WINDOW) -> pd.DataFrame:
    """Sessions where BTC moved more than k σ while its correlation with the peer was low.

    σ is the std of BTC's previous `vol_window` returns (the day itself excluded, so a shock
    does not dilute its own yardstick). Returns one row per flagged session, indexed by the
    session close (UTC, named "time"), with columns session (the same instant, for plotting),
    btc_ret, peer_ret (the other column's return), z and corr.
    """
    peers = [c for c in pair_returns.columns if c != btc]
    btc_ret = pair_returns[btc].astype(np.float64)
    prior_std = btc_ret.shift(1).rolling(vol_window, min_periods=vol_window).std()
    z = btc_ret / prior_std.where(prior_std > 0)
    aligned_corr = pd.Series(corr, dtype=np.float64).reindex(pair_returns.index)
    flagged = (z.abs() > k) & (aligned_corr < corr_threshold)  # NaN compares False
    index = pair_returns.index[flagged.to_numpy()]
    out = pd.DataFrame({
        "session": index,
        "btc_ret": btc_ret[flagged].to_numpy(),
        "peer_ret": (pair_returns.loc[flagged, peers[0]].to_numpy(np.float64) if peers
                     else np.full(len(index), np.nan)),
        "z": z[flagged].to_numpy(),
        "corr": aligned_corr[flagged].to_numpy(),
    }, index=pd.DatetimeIndex(index, name="time"))
    return out


# -- movers ---------------------------------------------------------------------------------
def movers(daily: Mapping[str, SeriesData], now_ms: int | None, *,
           hourly: Mapping[str, SeriesData] | None = None,
           asset_classes: Mapping[str, str] | None = None,
           drawdown_basis: str = DEFAULT_DRAWDOWN_BASIS) -> pd.DataFrame:
    """`models.movers.mover_rows` as a frame: one row per asset stem (the index)."""
    rows = mover_rows(daily, now_ms, hourly=hourly, asset_classes=asset_classes,
                      drawdown_basis=drawdown_basis)
    frame = pd.DataFrame.from_dict(rows, orient="index",
                                   columns=list(MOVER_COLUMNS), dtype=np.float64)
    frame.index.name = "asset"
    return frame
