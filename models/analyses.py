"""Every analysis a dock shows, as one pure function of the stored data.

The window (through `ui/derived_feeds.py`, on a worker), the CLI (`main.py export`) and later
alerts and replay call these same functions, so a number shown, exported or alerted on is computed
in one place. Each takes a `DataLoader` (the cache satisfies it, so does the window's view of
its in-memory store) and plain parameters, and returns a frozen result the panels only draw.

`ANALYSES` names them for the feeds layer: `Analysis.inputs(**params)` lists the stored series a
result depends on (a change to any of them recomputes it), `Analysis.run(loader, **params)`
computes it. See docs/architecture.md for where a new analysis goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from models.assets import CRYPTO_STEMS, ROTATION_PEERS
from models.catalog import FUNDING_VENUES, LIQUIDATION_VENUES, OI_VENUES, PRICE_STEMS
from models.ids import (
    dvol_id,
    funding_id,
    funding_now_id,
    liq_id,
    oi_id,
    options_id,
    price_id,
    volmex_id,
)
from models.levels import CALL_WALL, GAMMA_FLIP, PUT_WALL, Level
from models.liquidations import (
    BURST_INTERVAL_MS,
    DEFAULT_BURST_MUSD,
    LIQ_INTERVALS_MS,
    Burst,
    IntervalTotals,
    coverage_note,
    find_bursts,
    interval_totals,
)
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData, Snapshot

if TYPE_CHECKING:
    import pandas as pd


class DataLoader(Protocol):
    """What an analysis may read. `services.cache.Cache` satisfies it, and so does the window's
    `StoreLoader` (its in-memory series, with the cache behind it for snapshot history)."""

    def read(self, series_id: str, start_ms: int | None = None,
             end_ms: int | None = None) -> SeriesData: ...

    def latest_snapshot(self, series_id: str, at_ms: int | None = None) -> Snapshot | None: ...

    def snapshot_times(self, series_id: str) -> np.ndarray: ...

    def snapshot_at(self, series_id: str, time_ms: int) -> Snapshot | None: ...


@dataclass(frozen=True)
class Analysis:
    name: str
    inputs: Callable[..., tuple[str, ...]]
    run: Callable[..., Any]


def _present(loader: DataLoader, ids: tuple[str, ...]) -> dict[str, SeriesData]:
    out = {}
    for series_id in ids:
        data = loader.read(series_id)
        if len(data):
            out[series_id] = data
    return out


# -- funding ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FundingAnalysis:
    """Perpetual funding of one asset across venues, everything in APR %."""

    asset: str
    venues: dict[str, SeriesData]  # venue -> its settlements (apr_pct, rate, interval_hours)
    average: SeriesData  # hourly, column apr_pct
    weighting: str  # how the average is weighted, for the legend (models.funding)
    hours: np.ndarray  # grid hour starts (ms)
    grid: np.ndarray  # [venue, hour] APR %
    grid_venues: tuple[str, ...]
    negative: tuple[tuple[int, int], ...]  # (start_ms, end_ms) runs of a negative average
    now: dict[str, dict[str, float]] = field(default_factory=dict)  # venue -> current row
    #: venue -> (x_ms, APR %): each rate drawn over the period it paid for
    steps: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def as_of_ms(self) -> int | None:
        return max((d.last_ms for d in self.venues.values() if d.last_ms), default=None)


NOW_FIELDS = ("rate", "interval_hours", "apr_pct", "next_funding_ms", "mark_price",
              "open_interest_usd")


def funding_inputs(asset: str) -> tuple[str, ...]:
    # The hourly price values Bybit's OI history, which is in coins, for the weights.
    return (*(funding_id(v, asset) for v in FUNDING_VENUES),
            *(funding_now_id(v, asset) for v in FUNDING_VENUES),
            *(oi_id(v, asset) for v in OI_VENUES), price_id(asset, "1h"))


def _number(value: object) -> float:
    """A snapshot cell as a float: a field a venue left out or sent as null (None), or text
    that is no number, is NaN (one blank cell, not a failed analysis)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _funding_now(loader: DataLoader, asset: str) -> dict[str, dict[str, float]]:
    """Each venue's current row (rate, interval, APR, next funding, mark, OI in USD), and the
    rate per 8 hours (rate × 8 / interval_h), the unit most venues quote."""
    from models.funding import per_8h

    out: dict[str, dict[str, float]] = {}
    for venue in FUNDING_VENUES:
        snap = loader.latest_snapshot(funding_now_id(venue, asset))
        if snap is None or snap.frame.empty:
            continue
        row = snap.frame.iloc[0]
        values = {name: _number(row.get(name)) for name in NOW_FIELDS}
        if not np.isfinite(values["open_interest_usd"]):
            values["open_interest_usd"] = _number(row.get("open_interest")) * values["mark_price"]
        values["rate_8h"] = float(per_8h(values["rate"], values["interval_hours"]))
        out[venue] = values
    return out


