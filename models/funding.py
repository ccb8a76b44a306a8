"""Funding-rate normalisation and the cross-venue average.

Venues settle every 8h, 4h or 1h; traders compare annualised %. apr_pct = rate × periods per
year × 100, with 365 × 24 / interval_hours periods a year (perpetuals settle every day of the
year). 0.0001 per 8h and 0.0000125 per 1h are both 10.95 % APR.

Timing convention (every hourly grid in this module):
- A settlement stamped t with interval I pays for the period that just ended: its rate covers
  [t − I, t). A Binance row at 08:00 is the funding of 00:00–08:00.
- Hour h of a grid is the hour [h, h + 1h). It takes the rate of the settlement that covers it:
  the first one stamped after h, if that one's period reaches back to h. An 8h and a 1h venue
  therefore line up hour by hour over the same period.
- The period now running (after a venue's last settlement) has no settled rate: it is left
  empty, not filled with the last settled rate. The current/predicted rate for it is in the
  `fundingnow.<venue>.<asset>` snapshot. The average ends where the period now running begins
  at the slowest venue still settling (`settled_span`), so its last hours are not the hourly
  venues alone.
- A gap in a venue's history stays a gap (NaN); no rate is carried across it.

Weights of the average (`funding_weights`): at each hour, each venue's open interest in USD at
that hour (the last OI row at or before the hour start, if no older than `OI_STALE_MS`), over
the venues that have both a settled rate and an OI then. A venue without OI at an hour is left
out of that hour; the others renormalise. Venues without any OI history (today OKX, Deribit and
Hyperliquid: the catalog has `oi.binance.*` and `oi.bybit.*` only) are therefore outside the
average wherever some venue has OI. At hours where no venue with a rate has OI (e.g. before the
~30 days of OI history), the venues with a rate are weighted equally. The note says which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from models.catalog import FUNDING_VENUES, venue_label
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData, Snapshot

HOURS_PER_YEAR = 365 * 24
# An OI reading older than this no longer weights an hour (Binance's 1h history has gaps of
# hours at most; two days means the series stopped).
OI_STALE_MS = 2 * MS_PER_DAY
OI_USD = "open_interest_usd"


def periods_per_year(interval_hours: float | np.ndarray) -> float | np.ndarray:
    return HOURS_PER_YEAR / np.asarray(interval_hours, dtype=np.float64) \
        if isinstance(interval_hours, np.ndarray) else HOURS_PER_YEAR / float(interval_hours)


def annualize_funding(rate: float | np.ndarray,
                      interval_hours: float | np.ndarray) -> float | np.ndarray:
    """The raw per-interval rate as an annualised percentage (APR, not compounded)."""
    return rate * periods_per_year(interval_hours) * 100.0


def per_8h(rate: float | np.ndarray, interval_hours: float | np.ndarray) -> float | np.ndarray:
    """The raw per-interval rate expressed per 8 hours, the unit most venues quote."""
    return rate * 8.0 / interval_hours


# -- the hourly grid ---------------------------------------------------------------------------
def hour_starts(start_ms: int, end_ms: int) -> np.ndarray:
    """Starts of the hours [h, h + 1h) from the one containing start_ms up to, not including,
    end_ms."""
    return np.arange(start_ms - start_ms % MS_PER_HOUR, end_ms, MS_PER_HOUR, dtype=np.int64)


def settled_apr(data: SeriesData, hours: np.ndarray, column: str = "apr_pct") -> np.ndarray:
    """Each hour's APR from the settlement whose period [t − interval, t) covers it, else NaN."""
    out = np.full(len(hours), np.nan)
    if not len(data):
        return out
    after = np.searchsorted(data.time, hours, side="right")  # the first settlement after h
    j = np.minimum(after, len(data) - 1)
    period_start = data.time[j] - data["interval_hours"][j] * MS_PER_HOUR
    covered = (after < len(data)) & (period_start <= hours)
    out[covered] = data[column][j[covered]]
    return out


def settled_span(series: Mapping[str, SeriesData]) -> tuple[int, int] | None:
    """[start, end) of the hours the average covers: from the earliest period start to where
    the period now running begins at the slowest venue still settling.

    A venue still settles if its next settlement is not yet due at the newest settlement of any
    venue (e.g. the 8h venues at 16:00 while the hourly ones are at 23:00): the average stops at
    16:00 rather than being the hourly venues alone for 7 hours. A venue whose history stopped
    longer ago does not hold the others back; it is simply absent from the later hours.
    """
    venues = [d for d in series.values() if len(d)]
    if not venues:
        return None
    start = min(int(d.time[0] - d["interval_hours"][0] * MS_PER_HOUR) for d in venues)
    newest = max(int(d.time[-1]) for d in venues)
    end = min(int(d.time[-1]) for d in venues
              if newest - d.time[-1] < d["interval_hours"][-1] * MS_PER_HOUR)
    return start, end


