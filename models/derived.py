"""Every derived quantity a dock shows, by id: what `main.py list` prints and `main.py export`
writes, with the provenance a trader can check it by.

A `DerivedSpec` is an analysis from `models/analyses.py` with fixed parameters, plus how to lay
its result out as a table (`extract`) and how to say what it is (`formula`, `convention`). The
window draws the same analyses' results, so a dock's arrays equal the export of the same id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from models.analyses import (
    ANALYSES,
    DEFAULT_DELTA,
    DEFAULT_DRAWDOWN,
    DEFAULT_POSITIONING,
    DEFAULT_RV_METHOD,
    ROTATION_WINDOWS,
    BasisAnalysis,
    ChainAnalysis,
    DataLoader,
    FundingAnalysis,
    LiquidationAnalysis,
    OpenInterestAnalysis,
    RotationAnalysis,
    SqueezeAnalysis,
    VolatilityAnalysis,
    basis_ids,
    premium_ids,
)
from models.assets import CRYPTO_STEMS, ROTATION_PEERS, asset, prose_name
from models.catalog import venue_label
from models.ids import dvol_id, price_id
from models.liquidations import DEFAULT_BURST_MUSD
from models.series import SeriesData
from models.squeeze import SqueezeThresholds

if TYPE_CHECKING:
    import pandas as pd

RV_WINDOWS = (7, 30, 90)
APR_FORMULA = "APR % = rate × (24 / interval_h) × 365 × 100 (simple, not compounded)"
RV_FORMULA = ("RV = 100 × √(365 / n × Σ rᵢ²) (zero-mean, the default) or 100 × √(365 / (n − 1) × "
              "Σ (rᵢ − r̄)²) (demeaned); rᵢ = ln(Cᵢ / Cᵢ₋₁), daily closes at 00:00 UTC, n = "
              "window")
GEX_FORMULA = ("GEX_K = Σᵢ sign × OI_i,K (coins) × Γ(F_i, K, σ_mark, T_i) × F_i² × 1 %, in USD "
               "per 1 % move; Γ from Black-76 on each expiry's own forward F_i (scaled by "
               "S' / index at a hypothetical spot S'), ACT/365 to the 08:00 UTC expiry, r = 0")
SQUEEZE_FORMULA = (
    "short squeeze (+1): funding APR < f, OI Δ_W < o, price Δ_W > p, short liquidations > L × "
    "usual; long flush (−1): funding APR > −f, OI Δ_W < o, price Δ_W < −p, long liquidations > "
    "L × usual; price Δ_W = (C_h / C_(h−W) − 1) × 100; OI Δ_W = (Σ_v OI_v(h+1h) / "
    "Σ_v OI_v(h+1h−W) − 1) × 100, coins, venues known at both; liquidations over W = mean "
    "hourly reported USD of the W bars ending at h, usual = median hour of the 30 days before")
SQUEEZE_CONVENTION = (
    "hourly bars stamped at their open h, valued at their close h + 1 h; funding APR of the hour "
    "[h, h + 1 h) weighted by each venue's OI in USD at h (a venue without OI then is left out, "
    "the rest renormalise; equal weights where none has OI; after a venue's last settlement its "
    "fundingnow rate up to the snapshot); liquidations as reported by the venues' streams "
    "(incomplete feeds: totals are 'reported'); empty where an input is unknown")
ROTATION_CONVENTION = ("daily log returns at each XNYS session close (exchange-calendars: "
                       "half-days and holidays included; BTC sampled from hourly bars at the "
                       "close), common sessions only")


@dataclass(frozen=True)
class Provenance:
    """What a number is: shown on hover and written next to every export."""

    id: str
    label: str
    unit: str
    formula: str
    convention: str
    inputs: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)  # weights, venues … of this run
    as_of_ms: int | None = None  # the newest input row used

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "unit": self.unit, "formula": self.formula,
                "convention": self.convention, "inputs": list(self.inputs),
                "params": dict(self.params), "details": dict(self.details),
                "as_of": _iso(self.as_of_ms)}

    def tooltip(self) -> str:
        """Plain text for a hover: formula, convention, inputs, as-of."""
        lines = [self.label + (f" ({self.unit})" if self.unit else ""), "",
                 self.formula, f"Convention: {self.convention}"]
        lines += [f"{k}: {v}" for k, v in self.details.items()]
        lines.append("Inputs: " + ", ".join(self.inputs))
        if self.as_of_ms is not None:
            lines.append(f"Data as of {_iso(self.as_of_ms)}")
        return "\n".join(lines)


def stored_provenance(spec: Any, as_of_ms: int | None) -> dict[str, Any]:
    """The sidecar of a stored series (a `models.catalog.SeriesSpec`): what its venue served,
    which venue, symbol and interval (`main.py export` and the dock exports)."""
    return {"id": spec.id, "label": spec.label, "unit": spec.unit,
            "formula": "as served by the venue (no transformation)",
            "convention": f"bars stamped at their open, UTC; interval {spec.interval}",
            "inputs": [f"{venue}:{symbol}" for venue, symbol in spec.venues],
            "params": {}, "details": {}, "as_of": _iso(as_of_ms) if as_of_ms else None}


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DerivedSpec:
    id: str
    label: str
    unit: str
    analysis: str  # a key of models.analyses.ANALYSES
    params: Mapping[str, Any]
    extract: Callable[[Any], pd.DataFrame]  # the analysis result as an export table
    formula: str
    convention: str
    interval: str = ""  # "1h", "1d", "snapshot" …
    details: Callable[[Any], Mapping[str, Any]] | None = None
    source: str = "derived"
    #: the stored series this quantity reads, where fewer than its analysis reads
    own_inputs: tuple[str, ...] | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        if self.own_inputs is not None:
            return self.own_inputs
        return ANALYSES[self.analysis].inputs(**self.params)

    def run(self, loader: DataLoader) -> Any:
        return ANALYSES[self.analysis].run(loader, **self.params)

    def compute(self, loader: DataLoader) -> pd.DataFrame:
        return self.extract(self.run(loader))

    def provenance(self, result: Any = None, as_of_ms: int | None = None) -> Provenance:
        details = self.details(result) if (self.details and result is not None) else {}
        return Provenance(self.id, self.label, self.unit, self.formula, self.convention,
                          self.inputs, dict(self.params), details, as_of_ms)


# -- extractors: analysis result -> export table ---------------------------------------------
def _frame(data: SeriesData, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    frame = data.to_frame()
    return frame if columns is None else frame[list(columns)]


def _empty(columns: list[str], timed: bool = False) -> pd.DataFrame:
    """No rows; `timed` tables keep their empty UTC time index, as a filled one would have."""
    import pandas as pd

    index = _time_index(np.empty(0, dtype=np.int64)) if timed else None
    return pd.DataFrame({c: np.empty(0) for c in columns}, index=index)


def _time_index(ms: np.ndarray) -> pd.DatetimeIndex:
    import pandas as pd

    return pd.DatetimeIndex(pd.to_datetime(np.asarray(ms, dtype=np.int64), unit="ms", utc=True),
                            name="time")


def funding_average_frame(result: FundingAnalysis) -> pd.DataFrame:
    return _frame(result.average, ("apr_pct",))


def funding_grid_frame(result: FundingAnalysis) -> pd.DataFrame:
    import pandas as pd

    if not len(result.grid_venues):
        return _empty(["apr_pct"])
    return pd.DataFrame({v: result.grid[i] for i, v in enumerate(result.grid_venues)},
                        index=_time_index(result.hours))


def funding_negative_frame(result: FundingAnalysis) -> pd.DataFrame:
    import pandas as pd

    starts = np.array([a for a, _ in result.negative], dtype=np.int64)
    ends = np.array([b for _, b in result.negative], dtype=np.int64)
    return pd.DataFrame({"end": _time_index(ends).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "hours": (ends - starts) / 3_600_000.0}, index=_time_index(starts))


def funding_details(result: FundingAnalysis) -> dict[str, Any]:
    intervals = {venue_label(v): f"{d['interval_hours'][-1]:g}h" for v, d in
                 result.venues.items() if len(d)}
    return {"Weighting": result.weighting, "Venues and intervals": intervals}


def volatility_details(result: VolatilityAnalysis) -> dict[str, Any]:
    from models.volatility import RvMethod

    return {"RV": RvMethod(result.rv_method).description}


def oi_change_frame(result: OpenInterestAnalysis) -> pd.DataFrame:
    import pandas as pd

    venues = list(result.venues)
    return pd.DataFrame({
        "venue": venues,
        "last_ms": [int(result.venues[v].last_ms or 0) for v in venues],
        "open_interest": [float(result.venues[v]["open_interest"][-1]) for v in venues],
        "change_24h_pct": [result.change_24h_pct[v] for v in venues]})


def rv_frame(result: VolatilityAnalysis) -> pd.DataFrame:
    return _frame(result.rv)


def ivrv_frame(result: VolatilityAnalysis) -> pd.DataFrame:
    return _frame(result.spread, ("spread", "iv", "rv"))


def _chain_or_empty(result: ChainAnalysis | None, columns: list[str],
                    pick: Callable[[ChainAnalysis], pd.DataFrame]) -> pd.DataFrame:
    return _empty(columns) if result is None else pick(result)


def gex_frame(result: ChainAnalysis | None) -> pd.DataFrame:
    return _chain_or_empty(result, ["strike", "call_gex", "put_gex", "net_gex"],
                           lambda r: r.gex)


def gex_profile_frame(result: ChainAnalysis | None) -> pd.DataFrame:
    import pandas as pd

    return _chain_or_empty(result, ["spot", "total_gex"],
                           lambda r: pd.DataFrame({"spot": r.spots, "total_gex": r.profile}))


def term_frame(result: ChainAnalysis | None) -> pd.DataFrame:
    return _chain_or_empty(result, ["expiry_ms", "days", "atm_iv"], lambda r: r.term)


def skew_frame(result: ChainAnalysis | None) -> pd.DataFrame:
    return _chain_or_empty(result, ["expiry_ms", "days", "atm_iv", "rr25", "bf25"],
                           lambda r: r.skew)


def smile_frame(result: ChainAnalysis | None) -> pd.DataFrame:
    import pandas as pd

    columns = ["expiry_ms", "strike", "log_moneyness", "delta", "mark_iv", "option_type"]
    if result is None or not result.smiles:
        return _empty(columns)
    return pd.concat([s.assign(expiry_ms=e)[columns] for e, s in result.smiles.items()],
                     ignore_index=True)


def chain_details(result: ChainAnalysis | None) -> dict[str, Any]:
    if result is None:
        return {}
    return {"Dealer positioning": result.convention, "Spot (index)": f"{result.spot:,.2f}",
            "Chain time": _iso(result.time_ms)}


def _as_export(series: pd.Series, column: str) -> pd.DataFrame:
    import pandas as pd

    frame = series.astype(np.float64).dropna().to_frame(column)
    frame.index = pd.DatetimeIndex(frame.index, name="time")
    return frame


def _rotation_or_empty(result: RotationAnalysis | None, column: str,
                       pick: Callable[[RotationAnalysis], pd.Series | None]) -> pd.DataFrame:
    series = None if result is None else pick(result)
    return _empty([column], timed=True) if series is None else _as_export(series, column)


def decoupling_frame(result: RotationAnalysis | None) -> pd.DataFrame:
    if result is None:
        return _empty(["btc_ret", "peer_ret", "z", "corr"], timed=True)
    frame = result.decoupling.copy()
    frame.index = _time_index(frame.index.as_unit("ms").asi8) if len(frame) else frame.index
    return frame


def movers_frame(result: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    import pandas as pd

    from models.movers import MOVER_COLUMNS

    frame = pd.DataFrame.from_dict({k: dict(v) for k, v in result.items()}, orient="index",
                                   columns=list(MOVER_COLUMNS), dtype=np.float64)
    frame.index.name = "asset"
    return frame.reset_index()


def squeeze_regime_frame(result: SqueezeAnalysis) -> pd.DataFrame:
    """One row per hourly bar: the four quantities the regime reads and the regime (+1 short
    squeeze, −1 long flush, 0 neither, empty where an input is unknown)."""
    import pandas as pd

    return pd.DataFrame({
        "close": result.close, "price_change_pct": result.price_change_pct,
        "funding_apr_pct": result.funding_apr_pct, "oi_coins": result.oi_coins,
        "oi_change_pct": result.oi_change_pct, "long_liq_usd": result.long_usd,
        "short_liq_usd": result.short_usd, "long_liq_ratio": result.long_ratio,
        "short_liq_ratio": result.short_ratio, "regime": result.regime},
        index=_time_index(result.hours))


def squeeze_periods_frame(result: SqueezeAnalysis) -> pd.DataFrame:
    import pandas as pd

    from models.squeeze import REGIME_NAMES

    starts = np.array([a for a, _b, _k in result.periods], dtype=np.int64)
    ends = np.array([b for _a, b, _k in result.periods], dtype=np.int64)
    return pd.DataFrame({"end": _time_index(ends).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "regime": [REGIME_NAMES[k] for _a, _b, k in result.periods],
                         "hours": (ends - starts) / 3_600_000.0}, index=_time_index(starts))


def squeeze_basis_frame(result: SqueezeAnalysis) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"premium_pct": result.premium_pct,
                         "front_apr_pct": result.front_apr_pct},
                        index=_time_index(result.hours)).dropna(how="all")


def squeeze_details(result: SqueezeAnalysis) -> dict[str, Any]:
    return {"Thresholds": result.thresholds.describe(), "Funding weights": result.funding_note,
            "Liquidation venues (reported)": ", ".join(venue_label(v) for v in
                                                       result.liq_venues) or "none"}


def liquidation_totals_frame(result: LiquidationAnalysis) -> pd.DataFrame:
    """One row per interval: each venue's long and short USD, then the totals."""
    import pandas as pd

    totals = result.totals
    columns: dict[str, np.ndarray] = {}
    for venue in totals.long_usd:
        columns[f"{venue}_long_usd"] = totals.long_usd[venue]
        columns[f"{venue}_short_usd"] = totals.short_usd[venue]
    columns["total_long_usd"] = totals.total_long
    columns["total_short_usd"] = totals.total_short
    return pd.DataFrame(columns, index=_time_index(totals.times))


