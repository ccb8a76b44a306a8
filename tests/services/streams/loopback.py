"""Test-local pieces for the stream runtime: a toy venue protocol and loopback servers.

The toy protocol speaks a tiny JSON dialect, so these tests exercise the runner and the hub, not
a venue's parsing (tests/services/streams/test_protocols.py does that).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from models.stream_events import FILL, LONG, BarUpdate, Liquidation, TickUpdate
from services.streams.base import StreamReconnect, StreamRejected
from services.streams.runner import StreamTiming

SUBSCRIBE = '{"op":"subscribe","args":["toy"]}'
TEST_REQUEST = '{"op":"test_request"}'
TEST_REPLY = '{"op":"test"}'

# Milliseconds, not seconds: back-off 10-40 ms, the watchdog at 300 ms.
FAST = StreamTiming(backoff_base_s=0.01, backoff_cap_s=0.04, jitter=0.5,
                    heartbeat_timeout_s=0.3, stable_s=30.0, rejected_retry_s=30.0,
                    reject_grace_s=0.05,
                    open_timeout_s=1.0, close_timeout_s=0.1, protocol_ping_s=None,
                    protocol_ping_timeout_s=None)


def bar_frame(time_ms: int, close: float, *, closed: bool = True) -> str:
    return json.dumps({"k": "bar", "t": time_ms, "o": close - 1, "h": close + 2,
                       "l": close - 3, "c": close, "v": 1.5, "x": closed})


def tick_frame(time_ms: int, **values: float) -> str:
    return json.dumps({"k": "tick", "t": time_ms, "v": values})


def liq_frame(time_ms: int, side: str, qty: float, price: float) -> str:
    return json.dumps({"k": "liq", "t": time_ms, "s": side, "q": qty, "p": price})


class ToyStream:
    """A `VenueStream` for tests: one subscribe frame, text ping, Deribit-like test_request."""

    def __init__(self, url: str, *, name: str = "toy", venue: str = "toyvenue",
                 ping_frame: str | None = "ping", idle_ping_s: float = 0.0,
                 max_lifetime_s: float | None = None) -> None:
        self._url = url
        self.name = name
        self.venue = venue
        self.ping_frame = ping_frame
        self.idle_ping_s = idle_ping_s
        self.max_lifetime_s = max_lifetime_s
        self.resets = 0

    def url(self) -> str:
        return self._url

    def subscribe_frames(self) -> list[str]:
        return [SUBSCRIBE]

    def replies(self, raw: str | bytes) -> list[str]:
        return [TEST_REPLY] if raw == TEST_REQUEST else []

    def reset(self) -> None:
        self.resets += 1

    def parse(self, raw: str | bytes, recv_ns: int):
        if raw in ("pong", TEST_REQUEST):
            return []
        try:
            msg = json.loads(raw)
        except ValueError:
            raise ValueError(f"toy: not JSON: {str(raw)[:40]!r}") from None
        if "reject" in msg:
            raise StreamRejected(msg["reject"])
        if "reconnect" in msg:
            raise StreamReconnect(msg["reconnect"])
        kind = msg.get("k")
        if kind == "bar":
            return [BarUpdate("btc.1h", "binance", msg["t"], msg["o"], msg["h"], msg["l"],
                              msg["c"], msg["v"], msg["x"], recv_ns)]
        if kind == "tick":
            return [TickUpdate(self.venue, "btc", msg["t"], msg["v"], recv_ns)]
        if kind == "liq":
            qty, price = msg["q"], msg["p"]
            return [Liquidation(msg["t"], self.venue, "BTCUSDT", "btc", msg["s"], qty, price,
                                qty * price, FILL, recv_ns)]
        return []


Scenario = Callable[[ServerConnection, int], None]


class LoopbackServer:
    """A websockets server on 127.0.0.1: each connection reads the subscribe frame, then runs
    `scenario(ws, connection_number)`; every frame the client sends is recorded."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.received: list[list[str]] = []
        self._lock = threading.Lock()
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None,
                             close_timeout=0.2)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self.received)

    def _handle(self, ws: ServerConnection) -> None:
        with self._lock:
            number = len(self.received)
            self.received.append([])
        try:
            self.received[number].append(ws.recv(timeout=2))
            self.scenario(ws, number)
        except (ConnectionClosed, TimeoutError, OSError):
            pass

    def hold(self, ws: ServerConnection, number: int) -> None:
        """Keep the connection open, recording what the client sends, until it closes."""
        try:
            for message in ws:
                self.received[number].append(message)
        except ConnectionClosed:
            pass

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(2)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def abort(ws: ServerConnection) -> None:
    """Drop the TCP connection without a close frame (the client sees 1006)."""
    ws.socket.shutdown(socket.SHUT_RDWR)


def send_half_message(ws: ServerConnection, text: str) -> None:
    """The first fragment of a text message (FIN clear), straight onto the socket, then drop."""
    payload = text.encode()
    ws.socket.sendall(bytes([0x01, len(payload)]) + payload)
    abort(ws)


class StallServer:
    """A raw-socket websocket server that completes the handshake, sends `first` frames, then
    goes silent: it reads nothing more, so neither text pings nor protocol pings get an answer."""

    def __init__(self, first: list[str]) -> None:
        self.first = first
        self.connections = 0
        self._held: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(
                key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            for text in self.first:
                payload = text.encode()
                conn.sendall(bytes([0x81, len(payload)]) + payload)
            self._held.append(conn)
            self.connections += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._listener.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> StallServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def wait_until(predicate: Callable[[], object], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


__all__ = ["FAST", "LONG", "LoopbackServer", "StallServer", "ToyStream", "abort", "bar_frame",
           "liq_frame", "send_half_message", "tick_frame", "wait_until"]
