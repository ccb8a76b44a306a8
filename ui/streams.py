"""The window goes live: the venues' websocket streams into the store, chips and gap-fills
(docs/streams.md, "The window").

- The hub (`services.streams.hub.StreamHub`) is built and started on a worker, after the stream
  lock (`services.streams.lock.StreamLock`) is taken: one stream writer per data folder. When a
  recorder (`main.py record`) holds it, the window opens no stream: it re-reads the stream-fed
  series the recorder stores every 5 s on a worker, and a chip says "recorded by <pid>".
- The hub calls `on_wake` from its threads when data arrives; that crosses to the GUI thread as a
  queued signal, and the batch is drained at most once per frame (16 ms): a burst of a thousand
  messages costs one drain, one publish per series and one paint per chart.
- Rows enter the road REST rows take: `Scheduler.publish_stream_rows` merges them into the
  series last published (`merge_with_tail`) and publishes it with its `tail_from`, so the store,
  the derived feeds and the charts cannot tell a streamed bar from a fetched one.
- Ticks become the funding "now" snapshots (`services.live_snapshots`, built on a worker at most
  every 5 s: the funding dock reruns its analysis on each), gaps after a reconnect are fetched over
  REST at once (`Scheduler.refresh_now`), and each venue's chip gets its stream's state.
- `stop` hands the hub's stop (sockets closed, threads joined, the last batch stored) and the
  lock's release to a worker that the window's bounded shutdown wait covers.

`ROTOR_STREAMS=off` keeps a window on REST polling alone (the tests set it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from models.catalog import find_spec, source_label
from models.ids import funding_now_id
from models.series import SeriesData
from models.stream_events import StreamState, StreamStatus
from services.app import AppServices
from ui.scheduler import Scheduler
from ui.status_bar import SourceStatusBar
from ui.store import DataStore

log = logging.getLogger(__name__)

STREAMS_ENV = "ROTOR_STREAMS"
#: the assets the venues' streams are subscribed for
STREAM_ASSETS = ("btc", "eth")
#: at most one drain per frame (60 Hz)
FRAME_MS = 16
RECORDED_POLL_MS = 5000
#: the funding dock's "now" table follows the ticks at most this often
FUNDING_NOW_EVERY_MS = 5000
#: the chip of the streams as a whole, when another process records them
STREAMS_CHIP = "Streams"

#: a stream state -> the theme field its chip word is drawn in
_STATE_COLORS = {StreamState.LIVE: "ok", StreamState.RECONNECTING: "warning",
                 StreamState.CONNECTING: "muted", StreamState.POLLING: "muted",
                 StreamState.STOPPED: "muted"}

HubFactory = Callable[[AppServices, Callable[[], None]], Any]
LockFactory = Callable[[Any], Any]


def streams_enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(STREAMS_ENV, "").strip().lower() not in ("off", "0", "no", "false")


def default_hub(services: AppServices, on_wake: Callable[[], None]) -> Any:
    """Every venue's stream (endpoints from ROTOR_*_WS) in one hub writing to the cache."""
    from services.streams.endpoints import StreamEndpoints, build_streams
    from services.streams.hub import StreamHub

    streams = build_streams(StreamEndpoints.from_env(), assets=STREAM_ASSETS)
    return StreamHub(services.cache, streams, on_wake=on_wake)


def default_lock(data_dir: Any) -> Any:
    from services.streams.lock import StreamLock

    return StreamLock(data_dir)


@dataclass(frozen=True)
class StreamsOpened:
    hub: Any | None  # started; None when the lock is held elsewhere (or the window closed)
    lock: Any | None
    locked: bool = False  # another process holds the stream lock
    holder: int | None = None  # its pid, when the lock file names it


def open_streams(services: AppServices, on_wake: Callable[[], None], hub_factory: HubFactory,
                 lock_factory: LockFactory, closing: threading.Event) -> StreamsOpened:
    """On a worker: take the lock, build the hub, start it (its threads connect)."""
    lock = lock_factory(services.data_dir)
    if not lock.acquire():
        return StreamsOpened(None, None, True, lock.holder())
    try:
        hub = hub_factory(services, on_wake)
        hub.start()
    except BaseException:
        lock.release()
        raise
    if closing.is_set():  # the window closed meanwhile: nobody would stop it later
        hub.stop()
        lock.release()
        return StreamsOpened(None, None)
    return StreamsOpened(hub, lock)


