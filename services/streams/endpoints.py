"""Where each venue's websocket lives (overridable by environment) and the streams Rotor opens.

Defaults per docs/streams.md. Binance USD-M carries the `/market` route: since 2026-04-23 the
unrouted host handshakes but never sends markPrice or forceOrder. `wss://` always; plain `ws://`
only on loopback (the tests' fake venues, a local relay), as for the REST base URLs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from models.venues import find_venue
from services.config import is_loopback_host
from services.errors import InsecureEndpoint
from services.streams.base import VenueStream
from services.streams.binance import BinanceFuturesStream, BinanceSpotStream
from services.streams.bybit import BybitStream
from services.streams.deribit import DeribitStream
from services.streams.hyperliquid import HyperliquidStream
from services.streams.okx import OkxStream

log = logging.getLogger(__name__)

# stream name -> (default URL, environment override), in connection order
STREAM_URLS: dict[str, tuple[str, str]] = {
    # Binance's market-data-only host, as the REST default (data-api.binance.vision)
    "binance_spot": ("wss://data-stream.binance.vision", "ROTOR_BINANCE_SPOT_WS"),
    "binance_futures": ("wss://fstream.binance.com/market", "ROTOR_BINANCE_FUTURES_WS"),
    "bybit": ("wss://stream.bybit.com/v5/public/linear", "ROTOR_BYBIT_WS"),
    "okx": ("wss://ws.okx.com:8443/ws/v5/public", "ROTOR_OKX_WS"),
    "deribit": ("wss://www.deribit.com/ws/api/v2", "ROTOR_DERIBIT_WS"),
    "hyperliquid": ("wss://api.hyperliquid.xyz/ws", "ROTOR_HYPERLIQUID_WS"),
}
DEFAULT_WS_URLS: dict[str, str] = {name: url for name, (url, _) in STREAM_URLS.items()}
WS_ENV_VARS: dict[str, str] = {name: var for name, (_, var) in STREAM_URLS.items()}
DEFAULT_ASSETS = ("btc", "eth")


def check_ws_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "wss" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "ws" and parts.hostname and is_loopback_host(parts.hostname):
        return url.rstrip("/")
    raise InsecureEndpoint(f"{name} websocket URL must be wss:// (got {url!r}); plain ws is "
                           "accepted only on loopback", venue=name)


@dataclass(frozen=True)
class StreamEndpoints:
    urls: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_WS_URLS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StreamEndpoints:
        env = os.environ if environ is None else environ
        urls = {name: check_ws_url(name, env.get(WS_ENV_VARS[name]) or default)
                for name, default in DEFAULT_WS_URLS.items()}
        plain = sorted(n for n, u in urls.items() if u.startswith("ws://"))
        if plain:
            log.warning("plain ws on loopback for %s (tests or a local relay only)",
                        ", ".join(plain))
        return cls(urls)

    def __getitem__(self, name: str) -> str:
        return self.urls[name]


def _symbols(table: Mapping[str, str], assets: Iterable[str]) -> dict[str, str]:
    return {a: table[a] for a in assets if a in table}


def build_streams(endpoints: StreamEndpoints,
                  assets: Iterable[str] = DEFAULT_ASSETS) -> list[VenueStream]:
    """One stream per venue connection, for the assets each venue lists in models/venues.py;
    a venue listing none of them opens no connection."""
    assets = tuple(assets)

    def table(venue: str, attr: str) -> dict[str, str]:
        found = find_venue(venue)
        return _symbols(getattr(found, attr) if found else {}, assets)

    candidates: list[VenueStream] = []
    if spot := table("binance", "spot"):
        candidates.append(BinanceSpotStream(endpoints["binance_spot"], spot))
    if perps := table("binance", "perps"):
        candidates.append(BinanceFuturesStream(endpoints["binance_futures"], perps))
    if perps := table("bybit", "perps"):
        candidates.append(BybitStream(endpoints["bybit"], perps))
    if perps := table("okx", "perps"):
        candidates.append(OkxStream(endpoints["okx"], perps))
    if perps := table("deribit", "perps"):
        candidates.append(DeribitStream(endpoints["deribit"], perps))
    if perps := table("hyperliquid", "perps"):
        candidates.append(HyperliquidStream(endpoints["hyperliquid"], perps))
    return candidates
