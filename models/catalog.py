"""The instrument catalog: every series Rotor stores, where it comes from and what it holds.

A series id is stable (it names cache rows, exports and CLI arguments): `<asset>.<interval>` for
prices, `<kind>.<venue>.<asset>` for venue-specific series. Derived quantities (correlation, GEX …)
are computed from stored ones and listed by `derived_specs()` (models/derived.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models.series import MS_PER_DAY, MS_PER_HOUR

if TYPE_CHECKING:

    from models import derived

# Series kinds and their stored columns.
CANDLES = "candles"
FUNDING = "funding"
OPEN_INTEREST = "open_interest"
VOL_INDEX = "vol_index"
OPTION_CHAIN = "option_chain"  # snapshot
FUNDING_NOW = "funding_now"  # snapshot: current and predicted rate per venue

KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    CANDLES: ("open", "high", "low", "close", "volume"),
    FUNDING: ("rate", "interval_hours", "apr_pct"),
    OPEN_INTEREST: ("open_interest", "open_interest_usd"),
    VOL_INDEX: ("open", "high", "low", "close"),
    OPTION_CHAIN: (),
    FUNDING_NOW: (),
}
SNAPSHOT_KINDS = frozenset({OPTION_CHAIN, FUNDING_NOW})

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "1h": MS_PER_HOUR,
    "4h": 4 * MS_PER_HOUR,
    "8h": 8 * MS_PER_HOUR,
    "1d": MS_PER_DAY,
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
_CRYPTO = (
    # id stem, label, binance, coinbase, kraken
    ("btc", "BTC", "BTCUSDT", "BTC-USD", "XBTUSD"),
    ("eth", "ETH", "ETHUSDT", "ETH-USD", "ETHUSD"),
)
_YAHOO = (
    ("spx", "S&P 500", "^GSPC", "USD"),
    ("ndx", "Nasdaq 100", "^NDX", "USD"),
    ("gold", "Gold", "GC=F", "USD/oz"),
    ("silver", "Silver", "SI=F", "USD/oz"),
    ("dxy", "US Dollar Index", "DX-Y.NYB", "index"),
    ("vix", "VIX", "^VIX", "vol pts"),
)
PRICE_INTERVALS = ("1h", "1d")
# Yahoo serves 1h bars only for the last 730 days.
_YAHOO_MAX_DAYS = {"1h": 729, "1d": None}
_HISTORY_DAYS = {"1h": 120, "1d": 5 * 365}
# BTC/ETH hourly bars back to Binance's first (2017-08-17, ~80k rows): the rotation analytics
# sample BTC at each NYSE close from them, on every session of the peers' daily history.
_CRYPTO_HISTORY_DAYS = {"1h": 3650, "1d": _HISTORY_DAYS["1d"]}


def _price_specs() -> list[SeriesSpec]:
    specs = []
    for interval in PRICE_INTERVALS:
        for stem, label, binance, coinbase, kraken in _CRYPTO:
            specs.append(SeriesSpec(
                id=f"{stem}.{interval}", kind=CANDLES, source="binance", symbol=binance,
                interval=interval, label=f"{label}/USD", asset=label,
                fallbacks=(("coinbase", coinbase), ("kraken", kraken)), unit="USD",
                history_days=_CRYPTO_HISTORY_DAYS[interval], poll_seconds=60,
            ))
        for stem, label, symbol, unit in _YAHOO:
            specs.append(SeriesSpec(
                id=f"{stem}.{interval}", kind=CANDLES, source="yahoo", symbol=symbol,
                interval=interval, label=label, asset=label, unit=unit,
                history_days=_HISTORY_DAYS[interval], poll_seconds=300,
                max_history_days=_YAHOO_MAX_DAYS[interval],
            ))
    return specs


# -- funding and open interest ---------------------------------------------------------------
FUNDING_VENUES = ("binance", "bybit", "okx", "deribit", "hyperliquid")
_PERP_SYMBOLS = {
    "binance": {"BTC": "BTCUSDT", "ETH": "ETHUSDT"},
    "bybit": {"BTC": "BTCUSDT", "ETH": "ETHUSDT"},
    "okx": {"BTC": "BTC-USDT-SWAP", "ETH": "ETH-USDT-SWAP"},
    "deribit": {"BTC": "BTC-PERPETUAL", "ETH": "ETH-PERPETUAL"},
    "hyperliquid": {"BTC": "BTC", "ETH": "ETH"},
}
_FUNDING_INTERVAL = {"binance": "8h", "bybit": "8h", "okx": "8h", "deribit": "1h",
                     "hyperliquid": "1h"}
_VENUE_LABEL = {"binance": "Binance", "binance_futures": "Binance", "bybit": "Bybit", "okx": "OKX",
                "deribit": "Deribit",
                "hyperliquid": "Hyperliquid", "coinbase": "Coinbase", "kraken": "Kraken",
                "yahoo": "Yahoo Finance", "volmex": "Volmex"}
OI_VENUES = ("binance", "bybit")


def _perp_source(venue: str) -> str:
    """Binance perpetuals live on a separate host (USD-M futures) with their own client."""
    return "binance_futures" if venue == "binance" else venue


def venue_label(venue: str) -> str:
    return _VENUE_LABEL.get(venue, venue)


def _funding_specs() -> list[SeriesSpec]:
    specs = []
    for venue in FUNDING_VENUES:
        for asset in ("BTC", "ETH"):
            sym = _PERP_SYMBOLS[venue][asset]
            label = f"{asset} funding · {venue_label(venue)}"
            specs.append(SeriesSpec(
                id=f"funding.{venue}.{asset.lower()}", kind=FUNDING, source=_perp_source(venue),
                symbol=sym,
                interval=_FUNDING_INTERVAL[venue], label=label, asset=asset, unit="APR %",
                history_days=90, poll_seconds=300,
                # OKX keeps only three months of funding history.
                max_history_days=90 if venue == "okx" else None,
            ))
            specs.append(SeriesSpec(
                id=f"fundingnow.{venue}.{asset.lower()}", kind=FUNDING_NOW,
                source=_perp_source(venue),
                symbol=sym, interval="snapshot",
                label=f"{asset} funding now · {venue_label(venue)}", asset=asset,
                unit="rate", poll_seconds=60,
            ))
    for venue in OI_VENUES:
        for asset in ("BTC", "ETH"):
            specs.append(SeriesSpec(
                id=f"oi.{venue}.{asset.lower()}", kind=OPEN_INTEREST, source=_perp_source(venue),
                symbol=_PERP_SYMBOLS[venue][asset], interval="1h",
                label=f"{asset} open interest · {venue_label(venue)}", asset=asset,
                unit=asset, history_days=30, poll_seconds=300,
                # Binance keeps only the last 30 days; the cache keeps what it has seen.
                max_history_days=29 if venue == "binance" else None,
            ))
    return specs


# -- implied volatility ----------------------------------------------------------------------
def _vol_specs() -> list[SeriesSpec]:
    specs = []
    for asset in ("BTC", "ETH"):
        specs.append(SeriesSpec(
            id=f"dvol.{asset.lower()}", kind=VOL_INDEX, source="deribit", symbol=asset,
            interval="1h", label=f"{asset} DVOL (Deribit)", asset=asset, unit="vol pts",
            history_days=365, poll_seconds=300,
        ))
        specs.append(SeriesSpec(
            id=f"{asset[0].lower()}viv.{asset.lower()}", kind=VOL_INDEX, source="volmex",
            symbol=f"{asset[0]}VIV", interval="1h",
            label=f"{asset} implied vol (Volmex {asset[0]}VIV, undocumented API)", asset=asset,
            unit="vol pts", history_days=365, poll_seconds=600,
        ))
        specs.append(SeriesSpec(
            id=f"options.{asset.lower()}", kind=OPTION_CHAIN, source="deribit", symbol=asset,
            interval="snapshot", label=f"{asset} option chain (Deribit)", asset=asset,
            poll_seconds=900,
        ))
    return specs


CATALOG: dict[str, SeriesSpec] = {s.id: s for s in
                                  (*_price_specs(), *_funding_specs(), *_vol_specs())}


def price_series_id(stem: str, interval: str) -> str:
    return f"{stem}.{interval}"


PRICE_STEMS: tuple[str, ...] = tuple(s for s, *_ in _CRYPTO) + tuple(s for s, *_ in _YAHOO)


def get_spec(series_id: str) -> SeriesSpec:
    try:
        return CATALOG[series_id]
    except KeyError:
        raise KeyError(f"unknown series {series_id!r} (see `main.py list`)") from None


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