def _funding_oi(loader: DataLoader, asset: str) -> dict[str, SeriesData]:
    """Each venue's OI history in USD (coins × the hourly close where a venue gives coins)."""
    from models.funding import fill_oi_usd

    price = loader.read(price_id(asset, "1h"))
    return {v: fill_oi_usd(d, price) for v in OI_VENUES if len(d := loader.read(oi_id(v, asset)))}


def analyse_funding(loader: DataLoader, asset: str) -> FundingAnalysis:
    """Settlements per venue, their OI-weighted hourly average (weights by the hour: see
    models/funding.py for the timing convention), the venue × hour grid, negative runs, and each
    venue's current row."""
    from models.funding import (
        MS_PER_HOUR,
        average_funding,
        funding_grid,
        negative_periods,
        settlement_steps,
    )

    venues = {v: d for v in FUNDING_VENUES if len(d := loader.read(funding_id(v, asset)))}
    now = _funding_now(loader, asset)
    if not venues:
        return FundingAnalysis(asset, {}, SeriesData.empty(["apr_pct"]), "no data",
                               np.empty(0, dtype=np.int64), np.empty((0, 0)), (), (), now)
    average, weighting = average_funding(venues, _funding_oi(loader, asset))
    # The first settlement pays for the interval before it; the grid's end is exclusive.
    start = min(int(d.first_ms - d["interval_hours"][0] * MS_PER_HOUR) for d in venues.values())
    end = max(d.last_ms for d in venues.values())
    hours, grid, grid_venues = funding_grid(venues, start, end)
    return FundingAnalysis(asset, venues, average, weighting, hours, grid, tuple(grid_venues),
                           tuple(negative_periods(average)), now,
                           {v: settlement_steps(d) for v, d in venues.items()})


# -- open interest ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenInterestAnalysis:
    asset: str
    venues: dict[str, SeriesData]  # open_interest (coins), open_interest_usd
    change_24h_pct: dict[str, float]
    price: SeriesData  # the asset's hourly closes over the same span


def oi_inputs(asset: str) -> tuple[str, ...]:
    return (*(oi_id(v, asset) for v in OI_VENUES), price_id(asset, "1h"))


def analyse_open_interest(loader: DataLoader, asset: str) -> OpenInterestAnalysis:
    from models.funding import oi_change_pct

    venues = {v: d for v in OI_VENUES if len(d := loader.read(oi_id(v, asset)))}
    first = min((d.first_ms for d in venues.values()), default=None)
    price = loader.read(price_id(asset, "1h"), first) if first is not None else \
        SeriesData.empty(["close"])
    return OpenInterestAnalysis(asset, venues, {v: oi_change_pct(d, 24) for v, d in
                                                venues.items()}, price.select(["close"]))


# -- reported liquidations --------------------------------------------------------------------
@dataclass(frozen=True)
class LiquidationAnalysis:
    """Reported liquidations of one asset per interval, per venue and in total, and the hours
    whose total on one side reached the burst threshold."""

    asset: str
    interval: str
    totals: IntervalTotals
    bursts: tuple[Burst, ...]
    burst_usd: float
    coverage: dict[str, str]  # venue -> what its feed covers (every venue asked, data or not)
    as_of_ms: int | None


DEFAULT_LIQ_INTERVAL = "1h"


def liquidation_inputs(asset: str, interval: str = DEFAULT_LIQ_INTERVAL,
                       burst_musd: int = DEFAULT_BURST_MUSD) -> tuple[str, ...]:
    return tuple(liq_id(v, asset) for v in LIQUIDATION_VENUES)


def analyse_liquidations(loader: DataLoader, asset: str, interval: str = DEFAULT_LIQ_INTERVAL,
                         burst_musd: int = DEFAULT_BURST_MUSD) -> LiquidationAnalysis:
    if interval not in LIQ_INTERVALS_MS:
        raise ValueError(f"interval {interval!r} (one of {', '.join(LIQ_INTERVALS_MS)})")
    buckets = {v: loader.read(liq_id(v, asset)) for v in LIQUIDATION_VENUES}
    totals = interval_totals(buckets, LIQ_INTERVALS_MS[interval])
    hourly = totals if interval == "1h" else interval_totals(buckets, BURST_INTERVAL_MS)
    burst_usd = float(burst_musd) * 1e6
    as_of = max((d.last_ms for d in buckets.values() if len(d)), default=None)
    return LiquidationAnalysis(asset, interval, totals, tuple(find_bursts(hourly, burst_usd)),
                               burst_usd, {v: coverage_note(v) for v in LIQUIDATION_VENUES},
                               as_of)


