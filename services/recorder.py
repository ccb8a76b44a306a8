"""`main.py record [--for DURATION] [--rules FILE]`: stream every venue into the cache without a
window, and evaluate alert rules on what is stored.

For a workstation that records around the clock (liquidations have no key-less REST history:
what is not recorded is lost). The recorder takes the data folder's `StreamLock` (one stream
writer per folder), runs the `StreamHub`, drains it, fills each reconnect's gap over REST on its
own thread, and prints one status line a minute. SIGINT/SIGTERM stop it cleanly: the sockets are
closed, the last batch is stored, the lock is released, exit status 0.

With alert rules (`--rules FILE`, else the last-used workspace's), the hub's writer and the gap
filler report what they stored to `RecorderAlerts` (services/headless_alerts.py), and the rules'
REST-only inputs are refreshed at their poll interval (docs/alert-delivery.md).

A window opened on the same folder meanwhile finds the lock held: it streams nothing and re-reads
the stream-fed series from the cache (docs/streams.md, "Connections, hub and recorder").
"""

from __future__ import annotations

import logging
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from models.catalog import CATALOG
from services.app import AppServices
from services.errors import ServiceError
from services.refresh import refresh_series
from services.streams.base import VenueStream
from services.streams.gaps import gap_series_ids
from services.streams.hub import DEFAULT_TIMING, LiquidationSink, StreamHub
from services.streams.lock import StreamLock
from services.streams.runner import StreamTiming

if TYPE_CHECKING:
    from services.headless_alerts import RecorderAlerts

log = logging.getLogger(__name__)

DEFAULT_ASSETS = ("btc", "eth")
STATUS_INTERVAL_S = 60.0
#: the alert rules' REST inputs are refreshed at their own poll interval, at most once a minute
MIN_ALERT_POLL_S = 60.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


class RecordError(Exception):
    """The recorder cannot run as asked: one line, exit status 2."""

    exit_status = 2


def parse_duration(text: str) -> float:
    """"30m", "2h", "1d" (also "45s") as seconds."""
    match = _DURATION_RE.match(text or "")
    if not match or float(match.group(1)) <= 0:
        raise RecordError(f"invalid duration {text!r} (use e.g. 30m, 2h or 1d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _clock() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GapFiller:
    """REST refreshes of the series a reconnect may have left holes in, one at a time on a
    daemon thread, from the gap's start (the cache's own rows decide what is missing); an id
    already waiting is not queued twice (its earliest start is kept)."""

    def __init__(self, services: AppServices, should_stop: Callable[[], bool],
                 on_stored: Callable[[set[str]], None] | None = None) -> None:
        self._services = services
        self._should_stop = should_stop
        self._on_stored = on_stored
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._waiting: dict[str, int | None] = {}  # id -> from when (None: its full history)
        self._lock = threading.Lock()
        self.filled = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="gap-fill", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, series_ids: Iterable[str], since_ms: int | None = None) -> None:
        with self._lock:
            for sid in series_ids:
                if sid not in CATALOG:
                    continue
                if sid in self._waiting:
                    old = self._waiting[sid]
                    self._waiting[sid] = None if None in (old, since_ms) else min(old, since_ms)
                else:
                    self._waiting[sid] = since_ms
                    self._queue.put(sid)

    def stop(self, timeout_s: float) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            sid = self._queue.get()
            if sid is None or self._should_stop():
                return
            with self._lock:
                since_ms = self._waiting.pop(sid, None)
            spec = CATALOG[sid]
            if since_ms is not None:  # from the bar (or settlement) the gap began in
                since_ms -= spec.interval_ms or 0
            result = refresh_series(spec, self._services.cache, self._services.sources,
                                    want_start_ms=since_ms, should_stop=self._should_stop)
            if result.ok:
                self.filled += 1
                if self._on_stored is not None:
                    self._on_stored({sid})
            else:
                self.failed += 1
                log.warning("gap fill %s: %s", sid, result.error)


