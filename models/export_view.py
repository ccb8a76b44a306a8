"""What a dock plots, as tables: one `PlottedSeries` per plotted series, built by one function
per dock from the same analysis results the dock draws.

The window (`Panel.plotted_series()`, from the results the panel holds) and the headless export
(`services/export_view.py`, from the cache through `dock_series`) call the same builders, so a
dock's CSV is the same file whichever way it was asked for. Numpy here; pandas only inside the
builders whose results are pandas already (rotation, options), which run after the analyses did.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from models.catalog import DATE_PLACED_INTERVALS, find_spec
from models.derived import DERIVED, stored_provenance
from models.ids import dvol_id, funding_id, liq_id, oi_id, price_id, volmex_id
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData

if TYPE_CHECKING:
    from models.analyses import (
        BasisAnalysis,
        ChainAnalysis,
        CorrelationMatrix,
        DataLoader,
        FundingAnalysis,
        LiquidationAnalysis,
        OpenInterestAnalysis,
        RotationAnalysis,
        SqueezeAnalysis,
        VolatilityAnalysis,
    )
    from models.price_view import PreparedPrices

#: the docks whose x axis is time: their exports keep the rows of the visible time window
TIME_DOCKS = ("prices", "funding", "open_interest", "volatility", "rotation", "liquidations",
              "basis", "squeeze")
EXPORTABLE_DOCKS = (*TIME_DOCKS, "options", "movers")


@dataclass(frozen=True)
class PlottedSeries:
    """One plotted series: its rows as the chart places them and the values it draws.

    Time series have `time_ms` (each row's instant, bars at their open) and `x` (where the chart
    draws the row, epoch seconds: daily price bars sit at 00:00 UTC of their trading date);
    their CSV starts with `time`. Others (by strike, by expiry, a table) have no `time_ms` and
    carry their x among `columns`.
    """

    name: str  # the file's stem: the series or derived id
    source: str  # the stored series or derived id the rows come from
    x: np.ndarray
    columns: dict[str, np.ndarray]  # CSV columns after `time`, in order
    provenance: dict[str, Any] = field(default_factory=dict)
    time_ms: np.ndarray | None = None

    @property
    def timed(self) -> bool:
        return self.time_ms is not None

    def __len__(self) -> int:
        return len(self.x)

    def clipped(self, x0: float | None, x1: float | None) -> PlottedSeries:
        """The rows drawn within [x0, x1] (time series only; others are shown whole)."""
        if not self.timed:
            return self
        keep = np.ones(len(self.x), dtype=bool)
        if x0 is not None:
            keep &= self.x >= x0
        if x1 is not None:
            keep &= self.x <= x1
        return self._rows(keep)

    def _rows(self, keep: np.ndarray) -> PlottedSeries:
        return replace(self, x=self.x[keep],
                       columns={k: v[keep] for k, v in self.columns.items()},
                       time_ms=None if self.time_ms is None else self.time_ms[keep])


def safe_file_name(name: str) -> str:
    """A file stem any file system takes: letters, digits, `.`, `_`, `-`; never hidden or
    empty ("btc.1h" stays as it is, "a/b c" becomes "a_b_c")."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "series"
    return stem[:120]


def _timed(name: str, source: str, time_ms: np.ndarray, columns: dict[str, np.ndarray],
           provenance: dict[str, Any], x: np.ndarray | None = None) -> PlottedSeries:
    """A time series without the rows that draw nothing (every value NaN: the gaps)."""
    time_ms = np.asarray(time_ms, dtype=np.int64)
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    x = time_ms / 1e3 if x is None else np.asarray(x, dtype=np.float64)
    shown = np.zeros(len(time_ms), dtype=bool)
    for values in cols.values():
        shown |= np.isfinite(values)
    series = PlottedSeries(name, source, x, cols, provenance, time_ms)
    return series if shown.all() else series._rows(shown)