def _venues(series: Mapping[str, SeriesData]) -> list[str]:
    """Venues with data, the catalog's venues first in catalog order."""
    known = [v for v in FUNDING_VENUES if v in series and len(series[v])]
    return known + [v for v, d in series.items() if v not in FUNDING_VENUES and len(d)]


def funding_grid(series: Mapping[str, SeriesData], start_ms: int, end_ms: int
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """APR % of each venue on the hours [h, h + 1h) of [start_ms, end_ms), NaN where no
    settlement covers the hour (the heatmap).

    Returns (hour starts in ms, matrix[venue, hour], venues).
    """
    hours = hour_starts(start_ms, end_ms)
    venues = _venues(series)
    grid = np.full((len(venues), len(hours)), np.nan)
    for row, venue in enumerate(venues):
        grid[row] = settled_apr(series[venue], hours)
    return hours, grid, venues


# -- open interest -----------------------------------------------------------------------------
def oi_at(oi: SeriesData | None, hours: np.ndarray, column: str = OI_USD,
          stale_ms: int = OI_STALE_MS) -> np.ndarray:
    """The last positive OI at or before each hour start, NaN when none is younger than
    `stale_ms`."""
    out = np.full(len(hours), np.nan)
    if oi is None or not len(oi) or column not in oi.names:
        return out
    values = oi[column]
    ok = np.isfinite(values) & (values > 0)
    t, values = oi.time[ok], values[ok]
    if not len(t):
        return out
    i = np.searchsorted(t, hours, side="right") - 1
    j = np.maximum(i, 0)
    fresh = (i >= 0) & (hours - t[j] <= stale_ms)
    out[fresh] = values[j[fresh]]
    return out


def fill_oi_usd(oi: SeriesData, price: SeriesData | None, column: str = "close") -> SeriesData:
    """OI history with open_interest_usd filled as coins × the last price at or before each row
    where the venue gives coins only (Bybit's history)."""
    usd = oi[OI_USD].copy() if OI_USD in oi.names else np.full(len(oi), np.nan)
    missing = ~np.isfinite(usd)
    if price is None or not len(price) or not missing.any() or "open_interest" not in oi.names:
        return oi
    i = np.searchsorted(price.time, oi.time, side="right") - 1
    px = np.where(i >= 0, price[column][np.maximum(i, 0)], np.nan)
    usd[missing] = oi["open_interest"][missing] * px[missing]
    return SeriesData(oi.time, {**oi.columns, OI_USD: usd})


def oi_from_snapshots(snapshots: Iterable[Snapshot]) -> SeriesData:
    """An OI history (open_interest, open_interest_usd) from fundingnow snapshots, one row per
    snapshot; USD = coins × mark where the venue gives coins only."""
    rows: dict[int, tuple[float, float]] = {}
    for snap in snapshots:
        if snap.frame.empty:
            continue
        row = snap.frame.iloc[0]
        coins = float(row.get("open_interest", np.nan))
        usd = float(row.get(OI_USD, np.nan))
        if not np.isfinite(usd):
            usd = coins * float(row.get("mark_price", np.nan))
        rows[int(snap.time_ms)] = (coins, usd)
    t = sorted(rows)
    return SeriesData(np.asarray(t, dtype=np.int64),
                      {"open_interest": np.array([rows[x][0] for x in t], dtype=np.float64),
                       OI_USD: np.array([rows[x][1] for x in t], dtype=np.float64)})


# -- the average -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FundingWeights:
    """Per-hour inputs of the average: what each venue contributed and with which weight."""

    hours: np.ndarray  # hour starts (ms)
    venues: list[str]
    apr: np.ndarray  # [venue, hour] settled APR %, NaN where none
    oi_usd: np.ndarray  # [venue, hour] OI in USD used for the weight, NaN where none
    weights: np.ndarray  # [venue, hour] summing to 1 over venues where the hour has any, else 0
    oi_weighted: np.ndarray  # [hour] True: weights are OI shares; False: equal weights
    note: str


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def funding_weights(series: Mapping[str, SeriesData],
                    oi: Mapping[str, SeriesData | None] | None = None,
                    hours: np.ndarray | None = None) -> FundingWeights:
    """The weights of the cross-venue average at each hour (see the module docstring)."""
    venues = _venues(series)
    if hours is None:
        span = settled_span({v: series[v] for v in venues})
        hours = hour_starts(*span) if span else np.empty(0, np.int64)
    apr = np.full((len(venues), len(hours)), np.nan)
    oi_usd = np.full((len(venues), len(hours)), np.nan)
    for row, venue in enumerate(venues):
        apr[row] = settled_apr(series[venue], hours)
        oi_usd[row] = oi_at((oi or {}).get(venue), hours)
    has_rate = np.isfinite(apr)
    usable = has_rate & np.isfinite(oi_usd)
    oi_weighted = usable.any(axis=0)
    raw = np.where(oi_weighted[None, :], np.where(usable, oi_usd, 0.0), has_rate.astype(float))
    total = raw.sum(axis=0)
    weights = np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)
    return FundingWeights(hours, venues, apr, oi_usd, weights, oi_weighted,
                          _weights_note(venues, hours, has_rate, usable, oi_weighted))