def liquidation_bursts_frame(result: LiquidationAnalysis) -> pd.DataFrame:
    import pandas as pd

    times = np.array([b.time_ms for b in result.bursts], dtype=np.int64)
    return pd.DataFrame({"side": [b.side for b in result.bursts],
                         "usd": np.array([b.usd for b in result.bursts], dtype=np.float64)},
                        index=_time_index(times))


def liquidation_details(result: LiquidationAnalysis) -> dict[str, Any]:
    return {"Coverage": "; ".join(result.coverage.values()),
            "Burst threshold": f"${result.burst_usd / 1e6:g}M per hour on one side"}


LIQ_CONVENTION = ("the liquidated side (a long's liquidation is a forced sell); USD = size × the "
                  "venue's price (Binance average fill, Bybit/OKX bankruptcy price, Deribit "
                  "trade amount); intervals stamped at their start, UTC; venue feeds are "
                  "incomplete, so every total is a reported total")


BASIS_FORMULA = ("basis % = (future − index) / index × 100; APR % = basis % × 365 / days to "
                 "expiry (simple, actual/365)")
CURVE_COLUMNS_OUT = ["venue", "instrument", "expiry_ms", "days", "basis_pct", "apr_pct",
                     "future_price", "index_price"]


def term_structure_frame(result: BasisAnalysis) -> pd.DataFrame:
    import pandas as pd

    if not result.curve:
        return _empty(CURVE_COLUMNS_OUT)
    parts = [pd.DataFrame({"venue": [venue] * len(rows["days"]),
                           **{c: rows[c] for c in CURVE_COLUMNS_OUT[1:]}})
             for venue, rows in result.curve.items()]
    frame = pd.concat(parts, ignore_index=True)[CURVE_COLUMNS_OUT]
    frame["expiry_ms"] = frame["expiry_ms"].astype(np.int64)  # an instant, not a measurement
    return frame


