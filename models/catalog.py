"""The instrument catalog: every series Rotor stores, where it comes from and what it holds.

Stored series are derived from the asset table (`models.assets`) and the venue registry
(`models.venues`); their ids are spelled by `models.ids`. Derived quantities (correlation,
GEX …) are computed from stored ones and listed by `derived_specs()` (models/derived.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import models.venues as venue_registry
from models.assets import ASSETS
from models.ids import (
    basis_curve_id,
    basis_id,
    funding_id,
    funding_now_id,
    liq_id,
    oi_id,
    options_id,
    premium_id,
    price_id,
)
from models.series import MS_PER_DAY, MS_PER_HOUR
from models.venues import ALL_CANDLE_INTERVALS, VENUES, Venue
from models.venues import venue_label as venue_label  # re-exported: callers import it here

if TYPE_CHECKING:

    from models import derived

# Series kinds and their stored columns.
CANDLES = "candles"
FUNDING = "funding"
OPEN_INTEREST = "open_interest"
VOL_INDEX = "vol_index"
OPTION_CHAIN = "option_chain"  # snapshot
FUNDING_NOW = "funding_now"  # snapshot: current and predicted rate per venue
LIQUIDATIONS = "liquidations"  # reported liquidations per minute (models/liquidations.py)
PREMIUM = "premium"  # perpetual mark against index (models/basis.py)
BASIS = "basis"  # dated futures' basis, front quarterly (models/basis.py)
BASIS_CURVE = "basis_curve"  # snapshot: every dated future's basis (the term structure)

KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    CANDLES: ("open", "high", "low", "close", "volume"),
    FUNDING: ("rate", "interval_hours", "apr_pct"),
    OPEN_INTEREST: ("open_interest", "open_interest_usd"),
    VOL_INDEX: ("open", "high", "low", "close"),
    OPTION_CHAIN: (),
    FUNDING_NOW: (),
    # USD value and base-coin size of the positions force-closed in the minute, by the side
    # that was liquidated (a long's liquidation is a forced sell), and how many messages
    LIQUIDATIONS: ("long_usd", "short_usd", "long_qty", "short_qty", "count"),
    # premium_pct = (mark − index) / index × 100
    PREMIUM: ("mark", "index", "premium_pct"),
    # basis_pct = (future − index) / index × 100; apr_pct = basis_pct × 365 / days_to_expiry
    BASIS: ("future_price", "index_price", "days_to_expiry", "basis_pct", "apr_pct"),
    BASIS_CURVE: (),
}
SNAPSHOT_KINDS = frozenset({OPTION_CHAIN, FUNDING_NOW, BASIS_CURVE})

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": MS_PER_HOUR,
    "4h": 4 * MS_PER_HOUR,
    "8h": 8 * MS_PER_HOUR,
    "1d": MS_PER_DAY,
    "1w": 7 * MS_PER_DAY,  # weeks open Monday 00:00 UTC (models/resample.py)
}

SERIES_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
# Venue symbols as venues spell them: BTCUSDT, BTC-USDT-SWAP, ^GSPC, GC=F, DX-Y.NYB.
SYMBOL_RE = re.compile(r"^[A-Za-z0-9^=._\-]{1,40}$")


@dataclass(frozen=True)
class SeriesSpec:
    id: str
    kind: str
    source: str  # primary venue
    symbol: str  # the venue's own symbol
    interval: str  # bar or settlement interval, or "snapshot"
    label: str
    asset: str  # what a trader calls it: "BTC", "S&P 500" …
    fallbacks: tuple[tuple[str, str], ...] = ()  # (venue, symbol), tried in order
    unit: str = ""
    history_days: int = 365  # default backfill depth
    poll_seconds: int = 60
    max_history_days: int | None = None  # what the venue serves at most (None: unlimited)
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return KIND_COLUMNS[self.kind]

    @property
    def is_snapshot(self) -> bool:
        return self.kind in SNAPSHOT_KINDS

    @property
    def interval_ms(self) -> int | None:
        return INTERVAL_MS.get(self.interval)

    @property
    def venues(self) -> tuple[tuple[str, str], ...]:
        return ((self.source, self.symbol), *self.fallbacks)


# -- prices ---------------------------------------------------------------------------------
#: every bar interval the price dock and compare offer, finest first (docs/timeframes.md)
PRICE_INTERVALS = ALL_CANDLE_INTERVALS
#: the intervals every window watches from the start; the others are read and refreshed when a
#: dock shows them (a minute series of every asset would slow the start for nothing)
BASE_PRICE_INTERVALS = ("1h", "1d")
_HISTORY_DAYS = {"1m": 7, "5m": 30, "15m": 60, "1h": 120, "4h": 365, "1d": 5 * 365,
                 "1w": 10 * 365}
# BTC/ETH hourly bars back to Binance's first (2017-08-17, ~80k rows): the rotation analytics
# sample BTC at each NYSE close from them, on every session of the peers' daily history. Their
# full minute history is the backfill's (services/minute_backfill.py), not the refresh's.
_CRYPTO_HISTORY_DAYS = {**_HISTORY_DAYS, "5m": 60, "15m": 180, "1h": 3650, "4h": 3650}
# What a price series' close is quoted in.
_PRICE_UNITS = {"btc": "USD", "eth": "USD", "spx": "USD", "ndx": "USD", "gold": "USD/oz",
                "silver": "USD/oz", "dxy": "index", "vix": "vol pts"}


def price_history_days(interval: str, *, crypto: bool) -> int:
    """The default backfill depth of a price series at `interval`."""
    return (_CRYPTO_HISTORY_DAYS if crypto else _HISTORY_DAYS)[interval]


def resample_source(native: tuple[str, ...], interval: str) -> str | None:
    """None when a venue serving `native` bar intervals serves `interval` itself, else the
    finest native interval that divides it (its bars are resampled: models/resample.py)."""
    if interval in native:
        return None
    step = INTERVAL_MS[interval]
    finer = [i for i in native if INTERVAL_MS[i] < step and step % INTERVAL_MS[i] == 0]
    if not finer:
        raise ValueError(f"no native interval divides {interval} (venue serves {native})")
    return max(finer, key=INTERVAL_MS.__getitem__)


def price_max_days(venue: Venue, interval: str) -> int | None:
    """How far back the venue serves `interval`, or the interval it is resampled from."""
    finer = resample_source(venue.candle_intervals, interval)
    return venue.candle_max_days.get(finer or interval)


def price_extra(venue: Venue, interval: str) -> dict[str, object]:
    """A price spec's `extra`: {"resample_from": finer} when `venue` lacks `interval`."""
    finer = resample_source(venue.candle_intervals, interval)
    return {} if finer is None else {"resample_from": finer}


