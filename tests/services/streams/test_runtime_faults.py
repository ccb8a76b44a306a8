"""The runner under faults, against loopback servers: each fault ends in a clear status, no
traceback, no lost rows, and a Gap once the connection is back."""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from dataclasses import replace

import pytest

from models.stream_events import BarUpdate, Gap, StreamState, StreamStatus
from services.streams.runner import StreamRunner, StreamTiming
from tests.services.streams.loopback import (
    FAST,
    SUBSCRIBE,
    TEST_REPLY,
    TEST_REQUEST,
    LoopbackServer,
    StallServer,
    ToyStream,
    abort,
    bar_frame,
    send_half_message,
    wait_until,
)

T0 = 1_764_633_600_000  # 2025-12-02 00:00 UTC, an hour boundary


class Record:
    """Everything a runner reported, in order."""

    def __init__(self) -> None:
        self.events: list = []
        self.statuses: list[StreamStatus] = []
        self.gaps: list[Gap] = []
        self.stamps: list[int] = []  # when each status was reported (epoch ms)

    def on_events(self, _name, events) -> None:
        self.events.extend(events)

    def on_status(self, _name, status: StreamStatus) -> None:
        self.statuses.append(status)
        self.stamps.append(time.time_ns() // 1_000_000)

    def on_gap(self, gap: Gap) -> None:
        self.gaps.append(gap)

    def bar_times(self) -> list[int]:
        return [e.time_ms for e in self.events if isinstance(e, BarUpdate)]

    def states(self) -> list[StreamState]:
        return [s.state for s in self.statuses]


@pytest.fixture
def start_runner(caplog):
    runners = []
    caplog.set_level(logging.INFO)

    def start(stream, timing: StreamTiming = FAST) -> tuple[StreamRunner, Record]:
        rec = Record()
        runner = StreamRunner(stream, timing=timing, on_events=rec.on_events,
                              on_status=rec.on_status, on_gap=rec.on_gap,
                              rng=random.Random(7))
        runners.append(runner)
        runner.start()
        return runner, rec

    yield start
    for r in runners:
        r.request_stop()
    assert all(r.join(2.0) for r in runners), "a runner thread did not end"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks, tracebacks[0].getMessage()


def test_frames_arrive_then_live(start_runner):
    def scenario(ws, n):
        ws.send(bar_frame(T0, 100.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        runner, rec = start_runner(ToyStream(server.url))
        wait_until(lambda: rec.bar_times() == [T0])
        assert rec.states()[:2] == [StreamState.CONNECTING, StreamState.LIVE]
        assert rec.events[0].close == 100.0 and rec.events[0].recv_ns > 0
        assert server.received[0][0] == SUBSCRIBE
        assert not rec.gaps  # the first connection is no reconnect
        assert runner.stats["messages"] == 1 and runner.stats["reconnects"] == 0


def test_disconnect_mid_message_reconnects_resubscribes_and_reports_a_gap(start_runner):
    def scenario(ws, n):
        if n == 0:
            ws.send(bar_frame(T0, 100.0))
            time.sleep(0.02)
            send_half_message(ws, '{"k": "bar", "t": ')
            return
        ws.send(bar_frame(T0 + 3_600_000, 101.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        stream = ToyStream(server.url)
        runner, rec = start_runner(stream)
        wait_until(lambda: len(rec.bar_times()) == 2)
        assert rec.bar_times() == [T0, T0 + 3_600_000]  # nothing lost, nothing half-parsed
        reconnecting = [s for s in rec.statuses if s.state is StreamState.RECONNECTING]
        assert reconnecting[0].attempt == 1
        assert reconnecting[0].message == "connection lost (1006)"
        assert reconnecting[0].label == "reconnecting (1)"
        assert rec.statuses[-1].state is StreamState.LIVE
        assert [r[0] for r in server.received] == [SUBSCRIBE, SUBSCRIBE]
        assert stream.resets == 2  # per-connection state forgotten before each connection
        assert len(rec.gaps) == 1
        gap = rec.gaps[0]
        assert gap.venue == "toyvenue" and gap.since_ms <= gap.until_ms
        assert runner.stats["reconnects"] == 1 and runner.stats["malformed"] == 0


@pytest.mark.parametrize(("code", "reason", "expected"), [
    (1001, "going away", "closed by the venue (1001 going away)"),
    (4004, "No data received in 30s.", "closed by the venue (4004 No data received in 30s.)"),
    (None, "", "connection lost (1006)"),
])
def test_close_codes_end_in_reconnect_with_a_gap(start_runner, code, reason, expected):
    def scenario(ws, n):
        ws.send(bar_frame(T0 + n * 3_600_000, 100.0 + n))
        if n == 0:
            time.sleep(0.02)
            if code is None:
                abort(ws)
            else:
                ws.close(code, reason)
            return
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        _runner, rec = start_runner(ToyStream(server.url))
        wait_until(lambda: len(rec.gaps) == 1 and len(rec.bar_times()) == 2)
        messages = [s.message for s in rec.statuses if s.state is StreamState.RECONNECTING]
        assert messages == [expected]
        assert rec.bar_times() == [T0, T0 + 3_600_000]
        wait_until(lambda: rec.statuses[-1].state is StreamState.LIVE)


def test_silent_stall_without_pong_is_closed_by_the_watchdog(start_runner):
    timing = replace(FAST, heartbeat_timeout_s=0.2, ping_s=0.05)
    with StallServer([bar_frame(T0, 100.0)]) as server:
        started = time.monotonic()
        _runner, rec = start_runner(ToyStream(server.url), timing)
        wait_until(lambda: server.connections >= 2)
        took = time.monotonic() - started
        wait_until(lambda: rec.gaps)
        watchdog = next(s for s in rec.statuses if s.state is StreamState.RECONNECTING)
        assert watchdog.message == "no frame for 0.2 s (watchdog)"
        assert 0.2 <= took < 1.5
        assert rec.bar_times()[:2] == [T0, T0]  # each connection's first frame, none lost


def test_protocol_ping_without_pong_closes(start_runner):
    timing = replace(FAST, heartbeat_timeout_s=30.0, protocol_ping_s=0.05,
                     protocol_ping_timeout_s=0.1)
    with StallServer([bar_frame(T0, 100.0)]) as server:
        _runner, rec = start_runner(ToyStream(server.url, ping_frame=None), timing)
        wait_until(lambda: server.connections >= 2)
        first = next(s for s in rec.statuses if s.state is StreamState.RECONNECTING)
        assert "1011" in first.message  # websockets' keepalive ping timeout


def test_text_ping_after_silence_and_heartbeat_replies(start_runner):
    def scenario(ws, n):
        ws.send(bar_frame(T0, 100.0))
        ws.send(TEST_REQUEST)
        server.hold(ws, n)

    timing = replace(FAST, ping_s=0.05, heartbeat_timeout_s=5.0)
    with LoopbackServer(scenario) as server:
        _runner, _rec = start_runner(ToyStream(server.url), timing)
        wait_until(lambda: server.received and server.received[0].count("ping") >= 2)
        assert server.received[0][:2] == [SUBSCRIBE, TEST_REPLY]
        assert server.connections == 1


def test_malformed_frames_are_counted_and_the_connection_kept(start_runner):
    def scenario(ws, n):
        ws.send("not json {")
        ws.send(bar_frame(T0, 100.0))
        ws.send("[still not")
        ws.send(bar_frame(T0 + 3_600_000, 101.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        runner, rec = start_runner(ToyStream(server.url))
        wait_until(lambda: len(rec.bar_times()) == 2)
        assert runner.stats["malformed"] == 2 and runner.stats["dropped"] == 2
        assert runner.stats["messages"] == 4
        assert server.connections == 1 and not rec.gaps
        assert rec.statuses[-1].state is StreamState.LIVE


def test_malformed_frame_is_logged_once(start_runner, caplog):
    def scenario(ws, n):
        for _ in range(5):
            ws.send("garbage")
        ws.send(bar_frame(T0, 100.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        _runner, rec = start_runner(ToyStream(server.url))
        wait_until(lambda: rec.bar_times())
    lines = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 1 and "toy: not JSON" in lines[0].getMessage()


def test_oversized_frame_recycles_the_connection(start_runner):
    def scenario(ws, n):
        if n == 0:
            ws.send(bar_frame(T0, 100.0))
            ws.send("x" * 5000)
        ws.send(bar_frame(T0 + 3_600_000, 101.0))
        server.hold(ws, n)

    timing = replace(FAST, max_frame_bytes=1024)
    with LoopbackServer(scenario) as server:
        runner, rec = start_runner(ToyStream(server.url), timing)
        wait_until(lambda: rec.gaps and len(rec.bar_times()) >= 2)
        assert runner.stats["oversized"] == 1 and runner.stats["dropped"] == 1
        reconnecting = [s for s in rec.statuses if s.state is StreamState.RECONNECTING]
        assert reconnecting[0].message == "a frame over the size limit (1009)"
        assert T0 in rec.bar_times() and T0 + 3_600_000 in rec.bar_times()


def test_rejected_subscription_waits_instead_of_looping(start_runner):
    def scenario(ws, n):
        ws.send(json.dumps({"reject": "tickers.NOPE: symbol not found"}))
        server.hold(ws, n)

    timing = replace(FAST, rejected_retry_s=30.0)
    with LoopbackServer(scenario) as server:
        _runner, rec = start_runner(ToyStream(server.url), timing)
        wait_until(lambda: rec.statuses and rec.statuses[-1].state is StreamState.POLLING)
        status = rec.statuses[-1]
        assert status.message == "subscription refused: tickers.NOPE: symbol not found"
        assert status.label == "polling"
        assert status.retry_at_ms - status.since_ms == pytest.approx(30_000, abs=50)
        time.sleep(0.2)  # many back-off periods (10-40 ms): still only the one connection
        assert server.connections == 1


def test_a_refusal_among_working_subscriptions_keeps_the_connection(start_runner):
    def scenario(ws, n):
        ws.send(json.dumps({"reject": "index-tickers BTC-USD: refused, no such instrument"}))
        time.sleep(0.1)  # past the 50 ms grace only if nothing else flowed
        ws.send(bar_frame(T0, 100.0))
        server.hold(ws, n)

    timing = replace(FAST, reject_grace_s=1.0)
    with LoopbackServer(scenario) as server:
        _runner, rec = start_runner(ToyStream(server.url), timing)
        wait_until(lambda: rec.bar_times())
        wait_until(lambda: rec.statuses[-1].state is StreamState.LIVE)
        status = rec.statuses[-1]
        assert status.message == "index-tickers BTC-USD: refused, no such instrument"
        assert status.label == "live"
        time.sleep(0.1)
        assert server.connections == 1 and not rec.gaps


def test_venue_reconnect_request_reopens(start_runner):
    def scenario(ws, n):
        ws.send(bar_frame(T0 + n * 3_600_000, 100.0))
        if n == 0:
            ws.send(json.dumps({"reconnect": "serverShutdown"}))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        _runner, rec = start_runner(ToyStream(server.url))
        wait_until(lambda: len(rec.bar_times()) == 2 and rec.gaps)
        first = next(s for s in rec.statuses if s.state is StreamState.RECONNECTING)
        assert first.message == "venue asked to reconnect: serverShutdown"
        assert server.connections == 2


def test_lifetime_reopens_at_once_when_healthy(start_runner):
    def scenario(ws, n):
        while True:  # a steady stream of data
            ws.send(bar_frame(T0 + n * 3_600_000, 100.0, closed=False))
            time.sleep(0.01)

    timing = replace(FAST, lifetime_s=0.15, stable_s=0.05, backoff_base_s=5.0)
    with LoopbackServer(scenario) as server:
        _runner, rec = start_runner(ToyStream(server.url), timing)
        # no 5 s back-off between; a reconnect's gap is reported just after the server counts
        # the connection, so wait for both
        wait_until(lambda: server.connections >= 3 and len(rec.gaps) >= 2, timeout_s=2.0)
        lifetimes = [s for s in rec.statuses if s.state is StreamState.RECONNECTING]
        assert lifetimes[0].message == "connection lifetime (0.15 s)"
        assert lifetimes[0].retry_at_ms == lifetimes[0].since_ms
        assert len(rec.gaps) >= 2


def test_flood_loses_nothing(start_runner):
    count = 10_000

    def scenario(ws, n):
        for i in range(count):
            ws.send(bar_frame(T0 + i * 60_000, 100.0))
        server.hold(ws, n)

    with LoopbackServer(scenario) as server:
        # FAST's 0.3 s heartbeat would call a connection dead whenever the busy test machine
        # pauses this process that long mid-flood (CI did): the reconnect resends the flood
        runner, rec = start_runner(ToyStream(server.url), replace(FAST, heartbeat_timeout_s=10.0))
        wait_until(lambda: len(rec.events) >= count, timeout_s=20)
        assert rec.bar_times() == [T0 + i * 60_000 for i in range(count)]
        assert runner.stats["messages"] == count and runner.stats["dropped"] == 0
        assert server.connections == 1


def test_refused_connections_back_off_exponentially(start_runner):
    timing = replace(FAST, backoff_base_s=0.02, backoff_cap_s=0.08, jitter=0.0)
    _runner, rec = start_runner(ToyStream("ws://127.0.0.1:9/ws"), timing)
    wait_until(lambda: len(rec.statuses) >= 6)
    reported = zip(rec.statuses, rec.stamps, strict=False)
    waits = [(s.attempt, s.retry_at_ms - stamp) for s, stamp in reported
             if s.state is StreamState.RECONNECTING][:5]
    assert [a for a, _ in waits] == [1, 2, 3, 4, 5]
    assert [w for _, w in waits] == pytest.approx([20, 40, 80, 80, 80], abs=2)
    assert rec.statuses[1].message.startswith("cannot connect: ConnectionRefusedError")
    assert not rec.gaps  # never connected: nothing to fill


def test_backoff_jitter_stays_in_its_range():
    timing = StreamTiming(backoff_base_s=1.0, backoff_cap_s=60.0, jitter=0.5)
    rng = random.Random(3)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (30, 60.0)]:
        draws = [timing.backoff_s(attempt, rng) for _ in range(200)]
        assert min(draws) >= full * 0.5 and max(draws) <= full
        assert max(draws) - min(draws) > full * 0.3  # really jittered


def test_stop_ends_a_stalled_connection_quickly(start_runner):
    with StallServer([bar_frame(T0, 100.0)]) as server:
        runner, rec = start_runner(ToyStream(server.url), replace(FAST, heartbeat_timeout_s=30))
        wait_until(lambda: rec.bar_times())
        started = time.monotonic()
        runner.request_stop()
        assert runner.join(1.0)
        assert time.monotonic() - started < 0.5
        assert rec.statuses[-1].state is StreamState.STOPPED
        assert server.connections == 1 and not rec.gaps


def test_reconnects_leave_no_thread_or_socket_behind(start_runner):
    def scenario(ws, n):
        ws.send(bar_frame(T0 + n * 3_600_000, 100.0))
        if n < 8:
            time.sleep(0.01)
            ws.close(1001, "going away")
            return
        server.hold(ws, n)

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    def steady_scenario(ws, n):
        ws.send(bar_frame(T0, 100.0))
        steady.hold(ws, n)

    timing = replace(FAST, heartbeat_timeout_s=5.0)
    with LoopbackServer(steady_scenario) as steady:
        # the baseline: one live connection, its threads and sockets
        base_runner, base = start_runner(ToyStream(steady.url, name="base"), timing)
        wait_until(lambda: base.statuses and base.statuses[-1].state is StreamState.LIVE)
        threads0, fds0 = threading.active_count(), fds()
        base_runner.request_stop()
        assert base_runner.join(1.0)
    with LoopbackServer(scenario) as server:
        _runner, rec = start_runner(ToyStream(server.url), timing)
        wait_until(lambda: len(rec.gaps) == 8 and rec.statuses[-1].state is StreamState.LIVE)
        wait_until(lambda: threading.active_count() <= threads0)
        assert fds() <= fds0 + 2  # the loopback server's own listening socket and one spare
