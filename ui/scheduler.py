"""The one road from the GUI to the services: every fetch, cache read and analytics job runs on a
worker of one bounded QThreadPool, and results come back by signal.

- Start-up: open the cache and read what it has (worker) → panels paint at once → refresh.
- A 1 s tick decides which series are due (poll interval, backoff after failures, a venue's
  Retry-After); waits are timers, never a sleeping worker.
- Latest request wins: each job carries a request id; a result whose id is no longer the latest
  for its key is dropped.
- `shutdown` stops the timers, asks running jobs to stop between pages, and waits (bounded).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from models.catalog import CATALOG, SeriesSpec
from models.series import MS_PER_DAY, SeriesData, Snapshot
from models.status import DEMO, ERROR, OK, STALE, UPDATING, SourceStatus, backoff_seconds
from services.app import AppServices, has_cached_data, open_demo, open_live
from services.errors import RateLimited, ServiceError
from services.refresh import RefreshResult, refresh_series

log = logging.getLogger(__name__)

MAX_THREADS = 4
MAX_REFRESH_JOBS = 3  # leave a thread for analytics jobs the user is waiting on


@dataclass(frozen=True)
class _Loaded:
    services: AppServices
    series: dict[str, SeriesData]
    snapshots: dict[str, Snapshot]
    had_cache: bool = False
    ids: frozenset[str] = frozenset()  # the series read (with or without cached data)


# Error kinds that only a venue that answered can produce.
_VENUE_ANSWERED = frozenset({"rate limited", "venue down", "bad data", "unknown symbol",
                             "bad request", "region blocked"})


@dataclass(frozen=True)
class _CachedPhase:
    series: dict[str, SeriesData]
    snapshots: dict[str, Snapshot]
    ids: frozenset[str]


def _job_open(demo: bool, first_ids: tuple[str, ...], rest_ids: tuple[str, ...],
              snapshots_go: threading.Event, stop: threading.Event
              ) -> Iterator[_Loaded | _CachedPhase]:
    """Open the services, then read the cache in phases, each handed over as soon as it is read:
    the chart in front, the other series, then (once `snapshots_go` is set) the snapshots.

    One worker for all phases: a phase queued as a new job would wait for the GUI thread to
    finish painting the previous one before it could even start.
    """
    services = open_demo() if demo else open_live()
    yield _Loaded(services, *_read_cached(services, first_ids),
                  had_cache=has_cached_data(services), ids=frozenset(first_ids))
    series_ids = tuple(i for i in rest_ids if not CATALOG[i].is_snapshot)
    yield _CachedPhase(*_read_cached(services, series_ids), frozenset(series_ids))
    # A snapshot is a pandas frame: its first read imports pandas, ~0.25 s that holds the GIL
    # in long stretches and would stall the docks painting their first data.
    while not snapshots_go.wait(0.05):
        if stop.is_set():
            return
    snapshot_ids = tuple(i for i in rest_ids if CATALOG[i].is_snapshot)
    yield _CachedPhase(*_read_cached(services, snapshot_ids), frozenset(snapshot_ids))


def _read_cached(services: AppServices, series_ids: Iterable[str]
                 ) -> tuple[dict[str, SeriesData], dict[str, Snapshot]]:
    series: dict[str, SeriesData] = {}
    snapshots: dict[str, Snapshot] = {}
    for series_id in series_ids:
        spec = CATALOG[series_id]
        if spec.is_snapshot:
            snap = services.cache.latest_snapshot(series_id)
            if snap is not None:
                snapshots[series_id] = snap
        else:
            data = services.cache.read(series_id)
            if len(data):
                series[series_id] = data
    return series, snapshots


@dataclass(frozen=True)
class _Refreshed:
    result: RefreshResult
    data: SeriesData | None
    snapshot: Snapshot | None


def _job_refresh(services: AppServices, spec: SeriesSpec, want_start_ms: int | None,
                 stop: threading.Event,
                 progress: Callable[[str, float], None], force: bool = False) -> _Refreshed:
    assert services.sources is not None
    result = refresh_series(spec, services.cache, services.sources, want_start_ms=want_start_ms,
                            progress=progress, should_stop=stop.is_set, force=force)
    if spec.is_snapshot:
        return _Refreshed(result, None, services.cache.latest_snapshot(spec.id))
    # Re-read after any fetch: the forming bar changes values without adding rows.
    data = services.cache.read(spec.id) if result.ok and result.requests else None
    return _Refreshed(result, data, None)


class _Relay(QObject):
    """Lives on the GUI thread; emitting from a worker queues the call to the GUI thread."""

    progress = Signal(str, float)
    item = Signal(int, object)  # request id, a value a generator job handed over
    done = Signal(int, object)  # request id, the job's result
    failed = Signal(int, object)  # request id, the exception it raised


@dataclass(frozen=True)
class _Job:
    key: str
    on_result: Callable[[Any], None]
    on_error: Callable[[Exception], None] | None
    on_item: Callable[[Any], None] | None


class Scheduler(QObject):
    servicesReady = Signal(object)  # AppServices
    seriesChanged = Signal(str, object)  # series_id, SeriesData
    snapshotChanged = Signal(str, object)  # series_id, Snapshot
    statusChanged = Signal(str, object)  # series_id, SourceStatus
    progressChanged = Signal(float)  # backfill progress 0..1; 1.0 when nothing is loading
    noticeRaised = Signal(str)  # a message for the user (cache reset, fell back to demo …)
    modeChanged = Signal(str)  # "live" or "demo"

    def __init__(self, parent: QObject | None = None, *, tick_ms: int = 1000,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(MAX_THREADS)
        self._clock = clock
        self.services: AppServices | None = None
        self.demo = False
        self._watched: dict[str, SeriesSpec] = {}
        self._status: dict[str, SourceStatus] = {}
        self._due_ms: dict[str, int] = {}
        self._venue_hold_ms: dict[str, int] = {}
        self._want_start: dict[str, int] = {}
        self._latest: dict[str, int] = {}
        self._inflight: set[str] = set()
        self._history_pending: set[str] = set()  # asked for older rows while a job was running
        self._forced: set[str] = set()  # the user asked for a refresh: ignore freshness
        self._progress: dict[str, float] = {}
        self._next_request = 0
        self._stop = threading.Event()
        self._snapshots_go = threading.Event()
        self._cache_phases_left = 3  # the open job's phases: front chart, series, snapshots
        self._closing = False
        self._had_cache = False
        self._any_success = False
        self._jobs: dict[int, _Job] = {}  # by request id, until its result is delivered
        self._relay = _Relay(self)
        self._relay.progress.connect(self._on_progress)
        self._relay.item.connect(self._on_job_item)
        self._relay.done.connect(self._on_job_done)
        self._relay.failed.connect(self._on_job_failed)
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self._on_tick)

    # -- public API ---------------------------------------------------------------------------
    def now_ms(self) -> int:
        if self.services is not None and self.services.now_ms_override is not None:
            return self.services.now_ms_override
        return int(self._clock() * 1000)

    def start(self, series_ids: Iterable[str], *, demo: bool = False,
              first: Iterable[str] = (), hold_snapshots: bool = False) -> None:
        """Open the services on a worker, publish what the cache has, then keep it fresh.

        The `first` series (the chart in front) are read and published before the rest, so
        the first chart paints without waiting for every other dock's data. With
        `hold_snapshots`, cached snapshots are read only after `release_snapshots()`.
        """
        self.demo = demo
        self._watched = {i: CATALOG[i] for i in series_ids}
        for series_id in self._watched:
            self._set_status(SourceStatus(series_id, UPDATING,
                                          venue=self._watched[series_id].source))
        first_ids = tuple(i for i in first if i in self._watched)
        rest_ids = tuple(i for i in self._watched if i not in first_ids)
        if not hold_snapshots:
            self._snapshots_go.set()
        self._open(demo, first_ids, rest_ids)

    @property
    def cache_read_done(self) -> bool:
        """Everything the cache held at start-up has been handed to the panels."""
        return self._cache_phases_left == 0

    def release_snapshots(self) -> None:
        """Let the start-up read the cached snapshots (the docks on screen have painted)."""
        self._snapshots_go.set()

    @property
    def closing(self) -> bool:
        return self._closing

    def status(self, series_id: str) -> SourceStatus | None:
        return self._status.get(series_id)

    def statuses(self) -> list[SourceStatus]:
        return list(self._status.values())

    def refresh_now(self, series_ids: Iterable[str] | None = None) -> None:
        """The user asked: fetch the newest bars now, even those fetched moments ago."""
        now = self.now_ms()
        for series_id in series_ids or list(self._watched):
            self._due_ms[series_id] = now
            self._forced.add(series_id)
        self._on_tick()

    def request_history(self, series_id: str, start_ms: int) -> None:
        """Load older rows (the user scrolled back): fetched if the cache lacks them."""
        if series_id not in self._watched or self.demo:
            return
        if start_ms >= self._want_start.get(series_id, start_ms + 1):
            return
        self._want_start[series_id] = start_ms
        self._due_ms[series_id] = self.now_ms()
        if series_id in self._inflight:
            self._history_pending.add(series_id)
        self._on_tick()

    def run(self, key: str, fn: Callable[..., Any], *args: Any,
            on_result: Callable[[Any], None],
            on_error: Callable[[Exception], None] | None = None) -> int:
        """Run `fn(*args)` on a worker; only the latest job per `key` delivers its result."""
        return self._run(key, fn, *args, on_result=on_result, on_error=on_error)

    def shutdown(self, msecs: int = 2000) -> bool:
        """Stop timers, ask jobs to stop, wait at most `msecs`; True when no worker is left."""
        self._closing = True
        self._timer.stop()
        self._stop.set()  # refresh jobs stop between pages
        done = QThreadPool.globalInstance().waitForDone(msecs)
        if done and self.services is not None:
            self.services.close()
        return done

    # -- workers ------------------------------------------------------------------------------
    def _run(self, key: str, fn: Callable[..., Any], *args: Any,
             on_result: Callable[[Any], None],
             on_error: Callable[[Exception], None] | None = None,
             on_item: Callable[[Any], None] | None = None) -> int:
        """`fn(*args)` on the pool; its result or exception comes back through the relay.
        With `on_item`, `fn` is a generator whose values are handed over as they come.

        A plain pool callable and two queued signals, rather than superqt's workers: importing
        superqt loads all of its widgets (~70 ms here, 10 % of the cold-start budget), and a
        worker emitting itself leaked references to None in the 10-minute soak run.
        """
        self._next_request += 1
        request_id = self._next_request
        self._latest[key] = request_id
        self._jobs[request_id] = _Job(key, on_result, on_error, on_item)
        relay = self._relay

        def job() -> None:
            try:
                if on_item is None:
                    value = fn(*args)
                else:
                    for value in fn(*args):
                        relay.item.emit(request_id, value)
                    value = None
            except Exception as exc:  # noqa: BLE001  (delivered on the GUI thread)
                relay.failed.emit(request_id, exc)
            else:
                relay.done.emit(request_id, value)

        QThreadPool.globalInstance().start(job)
        return request_id

    def _is_latest(self, request_id: int, job: _Job) -> bool:
        """False once closing, or when a newer request for the same key superseded this one."""
        return not self._closing and self._latest.get(job.key) == request_id

    @Slot(int, object)
    def _on_job_item(self, request_id: int, value: Any) -> None:
        job = self._jobs[request_id]
        if job.on_item is not None and self._is_latest(request_id, job):
            job.on_item(value)

    @Slot(int, object)
    def _on_job_done(self, request_id: int, value: Any) -> None:
        job = self._jobs.pop(request_id)
        if self._is_latest(request_id, job):
            job.on_result(value)

    @Slot(int, object)
    def _on_job_failed(self, request_id: int, exc: Exception) -> None:
        job = self._jobs.pop(request_id)
        if self._closing:
            return
        log.error("job %s failed", job.key, exc_info=exc)
        if job.on_error is not None and self._is_latest(request_id, job):
            job.on_error(exc)
        else:
            self.noticeRaised.emit(f"{job.key}: {exc.__class__.__name__}: {exc}")

    # -- start-up -----------------------------------------------------------------------------
    def _open(self, demo: bool, first_ids: tuple[str, ...], rest_ids: tuple[str, ...]) -> None:
        """The start-up reader (`_job_open`): one job handing each phase over as it is read; a
        newer start (the demo fall-back) supersedes an older one."""
        self._cache_phases_left = 3
        self._run("open", _job_open, demo, first_ids, rest_ids, self._snapshots_go, self._stop,
                  on_result=lambda _none: None, on_item=self._on_open_progress)

    def _on_opened(self, loaded: _Loaded) -> None:
        self.services = loaded.services
        self.demo = loaded.services.demo
        self._had_cache = loaded.had_cache
        self.servicesReady.emit(loaded.services)
        self.modeChanged.emit("demo" if self.demo else "live")
        for notice in loaded.services.notices:
            self.noticeRaised.emit(notice)
        self._publish_cached(loaded.series, loaded.snapshots, set(loaded.ids))
        if not loaded.had_cache:
            self._snapshots_go.set()  # nothing cached to hold back: fetch them at once

    def _on_open_progress(self, item: _Loaded | _CachedPhase) -> None:
        self._cache_phases_left = max(0, self._cache_phases_left - 1)
        if isinstance(item, _Loaded):
            self._on_opened(item)
            return
        # A series is refreshed only once its cached data is published (that sets it due): no
        # cache read can then arrive after, and overwrite, fresher data. So refreshing starts
        # with the series phase; the held snapshots join when their phase is read.
        self._publish_cached(item.series, item.snapshots, set(item.ids))
        if not self.demo:
            if not self._timer.isActive():
                self._timer.start()
            self._on_tick()
        self._emit_progress()

    def _publish_cached(self, series: dict[str, SeriesData], snapshots: dict[str, Snapshot],
                        ids: set[str]) -> None:
        """Hand cached data to the panels and set each series' status and first refresh."""
        now = self.now_ms()
        for series_id, data in series.items():
            self.seriesChanged.emit(series_id, data)
        for series_id, snap in snapshots.items():
            self.snapshotChanged.emit(series_id, snap)
        for series_id, spec in self._watched.items():
            if series_id not in ids:
                continue
            data = series.get(series_id)
            snap = snapshots.get(series_id)
            last = data.last_ms if data is not None else (snap.time_ms if snap else None)
            if self.demo:
                self._set_status(SourceStatus(series_id, DEMO, venue="demo", data_last_ms=last,
                                              last_good_ms=now))
                continue
            state = UPDATING
            self._set_status(SourceStatus(series_id, state, venue=spec.source,
                                          data_last_ms=last))
            self._due_ms[series_id] = now

    # -- the tick -----------------------------------------------------------------------------
    @Slot()
    def _on_tick(self) -> None:
        if self._closing or self.services is None or self.demo:
            return
        now = self.now_ms()
        self._mark_stale(now)
        jobs = len(self._inflight)
        for series_id, spec in self._watched.items():
            if jobs >= MAX_REFRESH_JOBS:
                break
            if series_id in self._inflight or now < self._due_ms.get(series_id, now + 1):
                continue
            if now < self._venue_hold_ms.get(spec.source, 0):
                self._due_ms[series_id] = self._venue_hold_ms[spec.source]
                continue
            self._submit_refresh(spec)
            jobs += 1

    def _submit_refresh(self, spec: SeriesSpec) -> None:
        assert self.services is not None
        self._inflight.add(spec.id)
        self._history_pending.discard(spec.id)
        force = spec.id in self._forced
        self._forced.discard(spec.id)
        status = self._status.get(spec.id) or SourceStatus(spec.id)
        self._set_status(status.evolve(state=UPDATING, next_retry_ms=None))
        self._run(f"refresh:{spec.id}", _job_refresh, self.services, spec,
                  self._want_start.get(spec.id), self._stop,
                  self._relay.progress.emit, force,
                  on_result=self._on_refreshed,
                  on_error=lambda exc, sid=spec.id: self._on_refresh_crashed(sid, exc))

    @Slot(object)
    def _on_refreshed(self, out: _Refreshed) -> None:
        result = out.result
        series_id = result.series_id
        spec = self._watched.get(series_id)
        self._inflight.discard(series_id)
        self._progress.pop(series_id, None)
        self._emit_progress()
        if spec is None:
            return
        if out.data is not None and len(out.data):
            self.seriesChanged.emit(series_id, out.data)
        if out.snapshot is not None and result.rows_added:
            self.snapshotChanged.emit(series_id, out.snapshot)
        now = self.now_ms()
        status = self._status.get(series_id) or SourceStatus(series_id)
        if result.ok:
            self._any_success = True
            self._set_status(status.evolve(
                state=OK, venue=result.venue or spec.source, last_good_ms=now,
                data_last_ms=result.last_ms or status.data_last_ms, last_error="",
                error_kind="", failures=0, next_retry_ms=None))
            self._due_ms[series_id] = now + spec.poll_seconds * 1000
            if series_id in self._history_pending:
                self._due_ms[series_id] = now  # the user scrolled back meanwhile
        else:
            self._on_failure(spec, status, result.error, now)
        self._maybe_fall_back_to_demo()

    def _on_failure(self, spec: SeriesSpec, status: SourceStatus, error: ServiceError | None,
                    now: int) -> None:
        failures = status.failures + 1
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        if error is not None and not error.transient:
            wait_s = 3600.0  # a permanent error: try again hourly, the user can force it
        else:
            wait_s = backoff_seconds(failures, spec.poll_seconds, retry_after)
        next_ms = now + int(wait_s * 1000)
        if isinstance(error, RateLimited) and error.venue:
            # A rate limit applies to the whole venue: hold its other series too.
            self._venue_hold_ms[spec.source] = next_ms
        self._due_ms[spec.id] = next_ms
        self._set_status(status.evolve(
            state=ERROR, last_error=str(error) if error else "unknown error",
            error_kind=error.short if error else "error", error_at_ms=now,
            next_retry_ms=next_ms, failures=failures))

    def _on_refresh_crashed(self, series_id: str, exc: Exception) -> None:
        """A bug, not a venue fault: keep the data, report, retry later."""
        self._inflight.discard(series_id)
        spec = self._watched[series_id]
        status = self._status.get(series_id) or SourceStatus(series_id)
        error = ServiceError(f"internal error: {exc.__class__.__name__}: {exc}", venue=spec.source)
        self._on_failure(spec, status, error, self.now_ms())
        self.noticeRaised.emit(f"{series_id}: internal error ({exc}); see the log")

    def _mark_stale(self, now: int) -> None:
        for series_id, status in list(self._status.items()):
            spec = self._watched.get(series_id)
            if spec is None or status.state != OK or status.last_good_ms is None:
                continue
            if now - status.last_good_ms > 3 * spec.poll_seconds * 1000:
                self._set_status(status.evolve(state=STALE))

    def _maybe_fall_back_to_demo(self) -> None:
        """No cache and no network: show the demo dataset (clearly labelled) instead of nothing."""
        if self.demo or self._had_cache or self._any_success or self._closing:
            return
        # Three venues unreachable and nothing ever arrived: waiting for every series to fail
        # too would keep a trader staring at empty charts for a minute.
        failed = [s for s in self._status.values() if s.state == ERROR]
        if any(s.error_kind in _VENUE_ANSWERED for s in failed):
            return  # some venue answered: the network is up
        venues = {self._watched[s.series_id].source for s in failed
                  if s.series_id in self._watched and s.error_kind in ("network", "timeout")}
        if len(venues) < min(3, len({spec.source for spec in self._watched.values()})):
            return
        log.warning("no cache and no network: switching to the demo dataset")
        self._timer.stop()
        self.noticeRaised.emit("No network and no cached data: showing Demo data (synthetic). "
                               "Restart Rotor when you are online to load live data.")
        self._snapshots_go.set()
        self._open(True, tuple(self._watched), ())

    # -- status and progress ------------------------------------------------------------------
    def _set_status(self, status: SourceStatus) -> None:
        self._status[status.series_id] = status
        self.statusChanged.emit(status.series_id, status)

    @Slot(str, float)
    def _on_progress(self, series_id: str, fraction: float) -> None:
        if series_id in self._inflight:
            self._progress[series_id] = fraction
            self._emit_progress()

    def _emit_progress(self) -> None:
        loading = [self._progress.get(i, 0.0) for i in self._inflight]
        self.progressChanged.emit(1.0 if not loading else sum(loading) / len(loading))

    def is_idle(self) -> bool:
        return not self._inflight and not self._jobs


def history_start_for(range_days: int, now_ms: int) -> int:
    return now_ms - range_days * MS_PER_DAY

