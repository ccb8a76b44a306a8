"""Funding-rate normalisation: venues settle every 8h, 4h or 1h; traders compare annualised %.

apr_pct = rate × periods per year × 100, with 365 × 24 / interval_hours periods a year (perpetuals
settle every day of the year). 0.0001 per 8h and 0.0000125 per 1h are both 10.95 % APR.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.series import MS_PER_HOUR, SeriesData

HOURS_PER_YEAR = 365 * 24


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


def _hourly_apr(data: SeriesData, hours: np.ndarray) -> np.ndarray:
    """A venue's APR on an hourly grid: each settlement's rate holds for its own interval, then
    NaN (a gap in the venue's history is not filled with a stale rate)."""
    idx = np.searchsorted(data.time, hours, side="right") - 1
    out = np.full(len(hours), np.nan)
    ok = idx >= 0
    interval_ms = data["interval_hours"][np.clip(idx, 0, None)] * MS_PER_HOUR
    held = ok & (hours - data.time[np.clip(idx, 0, None)] < interval_ms)
    out[held] = data["apr_pct"][idx[held]]
    return out


def average_funding(series: Mapping[str, SeriesData], oi: Mapping[str, float] | None = None
                    ) -> tuple[SeriesData, str]:
    """The average APR across venues on a common hourly grid, weighted by open interest.

    Equal weights when any venue's open interest is unknown (the note says so). At each hour
    only venues with a current rate count; the weights renormalise over them.
    Returns (SeriesData with column apr_pct, a note for the legend).
    """
    venues = [v for v, d in series.items() if len(d)]
    if not venues:
        return SeriesData.empty(["apr_pct"]), "no data"
    start = min(int(series[v].time[0]) for v in venues)
    # The last settlement's rate holds for its interval: that is the period now running.
    end = max(int(series[v].time[-1] + series[v]["interval_hours"][-1] * MS_PER_HOUR) - 1
              for v in venues)
    hours = np.arange(start - start % MS_PER_HOUR, end + 1, MS_PER_HOUR, dtype=np.int64)
    grid = np.vstack([_hourly_apr(series[v], hours) for v in venues])
    missing = [v for v in venues if not oi or not np.isfinite(oi.get(v, np.nan))
               or oi.get(v, 0) <= 0]
    if missing:
        weights = np.ones(len(venues))
        note = ("equal-weighted" if not oi else
                f"equal-weighted (OI missing for {', '.join(missing)})")
    else:
        weights = np.array([float(oi[v]) for v in venues])  # type: ignore[index]
        note = "OI-weighted"
    w = np.where(np.isfinite(grid), weights[:, None], 0.0)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(total > 0, np.nansum(grid * w, axis=0) / total, np.nan)
    keep = np.isfinite(avg)
    return SeriesData(hours[keep], {"apr_pct": avg[keep]}), note


def funding_grid(series: Mapping[str, SeriesData], start_ms: int, end_ms: int
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """APR % of each venue on an hourly grid (the heatmap): (hour starts in ms, matrix[venue,
    hour], venues in registry order)."""
    from models.catalog import FUNDING_VENUES

    hours = np.arange(start_ms - start_ms % MS_PER_HOUR, end_ms + 1, MS_PER_HOUR, dtype=np.int64)
    venues = [v for v in FUNDING_VENUES if v in series and len(series[v])]
    grid = np.full((len(venues), len(hours)), np.nan)
    for row, venue in enumerate(venues):
        grid[row] = _hourly_apr(series[venue], hours)
    return hours, grid, venues


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