# -- implied and realised volatility ------------------------------------------------------------
@dataclass(frozen=True)
class VolatilityAnalysis:
    asset: str
    window: int
    rv_method: str  # models.volatility.RvMethod
    dvol: SeriesData  # open, high, low, close (vol points)
    rv: SeriesData  # realised vol, vol points
    spread: SeriesData  # IV − RV: spread, iv, rv
    volmex: SeriesData


DEFAULT_RV_METHOD = "zero_mean"


def volatility_inputs(asset: str, window: int, rv_method: str = DEFAULT_RV_METHOD
                      ) -> tuple[str, ...]:
    return dvol_id(asset), price_id(asset, "1d"), volmex_id(asset)


def analyse_volatility(loader: DataLoader, asset: str, window: int,
                       rv_method: str = DEFAULT_RV_METHOD) -> VolatilityAnalysis:
    """DVOL, realised vol over `window` days (models.volatility.RvMethod), and the trailing
    IV − RV spread stamped when both values are known."""
    from models.volatility import RvMethod, iv_rv_spread, realized_vol

    dvol = loader.read(dvol_id(asset))
    rv = realized_vol(loader.read(price_id(asset, "1d")), window, method=RvMethod(rv_method))
    spread = iv_rv_spread(dvol, rv) if len(dvol) and len(rv) else SeriesData.empty(
        ["spread", "iv", "rv"])
    return VolatilityAnalysis(asset, window, rv_method, dvol, rv, spread,
                              loader.read(volmex_id(asset)))


# -- option chain -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainAnalysis:
    """Everything drawn for one chain snapshot, valued at its own timestamp."""

    asset: str
    positioning: str  # models.options.DealerPositioning
    delta: str  # models.options.DeltaConvention, for the 25Δ strikes
    time_ms: int
    spot: float
    gex: pd.DataFrame  # strike, call_gex, put_gex, net_gex
    spots: np.ndarray  # the GEX profile's x: hypothetical spot
    profile: np.ndarray  # total GEX at each of `spots`
    flip: float | None
    call_wall: float | None
    put_wall: float | None
    term: pd.DataFrame
    skew: pd.DataFrame
    smiles: dict[int, pd.DataFrame]

    @property
    def convention(self) -> str:
        from models.options import DealerPositioning, DeltaConvention

        return (f"{DealerPositioning(self.positioning).label}; 25Δ by "
                f"{DeltaConvention(self.delta).label}")

    def levels(self) -> list[Level]:
        """The gamma flip and walls as price levels (drawn on the price chart)."""
        out = []
        for price, name, kind in ((self.flip, "gamma flip", GAMMA_FLIP),
                                  (self.call_wall, "call wall", CALL_WALL),
                                  (self.put_wall, "put wall", PUT_WALL)):
            if price is not None and np.isfinite(price):
                out.append(Level(float(price), f"{name} {price:,.0f}", kind))
        return out


PROFILE_SPAN = (0.7, 1.3)  # GEX profile across 70 %..130 % of spot
PROFILE_POINTS = 121


DEFAULT_POSITIONING = "long_calls_short_puts"
DEFAULT_DELTA = "forward"


def chain_inputs(asset: str, positioning: str = DEFAULT_POSITIONING,
                 delta: str = DEFAULT_DELTA) -> tuple[str, ...]:
    return (options_id(asset),)


def chain_analysis(asset: str, snap: Snapshot, positioning: str = DEFAULT_POSITIONING,
                   delta: str = DEFAULT_DELTA) -> ChainAnalysis:
    """GEX by strike and across spot, flip and walls, ATM term structure, 25Δ RR/BF and the
    smiles of one snapshot, valued at its own time on each expiry's own forward (F_i, scaled by
    S'/index for a hypothetical spot S')."""
    from models import options as opt

    chain = snap.frame
    spot = opt.snapshot_spot(snap)  # the index the snapshot was taken at
    at = snap.time_ms
    dealer = opt.DealerPositioning(positioning)
    convention = opt.DeltaConvention(delta)
    gex = opt.gex_by_strike(chain, spot, at, dealer, index=spot)
    spots = np.linspace(spot * PROFILE_SPAN[0], spot * PROFILE_SPAN[1], PROFILE_POINTS)
    profile = opt.gex_profile(chain, spots, at, dealer, index=spot)
    flip = opt.zero_gamma_level(chain, spot, at, dealer, index=spot)
    term = opt.atm_term_structure(chain, spot, at)
    skew = opt.risk_reversal_butterfly(chain, at, delta_convention=convention)
    expiries = sorted(int(e) for e in chain["expiry_ms"].dropna().unique() if e > at)
    smiles = {e: opt.smile(chain, e, at, delta_convention=convention).sort_values(
        "strike", kind="stable") for e in expiries}
    return ChainAnalysis(asset, dealer.value, convention.value, at, spot, gex, spots, profile,
                         flip, opt.call_wall(gex) if len(gex) else None,
                         opt.put_wall(gex) if len(gex) else None, term, skew, smiles)


