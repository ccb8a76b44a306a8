"""Squeeze anatomy: the quantities a squeeze is read from, on one hourly grid, and its regime.

Everything is computed per hourly price bar (bars stamped at their open h, covering [h, h + 1 h)),
as of the bar's close h + 1 h. Conventions, each tested against hand-computed values in
tests/models/test_squeeze.py:

- **Price change** over the window W (hours): (C_h / C_(h − W) − 1) × 100, with C the bar
  closes; NaN when the bar W hours earlier is missing.
- **OI-weighted funding APR** of bar h: each venue's APR for the hour [h, h + 1 h) (the settlement
  that pays for it, `models.funding.settled_apr`; a settlement at t pays for [t − interval, t)),
  weighted by the venue's open interest in USD at h (the last OI row at or before h, no older
  than `models.funding.OI_STALE_MS`). A venue without OI at h is left out of that hour and the
  others renormalise; where no venue with a rate has OI the venues with a rate weigh equally
  (the rule of `fundingavg.<asset>`). The hours after a venue's last settlement (the period now
  running) take the venue's current rate from its `fundingnow` snapshot, up to the snapshot's
  time, if that snapshot lies inside the running period: otherwise the newest hours would wait
  up to 8 h for the slow venues to settle.
- **OI change** over W: coin open interest summed across the OI venues, each venue's value the
  last row at or before the instant and no older than `OI_MAX_AGE_MS`;
  (Σ_v OI_v(h + 1 h) / Σ_v OI_v(h + 1 h − W) − 1) × 100 over the venues known at both instants
  (a venue missing at either is left out of both sums, so a venue's history starting or
  stopping is no change of open interest).
- **Liquidations** of bar h: the reported USD of the minute buckets in [h, h + 1 h), summed over
  the venues (`liq.<venue>.<asset>`, long = longs liquidated). Hours between the first and the
  last stored bucket count as 0 when empty; outside that span they are unknown (NaN).
  *Elevated*: the ratio of the mean hourly USD of the W bars ending at h to the usual amount,
  the median hourly USD of the `BASELINE_HOURS` before those W bars (known hours only, at least
  `MIN_BASELINE_HOURS` of them). A median of 0 makes any liquidation infinitely elevated
  (ratio +inf) and none a ratio of 0.
- **Regime** of bar h (`SqueezeThresholds`): *short squeeze* (+1) when funding APR < f, OI change
  < o, price change > p and the short-liquidation ratio > L; *long flush* (−1) the mirror:
  funding APR > −f, OI change < o (positions are closed in both), price change < −p, long ratio
  > L; 0 otherwise; NaN when an input is unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from models.catalog import venue_label
from models.funding import oi_at, settled_apr
from models.series import MS_PER_HOUR, SeriesData

SHORT_SQUEEZE = 1
LONG_FLUSH = -1
REGIME_NAMES = {SHORT_SQUEEZE: "short squeeze", LONG_FLUSH: "long flush"}
#: the usual liquidations: the median hour of the 30 days before the window
BASELINE_HOURS = 30 * 24
MIN_BASELINE_HOURS = 24
#: an OI row older than this does not count for the OI change (the venues serve hourly rows)
OI_MAX_AGE_MS = 2 * MS_PER_HOUR
WINDOWS_HOURS = (2, 4, 6, 8, 12, 24)
#: the range each threshold may be set to (the dock's boxes and a workspace file's check)
SQUEEZE_LIMITS = {"funding_apr_max": (-200.0, 200.0), "oi_change_max_pct": (-50.0, 50.0),
                  "price_change_min_pct": (0.0, 50.0), "liq_multiple": (0.0, 100.0)}


@dataclass(frozen=True)
class SqueezeThresholds:
    """What the regime needs, set by the trader in the squeeze dock (defaults below)."""

    window_hours: int = 6  # W: changes and liquidations over the last W hourly bars
    funding_apr_max: float = 0.0  # f: short squeeze when funding APR % < f (long flush > −f)
    oi_change_max_pct: float = -0.5  # o: OI change % over W < o (both regimes)
    price_change_min_pct: float = 1.5  # p: price change % over W > p (long flush < −p)
    liq_multiple: float = 3.0  # L: liquidations over W > L × the usual hourly amount

    def __post_init__(self) -> None:
        if self.window_hours not in WINDOWS_HOURS:
            raise ValueError(f"window_hours must be one of {WINDOWS_HOURS}")
        for name, (lo, hi) in SQUEEZE_LIMITS.items():
            if not lo <= getattr(self, name) <= hi:
                raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}]")

    def as_params(self) -> dict[str, float | int]:
        return asdict(self)

    def describe(self) -> str:
        """The rule in words, with these numbers (shown on screen and written to exports)."""
        w = self.window_hours
        return (f"short squeeze: funding < {self.funding_apr_max:+g} % APR, OI Δ{w}h < "
                f"{self.oi_change_max_pct:+g} %, price Δ{w}h > +{self.price_change_min_pct:g} %,"
                f" short liquidations > {self.liq_multiple:g}× usual; long flush: funding > "
                f"{-self.funding_apr_max:+g} % APR, OI Δ{w}h < {self.oi_change_max_pct:+g} %, "
                f"price Δ{w}h < −{self.price_change_min_pct:g} %, long liquidations > "
                f"{self.liq_multiple:g}× usual")


# -- price ------------------------------------------------------------------------------------
def price_change_pct(bars: SeriesData, window_hours: int) -> np.ndarray:
    """(C_h / C_(h − W) − 1) × 100 per bar; NaN where the bar W hours earlier is missing."""
    out = np.full(len(bars), np.nan)
    if not len(bars):
        return out
    close = bars["close"]
    earlier = bars.time - window_hours * MS_PER_HOUR
    j = np.searchsorted(bars.time, earlier)
    found = (j < len(bars)) & (bars.time[np.minimum(j, len(bars) - 1)] == earlier)
    then = close[np.minimum(j, len(bars) - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        change = (close / then - 1.0) * 100.0
    out[found] = change[found]
    return out


# -- funding ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunningRate:
    """A venue's current (predicted) funding for the period now running: its `fundingnow`
    snapshot's APR at the snapshot's time."""

    time_ms: int
    apr_pct: float


def venue_hourly_apr(settled: SeriesData, hours: np.ndarray,
                     running: RunningRate | None = None) -> np.ndarray:
    """The venue's APR for each hour [h, h + 1 h): the settlement that pays for it, else, after
    the last settlement, the running rate up to the snapshot (if the snapshot lies inside the
    running period [last settlement, last settlement + interval))."""
    apr = settled_apr(settled, hours)
    if running is None or not len(settled) or not np.isfinite(running.apr_pct):
        return apr
    last = int(settled.time[-1])
    interval_ms = float(settled["interval_hours"][-1]) * MS_PER_HOUR
    if not last <= running.time_ms < last + interval_ms:
        return apr
    fill = (hours >= last) & (hours <= running.time_ms) & ~np.isfinite(apr)
    apr[fill] = running.apr_pct
    return apr


def oi_weighted_apr(apr: np.ndarray, oi_usd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per hour, Σ_v w_v · APR_v with w_v = OI_v / Σ OI over the venues with both an APR and an
    OI that hour; equal weights over the venues with an APR where none of them has OI.

    `apr`, `oi_usd`: [venue, hour]. Returns (average per hour, NaN where no venue has a rate;
    True where the hour is OI-weighted)."""
    has_rate = np.isfinite(apr)
    usable = has_rate & np.isfinite(oi_usd) & (np.nan_to_num(oi_usd) > 0)
    oi_weighted = usable.any(axis=0)
    raw = np.where(oi_weighted[None, :], np.where(usable, oi_usd, 0.0), has_rate.astype(float))
    total = raw.sum(axis=0)
    weights = np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)
    average = np.where(total > 0, (np.where(weights > 0, apr, 0.0) * weights).sum(axis=0),
                       np.nan)
    return average, oi_weighted


