"""Option-chain analytics: Black-Scholes greeks, dealer gamma exposure (GEX), the zero-gamma level,
the ATM term structure, the smile and 25-delta risk reversal / butterfly.

Pure numpy (the normal CDF is built on `math.erfc`; no scipy in the app). Everything is valued at
the chain's own timestamp `at_ms` (a snapshot's `time_ms`), never at the wall clock, so a cached or
demo chain gives the same answer tomorrow.

Conventions
- Black-Scholes on the forward with r = 0 (Black-76 without discounting). Deribit quotes every
  option's `underlying_price` (the forward of its expiry, or the index for the front), marks IV on
  it and its rates are 0, so the same model reproduces Deribit's greeks (tests/models).
- Volatility: `sigma` is a decimal (0.6 = 60 %); chain columns `mark_iv` are percent (vol points).
- Time: ACT/365 on milliseconds, `year_fraction(expiry_ms, at_ms)`; options expire 08:00 UTC.
- Greeks: delta is dV/dF (coins per coin); gamma is d²V/dF² (per USD of underlying); vega is the
  price change per 1 vol point (0.01 of sigma), in the forward's unit (USD), as Deribit quotes it.
- 25Δ: `DeltaConvention` FORWARD (default, N(d1), Deribit's quoted delta) or PREMIUM_ADJUSTED
  ((K/F)·N(d2) for calls, −(K/F)·N(−d2) for puts: the hedge of a coin-margined option, whose
  premium is paid in the coin). ATM is always the IV at the expiry's own forward (ATM-forward).
- Constant maturity: ATM linear in total variance σ²T between the two expiries of the ATM term
  structure bracketing the tenor; RR/BF linear in days between wing-quoted expiries.

GEX (gamma exposure)
- Per option: GEX = sign × OI × Γ × F² × 0.01, in **USD of dealer delta change per 1 % move in the
  underlying**: Γ × (1 % of F) is the change in delta (coins) per contract for a 1 % move, × F turns
  coins into USD, × OI (contracts; one Deribit BTC/ETH option = one coin) sums the book. With the
  forward moving one-for-one in percent with spot (F = b·S), Γ_F·F² equals the textbook Γ_S·S².
- Sign, `DealerPositioning` (default LONG_CALLS_SHORT_PUTS, "dealers long calls, short puts"):
  customers overwrite calls and buy puts, so dealers are long call gamma (call GEX > 0: they sell
  rallies and buy dips, which damps moves) and short put gamma (put GEX < 0: amplifying).
  SHORT_BOTH (customers net long options) makes both legs negative, LONG_BOTH both positive. None
  is observed: it is a stated assumption, shown on screen. The legacy
  `DealerConvention(flipped=True)` (dealers short calls, long puts) is still accepted.
- Expired options (T ≤ 0) and options without a usable IV are left out. Strikes are summed over
  expiries.
- Each expiry is valued on its own forward F_i (its rows' `underlying_price`). Re-valuing at a
  hypothetical underlying S' keeps each expiry's basis to the index: F_i(S') = F_i × S' / index,
  so at S' = index every expiry sits exactly on its own forward.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from models.series import MS_PER_DAY, Snapshot

if TYPE_CHECKING:
    import pandas as pd

MS_PER_YEAR = 365 * MS_PER_DAY  # ACT/365
EXPIRY_HOUR_UTC = 8
ONE_PCT = 0.01
SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
# BTC-27MAR26-70000-C; the day has 1 or 2 digits. Linear USDC options (BTC_USDC-…, strikes like
# 0d5) do not match: they are priced in USDC and are out of scope.
_NAME_RE = re.compile(r"^([A-Z]+)-(\d{1,2})([A-Z]{3})(\d{2})-(\d+(?:\.\d+)?)-([CP])$")


# -- instruments ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionId:
    currency: str
    expiry_ms: int  # 08:00 UTC on the expiry date
    strike: float  # USD
    kind: str  # "C" or "P"

    @property
    def is_call(self) -> bool:
        return self.kind == "C"


def parse_instrument(name: str) -> OptionId:
    """`BTC-27MAR26-70000-C` -> OptionId('BTC', 2026-03-27 08:00 UTC in ms, 70000.0, 'C')."""
    m = _NAME_RE.match(name.strip()) if isinstance(name, str) else None
    if m is None:
        raise ValueError(f"not a Deribit option name: {name!r}")
    currency, day, mon, yy, strike, kind = m.groups()
    month = _MONTHS.get(mon)
    if month is None:
        raise ValueError(f"unknown month {mon!r} in {name!r}")
    expiry = datetime(2000 + int(yy), month, int(day), EXPIRY_HOUR_UTC, tzinfo=UTC)  # may raise
    k = float(strike)
    if not k > 0:
        raise ValueError(f"non-positive strike in {name!r}")
    return OptionId(currency, int(expiry.timestamp()) * 1000, k, kind)


def snapshot_spot(snap: Snapshot) -> float:
    """The chain snapshot's index price (meta), else the median underlying of its rows."""
    try:
        spot = float(snap.meta.get("index_price"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        spot = math.nan
    frame = snap.frame
    if not spot > 0 and "underlying_price" in frame.columns:
        under = frame["underlying_price"].to_numpy(dtype=np.float64, na_value=np.nan)
        spot = float(np.nanmedian(under)) if np.isfinite(under).any() else math.nan
    return spot


def year_fraction(expiry_ms: float | np.ndarray, at_ms: float | np.ndarray) -> float | np.ndarray:
    """Years from `at_ms` to `expiry_ms`, ACT/365 (negative once expired); arrays broadcast."""
    if isinstance(expiry_ms, np.ndarray) or isinstance(at_ms, np.ndarray):
        return (np.asarray(expiry_ms, dtype=np.float64)
                - np.asarray(at_ms, dtype=np.float64)) / MS_PER_YEAR
    return (float(expiry_ms) - float(at_ms)) / MS_PER_YEAR


# -- the normal distribution ------------------------------------------------------------------
_erfc = np.frompyfunc(math.erfc, 1, 1)


def norm_cdf(x: float | np.ndarray) -> np.ndarray:
    """Φ(x) = erfc(-x/√2)/2 (erfc keeps full relative precision deep in the lower tail)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * np.asarray(_erfc(-x / SQRT2), dtype=np.float64)


def norm_pdf(x: float | np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return INV_SQRT_2PI * np.exp(-0.5 * x * x)


# -- Black-Scholes on the forward, r = 0 ------------------------------------------------------
def _d1(forward: np.ndarray, strike: np.ndarray, t_years: np.ndarray,
        sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d1, σ√T); NaN where T ≤ 0, σ ≤ 0 or a price is not positive."""
    f, k, t, s = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                       for a in (forward, strike, t_years, sigma)))
    ok = (t > 0) & (s > 0) & (f > 0) & (k > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vol_t = np.where(ok, s * np.sqrt(np.where(ok, t, 1.0)), np.nan)
        d1 = np.where(ok, (np.log(np.where(ok, f / k, 1.0)) + 0.5 * vol_t * vol_t) / vol_t, np.nan)
    return d1, vol_t


def bs_price(forward: float | np.ndarray, strike: float | np.ndarray, t_years: float | np.ndarray,
             sigma: float | np.ndarray, is_call: bool | np.ndarray) -> np.ndarray:
    """Undiscounted Black price in the forward's unit (USD); intrinsic value once expired."""
    d1, vol_t = _d1(forward, strike, t_years, sigma)
    f, k, call = np.broadcast_arrays(np.asarray(forward, dtype=np.float64),
                                     np.asarray(strike, dtype=np.float64), np.asarray(is_call))
    call = call.astype(bool)
    d2 = d1 - vol_t
    c = f * norm_cdf(d1) - k * norm_cdf(d2)
    p = k * norm_cdf(-d2) - f * norm_cdf(-d1)
    price = np.where(call, c, p)
    intrinsic = np.where(call, np.maximum(f - k, 0.0), np.maximum(k - f, 0.0))
    return np.where(np.isfinite(d1), price, intrinsic)


class DeltaConvention(StrEnum):
    """Which delta picks the 25Δ strikes (`description` is the on-screen text).

    FORWARD is the plain Black-76 forward delta, N(d1) for a call and N(d1) − 1 for a put (the
    `greeks.delta` Deribit quotes). PREMIUM_ADJUSTED is the forward delta less the premium in the
    underlying's unit, Δ_pa = Δ − V/F: (K/F)·N(d2) for a call and −(K/F)·N(−d2) for a put. It is
    the hedge of an option whose premium is paid in the coin itself, as on Deribit, where options
    are coin-margined.
    """

    FORWARD = "forward"
    PREMIUM_ADJUSTED = "premium_adjusted"

    @property
    def label(self) -> str:
        return {DeltaConvention.FORWARD: "forward delta",
                DeltaConvention.PREMIUM_ADJUSTED: "premium-adjusted delta"}[self]

    @property
    def description(self) -> str:
        return {
            DeltaConvention.FORWARD: (
                "25Δ strikes by the plain Black-76 forward delta: call Δ = N(d1), "
                "put Δ = N(d1) − 1, d1 = (ln(F/K) + σ²T/2) / (σ√T). The delta Deribit quotes."),
            DeltaConvention.PREMIUM_ADJUSTED: (
                "25Δ strikes by the premium-adjusted forward delta, for coin-margined options "
                "(Deribit): the premium is paid in the coin, so the hedge is Δ − V/F: call "
                "Δ = (K/F)·N(d2), put Δ = −(K/F)·N(−d2), d2 = d1 − σ√T."),
        }[self]


def bs_delta(forward: float | np.ndarray, strike: float | np.ndarray, t_years: float | np.ndarray,
             sigma: float | np.ndarray, is_call: bool | np.ndarray,
             convention: DeltaConvention = DeltaConvention.FORWARD) -> np.ndarray:
    """Forward delta, coins per coin (NaN where the inputs cannot be valued).

    FORWARD (dV/dF): N(d1) for a call, N(d1) − 1 for a put. PREMIUM_ADJUSTED (dV/dF − V/F):
    (K/F)·N(d2) for a call, −(K/F)·N(−d2) for a put; d1 = (ln(F/K) + σ²T/2)/(σ√T), d2 = d1 − σ√T.
    """
    d1, vol_t = _d1(forward, strike, t_years, sigma)
    call = np.asarray(is_call, dtype=bool)
    if DeltaConvention(convention) is DeltaConvention.PREMIUM_ADJUSTED:
        d2 = d1 - vol_t
        with np.errstate(invalid="ignore", divide="ignore"):
            moneyness = np.asarray(strike, dtype=np.float64) / np.asarray(forward,
                                                                          dtype=np.float64)
        return np.where(call, moneyness * norm_cdf(d2), -moneyness * norm_cdf(-d2))
    n = norm_cdf(d1)
    return np.where(call, n, n - 1.0)


def strike_at_delta(forward: float, t_years: float, sigma: float, delta: float,
                    convention: DeltaConvention = DeltaConvention.FORWARD) -> float:
    """The strike K (USD) whose delta (`bs_delta` under `convention`) equals `delta` at flat vol σ.

    A call for delta > 0, a put for delta < 0. Solved by bisection in ln(K/F). The premium-adjusted
    call delta (K/F)·N(d2) rises and then falls with K; the root is taken on its falling (out-of-
    the-money) branch, above the strike of its maximum, where N(d2)·σ√T = φ(d2). NaN when no
    strike has that delta.
    """
    if not (forward > 0 and t_years > 0 and sigma > 0 and delta != 0 and abs(delta) < 1):
        return math.nan
    call = delta > 0
    vol_t = sigma * math.sqrt(t_years)
    lo, hi = -(10.0 * vol_t + vol_t * vol_t), 10.0 * vol_t + vol_t * vol_t
    convention = DeltaConvention(convention)
    if call and convention is DeltaConvention.PREMIUM_ADJUSTED:
        # the peak: v·N(d2) − φ(d2) = 0 has one root with d2 > −v (increasing there)
        a, b = -vol_t, 10.0
        for _ in range(100):  # a 10-wide bracket halved 100 times: below double precision
            m = 0.5 * (a + b)
            if vol_t * float(norm_cdf(m)) - float(norm_pdf(m)) < 0:
                a = m
            else:
                b = m
        lo = -vol_t * 0.5 * (a + b) - 0.5 * vol_t * vol_t  # ln(K/F) at d2 = peak

    def excess(x: float) -> float:  # decreasing in x on [lo, hi]
        return float(bs_delta(forward, forward * math.exp(x), t_years, sigma, call,
                              convention)) - delta

    if not excess(lo) >= 0 >= excess(hi):
        return math.nan
    for _ in range(100):
        m = 0.5 * (lo + hi)
        if excess(m) > 0:
            lo = m
        else:
            hi = m
    return forward * math.exp(0.5 * (lo + hi))


def bs_gamma(forward: float | np.ndarray, strike: float | np.ndarray, t_years: float | np.ndarray,
             sigma: float | np.ndarray) -> np.ndarray:
    """d²V/dF² = φ(d1) / (F σ √T), per USD of underlying (0 where expired or unvaluable)."""
    d1, vol_t = _d1(forward, strike, t_years, sigma)
    f = np.broadcast_to(np.asarray(forward, dtype=np.float64), d1.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = norm_pdf(d1) / (f * vol_t)
    return np.where(np.isfinite(g), g, 0.0)


def bs_vega(forward: float | np.ndarray, strike: float | np.ndarray, t_years: float | np.ndarray,
            sigma: float | np.ndarray) -> np.ndarray:
    """dV/dσ per 1 vol point: F φ(d1) √T × 0.01, in the forward's unit (USD), as Deribit quotes."""
    d1, _ = _d1(forward, strike, t_years, sigma)
    f, t = np.broadcast_arrays(np.asarray(forward, dtype=np.float64),
                               np.asarray(t_years, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        v = f * norm_pdf(d1) * np.sqrt(np.where(t > 0, t, 0.0)) * ONE_PCT
    return np.where(np.isfinite(v), v, 0.0)


# -- dealer positioning -----------------------------------------------------------------------
class DealerPositioning(StrEnum):
    """Which side of each leg dealers are assumed to hold: the sign of call and put GEX.

    Nobody observes dealer books, so this is a stated assumption (`description` is the on-screen
    text). GEX per option is multiplied by `call_sign` or `put_sign`: +1 where dealers are long
    the option (long gamma: they sell rallies and buy dips, damping moves), −1 where short
    (short gamma: they chase moves, amplifying them).
    """

    LONG_CALLS_SHORT_PUTS = "long_calls_short_puts"
    SHORT_BOTH = "short_both"
    LONG_BOTH = "long_both"

    @property
    def call_sign(self) -> float:
        return -1.0 if self is DealerPositioning.SHORT_BOTH else 1.0

    @property
    def put_sign(self) -> float:
        return 1.0 if self is DealerPositioning.LONG_BOTH else -1.0

    @property
    def label(self) -> str:
        return {DealerPositioning.LONG_CALLS_SHORT_PUTS: "dealers long calls, short puts",
                DealerPositioning.SHORT_BOTH: "dealers short calls and puts",
                DealerPositioning.LONG_BOTH: "dealers long calls and puts"}[self]

    @property
    def description(self) -> str:
        return {
            DealerPositioning.LONG_CALLS_SHORT_PUTS: (
                "Dealers long calls, short puts (call GEX > 0, put GEX < 0): customers sell "
                "(overwrite) calls and buy puts for protection. The common default."),
            DealerPositioning.SHORT_BOTH: (
                "Dealers short calls and puts (call and put GEX < 0): customers are net long "
                "options on both sides, so dealers are short gamma everywhere."),
            DealerPositioning.LONG_BOTH: (
                "Dealers long calls and puts (call and put GEX > 0): customers are net short "
                "options (selling premium on both sides), so dealers are long gamma everywhere."),
        }[self]


@dataclass(frozen=True)
class DealerConvention:
    """Legacy two-way toggle: default dealers long calls, short puts; `flipped` negates both legs
    (dealers short calls, long puts). Prefer `DealerPositioning`, which every GEX function takes.
    """

    flipped: bool = False

    @property
    def call_sign(self) -> float:
        return -1.0 if self.flipped else 1.0

    @property
    def put_sign(self) -> float:
        return 1.0 if self.flipped else -1.0

    @property
    def label(self) -> str:
        return ("dealers short calls, long puts" if self.flipped
                else "dealers long calls, short puts")


Dealer = DealerPositioning | DealerConvention
DEFAULT_DEALER: Dealer = DealerPositioning.LONG_CALLS_SHORT_PUTS
GEX_UNIT = "USD per 1% move"
GEX_FORMULA = "GEX_K = Σ_i sign × OI_{i,K} × Γ(F_i, K, σ, T_i) × F_i² × 1 %"


# -- chain access -----------------------------------------------------------------------------
def _col(chain: pd.DataFrame, name: str) -> np.ndarray:
    if name in chain.columns:
        return chain[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.full(len(chain), np.nan)


def _is_call(chain: pd.DataFrame) -> np.ndarray:
    if "option_type" not in chain.columns:
        return np.zeros(len(chain), dtype=bool)
    return (chain["option_type"].astype(str).str.upper().str[:1] == "C").to_numpy(dtype=bool)


def _is_put(chain: pd.DataFrame) -> np.ndarray:
    if "option_type" not in chain.columns:
        return np.zeros(len(chain), dtype=bool)
    return (chain["option_type"].astype(str).str.upper().str[:1] == "P").to_numpy(dtype=bool)


@dataclass(frozen=True)
class _Book:
    """The live options of a chain with everything GEX needs (IV > 0, T > 0, OI known)."""

    strike: np.ndarray
    is_call: np.ndarray
    t: np.ndarray  # years
    sigma: np.ndarray  # decimal
    oi: np.ndarray  # contracts (coins)
    basis: np.ndarray  # F_i / index (1 where the forward is unknown)


def _book(chain: pd.DataFrame, at_ms: int, index: float | None) -> _Book:
    """The valuable rows and each one's basis b_i = F_i / index.

    Without an index the nearest live expiry's forward stands in for it (F_front ≈ index up to
    the front basis): callers that know the snapshot's index should pass it.
    """
    strike = _col(chain, "strike")
    t = year_fraction(_col(chain, "expiry_ms"), np.float64(at_ms))
    sigma = _col(chain, "mark_iv") / 100.0
    oi = _col(chain, "open_interest")
    fwd = _col(chain, "underlying_price")
    call, put = _is_call(chain), _is_put(chain)
    with np.errstate(invalid="ignore"):
        keep = ((call | put) & (strike > 0) & (t > 0) & (sigma > 0) & np.isfinite(sigma)
                & (oi >= 0))
    strike, t, sigma, oi, fwd, call = (a[keep] for a in (strike, t, sigma, oi, fwd, call))
    with np.errstate(invalid="ignore"):
        known = np.isfinite(fwd) & (fwd > 0)
    basis = np.ones(len(strike))
    if known.any():
        if index is not None and index > 0:
            reference = float(index)
        else:
            reference = float(fwd[known][np.argmin(t[known])])
        basis[known] = fwd[known] / reference
    return _Book(strike, call, t, sigma, oi, basis)


def _gex_rows(book: _Book, spot: float | np.ndarray, dealer: Dealer) -> np.ndarray:
    """Signed GEX per option (USD per 1 % move); `spot` may be a column of spots (n, 1).

    GEX = sign × OI × Γ(F_i, K, σ, T) × F_i² × 1 %, with F_i = b_i × S' (b_i = F_i / index) and
    sign = dealer.call_sign or dealer.put_sign (a `DealerPositioning`, or its value as text).
    """
    if isinstance(dealer, str):
        dealer = DealerPositioning(dealer)
    f = np.asarray(spot, dtype=np.float64) * book.basis
    gamma = bs_gamma(f, book.strike, book.t, book.sigma)
    sign = np.where(book.is_call, dealer.call_sign, dealer.put_sign)
    return sign * book.oi * gamma * f * f * ONE_PCT


def gex_by_strike(chain: pd.DataFrame, spot: float, at_ms: int,
                  dealer: Dealer = DEFAULT_DEALER, *,
                  index: float | None = None) -> pd.DataFrame:
    """Columns strike, call_gex, put_gex, net_gex (USD per 1 % move), summed over expiries.

    GEX_K = Σ_i sign × OI_{i,K} × Γ(F_i, K, σ_{i,K}, T_i) × F_i² × 1 %, summed over the expiries i
    that list strike K, where F_i = F_i,quoted × spot / index is expiry i's own forward moved with
    the underlying and sign is the `dealer` positioning's sign for the leg (+1 long, −1 short).
    `index` defaults to `spot` (the chain valued as quoted, each expiry on its own forward); pass
    the snapshot's index with another `spot` to value at a hypothetical level.
    """
    import pandas as pd

    book = _book(chain, at_ms, float(spot) if index is None else index)
    columns = ["strike", "call_gex", "put_gex", "net_gex"]
    if not len(book.strike):
        return pd.DataFrame({c: np.empty(0) for c in columns})
    gex = _gex_rows(book, float(spot), dealer)
    strikes, inverse = np.unique(book.strike, return_inverse=True)
    call = np.bincount(inverse, weights=np.where(book.is_call, gex, 0.0), minlength=len(strikes))
    put = np.bincount(inverse, weights=np.where(book.is_call, 0.0, gex), minlength=len(strikes))
    return pd.DataFrame({"strike": strikes, "call_gex": call, "put_gex": put,
                         "net_gex": call + put})


def gex_profile(chain: pd.DataFrame, spots: np.ndarray, at_ms: int,
                dealer: Dealer = DEFAULT_DEALER, *,
                index: float | None = None) -> np.ndarray:
    """Total net GEX (USD per 1 % move) re-computed with the underlying at each of `spots`.

    GEX(S') = Σ_options sign × OI × Γ(F_i(S'), K, σ, T) × F_i(S')² × 1 %, with
    F_i(S') = F_i × S' / index (each expiry keeps its own basis; σ held at the quoted mark IV).
    Pass the snapshot's `index`: without it the nearest expiry's forward stands in for the index,
    which shifts every expiry by the front basis.
    """
    spots = np.asarray(spots, dtype=np.float64)
    book = _book(chain, at_ms, index)
    if not len(book.strike):
        return np.zeros(spots.shape)
    out = np.empty(spots.size)
    flat = spots.ravel()
    step = max(1, 200_000 // max(1, len(book.strike)))  # bounded (spots × options) matrices
    for lo in range(0, flat.size, step):
        part = flat[lo:lo + step, None]
        out[lo:lo + step] = _gex_rows(book, part, dealer).sum(axis=1)
    return out.reshape(spots.shape)


def zero_gamma_level(chain: pd.DataFrame, spot: float, at_ms: int,
                     dealer: Dealer = DEFAULT_DEALER, lo: float = 0.5,
                     hi: float = 1.5, *, index: float | None = None) -> float | None:
    """The gamma flip: the underlying S* (USD) where GEX(S*) = 0 nearest `spot`, in [lo, hi] × spot.

    GEX(S') is `gex_profile` (each expiry on F_i × S' / index; `index` defaults to `spot`, the
    snapshot's index). A 241-point scan finds the sign changes; the one nearest spot is refined by
    bisection on the profile itself. None when the profile does not cross zero in the range.
    """
    book = _book(chain, at_ms, float(spot) if index is None else index)
    if not len(book.strike) or not spot > 0:
        return None
    grid = np.linspace(lo * spot, hi * spot, 241)

    def net(s: np.ndarray) -> np.ndarray:
        return _gex_rows(book, s[:, None], dealer).sum(axis=1)

    values = net(grid)
    scale = float(np.max(np.abs(values))) if len(values) else 0.0
    if not scale > 0:
        return None
    sign = np.sign(values)
    roots: list[float] = [float(g) for g, s in zip(grid, sign, strict=True) if s == 0]
    brackets = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    for i in brackets:
        a, b, fa = grid[i], grid[i + 1], values[i]
        for _ in range(60):  # bisection: 60 halvings of ≤ 0.5 % of spot is far below a cent
            m = 0.5 * (a + b)
            fm = net(np.array([m]))[0]
            if fm == 0:
                a = b = m
                break
            if np.sign(fm) == np.sign(fa):
                a, fa = m, fm
            else:
                b = m
        roots.append(0.5 * (a + b))
    if not roots:
        return None
    return min(roots, key=lambda r: abs(r - spot))


def call_wall(gex: pd.DataFrame) -> float | None:
    """Call wall: the strike K (USD) maximising |call GEX_K| = Σ_i OI × Γ × F_i² × 1 % over calls.

    By size, so the strike is the same under every `DealerPositioning` (the sign only says whether
    dealers there damp or amplify moves).
    """
    return _wall(gex, "call_gex")


def put_wall(gex: pd.DataFrame) -> float | None:
    """Put wall: the strike K (USD) maximising |put GEX_K| (by size, as `call_wall`)."""
    return _wall(gex, "put_gex")


def _wall(gex: pd.DataFrame, column: str) -> float | None:
    if not len(gex):
        return None
    size = np.abs(gex[column].to_numpy(dtype=np.float64, na_value=np.nan))
    if not np.isfinite(size).any() or not np.nanmax(size) > 0:
        return None
    return float(gex["strike"].to_numpy(dtype=np.float64)[int(np.nanargmax(size))])


# -- implied volatility surface ---------------------------------------------------------------
@dataclass(frozen=True)
class _Expiry:
    expiry_ms: int
    t: float  # years
    forward: float  # USD
    strike: np.ndarray
    is_call: np.ndarray
    iv: np.ndarray  # percent


def _expiries(chain: pd.DataFrame, at_ms: int, spot: float | None = None) -> list[_Expiry]:
    """Live expiries with IV quotes; the forward is the expiry's underlying_price (else spot)."""
    expiry = _col(chain, "expiry_ms")
    strike = _col(chain, "strike")
    iv = _col(chain, "mark_iv")
    fwd = _col(chain, "underlying_price")
    call, put = _is_call(chain), _is_put(chain)
    with np.errstate(invalid="ignore"):
        keep = (call | put) & (strike > 0) & (iv > 0) & np.isfinite(iv) & (expiry > at_ms)
    out = []
    for e in np.unique(expiry[keep]):
        rows = keep & (expiry == e)
        f_known = fwd[rows][np.isfinite(fwd[rows]) & (fwd[rows] > 0)]
        forward = float(np.median(f_known)) if len(f_known) else (spot or math.nan)
        if not forward > 0:
            continue
        order = np.lexsort((~call[rows], strike[rows]))
        out.append(_Expiry(int(e), float(year_fraction(float(e), float(at_ms))), forward,
                           strike[rows][order], call[rows][order], iv[rows][order]))
    return out


def _atm_iv(ex: _Expiry) -> float:
    """σ_ATM (%) = σ(K = F): IV linear in ln K between the strikes either side of the forward F
    (a call and a put at one strike averaged); NaN when F is outside the quoted strikes."""
    strikes, inverse = np.unique(ex.strike, return_inverse=True)
    iv = np.bincount(inverse, weights=ex.iv) / np.bincount(inverse)  # C and P at one strike
    x = np.log(strikes)
    target = math.log(ex.forward)
    if len(x) == 0 or target < x[0] or target > x[-1]:
        return math.nan
    return float(np.interp(target, x, iv))


def atm_term_structure(chain: pd.DataFrame, spot: float, at_ms: int) -> pd.DataFrame:
    """Columns expiry_ms, days, atm_iv (%): σ_ATM,i = σ_i(K = F_i) per live expiry, nearest first.

    F_i is expiry i's own forward (its rows' median `underlying_price`, else `spot`); σ_i(K) is
    linear in ln K between the quoted strikes either side of F_i; days = T_i × 365 (ACT/365).
    """
    import pandas as pd

    rows = []
    for ex in _expiries(chain, at_ms, spot):
        atm = _atm_iv(ex)
        if np.isfinite(atm):
            rows.append((ex.expiry_ms, ex.t * 365.0, atm))
    return pd.DataFrame(rows, columns=["expiry_ms", "days", "atm_iv"]).astype(
        {"expiry_ms": np.int64, "days": np.float64, "atm_iv": np.float64})


def smile(chain: pd.DataFrame, expiry_ms: int, at_ms: int,
          delta_convention: DeltaConvention = DeltaConvention.FORWARD) -> pd.DataFrame:
    """One expiry: strike, log_moneyness ln(K/F), delta, mark_iv (%), option_type.

    F is the expiry's own forward; delta is `bs_delta` under `delta_convention` at the option's
    own mark IV.
    """
    import pandas as pd

    columns = ["strike", "log_moneyness", "delta", "mark_iv", "option_type"]
    for ex in _expiries(chain, at_ms):
        if ex.expiry_ms == int(expiry_ms):
            delta = bs_delta(ex.forward, ex.strike, ex.t, ex.iv / 100.0, ex.is_call,
                             delta_convention)
            return pd.DataFrame({"strike": ex.strike,
                                 "log_moneyness": np.log(ex.strike / ex.forward),
                                 "delta": delta, "mark_iv": ex.iv,
                                 "option_type": np.where(ex.is_call, "C", "P")})
    return pd.DataFrame({c: [] for c in columns}).astype(
        {c: np.float64 for c in columns if c != "option_type"})


def _iv_at_delta(delta: np.ndarray, iv: np.ndarray, target: float) -> float:
    """IV (%) at `target` delta, linear in delta between the quotes either side; NaN outside."""
    ok = np.isfinite(delta) & np.isfinite(iv)
    d, v = delta[ok], iv[ok]
    if len(d) < 2:
        return math.nan
    order = np.argsort(d, kind="stable")
    d, v = d[order], v[order]
    if target < d[0] or target > d[-1]:
        return math.nan  # no extrapolation beyond the quoted wings
    return float(np.interp(target, d, v))


def _falling_branch(delta: np.ndarray) -> np.ndarray:
    """Mask of the quotes from the largest delta on (strike order): where delta falls with K.

    The premium-adjusted call delta (K/F)·N(d2) first rises with K; only its falling branch
    maps a delta to one strike. The forward call delta falls everywhere, so nothing is dropped.
    """
    keep = np.zeros(len(delta), dtype=bool)
    finite = np.isfinite(delta)
    if finite.any():
        keep[int(np.nanargmax(np.where(finite, delta, -np.inf))):] = True
    return keep & finite


def risk_reversal_butterfly(chain: pd.DataFrame, at_ms: int,
                            delta_convention: DeltaConvention = DeltaConvention.FORWARD
                            ) -> pd.DataFrame:
    """Per live expiry: expiry_ms, days, atm_iv, rr25, bf25 (all vol points).

    RR25 = σ(25Δ call) − σ(25Δ put); BF25 = (σ(25Δ call) + σ(25Δ put)) / 2 − σ_ATM, with σ_ATM
    the IV at the expiry's own forward (`atm_term_structure`). The 25Δ IVs are interpolated
    linearly in delta across the out-of-the-money wing (calls with K ≥ F, puts with K ≤ F), each
    delta taken at the option's own IV under `delta_convention`: FORWARD, call N(d1) = 0.25 and
    put N(d1) − 1 = −0.25; PREMIUM_ADJUSTED (coin-margined), call (K/F)·N(d2) = 0.25 and put
    −(K/F)·N(−d2) = −0.25 (calls on the branch where that delta falls with K). Expiries whose
    quotes do not span 25Δ on both sides are left out.
    """
    import pandas as pd

    rows = []
    for ex in _expiries(chain, at_ms):
        atm = _atm_iv(ex)
        delta = bs_delta(ex.forward, ex.strike, ex.t, ex.iv / 100.0, ex.is_call,
                         delta_convention)
        calls = np.flatnonzero(ex.is_call & (ex.strike >= ex.forward))  # in strike order
        calls = calls[_falling_branch(delta[calls])]
        puts = ~ex.is_call & (ex.strike <= ex.forward)
        c25 = _iv_at_delta(delta[calls], ex.iv[calls], 0.25)
        p25 = _iv_at_delta(delta[puts], ex.iv[puts], -0.25)
        if np.isfinite(atm) and np.isfinite(c25) and np.isfinite(p25):
            rows.append((ex.expiry_ms, ex.t * 365.0, atm, c25 - p25, 0.5 * (c25 + p25) - atm))
    return pd.DataFrame(rows, columns=["expiry_ms", "days", "atm_iv", "rr25", "bf25"]).astype(
        {"expiry_ms": np.int64, "days": np.float64, "atm_iv": np.float64, "rr25": np.float64,
         "bf25": np.float64})


def _total_variance_interp(days: np.ndarray, iv: np.ndarray, target_days: float) -> float:
    """σ(T*) from w = σ² T linear in T between the two points bracketing T*; NaN outside."""
    ok = np.isfinite(days) & np.isfinite(iv) & (days > 0)
    d, v = days[ok], iv[ok]
    order = np.argsort(d, kind="stable")
    d, v = d[order], v[order]
    if not len(d) or target_days < d[0] or target_days > d[-1] or not target_days > 0:
        return math.nan
    w = np.interp(target_days, d, v * v * d)
    return float(math.sqrt(w / target_days))


def _linear_interp(days: np.ndarray, values: np.ndarray, target_days: float) -> float:
    ok = np.isfinite(days) & np.isfinite(values)
    d, v = days[ok], values[ok]
    order = np.argsort(d, kind="stable")
    d, v = d[order], v[order]
    if not len(d) or target_days < d[0] or target_days > d[-1]:
        return math.nan
    return float(np.interp(target_days, d, v))


def constant_maturity(skew: pd.DataFrame, days: float,
                      term: pd.DataFrame | None = None) -> dict[str, float] | None:
    """atm_iv, rr25, bf25 (vol points) at a fixed tenor of `days` days; no extrapolation.

    ATM comes from `term`, an `atm_term_structure` table (every live expiry with an ATM IV). With
    T1 ≤ T* ≤ T2 the two expiries bracketing T* and w_i = σ_i² T_i their total variances,
    w(T*) = w1 + (w2 − w1)(T* − T1)/(T2 − T1) and σ(T*) = √(w(T*) / T*) (linear in total variance:
    flat forward variance between the expiries). rr25 and bf25 come from `skew`
    (`risk_reversal_butterfly`, only expiries whose 25Δ wings are quoted), linear in days between
    the wing-quoted expiries bracketing T*.

    None when the ATM cannot be bracketed; rr25/bf25 are NaN when the wing-quoted expiries do not
    bracket T*. Without `term` the ATM falls back to `skew`'s own atm_iv column, which leaves out
    wing-limited expiries: pass `term`.
    """
    atm_source = term if term is not None else skew
    if not len(atm_source):
        return None
    atm = _total_variance_interp(atm_source["days"].to_numpy(dtype=np.float64),
                                 atm_source["atm_iv"].to_numpy(dtype=np.float64), days)
    if not np.isfinite(atm):
        return None
    out = {"atm_iv": atm}
    skew_days = (skew["days"].to_numpy(dtype=np.float64) if len(skew) else np.empty(0))
    for col in ("rr25", "bf25"):
        values = skew[col].to_numpy(dtype=np.float64) if len(skew) else np.empty(0)
        out[col] = _linear_interp(skew_days, values, days)
    return out