def analyse_chain(loader: DataLoader, asset: str, positioning: str = DEFAULT_POSITIONING,
                  delta: str = DEFAULT_DELTA) -> ChainAnalysis | None:
    snap = loader.latest_snapshot(options_id(asset))
    return None if snap is None else chain_analysis(asset, snap, positioning, delta)


def gamma_levels_history(loader: DataLoader, asset: str,
                         positioning: str = DEFAULT_POSITIONING,
                         delta: str = DEFAULT_DELTA) -> pd.DataFrame:
    """One row per cached chain snapshot: spot, gamma flip, call wall, put wall (USD)."""
    import pandas as pd

    from models import options as opt

    rows = []
    series_id = options_id(asset)
    dealer = opt.DealerPositioning(positioning)
    for t in loader.snapshot_times(series_id):
        snap = loader.snapshot_at(series_id, int(t))
        if snap is None:
            continue
        spot = opt.snapshot_spot(snap)
        gex = opt.gex_by_strike(snap.frame, spot, snap.time_ms, dealer, index=spot)
        flip = opt.zero_gamma_level(snap.frame, spot, snap.time_ms, dealer, index=spot)
        rows.append((snap.time_ms, spot, np.nan if flip is None else flip,
                     _or_nan(opt.call_wall(gex) if len(gex) else None),
                     _or_nan(opt.put_wall(gex) if len(gex) else None)))
    frame = pd.DataFrame(rows, columns=["time_ms", "spot", "gamma_flip", "call_wall",
                                        "put_wall"])
    frame.index = pd.to_datetime(frame.pop("time_ms"), unit="ms", utc=True).rename("time")
    return frame


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def skew_history_inputs(asset: str, delta: str = DEFAULT_DELTA) -> tuple[str, ...]:
    return (options_id(asset),)


def analyse_skew_history(loader: DataLoader, asset: str, delta: str = DEFAULT_DELTA
                         ) -> pd.DataFrame:
    from models.volatility import skew_history

    return skew_history(loader, options_id(asset), delta_convention=delta)


# -- rotation ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RotationAnalysis:
    window: int
    k: float
    threshold: float
    returns: pd.DataFrame  # aligned daily log returns by stem, at the session close
    corr: dict[str, pd.Series]  # peer -> rolling correlation with BTC
    beta: pd.Series  # rolling beta of BTC to the S&P 500
    ratios: dict[str, pd.Series]  # peer -> BTC / peer at the session close
    decoupling: pd.DataFrame  # flagged sessions: btc_ret, z, corr

    def same_as(self, other: RotationAnalysis) -> bool:
        """Equal parameters, session returns and flagged days: the view would draw the same.
        (BTC is sampled at session closes, so most forming hourly bars change nothing.)"""
        return ((self.window, self.k, self.threshold) == (other.window, other.k, other.threshold)
                and self.returns.equals(other.returns)
                and self.decoupling.equals(other.decoupling))

    @property
    def latest_corr(self) -> dict[str, float]:
        """Each peer's newest rolling correlation."""
        return {stem: float(s.dropna().iloc[-1]) for stem, s in self.corr.items()
                if s.notna().any()}

    @property
    def latest_beta(self) -> float:
        beta = self.beta.dropna()
        return float(beta.iloc[-1]) if len(beta) else float("nan")

    @property
    def decoupling_ms(self) -> tuple[int, ...]:
        """The flagged sessions' close instants (ms), for marks on the price chart."""
        return tuple(int(v) for v in _index_ms(self.decoupling.index))


def _index_ms(index: Any) -> np.ndarray:
    import pandas as pd

    idx = pd.DatetimeIndex(index)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.as_unit("ms").asi8


ROTATION_WINDOWS = (20, 60, 120)


#: (stem, calendar) of each user symbol (models/symbols.py: SymbolList.feed_param)
UserPeers = tuple[tuple[str, str], ...]
_ROUND_THE_CLOCK = ("24/7", "24/5")  # sampled like BTC: hourly closes at each NYSE close


def _user_price_inputs(symbols: UserPeers) -> tuple[str, ...]:
    return tuple(i for stem, calendar in symbols for i in (
        (price_id(stem, "1h"), price_id(stem, "1d")) if calendar in _ROUND_THE_CLOCK
        else (price_id(stem, "1d"),)))


def rotation_inputs(window: int = 60, k: float = 2.0, threshold: float = 0.2,
                    symbols: UserPeers = ()) -> tuple[str, ...]:
    return (price_id("btc", "1h"), price_id("btc", "1d"),
            *(price_id(s, "1d") for s in ROTATION_PEERS), *_user_price_inputs(symbols))


