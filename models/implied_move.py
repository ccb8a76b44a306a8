"""Implied-move bands from DVOL, and large moves measured in σ of the implied vol before them.

DVOL (Deribit's volatility index) is an annualised implied volatility in percent over calendar
days (365 a year). Over a horizon of t days it implies the standard deviation

    σ(t) = IV / 100 · √(t / 365)          σ_day = IV/100/√365,  σ_week = IV/100·√(7/365)

(97 % IV → σ_day ≈ 5.08 %, σ_week ≈ 13.4 %). The bands are the trader's "expected move":

    centre · (1 ± k·σ(t)),  k = 1 (shaded) and 2 (lines)

linear in price around `centre`, the close known at the band's start. (Lognormal bands,
centre·exp(±kσ), would put the 1σ day edges at +5.21 % / −4.95 % for 97 % IV instead of ±5.08 %;
see docs/implied-move.md.)

Known-time convention (models/asof.py): a DVOL row stamped s is an hourly bar, known at
s + its interval; a price bar stamped s is known at s + its interval. A band that starts at T
uses the last close and the last DVOL known at T, never a print made after T.

A move over a window [T0, T1] (one UTC day, or seven) is the simple change of the closes known
at T0 and T1; its size in σ is change / σ(window) with the IV known at T0. Windows end at each
UTC midnight (at each bar's end for bars longer than a day). Daily windows do not overlap; of the
rolling weekly windows that reach the threshold, the largest |σ| is kept and the windows
overlapping it are dropped (repeatedly), so one sell-off is one label.

Numpy only: a few thousand day boundaries searched in a series of any length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.series import MS_PER_DAY

#: DVOL annualises over calendar days
DAYS_PER_YEAR = 365.0
#: the band horizons: name -> days
HORIZONS: dict[str, float] = {"day": 1.0, "week": 7.0}
#: the multiples of σ drawn: shaded ±1σ, lines at ±2σ
BAND_SIGMAS: tuple[int, ...] = (1, 2)
#: a move is labelled when |change| ≥ this many σ of its window
MOVE_THRESHOLD_SIGMA = 2.0
#: the IV known at a move's start must be at most this old (else the move is not measured)
MAX_IV_AGE_MS = 2 * MS_PER_DAY

CONVENTION = ("centre·(1 ± k·σ), σ = IV/100·√(t/365), centre = the close known at the band's "
              "start, IV = the DVOL known then")


def sigma(iv_pct: float | np.ndarray, days: float) -> float | np.ndarray:
    """The implied standard deviation of the move over `days` (a fraction: 0.0508 = 5.08 %)."""
    s = np.asarray(iv_pct, dtype=np.float64) / 100.0 * math.sqrt(days / DAYS_PER_YEAR)
    return float(s) if s.ndim == 0 else s


def band_edges(centre: float | np.ndarray, iv_pct: float | np.ndarray, days: float,
               k: float) -> tuple[float | np.ndarray, float | np.ndarray]:
    """(low, high) of the ±kσ band: centre·(1 − kσ), centre·(1 + kσ)."""
    s = sigma(iv_pct, days)
    return centre * (1.0 - k * s), centre * (1.0 + k * s)


def _last_known(stamp_ms: np.ndarray, values: np.ndarray, known_delay_ms: int,
                at_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each instant: the last finite value whose row was known by then (stamp + delay ≤ t)
    and that row's stamp; NaN and -1 where none was. `stamp_ms` is sorted."""
    stamp_ms = np.asarray(stamp_ms, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    if not ok.all():  # copies only when a row is missing its value
        stamp_ms, values = stamp_ms[ok], values[ok]
    at = np.asarray(at_ms, dtype=np.int64)
    idx = np.searchsorted(stamp_ms, at - int(known_delay_ms), side="right") - 1
    have = idx >= 0
    out = np.full(at.shape, np.nan)
    stamps = np.full(at.shape, -1, dtype=np.int64)
    out[have] = values[idx[have]]
    stamps[have] = stamp_ms[idx[have]]
    return out, stamps


def iv_known_at(dvol_ms: np.ndarray, dvol_close: np.ndarray, dvol_delay_ms: int,
                at_ms: np.ndarray, max_age_ms: int = MAX_IV_AGE_MS,
                ) -> tuple[np.ndarray, np.ndarray]:
    """The DVOL known at each instant (NaN when none, or when the last is older than
    `max_age_ms` counted from when it became known) and its row's stamp."""
    iv, stamps = _last_known(dvol_ms, dvol_close, dvol_delay_ms, at_ms)
    stale = (stamps < 0) | (np.asarray(at_ms, dtype=np.int64) - (stamps + dvol_delay_ms)
                            > max_age_ms)
    iv[stale] = np.nan
    return iv, stamps


def close_known_at(price_ms: np.ndarray, close: np.ndarray, bar_ms: int,
                   at_ms: np.ndarray) -> np.ndarray:
    """The close of the last bar that had ended by each instant (NaN before the first)."""
    return _last_known(price_ms, close, bar_ms, at_ms)[0]


@dataclass(frozen=True)
class ForwardBand:
    """The ±kσ bands for one horizon, starting at `start_ms` around `centre`."""

    horizon: str
    days: float
    start_ms: int
    centre: float
    iv: float
    iv_stamp_ms: int
    sigma: float  # fraction of the centre

    def edges(self, k: float) -> tuple[float, float]:
        return self.centre * (1 - k * self.sigma), self.centre * (1 + k * self.sigma)

    @property
    def end_ms(self) -> int:
        return self.start_ms + round(self.days * MS_PER_DAY)


def forward_bands(price_ms: np.ndarray, close: np.ndarray, bar_ms: int,
                  dvol_ms: np.ndarray, dvol_close: np.ndarray, dvol_delay_ms: int,
                  ) -> list[ForwardBand]:
    """The day and week bands ahead of the last bar: they start at its end, around its close,
    with the DVOL known then. Empty when there is no price or no DVOL known then."""
    price_ms = np.asarray(price_ms, dtype=np.int64)
    close = np.asarray(close, dtype=np.float64)
    ok = np.isfinite(close) & (close > 0)
    if not ok.any():
        return []
    last = int(np.flatnonzero(ok)[-1])
    start = int(price_ms[last]) + int(bar_ms)
    iv, stamps = iv_known_at(dvol_ms, dvol_close, dvol_delay_ms, np.array([start]))
    if not np.isfinite(iv[0]) or iv[0] <= 0:
        return []
    centre = float(close[last])
    return [ForwardBand(name, days, start, centre, float(iv[0]), int(stamps[0]),
                        float(sigma(float(iv[0]), days)))
            for name, days in HORIZONS.items()]


def boundaries(price_ms: np.ndarray, bar_ms: int) -> np.ndarray:
    """Where windows start and end: each UTC midnight the series spans (each bar's end for bars
    longer than a day)."""
    price_ms = np.asarray(price_ms, dtype=np.int64)
    if not len(price_ms):
        return np.empty(0, dtype=np.int64)
    if bar_ms > MS_PER_DAY:
        return price_ms + int(bar_ms)
    first = (int(price_ms[0]) // MS_PER_DAY + 1) * MS_PER_DAY
    last = (int(price_ms[-1]) + int(bar_ms)) // MS_PER_DAY * MS_PER_DAY
    if last < first:
        return np.empty(0, dtype=np.int64)
    return np.arange(first, last + 1, MS_PER_DAY, dtype=np.int64)


@dataclass(frozen=True)
class DailyBands:
    """Past day bands: day i runs [start_ms[i], start_ms[i] + 1 day) around centre[i]."""

    start_ms: np.ndarray
    centre: np.ndarray
    iv: np.ndarray
    sigma: np.ndarray

    def edges(self, k: float) -> tuple[np.ndarray, np.ndarray]:
        return self.centre * (1 - k * self.sigma), self.centre * (1 + k * self.sigma)

    def __len__(self) -> int:
        return len(self.start_ms)


def daily_bands(price_ms: np.ndarray, close: np.ndarray, bar_ms: int,
                dvol_ms: np.ndarray, dvol_close: np.ndarray, dvol_delay_ms: int,
                ) -> DailyBands:
    """The day band each past UTC day started with (days whose close or IV was not known at
    their start are left out). None for bars longer than a day: a day has no close of its own."""
    empty = DailyBands(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0))
    if bar_ms > MS_PER_DAY:
        return empty
    starts = boundaries(price_ms, bar_ms)[:-1]  # the last boundary starts the forward band
    if not len(starts):
        return empty
    centre = close_known_at(price_ms, close, bar_ms, starts)
    iv, _ = iv_known_at(dvol_ms, dvol_close, dvol_delay_ms, starts)
    keep = np.isfinite(centre) & (centre > 0) & np.isfinite(iv) & (iv > 0)
    return DailyBands(starts[keep], centre[keep], iv[keep],
                      np.asarray(sigma(iv[keep], 1.0)))


@dataclass(frozen=True)
class Move:
    """A change over [start_ms, end_ms] and its size in σ of the IV known at its start."""

    start_ms: int
    end_ms: int
    days: float
    start_close: float
    end_close: float
    iv: float
    iv_stamp_ms: int

    @property
    def change(self) -> float:
        return self.end_close / self.start_close - 1.0

    @property
    def sigma(self) -> float:
        return float(sigma(self.iv, self.days))

    @property
    def size_sigma(self) -> float:
        return self.change / self.sigma

    @property
    def horizon(self) -> str:
        return "week" if self.days >= 7 else "day"

    def label(self) -> str:
        sign = "+" if self.size_sigma >= 0 else "−"
        return f"{sign}{abs(self.size_sigma):.1f}σ {'w' if self.horizon == 'week' else 'd'}"


def large_moves(price_ms: np.ndarray, close: np.ndarray, bar_ms: int,
                dvol_ms: np.ndarray, dvol_close: np.ndarray, dvol_delay_ms: int,
                days: float, threshold: float = MOVE_THRESHOLD_SIGMA) -> list[Move]:
    """Moves over `days` (1 or 7) of at least `threshold` σ, in time order; overlapping windows
    keep only the largest |σ| (module note). Windows shorter than a bar are not measured."""
    if days * MS_PER_DAY < bar_ms:
        return []
    edges = boundaries(price_ms, bar_ms)
    if len(edges) < 2:
        return []
    closes = close_known_at(price_ms, close, bar_ms, edges)
    iv, stamps = iv_known_at(dvol_ms, dvol_close, dvol_delay_ms, edges)
    window_ms = round(days * MS_PER_DAY)
    ends = np.searchsorted(edges, edges + window_ms)  # the boundary one window later
    has_end = ends < len(edges)
    starts = np.flatnonzero(has_end)
    ends = ends[has_end]
    exact = edges[ends] - edges[starts] == window_ms
    starts, ends = starts[exact], ends[exact]
    c0, c1, v = closes[starts], closes[ends], iv[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (c1 / c0 - 1.0) / np.asarray(sigma(v, days))
    hit = np.isfinite(z) & (np.abs(z) >= threshold) & (c0 > 0) & (v > 0)
    candidates = [(float(abs(z[i])), int(starts[i]), int(ends[i])) for i in np.flatnonzero(hit)]
    candidates.sort(key=lambda c: (-c[0], c[1]))
    chosen: list[tuple[int, int]] = []
    for _size, a, b in candidates:
        t0, t1 = edges[a], edges[b]
        if all(t1 <= edges[ca] or edges[cb] <= t0 for ca, cb in chosen):
            chosen.append((a, b))
    chosen.sort()
    return [Move(int(edges[a]), int(edges[b]), float(days), float(closes[a]),
                 float(closes[b]), float(iv[a]), int(stamps[a])) for a, b in chosen]


@dataclass(frozen=True)
class ImpliedView:
    """Everything the price chart draws for one asset: the bands ahead, the past day bands and
    the labelled moves (day and week)."""

    forward: list[ForwardBand]
    daily: DailyBands
    moves: list[Move]


def _at_boundaries(price_ms: np.ndarray, close: np.ndarray, bar_ms: int,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A short stand-in for a long series: one bar ending at each boundary holding the close
    known there, and the last bar. Every function above gives the same answer on it, and a
    minute history's millions of rows are searched once instead of once per function."""
    price_ms = np.asarray(price_ms, dtype=np.int64)
    close = np.asarray(close, dtype=np.float64)
    edges = boundaries(price_ms, bar_ms)
    if not len(price_ms) or len(edges) * 4 > len(price_ms):
        return price_ms, close  # already short
    known = close_known_at(price_ms, close, bar_ms, edges)
    times = edges - int(bar_ms)
    last = len(close) - 1
    while last >= 0 and not np.isfinite(close[last]):  # only the trailing missing closes
        last -= 1
    if last < 0:
        return times, known
    if times[-1] == price_ms[last]:
        return times, known
    return np.append(times, price_ms[last]), np.append(known, close[last])


def implied_view(price_ms: np.ndarray, close: np.ndarray, bar_ms: int,
                 dvol_ms: np.ndarray, dvol_close: np.ndarray, dvol_delay_ms: int,
                 threshold: float = MOVE_THRESHOLD_SIGMA) -> ImpliedView:
    """`forward_bands`, `daily_bands` and the day and week `large_moves` of one series (run on
    a worker: a minute history is millions of rows)."""
    price_ms, close = _at_boundaries(price_ms, close, int(bar_ms))
    args = (price_ms, close, int(bar_ms), dvol_ms, dvol_close, int(dvol_delay_ms))
    moves = [*large_moves(*args, days=HORIZONS["day"], threshold=threshold),
             *large_moves(*args, days=HORIZONS["week"], threshold=threshold)]
    moves.sort(key=lambda m: (m.end_ms, m.days))
    return ImpliedView(forward_bands(*args), daily_bands(*args), moves)