def funding_apr(hours: np.ndarray, settled: Mapping[str, SeriesData],
                oi_usd: Mapping[str, SeriesData], running: Mapping[str, RunningRate]
                ) -> tuple[np.ndarray, str]:
    """The OI-weighted funding APR of each hour (module docstring) and a note saying which
    venues carried weight."""
    venues = [v for v, d in settled.items() if len(d)]
    if not venues or not len(hours):
        return np.full(len(hours), np.nan), "no funding data"
    apr = np.vstack([venue_hourly_apr(settled[v], hours, running.get(v)) for v in venues])
    oi = np.vstack([oi_at(oi_usd.get(v), hours) for v in venues])
    average, weighted = oi_weighted_apr(apr, oi)
    with_oi = [v for v, row in zip(venues, np.isfinite(oi) & np.isfinite(apr), strict=True)
               if row.any()]
    if not with_oi:
        note = "equal-weighted (no OI)"
    else:
        note = "OI-weighted (" + ", ".join(venue_label(v) for v in with_oi) + ")"
        equal = np.isfinite(average) & ~weighted
        if equal.any():
            note += f"; equal-weighted for {int(equal.sum())} h without OI"
    return average, note


# -- open interest ----------------------------------------------------------------------------
def coin_oi_change_pct(instants: np.ndarray, window_hours: int,
                       oi: Mapping[str, SeriesData]) -> tuple[np.ndarray, np.ndarray]:
    """At each instant t: (Σ_v OI_v(t) / Σ_v OI_v(t − W) − 1) × 100 over the venues with a coin
    OI at both (last row at or before, ≤ `OI_MAX_AGE_MS` old). Returns (change %, Σ_v OI_v(t)
    over the venues known at t)."""
    instants = np.asarray(instants, dtype=np.int64)
    now = np.zeros(len(instants))
    then = np.zeros(len(instants))
    total = np.zeros(len(instants))
    known = np.zeros(len(instants), dtype=bool)
    any_now = np.zeros(len(instants), dtype=bool)
    for data in oi.values():
        if not len(data) or "open_interest" not in data.names:
            continue
        a = oi_at(data, instants, "open_interest", OI_MAX_AGE_MS)
        b = oi_at(data, instants - window_hours * MS_PER_HOUR, "open_interest", OI_MAX_AGE_MS)
        both = np.isfinite(a) & np.isfinite(b)
        now[both] += a[both]
        then[both] += b[both]
        known |= both
        total[np.isfinite(a)] += a[np.isfinite(a)]
        any_now |= np.isfinite(a)
    change = np.full(len(instants), np.nan)
    ok = known & (then > 0)
    change[ok] = (now[ok] / then[ok] - 1.0) * 100.0
    return change, np.where(any_now, total, np.nan)


