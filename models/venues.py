"""The venue registry: one row per venue says everything Rotor knows about it.

The catalog's series, the endpoints (default URL, environment override), the client that serves
them, the label and the colour all derive from these rows, so adding a venue is one client
module in `services/` plus one row here (and their tests). Plain data only: no Qt, no I/O;
`ui.theme` turns the colours into pens, `services.sources` imports the clients. A venue has a
colour per theme (`color` on dark, `light_color` on light; tests/ui/test_theme_colors.py keeps
them apart and readable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from models.ids import dvol_id, volmex_id

DEFAULT_VENUE_COLOR = "#b0bec5"  # for a venue the registry does not know
DEFAULT_VENUE_LIGHT_COLOR = "#757575"  # the same, on the light theme
#: every bar interval the price docks offer (models/catalog.py: PRICE_INTERVALS)
ALL_CANDLE_INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d", "1w")


@dataclass(frozen=True)
class VolIndex:
    """An implied-vol index the venue publishes per asset."""

    symbols: Mapping[str, str]  # asset stem -> the venue's index name
    series_id: Callable[[str], str]  # asset stem -> the stored series' id
    label: str  # formatted with {asset} (BTC) and {symbol}
    poll_seconds: int = 300


@dataclass(frozen=True)
class Venue:
    key: str  # endpoint and client key; the venue part of funding/OI ids
    label: str  # what a trader calls it
    color: str  # hex, for its lines and its key on the dark theme
    base_url: str  # default; `env_var` overrides it
    env_var: str
    client: str  # "module:Class" of its SeriesSource client
    #: spot candles: asset stem -> symbol. Venues serving the same asset are tried in registry
    #: order (the first is the primary, the others its fallbacks).
    spot: Mapping[str, str] = field(default_factory=dict)
    candle_poll_seconds: int = 60
    candle_max_days: Mapping[str, int] = field(default_factory=dict)  # interval -> days kept
    #: perpetuals: asset stem -> symbol, for funding and open interest
    perps: Mapping[str, str] = field(default_factory=dict)
    perp_client: str = ""  # the registry key whose client serves the perps ("" = this one)
    funding_interval: str = ""  # settlement interval of the funding history; "" = none
    funding_max_days: int | None = None  # funding history the venue keeps (None: all)
    open_interest: bool = False  # serves open-interest history for its perps
    oi_max_days: int | None = None
    options: tuple[str, ...] = ()  # asset stems with option chains
    vol_index: VolIndex | None = None
    light_color: str = ""  # hex, on the light theme ("": the dark one)
    #: funding accrues all the time (no settlement instant to count down to)
    continuous_funding: bool = False
    #: dated futures: asset stem -> what lists them (a currency, a pair, an instrument family);
    #: served by the perps' client (docs/basis.md)
    dated_futures: Mapping[str, str] = field(default_factory=dict)
    #: the bar intervals its spot-candle endpoint serves natively; the catalog resamples the
    #: others from the finest one stored (docs/timeframes.md)
    candle_intervals: tuple[str, ...] = ALL_CANDLE_INTERVALS

    @property
    def client_module(self) -> str:
        return self.client.partition(":")[0]

    @property
    def client_class(self) -> str:
        return self.client.partition(":")[2]

    @property
    def perp_source(self) -> str:
        return self.perp_client or self.key

    @property
    def has_funding(self) -> bool:
        return bool(self.funding_interval and self.perps)


# In display order: funding lines, OI lines and price fallbacks follow it.
VENUES: tuple[Venue, ...] = (
    Venue("binance", "Binance", "#f0b90b",
          # data-api.binance.vision is Binance's market-data-only host for spot klines.
          "https://data-api.binance.vision", "ROTOR_BINANCE_SPOT_URL",
          "services.binance:BinanceClient",
          spot={"btc": "BTCUSDT", "eth": "ETHUSDT"},
          # perpetuals live on a separate host (USD-M futures) with their own client
          perps={"btc": "BTCUSDT", "eth": "ETHUSDT"}, perp_client="binance_futures",
          funding_interval="8h", open_interest=True,
          oi_max_days=29,  # Binance keeps only the last 30 days of OI
          dated_futures={"btc": "BTCUSDT", "eth": "ETHUSDT"},  # USD-M quarterlies of the pair
          light_color="#b88a00"),
    Venue("binance_futures", "Binance", "#f0b90b",
          "https://fapi.binance.com", "ROTOR_BINANCE_FUTURES_URL",
          "services.binance_futures:BinanceFuturesClient",
          light_color="#b88a00"),
    Venue("bybit", "Bybit",
          "#e86bd0",  # not orange: it would read as Binance or as BTC
          "https://api.bybit.com", "ROTOR_BYBIT_URL", "services.bybit:BybitClient",
          perps={"btc": "BTCUSDT", "eth": "ETHUSDT"}, funding_interval="8h",
          open_interest=True,
          light_color="#c2189f"),
    Venue("okx", "OKX", "#e0e0e0", "https://www.okx.com", "ROTOR_OKX_URL",
          "services.okx:OkxClient",
          perps={"btc": "BTC-USDT-SWAP", "eth": "ETH-USDT-SWAP"}, funding_interval="8h",
          funding_max_days=90,  # OKX keeps only three months of funding history
          dated_futures={"btc": "BTC-USD", "eth": "ETH-USD"},  # the coin-margined family
          light_color="#424242"),
    Venue("deribit", "Deribit", "#29b6f6", "https://www.deribit.com", "ROTOR_DERIBIT_URL",
          "services.deribit:DeribitClient",
          perps={"btc": "BTC-PERPETUAL", "eth": "ETH-PERPETUAL"}, funding_interval="1h",
          options=("btc", "eth"),
          vol_index=VolIndex({"btc": "BTC", "eth": "ETH"}, dvol_id, "{asset} DVOL (Deribit)"),
          light_color="#0277bd", continuous_funding=True,
          dated_futures={"btc": "BTC", "eth": "ETH"}),
    Venue("hyperliquid", "Hyperliquid", "#7ee0c4", "https://api.hyperliquid.xyz",
          "ROTOR_HYPERLIQUID_URL", "services.hyperliquid:HyperliquidClient",
          perps={"btc": "BTC", "eth": "ETH"}, funding_interval="1h",
          light_color="#00897b"),
    Venue("coinbase", "Coinbase", "#4c7dff", "https://api.exchange.coinbase.com",
          "ROTOR_COINBASE_URL", "services.coinbase:CoinbaseClient",
          spot={"btc": "BTC-USD", "eth": "ETH-USD"},
          # granularities 60, 300, 900, 3600, 21600, 86400 s: no 4h, no week
          candle_intervals=("1m", "5m", "15m", "1h", "1d"),
          light_color="#0d47a1"),
    Venue("kraken", "Kraken", "#9966ff", "https://api.kraken.com", "ROTOR_KRAKEN_URL",
          "services.kraken:KrakenClient",
          spot={"btc": "XBTUSD", "eth": "ETHUSD"},
          light_color="#7132f5"),
    Venue("yahoo", "Yahoo Finance", "#c49cff", "https://query1.finance.yahoo.com",
          "ROTOR_YAHOO_URL", "services.yahoo:YahooClient",
          spot={"spx": "^GSPC", "ndx": "^NDX", "gold": "GC=F", "silver": "SI=F",
                "dxy": "DX-Y.NYB", "vix": "^VIX"},
          candle_poll_seconds=300,
          # Yahoo serves 1m bars for the last 30 days, 5m/15m for 60, 1h for 730
          candle_max_days={"1m": 29, "5m": 59, "15m": 59, "1h": 729},
          candle_intervals=("1m", "5m", "15m", "1h", "1d", "1w"),  # no 4h
          light_color="#9575cd"),
    # undocumented but key-less: best effort (see services/volmex.py)
    Venue("volmex", "Volmex", "#9ccc65", "https://rest-v1.volmex.finance", "ROTOR_VOLMEX_URL",
          "services.volmex:VolmexClient",
          vol_index=VolIndex({"btc": "BVIV", "eth": "EVIV"}, volmex_id,
                             "{asset} implied vol (Volmex {symbol}, undocumented API)",
                             poll_seconds=600),
          light_color="#558b2f"),
)


def find_venue(key: str) -> Venue | None:
    # read VENUES at call time: a registry extended before the catalog is built is honoured
    return next((v for v in VENUES if v.key == key), None)


def venue_label(key: str) -> str:
    found = find_venue(key)
    return found.label if found else key


def venue_color(key: str, theme: str = "dark") -> str:
    """The venue's colour on `theme` ("dark" or "light"), or a neutral default for one the
    registry does not know."""
    found = find_venue(key)
    if theme == "light":
        return (found.light_color or found.color) if found else DEFAULT_VENUE_LIGHT_COLOR
    return found.color if found else DEFAULT_VENUE_COLOR