def analyse_rotation(loader: DataLoader, window: int = 60, k: float = 2.0,
                     threshold: float = 0.2, symbols: UserPeers = ()
                     ) -> RotationAnalysis | None:
    """None until BTC and the S&P 500 are both loaded. `symbols`: the user's, as peers too
    (`_user_peer_closes`); the built-in peers' numbers do not depend on them."""
    from models import rotation as rot

    daily = _present(loader, tuple(price_id(s, "1d") for s in ROTATION_PEERS))
    btc_hourly = loader.read(price_id("btc", "1h"))
    btc_daily = loader.read(price_id("btc", "1d"))
    if price_id("spx", "1d") not in daily or not (len(btc_hourly) or len(btc_daily)):
        return None
    closes: dict[str, Any] = {}
    sessions = None
    for series_id, data in daily.items():
        stem = _stem(series_id)
        closes[stem] = rot.session_closes(data)
        sessions = closes[stem].index if sessions is None else sessions.union(closes[stem].index)
    closes["btc"] = rot.btc_session_closes(btc_hourly if len(btc_hourly) else None,
                                           btc_daily if len(btc_daily) else None, sessions)
    peers = [s for s in ROTATION_PEERS if s in closes]
    corr = {}
    for stem in peers:
        pair = rot.aligned_log_returns({"btc": closes["btc"], stem: closes[stem]})
        corr[stem] = rot.rolling_correlation(pair, "btc", stem, window)
    returns = rot.aligned_log_returns({s: closes[s] for s in ["btc", *peers]})
    spx_pair = rot.aligned_log_returns({"btc": closes["btc"], "spx": closes["spx"]})
    beta = rot.rolling_beta(spx_pair, "btc", "spx", window)
    ratios = {stem: rot.ratio_series(closes["btc"], closes[stem]) for stem in ("gold", "spx")
              if stem in closes}
    decoupling = rot.decoupling_days(spx_pair, corr["spx"], k=k, corr_threshold=threshold)
    if symbols:
        returns = _add_user_peers(loader, symbols, closes, sessions, btc_hourly, window,
                                  returns, corr)
    return RotationAnalysis(window, k, threshold, returns, corr, beta, ratios, decoupling)


def _add_user_peers(loader: DataLoader, symbols: UserPeers, closes: dict[str, Any],
                    sessions: Any, btc_hourly: SeriesData, window: int,
                    returns: pd.DataFrame, corr: dict[str, Any]) -> pd.DataFrame:
    """Each user symbol's rolling correlation with BTC into `corr`; the returned frame is
    `returns` with a column per symbol measured on NYSE sessions (left-joined: a young symbol
    does not shorten the built-in peers' rows).

    Sessions: a 24/7 or 24/5 symbol is sampled like BTC, at each NYSE close from its hourly
    bars (daily bars outside them); an XNYS one by its daily bars' trading dates; a symbol of
    another exchange on that exchange's own sessions (exchange-calendars), with BTC sampled at
    those closes, so its correlation is pairwise and it stays out of the joint frame."""
    from models import rotation as rot

    hourly = btc_hourly if len(btc_hourly) else None
    for stem, calendar in symbols:
        if stem in corr or stem == "btc":
            continue
        own_daily = loader.read(price_id(stem, "1d"))
        if calendar in _ROUND_THE_CLOCK:
            own_hourly = loader.read(price_id(stem, "1h"))
            peer = rot.btc_session_closes(own_hourly if len(own_hourly) else None,
                                          own_daily if len(own_daily) else None, sessions)
            btc = closes["btc"]
        elif calendar == "XNYS":
            peer = rot.session_closes(own_daily)
            btc = closes["btc"]
        else:
            peer = rot.session_closes(own_daily, calendar=calendar)
            btc = rot.btc_session_closes(hourly, None, peer.index)
        if not len(peer):
            continue
        pair = rot.aligned_log_returns({"btc": btc, stem: peer})
        corr[stem] = rot.rolling_correlation(pair, "btc", stem, window)
        if calendar in _ROUND_THE_CLOCK or calendar == "XNYS":
            returns = returns.join(pair[stem], how="left")
    return returns


def _stem(series_id: str) -> str:
    from models.ids import parse_series_id

    return parse_series_id(series_id).asset


@dataclass(frozen=True)
class CorrelationMatrix:
    tickers: tuple[str, ...]
    stems: tuple[str, ...]
    values: np.ndarray
    sessions: int


