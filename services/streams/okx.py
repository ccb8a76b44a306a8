"""OKX v5 public: funding-rate, open-interest, mark-price, index-tickers, liquidation-orders
(docs/streams.md, OKX).

- One connection to `/ws/v5/public`, one subscribe frame `{"id", "op": "subscribe", "args": [...]}`
  (OKX allows 480 subscribe requests an hour per connection). Ack `{"event": "subscribe"}`,
  refusal `{"event": "error", "code", "msg"}`.
- Keep-alive is TEXT: send `ping` after < 30 s of silence, the answer is the text `pong`. OKX
  closes a connection that received nothing for 30 s (close 4004); funding-rate alone pushes only
  every 30-90 s. `{"event": "notice", "code": "64008"}` comes 60 s before a service upgrade cuts
  the connection: reconnect at once.
- funding-rate: `fundingRate` is the rate of the period settling at `fundingTime` (the NEXT
  settlement); the interval is `nextFundingTime - fundingTime` (OKX moves swaps between 8/4/2/1 h).
  next_funding_ms is `fundingTime`, as the REST snapshot stores it.
- open-interest: `oi` contracts, `oiCcy` coin, `oiUsd` USD: open_interest is `oiCcy`.
- mark-price: `markPx`; the index comes from index-tickers (`idxPx`, instId `BTC-USDT`).
- liquidation-orders is subscribed by instType (SWAP): every swap's orders arrive, filtered here to
  ours. `side` is the order side (`sell` closes a long); `posSide` long/short in hedge mode, `net`
  in one-way mode. `sz` is in contracts: × CONTRACT_VALUES. The docs warn the feed "doesn't
  represent the total number of liquidations".
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
    put,
    text_of,
    wall_ms,
)

PING = "ping"
PONG = "pong"
UPGRADE_NOTICE = "64008"
MS_PER_HOUR = 3_600_000
# Base coin per contract (`ctVal`) of the USDT-margined swaps, from OKX
# `GET /api/v5/public/instruments?instType=SWAP` (BTC-USDT-SWAP ctVal "0.01", ETH-USDT-SWAP "0.1",
# ctValCcy the coin). OKX has not changed them since the swaps listed; a swap missing here has no
# known size, so its liquidations are skipped rather than guessed.
CONTRACT_VALUES = {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1}
ORDER_SIDE_LIQUIDATED = {"sell": LONG, "buy": SHORT}  # the forced order's side
POSITION_SIDE = {"long": LONG, "short": SHORT}


def liquidated_side(detail: Mapping[str, Any]) -> str | None:
    """The liquidated side of a liquidation detail (stream and REST share the shape): `posSide`
    in hedge mode, else the forced order's side (`net`, one-way mode: a forced sell closes a
    long)."""
    side = POSITION_SIDE.get(str(detail.get("posSide", "")).lower())
    return side or ORDER_SIDE_LIQUIDATED.get(str(detail.get("side", "")).lower())


def index_inst_id(swap: str) -> str:
    """BTC-USDT-SWAP → BTC-USDT, the index the swap's mark follows."""
    return swap.removesuffix("-SWAP")


