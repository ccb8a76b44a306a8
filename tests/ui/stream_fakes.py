"""A stand-in for services.streams.hub.StreamHub and the stream lock, for the bridge's tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from models.series import SeriesData
from models.stream_events import StreamState, StreamStatus

H = 3_600_000
T0 = 1_764_000_000_000 // H * H


def bars(times, close):
    n = len(times)
    return SeriesData.from_rows(times, open=[close] * n, high=[close + 1] * n,
                                low=[close - 1] * n, close=[close] * n, volume=[1.0] * n)


@dataclass
class Batch:
    series: dict = field(default_factory=dict)
    ticks: dict = field(default_factory=dict)
    liquidations: list = field(default_factory=list)
    gaps: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    recv_ns: dict = field(default_factory=dict)


class FakeHub:
    """What the bridge uses of StreamHub: start, stop, drain, statuses; `push` gathers as the
    hub's threads do and calls on_wake once per drain at most."""

    def __init__(self, on_wake):
        self.on_wake = on_wake
        self.lock = threading.Lock()
        self.pending = Batch()
        self.wake_pending = False
        self.started = self.stopped = False
        self.stop_thread = None

    def start(self):
        self.started = True

    def stop(self, timeout_s=2.0):
        self.stopped = True
        self.stop_thread = threading.current_thread()
        return True

    def statuses(self):
        return {"bybit": StreamStatus("bybit", StreamState.LIVE)}

    def push(self, series_id=None, rows=None, status=None, tick=None):
        with self.lock:
            if series_id is not None:
                held = self.pending.series.get(series_id)
                self.pending.series[series_id] = rows if held is None else held.merge(rows)
            if status is not None:
                self.pending.statuses[status.venue] = status
            if tick is not None:
                self.pending.ticks[(tick.venue, tick.asset)] = tick
            wake, self.wake_pending = not self.wake_pending, True
        if wake:
            self.on_wake()

    def drain(self):
        with self.lock:
            batch, self.pending, self.wake_pending = self.pending, Batch(), False
        return batch


class FakeLock:
    def __init__(self, free=True, holder=None):
        self.free, self.holder_pid, self.released = free, holder, 0

    def acquire(self):
        return self.free

    def release(self):
        self.released += 1

    def holder(self):
        return self.holder_pid
