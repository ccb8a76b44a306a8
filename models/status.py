"""What each source is doing: typed states and error kinds, and the one table of their words.

Code compares `SourceState` and `ErrorKind` members; only the status bar and the Sources panel
turn them into text, through `STATE_TEXT` and `ERROR_TEXT`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class SourceState(StrEnum):
    OK = "ok"
    UPDATING = "updating"
    STALE = "stale"
    ERROR = "error"
    IDLE = "idle"
    DEMO = "demo"
    OFF = "off"  # its venue is disabled in File → Settings: not refreshed


class ErrorKind(StrEnum):
    """Why a refresh failed, one per `services.errors` class."""

    NONE = "none"
    ERROR = "error"  # a service error of no finer kind
    NETWORK = "network"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    VENUE_DOWN = "venue_down"
    BAD_DATA = "bad_data"
    UNKNOWN_SYMBOL = "unknown_symbol"
    BAD_REQUEST = "bad_request"
    REGION_BLOCKED = "region_blocked"
    INSECURE_URL = "insecure_url"
    INTERNAL = "internal"  # a bug in Rotor, not a venue fault
    DISK = "disk"  # the cache's disk is full or failing: nothing could be stored
    READ_ONLY = "read_only"  # the data folder cannot be written
    CACHE_BUSY = "cache_busy"  # another process holds the cache's write lock
    UNSAFE_FILE = "unsafe_file"  # a symlink where the cache or the log should be


STATE_TEXT: dict[SourceState, str] = {
    SourceState.OK: "ok",
    SourceState.UPDATING: "updating",
    SourceState.STALE: "stale",
    SourceState.ERROR: "error",
    SourceState.IDLE: "idle",
    SourceState.DEMO: "demo",
    SourceState.OFF: "off",
}

ERROR_TEXT: dict[ErrorKind, str] = {
    ErrorKind.NONE: "",
    ErrorKind.ERROR: "error",
    ErrorKind.NETWORK: "network",
    ErrorKind.TIMEOUT: "timeout",
    ErrorKind.RATE_LIMITED: "rate limited",
    ErrorKind.VENUE_DOWN: "venue down",
    ErrorKind.BAD_DATA: "bad data",
    ErrorKind.UNKNOWN_SYMBOL: "unknown symbol",
    ErrorKind.BAD_REQUEST: "bad request",
    ErrorKind.REGION_BLOCKED: "region blocked",
    ErrorKind.INSECURE_URL: "insecure URL",
    ErrorKind.INTERNAL: "internal error",
    ErrorKind.DISK: "disk full or failing",
    ErrorKind.READ_ONLY: "data folder read-only",
    ErrorKind.CACHE_BUSY: "cache busy",
    ErrorKind.UNSAFE_FILE: "unsafe file",
}

#: Kinds only a venue that answered can produce: the network is up.
VENUE_ANSWERED = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.VENUE_DOWN, ErrorKind.BAD_DATA,
                            ErrorKind.UNKNOWN_SYMBOL, ErrorKind.BAD_REQUEST,
                            ErrorKind.REGION_BLOCKED})
#: Kinds that say the venue could not be reached at all.
UNREACHABLE = frozenset({ErrorKind.NETWORK, ErrorKind.TIMEOUT})

# OFF is below OK: a venue chip shared by a disabled and a live registry row shows the live one.
_SEVERITY = {SourceState.OFF: -1, SourceState.OK: 0, SourceState.DEMO: 0, SourceState.IDLE: 1,
             SourceState.UPDATING: 1, SourceState.STALE: 2, SourceState.ERROR: 3}


@dataclass(frozen=True)
class SourceStatus:
    """The state of one series: the last good data, the last failure, the next attempt."""

    series_id: str
    state: SourceState = SourceState.IDLE
    venue: str = ""
    last_good_ms: int | None = None  # when data last arrived (wall clock)
    data_last_ms: int | None = None  # the newest row's time
    last_error: str = ""
    error_kind: ErrorKind = ErrorKind.NONE
    error_at_ms: int | None = None
    next_retry_ms: int | None = None
    failures: int = 0
    #: what the last good refresh refused ("3 dropped: 1 future time, …"); empty when nothing
    dropped: str = ""
    #: a word on a state that needs one ("recorded from the stream": never fetched, not late)
    note: str = ""

    def evolve(self, **changes: object) -> SourceStatus:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def error_words(self) -> str:
        """The cause of the last failure in words ("error" when it had no finer kind)."""
        return ERROR_TEXT[self.error_kind] or ERROR_TEXT[ErrorKind.ERROR]

    @property
    def severity(self) -> int:
        return state_severity(self.state)


def state_severity(state: SourceState) -> int:
    """How bad a state is, to pick the worst of several (off < ok = demo < … < error)."""
    return _SEVERITY[state]


def backoff_seconds(failures: int, poll_seconds: float, retry_after: float | None = None,
                    cap_seconds: float = 1800.0) -> float:
    """Wait before the next attempt: the venue's Retry-After if it gave one, else doubling
    from a quarter of the poll interval (15 s at least) up to half an hour."""
    if retry_after is not None:
        return max(1.0, float(retry_after))
    base = max(15.0, poll_seconds / 4)
    return min(cap_seconds, base * 2 ** max(0, failures - 1))