class OkxStream(StreamBase):
    name = "okx"
    venue = "okx"
    idle_ping_s = 20.0
    ping_frame = PING

    def __init__(self, base_url: str, symbols: Mapping[str, str], *,
                 contract_values: Mapping[str, float] | None = None,
                 clock: Callable[[], int] = wall_ms) -> None:
        super().__init__(base_url, clock=clock)
        self.symbols = dict(symbols)  # asset stem -> BTC-USDT-SWAP
        self.contract_values = dict(CONTRACT_VALUES if contract_values is None
                                    else contract_values)
        self._assets = {s: a for a, s in self.symbols.items()}
        self._index_assets = {index_inst_id(s): a for a, s in self.symbols.items()}

    def args(self) -> list[dict[str, str]]:
        out = []
        for swap in self.symbols.values():
            out += [{"channel": "funding-rate", "instId": swap},
                    {"channel": "open-interest", "instId": swap},
                    {"channel": "mark-price", "instId": swap},
                    {"channel": "index-tickers", "instId": index_inst_id(swap)}]
        out.append({"channel": "liquidation-orders", "instType": "SWAP"})
        return out

    def subscribe_frames(self) -> list[str]:
        return [json.dumps({"id": "rotor1", "op": "subscribe", "args": self.args()})]

    def parse(self, raw: str | bytes, recv_ns: int) -> list[Event]:
        if text_of(raw).strip() == PONG:
            return []
        obj = load_object(raw, self.name)
        if "event" in obj:
            self._event(obj)
            return []
        arg = obj.get("arg")
        if not isinstance(arg, Mapping) or "data" not in obj:
            return []
        channel = arg.get("channel")
        where = f"{self.name} {channel} {arg.get('instId') or arg.get('instType') or ''}".strip()
        rows = listing(obj["data"], where)
        handler = {"funding-rate": self._funding, "open-interest": self._open_interest,
                   "mark-price": self._mark, "index-tickers": self._index,
                   "liquidation-orders": self._liquidations}.get(str(channel))
        if handler is None:
            return []
        out: list[Event] = []
        for row in rows:
            out += handler(mapping(row, where), where, recv_ns)
        return out

    def _event(self, obj: Mapping[str, Any]) -> None:
        event, code = obj.get("event"), str(obj.get("code", ""))
        if event == "error":
            raise StreamRejected(f"{self.name}: subscription refused: error {code}: "
                                 f"{excerpt(str(obj.get('msg')), 200)}")
        if event == "notice" and code == UPGRADE_NOTICE:
            raise StreamReconnect(f"{self.name}: notice {code} (service upgrade in 60 s): "
                                  "reconnecting")

    def _tick(self, asset: str, row: Mapping[str, Any], where: str, values: dict[str, float],
              recv_ns: int) -> list[Event]:
        if not values:
            return []
        return [TickUpdate(self.venue, asset, integer(row, "ts", where), values, recv_ns)]

    def _funding(self, row: Mapping[str, Any], where: str, recv_ns: int) -> list[Event]:
        asset = self._assets.get(str(row.get("instId")))
        if asset is None:
            return []
        values = {"funding_rate": number(row, "fundingRate", where)}
        this, following = optional_number(row, "fundingTime"), optional_number(row,
                                                                              "nextFundingTime")
        put(values, "next_funding_ms", this)
        if this is not None and following is not None and 0 < following - this <= 24 * MS_PER_HOUR:
            values["funding_interval_hours"] = (following - this) / MS_PER_HOUR
        return self._tick(asset, row, where, values, recv_ns)

    def _open_interest(self, row: Mapping[str, Any], where: str, recv_ns: int) -> list[Event]:
        asset = self._assets.get(str(row.get("instId")))
        if asset is None:
            return []
        values: dict[str, float] = {}
        put(values, "open_interest", optional_number(row, "oiCcy"))  # coin (`oi` is contracts)
        put(values, "open_interest_usd", optional_number(row, "oiUsd"))
        return self._tick(asset, row, where, values, recv_ns)

    def _mark(self, row: Mapping[str, Any], where: str, recv_ns: int) -> list[Event]:
        asset = self._assets.get(str(row.get("instId")))
        if asset is None:
            return []
        return self._tick(asset, row, where, {"mark": number(row, "markPx", where)}, recv_ns)

    def _index(self, row: Mapping[str, Any], where: str, recv_ns: int) -> list[Event]:
        asset = self._index_assets.get(str(row.get("instId")))
        if asset is None:
            return []
        return self._tick(asset, row, where, {"index": number(row, "idxPx", where)}, recv_ns)

    def _liquidations(self, row: Mapping[str, Any], where: str, recv_ns: int) -> list[Event]:
        instrument = str(row.get("instId"))
        asset = self._assets.get(instrument)
        ct_val = self.contract_values.get(instrument)
        if asset is None or ct_val is None:
            return []
        out: list[Event] = []
        for detail in listing(row.get("details"), f"{where} {instrument}"):
            detail = mapping(detail, where)
            side = liquidated_side(detail)
            if side is None:
                raise ValueError(f"{where} {instrument}: no side in "
                                 f"{excerpt(json.dumps(detail, default=str))}")
            qty = number(detail, "sz", where) * ct_val
            price = number(detail, "bkPx", where)
            out.append(Liquidation(
                time_ms=integer(detail, "ts", where), venue=self.venue, instrument=instrument,
                asset=asset, side=side, qty=qty, price=price, usd=qty * price,
                price_kind=BANKRUPTCY, recv_ns=recv_ns))
        return out
