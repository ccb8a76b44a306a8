"""Binance spot klines and USD-M mark price / funding / liquidations (docs/streams.md, Binance).

Both connect to `<base>/ws` and send ONE `SUBSCRIBE` listing every stream: Binance counts each
incoming message (pings and pongs included) against 5/s on spot and 10/s on futures, and cuts a
connection that goes over. The server pings (spot every 20 s, futures every 3 min); the websocket
library answers, so there is no application ping. Every connection is cut at 24 h: reopen at
23 h 50 m. A `serverShutdown` event warns of maintenance: reconnect.

USD-M streams live on the `/market` route since 2026-04-23; the unrouted host handshakes but
stays silent for these streams (the default URL carries the route: services/streams/endpoints.py).
Frames arrive bare on `/ws`; the combined `{"stream", "data"}` wrapper is unwrapped too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from models.ids import price_id
from models.stream_events import FILL, LONG, SHORT, BarUpdate, Liquidation, TickUpdate
from services.streams.base import (
    Event,
    StreamBase,
    StreamReconnect,
    StreamRejected,
    excerpt,
    integer,
    load_object,
    mapping,
    number,
    wall_ms,
)

MAX_LIFETIME_S = 23 * 3600 + 50 * 60  # Binance cuts every connection at 24 h
SPOT_INTERVALS = ("1h", "1d")
DEFAULT_FUNDING_INTERVAL_HOURS = 8.0  # `r` is per interval; USD-M default, fundingInfo lists others
SUBSCRIBE_ID = 1
# forceOrder `S` is the side of the forced order: a SELL closes a long (docs/streams.md, §8).
LIQUIDATED_SIDE = {"SELL": LONG, "BUY": SHORT}


def _subscribe(streams: Sequence[str]) -> str:
    return json.dumps({"method": "SUBSCRIBE", "params": list(streams), "id": SUBSCRIBE_ID})


def _payload(obj: dict[str, Any], where: str) -> Mapping[str, Any]:
    """The event itself: the combined form wraps it as {"stream", "data"}."""
    if "stream" in obj and "data" in obj:
        return mapping(obj["data"], where)
    return obj


def _control(obj: Mapping[str, Any], where: str, streams: Sequence[str]) -> None:
    """Acks pass; an error answer to our SUBSCRIBE is a refusal (Binance's message does not say
    which stream: the refusal lists what was asked); serverShutdown asks for a reconnect."""
    if obj.get("e") == "serverShutdown":
        raise StreamReconnect(f"{where}: serverShutdown announced (maintenance): reconnecting")
    error = obj.get("error")
    if not isinstance(error, Mapping):  # {"error": {"code", "msg"}, "id"} or {"code", "msg"}
        error = obj if "code" in obj and "msg" in obj else None
    if error is not None:
        asked = excerpt(", ".join(streams), 120)
        raise StreamRejected(f"{where}: subscription to {asked} refused: error "
                             f"{error.get('code')}: {excerpt(str(error.get('msg')))}")


class BinanceSpotStream(StreamBase):
    """`<symbol>@kline_<interval>` for each asset → BarUpdate on the price series."""

    name = "binance_spot"
    venue = "binance"
    max_lifetime_s = MAX_LIFETIME_S

    def __init__(self, base_url: str, symbols: Mapping[str, str],
                 intervals: Sequence[str] = SPOT_INTERVALS, *,
                 clock: Callable[[], int] = wall_ms) -> None:
        super().__init__(base_url, clock=clock)
        self.symbols = dict(symbols)  # asset stem -> BTCUSDT
        self.intervals = tuple(intervals)
        self._assets = {s.upper(): a for a, s in self.symbols.items()}

    def url(self) -> str:
        return f"{self.base_url}/ws"

    def streams(self) -> list[str]:
        return [f"{s.lower()}@kline_{i}" for s in self.symbols.values() for i in self.intervals]

    def subscribe_frames(self) -> list[str]:
        return [_subscribe(self.streams())]

    def parse(self, raw: str | bytes, recv_ns: int) -> list[Event]:
        obj = _payload(load_object(raw, self.name), self.name)
        if obj.get("e") != "kline":
            _control(obj, self.name, self.streams())
            return []
        k = mapping(obj.get("k"), f"{self.name} kline")
        asset = self._assets.get(str(k.get("s") or obj.get("s") or "").upper())
        interval = k.get("i")
        if asset is None or interval not in self.intervals:
            return []
        where = f"{self.name} kline {k.get('s')} {interval}"
        return [BarUpdate(
            series_id=price_id(asset, interval), venue=self.venue,
            time_ms=integer(k, "t", where),
            open=number(k, "o", where), high=number(k, "h", where), low=number(k, "l", where),
            close=number(k, "c", where),
            volume=number(k, "v", where),  # base coin, as the REST klines' volume column
            closed=k.get("x") is True, recv_ns=recv_ns)]


class BinanceFuturesStream(StreamBase):
    """USD-M `<symbol>@markPrice@1s` → TickUpdate; `<symbol>@forceOrder` → Liquidation.

    The connection key is `binance_futures` (its REST gap-fill venue); the events carry venue
    "binance", the venue whose funding and liquidation series they feed.
    """

    name = "binance_futures"
    venue = "binance_futures"
    event_venue = "binance"
    max_lifetime_s = MAX_LIFETIME_S

    def __init__(self, base_url: str, symbols: Mapping[str, str], *,
                 funding_interval_hours: Mapping[str, float] | None = None,
                 clock: Callable[[], int] = wall_ms) -> None:
        super().__init__(base_url, clock=clock)
        self.symbols = dict(symbols)
        self.funding_interval_hours = dict(funding_interval_hours or {})
        self._assets = {s.upper(): a for a, s in self.symbols.items()}

    def url(self) -> str:
        return f"{self.base_url}/ws"

    def streams(self) -> list[str]:
        out = []
        for s in self.symbols.values():
            out += [f"{s.lower()}@markPrice@1s", f"{s.lower()}@forceOrder"]
        return out

    def subscribe_frames(self) -> list[str]:
        return [_subscribe(self.streams())]

    def parse(self, raw: str | bytes, recv_ns: int) -> list[Event]:
        obj = _payload(load_object(raw, self.name), self.name)
        kind = obj.get("e")
        if kind == "markPriceUpdate":
            return self._mark(obj, recv_ns)
        if kind == "forceOrder":
            return self._force_order(obj, recv_ns)
        _control(obj, self.name, self.streams())
        return []

    def _mark(self, obj: Mapping[str, Any], recv_ns: int) -> list[Event]:
        asset = self._assets.get(str(obj.get("s", "")).upper())
        if asset is None:
            return []
        where = f"{self.name} markPrice {obj.get('s')}"
        values = {
            "mark": number(obj, "p", where),
            "index": number(obj, "i", where),
            "funding_rate": number(obj, "r", where),  # fraction per funding interval
            "next_funding_ms": float(integer(obj, "T", where)),
            "funding_interval_hours": self.funding_interval_hours.get(
                asset, DEFAULT_FUNDING_INTERVAL_HOURS),
        }
        return [TickUpdate(self.event_venue, asset, integer(obj, "E", where), values, recv_ns)]

    def _force_order(self, obj: Mapping[str, Any], recv_ns: int) -> list[Event]:
        order = mapping(obj.get("o"), f"{self.name} forceOrder")
        symbol = str(order.get("s", "")).upper()
        asset = self._assets.get(symbol)
        if asset is None:
            return []
        where = f"{self.name} forceOrder {symbol}"
        side = LIQUIDATED_SIDE.get(str(order.get("S", "")).upper())
        if side is None:
            raise ValueError(f"{where}: unknown side {excerpt(repr(order.get('S')))}")
        qty = number(order, "z", where)  # accumulated filled quantity, base coin
        price = number(order, "ap", where)  # average fill price (`p` is the order's limit)
        if qty <= 0:  # nothing was filled: no position was closed by this order
            return []
        return [Liquidation(
            time_ms=integer(order, "T", where), venue=self.event_venue, instrument=symbol,
            asset=asset, side=side, qty=qty, price=price, usd=qty * price, price_kind=FILL,
            recv_ns=recv_ns)]
