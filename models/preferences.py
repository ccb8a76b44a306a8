"""What a trader sets in File → Settings, and which values are refused.

Pure data and checks, no Qt: the dialog (`ui/settings_dialog.py`) shows the messages these
functions raise and stores nothing when one is raised; the settings file is read back through
the same checks, so a hand-edited bad value falls back to its default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from models.catalog import CATALOG
from models.venues import VENUES

#: refresh cadence bounds for any venue: faster than 10 s hammers public APIs for bars that
#: change once a minute; slower than a day is not "keeping fresh"
MIN_CADENCE_S = 10
MAX_CADENCE_S = 24 * 3600
#: venues whose documented limits ask for a slower floor (docs/venues.md): Binance USD-M's
#: funding history shares 500 requests / 5 min per IP; Yahoo's chart API and Volmex are
#: undocumented, key-less APIs polled gently
VENUE_MIN_CADENCE_S: Mapping[str, int] = {"binance_futures": 30, "yahoo": 60, "volmex": 60}

#: display time zones: key -> what axis titles and time stamps call it
TIME_ZONES: Mapping[str, str] = {"utc": "UTC", "local": "local", "new_york": "New York"}
DEFAULT_TIME_ZONE = "utc"

_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}
_DURATION = re.compile(r"\s*(\d{1,6})\s*(s|m|min|h|)\s*", re.IGNORECASE)


class PreferenceError(ValueError):
    """A value the user entered that Rotor will not store; its message says why."""


def venue_name(key: str) -> str:
    """A venue's label, told apart where two registry rows share one (Binance spot/futures)."""
    for venue in VENUES:
        if venue.key == key:
            same = [v for v in VENUES if v.label == venue.label]
            if len(same) > 1:
                return f"{venue.label} {'futures' if key.endswith('futures') else 'spot'}"
            return venue.label
    return key


def polled_venues() -> tuple[str, ...]:
    """Venues that are some stored series' primary source (those a cadence applies to), in
    registry order."""
    sources = {spec.source for spec in CATALOG.values()}
    return tuple(v.key for v in VENUES if v.key in sources)


def all_venues() -> tuple[str, ...]:
    return tuple(v.key for v in VENUES)


def min_cadence_s(venue: str) -> int:
    return max(MIN_CADENCE_S, VENUE_MIN_CADENCE_S.get(venue, MIN_CADENCE_S))


def parse_cadence(venue: str, text: str) -> int | None:
    """Seconds from "90", "90 s", "5m", "1h"; None for "" (the catalog's own cadence).

    Raises PreferenceError with a message a trader can act on."""
    if not text.strip():
        return None
    match = _DURATION.fullmatch(text)
    if match is None:
        raise PreferenceError(f"{venue_name(venue)}: {text.strip()!r} is not a duration "
                              "(write e.g. 30 s, 5 m or 1 h)")
    seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
    return check_cadence(venue, seconds)


def check_cadence(venue: str, seconds: int) -> int:
    floor = min_cadence_s(venue)
    if seconds < floor:
        why = " (its rate limit)" if floor > MIN_CADENCE_S else ""
        raise PreferenceError(f"{venue_name(venue)}: refresh every {seconds} s is too fast; "
                              f"at least {floor} s{why}")
    if seconds > MAX_CADENCE_S:
        raise PreferenceError(f"{venue_name(venue)}: refresh every {seconds} s is too slow; "
                              f"at most {MAX_CADENCE_S} s (24 h)")
    return seconds


def format_cadence(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} m"
    return f"{seconds} s"


def default_cadences(venue: str) -> tuple[int, ...]:
    """The catalog's poll intervals of the venue's series, fastest first."""
    return tuple(sorted({s.poll_seconds for s in CATALOG.values() if s.source == venue}))


@dataclass(frozen=True)
class Preferences:
    time_zone: str = DEFAULT_TIME_ZONE
    #: venue key -> refresh cadence in seconds, replacing the catalog's for all its series
    cadence_s: Mapping[str, int] = field(default_factory=dict)
    disabled_venues: frozenset[str] = frozenset()


def checked(time_zone: str, cadence_s: Mapping[str, int],
            disabled_venues: Iterable[str]) -> Preferences:
    """Preferences from parts, or PreferenceError naming the first bad value."""
    if time_zone not in TIME_ZONES:
        raise PreferenceError(f"unknown time zone {time_zone!r} "
                              f"(one of {', '.join(TIME_ZONES)})")
    known = set(all_venues())
    for venue, seconds in cadence_s.items():
        if venue not in polled_venues():
            raise PreferenceError(f"no series is refreshed from {venue!r}")
        check_cadence(venue, seconds)
    disabled = frozenset(disabled_venues)
    unknown = sorted(disabled - known)
    if unknown:
        raise PreferenceError(f"unknown venue {unknown[0]!r}")
    return Preferences(time_zone, dict(cadence_s), disabled)


def poll_seconds(spec_poll_seconds: int, venue: str, prefs: Preferences) -> int:
    """A series' refresh cadence: the venue's override if set, else the catalog's."""
    return prefs.cadence_s.get(venue, spec_poll_seconds)