def _stored_provenance(series_id: str, last_ms: int | None, note: str = "") -> dict[str, Any]:
    spec = find_spec(series_id)
    provenance = stored_provenance(spec, last_ms) if spec is not None else {
        "id": series_id, "label": series_id, "unit": "", "formula": "as stored in the cache",
        "convention": "bars stamped at their open, UTC", "inputs": [series_id], "params": {},
        "details": {}, "as_of": _iso(last_ms)}
    if note:
        provenance["details"] = {**provenance["details"], "On the chart": note}
    return provenance


def _stored(series_id: str, data: SeriesData, columns: Sequence[str],
            note: str = "") -> PlottedSeries:
    return _timed(series_id, series_id, data.time, {c: data[c] for c in columns},
                  _stored_provenance(series_id, data.last_ms, note))


def _derived(derived_id: str, result: Any, as_of_ms: int | None,
             **params: Any) -> dict[str, Any]:
    provenance = DERIVED[derived_id].provenance(result, as_of_ms).as_dict()
    provenance["params"].update(params)  # the dock's own choice where it differs
    return provenance


def _iso(ms: int | None) -> str | None:
    from models.derived import _iso as iso

    return iso(ms)


# -- prices -----------------------------------------------------------------------------------
def price_series(prepared: Mapping[str, PreparedPrices], stems: Sequence[str], interval: str,
                 mode: str, style: str, left_edge_s: float | None) -> list[PlottedSeries]:
    """Each shown asset: its close (a line), its OHLC (candles in the stacked view), and in
    the compare view the close rebased to 100 at the chart's left edge."""
    from models.price_view import rebase_factor

    out = []
    for stem in stems:
        series_id = price_id(stem, interval)
        p = prepared.get(series_id)
        if p is None or not len(p.t_raw):
            continue
        data = p.source
        columns = ("open", "high", "low", "close") if (
            style == "candles" and mode == "stacked") else ("close",)
        provenance = _stored_provenance(
            series_id, data.last_ms,
            f"{interval} bars drawn at 00:00 UTC of their trading date" if p.by_date else "")
        values = {c: data[c] for c in columns}
        if mode == "compare":
            factor = rebase_factor(p, left_edge_s if left_edge_s is not None else p.t_raw[0])
            values["rebased"] = data["close"] * factor
            provenance["details"] = {**provenance["details"], "rebased": (
                f"close × {factor:.10g} (100 at the last close at or before the chart's left "
                "edge)")}
        out.append(_timed(series_id, series_id, data.time, values, provenance, p.t_raw))
    return out


def price_data_end_s(prepared: Mapping[str, PreparedPrices], interval: str) -> float | None:
    """The newest bar the price chart holds for `interval` (its range buttons end there)."""
    ends = [p.t_raw[-1] for sid, p in prepared.items() if len(p.t_raw)
            and sid.endswith(f".{interval}")]
    return max(ends) if ends else None


# -- funding ----------------------------------------------------------------------------------
def funding_series(result: FundingAnalysis) -> list[PlottedSeries]:
    """The average line, each venue's settlements and the venue × hour heatmap."""
    asset = result.asset
    out = []
    avg = result.average
    if len(avg):
        out.append(_timed(f"fundingavg.{asset}", f"fundingavg.{asset}", avg.time,
                          {"apr_pct": avg["apr_pct"]},
                          _derived(f"fundingavg.{asset}", result, result.as_of_ms)))
    for venue, data in result.venues.items():
        out.append(_stored(funding_id(venue, asset), data, ("apr_pct", "rate", "interval_hours"),
                           "each settlement's APR drawn over the period it paid for, "
                           "[time − interval_hours, time)"))
    if result.grid_venues:
        out.append(_timed(f"fundinggrid.{asset}", f"fundinggrid.{asset}", result.hours,
                          {v: result.grid[i] for i, v in enumerate(result.grid_venues)},
                          _derived(f"fundinggrid.{asset}", result, result.as_of_ms)))
    return out


