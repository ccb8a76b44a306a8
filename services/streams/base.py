"""What every venue's stream protocol provides, and the helpers the parsers share (docs/streams.md).

A `VenueStream` is pure protocol: the URL, the frames that subscribe, the replies a frame asks
for, and the parse of one frame into normalised events (`models/stream_events.py`). It holds no
socket; the runner (`services/streams/runner.py`) owns the connection, keep-alive and reconnects.
No Qt, no pandas: the window's import path reaches these modules.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from models.stream_events import BarUpdate, Liquidation, TickUpdate

Event = BarUpdate | TickUpdate | Liquidation


class StreamRejected(Exception):
    """The venue refused a subscription; the message names what it refused and why."""


class StreamReconnect(Exception):
    """The venue asks for a fresh connection now (Binance serverShutdown, OKX notice 64008, a
    Bybit delta before its snapshot: reconnecting resubscribes and brings a new snapshot)."""


@runtime_checkable
class VenueStream(Protocol):
    name: str  # connection key, unique per stream
    venue: str  # models/venues.py key: status chips and REST gap-fill
    idle_ping_s: float  # send ping_frame after this much silence
    ping_frame: str | None  # None: protocol-level pings only
    max_lifetime_s: float | None  # reopen before the venue's own cut

    def url(self) -> str: ...

    def subscribe_frames(self) -> list[str]: ...

    def replies(self, raw: str | bytes) -> list[str]: ...

    def parse(self, raw: str | bytes, recv_ns: int) -> list[Event]: ...

    def reset(self) -> None: ...


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class StreamBase:
    """Shared defaults; a venue overrides what differs. `clock` stamps frames that carry no
    venue time (Hyperliquid): tests inject a fixed one."""

    name = ""
    venue = ""
    idle_ping_s: float = 0.0
    ping_frame: str | None = None
    max_lifetime_s: float | None = None

    def __init__(self, base_url: str, *, clock: Callable[[], int] = wall_ms) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock

    def url(self) -> str:
        return self.base_url

    def replies(self, raw: str | bytes) -> list[str]:
        return []

    def reset(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url()!r})"


# -- frame helpers ---------------------------------------------------------------------------
def text_of(raw: str | bytes) -> str:
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"frame is not UTF-8 text ({e.reason} at byte {e.start})") from None
    return raw


def load_object(raw: str | bytes, where: str) -> dict[str, Any]:
    """A frame that must be one JSON object, or a one-line ValueError saying what it was."""
    text = text_of(raw)
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{where}: frame is not JSON ({e.msg} at {e.pos}): "
                         f"{excerpt(text)}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}: "
                         f"{excerpt(text)}")
    return obj


def excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def number(row: Mapping[str, Any], key: str, where: str) -> float:
    """A required finite number (JSON number or numeric string)."""
    if not isinstance(row, dict) or key not in row:
        raise ValueError(f"{where}: missing {key!r} in {_shown(row)}")
    value = optional_number(row, key)
    if value is None:
        raise ValueError(f"{where}: {key!r} is not a number: {excerpt(repr(row[key]))}")
    return value


def optional_number(row: Mapping[str, Any], key: str) -> float | None:
    """A finite number, or None when absent, null, "" or not numeric (venues send "" for
    fields that do not apply, e.g. Bybit's fundingRate on a dated future)."""
    value = row.get(key) if isinstance(row, dict) else None
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def integer(row: Mapping[str, Any], key: str, where: str) -> int:
    return int(number(row, key, where))


def _shown(value: Any) -> str:
    return excerpt(json.dumps(value, default=str))


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {_shown(value)}")
    return value


def listing(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {_shown(value)}")
    return value


def put(values: dict[str, float], key: str, value: float | None) -> None:
    if value is not None:
        values[key] = value
