"""One venue connection on its own thread, kept up.

Maintainer notes: docs/streams.md, "Connections, hub and recorder".

A `StreamRunner` owns one `VenueStream`: it connects (`websockets` threading client, no
compression: its deflate offer has broken exchange connections), sends the subscribe frames,
answers the venue's keep-alive, parses each frame and hands the events to the hub. It reconnects
with jittered exponential back-off after any failure, reopens before the venue's lifetime cut,
and reports each state change as a `StreamStatus` and each reconnect as a `Gap` (REST fills it).

Failures end in a status, never in a traceback on the thread: a closed or dropped connection, a
silent server (the heartbeat watchdog), a refused subscription (a long wait, no tight loop), a
malformed frame (counted, logged once, the connection kept) or one too big (websockets closes
with 1009; counted, reconnect).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import connect

from models.stream_events import BarUpdate, Gap, Liquidation, StreamState, StreamStatus, TickUpdate
from services.streams.base import StreamReconnect, StreamRejected, VenueStream

log = logging.getLogger(__name__)

Event = BarUpdate | TickUpdate | Liquidation
# Close codes we send: 1000 for a planned reopen, 4000 (application range) when the watchdog
# gives up on a silent server.
WATCHDOG_CLOSE = 4000
MESSAGE_TOO_BIG = 1009


@dataclass(frozen=True)
class StreamTiming:
    """Every delay the runner uses; tests inject milliseconds."""

    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    jitter: float = 0.5  # a delay d is drawn uniformly from [(1 - jitter) × d, d]
    heartbeat_timeout_s: float = 90.0  # no frame at all for this long: the server is stalled
    ping_s: float | None = None  # overrides each venue's idle_ping_s
    lifetime_s: float | None = None  # overrides each venue's max_lifetime_s
    stable_s: float = 60.0  # a connection that delivered data this long resets the back-off
    rejected_retry_s: float = 600.0  # a refused subscription is retried this much later
    reject_grace_s: float = 5.0  # after a refusal, data within this keeps the connection
    open_timeout_s: float = 10.0
    close_timeout_s: float = 0.5  # a stalled server delays a close (and stop) this long
    protocol_ping_s: float | None = 20.0  # websockets' own ping; a missing pong closes (1011)
    protocol_ping_timeout_s: float | None = 20.0
    max_frame_bytes: int = 4 * 1024 * 1024

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        """The wait before connection attempt `attempt` (1, 2, …) after a failure."""
        full = min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(0, attempt - 1))
        return full * (1.0 - self.jitter * rng.random())


class _End(Enum):
    STOPPED = "stopped"
    FAILED = "failed"  # could not connect, or the connection broke: back off
    RECONNECT = "reconnect"  # the venue asked for it (or our lifetime limit): reopen soon
    REJECTED = "rejected"  # a subscription was refused: wait long


@dataclass
class _Outcome:
    end: _End
    message: str = ""
    opened: bool = False
    live_s: float = 0.0  # how long the connection delivered data


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def describe_close(exc: ConnectionClosed) -> str:
    """One line for the status chip: who closed, the code and the reason."""
    if exc.rcvd is not None:
        reason = f" {exc.rcvd.reason}" if exc.rcvd.reason else ""
        return f"closed by the venue ({exc.rcvd.code}{reason})"
    if exc.sent is not None and exc.sent.code == MESSAGE_TOO_BIG:
        return f"a frame over the size limit ({MESSAGE_TOO_BIG})"
    if exc.sent is not None:
        return f"closed ({exc.sent.code} {exc.sent.reason})".rstrip()
    return "connection lost (1006)"


def _close_quietly(ws) -> None:
    # the connection may already be failing under the runner thread: nothing left to report
    with contextlib.suppress(Exception):
        ws.close()


class StreamRunner:
    """Keeps one venue connection up on a daemon thread until `request_stop`."""

    def __init__(self, stream: VenueStream, *, timing: StreamTiming,
                 on_events: Callable[[str, Sequence[Event]], None],
                 on_status: Callable[[str, StreamStatus], None],
                 on_gap: Callable[[Gap], None],
                 rng: random.Random | None = None) -> None:
        self.stream = stream
        self.timing = timing
        self._on_events = on_events
        self._on_status = on_status
        self._on_gap = on_gap
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ws = None
        self._thread: threading.Thread | None = None
        self._logged: set[str] = set()  # what was already logged once per kind
        self.stats = {"messages": 0, "bytes": 0, "events": 0, "reconnects": 0, "dropped": 0,
                      "malformed": 0, "oversized": 0}
        self.status = StreamStatus(stream.venue, StreamState.STOPPED, since_ms=now_ms())
        self._last_frame_ms = 0  # wall time of the last frame received: a gap starts there
        self._live_since: float | None = None  # monotonic time of this connection's first data

    # -- control ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.stream.name}",
                                        daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end: wakes a blocked `recv` by closing the socket (on a helper
        thread, so a stalled server's close handshake delays no one)."""
        self._stop.set()
        with self._lock:
            ws = self._ws
        if ws is not None:
            threading.Thread(target=_close_quietly, args=(ws,), name=f"close-{self.stream.name}",
                             daemon=True).start()

    def join(self, timeout_s: float) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # -- the thread ---------------------------------------------------------------------------
    def _set_status(self, state: StreamState, *, attempt: int = 0, message: str = "",
                    retry_in_s: float | None = None) -> None:
        now = now_ms()
        retry_at = None if retry_in_s is None else now + int(retry_in_s * 1000)
        since = self.status.since_ms if state is self.status.state else now
        self.status = StreamStatus(self.stream.venue, state, attempt, message, retry_at, since)
        self._on_status(self.stream.name, self.status)

    def _log_once(self, kind: str, text: str, *args: object) -> None:
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("stream %s: " + text + " (logged once; counted in stats)",
                        self.stream.name, *args)

    def _run(self) -> None:
        attempt = 0  # failures since the last stable connection: the back-off exponent
        gap_since: int | None = None
        first = True
        while not self._stop.is_set():
            if not first:
                self.stats["reconnects"] += 1
            first = False
            try:
                self.stream.reset()
                outcome = self._session(gap_since)
            except Exception as e:  # a bug in a protocol module must not kill the thread
                log.exception("stream %s: internal error", self.stream.name)
                outcome = _Outcome(_End.FAILED, f"internal error: {e.__class__.__name__}: {e}")
            if outcome.opened:
                gap_since = self._last_frame_ms
            if outcome.end is _End.STOPPED or self._stop.is_set():
                break
            healthy = outcome.live_s >= self.timing.stable_s
            if healthy:
                attempt = 0
            if outcome.end is _End.REJECTED:
                delay = self.timing.rejected_retry_s
                self._set_status(StreamState.POLLING, message=outcome.message, retry_in_s=delay)
            elif outcome.end is _End.RECONNECT and healthy:
                delay = 0.0  # a planned reopen of a healthy connection: at once
                self._set_status(StreamState.RECONNECTING, attempt=1, message=outcome.message,
                                 retry_in_s=delay)
            else:
                attempt += 1
                delay = self.timing.backoff_s(attempt, self._rng)
                self._set_status(StreamState.RECONNECTING, attempt=attempt,
                                 message=outcome.message, retry_in_s=delay)
                log.info("stream %s: %s; attempt %d in %.3g s", self.stream.name,
                         outcome.message, attempt, delay)
            if self._stop.wait(delay):
                break
        self._set_status(StreamState.STOPPED)

    def _session(self, gap_since: int | None) -> _Outcome:
        t = self.timing
        stream = self.stream
        if self.status.state is StreamState.STOPPED:
            self._set_status(StreamState.CONNECTING)
        opened = False
        try:
            with connect(stream.url(), compression=None, open_timeout=t.open_timeout_s,
                         close_timeout=t.close_timeout_s, max_size=t.max_frame_bytes,
                         ping_interval=t.protocol_ping_s,
                         ping_timeout=t.protocol_ping_timeout_s) as ws:
                opened = True
                return self._on_socket(ws, gap_since)
        except InvalidStatus as e:
            return _Outcome(_End.FAILED, f"handshake refused: HTTP {e.response.status_code}")
        except InvalidURI as e:
            return _Outcome(_End.FAILED, f"bad stream URL: {e}")
        except (InvalidHandshake, TimeoutError, OSError) as e:
            if opened:  # the socket failed under us after the handshake
                return _Outcome(_End.FAILED, f"connection lost: {e}", True, self._live_s())
            return _Outcome(_End.FAILED, f"cannot connect: {e.__class__.__name__}: {e}".rstrip())

    def _on_socket(self, ws, gap_since: int | None) -> _Outcome:
        t = self.timing
        with self._lock:
            if self._stop.is_set():
                return _Outcome(_End.STOPPED, opened=True)
            self._ws = ws
        try:
            return self._converse(ws, gap_since)
        except ConnectionClosed as e:
            if self._stop.is_set():
                return _Outcome(_End.STOPPED, opened=True)
            message = describe_close(e)
            if e.rcvd is None and e.sent is not None and e.sent.code == MESSAGE_TOO_BIG:
                self.stats["oversized"] += 1
                self.stats["dropped"] += 1
                self._log_once("oversized", "a frame over %d bytes: reconnecting",
                               t.max_frame_bytes)
            return _Outcome(_End.FAILED, message, True, self._live_s())
        except StreamReconnect as e:
            ws.close(1000, "reconnect")
            return _Outcome(_End.RECONNECT, f"venue asked to reconnect: {e}", True,
                            self._live_s())
        finally:
            with self._lock:
                self._ws = None

    def _live_s(self) -> float:
        return 0.0 if self._live_since is None else time.monotonic() - self._live_since

    def _converse(self, ws, gap_since: int | None) -> _Outcome:
        t = self.timing
        stream = self.stream
        for frame in stream.subscribe_frames():
            ws.send(frame)
        opened = time.monotonic()
        self._last_frame_ms = now_ms()
        self._live_since = None
        if gap_since is not None:
            self._on_gap(Gap(stream.venue, gap_since, self._last_frame_ms))
        ping_s = t.ping_s if t.ping_s is not None else stream.idle_ping_s
        ping_s = ping_s if stream.ping_frame and ping_s else None
        lifetime = t.lifetime_s if t.lifetime_s is not None else stream.max_lifetime_s
        last_frame = last_ping = opened
        refused_at: float | None = None
        refused = ""
        while not self._stop.is_set():
            now = time.monotonic()
            deadline = last_frame + t.heartbeat_timeout_s
            if refused_at is not None and self._live_since is None:
                deadline = min(deadline, refused_at + t.reject_grace_s)
            if ping_s is not None:
                deadline = min(deadline, max(last_frame, last_ping) + ping_s)
            if lifetime:
                deadline = min(deadline, opened + lifetime)
            try:
                raw = ws.recv(timeout=max(0.0, deadline - now))
            except TimeoutError:
                now = time.monotonic()
                if (refused_at is not None and self._live_since is None
                        and now - refused_at >= t.reject_grace_s):
                    ws.close()  # refused, and nothing else flows: wait long, no tight loop
                    return _Outcome(_End.REJECTED, refused, True, 0.0)
                if now - last_frame >= t.heartbeat_timeout_s:
                    ws.close(WATCHDOG_CLOSE, "heartbeat timeout")
                    return _Outcome(_End.FAILED,
                                    f"no frame for {t.heartbeat_timeout_s:g} s (watchdog)",
                                    True, self._live_s())
                if lifetime and now - opened >= lifetime:
                    ws.close(1000, "lifetime")
                    return _Outcome(_End.RECONNECT, f"connection lifetime ({lifetime:g} s)",
                                    True, self._live_s())
                if ping_s is not None and now - max(last_frame, last_ping) >= ping_s:
                    ws.send(stream.ping_frame)
                    last_ping = now
                continue
            recv_ns = time.perf_counter_ns()
            last_frame = time.monotonic()
            self._last_frame_ms = now_ms()
            self.stats["messages"] += 1
            self.stats["bytes"] += len(raw)
            for reply in stream.replies(raw):
                ws.send(reply)
            try:
                events = stream.parse(raw, recv_ns)
            except ValueError as e:
                self.stats["malformed"] += 1
                self.stats["dropped"] += 1
                self._log_once("malformed", "malformed frame dropped: %s", e)
                continue
            except StreamRejected as e:
                # Other subscriptions on this connection may still flow: keep it for
                # reject_grace_s, say what was refused, and give up only if nothing comes.
                refused = str(e) if "refused" in str(e) else f"subscription refused: {e}"
                refused_at = refused_at or last_frame
                log.warning("stream %s: %s", stream.name, refused)
                if self._live_since is not None:
                    self._set_status(StreamState.LIVE, message=refused)
                continue
            if events:
                if self._live_since is None:
                    self._live_since = last_frame
                    self._set_status(StreamState.LIVE, message=refused)
                self.stats["events"] += len(events)
                self._on_events(stream.name, events)
        return _Outcome(_End.STOPPED, opened=True)