class Recorder:
    def __init__(self, services: AppServices, streams: Sequence[VenueStream], *,
                 out: TextIO = sys.stdout, timing: StreamTiming = DEFAULT_TIMING,
                 flush_interval_s: float = 1.0, status_interval_s: float = STATUS_INTERVAL_S,
                 assets: Sequence[str] = DEFAULT_ASSETS,
                 liquidation_sink: LiquidationSink | None = None,
                 refresh_on_start: bool = True, alerts: RecorderAlerts | None = None,
                 alerts_note: str | None = None, alert_poll_s: float | None = None) -> None:
        self.services = services
        self.streams = list(streams)
        self.out = out
        self.assets = tuple(assets)
        self.status_interval_s = status_interval_s
        self.refresh_on_start = refresh_on_start
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.alerts = alerts
        self.alerts_note = alerts_note
        # Funding settlements, open interest, option chains, index prices: no stream stores
        # them, so with the window closed only these polls keep the rules' inputs new.
        self.alert_poll_s = alert_poll_s  # None: each series' own poll interval
        self._polls: dict[str, float] = {}  # series id -> monotonic time of its next refresh
        on_stored = alerts.stored if alerts is not None else None
        self.hub = StreamHub(services.cache, self.streams, timing=timing,
                             on_wake=self._wake.set, flush_interval_s=flush_interval_s,
                             liquidation_sink=liquidation_sink, on_stored=on_stored)
        self.gaps = GapFiller(services, self._stop.is_set, on_stored=on_stored)
        self.gaps_seen = 0
        self.liquidations_seen = 0

    def request_stop(self) -> None:
        """Safe from a signal handler: only sets events."""
        self._stop.set()
        self._wake.set()

    def run(self, duration_s: float | None = None) -> int:
        started = time.monotonic()
        end = None if duration_s is None else started + duration_s
        names = ", ".join(s.name for s in self.streams)
        until = "until stopped" if end is None else f"for {duration_s:g} s"
        self.out.write(f"{_clock()} recording {len(self.streams)} streams ({names}) into "
                       f"{self.services.data_dir} {until}; Ctrl-C or SIGTERM stops\n")
        if self.alerts_note is not None:
            self.out.write(f"{_clock()} alert rules: {self.alerts_note}\n")
        self.out.flush()
        if self.alerts is not None:  # evaluates what the cache holds, then each stored batch
            self.alerts.start()
            self._polls = dict.fromkeys(self.alerts.rest_inputs(), started)
        if self.refresh_on_start:  # what happened while nothing recorded: a gap like any other
            for venue in dict.fromkeys(s.venue for s in self.streams):
                self.gaps.add(gap_series_ids_for(venue, self.assets))
        self.gaps.start()
        self.hub.start()
        next_status = started + self.status_interval_s
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if end is not None and now >= end:
                    break
                wait = next_status - now if end is None else min(next_status, end) - now
                if self._polls:
                    wait = min(wait, min(self._polls.values()) - now)
                if self._wake.wait(max(0.0, wait)):
                    self._wake.clear()
                self._take(self.hub.drain())
                self._poll_alert_inputs(time.monotonic())
                if time.monotonic() >= next_status:
                    self._print_status()
                    next_status += self.status_interval_s
        finally:
            joined = self.hub.stop(timeout_s=3.0)
            self._take(self.hub.drain())
            # a REST request in flight is not waited for: each cache write is one transaction
            self.gaps.stop(timeout_s=0.2)
            if self.alerts is not None:  # the last batch's rows evaluated, webhooks sent
                self.alerts.close(timeout_s=5.0)
        stats = self.hub.store_stats
        self.out.write(f"{_clock()} stopped: stored {stats['rows_stored']} rows and "
                       f"{stats['liquidations_stored']} liquidations"
                       f"{'' if joined else ' (a connection was still closing)'}\n")
        self.out.flush()
        return 0

    def _poll_alert_inputs(self, now: float) -> None:
        due = [sid for sid, at in self._polls.items() if at <= now]
        if not due:
            return
        self.gaps.add(due)  # refreshed one at a time; what is stored reaches the alerts
        for sid in due:
            every = self.alert_poll_s or max(MIN_ALERT_POLL_S, CATALOG[sid].poll_seconds)
            self._polls[sid] = now + every

    def _take(self, batch) -> None:
        self.liquidations_seen += len(batch.liquidations)
        for gap in batch.gaps:
            self.gaps_seen += 1
            self.gaps.add(gap_series_ids(gap, self.assets), since_ms=gap.since_ms)

    def _print_status(self) -> None:
        stats = self.hub.stats()
        parts = []
        for name, status in self.hub.statuses().items():
            text = f"{name} {status.label} {stats[name]['messages']} msgs"
            if status.message and status.label != "live":
                text += f" ({status.message})"
            parts.append(text)
        store = self.hub.store_stats
        failed_writes = (f", {store['store_errors']} writes failed (kept, retried; see the log)"
                         if store["store_errors"] else "")
        alerts = (f"; {self.alerts.printed} alerts fired" if self.alerts is not None else "")
        self.out.write(f"{_clock()} {' · '.join(parts)} | stored {store['rows_stored']} rows, "
                       f"{store['liquidations_stored']} liquidations{failed_writes}; "
                       f"{self.gaps_seen} gaps, {self.gaps.filled} refreshed, "
                       f"{self.gaps.failed} failed{alerts}\n")
        self.out.flush()