def close_streams(hub: Any, lock: Any, timeout_s: float) -> bool:
    """On a worker: stop the hub (the last batch stored), then let another writer in."""
    try:
        return bool(hub.stop(timeout_s))
    finally:
        lock.release()


@dataclass(frozen=True)
class Recorded:
    free: bool  # the lock is free again: the window may stream itself
    holder: int | None
    rows: dict[str, SeriesData]  # series id -> rows newer than (or updating) what is held


def read_recorded(services: AppServices, lock_factory: LockFactory,
                  held_last: Mapping[str, int | None]) -> Recorded:
    """On a worker: what the recorder stored since the rows the window holds (the last held row
    is read again: the recorder updates the forming minute)."""
    lock = lock_factory(services.data_dir)
    if lock.acquire():
        lock.release()
        return Recorded(True, None, {})
    rows = {}
    for series_id, last in held_last.items():
        data = services.cache.read(series_id, start_ms=last)
        if last is not None:
            data = data.between(last, None)
        if len(data):
            rows[series_id] = data
    return Recorded(False, lock.holder(), rows)


def funding_now_snapshots(ticks: Mapping[tuple[str, str], Any],
                          previous: Mapping[str, Any]) -> dict[str, Any]:
    """On a worker: the snapshots the ticks make (imported here: it loads pandas, which the
    window's import path does not)."""
    from services.live_snapshots import funding_now_snapshots as build

    return build(ticks, previous)


def _same_rows(a: SeriesData, b: SeriesData) -> bool:
    import numpy as np

    return (len(a) == len(b) and bool(np.array_equal(a.time, b.time))
            and all(n in b.columns and np.array_equal(a[n], b[n], equal_nan=True)
                    for n in a.columns))


