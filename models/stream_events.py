"""What a venue's websocket stream delivers, normalised across venues (docs/streams.md).

The stream parsers (`services/streams/`) turn each venue's frames into these plain records; the
hub persists them through the cache and hands them to the window in batches. Times are UTC epoch
milliseconds as the venue stamped them; `recv_ns` is `time.perf_counter_ns()` when the frame left
the socket, kept only to measure tick-to-pixel latency (bench/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# The liquidated side: the side whose position was force-closed. A long's liquidation is a forced
# sell (Binance `S:"SELL"`, OKX `side:"sell"`), reported by Bybit as position side `Buy`.
LONG = "long"
SHORT = "short"
SIDES = (LONG, SHORT)

# What a liquidation's price is: the forced order's average fill (Binance `ap`), the position's
# bankruptcy price (Bybit `p`, OKX `bkPx`) or the trade price of a flagged trade (Deribit).
FILL = "fill"
BANKRUPTCY = "bankruptcy"
TRADE = "trade"
PRICE_KINDS = (FILL, BANKRUPTCY, TRADE)

# Keys a TickUpdate may carry, each with one unit across venues.
TICK_FIELDS = (
    "mark",  # mark price, quote currency
    "index",  # index (or oracle) price, quote currency
    "last",  # last trade price
    "funding_rate",  # fraction per funding interval (0.0001 = 0.01 %)
    "funding_interval_hours",
    "next_funding_ms",
    "open_interest",  # base coin, one side
    "open_interest_usd",
    "dvol",  # vol points (97.3 = 97.3 %)
)


@dataclass(frozen=True, slots=True)
class BarUpdate:
    """One candle as the stream last showed it; `closed` once the venue marks it final."""

    series_id: str  # the price series it updates, e.g. "btc.1m"
    venue: str
    time_ms: int  # the bar's open
    open: float
    high: float
    low: float
    close: float
    volume: float  # base coin
    closed: bool
    recv_ns: int = 0


@dataclass(frozen=True, slots=True)
class TickUpdate:
    """The latest values of one venue's perpetual (or index) for one asset."""

    venue: str
    asset: str  # asset stem: "btc"
    time_ms: int
    values: Mapping[str, float] = field(default_factory=dict)  # keys from TICK_FIELDS
    recv_ns: int = 0


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One reported forced close, normalised: side is the liquidated side, qty in base coin."""

    time_ms: int
    venue: str
    instrument: str  # the venue's symbol: BTCUSDT, BTC-USDT-SWAP, BTC-PERPETUAL
    asset: str  # asset stem
    side: str  # LONG or SHORT
    qty: float  # base coin
    price: float
    usd: float  # qty × price
    price_kind: str  # FILL, BANKRUPTCY or TRADE
    recv_ns: int = 0


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch the stream may have missed (a reconnect): REST fills it."""

    venue: str
    since_ms: int
    until_ms: int


class StreamState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    POLLING = "polling"  # no stream: the venue is polled over REST
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class StreamStatus:
    venue: str
    state: StreamState
    attempt: int = 0  # reconnect attempts since the last good connection
    message: str = ""  # the last failure, one line
    retry_at_ms: int | None = None  # when the next connection attempt starts
    since_ms: int = 0  # when this state began

    @property
    def label(self) -> str:
        """What the status chip says: "live", "reconnecting (3)", "polling"."""
        if self.state is StreamState.RECONNECTING:
            return f"reconnecting ({self.attempt})"
        return self.state.value
