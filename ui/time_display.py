"""The one place times are turned into text for a trader: in UTC, local time or New York time.

Data stays UTC epoch milliseconds (docs/architecture.md, "Conventions"); only what is shown
follows the zone chosen in File → Settings. New York goes through zoneinfo, so daylight saving
is applied per instant (2026-03-08 07:00 UTC is 03:00 EDT, 06:00 UTC is 01:00 EST), never as one
fixed offset. Date axes, freshness lines, readouts and the status bar call `format_time` and
`zone_label`; they re-read them when `on_zone_changed` callbacks fire.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from models.preferences import DEFAULT_TIME_ZONE, TIME_ZONES

log = logging.getLogger(__name__)

_NEW_YORK = ZoneInfo("America/New_York")
_zone = DEFAULT_TIME_ZONE
_listeners: list[weakref.ref[Callable[[], None]]] = []


def zone_key() -> str:
    return _zone


def zone_label() -> str:
    """What titles call the zone: "UTC", "local", "New York"."""
    return TIME_ZONES[_zone]


def set_zone(key: str) -> None:
    """Show times in `key` ("utc", "local", "new_york") from now on; listeners redraw."""
    global _zone
    if key not in TIME_ZONES:
        raise ValueError(f"unknown time zone {key!r}")
    if key == _zone:
        return
    _zone = key
    for ref in list(_listeners):
        callback = ref()
        if callback is None:
            _listeners.remove(ref)
            continue
        try:
            callback()
        except RuntimeError:  # its Qt object was deleted: forget it
            log.debug("zone listener %r is gone", callback)
            _listeners.remove(ref)


def on_zone_changed(callback: Callable[[], None]) -> None:
    """Call `callback` (a bound method, held weakly) whenever the zone changes."""
    ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else weakref.ref(callback)
    _listeners.append(ref)  # type: ignore[arg-type]


def to_datetime(seconds: float) -> datetime:
    """The instant (epoch seconds) as an aware datetime in the display zone."""
    when = datetime.fromtimestamp(seconds, UTC)
    zone = _tz()
    return when.astimezone(zone) if zone is not None else when.astimezone()


def utc_offset_s(seconds: float) -> int:
    """The display zone's offset from UTC at that instant (seconds, east positive)."""
    offset = to_datetime(seconds).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def format_time(ms: int | None, fmt: str = "%H:%M", missing: str = "--:--") -> str:
    """Epoch milliseconds as `fmt` in the display zone."""
    if ms is None:
        return missing
    return to_datetime(ms / 1000).strftime(fmt)


def _tz() -> tzinfo | None:
    if _zone == "new_york":
        return _NEW_YORK
    if _zone == "utc":
        return UTC
    return None  # local: the system's zone, DST included
