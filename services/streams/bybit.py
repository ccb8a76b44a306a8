"""Bybit v5 public linear: `tickers.<S>` and `allLiquidation.<S>` (docs/streams.md, Bybit).

- Subscribe: `{"req_id", "op": "subscribe", "args": [topics]}`; the ack is
  `{"success": true, "op": "subscribe", ...}`, a refusal `success: false` with `ret_msg`.
- Keep-alive: send `{"op":"ping"}` every 20 s; the pong is `{"op":"ping", "ret_msg":"pong"}`
  (op `ping`, not `pong`). No ping and no data for ~10 min and Bybit cuts the connection.
- `tickers` sends one snapshot, then deltas carrying only the changed fields: the values merged
  per symbol are the ticker. A delta before any snapshot means the state is unknown: reconnect
  (StreamReconnect) for a fresh snapshot. `reset()` forgets the state before each reconnect.
- `openInterest` is in base coin: the unit of the stored REST `oi.bybit.*` series (the REST
  `/v5/market/open-interest` value), so the live point continues that line. The docs call it "the
  sum of both sides"; since 2026-06 tickers also carry `singleOpenInterest`. It is not used:
  switching would halve the live line against its own history.
- `allLiquidation`: every liquidation, batched every 500 ms; `S` is the POSITION side (`Buy` =
  a long was liquidated), `v` base coin, `p` the bankruptcy price.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from models.stream_events import BANKRUPTCY, LONG, SHORT, Liquidation, TickUpdate
from services.streams.base import (
    Event,
    StreamBase,
    StreamReconnect,
    StreamRejected,
    excerpt,
    integer,
    listing,
    load_object,
    mapping,
    number,
    optional_number,
    wall_ms,
)

PING = json.dumps({"op": "ping"})
DEFAULT_FUNDING_INTERVAL_HOURS = 8.0  # before `fundingIntervalHour` existed (2025-10)
LIQUIDATED_SIDE = {"Buy": LONG, "Sell": SHORT}  # position side
# ticker field -> TickUpdate key; each is a string, "" when it does not apply
TICKER_FIELDS = {
    "markPrice": "mark",
    "indexPrice": "index",
    "lastPrice": "last",
    "fundingRate": "funding_rate",  # fraction per interval
    "fundingIntervalHour": "funding_interval_hours",
    "nextFundingTime": "next_funding_ms",
    "openInterest": "open_interest",  # base coin
    "openInterestValue": "open_interest_usd",  # settle currency (USDT)
}


class BybitStream(StreamBase):
    name = "bybit"
    venue = "bybit"
    idle_ping_s = 20.0
    ping_frame = PING

    def __init__(self, base_url: str, symbols: Mapping[str, str], *,
                 clock: Callable[[], int] = wall_ms) -> None:
        super().__init__(base_url, clock=clock)
        self.symbols = dict(symbols)  # asset stem -> BTCUSDT
        self._assets = {s: a for a, s in self.symbols.items()}
        self._tickers: dict[str, dict[str, float]] = {}  # symbol -> merged values

    def topics(self) -> list[str]:
        out = []
        for s in self.symbols.values():
            out += [f"tickers.{s}", f"allLiquidation.{s}"]
        return out

    def subscribe_frames(self) -> list[str]:
        return [json.dumps({"req_id": "rotor-1", "op": "subscribe", "args": self.topics()})]

    def reset(self) -> None:
        self._tickers.clear()

    def parse(self, raw: str | bytes, recv_ns: int) -> list[Event]:
        obj = load_object(raw, self.name)
        topic = obj.get("topic")
        if not isinstance(topic, str):
            self._control(obj)
            return []
        channel, _, symbol = topic.partition(".")
        if channel == "tickers":
            return self._ticker(obj, symbol, recv_ns)
        if channel == "allLiquidation":
            return self._liquidations(obj, symbol, recv_ns)
        return []

    def _control(self, obj: Mapping[str, Any]) -> None:
        if obj.get("op") == "subscribe" and obj.get("success") is False:
            raise StreamRejected(f"{self.name}: subscription refused: "
                                 f"{excerpt(str(obj.get('ret_msg')), 200)}")

    def _ticker(self, obj: Mapping[str, Any], symbol: str, recv_ns: int) -> list[Event]:
        asset = self._assets.get(symbol)
        if asset is None:
            return []
        where = f"{self.name} tickers.{symbol}"
        data = mapping(obj.get("data"), where)
        kind = obj.get("type")
        if kind == "snapshot":
            values: dict[str, float] = {}
        elif kind == "delta":
            known = self._tickers.get(symbol)
            if known is None:
                raise StreamReconnect(f"{where}: delta before any snapshot: resubscribing")
            values = dict(known)
        else:
            raise ValueError(f"{where}: unknown type {excerpt(repr(kind))}")
        changed = False
        for key in data:
            name = TICKER_FIELDS.get(key)
            if name is None:
                continue  # book and 24 h fields, or a field added since
            changed = True
            parsed = optional_number(data, key)
            if parsed is None:  # "" now: the field no longer applies
                values.pop(name, None)
            else:
                values[name] = parsed
        self._tickers[symbol] = values
        if not changed and kind == "delta":
            return []  # only the book moved: nothing of ours changed
        out = dict(values)
        if "funding_rate" in out:
            out.setdefault("funding_interval_hours", DEFAULT_FUNDING_INTERVAL_HOURS)
        if not out:
            return []
        return [TickUpdate(self.venue, asset, integer(obj, "ts", where), out, recv_ns)]

    def _liquidations(self, obj: Mapping[str, Any], symbol: str, recv_ns: int) -> list[Event]:
        where = f"{self.name} allLiquidation.{symbol}"
        out: list[Event] = []
        for row in listing(obj.get("data"), where):
            row = mapping(row, where)
            instrument = str(row.get("s", symbol))
            asset = self._assets.get(instrument)
            if asset is None:
                continue
            side = LIQUIDATED_SIDE.get(str(row.get("S")))
            if side is None:
                raise ValueError(f"{where}: unknown side {excerpt(repr(row.get('S')))}")
            qty, price = number(row, "v", where), number(row, "p", where)
            out.append(Liquidation(
                time_ms=integer(row, "T", where), venue=self.venue, instrument=instrument,
                asset=asset, side=side, qty=qty, price=price, usd=qty * price,
                price_kind=BANKRUPTCY, recv_ns=recv_ns))
        return out