def gap_series_ids_for(venue: str, assets: Sequence[str]) -> list[str]:
    from models.stream_events import Gap

    return gap_series_ids(Gap(venue, 0, 0), assets)


def cmd_record(services: AppServices, duration: str | None, flush_every_s: float = 1.0,
               out: TextIO = sys.stdout,
               streams_factory: Callable[[], list[VenueStream]] | None = None,
               rules_path: str | None = None) -> int:
    """The `record` command: checks, the rules, the lock, signals, the run. `rules_path`: a
    rules file; None takes the rules of the last-used workspace (services/headless_alerts.py)."""
    duration_s = parse_duration(duration) if duration is not None else None
    if not flush_every_s > 0:
        raise RecordError(f"--flush-every must be positive, got {flush_every_s:g}")
    if services.demo:
        raise RecordError("demo mode has no streams to record (run without --demo)")
    if services.cache.read_only:
        raise RecordError(f"data folder {services.data_dir} is read-only: nothing can be "
                          "recorded (make it writable, or point ROTOR_DATA_DIR elsewhere)")
    if streams_factory is None:
        from services.streams.endpoints import StreamEndpoints, build_streams

        try:  # an insecure stream URL override stops here, in one line
            streams = build_streams(StreamEndpoints.from_env(), DEFAULT_ASSETS)
        except ServiceError as e:
            raise RecordError(str(e)) from None
    else:
        streams = streams_factory()
    from services.headless_alerts import RulesUnavailable, record_rules

    try:
        rules, rules_source = record_rules(rules_path, services.data_dir)
    except RulesUnavailable as e:
        raise RecordError(str(e)) from None
    lock = StreamLock(services.data_dir)
    try:
        acquired = lock.acquire()
    except OSError as e:
        raise RecordError(f"cannot take {lock.path}: {e.strerror or e}") from None
    if not acquired:
        holder = lock.holder()
        who = f"process {holder}" if holder else "another process"
        raise RecordError(f"{who} is already streaming into {services.data_dir} (a recorder or "
                          "a window); stop it first, or point ROTOR_DATA_DIR elsewhere")
    alert_log = alerts = None
    try:
        if rules:
            from services.alert_log import ALERT_LOG_FILE, AlertLog
            from services.headless_alerts import RecorderAlerts

            alert_log = AlertLog(services.data_dir / ALERT_LOG_FILE)
            alerts = RecorderAlerts(services.cache, rules, out=out, alert_log=alert_log)
        note = f"{len(rules)} rule(s) {rules_source}" if rules else rules_source
        recorder = Recorder(services, streams, out=out, flush_interval_s=flush_every_s,
                            alerts=alerts, alerts_note=note)
        previous = {sig: signal.signal(sig, lambda *_a: recorder.request_stop())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return recorder.run(duration_s)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        if alert_log is not None:
            alert_log.close()
        lock.release()
