"""Movers: each asset's last price, 1D/1W/1M change, 30-return realised vol, z-score of the last
move and drawdown from its 52-week high (no cross-asset session alignment).

The horizons depend on the asset class, because a 24/7 market has no "session":

* crypto: rolling 24 h / 7 d / 30 d back from the last trade. The reference is the close of the
  bar that *ends* at or before last trade − horizon (a daily bar stamped 00:00 D ends at
  00:00 D+1, an hourly bar stamped t at t + 1 h); hourly bars, when given, make it precise to
  the hour. Returns for RV and z are the rolling 24 h returns on that same grid.
* everything else (Yahoo's indices, metals, FX): last close against the close 1, 5 and 21 of the
  asset's own sessions (daily bars) earlier; returns are session-to-session.

`COLUMN_DEFINITIONS` says this in one sentence per column (the table's header tooltips).

numpy only, so the movers dock fills at start-up without waiting for pandas to import
(`models.rotation.movers` gives the same rows as a DataFrame).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.assets import ASSETS
from models.assets import CRYPTO_STEMS as _CRYPTO_STEMS
from models.catalog import find_spec
from models.ids import price_id
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData

CRYPTO = "crypto"
SESSIONS = "sessions"  # any exchange-traded asset: horizons counted in its own sessions
CRYPTO_SOURCES = frozenset({"binance", "coinbase", "kraken"})
CRYPTO_STEMS = frozenset(_CRYPTO_STEMS)  # the old name
MOVER_COLUMNS = ("last", "chg_1d_pct", "chg_1w_pct", "chg_1m_pct", "rv30_pct", "z_1d",
                 "drawdown_52w_pct")
CRYPTO_HORIZON_DAYS = {"chg_1d_pct": 1, "chg_1w_pct": 7, "chg_1m_pct": 30}
SESSION_HORIZONS = {"chg_1d_pct": 1, "chg_1w_pct": 5, "chg_1m_pct": 21}
Z_LOOKBACK = 60  # previous daily returns behind the z-score of the last one
RV_RETURNS = 30
RV_DAYS = RV_RETURNS  # the old name
DRAWDOWN_DAYS = 365
# A crypto reference older than this before its instant is a gap in the data, not a price.
MAX_REFERENCE_AGE_MS = MS_PER_DAY

DRAWDOWN_BASES: dict[str, str] = {
    "close": "from the highest close of the last 52 weeks",
    "high": "from the highest intraday high of the last 52 weeks",
}
DEFAULT_DRAWDOWN_BASIS = "close"

COLUMN_DEFINITIONS: dict[str, str] = {
    "last": "The last traded price (the close of the newest bar, which may still be forming).",
    "chg_1d_pct": "Crypto: change over the last 24 h to the last trade; other assets: last close "
                  "against the previous session's close, in %.",
    "chg_1w_pct": "Crypto: change over the last 7 × 24 h to the last trade; other assets: last "
                  "close against the close 5 sessions earlier, in %.",
    "chg_1m_pct": "Crypto: change over the last 30 × 24 h to the last trade; other assets: last "
                  "close against the close 21 sessions earlier, in %.",
    "rv30_pct": "Realised vol: sample std of the last 30 daily log returns (rolling 24 h for "
                "crypto, session to session otherwise), annualised with √365 for crypto and √252 "
                "otherwise, in %.",
    "z_1d": "The last daily log return divided by the sample std of the 60 daily returns "
            "before it.",
    "drawdown_52w_pct": "Last price against the highest close (or intraday high, as chosen) of "
                        "the last 52 weeks, in % (≤ 0).",
}


#: each column's header (short: a half-width dock gives a column ~75 px) and its full name, which
#: the header's tooltip shows before the definition
COLUMN_HEADERS: dict[str, tuple[str, str]] = {
    "last": ("Last", "Last price"),
    "chg_1d_pct": ("1D %", "1-day change, %"),
    "chg_1w_pct": ("1W %", "1-week change, %"),
    "chg_1m_pct": ("1M %", "1-month change, %"),
    "rv30_pct": ("RV30 %", "30-day realised volatility, %"),
    "z_1d": ("z 1D", "z-score of the last daily move"),
    "drawdown_52w_pct": ("52w DD %", "Drawdown from the 52-week high, %"),
}


def asset_class_of(stem: str) -> str:
    """The asset table's class (`models.assets`, crypto or not); for a stem it lacks, CRYPTO
    when the catalog's daily bars come from a crypto exchange, else SESSIONS."""
    if stem in ASSETS:
        return CRYPTO if ASSETS[stem].asset_class.trades_24_7 else SESSIONS
    spec = find_spec(price_id(stem, "1d"))
    if spec is None:
        return SESSIONS
    return CRYPTO if spec.source in CRYPTO_SOURCES else SESSIONS