def _weights_note(venues: list[str], hours: np.ndarray, has_rate: np.ndarray,
                  usable: np.ndarray, oi_weighted: np.ndarray) -> str:
    """The legend text: which venues carry OI weights, which have none, where weights are
    equal."""
    if not len(hours):
        return "no data"
    labels = [venue_label(v) for v in venues]
    with_oi = [name for name, row in zip(labels, usable, strict=True) if row.any()]
    without = [name for name, row in zip(labels, usable, strict=True) if not row.any()]
    if not with_oi:
        return "equal-weighted (no OI)"
    note = f"OI-weighted ({', '.join(with_oi)})"
    if without:
        note += f"; no OI: {', '.join(without)}"
    equal = has_rate.any(axis=0) & ~oi_weighted
    if equal.any():
        first_oi = int(hours[np.argmax(oi_weighted)])
        if hours[equal].max() < first_oi:
            note += f"; equal-weighted before {_when(first_oi)} (no OI then)"
        else:
            note += f"; equal-weighted for {int(equal.sum())} h without OI"
    return note


def average_funding(series: Mapping[str, SeriesData],
                    oi: Mapping[str, SeriesData | None] | None = None
                    ) -> tuple[SeriesData, str]:
    """The average APR across venues on the hourly grid, weighted by each venue's open interest
    in USD at each hour (`funding_weights`).

    `oi[venue]` is an OI history with column open_interest_usd. Returns (SeriesData with column
    apr_pct, one row per hour start, settled hours only; the note for the legend).
    """
    w = funding_weights(series, oi)
    if not len(w.hours):
        return SeriesData.empty(["apr_pct"]), w.note
    has = w.weights.sum(axis=0) > 0
    avg = np.nansum(np.where(w.weights > 0, w.apr, 0.0) * w.weights, axis=0)
    return SeriesData(w.hours[has], {"apr_pct": avg[has]}), w.note


def settlement_steps(data: SeriesData, column: str = "apr_pct") -> tuple[np.ndarray, np.ndarray]:
    """A venue's settlements as steps over the periods they paid for: (x_ms, y) with each rate
    held from t − interval to t (the timing convention above), so the venue lines sit on the
    same hours as the average and the heatmap. Adjacent periods join; a gap stays a gap."""
    if not len(data):
        return np.empty(0, dtype=np.int64), np.empty(0)
    ends = data.time
    starts = ends - (data["interval_hours"] * MS_PER_HOUR).astype(np.int64)
    values = data[column]
    gap = np.r_[False, starts[1:] > ends[:-1]]  # a hole before this period
    n = len(ends)
    x = np.empty(3 * n, dtype=np.int64)
    y = np.empty(3 * n)
    x[0::3], x[1::3], x[2::3] = starts, ends, ends
    y[0::3], y[1::3], y[2::3] = values, values, np.nan
    keep = np.ones(3 * n, dtype=bool)
    keep[2::3] = np.r_[gap[1:], False]  # the NaN break only where the next period is apart
    return x[keep], y[keep]


def negative_periods(avg: SeriesData, column: str = "apr_pct") -> list[tuple[int, int]]:
    """(start_ms, end_ms) of each run of consecutive hours with a negative average."""
    if not len(avg):
        return []
    negative = avg[column] < 0
    step = int(np.median(np.diff(avg.time))) if len(avg) > 1 else MS_PER_HOUR
    periods: list[tuple[int, int]] = []
    start: int | None = None
    prev_t: int | None = None
    for t, neg in zip(avg.time.tolist(), negative.tolist(), strict=True):
        contiguous = prev_t is not None and t - prev_t <= step
        if neg and start is not None and not contiguous:
            periods.append((start, prev_t + step))  # type: ignore[operator]
            start = t
        elif neg and start is None:
            start = t
        elif not neg and start is not None:
            periods.append((start, t))
            start = None
        prev_t = t
    if start is not None and prev_t is not None:
        periods.append((start, prev_t + step))
    return periods


def oi_change_pct(oi: SeriesData, hours: int = 24, column: str = "open_interest") -> float:
    """% change of open interest over the last `hours` (NaN without a row that old)."""
    if len(oi) < 2:
        return float("nan")
    last_t = int(oi.time[-1])
    i = int(np.searchsorted(oi.time, last_t - hours * MS_PER_HOUR, side="right")) - 1
    if i < 0:
        return float("nan")
    then, now = float(oi[column][i]), float(oi[column][-1])
    if not (np.isfinite(then) and np.isfinite(now)) or then <= 0:
        return float("nan")
    return (now / then - 1.0) * 100.0