def _trader_name(stem: str) -> str:
    """Crypto goes by its ticker ("BTC"), the rest by name ("S&P 500", "US Dollar Index")."""
    found = ASSETS[stem]
    return found.ticker if found.asset_class.trades_24_7 else found.name




def _price_specs() -> list[SeriesSpec]:
    specs = []
    for interval in PRICE_INTERVALS:
        for stem in ASSETS:
            # every venue with spot candles of it, in registry order: the primary first
            served = [(v, v.spot[stem]) for v in VENUES if stem in v.spot]
            if not served:
                continue
            (primary, symbol), *rest = served
            name = _trader_name(stem)
            unit = _PRICE_UNITS[stem]
            crypto = ASSETS[stem].asset_class.trades_24_7
            specs.append(SeriesSpec(
                id=price_id(stem, interval), kind=CANDLES, source=primary.key, symbol=symbol,
                interval=interval, label=f"{name}/{unit}" if crypto else name, asset=name,
                fallbacks=tuple((v.key, sym) for v, sym in rest), unit=unit,
                history_days=price_history_days(interval, crypto=crypto),
                poll_seconds=primary.candle_poll_seconds,
                max_history_days=price_max_days(primary, interval),
                extra=price_extra(primary, interval),
            ))
    return specs


# -- funding and open interest ---------------------------------------------------------------
FUNDING_VENUES: tuple[str, ...] = tuple(v.key for v in VENUES if v.has_funding)
OI_VENUES: tuple[str, ...] = tuple(v.key for v in VENUES if v.open_interest and v.perps)


def _perp_stems(venue: Venue) -> list[str]:
    return [s for s in ASSETS if s in venue.perps]


def _funding_specs() -> list[SeriesSpec]:
    specs = []
    for venue in VENUES:
        if not venue.has_funding:
            continue
        for stem in _perp_stems(venue):
            name = _trader_name(stem)
            specs.append(SeriesSpec(
                id=funding_id(venue.key, stem), kind=FUNDING, source=venue.perp_source,
                symbol=venue.perps[stem], interval=venue.funding_interval,
                label=f"{name} funding · {venue.label}", asset=name, unit="APR %",
                history_days=90, poll_seconds=300, max_history_days=venue.funding_max_days,
            ))
            specs.append(SeriesSpec(
                id=funding_now_id(venue.key, stem), kind=FUNDING_NOW, source=venue.perp_source,
                symbol=venue.perps[stem], interval="snapshot",
                label=f"{name} funding now · {venue.label}", asset=name,
                unit="rate", poll_seconds=60,
            ))
    for venue in VENUES:
        if venue.key not in OI_VENUES:
            continue
        for stem in _perp_stems(venue):
            name = _trader_name(stem)
            specs.append(SeriesSpec(
                id=oi_id(venue.key, stem), kind=OPEN_INTEREST, source=venue.perp_source,
                symbol=venue.perps[stem], interval="1h",
                label=f"{name} open interest · {venue.label}", asset=name,
                unit=name, history_days=30, poll_seconds=300,
                # the cache keeps what it has seen beyond what the venue keeps
                max_history_days=venue.oi_max_days,
            ))
    return specs