# -- liquidations -----------------------------------------------------------------------------
def hourly_liquidations(hours: np.ndarray, buckets: Mapping[str, SeriesData]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(long USD, short USD) reported in each hour [h, h + 1 h), summed over the venues; 0 in an
    empty hour between the first and the last stored bucket, NaN outside that span."""
    long_usd = np.zeros(len(hours))
    short_usd = np.zeros(len(hours))
    first, last = None, None
    for data in buckets.values():
        if not len(data):
            continue
        first = data.first_ms if first is None else min(first, data.first_ms)
        last = data.last_ms if last is None else max(last, data.last_ms)
        slot = np.searchsorted(hours, data.time, side="right") - 1
        inside = (slot >= 0) & (data.time < hours[np.maximum(slot, 0)] + MS_PER_HOUR) \
            if len(hours) else np.zeros(len(data), dtype=bool)
        for column, out in (("long_usd", long_usd), ("short_usd", short_usd)):
            if column in data.names:
                np.add.at(out, slot[inside], np.nan_to_num(data[column][inside]))
    if first is None:
        return np.full(len(hours), np.nan), np.full(len(hours), np.nan)
    covered = (hours + MS_PER_HOUR > first) & (hours <= last)
    long_usd[~covered] = np.nan
    short_usd[~covered] = np.nan
    return long_usd, short_usd


def elevation(hourly_usd: np.ndarray, window_hours: int,
              baseline_hours: int = BASELINE_HOURS,
              min_baseline: int = MIN_BASELINE_HOURS) -> tuple[np.ndarray, np.ndarray]:
    """Per hour h: (mean USD of the W hours ending at h / median of the known hours among the
    `baseline_hours` before them, that median). NaN where the window has an unknown hour or
    the baseline fewer than `min_baseline` known hours."""
    values = np.asarray(hourly_usd, dtype=np.float64)
    n = len(values)
    ratio = np.full(n, np.nan)
    usual = np.full(n, np.nan)
    if n < window_hours:
        return ratio, usual
    known = np.isfinite(values)
    # window sums and counts of unknown hours, by cumulative sums
    csum = np.concatenate([[0.0], np.cumsum(np.where(known, values, 0.0))])
    cbad = np.concatenate([[0], np.cumsum(~known)])
    ends = np.arange(window_hours - 1, n)
    mean = (csum[ends + 1] - csum[ends + 1 - window_hours]) / window_hours
    whole = cbad[ends + 1] - cbad[ends + 1 - window_hours] == 0
    # the baseline of hour i: values[i − W + 1 − B : i − W + 1], NaN before the first hour
    padded = np.concatenate([np.full(baseline_hours, np.nan), values])
    starts = ends - window_hours + 1  # in `values`; in `padded` the slice is [starts, +B)
    counts = (np.concatenate([[0], np.cumsum(np.isfinite(padded))]))
    enough = counts[starts + baseline_hours] - counts[starts] >= min_baseline
    rows = np.flatnonzero(whole & enough)
    if not len(rows):
        return ratio, usual
    windows = np.lib.stride_tricks.sliding_window_view(padded, baseline_hours)
    ordered = np.sort(windows[starts[rows]], axis=1)  # NaN sort last
    k = np.isfinite(ordered).sum(axis=1)  # ≥ min_baseline ≥ 1
    pick = np.arange(len(rows))
    median = (ordered[pick, (k - 1) // 2] + ordered[pick, k // 2]) / 2.0
    at = ends[rows]
    usual[at] = median
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio[at] = np.where(median > 0, mean[rows] / median,
                             np.where(mean[rows] > 0, np.inf, 0.0))
    return ratio, usual


# -- the regime -------------------------------------------------------------------------------
def classify(thresholds: SqueezeThresholds, funding: np.ndarray, oi_change: np.ndarray,
             price_change: np.ndarray, short_ratio: np.ndarray, long_ratio: np.ndarray
             ) -> np.ndarray:
    """+1 short squeeze, −1 long flush, 0 neither, NaN where an input is unknown."""
    t = thresholds
    with np.errstate(invalid="ignore"):
        squeeze = ((funding < t.funding_apr_max) & (oi_change < t.oi_change_max_pct)
                   & (price_change > t.price_change_min_pct) & (short_ratio > t.liq_multiple))
        flush = ((funding > -t.funding_apr_max) & (oi_change < t.oi_change_max_pct)
                 & (price_change < -t.price_change_min_pct) & (long_ratio > t.liq_multiple))
    known = (np.isfinite(funding) & np.isfinite(oi_change) & np.isfinite(price_change)
             & ~np.isnan(short_ratio) & ~np.isnan(long_ratio))
    out = np.where(squeeze, SHORT_SQUEEZE, np.where(flush, LONG_FLUSH, 0)).astype(np.float64)
    out[~known] = np.nan
    return out


def regime_periods(hours: np.ndarray, regime: np.ndarray) -> list[tuple[int, int, int]]:
    """(start_ms, end_ms, regime) of each run of consecutive hourly bars in one regime (±1);
    a missing bar ends a run."""
    out: list[tuple[int, int, int]] = []
    start: int | None = None
    kind = 0
    prev: int | None = None
    for h, r in zip(np.asarray(hours, dtype=np.int64).tolist(), regime.tolist(), strict=True):
        code = int(r) if math.isfinite(r) else 0
        contiguous = prev is not None and h - prev == MS_PER_HOUR
        if start is not None and (code != kind or not contiguous):
            out.append((start, prev + MS_PER_HOUR, kind))  # type: ignore[operator]
            start = None
        if code != 0 and start is None:
            start, kind = h, code
        prev = h
    if start is not None and prev is not None:
        out.append((start, prev + MS_PER_HOUR, kind))
    return out


def hourly_mean(data: SeriesData, column: str, hours: np.ndarray) -> np.ndarray:
    """The mean of `column` over each hour [h, h + 1 h) (NaN in an hour without a row): minute
    rows of the premium, five-minute polls of the basis."""
    out = np.full(len(hours), np.nan)
    if not len(data) or column not in data.names or not len(hours):
        return out
    values = data[column]
    slot = np.searchsorted(hours, data.time, side="right") - 1
    ok = (slot >= 0) & np.isfinite(values)
    ok &= data.time < hours[np.maximum(slot, 0)] + MS_PER_HOUR
    sums = np.zeros(len(hours))
    counts = np.zeros(len(hours))
    np.add.at(sums, slot[ok], values[ok])
    np.add.at(counts, slot[ok], 1.0)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def venue_mean(rows: list[np.ndarray], length: int) -> np.ndarray:
    """The mean across venues of per-hour values, over the venues with a value that hour."""
    if not rows:
        return np.full(length, np.nan)
    stack = np.vstack(rows)
    counts = np.isfinite(stack).sum(axis=0)
    sums = np.nansum(stack, axis=0)
    return np.divide(sums, counts, out=np.full(length, np.nan), where=counts > 0)
