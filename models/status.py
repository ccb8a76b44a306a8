"""What each source is doing, as the status bar and the Sources panel show it."""

from __future__ import annotations

from dataclasses import dataclass, replace

OK = "ok"
UPDATING = "updating"
STALE = "stale"
ERROR = "error"
IDLE = "idle"
DEMO = "demo"

_SEVERITY = {OK: 0, DEMO: 0, IDLE: 1, UPDATING: 1, STALE: 2, ERROR: 3}


@dataclass(frozen=True)
class SourceStatus:
    """The state of one series: the last good data, the last failure, the next attempt."""

    series_id: str
    state: str = IDLE
    venue: str = ""
    last_good_ms: int | None = None  # when data last arrived (wall clock)
    data_last_ms: int | None = None  # the newest row's time
    last_error: str = ""
    error_kind: str = ""  # ServiceError.short: "timeout", "rate limited" …
    error_at_ms: int | None = None
    next_retry_ms: int | None = None
    failures: int = 0

    def evolve(self, **changes: object) -> SourceStatus:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def severity(self) -> int:
        return _SEVERITY.get(self.state, 0)


def worst(statuses: list[SourceStatus]) -> SourceStatus | None:
    return max(statuses, key=lambda s: s.severity, default=None)


def backoff_seconds(failures: int, poll_seconds: float, retry_after: float | None = None,
                    cap_seconds: float = 1800.0) -> float:
    """Wait before the next attempt: the venue's Retry-After if it gave one, else doubling
    from a quarter of the poll interval (15 s at least) up to half an hour."""
    if retry_after is not None:
        return max(1.0, float(retry_after))
    base = max(15.0, poll_seconds / 4)
    return min(cap_seconds, base * 2 ** max(0, failures - 1))