# -- implied volatility ----------------------------------------------------------------------
def _vol_specs() -> list[SeriesSpec]:
    specs = []
    for stem in ASSETS:
        name = _trader_name(stem)
        for venue in VENUES:
            index = venue.vol_index
            if index is None or stem not in index.symbols:
                continue
            symbol = index.symbols[stem]
            specs.append(SeriesSpec(
                id=index.series_id(stem), kind=VOL_INDEX, source=venue.key, symbol=symbol,
                interval="1h", label=index.label.format(asset=name, symbol=symbol), asset=name,
                unit="vol pts", history_days=365, poll_seconds=index.poll_seconds,
            ))
        chains = [v for v in VENUES if stem in v.options]
        if chains:
            primary, *rest = chains
            specs.append(SeriesSpec(
                id=options_id(stem), kind=OPTION_CHAIN, source=primary.key, symbol=name,
                interval="snapshot", label=f"{name} option chain ({primary.label})",
                asset=name, fallbacks=tuple((v.key, name) for v in rest), poll_seconds=900,
            ))
    return specs


# -- reported liquidations -------------------------------------------------------------------
# The venues with a public liquidation feed (docs/streams.md §8; Hyperliquid has none), and the
# one that also serves a key-less recent history over REST (OKX: about the last day to week).
LIQUIDATION_VENUES: tuple[str, ...] = ("binance", "bybit", "okx", "deribit")
LIQUIDATION_REST_VENUES = frozenset({"okx"})
LIQUIDATION_REST_DAYS = 7


STREAM_ONLY_NOTE = "recorded from the stream"


def is_stream_only(spec: SeriesSpec) -> bool:
    """A series only a stream can fill (no key-less REST history): never fetched, recorded."""
    return spec.extra.get("rest_history") is False


def _liquidation_specs() -> list[SeriesSpec]:
    specs = []
    for key in LIQUIDATION_VENUES:
        venue = next(v for v in VENUES if v.key == key)
        rest = key in LIQUIDATION_REST_VENUES
        for stem in _perp_stems(venue):
            name = _trader_name(stem)
            specs.append(SeriesSpec(
                id=liq_id(key, stem), kind=LIQUIDATIONS, source=venue.perp_source,
                symbol=venue.perps[stem], interval="1m",
                label=f"{name} liquidations · {venue.label} (reported)", asset=name, unit="USD",
                history_days=LIQUIDATION_REST_DAYS if rest else 30, poll_seconds=300,
                max_history_days=LIQUIDATION_REST_DAYS if rest else None,
                extra={} if rest else {"rest_history": False},
            ))
    return specs


# -- premium, dated futures' basis, CME (models/basis.py, docs/basis.md) ----------------------
PREMIUM_VENUES: tuple[str, ...] = FUNDING_VENUES
BASIS_VENUES: tuple[str, ...] = tuple(v.key for v in VENUES if v.dated_futures)
#: Yahoo's continuous front-month CME Bitcoin futures, hourly (not an asset of the asset table:
#: it is one leg of the CME basis, not a market the price docks list)
CME_BTC_ID = price_id("cmebtc", "1h")
CME_BTC_SYMBOL = "BTC=F"
BASIS_POLL_SECONDS = 300


def _premium_specs() -> list[SeriesSpec]:
    """Perpetual mark against index, one row a minute, recorded from the streams only."""
    specs = []
    for venue in VENUES:
        if venue.key not in PREMIUM_VENUES:
            continue
        for stem in _perp_stems(venue):
            name = _trader_name(stem)
            specs.append(SeriesSpec(
                id=premium_id(venue.key, stem), kind=PREMIUM, source=venue.perp_source,
                symbol=venue.perps[stem], interval="1m",
                label=f"{name} perp premium · {venue.label}", asset=name, unit="%",
                history_days=30, poll_seconds=60, extra={"rest_history": False},
            ))
    return specs


