"""The demo's price series at every interval, derived when the dataset is read (no bytes shipped).

The bundled files hold hourly and daily bars (tools/build_demo.py). From them:

- **1m** (SYNTHETIC, like the whole demo): over the seed days (`MINUTES_FROM_MS` to the
  dataset's "now"), each hourly bar is split into minutes by a seeded random bridge from its
  open to its close that touches its high and its low, its volume split by random weights. The
  minutes aggregate back to the hourly bar exactly (OHLC; volume to rounding).
- **5m, 15m** from those minutes (`models/resample.py`, fixed UTC bins: 09:30 New York is on
  both grids).
- **4h**: crypto in fixed UTC bins from the hourly bars; the exchange assets (whose demo hours
  follow NYSE sessions, the E-mini futures' CME Globex sessions: read off the hourly bars
  themselves, no calendar is built) in 4-hour bins from each session's open, cut at its close.
- **1w**: crypto Monday 00:00 UTC weeks of the daily bars; the exchange assets' daily bars
  grouped by calendar week, stamped at the week's first daily bar (as Yahoo stamps a week).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np

from models.assets import ASSETS
from models.catalog import CANDLES, CATALOG, INTERVAL_MS
from models.ids import price_id
from models.resample import (
    WEEK_ANCHOR_MS,
    WEEK_MS,
    Sessions,
    aggregate,
    bin_open,
    resample_ohlcv,
    session_bins,
)
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData

#: part of the demo's fingerprint: a cache holding an older derivation is rewritten
DERIVATION = "intervals/2"
MINUTE_MS = 60_000
LAST_BAR_MS = 30 * MINUTE_MS  # NYSE hours' last bar: 15:30 (12:30) to the close
#: the demo's minutes start here (2026-01-31 00:00 UTC): the week up to the dataset's "now",
#: the sell-off's days 4-6 Feb in it, so the 1W range at 1m is full
MINUTES_FROM_MS = 1_769_817_600_000
#: wicks reach at most this share of a minute's body beyond it (inside the hour's range)
_WICK = 0.6


def complete_price_intervals(series: Mapping[str, SeriesData], now_ms: int
                             ) -> dict[str, SeriesData]:
    """Every price series of the catalog the dataset lacks, derived from the ones it has."""
    out: dict[str, SeriesData] = {}
    for stem in ASSETS:
        hourly = series.get(price_id(stem, "1h"))
        daily = series.get(price_id(stem, "1d"))
        if hourly is None or daily is None or price_id(stem, "1m") not in CATALOG:
            continue
        crypto = ASSETS[stem].asset_class.trades_24_7
        sessions = None if crypto else demo_sessions(hourly)
        minutes = bridge_minutes(hourly, _spans(hourly, sessions),
                                 seed=zlib.crc32(stem.encode()), start_ms=MINUTES_FROM_MS,
                                 end_ms=now_ms)
        made = {
            "1m": minutes,
            "5m": resample_ohlcv(minutes, INTERVAL_MS["5m"]),
            "15m": resample_ohlcv(minutes, INTERVAL_MS["15m"]),
            "4h": resample_ohlcv(hourly, INTERVAL_MS["4h"]) if sessions is None
            else session_bins(hourly, sessions, "4h"),
            "1w": _from(resample_ohlcv(daily, WEEK_MS), daily.time[0]) if crypto
            else weeks_of_days(daily),
        }
        for interval, data in made.items():
            sid = price_id(stem, interval)
            if sid not in series and sid in CATALOG and CATALOG[sid].kind == CANDLES:
                out[sid] = data
    return out


def _from(bars: SeriesData, first_ms: int) -> SeriesData:
    """Without the first bar when it would open before the rows do (a part of a week)."""
    keep = bars.time >= first_ms
    return SeriesData(bars.time[keep], {k: v[keep] for k, v in bars.columns.items()})


def demo_sessions(hourly: SeriesData) -> Sessions:
    """The demo's sessions, read off its hourly bars (no calendar is built): a session is a run
    of bars an hour apart. Bars stamped at :30 are NYSE regular hours, whose last bar is a half
    hour (tools/build_demo.py); bars on the hour are CME Globex hours (the E-mini futures),
    whose last bar is a whole one. A session counts for the UTC date it closes on (Globex's
    Sunday-evening open belongs to Monday)."""
    t = hourly.time
    first = np.flatnonzero(np.diff(t, prepend=t[0] - 2 * MS_PER_HOUR) > MS_PER_HOUR)
    last = np.append(first[1:], len(t)) - 1
    half = t[first] % MS_PER_HOUR == LAST_BAR_MS
    close = t[last] + np.where(half, LAST_BAR_MS, MS_PER_HOUR)
    day = (close - 1) - (close - 1) % MS_PER_DAY
    return Sessions(day, t[first], close)


def weeks_of_days(daily: SeriesData) -> SeriesData:
    """Daily bars grouped by the Monday-to-Sunday week of their UTC date, each week stamped at
    its first daily bar (Yahoo's weekly bars of an exchange asset)."""
    week = bin_open(daily.time, WEEK_MS, WEEK_ANCHOR_MS)
    first = np.searchsorted(week, week, side="left")
    bars, _ = aggregate(daily, daily.time[first])
    return bars


def _spans(hourly: SeriesData, sessions: Sessions | None) -> np.ndarray:
    """How long each hourly bar lasts: an hour, or up to its session's close (Yahoo's last
    regular-hours bar of a day is a half hour)."""
    t = hourly.time
    span = np.full(len(t), MS_PER_HOUR, dtype=np.int64)
    if sessions is None:
        return span
    idx = np.clip(np.searchsorted(sessions.open_ms, t, side="right") - 1, 0, None)
    return np.minimum(span, np.maximum(sessions.close_ms[idx] - t, MINUTE_MS))


def bridge_minutes(hourly: SeriesData, spans: np.ndarray, *, seed: int, start_ms: int,
                   end_ms: int) -> SeriesData:
    """Minute bars inside each hourly bar stamped in [start_ms, end_ms): a random walk pinned at
    the bar's open and close, stretched to touch its high and low (docstring above)."""
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero((hourly.time >= start_ms) & (hourly.time < end_ms))
    times, cols = [], {k: [] for k in ("open", "high", "low", "close", "volume")}
    for i in keep:
        o, h, lo, c = (float(hourly[k][i]) for k in ("open", "high", "low", "close"))
        n = int(spans[i] // MINUTE_MS)
        points = _bridge(rng, n, o, h, lo, c)
        body_hi = np.maximum(points[:-1], points[1:])
        body_lo = np.minimum(points[:-1], points[1:])
        reach = np.abs(np.diff(points)) * _WICK
        times.append(hourly.time[i] + MINUTE_MS * np.arange(n, dtype=np.int64))
        cols["open"].append(points[:-1])
        cols["close"].append(points[1:])
        cols["high"].append(np.minimum(h, body_hi + reach * rng.random(n)))
        cols["low"].append(np.maximum(lo, body_lo - reach * rng.random(n)))
        weights = rng.gamma(1.5, size=n)
        cols["volume"].append(float(hourly["volume"][i]) * weights / weights.sum())
    if not times:
        return SeriesData.empty(cols)
    return SeriesData(np.concatenate(times), {k: np.concatenate(v) for k, v in cols.items()})


def _bridge(rng: np.random.Generator, n: int, o: float, h: float, lo: float,
            c: float) -> np.ndarray:
    """n + 1 prices from o to c whose maximum is h and minimum lo (n ≥ 3)."""
    walk = np.concatenate(([0.0], np.cumsum(rng.standard_normal(n))))
    k = np.arange(n + 1) / n
    bridge = walk - k * walk[-1]  # 0 at both ends
    base = o + (c - o) * k
    inner = slice(1, n)
    top = 1 + int(np.argmax(bridge[inner]))
    bottom = 1 + int(np.argmin(bridge[inner]))
    if top == bottom:  # a flat walk: put the extremes apart
        top, bottom = 1, n - 1
    up, down = max(bridge[top], 1e-12), max(-bridge[bottom], 1e-12)
    scaled = np.where(bridge > 0, bridge * (h - base[top]) / up,
                      bridge * (base[bottom] - lo) / down)
    points = np.clip(base + scaled, lo, h)
    points[top], points[bottom] = h, lo  # exactly: the float arithmetic may miss by an ulp
    points[0], points[-1] = o, c
    return points

