"""When each watched series is refreshed next, and what state its source is in.

A pure state machine, no Qt and no clock of its own: the caller passes `now` (wall clock, epoch
ms) to every method, and `mono` (a monotonic clock, ms) where time is measured, so a test drives
it with fake clocks. Due times, venue holds and staleness are measured on `mono`, so a wall-clock
jump either way (NTP, a user setting the date, a suspend) neither freezes nor floods refreshing;
`now` only stamps what a status shows (last good, error, next retry). `mono` defaults to `now`.
It holds the one copy of every series' `SourceStatus`; the window's scheduler asks it on each
1 s tick which series are `due`, tells it when a refresh starts, succeeds or fails, and shows the
statuses it reports through `on_change`.

- After a failure: the venue's Retry-After if it gave one, else back-off doubling from a quarter
  of the poll interval (`models.status.backoff_seconds`); a permanent error (unknown symbol, bad
  request, region blocked, a bug) is retried hourly. The user's "refresh now" overrides both.
- A rate limit holds every series of that venue until its Retry-After has passed.
- A source whose last good data is older than `STALE_AFTER_POLLS` poll intervals is stale.
- The user's settings (`models/preferences.py`) replace a venue's poll interval for all its
  series (`set_cadence`, taking effect on the next due time) and switch venues off
  (`set_disabled`: their series are not refreshed and show OFF; the demo is unaffected).
- A stream-only series (`models.catalog.is_stream_only`: no key-less REST history, e.g. most
  venues' liquidations) is never due and never stale: it shows OK, "recorded from the stream",
  with the newest row the stream stored (`on_recorded`).
- With no cache and no network (three venues unreachable, none answering) the window falls back
  to the demo dataset rather than leave a trader staring at empty charts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from models.catalog import STREAM_ONLY_NOTE, SeriesSpec, is_stream_only
from models.preferences import Preferences, poll_seconds
from models.status import (
    UNREACHABLE,
    VENUE_ANSWERED,
    ErrorKind,
    SourceState,
    SourceStatus,
    backoff_seconds,
)
from services.errors import RateLimited, ServiceError

STALE_AFTER_POLLS = 3
PERMANENT_RETRY_SECONDS = 3600.0
#: unreachable venues (with nothing cached and nothing ever fetched) that mean "offline"
OFFLINE_VENUES = 3


@dataclass(frozen=True)
class RefreshRequest:
    """What a refresh that starts now should ask for."""

    series_id: str
    want_start_ms: int | None  # older rows the user scrolled back to (None: the default span)
    force: bool  # the user asked: fetch the newest bar even if it was fetched moments ago


class SourceTracker:
    def __init__(self, on_change: Callable[[SourceStatus], None] | None = None) -> None:
        self._on_change = on_change
        self._specs: dict[str, SeriesSpec] = {}
        self._asked_for: set[str] = set()  # added at run time, not fetched yet: first in line
        self._status: dict[str, SourceStatus] = {}
        self._due_ms: dict[str, int] = {}  # monotonic ms
        self._venue_hold_ms: dict[str, int] = {}  # monotonic ms
        self._last_good_mono: dict[str, int] = {}
        self._want_start: dict[str, int] = {}
        self._inflight: set[str] = set()
        self._started_seq: dict[str, int] = {}  # the order refreshes were started in
        self._started_count = 0
        self._history_pending: set[str] = set()  # older rows asked for while a job was running
        self._forced: set[str] = set()
        self._any_success = False
        #: the cache held data at start-up (then there is something to show: no demo fall-back)
        self.had_cache = False
        self.demo = False
        self.preferences = Preferences()
        #: series id -> the cadence while its market is open (Yahoo: ui/market_hours.py)
        self._session_cadence: dict[str, int] = {}

    def poll_seconds(self, spec: SeriesSpec) -> int:
        """The series' refresh cadence: the user's for its venue, else the one its market's
        session sets (open), else the catalog's."""
        own = self._session_cadence.get(spec.id, spec.poll_seconds)
        return poll_seconds(own, spec.source, self.preferences)

    def set_session_cadence(self, cadence: dict[str, int]) -> None:
        """Replace the open-market cadences (series id -> seconds; a series left out polls
        at the catalog's cadence again). A series whose cadence changed is next due at its
        last success plus the new interval, as for a changed preference."""
        before = {i: self.poll_seconds(s) for i, s in self._specs.items()}
        self._session_cadence = dict(cadence)
        for series_id, spec in self._specs.items():
            if (self.poll_seconds(spec) != before[series_id] and series_id in self._last_good_mono
                    and series_id not in self._inflight
                    and self._status[series_id].state in (SourceState.OK, SourceState.STALE)):
                self._due_ms[series_id] = (self._last_good_mono[series_id]
                                           + self.poll_seconds(spec) * 1000)

    def is_disabled(self, spec: SeriesSpec) -> bool:
        return spec.source in self.preferences.disabled_venues

    # -- reading ------------------------------------------------------------------------------
    def status(self, series_id: str) -> SourceStatus | None:
        return self._status.get(series_id)

    def statuses(self) -> dict[str, SourceStatus]:
        return dict(self._status)

    @property
    def watched(self) -> dict[str, SeriesSpec]:
        return dict(self._specs)

    def spec(self, series_id: str) -> SeriesSpec | None:
        return self._specs.get(series_id)

    @property
    def inflight(self) -> frozenset[str]:
        return frozenset(self._inflight)

    def due_at(self, series_id: str) -> int | None:
        """When the series is due, on the monotonic clock."""
        return self._due_ms.get(series_id)

    # -- start-up -----------------------------------------------------------------------------
    def watch(self, specs: Iterable[SeriesSpec]) -> None:
        """Keep these series fresh; each is updating until its cached data is published."""
        self._specs = {spec.id: spec for spec in specs}
        for spec in self._specs.values():
            self._set(SourceStatus(spec.id, SourceState.UPDATING, venue=spec.source))

    def watch_more(self, specs: Iterable[SeriesSpec]) -> list[str]:
        """Keep these too (a symbol the user added), the others as they are; returns the ids
        that were not watched yet, each updating until its cached data is published."""
        added = []
        for spec in specs:
            if spec.id not in self._specs:
                self._specs = {**self._specs, spec.id: spec}
                self._set(SourceStatus(spec.id, SourceState.UPDATING, venue=spec.source))
                self._asked_for.add(spec.id)
                added.append(spec.id)
        return added

    def unwatch(self, series_ids: Iterable[str]) -> None:
        """Stop keeping these fresh (a symbol the user removed); a refresh still running ends
        unheard."""
        gone = set(series_ids)
        self._specs = {i: s for i, s in self._specs.items() if i not in gone}
        for series_id in gone:
            self._due_ms.pop(series_id, None)
            self._asked_for.discard(series_id)

    def on_cached(self, series_id: str, data_last_ms: int | None, now: int, *,
                  mono: int | None = None) -> None:
        """The cache's rows (maybe none) are published: refresh from now on (live), or show
        them as the demo dataset."""
        if series_id not in self._specs:
            return
        if self.demo:
            self._set(SourceStatus(series_id, SourceState.DEMO, venue="demo",
                                   data_last_ms=data_last_ms, last_good_ms=now))
            return
        if self.is_disabled(self._specs[series_id]):
            self._set(SourceStatus(series_id, SourceState.OFF, venue=self._specs[series_id].source,
                                   data_last_ms=data_last_ms))
            self._due_ms[series_id] = now if mono is None else mono  # due once enabled
            return
        if is_stream_only(self._specs[series_id]):
            self._show_recorded(series_id, data_last_ms)
            return
        self._set(SourceStatus(series_id, SourceState.UPDATING,
                               venue=self._specs[series_id].source, data_last_ms=data_last_ms))
        self._due_ms[series_id] = now if mono is None else mono

    def on_recorded(self, series_id: str, data_last_ms: int | None) -> None:
        """A stream stored rows of a stream-only series (the window's stream bridge says so):
        its status shows the newest one."""
        spec = self._specs.get(series_id)
        if spec is None or self.demo or not is_stream_only(spec) or self.is_disabled(spec):
            return
        self._show_recorded(series_id, data_last_ms)

    def _show_recorded(self, series_id: str, data_last_ms: int | None) -> None:
        spec = self._specs[series_id]
        status = self._status.get(series_id) or SourceStatus(series_id)
        newest = max((t for t in (data_last_ms, status.data_last_ms) if t is not None),
                     default=None)
        self._due_ms.pop(series_id, None)  # never fetched: there is nothing to fetch
        self._set(status.evolve(state=SourceState.OK, venue=spec.source, data_last_ms=newest,
                                last_error="", error_kind=ErrorKind.NONE, failures=0,
                                next_retry_ms=None, note=STREAM_ONLY_NOTE))

    # -- the tick -----------------------------------------------------------------------------
    def mark_stale(self, now: int, *, mono: int | None = None) -> None:
        mono = now if mono is None else mono
        for series_id, status in list(self._status.items()):
            spec = self._specs.get(series_id)
            if spec is None or status.state != SourceState.OK or status.last_good_ms is None:
                continue
            good = self._last_good_mono.get(series_id)
            limit_ms = STALE_AFTER_POLLS * self.poll_seconds(spec) * 1000
            if good is not None and mono - good > limit_ms:
                self._set(status.evolve(state=SourceState.STALE))

    def due(self, now: int, max_running: int, *, mono: int | None = None,
            stalled_venues: Iterable[str] = ()) -> list[str]:
        """The series to refresh now, so that at most `max_running` refreshes run at once.

        A series whose venue is in `stalled_venues` (a job there ran past its deadline and is
        still running) waits: more requests to it would most likely stall too."""
        stalled = frozenset(stalled_venues)
        now = now if mono is None else mono  # due times and holds are monotonic
        slots = max_running - len(self._inflight)
        out: list[str] = []
        # The longest due first, and of those due alike (all, after "refresh now") the one
        # started longest ago: series late in the list are not starved by those early in it.
        # A series the user just added goes before those waiting longer: they asked for it.
        order = sorted(self._specs.items(), key=lambda item: (
            item[0] not in self._asked_for, self._due_ms.get(item[0], now + 1),
            self._started_seq.get(item[0], -1)))
        for series_id, spec in order:
            if len(out) >= slots:
                break
            if series_id in self._inflight or now < self._due_ms.get(series_id, now + 1):
                continue
            if spec.source in stalled or self.is_disabled(spec) or is_stream_only(spec):
                continue
            hold = self._venue_hold_ms.get(spec.source, 0)
            if now < hold:
                self._due_ms[series_id] = hold
                continue
            out.append(series_id)
        return out

    def on_started(self, series_id: str) -> RefreshRequest:
        self._inflight.add(series_id)
        self._asked_for.discard(series_id)
        self._started_count += 1
        self._started_seq[series_id] = self._started_count
        self._history_pending.discard(series_id)
        force = series_id in self._forced
        self._forced.discard(series_id)
        status = self._status.get(series_id) or SourceStatus(series_id)
        self._set(status.evolve(state=SourceState.UPDATING, next_retry_ms=None))
        return RefreshRequest(series_id, self._want_start.get(series_id), force)

    def on_success(self, series_id: str, now: int, *, venue: str = "",
                   data_last_ms: int | None = None, mono: int | None = None,
                   dropped: str = "") -> None:
        """A refresh worked; `dropped` says which rows it refused (kept until the next one)."""
        self._inflight.discard(series_id)
        spec = self._specs.get(series_id)
        if spec is None:
            return
        self._any_success = True
        status = self._status.get(series_id) or SourceStatus(series_id)
        self._set(status.evolve(
            state=SourceState.OK, venue=venue or spec.source, last_good_ms=now,
            data_last_ms=data_last_ms or status.data_last_ms, last_error="",
            error_kind=ErrorKind.NONE, failures=0, next_retry_ms=None, dropped=dropped))
        mono = now if mono is None else mono
        self._last_good_mono[series_id] = mono
        self._due_ms[series_id] = mono + self.poll_seconds(spec) * 1000
        if series_id in self._history_pending:
            self._due_ms[series_id] = mono  # the user scrolled back meanwhile
        self._show_off(series_id)

    def on_failure(self, series_id: str, error: ServiceError | None, now: int, *,
                   mono: int | None = None) -> None:
        self._inflight.discard(series_id)
        spec = self._specs.get(series_id)
        if spec is None:
            return
        status = self._status.get(series_id) or SourceStatus(series_id)
        failures = status.failures + 1
        # A venue's Retry-After, or the cache's own wait (seconds for a lock, minutes for a disk).
        retry_after = error.retry_after if error is not None else None
        if error is not None and not error.transient:
            wait_s = PERMANENT_RETRY_SECONDS  # retrying soon will not help; the user can force it
        else:
            wait_s = backoff_seconds(failures, self.poll_seconds(spec), retry_after)
        next_ms = now + int(wait_s * 1000)  # shown to the user: wall clock
        next_mono = (now if mono is None else mono) + int(wait_s * 1000)
        if isinstance(error, RateLimited) and error.venue:
            # A rate limit applies to the whole venue: hold its other series too.
            self._venue_hold_ms[spec.source] = next_mono
        self._due_ms[series_id] = next_mono
        self._set(status.evolve(
            state=SourceState.ERROR, last_error=str(error) if error else "unknown error",
            error_kind=error.kind if error else ErrorKind.ERROR, error_at_ms=now,
            next_retry_ms=next_ms, failures=failures))
        self._show_off(series_id)

    # -- the user -----------------------------------------------------------------------------
    def refresh_now(self, series_ids: Iterable[str] | None, now: int, *,
                    mono: int | None = None) -> None:
        """Due at once, and fetch the newest bar even if it was fetched moments ago."""
        for series_id in series_ids or list(self._specs):
            spec = self._specs.get(series_id)
            if spec is not None and is_stream_only(spec):
                continue  # nothing to fetch: the stream records it
            self._due_ms[series_id] = now if mono is None else mono
            self._forced.add(series_id)

    def want_history(self, series_id: str, start_ms: int, now: int, *,
                     mono: int | None = None) -> bool:
        """Older rows from `start_ms` on; True when that needs a refresh."""
        if series_id not in self._specs or self.demo:
            return False
        if start_ms >= self._want_start.get(series_id, start_ms + 1):
            return False
        self._want_start[series_id] = start_ms
        self._due_ms[series_id] = now if mono is None else mono
        if series_id in self._inflight:
            self._history_pending.add(series_id)
        return True

    def set_preferences(self, prefs: Preferences, now: int, *, mono: int | None = None) -> None:
        """Apply the user's settings at once: a changed cadence moves the next due time to the
        last success plus the new interval; a disabled venue's series show OFF; a re-enabled
        venue's series are due now."""
        mono = now if mono is None else mono
        old, self.preferences = self.preferences, prefs
        for series_id, spec in self._specs.items():
            was_off = spec.source in old.disabled_venues
            if self.demo:
                continue  # the demo is never refreshed; its statuses stay DEMO
            if self.is_disabled(spec):
                self._show_off(series_id)
            elif was_off and is_stream_only(spec):
                self._show_recorded(series_id, None)
            elif was_off:
                status = self._status.get(series_id) or SourceStatus(series_id)
                self._set(status.evolve(state=SourceState.UPDATING, next_retry_ms=None))
                self._due_ms[series_id] = mono
            elif (self.poll_seconds(spec) != poll_seconds(spec.poll_seconds, spec.source, old)
                  and series_id in self._last_good_mono and series_id not in self._inflight
                  and self._status[series_id].state in (SourceState.OK, SourceState.STALE)):
                self._due_ms[series_id] = (self._last_good_mono[series_id]
                                           + self.poll_seconds(spec) * 1000)

    def _show_off(self, series_id: str) -> None:
        spec = self._specs.get(series_id)
        status = self._status.get(series_id)
        if (spec is None or status is None or self.demo or not self.is_disabled(spec)
                or status.state == SourceState.OFF or series_id in self._inflight):
            return
        self._set(status.evolve(state=SourceState.OFF, next_retry_ms=None))

    # -- the demo fall-back -------------------------------------------------------------------
    def should_fall_back_to_demo(self) -> bool:
        """No cache and no network: nothing ever arrived and three venues were unreachable.

        Waiting for every series to fail too would keep a trader staring at empty charts for a
        minute; one venue that answered (even with an error) means the network is up.
        """
        if self.demo or self.had_cache or self._any_success:
            return False
        failed = [s for s in self._status.values() if s.state == SourceState.ERROR]
        if any(s.error_kind in VENUE_ANSWERED for s in failed):
            return False
        unreachable = {self._specs[s.series_id].source for s in failed
                       if s.series_id in self._specs and s.error_kind in UNREACHABLE}
        sources = {spec.source for spec in self._specs.values()}
        return len(unreachable) >= min(OFFLINE_VENUES, len(sources))

    # -----------------------------------------------------------------------------------------
    def _set(self, status: SourceStatus) -> None:
        self._status[status.series_id] = status
        if self._on_change is not None:
            self._on_change(status)
