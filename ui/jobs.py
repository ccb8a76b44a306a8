"""Jobs on worker threads, results on the GUI thread: the one way the window runs work off it.

Every job is a plain callable on one bounded `QThreadPool`; its result (or exception) comes back
through a relay `QObject` living on the GUI thread, whose signals a worker emits (so Qt queues
them). Each job carries a request id of this runner; a newer job under the same key supersedes
it, and a superseded job's result is dropped: the latest request wins. A generator job hands
each value it yields over as it comes (`on_item`).

Why not superqt's workers: importing superqt loads all of its widgets (~70 ms here, 10 % of
the cold-start budget), and a worker emitting itself through a queued signal leaked references
to `None` in the 10-minute soak run (~2 per job; this runner: 0).

A job may have a deadline. A worker thread cannot be killed, so a job past its deadline is
abandoned instead: `on_timeout` reports it, its late result is dropped, and the pool grows by one
thread while it still runs (at most `MAX_ABANDONED` of them), so stuck jobs (a trickling venue)
cannot hold every thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from services.errors import ServiceError

log = logging.getLogger(__name__)

MAX_THREADS = 4
#: abandoned jobs still running that get a thread of their own beyond `MAX_THREADS`
MAX_ABANDONED = 2


class _Relay(QObject):
    """Lives on the GUI thread; emitting from a worker queues the call to the GUI thread."""

    item = Signal(int, object)  # request id, a value a generator job handed over
    done = Signal(int, object)  # request id, the job's result
    failed = Signal(int, object)  # request id, the exception it raised


@dataclass(frozen=True)
class _Job:
    key: str
    on_result: Callable[[Any], None]
    on_error: Callable[[Exception], None] | None
    on_item: Callable[[Any], None] | None
    on_timeout: Callable[[], None] | None = None
    on_late: Callable[[], None] | None = None  # an abandoned job returned at last


class JobRunner(QObject):
    #: a job without `on_error` raised: a message for the user (the traceback goes to the log)
    jobFailed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool.globalInstance()
        self._pool.setMaxThreadCount(MAX_THREADS)
        self._next_request = 0
        self._latest: dict[str, int] = {}
        self._jobs: dict[int, _Job] = {}  # by request id, until its result is delivered
        self._abandoned: set[int] = set()  # past their deadline, still running
        self._deadlines: dict[int, float] = {}  # request id -> time.monotonic() deadline
        self._deadline_timer = QTimer(self)
        self._deadline_timer.timeout.connect(self._check_deadlines)
        self._closing = False
        self._relay = _Relay(self)
        self._relay.item.connect(self._on_item)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)

    @property
    def pending(self) -> int:
        """Jobs submitted whose result has not been delivered (or dropped) yet."""
        return len(self._jobs)

    @property
    def closing(self) -> bool:
        return self._closing

    def outstanding(self, request_id: int) -> bool:
        """The job was submitted and its result (or failure) not handled yet."""
        return request_id in self._jobs

    @property
    def abandoned(self) -> int:
        """Jobs past their deadline whose worker has not returned yet."""
        return len(self._abandoned)

    def run(self, key: str, fn: Callable[..., Any], *args: Any,
            on_result: Callable[[Any], None],
            on_error: Callable[[Exception], None] | None = None,
            on_item: Callable[[Any], None] | None = None,
            deadline_s: float | None = None,
            on_timeout: Callable[[], None] | None = None,
            on_late: Callable[[], None] | None = None) -> int:
        """`fn(*args)` on a worker; only the latest job per `key` delivers. With `on_item`, `fn`
        is a generator whose values are handed over as they come (then `on_result(None)`).
        Past `deadline_s` the job is abandoned: `on_timeout()` is called, and `on_late()` when
        its worker returns at last; its result is dropped."""
        self._next_request += 1
        request_id = self._next_request
        self._latest[key] = request_id
        self._jobs[request_id] = _Job(key, on_result, on_error, on_item, on_timeout, on_late)
        if deadline_s is not None:
            # One checking timer for every deadline: a single-shot timer per job with a Python
            # callable leaked 3 references to None a job (PySide6 6.11).
            self._deadlines[request_id] = time.monotonic() + deadline_s
            check_ms = max(10, min(1000, int(deadline_s * 250)))
            if not self._deadline_timer.isActive() or self._deadline_timer.interval() > check_ms:
                self._deadline_timer.start(check_ms)
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

        self._pool.start(job)
        return request_id

    def shutdown(self, msecs: int) -> bool:
        """Deliver nothing more; wait at most `msecs` for running jobs. True when none is left.

        Jobs that loop (a backfill, the start-up reader) must watch their own stop event."""
        self._closing = True
        self._deadline_timer.stop()
        return self._pool.waitForDone(msecs)

    # -- delivery (GUI thread) ------------------------------------------------------------------
    def _is_latest(self, request_id: int, job: _Job) -> bool:
        """False once closing, abandoned, or superseded by a newer request for the same key."""
        return (not self._closing and request_id not in self._abandoned
                and self._latest.get(job.key) == request_id)

    @Slot()
    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for request_id, deadline in list(self._deadlines.items()):
            if now >= deadline:
                del self._deadlines[request_id]
                self._on_deadline(request_id)
        if not self._deadlines:
            self._deadline_timer.stop()

    def _on_deadline(self, request_id: int) -> None:
        job = self._jobs.get(request_id)
        if job is None or self._closing or request_id in self._abandoned:
            return  # delivered in time
        self._abandoned.add(request_id)
        self._resize_pool()
        log.warning("job %s abandoned past its deadline", job.key)
        if job.on_timeout is not None:
            job.on_timeout()

    def _finished(self, request_id: int) -> _Job:
        job = self._jobs.pop(request_id)
        self._deadlines.pop(request_id, None)
        if request_id in self._abandoned:
            self._abandoned.discard(request_id)
            self._resize_pool()
            if job.on_late is not None and not self._closing:
                job.on_late()
        return job

    def _resize_pool(self) -> None:
        self._pool.setMaxThreadCount(MAX_THREADS + min(len(self._abandoned), MAX_ABANDONED))

    @Slot(int, object)
    def _on_item(self, request_id: int, value: Any) -> None:
        job = self._jobs[request_id]
        if job.on_item is not None and self._is_latest(request_id, job):
            job.on_item(value)

    @Slot(int, object)
    def _on_done(self, request_id: int, value: Any) -> None:
        abandoned = request_id in self._abandoned
        job = self._finished(request_id)
        if not abandoned and self._is_latest(request_id, job):
            job.on_result(value)

    @Slot(int, object)
    def _on_failed(self, request_id: int, exc: Exception) -> None:
        abandoned = request_id in self._abandoned
        job = self._finished(request_id)
        if self._closing or abandoned:
            return
        if isinstance(exc, ServiceError) and job.on_error is not None:
            # A venue's or the disk's answer, worded for the user and shown by the caller:
            # one line, not a traceback (a fault in Rotor's code still logs its traceback).
            log.warning("job %s: %s: %s", job.key, exc.__class__.__name__, exc)
        else:
            log.error("job %s failed", job.key, exc_info=exc)
        if job.on_error is not None and self._is_latest(request_id, job):
            job.on_error(exc)
        else:
            self.jobFailed.emit(f"{job.key}: {exc.__class__.__name__}: {exc}")
