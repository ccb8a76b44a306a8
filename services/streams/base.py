"""What a venue's stream protocol gives the runner (docs/streams.md, "Venue protocols")."""

from __future__ import annotations

from typing import Protocol

from models.stream_events import BarUpdate, Liquidation, TickUpdate


class StreamRejected(Exception):
    """The venue refused a subscription (the message says which)."""


class StreamReconnect(Exception):
    """The venue asks us to reconnect now (maintenance notice, state we cannot repair)."""


class VenueStream(Protocol):
    name: str
    venue: str
    idle_ping_s: float
    ping_frame: str | None
    max_lifetime_s: float | None

    def url(self) -> str: ...

    def subscribe_frames(self) -> list[str]: ...

    def replies(self, raw: str | bytes) -> list[str]: ...

    def parse(self, raw: str | bytes,
              recv_ns: int) -> list[BarUpdate | TickUpdate | Liquidation]: ...

    def reset(self) -> None: ...
