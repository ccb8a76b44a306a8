"""The stream hub: every venue's runner, one batch for the reader, one writer to the cache.

Runner threads hand their events to the hub, which merges them under one lock into what the
reader (the window's bridge, the recorder) drains as a `StreamBatch`: price bars (the open one
too), the liquidation minute buckets and the premium minute rows as series to merge, the latest
merged tick per (venue, asset), the new liquidation events, gaps and statuses. `on_wake` tells the
reader there is something to drain, at most once per drain, so a burst of frames costs one wake.

A writer thread persists every `flush_interval_s`: closed bars and premium minute rows
(`Cache.upsert`, after `check_rows`), liquidation events through the liquidation sink
(`Cache.add_liquidations` unless one is injected). A failed write (a full disk, another process's
lock) keeps the rows for the next flush: nothing is lost while the process lives. `stop` closes
the sockets, joins the threads and stores the last batch.

Maintainer notes: docs/streams.md, "Connections, hub and recorder".
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.basis import premium_pct
from models.catalog import INTERVAL_MS
from models.ids import liq_id, parse_series_id, premium_id
from models.liquidations import BUCKET_COLUMNS, bucket_start
from models.series import SeriesData, check_rows
from models.stream_events import (
    LONG,
    BarUpdate,
    Gap,
    Liquidation,
    StreamStatus,
    TickUpdate,
)
from services.errors import ServiceError
from services.streams.base import VenueStream
from services.streams.runner import Event, StreamRunner, StreamTiming, now_ms

log = logging.getLogger(__name__)

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
PREMIUM_COLUMNS = ("mark", "index", "premium_pct")
# Liquidation minutes kept in memory (totals and the reports already counted) behind the newest
# one touched: a late report for an older minute is re-seeded from the cache.
LIQ_MINUTES_KEPT = 10
# Events a reader that never drains may leave queued: beyond it the oldest go (logged once).
MAX_QUEUED_EVENTS = 200_000

DEFAULT_TIMING = StreamTiming()

LiquidationSink = Callable[[Sequence[Liquidation]], object]


@dataclass
class StreamBatch:
    """Everything new since the last drain."""

    series: dict[str, SeriesData] = field(default_factory=dict)  # rows to merge (time replaces)
    ticks: dict[tuple[str, str], TickUpdate] = field(default_factory=dict)
    liquidations: list[Liquidation] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    statuses: dict[str, StreamStatus] = field(default_factory=dict)
    # per series id / "tick:<venue>.<asset>": earliest socket arrival (perf_counter_ns) behind it
    recv_ns: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.series or self.ticks or self.liquidations or self.gaps)


def _liq_key(ev: Liquidation) -> tuple:
    # the same report seen twice (a venue repeating it after a reconnect) counts once, as in the
    # cache's own dedupe
    return (ev.venue, ev.instrument, ev.time_ms, ev.side, ev.qty, ev.price)


def _rows_to_series(rows: dict[int, Sequence[float]], names: Sequence[str]) -> SeriesData:
    times = sorted(rows)
    table = np.array([rows[t] for t in times], dtype=float).reshape(len(times), len(names))
    return SeriesData.from_rows(times, **{n: table[:, i] for i, n in enumerate(names)})


class StreamHub:
    def __init__(self, cache, streams: Sequence[VenueStream], *,
                 timing: StreamTiming = DEFAULT_TIMING,
                 on_wake: Callable[[], None] | None = None, flush_interval_s: float = 1.0,
                 liquidation_sink: LiquidationSink | None = None,
                 on_stored: Callable[[set[str]], None] | None = None,
                 rng: random.Random | None = None) -> None:
        names = [s.name for s in streams]
        if len(set(names)) != len(names):
            raise ValueError(f"stream names must be unique: {names}")
        self._cache = cache
        self._on_wake = on_wake
        self._flush_interval_s = flush_interval_s
        if liquidation_sink is None and cache is not None:
            liquidation_sink = self._store_liquidations
        self._liq_sink = liquidation_sink
        # told (on the writer thread) the series ids each flush stored rows of: the recorder's
        # alert evaluation reads them back from the cache
        self._on_stored = on_stored
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake_pending = False
        self._started = False
        # what the next drain returns
        self._bars: dict[str, dict[int, tuple]] = {}
        self._premium: dict[str, dict[int, tuple]] = {}
        self._liq_touched: dict[str, set[int]] = {}
        self._ticks: dict[tuple[str, str], TickUpdate] = {}
        self._liqs: list[Liquidation] = []
        self._gaps: list[Gap] = []
        self._recv: dict[str, int] = {}
        # kept across drains
        self._tick_values: dict[tuple[str, str], dict[str, float]] = {}
        self._liq_totals: dict[tuple[str, int], list[float]] = {}
        self._liq_seen: dict[tuple[str, int], set[tuple]] = {}
        self._statuses: dict[str, StreamStatus] = {}
        # what the writer stores next
        self._store_bars: dict[str, dict[int, tuple]] = {}
        self._store_premium: dict[str, dict[int, tuple]] = {}
        self._store_liqs: list[Liquidation] = []
        self.store_stats = {"flushes": 0, "rows_stored": 0, "liquidations_stored": 0,
                            "rows_dropped": 0, "store_errors": 0, "events_dropped": 0}
        self._logged: set[str] = set()
        self._ids: dict[tuple[str, str, str], str] = {}  # (kind, venue, asset) -> series id
        rng = rng or random.Random()
        self._runners = [
            StreamRunner(s, timing=timing, on_events=self._on_events,
                         on_status=self._on_status, on_gap=self._on_gap,
                         rng=random.Random(rng.random()))
            for s in streams]
        for r in self._runners:
            self._statuses[r.stream.name] = r.status
        self._writer_stop = threading.Event()
        self._writer: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for r in self._runners:
            r.start()
        if self._cache is not None or self._liq_sink is not None:
            self._writer = threading.Thread(target=self._write_loop, name="stream-writer",
                                            daemon=True)
            self._writer.start()

    def stop(self, timeout_s: float = 2.0) -> bool:
        """Close every socket, join the threads, store what is left. True when all threads
        ended within `timeout_s` (the last batch is stored either way)."""
        deadline = time.monotonic() + timeout_s
        for r in self._runners:
            r.request_stop()
        joined = all([r.join(max(0.0, deadline - time.monotonic())) for r in self._runners])
        self._writer_stop.set()
        if self._writer is not None:
            self._writer.join(max(0.0, deadline - time.monotonic()))
            joined = joined and not self._writer.is_alive()
        self.flush()
        return joined

    # -- what the reader sees -----------------------------------------------------------------
    def drain(self) -> StreamBatch:
        with self._lock:
            series = {sid: _rows_to_series(rows, BAR_COLUMNS) for sid, rows in self._bars.items()}
            series.update((sid, _rows_to_series(rows, PREMIUM_COLUMNS))
                          for sid, rows in self._premium.items())
            for sid, minutes in self._liq_touched.items():
                series[sid] = _rows_to_series(
                    {m: self._liq_totals[(sid, m)] for m in minutes
                     if (sid, m) in self._liq_totals}, BUCKET_COLUMNS)
            batch = StreamBatch(series, self._ticks, self._liqs, self._gaps,
                                dict(self._statuses), self._recv)
            self._bars, self._premium, self._liq_touched = {}, {}, {}
            self._ticks, self._liqs, self._gaps, self._recv = {}, [], [], {}
            self._wake_pending = False
        return batch

    def statuses(self) -> dict[str, StreamStatus]:
        with self._lock:
            return dict(self._statuses)

    def stats(self) -> dict[str, dict[str, int]]:
        return {r.stream.name: dict(r.stats) for r in self._runners}

    # -- from the runner threads --------------------------------------------------------------
    def _wake(self) -> bool:
        # called with self._lock held; returns whether the reader must be woken
        if self._wake_pending or self._on_wake is None:
            return False
        self._wake_pending = True
        return True

    def _on_status(self, name: str, status: StreamStatus) -> None:
        with self._lock:
            self._statuses[name] = status
            wake = self._wake()
        if wake:
            self._on_wake()

    def _on_gap(self, gap: Gap) -> None:
        with self._lock:
            self._gaps.append(gap)
            wake = self._wake()
        if wake:
            self._on_wake()

    def _on_events(self, _name: str, events: Sequence[Event]) -> None:
        seeds = self._liq_seeds([ev for ev in events if isinstance(ev, Liquidation)])
        with self._lock:
            for ev in events:
                if isinstance(ev, BarUpdate):
                    self._add_bar(ev)
                elif isinstance(ev, TickUpdate):
                    self._add_tick(ev)
                elif isinstance(ev, Liquidation):
                    self._add_liquidation(ev, seeds)
            wake = self._wake()
        if wake:
            self._on_wake()

    def _id(self, kind: str, venue: str, asset: str) -> str:
        # built once per (venue, asset): a liquidation burst asks thousands of times a second
        key = (kind, venue, asset)
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = (liq_id if kind == "liq" else premium_id)(venue, asset)
        return sid

    def _arrived(self, key: str, recv_ns: int) -> None:
        old = self._recv.get(key)
        if old is None or recv_ns < old:
            self._recv[key] = recv_ns

    def _add_bar(self, ev: BarUpdate) -> None:
        row = (ev.open, ev.high, ev.low, ev.close, ev.volume)
        self._bars.setdefault(ev.series_id, {})[ev.time_ms] = row
        self._arrived(ev.series_id, ev.recv_ns)
        if ev.closed:
            self._store_bars.setdefault(ev.series_id, {})[ev.time_ms] = row

    def _add_tick(self, ev: TickUpdate) -> None:
        key = (ev.venue, ev.asset)
        values = self._tick_values.setdefault(key, {})
        values.update(ev.values)
        previous = self._ticks.get(key)
        time_ms = max(ev.time_ms, previous.time_ms) if previous else ev.time_ms
        self._ticks[key] = TickUpdate(ev.venue, ev.asset, time_ms, dict(values), ev.recv_ns)
        self._arrived(f"tick:{ev.venue}.{ev.asset}", ev.recv_ns)
        mark, index = values.get("mark"), values.get("index")
        if mark is None or index is None or not ({"mark", "index"} & ev.values.keys()):
            return
        sid = self._id("premium", ev.venue, ev.asset)
        row = (mark, index, premium_pct(mark, index))
        minute = bucket_start(ev.time_ms)
        self._premium.setdefault(sid, {})[minute] = row
        self._store_premium.setdefault(sid, {})[minute] = row
        self._arrived(sid, ev.recv_ns)

    def _liq_seeds(self, events: Sequence[Liquidation]) -> dict[tuple[str, int], list[float]]:
        """The stored bucket of each minute these events touch for the first time (read before
        taking the lock: it is I/O)."""
        if not events or self._cache is None:
            return {}
        with self._lock:
            wanted = {(self._id("liq", ev.venue, ev.asset), bucket_start(ev.time_ms))
                      for ev in events}
            wanted -= self._liq_totals.keys()
        seeds = {}
        for sid, minute in wanted:
            try:
                stored = self._cache.read(sid, minute, minute)
            except (ServiceError, ValueError) as e:  # a busy or failing cache: from zero
                self._log_once("seed", "liquidation bucket %s not read: %s", sid, e)
                continue
            if len(stored) and int(stored.time[0]) == minute:
                seeds[(sid, minute)] = [
                    float(np.nan_to_num(stored[c][0])) if c in stored.names else 0.0
                    for c in BUCKET_COLUMNS]
        return seeds

    def _add_liquidation(self, ev: Liquidation, seeds: dict) -> None:
        sid = self._id("liq", ev.venue, ev.asset)
        minute = bucket_start(ev.time_ms)
        key = (sid, minute)
        seen = self._liq_seen.setdefault(key, set())
        report = _liq_key(ev)
        if report in seen:
            return
        seen.add(report)
        if key not in self._liq_totals:
            self._liq_totals[key] = list(seeds.get(key, [0.0] * len(BUCKET_COLUMNS)))
            self._prune_liq_minutes(minute)
        row = self._liq_totals[key]
        if ev.side == LONG:
            row[0] += ev.usd
            row[2] += ev.qty
        else:
            row[1] += ev.usd
            row[3] += ev.qty
        row[4] += 1
        self._liq_touched.setdefault(sid, set()).add(minute)
        self._arrived(sid, ev.recv_ns)
        self._liqs.append(ev)
        self._store_liqs.append(ev)
        for queue in (self._liqs, self._store_liqs):
            if len(queue) > MAX_QUEUED_EVENTS:
                del queue[: len(queue) - MAX_QUEUED_EVENTS]
                self.store_stats["events_dropped"] += 1
                self._log_once("queue", "liquidation queue over %d events: oldest dropped",
                               MAX_QUEUED_EVENTS)

    def _prune_liq_minutes(self, newest: int) -> None:
        oldest_kept = newest - LIQ_MINUTES_KEPT * 60_000
        for key in [k for k in self._liq_totals if k[1] < oldest_kept]:
            if key[1] not in self._liq_touched.get(key[0], ()):
                del self._liq_totals[key]
                self._liq_seen.pop(key, None)

    def _log_once(self, kind: str, text: str, *args: object) -> None:
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("stream hub: " + text + " (logged once)", *args)

    # -- the writer ---------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not self._writer_stop.wait(self._flush_interval_s):
            self.flush()

    def flush(self) -> None:
        """Store the closed bars, premium rows and liquidations gathered since the last flush;
        whatever fails to store is kept for the next one."""
        with self._flush_lock:
            with self._lock:
                bars, self._store_bars = self._store_bars, {}
                premium, self._store_premium = self._store_premium, {}
                liqs, self._store_liqs = self._store_liqs, []
            if not (bars or premium or liqs):
                return
            failed_rows: dict[str, dict[int, tuple]] = {}
            stored: set[str] = set()
            for table, names in ((bars, BAR_COLUMNS), (premium, PREMIUM_COLUMNS)):
                for sid, rows in table.items():
                    if self._cache is None or not self._upsert(sid, rows, names):
                        failed_rows[sid] = rows
                    else:
                        stored.add(sid)
            liqs_failed = False
            if liqs and self._liq_sink is not None:
                try:
                    buckets = self._liq_sink(liqs)
                    if isinstance(buckets, dict):  # the cache's: the liq.* series it updated
                        stored.update(buckets)
                    self.store_stats["liquidations_stored"] += len(liqs)
                except Exception as e:  # noqa: BLE001 (any sink: the events are kept, retried)
                    self.store_stats["store_errors"] += 1
                    self._log_once("liq", "liquidations not stored yet (kept): %s", e)
                    liqs_failed = True
            self.store_stats["flushes"] += 1
            if stored and self._on_stored is not None:
                try:
                    self._on_stored(stored)
                except Exception as e:  # noqa: BLE001 - a listener never stops the writer
                    self._log_once("on_stored", "stored-rows listener failed: %s", e)
            if failed_rows or liqs_failed:
                with self._lock:
                    for sid, rows in failed_rows.items():
                        target = self._store_bars if sid in bars else self._store_premium
                        newer = target.get(sid, {})
                        target[sid] = {**rows, **newer}
                    if liqs_failed:
                        self._store_liqs[:0] = liqs

    def _upsert(self, sid: str, rows: dict[int, tuple], names: Sequence[str]) -> bool:
        data = _rows_to_series(rows, names)
        try:
            interval_ms = INTERVAL_MS.get(parse_series_id(sid).interval or "", 60_000)
        except ValueError:
            interval_ms = 60_000
        checked = check_rows(data.time, data.columns, now=now_ms(), interval_ms=interval_ms)
        if checked.rows_dropped:
            self.store_stats["rows_dropped"] += checked.rows_dropped
            log.warning("stream rows for %s not stored: %s", sid, checked.summary())
        try:
            self._cache.upsert(sid, checked.data)
        except (ServiceError, ValueError) as e:  # a full disk, a lock: retried next flush
            self.store_stats["store_errors"] += 1
            self._log_once("upsert", "rows not stored yet (kept): %s", e)
            return False
        self.store_stats["rows_stored"] += len(checked.data)  # written, new or replacing
        return True

    def _store_liquidations(self, events: Sequence[Liquidation]) -> object:
        return self._cache.add_liquidations(events)
