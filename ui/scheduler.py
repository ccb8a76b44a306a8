"""The one road from the GUI to the services: glue between a 1 s tick, the job runner and the
source tracker.

- Start-up (`ui.startup`): open the cache and read what it has, in phases → panels paint at once
  → each series is due for a refresh once its cached rows are published.
- Each tick asks the tracker (`services.source_tracker`, pure) which series are due; retries,
  back-off, venue holds and staleness are its decisions, waits are this timer, never a sleeping
  worker.
- A refresh job merges the rows it fetched into the series it was handed (the last one
  published) and hands the merged series back with the index its tail starts at: no re-read of
  the cache.
- Jobs run through `ui.jobs.JobRunner` (latest request per key wins); `shutdown` stops the
  timer, asks running jobs to stop between pages, and waits (bounded).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from models.catalog import SeriesSpec, get_spec
from models.preferences import Preferences
from models.series import SeriesData, Snapshot
from models.status import SourceStatus
from services.app import AppServices
from services.errors import InternalError, NetworkTimeout
from services.refresh import RefreshResult, refresh_series
from services.source_tracker import SourceTracker
from services.storage import clear_series
from ui.jobs import MAX_ABANDONED, JobRunner
from ui.startup import (
    NEWEST_FIRST_PAUSE_MS,
    CachedPhase,
    Opened,
    StartupReader,
    read_cached_phase,
    read_newest_rows,
)

log = logging.getLogger(__name__)

MAX_REFRESH_JOBS = 3  # leave a thread for analytics jobs the user is waiting on
#: a refresh job still running after this is abandoned (reported as timed out, retried later)
#: and its slot freed: a trickling venue cannot hold every refresh slot
REFRESH_DEADLINE_S = 120.0


@dataclass(frozen=True)
class _Refreshed:
    result: RefreshResult
    data: SeriesData | None  # the series with the fetched rows merged in (None: unchanged)
    tail_from: int | None  # rows of the previous series before this index are unchanged
    snapshot: Snapshot | None


class _EitherEvent:
    """Set when the shared event (shutdown) or this job's own (abandoned) is."""

    def __init__(self, shared: threading.Event, own: threading.Event) -> None:
        self.shared, self.own = shared, own

    def is_set(self) -> bool:
        return self.shared.is_set() or self.own.is_set()


def _job_refresh(services: AppServices, spec: SeriesSpec, want_start_ms: int | None,
                 stop: _EitherEvent, progress: Callable[[str, float], None], force: bool,
                 held: SeriesData | None, now_ms: int | None = None) -> _Refreshed:
    """Fetch what the cache lacks, then merge the stored rows into `held` (the series last
    published). The cache is read back only when nothing was held, or when `held` is no longer
    what the cache holds (another process, e.g. `main.py refresh` from cron, wrote to it)."""
    assert services.sources is not None
    in_step = (not spec.is_snapshot and held is not None and len(held) > 0
               and services.cache.bounds(spec.id) == (held.first_ms, held.last_ms, len(held)))
    result = refresh_series(spec, services.cache, services.sources, want_start_ms=want_start_ms,
                            now=now_ms, progress=progress, should_stop=stop.is_set, force=force)
    if spec.is_snapshot:
        snap = services.cache.latest_snapshot(spec.id) if result.rows_added else None
        return _Refreshed(result, None, None, snap)
    if not in_step:
        data = services.cache.read(spec.id)
        return _Refreshed(result, data if len(data) else None, None, None)
    # Rows stored before a failure are merged too: the cache has them.
    if result.rows is None or not len(result.rows):
        return _Refreshed(result, None, None, None)
    assert held is not None
    merged, tail_from = held.merge_with_tail(result.rows)
    return _Refreshed(result, merged, tail_from, None)