def correlation_matrix_between(returns: pd.DataFrame, start_ms: float, end_ms: float,
                               min_sessions: int = 5) -> CorrelationMatrix | None:
    """The correlation matrix of the sessions whose close falls in [start_ms, end_ms]."""
    from models.assets import ticker
    from models.rotation import correlation_matrix

    ms = _index_ms(returns.index)
    mask = (ms >= start_ms) & (ms <= end_ms)
    if int(mask.sum()) < min_sessions:
        return None
    matrix = correlation_matrix(returns[mask])
    stems = tuple(str(c) for c in matrix.columns)
    return CorrelationMatrix(tuple(ticker(s) for s in stems), stems, matrix.to_numpy(float),
                             int(mask.sum()))


# -- movers -----------------------------------------------------------------------------------
DEFAULT_DRAWDOWN = "close"


def movers_inputs(drawdown: str = DEFAULT_DRAWDOWN, symbols: UserPeers = ()
                  ) -> tuple[str, ...]:
    # Hourly bars for the 24/7 assets: their rolling windows end at the last trade.
    return (*(price_id(s, "1d") for s in PRICE_STEMS),
            *(price_id(s, "1h") for s in CRYPTO_STEMS),
            *(price_id(stem, "1d") for stem, _calendar in symbols),
            *(price_id(stem, "1h") for stem, calendar in symbols if calendar == "24/7"))


def analyse_movers(loader: DataLoader, drawdown: str = DEFAULT_DRAWDOWN,
                   symbols: UserPeers = ()) -> dict[str, dict[str, float]]:
    """One row per asset, as of its own data (see models/movers.py COLUMN_DEFINITIONS); the
    user's symbols after the built-ins, 24/7 ones on rolling windows, the rest on their own
    sessions (their daily bars)."""
    from models.movers import CRYPTO, SESSIONS, mover_rows

    user_stems = tuple(stem for stem, _calendar in symbols if stem not in PRICE_STEMS)
    daily = {_stem(i): d for i, d in _present(loader, tuple(
        price_id(s, "1d") for s in (*PRICE_STEMS, *user_stems))).items()}
    if not daily:
        return {}
    crypto = (*CRYPTO_STEMS, *(stem for stem, calendar in symbols if calendar == "24/7"))
    hourly = {_stem(i): d for i, d in
              _present(loader, tuple(price_id(s, "1h") for s in crypto)).items()}
    classes = {stem: CRYPTO if calendar == "24/7" else SESSIONS for stem, calendar in symbols}
    return mover_rows(daily, None, hourly=hourly, asset_classes=classes or None,
                      drawdown_basis=drawdown)


# -- squeeze anatomy --------------------------------------------------------------------------
#: how far back the squeeze grid reaches (the hourly price history may be ten years long)
SQUEEZE_HISTORY_DAYS = 180


def _catalog_ids(kind: str, asset: str) -> tuple[str, ...]:
    """The catalog's series of `kind` for `asset`, in catalog order (liquidations, premium and
    basis are declared by their own modules; none yet is an empty tuple)."""
    from models.catalog import CATALOG
    from models.ids import parse_series_id

    return tuple(i for i, spec in CATALOG.items()
                 if spec.kind == kind and parse_series_id(i).asset == asset)


def liquidation_ids(asset: str) -> tuple[str, ...]:
    from models.catalog import LIQUIDATIONS

    return _catalog_ids(LIQUIDATIONS, asset)


def premium_ids(asset: str) -> tuple[str, ...]:
    from models.catalog import PREMIUM

    return _catalog_ids(PREMIUM, asset)


def basis_ids(asset: str) -> tuple[str, ...]:
    from models.catalog import BASIS

    return _catalog_ids(BASIS, asset)


@dataclass(frozen=True, eq=False)
class SqueezeAnalysis:
    """The six rows of the squeeze dock on the hourly bars of `hours` (bar opens, ms), and the
    regime of each bar (models/squeeze.py for every convention)."""

    asset: str
    thresholds: Any  # models.squeeze.SqueezeThresholds
    hours: np.ndarray
    close: np.ndarray
    price_change_pct: np.ndarray
    funding_apr_pct: np.ndarray
    funding_note: str
    oi_coins: np.ndarray
    oi_change_pct: np.ndarray
    long_usd: np.ndarray
    short_usd: np.ndarray
    long_ratio: np.ndarray
    short_ratio: np.ndarray
    long_usual: np.ndarray
    short_usual: np.ndarray
    dvol: SeriesData  # close, within the grid's span
    premium_pct: np.ndarray  # hourly mean across the venues' perp premiums
    front_apr_pct: np.ndarray  # hourly mean across the venues' front quarterly basis APR
    regime: np.ndarray  # +1 short squeeze, −1 long flush, 0, NaN unknown
    periods: tuple[tuple[int, int, int], ...]
    liq_venues: tuple[str, ...] = ()
    premium_venues: tuple[str, ...] = ()
    basis_venues: tuple[str, ...] = ()
    #: plot -> the one line saying why it is empty ("price", "funding", "oi", "liq", "dvol",
    #: "basis")
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def as_of_ms(self) -> int | None:
        return int(self.hours[-1]) if len(self.hours) else None


