"""Deribit JSON-RPC over websocket: ticker, DVOL, price index, liquidation-flagged trades
(docs/streams.md, Deribit).

- Frames: `public/set_heartbeat` first, then one `public/subscribe` with every channel (Deribit
  counts REST requests and sockets against 32 connections per IP: one socket for everything).
  The subscribe result lists the channels it accepted; one left out was refused.
- Heartbeat: the server sends `{"method": "heartbeat", "params": {"type": "test_request"}}` and
  closes the connection at once if no `public/test` answers it (`replies`). Plain heartbeats
  need nothing. Key-less clients get `100ms` channels (`raw` needs auth).
- ticker: numbers are JSON numbers. funding_rate is `funding_8h`, an 8-hour rate (interval 8).
  `open_interest` of the inverse perpetual is in USD: open_interest_usd; open_interest (coin) is
  USD / mark, as the REST snapshot computes it.
- DVOL `deribit_volatility_index.<x>_usd`: `volatility` in vol points → `dvol`.
- `deribit_price_index.<x>_usd`: `price` → `index`.
- trades: `amount` is USD on the perpetual; `direction` is the TAKER's side; `liquidation` "T"
  (the taker was liquidated), "M" (the maker), "MT" (both). A liquidated taker who sold was long;
  a liquidated maker on a taker sell had bought, so was short. "MT" closes both: two events.
  Deribit has no liquidation channel: these flags are its only public signal.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

from models.stream_events import LONG, SHORT, TRADE, Liquidation, TickUpdate
from services.streams.base import (
    Event,
    StreamBase,
    StreamRejected,
    excerpt,
    integer,
    listing,
    load_object,
    mapping,
    number,
    optional_number,
    put,
    wall_ms,
)

HEARTBEAT_INTERVAL_S = 30  # Deribit accepts ≥ 10 s
FUNDING_8H_INTERVAL_HOURS = 8.0
SET_HEARTBEAT_ID = 1
SUBSCRIBE_ID = 2
FIRST_TEST_ID = 1000
# (taker direction, who was liquidated) -> liquidated side
TAKER_SIDE = {"sell": LONG, "buy": SHORT}  # the taker's own position was closed by its order
MAKER_SIDE = {"sell": SHORT, "buy": LONG}  # the maker took the other side


def _request(request_id: int, method: str, params: Mapping[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method,
                       "params": dict(params)})


class DeribitStream(StreamBase):
    name = "deribit"
    venue = "deribit"

    def __init__(self, base_url: str, perpetuals: Mapping[str, str], *,
                 heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
                 clock: Callable[[], int] = wall_ms) -> None:
        super().__init__(base_url, clock=clock)
        self.perpetuals = dict(perpetuals)  # asset stem -> BTC-PERPETUAL
        self.heartbeat_interval_s = heartbeat_interval_s
        self._by_instrument = {i: a for a, i in self.perpetuals.items()}
        self._by_index = {f"{a}_usd": a for a in self.perpetuals}
        self._test_ids = itertools.count(FIRST_TEST_ID)

    def channels(self) -> list[str]:
        out = []
        for asset, instrument in self.perpetuals.items():
            out += [f"ticker.{instrument}.100ms", f"trades.{instrument}.100ms",
                    f"deribit_volatility_index.{asset}_usd", f"deribit_price_index.{asset}_usd"]
        return out

    def subscribe_frames(self) -> list[str]:
        return [_request(SET_HEARTBEAT_ID, "public/set_heartbeat",
                         {"interval": self.heartbeat_interval_s}),
                _request(SUBSCRIBE_ID, "public/subscribe", {"channels": self.channels()})]

    def replies(self, raw: str | bytes) -> list[str]:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        if "test_request" not in text:  # most frames: skip a second json.loads
            return []
        try:
            obj = load_object(text, self.name)
        except ValueError:
            return []  # parse reports it
        params = obj.get("params")
        if (obj.get("method") == "heartbeat" and isinstance(params, Mapping)
                and params.get("type") == "test_request"):
            return [_request(next(self._test_ids), "public/test", {})]
        return []

    def reset(self) -> None:
        self._test_ids = itertools.count(FIRST_TEST_ID)

    def parse(self, raw: str | bytes, recv_ns: int) -> list[Event]:
        obj = load_object(raw, self.name)
        if obj.get("method") == "subscription":
            params = mapping(obj.get("params"), f"{self.name} subscription")
            return self._notification(str(params.get("channel", "")), params.get("data"),
                                      recv_ns)
        if "error" in obj:
            self._error(obj)
        elif obj.get("id") == SUBSCRIBE_ID and "result" in obj:
            self._accepted(obj["result"])
        return []  # heartbeats, the set_heartbeat and public/test results

    def _error(self, obj: Mapping[str, Any]) -> None:
        error = obj.get("error")
        code = error.get("code") if isinstance(error, Mapping) else None
        message = error.get("message") if isinstance(error, Mapping) else error
        what = {SUBSCRIBE_ID: "subscription", SET_HEARTBEAT_ID: "set_heartbeat"}.get(
            obj.get("id"))
        if what is None:
            return  # a failed public/test: the server will close if it minds
        raise StreamRejected(f"{self.name}: {what} refused: error {code}: "
                             f"{excerpt(str(message), 200)}")

    def _accepted(self, result: Any) -> None:
        accepted = set(result) if isinstance(result, list) else set()
        missing = [c for c in self.channels() if c not in accepted]
        if missing:
            raise StreamRejected(f"{self.name}: subscription refused for "
                                 f"{', '.join(missing)}")

    def _notification(self, channel: str, data: Any, recv_ns: int) -> list[Event]:
        kind, _, rest = channel.partition(".")
        where = f"{self.name} {channel}"
        if kind == "ticker":
            return self._ticker(mapping(data, where), where, recv_ns)
        if kind == "trades":
            return self._trades(listing(data, where), where, recv_ns)
        if kind == "deribit_volatility_index":
            return self._index_value(rest, "volatility", "dvol", mapping(data, where), where,
                                     recv_ns)
        if kind == "deribit_price_index":
            return self._index_value(rest, "price", "index", mapping(data, where), where,
                                     recv_ns)
        return []

    def _ticker(self, data: Mapping[str, Any], where: str, recv_ns: int) -> list[Event]:
        asset = self._by_instrument.get(str(data.get("instrument_name")))
        if asset is None:
            return []
        mark = number(data, "mark_price", where)
        values = {"mark": mark}
        put(values, "index", optional_number(data, "index_price"))
        put(values, "last", optional_number(data, "last_price"))
        rate = optional_number(data, "funding_8h")
        if rate is not None:
            values["funding_rate"] = rate
            values["funding_interval_hours"] = FUNDING_8H_INTERVAL_HOURS
        oi_usd = optional_number(data, "open_interest")  # USD on the inverse perpetual
        if oi_usd is not None:
            values["open_interest_usd"] = oi_usd
            if mark > 0:
                values["open_interest"] = oi_usd / mark
        return [TickUpdate(self.venue, asset, integer(data, "timestamp", where), values,
                           recv_ns)]

    def _index_value(self, index_name: str, key: str, field: str, data: Mapping[str, Any],
                     where: str, recv_ns: int) -> list[Event]:
        asset = self._by_index.get(str(data.get("index_name") or index_name))
        if asset is None:
            return []
        return [TickUpdate(self.venue, asset, integer(data, "timestamp", where),
                           {field: number(data, key, where)}, recv_ns)]

    def _trades(self, trades: list[Any], where: str, recv_ns: int) -> list[Event]:
        out: list[Event] = []
        for trade in trades:
            trade = mapping(trade, where)
            flag = trade.get("liquidation")
            if not flag:
                continue
            instrument = str(trade.get("instrument_name"))
            asset = self._by_instrument.get(instrument)
            if asset is None:
                continue
            direction = str(trade.get("direction"))
            if direction not in TAKER_SIDE or not set(str(flag)) <= {"M", "T"}:
                raise ValueError(f"{where}: cannot read direction {direction!r} with "
                                 f"liquidation {excerpt(repr(flag))}")
            price, usd = number(trade, "price", where), number(trade, "amount", where)
            if price <= 0:
                raise ValueError(f"{where}: trade price {price} is not positive")
            time_ms = integer(trade, "timestamp", where)
            sides = ([TAKER_SIDE[direction]] if "T" in str(flag) else []) + \
                    ([MAKER_SIDE[direction]] if "M" in str(flag) else [])
            for side in sides:
                out.append(Liquidation(
                    time_ms=time_ms, venue=self.venue, instrument=instrument, asset=asset,
                    side=side, qty=usd / price, price=price, usd=usd, price_kind=TRADE,
                    recv_ns=recv_ns))
        return out