class Scheduler(QObject):
    servicesReady = Signal(object)  # AppServices
    seriesChanged = Signal(str, object)  # series_id, SeriesData
    #: series_id, SeriesData, tail_from: rows before index `tail_from` are those of the series
    #: published before (only the forming bar and newer rows changed); None: all may differ
    seriesUpdated = Signal(str, object, object)
    snapshotChanged = Signal(str, object)  # series_id, Snapshot
    statusChanged = Signal(str, object)  # series_id, SourceStatus
    progressChanged = Signal(float)  # backfill progress 0..1; 1.0 when nothing is loading
    noticeRaised = Signal(str)  # a message for the user (cache reset, fell back to demo …)
    modeChanged = Signal(str)  # "live" or "demo"
    seriesCleared = Signal(str)  # series_id: its stored rows were deleted; a refetch follows
    _workerProgress = Signal(str, float)  # emitted on a worker: queued to the GUI thread

    def __init__(self, parent: QObject | None = None, *, tick_ms: int = 1000,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock  # stamps data and statuses
        self._monotonic = monotonic  # measures waits: a wall-clock jump does not move them
        self._fetch_clock: tuple[int, int] | None = None  # (wall, monotonic) ms last seen
        #: venue -> its abandoned refresh jobs still running (it gets no new ones meanwhile)
        self._stalled: dict[str, int] = {}
        self.services: AppServices | None = None
        self.demo = False
        self.jobs = JobRunner(self)
        self.jobs.jobFailed.connect(self.noticeRaised)
        #: every series' status, due time and venue hold: the one copy of source status
        self.tracker = SourceTracker(on_change=self._on_status)
        self._stop = threading.Event()
        self._startup = StartupReader(self.jobs, self._stop)
        self._published: dict[str, SeriesData] = {}  # what a refresh job merges into
        #: series id -> the newest row a stream brought (its forming bar)
        self._stream_last: dict[str, SeriesData] = {}
        #: True while a stream's rows are being published (ui/derived_feeds.py throttles them)
        self.publishing_stream = False
        self._late_ids: list[str] = []  # watched after start-up, their cache not read yet
        self._whole_ids: list[str] = []  # their newest rows handed over, the whole read next
        self._whole_timer = QTimer(self)
        self._whole_timer.setSingleShot(True)
        self._whole_timer.setInterval(NEWEST_FIRST_PAUSE_MS)
        self._whole_timer.timeout.connect(self._read_whole)
        self._progress: dict[str, float] = {}
        self._closing = False
        self._workerProgress.connect(self._on_progress)
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self._on_tick)

    # -- public API ---------------------------------------------------------------------------
    def now_ms(self) -> int:
        if self.services is not None and self.services.now_ms_override is not None:
            return self.services.now_ms_override
        return int(self._clock() * 1000)

    def mono_ms(self) -> int:
        return int(self._monotonic() * 1000)

    def fetch_now_ms(self) -> int:
        """The end of the ranges a refresh asks for: the wall clock, but never behind the wall
        time last seen plus the monotonic time since. After the wall clock jumps back a day,
        venues are still asked for their newest rows (not for rows up to yesterday: none)."""
        wall, mono = self.now_ms(), self.mono_ms()
        if self._fetch_clock is not None:
            seen_wall, seen_mono = self._fetch_clock
            wall = max(wall, seen_wall + (mono - seen_mono))
        self._fetch_clock = (wall, mono)
        return wall

    def start(self, series_ids: Iterable[str], *, demo: bool = False,
              first: Iterable[str] = (), hold_snapshots: bool = False) -> None:
        """Open the services on a worker, publish what the cache has, then keep it fresh.

        The `first` series (the chart in front) are read and published before the rest, so
        the first chart paints without waiting for every other dock's data. With
        `hold_snapshots`, cached snapshots are read only after `release_snapshots()`.
        """
        self.demo = demo
        watched = [get_spec(i) for i in series_ids]
        self.tracker.watch(watched)
        self._startup.start(demo, [s.id for s in watched], first,
                            hold_snapshots=hold_snapshots, on_phase=self._on_cached_phase)

    def go_live(self, series_ids: Iterable[str], *, first: Iterable[str] = ()) -> None:
        """Leave the demo without a restart: open the live services, publish what the live
        cache holds (`first` before the rest), then refresh from the network as at a start."""
        if not self.demo or self._closing:
            return
        demo_services, self.services = self.services, None  # no tick until the live ones open
        self.demo = False
        self.tracker.demo = False
        self.tracker.had_cache = False
        self._published.clear()
        self._progress.clear()
        self.tracker.watch([get_spec(i) for i in series_ids])  # every series: updating
        if demo_services is not None:  # closing SQLite is I/O: not on the GUI thread
            self.jobs.run("close-demo", demo_services.close, on_result=lambda _none: None)
        self._startup.start(False, list(self.tracker.watched), first, hold_snapshots=False,
                            on_phase=self._on_cached_phase)

    def watch_more(self, series_ids: Iterable[str]) -> None:
        """Keep these series fresh too (a symbol the user added): what the cache holds of them
        is read on a worker and published, then they refresh like the others."""
        added = self.tracker.watch_more([get_spec(i) for i in series_ids])
        if not added:
            return
        self._late_ids.extend(i for i in added if i not in self._late_ids)
        if self.services is not None:
            self._read_late()

    def unwatch(self, series_ids: Iterable[str]) -> None:
        """Stop refreshing these (a symbol the user removed)."""
        ids = list(series_ids)
        self.tracker.unwatch(ids)
        for series_id in ids:
            self._published.pop(series_id, None)
            self._stream_last.pop(series_id, None)
            self._progress.pop(series_id, None)
        self._late_ids = [i for i in self._late_ids if i not in ids]
        self._emit_progress()

    def _read_late(self) -> None:
        """The newest rows of long series first (ui/startup.py), then the whole of each."""
        ids, self._late_ids = tuple(self._late_ids), []
        services = self.services
        assert services is not None
        self.run(f"newest:{','.join(ids)}", read_newest_rows, services, ids,
                 on_result=lambda phase: self._on_newest_rows(phase, ids),
                 on_error=lambda exc: self._late_read_failed(ids, exc))

    def _on_newest_rows(self, phase: CachedPhase, ids: tuple[str, ...]) -> None:
        self._whole_ids.extend(i for i in ids if i not in self._whole_ids)
        if phase.series:
            self._on_late_read(phase)
            self._whole_timer.start()  # the paint of the newest rows goes first
        elif not self._whole_timer.isActive():
            self._read_whole()

    def _read_whole(self) -> None:
        ids, self._whole_ids = tuple(self._whole_ids), []
        services = self.services
        if not ids or services is None or self._closing:
            return
        self.run(f"cached:{','.join(ids)}", read_cached_phase, services, ids,
                 on_result=self._on_late_read,
                 on_error=lambda exc: self._late_read_failed(ids, exc))

    def _late_read_failed(self, ids: tuple[str, ...], exc: Exception) -> None:
        self.noticeRaised.emit(f"reading {', '.join(ids)} from the cache failed: {exc}")

    def _on_late_read(self, phase: CachedPhase) -> None:
        phase = CachedPhase({i: d for i, d in phase.series.items() if i in self.tracker.watched},
                            phase.snapshots,
                            frozenset(i for i in phase.ids if i in self.tracker.watched))
        self._publish_cached(phase)
        self._emit_progress()
        self._on_tick()

    @property
    def cache_read_done(self) -> bool:
        """Everything the cache held at start-up has been handed to the panels."""
        return self._startup.done

    def release_snapshots(self) -> None:
        """Let the start-up read the cached snapshots (the docks on screen have painted)."""
        self._startup.release_snapshots()

    @property
    def closing(self) -> bool:
        return self._closing

    def refresh_now(self, series_ids: Iterable[str] | None = None) -> None:
        """The user asked: fetch the newest bars now, even those fetched moments ago."""
        self.tracker.refresh_now(series_ids, self.now_ms(), mono=self.mono_ms())
        self._on_tick()

    def request_history(self, series_id: str, start_ms: int) -> None:
        """Load older rows (the user scrolled back): fetched if the cache lacks them."""
        if self.tracker.want_history(series_id, start_ms, self.now_ms(),
                                     mono=self.mono_ms()):
            self._on_tick()

    def apply_preferences(self, prefs: Preferences) -> None:
        """The user's cadences and enabled venues, in force from this tick on (no restart)."""
        self.tracker.set_preferences(prefs, self.now_ms(), mono=self.mono_ms())
        self._on_tick()

    def clear_cached_series(self, series_id: str,
                            on_done: Callable[[str | None], None]) -> None:
        """Delete the series' stored rows on a worker, then drop what the window holds and
        fetch it again; `on_done(None)` when done, `on_done(message)` when it failed."""
        if self.services is None or self.demo:
            on_done("the demo dataset is not cleared")
            return
        self.run(f"clear:{series_id}", clear_series, self.services.cache, series_id,
                 on_result=lambda _id: self._on_series_cleared(series_id, on_done),
                 on_error=lambda exc: on_done(f"{series_id}: {exc}"))

    def _on_series_cleared(self, series_id: str, on_done: Callable[[str | None], None]) -> None:
        self._published.pop(series_id, None)  # the next refresh reads the cache afresh
        self._stream_last.pop(series_id, None)
        self.seriesCleared.emit(series_id)
        if series_id in self.tracker.watched:
            self.refresh_now([series_id])
        on_done(None)

    def publish_stream_rows(self, series_id: str, rows: SeriesData) -> None:
        """Rows a stream brought (ui/streams.py): merged into the series last published and
        published the same way as a refresh's, with the index its tail starts at. The newest
        row is kept, so a refresh that re-reads the cache (which holds closed bars only) does
        not take the forming bar off the chart until the next stream message."""
        if not len(rows):
            return
        held = self._published.get(series_id)
        if held is None or not len(held):
            merged, tail_from = rows.normalized(), None
        else:
            merged, tail_from = held.merge_with_tail(rows)
        self._stream_last[series_id] = rows.between(rows.last_ms, None)
        self.publishing_stream = True  # read by the derived feeds during the signal
        try:
            self._publish_series(series_id, merged, tail_from)
        finally:
            self.publishing_stream = False

    def run(self, key: str, fn: Callable[..., Any], *args: Any,
            on_result: Callable[[Any], None],
            on_error: Callable[[Exception], None] | None = None) -> int:
        """Run `fn(*args)` on a worker; only the latest job per `key` delivers its result."""
        return self.jobs.run(key, fn, *args, on_result=on_result, on_error=on_error)

    def shutdown(self, msecs: int = 2000) -> bool:
        """Stop timers, ask jobs to stop, wait at most `msecs`; True when no worker is left."""
        self._closing = True
        self._timer.stop()
        self._whole_timer.stop()
        self._stop.set()  # refresh jobs stop between pages, the start-up reader between phases
        done = self.jobs.shutdown(msecs)
        if done and self.services is not None:
            self.services.close()
        return done

    # -- start-up -----------------------------------------------------------------------------
    def _on_cached_phase(self, phase: CachedPhase) -> None:
        if isinstance(phase, Opened):
            self._on_opened(phase)
            return
        # A series is refreshed only once its cached data is published (that makes it due): no
        # cache read can then arrive after, and overwrite, fresher data. So refreshing starts
        # with the series phase; the held snapshots join when their phase is read.
        self._publish_cached(phase)
        if not self.demo:
            if not self._timer.isActive():
                self._timer.start()
            self._on_tick()
        self._emit_progress()

    def _on_opened(self, opened: Opened) -> None:
        assert opened.services is not None
        self.services = opened.services
        self.demo = opened.services.demo
        self.tracker.demo = self.demo
        self.tracker.had_cache = opened.had_cache
        self.servicesReady.emit(opened.services)
        self.modeChanged.emit("demo" if self.demo else "live")
        for notice in opened.services.notices:
            self.noticeRaised.emit(notice)
        self._publish_cached(opened)
        if not opened.had_cache:
            self.release_snapshots()  # nothing cached to hold back: fetch them at once
        if self._late_ids:
            self._read_late()

    def _publish_cached(self, phase: CachedPhase) -> None:
        """Hand cached data to the panels; each series read becomes due (or demo)."""
        now, mono = self.now_ms(), self.mono_ms()
        for series_id, data in phase.series.items():
            self._publish_series(series_id, data, None)
        for series_id, snap in phase.snapshots.items():
            self.snapshotChanged.emit(series_id, snap)
        for series_id in phase.ids:
            data = phase.series.get(series_id)
            snap = phase.snapshots.get(series_id)
            last = data.last_ms if data is not None else (snap.time_ms if snap else None)
            self.tracker.on_cached(series_id, last, now, mono=mono)

    def _publish_series(self, series_id: str, data: SeriesData, tail_from: int | None) -> None:
        forming = self._stream_last.get(series_id)
        if forming is not None and len(data) and forming.last_ms > data.last_ms:  # type: ignore[operator]
            data, at = data.merge_with_tail(forming)
            tail_from = None if tail_from is None or at is None else min(tail_from, at)
        self._published[series_id] = data
        self.seriesChanged.emit(series_id, data)
        self.seriesUpdated.emit(series_id, data, tail_from)

    # -- the tick -----------------------------------------------------------------------------
    @Slot()
    def _on_tick(self) -> None:
        if self._closing or self.services is None or self.demo:
            return
        now, mono = self.now_ms(), self.mono_ms()
        self.tracker.mark_stale(now, mono=mono)
        # Abandoned jobs still hold a thread: a few may run beside new ones, not without bound.
        room = MAX_REFRESH_JOBS + MAX_ABANDONED - self.jobs.abandoned
        for series_id in self.tracker.due(now, min(MAX_REFRESH_JOBS, room), mono=mono,
                                          stalled_venues=self._stalled):
            spec = self.tracker.spec(series_id)
            assert spec is not None
            self._submit_refresh(spec)

    def _submit_refresh(self, spec: SeriesSpec) -> None:
        assert self.services is not None
        request = self.tracker.on_started(spec.id)
        off = self.tracker.preferences.disabled_venues
        if any(venue in off for venue, _symbol in spec.fallbacks):  # disabled: not asked either
            spec = replace(spec, fallbacks=tuple(f for f in spec.fallbacks if f[0] not in off))
        stop = _EitherEvent(self._stop, threading.Event())  # shutdown, or this job abandoned
        self.jobs.run(f"refresh:{spec.id}", _job_refresh, self.services, spec,
                      request.want_start_ms, stop, self._workerProgress.emit,
                      request.force, self._published.get(spec.id), self.fetch_now_ms(),
                      on_result=self._on_refreshed,
                      on_error=lambda exc, sid=spec.id: self._on_refresh_crashed(sid, exc),
                      deadline_s=REFRESH_DEADLINE_S,
                      on_timeout=lambda sid=spec.id: self._on_refresh_timed_out(sid, stop),
                      on_late=lambda venue=spec.source: self._on_stalled_job_returned(venue))

    @Slot(object)
    def _on_refreshed(self, out: _Refreshed) -> None:
        result = out.result
        series_id = result.series_id
        self._progress.pop(series_id, None)
        if self.demo:  # a live refresh that ended after the demo fall-back: the demo has no
            self._emit_progress()  # network, its chips must not say "network" (issue #13)
            return
        if out.data is not None and len(out.data):
            self._publish_series(series_id, out.data, out.tail_from)
        if out.snapshot is not None:
            self.snapshotChanged.emit(series_id, out.snapshot)
        now, mono = self.now_ms(), self.mono_ms()
        if result.ok:
            self.tracker.on_success(series_id, now, venue=result.venue,
                                    data_last_ms=result.last_ms, mono=mono,
                                    dropped=result.drop_summary)
        else:
            self.tracker.on_failure(series_id, result.error, now, mono=mono)
        self._emit_progress()
        self._maybe_fall_back_to_demo()

    def _on_refresh_timed_out(self, series_id: str, stop: _EitherEvent) -> None:
        """Past its deadline: report it, retry later; the worker stops at its next page."""
        stop.own.set()
        self._progress.pop(series_id, None)
        if self.demo:
            return
        spec = self.tracker.spec(series_id)
        if spec is not None:  # its venue gets no more jobs until this one returns
            self._stalled[spec.source] = self._stalled.get(spec.source, 0) + 1
        error = NetworkTimeout(f"timed out (refresh still running after {REFRESH_DEADLINE_S:g} s)",
                               venue=spec.source if spec else "")
        self.tracker.on_failure(series_id, error, self.now_ms(), mono=self.mono_ms())
        self._emit_progress()
        self._on_tick()  # its slot is free

    def _on_stalled_job_returned(self, venue: str) -> None:
        left = self._stalled.get(venue, 0) - 1
        if left > 0:
            self._stalled[venue] = left
        else:
            self._stalled.pop(venue, None)

    def _on_refresh_crashed(self, series_id: str, exc: Exception) -> None:
        """A bug, not a venue fault: keep the data, report, retry later."""
        self._progress.pop(series_id, None)
        if self.demo:
            log.warning("a live refresh of %s crashed after the demo fall-back: %s", series_id,
                        exc)
            return
        spec = self.tracker.spec(series_id)
        error = InternalError(f"internal error: {exc.__class__.__name__}: {exc}",
                              venue=spec.source if spec else "")
        self.tracker.on_failure(series_id, error, self.now_ms(), mono=self.mono_ms())
        self._emit_progress()
        self.noticeRaised.emit(f"{series_id}: internal error ({exc}); see the log")

    def _maybe_fall_back_to_demo(self) -> None:
        """No cache and no network: show the demo dataset (clearly labelled) instead of nothing."""
        if self._closing or not self.tracker.should_fall_back_to_demo():
            return
        log.warning("no cache and no network: switching to the demo dataset")
        self._timer.stop()
        self.noticeRaised.emit("No network and no cached data: showing Demo data (synthetic). "
                               "File → Go live loads live data when you are online.")
        self.demo = True  # no more ticks; the demo services arrive with the reader's first phase
        self.tracker.demo = True
        self._startup.start(True, list(self.tracker.watched), (), hold_snapshots=False,
                            on_phase=self._on_cached_phase)

    # -- status and progress ------------------------------------------------------------------
    def _on_status(self, status: SourceStatus) -> None:
        self.statusChanged.emit(status.series_id, status)

    @Slot(str, float)
    def _on_progress(self, series_id: str, fraction: float) -> None:
        if series_id in self.tracker.inflight:
            self._progress[series_id] = fraction
            self._emit_progress()

    def _emit_progress(self) -> None:
        loading = [self._progress.get(i, 0.0) for i in self.tracker.inflight]
        self.progressChanged.emit(1.0 if not loading else sum(loading) / len(loading))