def squeeze_inputs(asset: str, **thresholds: Any) -> tuple[str, ...]:
    return (price_id(asset, "1h"), *(funding_id(v, asset) for v in FUNDING_VENUES),
            *(funding_now_id(v, asset) for v in FUNDING_VENUES),
            *(oi_id(v, asset) for v in OI_VENUES), *liquidation_ids(asset), dvol_id(asset),
            *premium_ids(asset), *basis_ids(asset))


def _running_rates(loader: DataLoader, asset: str) -> dict[str, Any]:
    """Each venue's current funding (its fundingnow snapshot) for the period now running."""
    from models.squeeze import RunningRate

    out = {}
    for venue, row in _funding_now(loader, asset).items():
        snap = loader.latest_snapshot(funding_now_id(venue, asset))
        if snap is not None and np.isfinite(row["apr_pct"]):
            out[venue] = RunningRate(int(snap.time_ms), float(row["apr_pct"]))
    return out


def analyse_squeeze(loader: DataLoader, asset: str, **thresholds: Any) -> SqueezeAnalysis:
    """Price, OI-weighted funding APR, OI change, liquidations, DVOL and basis per hourly bar
    over the last `SQUEEZE_HISTORY_DAYS`, and each bar's regime under `thresholds`
    (models/squeeze.py: SqueezeThresholds)."""
    from models import squeeze as sq

    limits = sq.SqueezeThresholds(**thresholds)
    window = limits.window_hours
    bars = loader.read(price_id(asset, "1h"))
    if len(bars):
        bars = bars.between(bars.last_ms - SQUEEZE_HISTORY_DAYS * MS_PER_DAY, None)
    hours = bars.time
    n = len(hours)
    close = bars["close"] if n else np.empty(0)
    missing: dict[str, str] = {}
    if not n:
        missing["price"] = f"no hourly {asset.upper()} bars yet"
    price_change = sq.price_change_pct(bars, window) if n else np.empty(0)

    settled = {v: d for v in FUNDING_VENUES if len(d := loader.read(funding_id(v, asset)))}
    oi_usd = _funding_oi(loader, asset)
    funding, note = sq.funding_apr(hours, settled, oi_usd, _running_rates(loader, asset))
    if not settled:
        missing["funding"] = "no funding history yet"

    oi = {v: d for v in OI_VENUES if len(d := loader.read(oi_id(v, asset)))}
    oi_change, oi_coins = sq.coin_oi_change_pct(hours + MS_PER_HOUR, window, oi)
    if not oi:
        missing["oi"] = "no open-interest history yet"

    liq_ids = liquidation_ids(asset)
    buckets = {i: d for i in liq_ids if len(d := loader.read(i))}
    long_usd, short_usd = sq.hourly_liquidations(hours, buckets)
    long_ratio, long_usual = sq.elevation(long_usd, window)
    short_ratio, short_usual = sq.elevation(short_usd, window)
    if not liq_ids:
        missing["liq"] = "liquidations are not recorded by this version"
    elif not buckets:
        missing["liq"] = "no liquidations recorded yet (they come from the venues' streams)"

    dvol = loader.read(dvol_id(asset))
    dvol = dvol.between(int(hours[0]), None).select(["close"]) if n and len(dvol) else \
        SeriesData.empty(["close"])
    if not len(dvol):
        missing["dvol"] = "no DVOL yet"

    premiums = {i: d for i in premium_ids(asset) if len(d := loader.read(i))}
    bases = {i: d for i in basis_ids(asset) if len(d := loader.read(i))}
    premium = sq.venue_mean([sq.hourly_mean(d, "premium_pct", hours)
                             for d in premiums.values()], n)
    front = sq.venue_mean([sq.hourly_mean(d, "apr_pct", hours) for d in bases.values()], n)
    if not premium_ids(asset) and not basis_ids(asset):
        missing["basis"] = "premium and basis are not recorded by this version"
    elif not premiums and not bases:
        missing["basis"] = "no premium or basis data yet"

    regime = sq.classify(limits, funding, oi_change, price_change, short_ratio, long_ratio)
    from models.ids import parse_series_id

    def venues_of(ids: Any) -> tuple[str, ...]:
        return tuple(parse_series_id(i).venue for i in ids)

    return SqueezeAnalysis(
        asset, limits, hours, close, price_change, funding, note, oi_coins, oi_change,
        long_usd, short_usd, long_ratio, short_ratio, long_usual, short_usual, dvol, premium,
        front, regime, tuple(sq.regime_periods(hours, regime)), venues_of(buckets),
        venues_of(premiums), venues_of(bases), missing)


