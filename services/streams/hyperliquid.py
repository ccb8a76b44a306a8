"""Hyperliquid `activeAssetCtx` per coin (docs/streams.md, Hyperliquid).

- One `{"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "BTC"}}` per
  coin; ack `{"channel": "subscriptionResponse"}`, refusal `{"channel": "error", "data": "..."}`.
- The first frame is plain text (`Websocket connection established.`), not JSON: ignored.
- The server closes a connection it has sent nothing on for 60 s: send `{"method":"ping"}` after
  20 s of silence; the answer is `{"channel": "pong"}`.
- ctx values arrive as STRINGS although the docs type them as numbers; `premium`, `midPx`,
  `impactPxs` may be null. `funding` is the HOURLY rate (interval 1), `openInterest` is in coin,
  `oraclePx` is the index. The frame carries no time: it is stamped on arrival (`clock`).
- No public liquidation feed exists (a user's own fills only): none is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from models.stream_events import TickUpdate
from services.streams.base import (
    Event,
    StreamBase,
    StreamRejected,
    excerpt,
    load_object,
    mapping,
    number,
    optional_number,
    put,
    text_of,
    wall_ms,
)

PING = json.dumps({"method": "ping"})
GREETING = "Websocket connection established."
FUNDING_INTERVAL_HOURS = 1.0


class HyperliquidStream(StreamBase):
    name = "hyperliquid"
    venue = "hyperliquid"
    idle_ping_s = 20.0
    ping_frame = PING

    def __init__(self, base_url: str, coins: Mapping[str, str], *,
                 clock: Callable[[], int] = wall_ms) -> None:
        super().__init__(base_url, clock=clock)
        self.coins = dict(coins)  # asset stem -> BTC
        self._assets = {c: a for a, c in self.coins.items()}

    def subscribe_frames(self) -> list[str]:
        return [json.dumps({"method": "subscribe",
                            "subscription": {"type": "activeAssetCtx", "coin": coin}})
                for coin in self.coins.values()]

    def parse(self, raw: str | bytes, recv_ns: int) -> list[Event]:
        text = text_of(raw)
        if text.strip() == GREETING:
            return []
        obj = load_object(text, self.name)
        channel = obj.get("channel")
        if channel == "error":
            raise StreamRejected(f"{self.name}: subscription refused: "
                                 f"{excerpt(str(obj.get('data')), 200)}")
        if channel != "activeAssetCtx":
            return []  # pong, subscriptionResponse, channels we did not ask for
        where = f"{self.name} activeAssetCtx"
        data = mapping(obj.get("data"), where)
        asset = self._assets.get(str(data.get("coin")))
        if asset is None:
            return []
        where = f"{where} {data.get('coin')}"
        ctx = mapping(data.get("ctx"), where)
        mark = number(ctx, "markPx", where)
        values = {"mark": mark}
        put(values, "index", optional_number(ctx, "oraclePx"))
        rate = optional_number(ctx, "funding")
        if rate is not None:
            values["funding_rate"] = rate  # per hour
            values["funding_interval_hours"] = FUNDING_INTERVAL_HOURS
        oi = optional_number(ctx, "openInterest")  # coin
        if oi is not None:
            values["open_interest"] = oi
            values["open_interest_usd"] = oi * mark  # as the REST snapshot values it
        return [TickUpdate(self.venue, asset, self.clock(), values, recv_ns)]