def drawdown_description(basis: str = DEFAULT_DRAWDOWN_BASIS) -> str:
    """The drawdown convention in words, for the screen ("from the highest close …")."""
    try:
        return DRAWDOWN_BASES[basis]
    except KeyError:
        raise ValueError(f"drawdown basis must be one of {sorted(DRAWDOWN_BASES)}, "
                         f"not {basis!r}") from None


def valid_closes(data: SeriesData, column: str = "close") -> tuple[np.ndarray, np.ndarray]:
    """(time_ms, close) of the rows with a usable price: finite and > 0 (logs follow)."""
    if column not in data.columns or not len(data):
        return np.empty(0, np.int64), np.empty(0)
    values = data[column]
    ok = np.isfinite(values) & (values > 0)
    return data.time[ok], values[ok]


def _pct_change(last: float, ref: float) -> float:
    return (last / ref - 1.0) * 100.0 if np.isfinite(ref) and ref > 0 else np.nan


def _sample_std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) >= 2 else np.nan


def _up_to(data: SeriesData | None, now_ms: int | None) -> SeriesData:
    if data is None:
        return SeriesData.empty(["close"])
    return data if now_ms is None else data.between(None, now_ms)


def _bar_ends(data: SeriesData, bar_ms: int, now_ms: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(instant each close was traded, close): a bar's end, or `now_ms` while it is forming."""
    t, v = valid_closes(data)
    ends = t + bar_ms
    return (ends if now_ms is None else np.minimum(ends, now_ms)), v


def _crypto_closes(daily: SeriesData, hourly: SeriesData | None,
                   now_ms: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Every known close of a 24/7 asset by the instant it was traded: hourly bars where they
    exist, daily bars before and after them."""
    d_end, d_close = _bar_ends(daily, MS_PER_DAY, now_ms)
    if hourly is None:
        return d_end, d_close
    h_end, h_close = _bar_ends(hourly, MS_PER_HOUR, now_ms)
    if not len(h_end):
        return d_end, d_close
    outside = (d_end < h_end[0]) | (d_end > h_end[-1])
    ends = np.concatenate([d_end[outside], h_end])
    closes = np.concatenate([d_close[outside], h_close])
    order = np.argsort(ends, kind="stable")
    return ends[order], closes[order]


def _closes_at(ends: np.ndarray, closes: np.ndarray, instants: np.ndarray) -> np.ndarray:
    """The close traded at or before each instant; NaN before the data or across a gap."""
    pos = np.searchsorted(ends, instants, side="right") - 1
    found = pos >= 0
    safe = np.maximum(pos, 0)
    fresh = found & (instants - ends[safe] < MAX_REFERENCE_AGE_MS)
    return np.where(fresh, closes[safe], np.nan)


def _crypto_row(row: dict[str, float], daily: SeriesData, hourly: SeriesData | None,
                now_ms: int | None) -> float:
    """Fill the rolling-window columns; return the last trade's instant."""
    ends, closes = _crypto_closes(daily, hourly, now_ms)
    last_ms = int(ends[-1])
    last = float(closes[-1])
    row["last"] = last
    # grid[k]: the price k × 24 h before the last trade (grid[0] is the last trade itself).
    steps = np.arange(Z_LOOKBACK + 2, dtype=np.int64)
    grid = _closes_at(ends, closes, last_ms - steps * MS_PER_DAY)
    grid[0] = last
    for column, days in CRYPTO_HORIZON_DAYS.items():
        row[column] = _pct_change(last, float(grid[days]))
    daily_returns = np.log(grid[:-1] / grid[1:])  # [k]: the 24 h ending k days before the last
    _fill_return_stats(row, daily_returns[::-1], 365)
    return last_ms


def _fill_return_stats(row: dict[str, float], returns: np.ndarray, days_per_year: int) -> None:
    """rv30_pct and z_1d from daily returns, oldest first (NaN where a return is unknown)."""
    recent = returns[-RV_RETURNS:]
    if len(recent) == RV_RETURNS and np.isfinite(recent).all():
        row["rv30_pct"] = _sample_std(recent) * np.sqrt(days_per_year) * 100.0
    if len(returns) >= Z_LOOKBACK + 1:
        window = returns[-Z_LOOKBACK - 1:]
        if np.isfinite(window).all():
            yardstick = _sample_std(window[:-1])
            row["z_1d"] = float(window[-1]) / yardstick if yardstick > 0 else np.nan


def _session_row(row: dict[str, float], v: np.ndarray) -> None:
    last = float(v[-1])
    row["last"] = last
    for column, sessions in SESSION_HORIZONS.items():
        if len(v) > sessions:
            row[column] = _pct_change(last, float(v[-1 - sessions]))
    _fill_return_stats(row, np.diff(np.log(v)), 252)


def _drawdown(data: SeriesData, last: float, since_ms: int, basis: str) -> float:
    column = "close" if basis == "close" else "high"
    t, v = valid_closes(data, column)
    window = v[t >= since_ms]
    if basis == "high" and not len(window):
        return np.nan  # no intraday highs: not the same number from closes
    peak = max(float(np.max(window)) if len(window) else last, last)
    return (last / peak - 1.0) * 100.0


def mover_row(stem: str, data: SeriesData, now_ms: int | None, *,
              hourly: SeriesData | None = None, asset_class: str | None = None,
              drawdown_basis: str = DEFAULT_DRAWDOWN_BASIS) -> dict[str, float]:
    """The MOVER_COLUMNS of one asset from its daily bars (and hourly, for crypto) up to `now_ms`.

    `now_ms` None: as of the data, every bar taken as complete (the demo). `asset_class`:
    CRYPTO for rolling windows, anything else for sessions; None asks the catalog
    (`asset_class_of`). See the module note and COLUMN_DEFINITIONS; NaN where unknown.
    drawdown_52w_pct is measured `drawdown_description(drawdown_basis)`, over the bars stamped
    in the 365 days before the last one.
    """
    drawdown_description(drawdown_basis)  # reject an unknown basis before any work
    daily = _up_to(data, now_ms)
    row = dict.fromkeys(MOVER_COLUMNS, np.nan)
    t, v = valid_closes(daily)
    crypto = (asset_class or asset_class_of(stem)) == CRYPTO
    if crypto:
        hourly = _up_to(hourly, now_ms) if hourly is not None else None
        if not len(t) and (hourly is None or not len(valid_closes(hourly)[0])):
            return row
        _crypto_row(row, daily, hourly, now_ms)
    else:
        if not len(t):
            return row
        _session_row(row, v)
    if len(t):
        since = int(t[-1]) - DRAWDOWN_DAYS * MS_PER_DAY + 1
        row["drawdown_52w_pct"] = _drawdown(daily, row["last"], since, drawdown_basis)
    return row


def mover_rows(daily: Mapping[str, SeriesData], now_ms: int | None, *,
               hourly: Mapping[str, SeriesData] | None = None,
               asset_classes: Mapping[str, str] | None = None,
               drawdown_basis: str = DEFAULT_DRAWDOWN_BASIS) -> dict[str, dict[str, float]]:
    """`mover_row` of every asset stem, in the order given. `hourly` and `asset_classes` are
    keyed by stem like `daily`; a stem missing from them gets no hourly bars / the catalog's
    class."""
    hourly = hourly or {}
    asset_classes = asset_classes or {}
    now = None if now_ms is None else int(now_ms)
    return {stem: mover_row(stem, data, now, hourly=hourly.get(stem),
                            asset_class=asset_classes.get(stem), drawdown_basis=drawdown_basis)
            for stem, data in daily.items()}