# -- basis ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BasisAnalysis:
    """Perp premium, front-quarterly basis history and the term structure of one asset
    (models/basis.py for every convention)."""

    asset: str
    premium: dict[str, SeriesData]  # venue -> mark, index, premium_pct (a row a minute)
    front: dict[str, SeriesData]  # venue -> the front quarterly's rows (apr_pct …), a row a poll
    cme: SeriesData  # CME front month against spot (BTC only), BASIS columns
    #: venue -> instrument, expiry_ms, days, basis_pct, apr_pct … of the newest curve snapshot;
    #: "cme" -> the CME front month's point at the curve's time
    curve: dict[str, dict[str, np.ndarray]]
    curve_time_ms: int | None

    @property
    def as_of_ms(self) -> int | None:
        times = [d.last_ms for d in (*self.premium.values(), *self.front.values(), self.cme)
                 if d.last_ms is not None]
        if self.curve_time_ms is not None:
            times.append(self.curve_time_ms)
        return max(times, default=None)


def basis_inputs(asset: str) -> tuple[str, ...]:
    from models.catalog import BASIS_VENUES, CME_BTC_ID, PREMIUM_VENUES
    from models.ids import basis_curve_id, basis_id, premium_id

    cme = (CME_BTC_ID, price_id("btc", "1h")) if asset == "btc" else ()
    return (*(premium_id(v, asset) for v in PREMIUM_VENUES),
            *(basis_id(v, asset) for v in BASIS_VENUES), basis_curve_id(asset), *cme)


def analyse_basis(loader: DataLoader, asset: str) -> BasisAnalysis:
    """Each venue's stored premium and front-quarterly rows, the CME basis (BTC), and the
    newest term-structure snapshot with the CME front month's point (its newest row at or
    before the curve's time, as of that row)."""
    from models.basis import cme_basis, term_structure
    from models.catalog import BASIS_VENUES, CME_BTC_ID, PREMIUM_VENUES
    from models.ids import basis_curve_id, basis_id, premium_id

    premium = {v: d for v in PREMIUM_VENUES if len(d := loader.read(premium_id(v, asset)))}
    front = {v: d for v in BASIS_VENUES if len(d := loader.read(basis_id(v, asset)))}
    cme = cme_basis(loader.read(CME_BTC_ID), loader.read(price_id("btc", "1h"))) \
        if asset == "btc" else SeriesData.empty()
    snap = loader.latest_snapshot(basis_curve_id(asset))
    curve: dict[str, dict[str, np.ndarray]] = {}
    curve_time = None
    if snap is not None and not snap.frame.empty:
        frame = snap.frame
        curve_time = int(snap.time_ms)
        curve = term_structure(frame["venue"].astype(str).tolist(),
                               frame["instrument"].astype(str).tolist(),
                               frame["expiry_ms"].to_numpy(np.float64),
                               frame["future_price"].to_numpy(np.float64),
                               frame["index_price"].to_numpy(np.float64), curve_time)
    if len(cme):
        at = curve_time if curve_time is not None else int(cme.time[-1])
        i = int(np.searchsorted(cme.time, at, side="right")) - 1
        if i >= 0:
            curve["cme"] = {"instrument": np.array(["BTC=F"], dtype=object),
                            **{k: np.array([v]) for k, v in (
                                ("days", cme["days_to_expiry"][i]),
                                ("basis_pct", cme["basis_pct"][i]),
                                ("apr_pct", cme["apr_pct"][i]),
                                ("future_price", cme["future_price"][i]),
                                ("index_price", cme["index_price"][i]))},
                            "expiry_ms": np.array([float(np.rint(
                                cme.time[i] + 3_600_000 + cme["days_to_expiry"][i]
                                * 86_400_000.0))])}
    return BasisAnalysis(asset, premium, front, cme, curve, curve_time)


ANALYSES: dict[str, Analysis] = {a.name: a for a in (
    Analysis("funding", funding_inputs, analyse_funding),
    Analysis("open_interest", oi_inputs, analyse_open_interest),
    Analysis("volatility", volatility_inputs, analyse_volatility),
    Analysis("chain", chain_inputs, analyse_chain),
    Analysis("gamma_levels", chain_inputs, gamma_levels_history),
    Analysis("skew_history", skew_history_inputs, analyse_skew_history),
    Analysis("rotation", rotation_inputs, analyse_rotation),
    Analysis("movers", movers_inputs, analyse_movers),
    Analysis("squeeze", squeeze_inputs, analyse_squeeze),
    Analysis("liquidations", liquidation_inputs, analyse_liquidations),
    Analysis("basis", basis_inputs, analyse_basis),
)}