# -- open interest ----------------------------------------------------------------------------
def open_interest_series(result: OpenInterestAnalysis) -> list[PlottedSeries]:
    """Each venue's open interest (coins) and the asset's hourly close on the right axis."""
    out = [_stored(oi_id(v, result.asset), d, ("open_interest",))
           for v, d in result.venues.items()]
    if len(result.price):
        out.append(_stored(price_id(result.asset, "1h"), result.price, ("close",),
                           "right-hand axis"))
    return out


# -- liquidations -----------------------------------------------------------------------------
def liquidation_series(result: LiquidationAnalysis) -> list[PlottedSeries]:
    """Each venue's reported long and short USD per interval (the stacked bars: shorts drawn
    above the axis, longs below), the totals over venues, and the bursts the price chart
    marks."""
    asset, totals = result.asset, result.totals
    note = (f"summed per {result.interval} interval (stamped at its start); short liquidations "
            "drawn above the axis, long below; reported by the venue's feed")
    out = []
    for venue in totals.long_usd:
        series_id = liq_id(venue, asset)
        out.append(_timed(f"{series_id}.{result.interval}", series_id, totals.times,
                          {"long_usd": totals.long_usd[venue],
                           "short_usd": totals.short_usd[venue]},
                          _stored_provenance(series_id, result.as_of_ms, note)))
    if len(totals.times):
        out.append(_timed(f"liqtotals.{asset}.{result.interval}", f"liqtotals.{asset}",
                          totals.times, {"total_long_usd": totals.total_long,
                                         "total_short_usd": totals.total_short},
                          _derived(f"liqtotals.{asset}", result, result.as_of_ms,
                                   interval=result.interval)))
    if result.bursts:
        out.append(_timed(f"liqbursts.{asset}", f"liqbursts.{asset}",
                          np.array([b.time_ms for b in result.bursts], dtype=np.int64),
                          {"long_usd": np.array([b.usd if b.side == "long" else np.nan
                                                 for b in result.bursts]),
                           "short_usd": np.array([b.usd if b.side == "short" else np.nan
                                                  for b in result.bursts])},
                          _derived(f"liqbursts.{asset}", result, result.as_of_ms,
                                   burst_musd=result.burst_usd / 1e6)))
    return out


# -- volatility -------------------------------------------------------------------------------
def volatility_series(result: VolatilityAnalysis) -> list[PlottedSeries]:
    asset, window = result.asset, result.window
    out = []
    if len(result.dvol):
        out.append(_stored(dvol_id(asset), result.dvol, ("close",)))
    if len(result.rv):
        out.append(_timed(f"rv.{asset}.{window}", f"rv.{asset}.{window}", result.rv.time,
                          {"rv": result.rv["rv"]},
                          _derived(f"rv.{asset}.{window}", result, result.rv.last_ms,
                                   rv_method=result.rv_method)))
    if len(result.spread):
        spread = result.spread
        out.append(_timed(f"ivrv.{asset}.{window}", f"ivrv.{asset}.{window}", spread.time,
                          {c: spread[c] for c in ("spread", "iv", "rv")},
                          _derived(f"ivrv.{asset}.{window}", result, spread.last_ms,
                                   rv_method=result.rv_method)))
    if len(result.volmex):
        out.append(_stored(volmex_id(asset), result.volmex, ("close",)))
    return out