def _basis_specs() -> list[SeriesSpec]:
    """Front-quarterly basis per venue (a row per poll: no venue serves its history), each
    asset's term structure across venues (one snapshot merging every venue's futures), and
    the CME front month's hourly bars."""
    specs = []
    for stem in ASSETS:
        name = _trader_name(stem)
        listed = [v for v in VENUES if stem in v.dated_futures]
        for venue in listed:
            specs.append(SeriesSpec(
                id=basis_id(venue.key, stem), kind=BASIS, source=venue.perp_source,
                symbol=venue.dated_futures[stem], interval="5m",
                label=f"{name} front-quarterly basis · {venue.label}", asset=name,
                unit="APR %", history_days=30, poll_seconds=BASIS_POLL_SECONDS,
            ))
        if listed:
            (first, *rest) = listed
            specs.append(SeriesSpec(
                id=basis_curve_id(stem), kind=BASIS_CURVE, source=first.perp_source,
                symbol=first.dated_futures[stem], interval="snapshot",
                label=f"{name} futures term structure", asset=name, unit="APR %",
                fallbacks=tuple((v.perp_source, v.dated_futures[stem]) for v in rest),
                poll_seconds=BASIS_POLL_SECONDS,
                # every venue's futures in one table, not the first venue that answers
                extra={"merge_venues": True},
            ))
    yahoo = next(v for v in VENUES if v.key == "yahoo")
    specs.append(SeriesSpec(
        id=CME_BTC_ID, kind=CANDLES, source=yahoo.key, symbol=CME_BTC_SYMBOL, interval="1h",
        label="CME Bitcoin futures (front month)", asset="CME BTC", unit="USD",
        history_days=_HISTORY_DAYS["1h"], poll_seconds=yahoo.candle_poll_seconds,
        max_history_days=yahoo.candle_max_days.get("1h"),
    ))
    return specs


CATALOG: dict[str, SeriesSpec] = {s.id: s for s in
                                  (*_price_specs(), *_funding_specs(), *_vol_specs(),
                                   *_liquidation_specs(), *_premium_specs(),
                                   *_basis_specs())}


def price_series_id(stem: str, interval: str) -> str:
    return price_id(stem, interval)


PRICE_STEMS: tuple[str, ...] = tuple(s for s in ASSETS if any(s in v.spot for v in VENUES))


def source_label(key: str) -> str:
    """A series source as the status chips name it: the venue's label, with "spot" or
    "futures" added when two registry rows share that label (Binance serves spot candles and
    perpetuals from different hosts, which fail separately)."""
    # The status bar asks for every status on every change: remembered per registry, as the
    # scan of the catalog below made a window's start-up spend half a second here.
    token = (key, id(venue_registry.VENUES))
    found = _source_labels.get(token)
    if found is None:
        found = _source_labels[token] = _source_label(key)
    return found


_source_labels: dict[tuple[str, int], str] = {}


def _source_label(key: str) -> str:
    label = venue_label(key)
    if sum(v.label == label for v in VENUES) < 2:
        return label
    kinds = {s.kind for s in CATALOG.values() if s.source == key}
    return f"{label} spot" if kinds <= {CANDLES} else f"{label} futures"


# The price series of the user's symbols (models/symbols.py: register_user_symbols). Kept apart
# from CATALOG, which stays the fixed built-in table every export and `main.py list` reads; the
# dict is replaced whole, never edited, so a worker looking a spec up meanwhile is safe.
_user_specs: dict[str, SeriesSpec] = {}


def set_user_specs(specs: list[SeriesSpec]) -> None:
    global _user_specs
    new = {s.id: s for s in specs}
    clash = sorted(new.keys() & CATALOG.keys())
    if clash:
        raise ValueError(f"user series may not replace built-in ones: {clash}")
    for series_id in new:
        validate_series_id(series_id)
    _user_specs = new


def user_specs() -> dict[str, SeriesSpec]:
    return dict(_user_specs)


def find_spec(series_id: str) -> SeriesSpec | None:
    """A built-in series' spec, else a user symbol's, else None."""
    return CATALOG.get(series_id) or _user_specs.get(series_id)


def get_spec(series_id: str) -> SeriesSpec:
    found = find_spec(series_id)
    if found is None:
        raise KeyError(f"unknown series {series_id!r} (see `main.py list`)")
    return found


def derived_specs() -> dict[str, derived.DerivedSpec]:
    """Every derived quantity by id (`models/derived.py`; imported lazily: it needs pandas)."""
    from models.derived import DERIVED

    return DERIVED


def validate_symbol(symbol: str) -> str:
    """Reject a symbol that could smuggle a path, a query or a header into a request."""
    if not SYMBOL_RE.match(symbol):
        raise ValueError(f"invalid symbol {symbol!r}")
    return symbol


def validate_series_id(series_id: str) -> str:
    """Reject ids that could not be ours before they reach SQL, a URL or a file name."""
    if not SERIES_ID_RE.match(series_id):
        raise ValueError(f"invalid series id {series_id!r}")
    return series_id