def cme_basis_frame(result: BasisAnalysis) -> pd.DataFrame:
    if not len(result.cme):
        return _empty(["apr_pct", "basis_pct", "days_to_expiry", "future_price", "index_price"],
                      timed=True)
    return _frame(result.cme, ("apr_pct", "basis_pct", "days_to_expiry", "future_price",
                               "index_price"))


def basis_details(result: BasisAnalysis) -> dict[str, Any]:
    return {"Curve time": _iso(result.curve_time_ms),
            "Venues": ", ".join(venue_label(v) if v != "cme" else "CME" for v in result.curve)}


def _pair_inputs(peer: str) -> tuple[str, ...]:
    return price_id("btc", "1h"), price_id("btc", "1d"), price_id(peer, "1d")


# -- the registry ----------------------------------------------------------------------------
def _declare() -> list[DerivedSpec]:
    specs: list[DerivedSpec] = []
    for stem in CRYPTO_STEMS:
        name = asset(stem).short
        fp = {"asset": stem}
        specs += [
            DerivedSpec(f"fundingavg.{stem}", f"{name} average perpetual funding across venues",
                        "APR %", "funding", fp, funding_average_frame,
                        "avg_h = Σᵥ wᵥ,ₕ · APRᵥ,ₕ / Σᵥ wᵥ,ₕ over venues with a rate in hour h; "
                        + APR_FORMULA,
                        "a settlement at t pays for [t − interval, t); hour h = [h, h + 1 h); "
                        "weights: each venue's open interest in USD at that hour (a venue "
                        "without OI then is left out and the rest renormalise; equal weights "
                        "only where no venue has OI)", "1h",
                        details=funding_details),
            DerivedSpec(f"fundinggrid.{stem}", f"{name} funding by venue and hour (heatmap)",
                        "APR %", "funding", fp, funding_grid_frame, APR_FORMULA,
                        "one column per venue; a settlement's rate fills the hours of its own "
                        "interval, gaps stay empty", "1h", details=funding_details),
            DerivedSpec(f"fundingneg.{stem}", f"{name} periods of negative average funding",
                        "hours", "funding", fp, funding_negative_frame,
                        "runs of consecutive hours with avg_h < 0 (shorts paying longs)",
                        "start and end of each run (UTC); the average as in fundingavg",
                        "", details=funding_details),
            DerivedSpec(f"oichange.{stem}", f"{name} open interest, last and 24h change",
                        "% (24h)", "open_interest", fp, oi_change_frame,
                        "change = (OI_now / OI_(now − 24h) − 1) × 100, OI in coins",
                        "OI_(now − 24h) is the last row at or before 24 h earlier", ""),
        ]
        sp = {"asset": stem, **SqueezeThresholds().as_params()}
        specs += [
            DerivedSpec(f"regime.{stem}", f"{name} squeeze regime per hourly bar", "regime",
                        "squeeze", sp, squeeze_regime_frame, SQUEEZE_FORMULA,
                        SQUEEZE_CONVENTION, "1h", details=squeeze_details),
            DerivedSpec(f"regimeperiods.{stem}", f"{name} short squeezes and long flushes",
                        "hours", "squeeze", sp, squeeze_periods_frame,
                        "runs of consecutive hourly bars in one regime; " + SQUEEZE_FORMULA,
                        "start and end of each run (UTC, end exclusive); " + SQUEEZE_CONVENTION,
                        "", details=squeeze_details),
            DerivedSpec(f"squeezebasis.{stem}", f"{name} perpetual premium and front quarterly "
                        "basis, mean across venues", "%", "squeeze", sp, squeeze_basis_frame,
                        "premium_pct = mean over venues of the hour's mean (mark − index) / "
                        "index × 100; front_apr_pct = mean over venues of the hour's mean front "
                        "quarterly basis APR (basis_pct × 365 / days to expiry)",
                        "hour h = [h, h + 1 h); a venue without a row in the hour is left out "
                        "of that hour's mean", "1h", details=squeeze_details,
                        own_inputs=(*premium_ids(stem), *basis_ids(stem)) or None),
        ]
        lp = {"asset": stem, "interval": "1h", "burst_musd": DEFAULT_BURST_MUSD}
        specs += [
            DerivedSpec(f"liqtotals.{stem}",
                        f"{name} reported liquidations per hour, long and short, per venue "
                        "and in total", "USD", "liquidations", lp, liquidation_totals_frame,
                        "Σ USD of the reported liquidations in the hour, per liquidated side, "
                        "per venue; total = Σ over venues", LIQ_CONVENTION, "1h",
                        details=liquidation_details),
            DerivedSpec(f"liqbursts.{stem}",
                        f"{name} reported liquidation bursts (hours ≥ "
                        f"${DEFAULT_BURST_MUSD}M on one side)", "USD", "liquidations", lp,
                        liquidation_bursts_frame,
                        "hours whose reported total on one side, over every venue, reaches "
                        "the threshold", LIQ_CONVENTION + "; threshold set in the "
                        "Liquidations dock (export: the default)", "1h",
                        details=liquidation_details),
        ]
        for window in RV_WINDOWS:
            vp = {"asset": stem, "window": window, "rv_method": DEFAULT_RV_METHOD}
            specs += [
                DerivedSpec(f"rv.{stem}.{window}", f"{name} realised vol {window}d (zero-mean)",
                            "vol pts (annualised √365)", "volatility", vp, rv_frame,
                            RV_FORMULA, "close-to-close, annualised with 365 days",
                            "1d", details=volatility_details,
                            own_inputs=(price_id(stem, "1d"),)),
                DerivedSpec(f"ivrv.{stem}.{window}",
                            f"{name} DVOL − trailing realised vol {window}d (zero-mean)",
                            "vol pts",
                            "volatility", vp, ivrv_frame,
                            "IV − RV = DVOL − RV_window; " + RV_FORMULA,
                            "trailing: RV of the past window against today's implied vol; "
                            "stamped when both are known (RV of day D and DVOL of 23:00 D at "
                            "00:00 D+1)", "1d", details=volatility_details,
                            own_inputs=(dvol_id(stem), price_id(stem, "1d"))),
            ]
        cp = {"asset": stem, "positioning": DEFAULT_POSITIONING, "delta": DEFAULT_DELTA}
        chain = [
            ("gex", f"{name} dealer gamma by strike", "USD per 1% move", gex_frame, GEX_FORMULA),
            ("gexprofile", f"{name} total dealer gamma across spot", "USD per 1% move",
             gex_profile_frame, "total GEX(S') = Σ_K GEX_K re-valued at spot S', 70–130 % of "
             "spot; " + GEX_FORMULA),
            ("term", f"{name} ATM implied vol term structure", "vol pts", term_frame,
             "ATM IV = mark IV interpolated at each expiry's forward"),
            ("skew", f"{name} ATM IV, 25Δ risk reversal and butterfly by expiry", "vol pts",
             skew_frame, "RR25 = IV(25Δ call) − IV(25Δ put); BF25 = (IV(25Δ C) + IV(25Δ P)) / 2 "
             "− ATM IV"),
            ("smile", f"{name} implied vol smile per expiry", "vol pts", smile_frame,
             "mark IV by strike; log-moneyness ln(K / F); Black-76 delta at the option's own IV"),
        ]
        for prefix, label, unit, extract, formula in chain:
            specs.append(DerivedSpec(f"{prefix}.{stem}", label, unit, "chain", cp, extract,
                                     formula, "the newest chain, valued at its own timestamp",
                                     "snapshot", details=chain_details))
        specs.append(DerivedSpec(
            f"gammalevels.{stem}", f"{name} gamma flip and call/put walls over time", "USD",
            "gamma_levels", cp, lambda frame: frame,
            "flip: the spot S' where total GEX(S') changes sign nearest spot; walls: the "
            "strikes of largest call / put GEX; " + GEX_FORMULA,
            "one row per cached chain snapshot", "snapshot"))
        specs.append(DerivedSpec(
            f"skew30.{stem}", f"{name} 30-day constant-maturity ATM IV, 25Δ RR and BF",
            "vol pts", "skew_history", {"asset": stem, "delta": DEFAULT_DELTA},
            lambda frame: frame,
            "ATM: total variance σ²T interpolated linearly in T at 30 days over every expiry "
            "with an ATM IV; RR25, BF25 linearly in days over expiries with both 25Δ wings",
            "one cached chain per day", "1d"))
    from models.basis import MIN_CURVE_DAYS
    from models.catalog import CME_BTC_ID
    from models.ids import basis_curve_id

    for stem in CRYPTO_STEMS:
        name = asset(stem).short
        cme_note = ("; CME: Yahoo BTC=F's newest hourly bar against Binance BTC/USDT spot"
                    if stem == "btc" else "")
        specs.append(DerivedSpec(
            f"termstructure.{stem}", f"{name} futures basis term structure by venue", "APR %",
            "basis", {"asset": stem}, term_structure_frame, BASIS_FORMULA,
            "each venue's dated futures at their mark price against the venue's own index, "
            f"valued at the snapshot's time; contracts with {MIN_CURVE_DAYS:g} day or less to "
            "go left out" + cme_note, "snapshot", details=basis_details,
            own_inputs=(basis_curve_id(stem), *((CME_BTC_ID, price_id("btc", "1h"))
                                               if stem == "btc" else ()))))
    specs.append(DerivedSpec(
        "cmebasis.btc", "BTC CME front-month basis against spot", "APR %", "basis",
        {"asset": "btc"}, cme_basis_frame, BASIS_FORMULA,
        "Yahoo BTC=F (continuous front month) hourly close against Binance BTC/USDT's close of "
        "the same hour; expiry the last Friday of the month (Thursday when it is Good Friday) "
        "at 16:00 London, the front month rolling at that instant; days counted from the bar's "
        "close", "1h", own_inputs=(CME_BTC_ID, price_id("btc", "1h"))))
    for window in ROTATION_WINDOWS:
        rp = {"window": window, "k": 2.0, "threshold": 0.2}
        for peer in ROTATION_PEERS:
            specs.append(DerivedSpec(
                f"corr.btc_{peer}.{window}",
                f"BTC vs {prose_name(peer)} rolling correlation, {window} sessions",
                "correlation", "rotation", rp,
                lambda r, p=peer: _rotation_or_empty(r, "corr", lambda a: a.corr.get(p)),
                "ρ = Pearson correlation of the last `window` pairs of daily log returns",
                ROTATION_CONVENTION, "1d", own_inputs=_pair_inputs(peer)))
        specs.append(DerivedSpec(
            f"beta.btc_spx.{window}", f"BTC beta to the S&P 500, {window} sessions", "beta",
            "rotation", rp, lambda r: _rotation_or_empty(r, "beta", lambda a: a.beta),
            "β = cov(r_BTC, r_SPX) / var(r_SPX) over the last `window` sessions",
            ROTATION_CONVENTION, "1d", own_inputs=_pair_inputs("spx")))
    rp = {"window": 60, "k": 2.0, "threshold": 0.2}
    for peer, unit in (("gold", "oz of gold per BTC"), ("spx", "S&P 500 units per BTC")):
        specs.append(DerivedSpec(
            f"ratio.btc_{peer}", f"BTC / {prose_name(peer)} at the session close", unit,
            "rotation", rp, lambda r, p=peer: _rotation_or_empty(r, "ratio",
                                                                lambda a: a.ratios.get(p)),
            "ratio = BTC close / peer close at the same session close", ROTATION_CONVENTION,
            "1d", own_inputs=_pair_inputs(peer)))
    specs.append(DerivedSpec(
        "decoupling.btc_spx", "Decoupling days: big BTC moves while BTC/S&P 500 correlation "
        "was low", "sessions", "rotation", rp, decoupling_frame,
        "flag when |r_BTC| > k × σ_BTC (rolling, window) and ρ(BTC, SPX) < threshold",
        ROTATION_CONVENTION + "; k = 2 σ, threshold 0.2, window 60 unless set in the window",
        "1d"))
    specs.append(DerivedSpec(
        "movers", "Movers: last, 1D/1W/1M change, RV30, z-score, drawdown per asset", "%",
        "movers", {"drawdown": DEFAULT_DRAWDOWN}, movers_frame,
        "see each column's definition (models/movers.py COLUMN_DEFINITIONS)",
        "crypto: rolling 24 h / 7 d / 30 d from the last trade; others: the close 1, 5 and 21 "
        "sessions earlier; drawdown from the 52-week high of closes", ""))
    return specs


DERIVED: dict[str, DerivedSpec] = {s.id: s for s in _declare()}