# -- squeeze anatomy --------------------------------------------------------------------------
def squeeze_series(result: SqueezeAnalysis) -> list[PlottedSeries]:
    """The price, the regime table (funding APR, OI change, liquidations, the regime that
    shades all six plots), DVOL, the premium and front basis, and the regime's runs."""
    asset = result.asset
    params = result.thresholds.as_params()
    as_of = result.as_of_ms
    out = []
    if len(result.hours):
        price = SeriesData(result.hours, {"close": result.close})
        out.append(_stored(price_id(asset, "1h"), price, ("close",)))
        name = f"regime.{asset}"
        provenance = _derived(name, result, as_of, **params)
        provenance["details"] = {**provenance["details"], "On the chart": (
            "long liquidations are drawn below the axis (as negative USD), short ones above")}
        columns = {"funding_apr_pct": result.funding_apr_pct,
                   "oi_change_pct": result.oi_change_pct, "long_liq_usd": result.long_usd,
                   "short_liq_usd": result.short_usd, "long_liq_ratio": result.long_ratio,
                   "short_liq_ratio": result.short_ratio,
                   "price_change_pct": result.price_change_pct, "regime": result.regime}
        out.append(_timed(name, name, result.hours, columns, provenance))
    if len(result.dvol):
        out.append(_stored(dvol_id(asset), result.dvol, ("close",)))
    basis = {"premium_pct": result.premium_pct, "front_apr_pct": result.front_apr_pct}
    if any(np.isfinite(v).any() for v in basis.values()):
        name = f"squeezebasis.{asset}"
        out.append(_timed(name, name, result.hours, basis,
                          _derived(name, result, as_of, **params)))
    if result.periods:
        name = f"regimeperiods.{asset}"
        starts = np.array([a for a, _b, _k in result.periods], dtype=np.int64)
        out.append(_timed(name, name, starts, {
            "end_ms": np.array([b for _a, b, _k in result.periods], dtype=np.float64),
            "regime": np.array([k for _a, _b, k in result.periods], dtype=np.float64)},
            _derived(name, result, as_of, **params)))
    return out


# -- rotation ---------------------------------------------------------------------------------
def _session_ms(index: Any) -> np.ndarray:
    from models.analyses import _index_ms

    return _index_ms(index)


def rotation_series(view: RotationAnalysis, matrix: CorrelationMatrix | None = None,
                    matrix_window_ms: tuple[float, float] | None = None) -> list[PlottedSeries]:
    """Rolling correlations, beta, ratios, the decoupling marks, and the correlation matrix
    of the sessions in view (when there is one)."""
    window = view.window
    params = {"window": view.window, "k": view.k, "threshold": view.threshold}
    sessions = _session_ms(view.returns.index)
    as_of = int(sessions[-1]) if len(sessions) else None  # the newest session used
    out = []
    for stem, series in view.corr.items():
        name = f"corr.btc_{stem}.{window}"
        out.append(_timed(name, name, _session_ms(series.index), {"corr": series.to_numpy(float)},
                          _derived(name, view, as_of, **params)))
    name = f"beta.btc_spx.{window}"
    out.append(_timed(name, name, _session_ms(view.beta.index),
                      {"beta": view.beta.to_numpy(float)},
                      _derived(name, view, as_of, **params)))
    for stem in ("gold", "spx"):
        if stem in view.ratios:
            name = f"ratio.btc_{stem}"
            ratio = view.ratios[stem]
            out.append(_timed(name, name, _session_ms(ratio.index),
                              {"ratio": ratio.to_numpy(float)}, _derived(name, view, as_of)))
    dec = view.decoupling
    if len(dec):
        out.append(_timed("decoupling.btc_spx", "decoupling.btc_spx", _session_ms(dec.index),
                          {c: dec[c].to_numpy(float) for c in dec.columns},
                          _derived("decoupling.btc_spx", view, as_of, **params)))
    if matrix is not None:
        series = correlation_matrix_series(matrix, matrix_window_ms)
        series.provenance["as_of"] = _iso(as_of)
        out.append(series)
    return out