class StreamBridge(QObject):
    """Between a `StreamHub` and the window: see the module's docstring."""

    #: emitted on a hub thread; delivered queued on the GUI thread
    woken = Signal()
    #: a drained batch, after everything in it was published (the bench times paints from it)
    drained = Signal(object)

    def __init__(self, scheduler: Scheduler, store: DataStore, status_bar: SourceStatusBar,
                 *, hub_factory: HubFactory | None = None, lock_factory: LockFactory | None = None,
                 enabled: bool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scheduler = scheduler
        self.store = store
        self.status_bar = status_bar
        self.enabled = streams_enabled() if enabled is None else enabled
        self._hub_factory = hub_factory or default_hub
        self._lock_factory = lock_factory or default_lock
        self._services: AppServices | None = None
        self.hub: Any = None
        self._lock: Any = None
        self.holder: int | None = None  # the recorder's pid while another process streams
        self._opening = False
        self._wanted = False
        self._closing = threading.Event()
        self._last_drain = -1e9  # monotonic ms
        self._last_now = -1e9
        self._pending_ticks: dict[tuple[str, str], Any] = {}
        #: the latest StreamStatus per stream name
        self.statuses: dict[str, StreamStatus] = {}
        self.drains = 0
        self.woken.connect(self._on_woken, Qt.ConnectionType.QueuedConnection)
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._drain_timer.timeout.connect(self.drain)
        self._now_timer = QTimer(self)
        self._now_timer.setSingleShot(True)
        self._now_timer.timeout.connect(self._publish_funding_now)
        self._recorded_timer = QTimer(self)
        self._recorded_timer.setInterval(RECORDED_POLL_MS)
        self._recorded_timer.timeout.connect(self._poll_recorded)
        scheduler.servicesReady.connect(self.on_services)
        scheduler.modeChanged.connect(self._on_mode)

    # -- opening ------------------------------------------------------------------------------
    @Slot(object)
    def on_services(self, services: AppServices) -> None:
        """Services are open (start-up, Go live, the demo fall-back)."""
        self._services = services
        if self._wanted:
            self.start()

    def start(self) -> None:
        """Stream (the window calls it once the docks on screen have painted: the hub's
        imports and connections do not compete with the first paint), unless in the demo or
        switched off; when the services are not open yet, as soon as they are."""
        if not self.enabled:
            return
        self._wanted = True
        services = self._services
        if (services is None or services.demo or self.hub is not None or self._opening
                or self._closing.is_set()):
            return
        self._opening = True
        self.scheduler.run("streams:open", open_streams, services, self.woken.emit,
                           self._hub_factory, self._lock_factory, self._closing,
                           on_result=self._on_opened, on_error=self._on_open_failed)

    def _on_opened(self, opened: StreamsOpened) -> None:
        self._opening = False
        if opened.hub is None:
            if opened.locked:
                self._show_recorded_by(opened.holder)
            return
        if self._closing.is_set() or self.scheduler.demo:
            self.scheduler.run("streams:close", close_streams, opened.hub, opened.lock, 1.0,
                               on_result=lambda _ok: None)
            return
        self.hub, self._lock, self.holder = opened.hub, opened.lock, None
        self._recorded_timer.stop()
        self.status_bar.set_stream_label(STREAMS_CHIP, "")
        self.set_statuses(self.hub.statuses())
        # A wake that came before the hub was handed over found none to drain: the hub wakes
        # once per drain, so drain now or it would never wake again.
        self.drain()

    def _on_open_failed(self, exc: Exception) -> None:
        self._opening = False
        log.warning("streams could not start: %s", exc)
        self.status_bar.set_stream_label(STREAMS_CHIP, "off", "muted",
                                         f"streams could not start: {exc}")

    def _show_recorded_by(self, pid: int | None) -> None:
        self.holder = pid
        who = f"recorded by {pid}" if pid else "recorded by another process"
        self.status_bar.set_stream_label(
            STREAMS_CHIP, who, "ok", "Another Rotor process streams into this data folder; "
            "this window shows what it stores (read every 5 s).")
        if not self._recorded_timer.isActive():
            self._recorded_timer.start()

    # -- the recorder's rows --------------------------------------------------------------------
    def stream_fed_ids(self) -> list[str]:
        """The watched series only a stream fills (no key-less REST history)."""
        return [i for i, spec in self.scheduler.tracker.watched.items()
                if spec.extra.get("rest_history") is False]

    def _poll_recorded(self) -> None:
        services = self._services
        if services is None or self._closing.is_set() or self.scheduler.closing:
            return
        held = {}
        for series_id in self.stream_fed_ids():
            data = self.store.series(series_id)
            held[series_id] = data.last_ms if data is not None and len(data) else None
        self.scheduler.run("streams:recorded", read_recorded, services, self._lock_factory,
                           held, on_result=self._on_recorded,
                           on_error=lambda exc: log.warning("reading recorded rows: %s", exc))

    def _on_recorded(self, recorded: Recorded) -> None:
        if recorded.free:  # the recorder stopped: this window streams now
            self._recorded_timer.stop()
            self.status_bar.set_stream_label(STREAMS_CHIP, "")
            self.holder = None
            self.start()
            return
        if recorded.holder != self.holder:
            self._show_recorded_by(recorded.holder)
        for series_id, rows in recorded.rows.items():
            held = self.store.series(series_id)
            if held is not None and rows.first_ms is not None and _same_rows(
                    rows, held.between(rows.first_ms, None)):
                continue
            self.scheduler.publish_stream_rows(series_id, rows)

    # -- draining -----------------------------------------------------------------------------
    @Slot()
    def _on_woken(self) -> None:
        if self._drain_timer.isActive():
            return
        wait = FRAME_MS - (time.monotonic() * 1000 - self._last_drain)
        if wait <= 0:
            self.drain()
        else:
            self._drain_timer.start(int(wait) + 1)

    @Slot()
    def drain(self) -> None:
        """Take what the hub gathered and publish it (GUI thread)."""
        hub = self.hub
        if hub is None or self.scheduler.closing:
            return
        self._last_drain = time.monotonic() * 1000
        batch = hub.drain()
        self.drains += 1
        watched = self.scheduler.tracker.watched
        for series_id, rows in batch.series.items():
            if series_id in watched or self.store.series(series_id) is not None:
                self.scheduler.publish_stream_rows(series_id, rows)
        if batch.ticks:
            self._pending_ticks.update(batch.ticks)
            if not self._now_timer.isActive():
                since = time.monotonic() * 1000 - self._last_now
                self._now_timer.start(int(max(0.0, FUNDING_NOW_EVERY_MS - since)))
        if batch.gaps:
            self.fill_gaps(batch.gaps)
        if batch.statuses:
            self.set_statuses(batch.statuses)
        self.drained.emit(batch)

    def fill_gaps(self, gaps: list[Any]) -> None:
        """A reconnect may have left holes: fetch the series it touched over REST now."""
        from services.streams.gaps import gap_series_ids

        watched = self.scheduler.tracker.watched
        ids: list[str] = []
        for gap in gaps:
            ids.extend(i for i in gap_series_ids(gap, STREAM_ASSETS)
                       if i in watched and i not in ids)
        if ids:
            log.info("stream gap: refreshing %s", ", ".join(ids))
            self.scheduler.refresh_now(ids)

    def _publish_funding_now(self) -> None:
        ticks, self._pending_ticks = self._pending_ticks, {}
        if not ticks or self.scheduler.closing:
            return
        self._last_now = time.monotonic() * 1000
        previous = {}
        for tick in ticks.values():
            series_id = funding_now_id(tick.venue, tick.asset)
            if (snap := self.store.snapshot(series_id)) is not None:
                previous[series_id] = snap
        self.scheduler.run("streams:funding-now", funding_now_snapshots, ticks, previous,
                           on_result=self._on_funding_now)

    def _on_funding_now(self, snapshots: dict[str, Any]) -> None:
        if self.scheduler.demo:
            return
        # a live change: the analyses reading these snapshots follow at their live cadence
        self.scheduler.publishing_stream = True
        try:
            for series_id, snap in snapshots.items():
                if find_spec(series_id) is not None:
                    self.scheduler.snapshotChanged.emit(series_id, snap)
        finally:
            self.scheduler.publishing_stream = False

    # -- chips --------------------------------------------------------------------------------
    def set_statuses(self, statuses: Mapping[str, StreamStatus]) -> None:
        """Each stream's state on its venue's chip (two streams of one chip: the worse shown).
        A batch carries every stream's status: only a change redraws a chip."""
        changed = {k: v for k, v in statuses.items() if self.statuses.get(k) != v}
        if not changed:
            return
        self.statuses.update(changed)
        by_chip: dict[str, list[StreamStatus]] = {}
        for status in self.statuses.values():
            by_chip.setdefault(source_label(status.venue), []).append(status)
        for chip, group in by_chip.items():
            worst = max(group, key=lambda s: (s.state is StreamState.RECONNECTING, s.attempt))
            tip = "; ".join(f"stream: {s.message}" for s in group if s.message)
            self.status_bar.set_stream_label(chip, worst.label,
                                             _STATE_COLORS.get(worst.state, "muted"), tip)

    @Slot(str)
    def _on_mode(self, mode: str) -> None:
        if mode == "demo":  # the fall-back to the demo: nothing live may reach its charts
            self.stop()
            self._closing.clear()

    # -- closing ------------------------------------------------------------------------------
    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop streaming: the hub's stop and the lock's release run on a worker (the window's
        shutdown wait covers it); chips lose their stream word."""
        self._closing.set()
        self._drain_timer.stop()
        self._now_timer.stop()
        self._recorded_timer.stop()
        hub, lock = self.hub, self._lock
        self.hub = self._lock = None
        if hub is not None:
            self.scheduler.run("streams:close", close_streams, hub, lock, timeout_s,
                               on_result=lambda _ok: None,
                               on_error=lambda exc: log.warning("stopping streams: %s", exc))
        for chip in {source_label(s.venue) for s in self.statuses.values()} | {STREAMS_CHIP}:
            self.status_bar.set_stream_label(chip, "")
        self.statuses.clear()
