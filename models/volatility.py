"""Realised against implied volatility, and the derived vol/gamma series the app declares.

Realised vol (`realized_vol`) is close-to-close on daily log returns r over `window_days`,
annualised with √365 (crypto trades every day of the year) and given in vol points (percent), the
unit of Deribit's DVOL. Two conventions (`RvMethod`): zero-mean σ = √(365/n · Σ r²), the default and
the usual choice against implied vol (an option's variance does not subtract the drift), or
demeaned, the sample standard deviation σ = √(365/(n − 1) · Σ (r − r̄)²). Bars shorter than a day
are first sampled to one close per UTC day, the close of the day's last bar (the bar that ends at
00:00 UTC the next day), so 1h and 1d inputs give the same number; annualising hourly returns with
365 × 24 instead would mix in intraday noise and microstructure and read systematically different
from daily RV. Days without a close leave a gap (their returns are unknown), so the function is for
24/7 markets.

Time stamps: RV follows the bar convention of the price series (a daily value is stamped at 00:00
UTC of its day and is known at that day's close, 00:00 UTC the next day). `iv_rv_spread` matches
DVOL to RV by the instant each value is known and is stamped at that instant, when both are known.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from models.assets import CRYPTO_STEMS, ticker
from models.catalog import DataLoader, DerivedSpec
from models.ids import dvol_id, options_id, price_id
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData

if TYPE_CHECKING:
    import pandas as pd

DAYS_PER_YEAR = 365
RV_WINDOWS = (7, 30, 90)
CONSTANT_MATURITY_DAYS = 30.0


class RvMethod(StrEnum):
    """How realised vol treats the mean daily return (`description` is the on-screen text)."""

    ZERO_MEAN = "zero_mean"
    DEMEANED = "demeaned"

    @property
    def label(self) -> str:
        return {RvMethod.ZERO_MEAN: "zero-mean", RvMethod.DEMEANED: "demeaned"}[self]

    @property
    def formula(self) -> str:
        return {RvMethod.ZERO_MEAN: "σ = √(365/n · Σ r²) × 100",
                RvMethod.DEMEANED: "σ = √(365/(n − 1) · Σ (r − r̄)²) × 100"}[self]

    @property
    def description(self) -> str:
        return {
            RvMethod.ZERO_MEAN: (
                "Zero-mean realised vol: the root mean square of the daily log returns r over the "
                "window, annualised with √365, in vol points: σ = √(365/n · Σ r²) × 100. The usual "
                "choice against implied vol, which prices variance around zero drift."),
            RvMethod.DEMEANED: (
                "Demeaned realised vol: the sample standard deviation of the daily log returns r "
                "over the window, annualised with √365, in vol points: "
                "σ = √(365/(n − 1) · Σ (r − r̄)²) × 100. Ignores a steady trend."),
        }[self]


DEFAULT_RV_METHOD = RvMethod.ZERO_MEAN


def bar_ms(data: SeriesData, default_ms: int = MS_PER_DAY) -> int:
    """The bar length (ms) of a series: the median step between rows."""
    if len(data) < 2:
        return default_ms
    return int(np.median(np.diff(data.time)))


def daily_closes(closes: SeriesData, column: str = "close") -> SeriesData:
    """One close per UTC day (the day's last bar), on a gap-free daily grid (NaN for no bar)."""
    if not len(closes):
        return SeriesData.empty([column])
    step = bar_ms(closes)
    if step > MS_PER_DAY:
        raise ValueError(f"bars of {step / MS_PER_DAY:g} days are longer than a day")
    values = closes[column]
    ok = np.isfinite(values) & (values > 0)
    t, v = closes.time[ok], values[ok]
    if not len(t):
        return SeriesData.empty([column])
    day = t // MS_PER_DAY
    last = np.r_[day[1:] != day[:-1], True]  # the last bar of each day
    days, v = day[last], v[last]
    grid = np.arange(days[0], days[-1] + 1, dtype=np.int64)
    out = np.full(len(grid), np.nan)
    out[days - days[0]] = v
    return SeriesData(grid * MS_PER_DAY, {column: out})


def realized_vol(closes: SeriesData, window_days: int, *, column: str = "close",
                 min_fraction: float = 0.8,
                 method: RvMethod = DEFAULT_RV_METHOD) -> SeriesData:
    """Close-to-close realised vol (vol points, annualised with √365) over `window_days` days.

    r_j = ln(C_j / C_{j−1}) on one close per UTC day; over the n known returns of the window:
    - `RvMethod.ZERO_MEAN` (default): σ = √(365/n · Σ r²) × 100;
    - `RvMethod.DEMEANED`: σ = √(365/(n − 1) · Σ (r − r̄)²) × 100 (sample standard deviation).
    Column "rv", stamped at the day whose close ends the window. A value needs at least
    `min_fraction` of the window's daily returns; the first value comes `window_days` days after
    the first close.
    """
    method = RvMethod(method)
    daily = daily_closes(closes, column)
    if len(daily) <= window_days:
        return SeriesData.empty(["rv"])
    logp = np.log(daily[column])
    ret = np.diff(logp)  # ret[i] is the return into day i + 1; NaN beside a missing day
    n = len(ret)
    need = max(2, math.ceil(min_fraction * window_days))
    finite = np.isfinite(ret)
    r0 = np.where(finite, ret, 0.0)
    # Rolling sums of count, Σr and Σr² over the window (cumulative sums: O(n)).
    c = np.concatenate([[0], np.cumsum(finite)])
    s1 = np.concatenate([[0.0], np.cumsum(r0)])
    s2 = np.concatenate([[0.0], np.cumsum(r0 * r0)])
    end = np.arange(window_days, n + 1)
    cnt = (c[end] - c[end - window_days]).astype(np.float64)
    sum1 = s1[end] - s1[end - window_days]
    sum2 = s2[end] - s2[end - window_days]
    with np.errstate(invalid="ignore", divide="ignore"):
        if method is RvMethod.ZERO_MEAN:
            var = sum2 / cnt
        else:
            var = (sum2 - sum1 * sum1 / cnt) / (cnt - 1.0)
    var = np.where(cnt >= need, np.maximum(var, 0.0), np.nan)
    rv = np.sqrt(var) * math.sqrt(DAYS_PER_YEAR) * 100.0
    time = daily.time[end]  # the day whose close ends the window
    keep = np.isfinite(rv)
    return SeriesData(time[keep], {"rv": rv[keep]})


def iv_rv_spread(dvol: SeriesData, rv: SeriesData, *, iv_column: str = "close",
                 max_stale_ms: int = MS_PER_DAY) -> SeriesData:
    """Trailing IV − RV (vol points): spread = DVOL(t) − RV(t), columns spread, iv, rv.

    Stamped at t, the instant both values are known, and using nothing known after t:
    - an RV value stamped at day D (00:00 UTC, the bar convention) ends with the close of D, so
      it is known at t = D + 1 day (00:00 UTC of D + 1);
    - DVOL(t) is the last DVOL bar known by t (a bar stamped s is known at s + its bar length),
      at most `max_stale_ms` old; for hourly DVOL that is the close of the 23:00 bar of D, the
      DVOL level at 00:00 of D + 1.
    So the spread's row for RV of day D is stamped D + 1 day: on an axis shared with DVOL it never
    leads DVOL (the RV series itself keeps the price bars' stamp D).
    """
    if not len(dvol) or not len(rv):
        return SeriesData.empty(["spread", "iv", "rv"])
    rv_values = rv[rv.names[0]] if "rv" not in rv.names else rv["rv"]
    iv = dvol[iv_column]
    ok = np.isfinite(iv)
    d_known = dvol.time[ok] + bar_ms(dvol, MS_PER_HOUR)
    iv = iv[ok]
    r_known = rv.time + MS_PER_DAY
    idx = np.searchsorted(d_known, r_known, side="right") - 1
    have = idx >= 0
    idx = np.clip(idx, 0, None)
    if len(d_known):
        have &= (r_known - d_known[idx]) <= max_stale_ms
    else:
        have[:] = False
    matched = np.where(have, iv[idx] if len(iv) else np.nan, np.nan)
    keep = np.isfinite(matched) & np.isfinite(rv_values)
    return SeriesData(r_known[keep], {"spread": matched[keep] - rv_values[keep],
                                      "iv": matched[keep], "rv": rv_values[keep]})


# -- option-chain derived series --------------------------------------------------------------
def gex_latest(loader: DataLoader, series_id: str, dealer: str | None = None) -> pd.DataFrame:
    """GEX by strike (USD per 1 % move) of the newest chain, `options.gex_by_strike` at its index.

    GEX_K = Σ_i sign × OI × Γ(F_i, K, σ, T_i) × F_i² × 1 %; `dealer` a `DealerPositioning` value
    (default dealers long calls, short puts).
    """
    import pandas as pd

    from models import options as opt

    snap = loader.latest_snapshot(series_id)
    if snap is None:
        return pd.DataFrame({c: np.empty(0) for c in ("strike", "call_gex", "put_gex",
                                                      "net_gex")})
    positioning = opt.DEFAULT_DEALER if dealer is None else opt.DealerPositioning(dealer)
    return opt.gex_by_strike(snap.frame, opt.snapshot_spot(snap), snap.time_ms, positioning)


def skew_latest(loader: DataLoader, series_id: str,
                delta_convention: str = "forward") -> pd.DataFrame:
    """ATM IV, 25Δ RR and BF per expiry of the newest chain (vol points).

    `options.risk_reversal_butterfly`: RR25 = σ(25Δ C) − σ(25Δ P), BF25 = (σ(25Δ C) + σ(25Δ P))/2
    − σ_ATM, 25Δ under `delta_convention` (a `DeltaConvention` value, default the forward delta).
    """
    import pandas as pd

    from models import options as opt

    snap = loader.latest_snapshot(series_id)
    if snap is None:
        return pd.DataFrame({c: np.empty(0) for c in ("expiry_ms", "days", "atm_iv", "rr25",
                                                      "bf25")})
    return opt.risk_reversal_butterfly(snap.frame, snap.time_ms,
                                       opt.DeltaConvention(delta_convention))


def skew_history(loader: DataLoader, series_id: str, *, days: float = CONSTANT_MATURITY_DAYS,
                 max_points: int = 120, step_ms: int = MS_PER_DAY,
                 delta_convention: str = "forward") -> pd.DataFrame:
    """Constant-maturity ATM IV, 25Δ RR and BF (vol points), one cached chain per day at most.

    Per chain, `options.constant_maturity`: ATM linear in total variance σ²T between the two
    expiries of the ATM term structure bracketing `days`; RR and BF linear in days between the
    wing-quoted expiries bracketing it (NaN when those do not bracket it).

    The loader protocol promises only `latest_snapshot(id, at_ms)`, so this walks back from the
    newest chain, asking for the newest one at least `step_ms` older each time (≤ `max_points`).
    """
    from models import options as opt

    rows: list[tuple[int, float, float, float]] = []
    snap = loader.latest_snapshot(series_id)
    while snap is not None and len(rows) < max_points:
        term = opt.atm_term_structure(snap.frame, opt.snapshot_spot(snap), snap.time_ms)
        skew = opt.risk_reversal_butterfly(snap.frame, snap.time_ms,
                                           opt.DeltaConvention(delta_convention))
        point = opt.constant_maturity(skew, days, term)
        if point is not None:
            rows.append((snap.time_ms, point["atm_iv"], point["rr25"], point["bf25"]))
        snap = loader.latest_snapshot(series_id, snap.time_ms - step_ms)
    rows.sort()
    t = np.array([r[0] for r in rows], dtype=np.int64)
    data = SeriesData(t, {"atm_iv": np.array([r[1] for r in rows], dtype=np.float64),
                          "rr25": np.array([r[2] for r in rows], dtype=np.float64),
                          "bf25": np.array([r[3] for r in rows], dtype=np.float64)})
    return data.to_frame()


# -- declarations -----------------------------------------------------------------------------
def _rv_compute(asset: str, window: int):
    def compute(loader: DataLoader) -> pd.DataFrame:
        return realized_vol(loader.read(price_id(asset, "1d")), window).to_frame()
    return compute


def _ivrv_compute(asset: str, window: int):
    def compute(loader: DataLoader) -> pd.DataFrame:
        rv = realized_vol(loader.read(price_id(asset, "1d")), window)
        return iv_rv_spread(loader.read(dvol_id(asset)), rv).to_frame()
    return compute


def _declare() -> list[DerivedSpec]:
    specs: list[DerivedSpec] = []
    for asset in CRYPTO_STEMS:
        label = ticker(asset)
        for window in RV_WINDOWS:
            specs.append(DerivedSpec(
                id=f"rv.{asset}.{window}",
                label=f"{label} realised vol {window}d ({DEFAULT_RV_METHOD.label})",
                inputs=(price_id(asset, "1d"),), compute=_rv_compute(asset, window),
                unit="vol pts (annualised √365)", interval="1d", symbol=label))
        specs.append(DerivedSpec(
            id=f"ivrv.{asset}.30",
            label=f"{label} DVOL − trailing realised vol 30d ({DEFAULT_RV_METHOD.label})",
            inputs=(dvol_id(asset), price_id(asset, "1d")), compute=_ivrv_compute(asset, 30),
            unit="vol pts", interval="1d", symbol=label))
        chain = options_id(asset)
        specs.append(DerivedSpec(
            id=f"gex.{asset}", label=f"{label} dealer gamma by strike (dealers long calls, "
                                     "short puts)",
            inputs=(chain,), compute=lambda loader, c=chain: gex_latest(loader, c),
            unit="USD per 1% move", kind="profile", interval="snapshot", symbol=label))
        specs.append(DerivedSpec(
            id=f"skew.{asset}", label=f"{label} ATM IV, 25Δ risk reversal and butterfly by expiry",
            inputs=(chain,), compute=lambda loader, c=chain: skew_latest(loader, c),
            unit="vol pts", kind="profile", interval="snapshot", symbol=label))
        specs.append(DerivedSpec(
            id=f"skew30.{asset}", label=f"{label} 30-day constant-maturity ATM IV, 25Δ RR and BF",
            inputs=(chain,), compute=lambda loader, c=chain: skew_history(loader, c),
            unit="vol pts", interval="1d", symbol=label))
    return specs


DERIVED: list[DerivedSpec] = _declare()