def correlation_matrix_series(matrix: CorrelationMatrix,
                              window_ms: tuple[float, float] | None) -> PlottedSeries:
    tickers = np.array(matrix.tickers, dtype=object)
    columns: dict[str, np.ndarray] = {"asset": tickers}
    for j, name in enumerate(matrix.tickers):
        columns[name] = matrix.values[:, j]
    start, end = window_ms if window_ms is not None else (None, None)
    provenance = {
        "id": "corrmatrix", "label": "Correlation matrix of the sessions in view",
        "unit": "correlation",
        "formula": "Pearson correlation of daily log returns, pairwise over the sessions whose "
                   "close falls in the window",
        "convention": DERIVED["corr.btc_spx.60"].convention,
        "inputs": list(DERIVED["corr.btc_spx.60"].inputs[:1]) + [
            price_id(s, "1d") for s in matrix.stems if s != "btc"],
        "params": {"sessions": matrix.sessions}, "details": {},
        "window": {"start": _iso(int(start)) if start is not None else None,
                   "end": _iso(int(end)) if end is not None else None}}
    return PlottedSeries("corrmatrix", "corrmatrix", np.arange(len(tickers), dtype=np.float64),
                         columns, provenance)


# -- basis ------------------------------------------------------------------------------------
def basis_series(result: BasisAnalysis) -> list[PlottedSeries]:
    """The term structure per venue (APR by days to expiry, CME's front month among them), each
    venue's front-quarterly APR and the CME basis over time, each venue's perp premium."""
    from models.ids import basis_id, premium_id

    asset = result.asset
    out = []
    for venue, rows in result.curve.items():
        name = f"termstructure.{asset}.{venue}"
        provenance = _derived(f"termstructure.{asset}", result, result.curve_time_ms,
                              venue=venue)
        out.append(PlottedSeries(name, f"termstructure.{asset}", np.asarray(rows["days"]), {
            "days": np.asarray(rows["days"], dtype=np.float64),
            "apr_pct": np.asarray(rows["apr_pct"], dtype=np.float64),
            "basis_pct": np.asarray(rows["basis_pct"], dtype=np.float64),
            "expiry_ms": np.asarray(rows["expiry_ms"], dtype=np.float64).astype(np.int64),
            "instrument": np.asarray(rows["instrument"], dtype=object)}, provenance))
    for venue, data in result.front.items():
        out.append(_stored(basis_id(venue, asset), data, ("apr_pct", "basis_pct",
                                                          "days_to_expiry")))
    if len(result.cme):
        cme = result.cme
        out.append(_timed("cmebasis.btc", "cmebasis.btc", cme.time,
                          {c: cme[c] for c in ("apr_pct", "basis_pct", "days_to_expiry")},
                          _derived("cmebasis.btc", result, cme.last_ms)))
    for venue, data in result.premium.items():
        out.append(_stored(premium_id(venue, asset), data, ("premium_pct",)))
    return out


# -- options ----------------------------------------------------------------------------------
def options_series(view: ChainAnalysis, smile_expiry: int | None = None) -> list[PlottedSeries]:
    """GEX by strike, total GEX across spot, the ATM term structure, 25Δ RR/BF by expiry and
    the smile of the expiry shown (by strike)."""
    asset = view.asset
    params = {"positioning": view.positioning, "delta": view.delta}

    def table(name: str, frame_columns: dict[str, Any]) -> PlottedSeries:
        cols = {k: np.asarray(v) for k, v in frame_columns.items()}
        x = np.asarray(next(iter(cols.values())), dtype=np.float64) if cols else np.empty(0)
        return PlottedSeries(name, name, x, cols, _derived(name, view, view.time_ms, **params))

    gex = view.gex
    out = [table(f"gex.{asset}", {c: gex[c].to_numpy(float) for c in
                                  ("strike", "call_gex", "put_gex", "net_gex")}),
           table(f"gexprofile.{asset}", {"spot": view.spots, "total_gex": view.profile})]
    if len(view.term):
        out.append(table(f"term.{asset}", {"days": view.term["days"].to_numpy(float),
                                           "expiry_ms": view.term["expiry_ms"].to_numpy(float),
                                           "atm_iv": view.term["atm_iv"].to_numpy(float)}))
    if len(view.skew):
        out.append(table(f"skew.{asset}", {c: view.skew[c].to_numpy(float) for c in
                                           ("days", "expiry_ms", "rr25", "bf25")}))
    if smile_expiry is None and view.smiles:
        smile_expiry = default_smile_expiry(view)
    if smile_expiry in view.smiles:
        smile = view.smiles[smile_expiry]
        series = table(f"smile.{asset}", {
            "strike": smile["strike"].to_numpy(float),
            "mark_iv": smile["mark_iv"].to_numpy(float),
            "option_type": smile["option_type"].to_numpy(object),
            "delta": smile["delta"].to_numpy(float),
            "log_moneyness": smile["log_moneyness"].to_numpy(float)})
        series.provenance["params"]["expiry_ms"] = int(smile_expiry)
        series.provenance["details"] = {**series.provenance["details"],
                                        "Expiry": _iso(int(smile_expiry))}
        out.append(series)
    return out


def default_smile_expiry(view: ChainAnalysis) -> int | None:
    """The expiry the options dock shows first: the second one (the front expiry's smile is
    a few hours from expiring), or the only one."""
    expiries = list(view.smiles)
    return expiries[min(1, len(expiries) - 1)] if expiries else None


# -- movers -----------------------------------------------------------------------------------
def movers_series(rows: Mapping[str, Mapping[str, float]], order: Sequence[str],
                  drawdown: str) -> PlottedSeries:
    """The movers table as shown, rows in `order` (stems)."""
    from models.movers import MOVER_COLUMNS

    stems = [s for s in order if s in rows]
    columns: dict[str, np.ndarray] = {"asset": np.array(stems, dtype=object)}
    for name in MOVER_COLUMNS:
        columns[name] = np.array([float(rows[s].get(name, np.nan)) for s in stems])
    return PlottedSeries("movers", "movers", np.arange(len(stems), dtype=np.float64), columns,
                         _derived("movers", rows, None, drawdown=drawdown))


# -- the headless route: a dock's series from the cache -----------------------------------------
@dataclass(frozen=True)
class DockView:
    series: list[PlottedSeries]
    #: the x range the dock opens on (seconds), None when it shows all it has
    default_range: tuple[float, float] | None


def dock_series(loader: DataLoader, dock: str, choices: Mapping[str, Any],
                x_range: tuple[float, float] | None = None) -> DockView:
    """What `dock` plots for `choices` (resolved: `models.dock_choices.resolve_choices`), read
    through `loader` with the analyses the dock's feeds run. `x_range` (seconds, an open end
    ±inf: the dock's own range there) matters where what is plotted depends on the view: the
    compare view's rebase at the left edge, the rotation matrix of the sessions in view."""
    from models import analyses
    from models.dock_choices import (
        FUNDING_WINDOWS_DAYS,
        RANGES_DAYS,
        ROTATION_SPAN_DAYS,
        VOLATILITY_SPAN_DAYS,
    )

    def ending(end_s: float | None, days: float) -> tuple[float, float] | None:
        return None if end_s is None else (end_s - days * 86400, end_s)

    def shown(default: tuple[float, float] | None) -> tuple[float, float]:
        """The window asked for, its open ends (±inf) taken from the dock's own range."""
        base = default or (-np.inf, np.inf)
        if x_range is None:
            return base
        return (x_range[0] if np.isfinite(x_range[0]) else base[0],
                x_range[1] if np.isfinite(x_range[1]) else base[1])

    if dock == "prices":
        from models.catalog import PRICE_STEMS
        from models.price_view import prepare_prices

        interval = choices["interval"]
        # As the dock: the built-ins it was set to show, then the user's symbols not hidden.
        hidden = choices.get("hidden_symbols", ())
        stems = [*(s for s in PRICE_STEMS if s in choices["assets"]),
                 *(s for s in choices.get("symbols", ()) if s not in hidden)]
        prepared = {}
        for stem in stems:
            series_id = price_id(stem, interval)
            data = loader.read(series_id)
            if len(data):
                spec = find_spec(series_id)
                interval_ms = (spec.interval_ms if spec else None) or MS_PER_DAY
                prepared[series_id] = prepare_prices(data, interval_ms,
                                                     interval in DATE_PLACED_INTERVALS)
        default = ending(price_data_end_s(prepared, interval), RANGES_DAYS[choices["range_key"]])
        left = shown(default)[0]
        return DockView(price_series(prepared, stems, interval, choices["mode"],
                                     choices["style"], left if np.isfinite(left) else None),
                        default)
    if dock == "funding":
        result = analyses.analyse_funding(loader, choices["asset"])
        end = result.as_of_ms / 1e3 if result.as_of_ms else None
        return DockView(funding_series(result),
                        ending(end, FUNDING_WINDOWS_DAYS[choices["window"]]))
    if dock == "open_interest":
        return DockView(open_interest_series(
            analyses.analyse_open_interest(loader, choices["asset"])), None)
    if dock == "liquidations":
        return DockView(liquidation_series(analyses.analyse_liquidations(
            loader, choices["asset"], choices["interval"], choices["burst_musd"])), None)
    if dock == "volatility":
        result = analyses.analyse_volatility(loader, choices["asset"], choices["window"],
                                             choices["rv_method"])
        end = result.dvol.time[-1] / 1e3 if len(result.dvol) else None
        return DockView(volatility_series(result), ending(end, VOLATILITY_SPAN_DAYS))
    if dock == "squeeze":
        from models.dock_choices import SQUEEZE_SPAN_DAYS
        from models.squeeze import SqueezeThresholds

        thresholds = {k: choices[k] for k in SqueezeThresholds().as_params()}
        result = analyses.analyse_squeeze(loader, choices["asset"], **thresholds)
        end = (result.as_of_ms + MS_PER_HOUR) / 1e3 if result.as_of_ms else None
        return DockView(squeeze_series(result), ending(end, SQUEEZE_SPAN_DAYS))
    if dock == "rotation":
        view = analyses.analyse_rotation(loader, choices["window"], choices["k"],
                                         choices["threshold"], choices.get("user_peers", ()))
        if view is None:
            return DockView([], None)
        end = _session_ms(view.returns.index)[-1] / 1e3 if len(view.returns) else None
        default = ending(end, ROTATION_SPAN_DAYS)
        x0, x1 = shown(default)
        window_ms = (x0 * 1e3, x1 * 1e3)
        matrix = analyses.correlation_matrix_between(view.returns, *window_ms) \
            if len(view.returns) else None
        return DockView(rotation_series(view, matrix, window_ms), default)
    if dock == "basis":
        from models.dock_choices import BASIS_SPAN_DAYS

        result = analyses.analyse_basis(loader, choices["asset"])
        end = result.as_of_ms / 1e3 if result.as_of_ms else None
        return DockView(basis_series(result), ending(end, BASIS_SPAN_DAYS))
    if dock == "options":
        view = analyses.analyse_chain(loader, choices["asset"], choices["positioning"],
                                      choices["delta"])
        return DockView([] if view is None else options_series(view), None)
    if dock == "movers":
        from models.assets import ASSETS

        rows = analyses.analyse_movers(loader, choices["drawdown"], choices.get("user_peers", ()))
        rank = {stem: i for i, stem in enumerate(ASSETS)}  # the dock's order: BTC first
        order = sorted(rows, key=lambda s: (rank.get(s, len(rank)), s))
        return DockView([movers_series(rows, order, choices["drawdown"])] if rows else [], None)
    raise ValueError(f"the {dock} dock plots no data series to export (exportable: "
                     f"{', '.join(EXPORTABLE_DOCKS)})")
