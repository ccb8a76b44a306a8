"""Loopback stand-ins for the six venue websockets Rotor streams from (docs/streams.md).

One `websockets.sync.server` per venue on 127.0.0.1 (port 0, daemon threads), each speaking that
venue's documented protocol: its subscribe request and ack (or refusal), its keep-alive (Binance
protocol pings, Bybit `{"op":"ping"}`, OKX text `ping`/`pong`, Deribit `set_heartbeat` +
`test_request`, Hyperliquid `{"method":"ping"}` and its text greeting), its idle cut (OKX 4004 after
30 s without traffic), and data frames in the documented shapes for what the client subscribed to,
at `rates[name]` frames per second per connection. Prices follow bench/fake_venues.py's
deterministic path, so a closed stream kline equals the REST fake's bar for the same interval;
time is the wall clock. Nothing here is a market price.

Faults, per venue, on the connections open at the time (switches also on later ones):
`disconnect_mid_message`, `stall` (sends nothing, answers nothing: not even protocol pongs),
`malformed`, `oversized`, `close(code, reason)` (1006 = a TCP cut without a close frame),
`reject_subscription`, `flood`, `burst` (liquidations), `announce_reconnect` (Binance
serverShutdown, OKX notice 64008), `skip_snapshot` (Bybit deltas before any snapshot).

    with FakeStreamVenues(rates={"bybit": 50}) as fake:
        env = fake.env()          # ROTOR_*_WS -> ws://127.0.0.1:port/...
        fake.burst("bybit", 2000, 10)
"""

from __future__ import annotations

import itertools
import json
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from bench.fake_venues import _funding_rate, price_at

NAMES = ("binance_spot", "binance_futures", "bybit", "okx", "deribit", "hyperliquid")
# Realistic per-connection rates for two assets (docs/streams.md): Binance klines every 2 s per
# stream and markPrice@1s, Bybit tickers every 100 ms, OKX mark-price every 200 ms, Deribit 100 ms
# channels, Hyperliquid about 1 s.
DEFAULT_RATES = {"binance_spot": 2.0, "binance_futures": 2.0, "bybit": 20.0, "okx": 10.0,
                 "deribit": 20.0, "hyperliquid": 2.0}
# The server closes a connection that saw no traffic either way for this long.
DEFAULT_IDLE_CUT_S = {"bybit": 600.0, "okx": 30.0, "hyperliquid": 60.0}
IDLE_CLOSE = {"okx": (4004, "No data received in 30s."), "bybit": (1000, "idle"),
              "hyperliquid": (1000, "idle")}
# The route each venue's URL carries (the fake checks Binance USD-M's `/market`).
PATHS = {"binance_spot": "", "binance_futures": "/market", "bybit": "/v5/public/linear",
         "okx": "/ws/v5/public", "deribit": "/ws/api/v2", "hyperliquid": "/ws"}
# Binance counts every incoming message per connection and cuts above this many per second.
BINANCE_INCOMING_LIMIT = {"binance_spot": 5, "binance_futures": 10}
BINANCE_PING_S = {"binance_spot": 20.0, "binance_futures": 180.0}
LIQUIDATION_VENUES = ("binance_futures", "bybit", "okx", "deribit")
RECONNECT_VENUES = ("binance_spot", "binance_futures", "okx")
DEFAULT_OVERSIZED = 4 * 1024 * 1024 + 1  # above a 4 MiB client max_size
MAX_CATCH_UP = 500  # frames sent per wake when behind schedule, so incoming frames are read
SECOND_MS = 1000
INTERVAL_MS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
               "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000,
               "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000,
               "3d": 259_200_000, "1w": 604_800_000}
H = 3_600_000
OTHER_OKX_SWAP = "DOGE-USDT-SWAP"  # liquidations of a swap we did not ask about: filtered out


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _coin(symbol: str) -> str:
    return symbol.replace("USDT", "").split("-")[0].split("_")[0].upper()


def _px(symbol: str, t: int, rng: random.Random) -> float:
    """The fake path plus a tick of noise, so consecutive frames differ."""
    return price_at(_coin(symbol), t) * (1.0 + 2e-5 * rng.uniform(-1.0, 1.0))


def _partial_frame(text: str) -> bytes:
    """A server text frame's header announcing the whole payload, followed by half of it."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload[: max(1, n // 2)]


# -- sessions ---------------------------------------------------------------------------------
class Session:
    """One client connection's state; only its handler thread sends on it, except the faults
    that must cut in from outside (stall, close, a mid-message cut) under the protocol mutex."""

    def __init__(self, name: str, ws: ServerConnection, seed: int) -> None:
        self.name = name
        self.ws = ws
        self.rng = random.Random(seed)
        self.items: list[tuple[str, ...]] = []  # subscribed data items, sent round robin
        self.liquidation_items: list[tuple[str, ...]] = []
        self.cursor = 0
        self.actions: deque[tuple[str, Any]] = deque()
        self.bursts: list[list[float]] = []  # [rate, end, next_due]
        self.flood: list[float] | None = None  # [rate or 0, end, next_due]
        self.stall_held = False
        self.route_ok = True
        self.last_traffic = time.monotonic()
        self.heartbeat_s: float | None = None
        self.heartbeat_due = 0.0
        self.test_pending = False
        self.incoming: deque[float] = deque()
        self.bars: dict[tuple[str, str], int] = {}  # Binance kline: open time of the bar sent
        self.snapshot_sent: set[str] = set()
        self.combined = False  # Binance `/stream`: frames wrapped as {"stream", "data"}
        self.malformed_left = 0
        self.sent = 0


class FakeStreamVenues:
    def __init__(self, rates: Mapping[str, float] | None = None, *,
                 idle_cut_s: Mapping[str, float] | None = None,
                 liquidation_share: float = 0.05, seed: int = 15) -> None:
        self.rates = {**DEFAULT_RATES, **(rates or {})}
        self.idle_cut_s = {**DEFAULT_IDLE_CUT_S, **(idle_cut_s or {})}
        self.liquidation_share = liquidation_share
        self._seeds = itertools.count(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sessions: dict[str, list[Session]] = {n: [] for n in NAMES}
        self._switches: dict[str, dict[str, Any]] = {n: {} for n in NAMES}
        self.connects = dict.fromkeys(NAMES, 0)
        self.sent = dict.fromkeys(NAMES, 0)
        self.received: dict[str, deque[str]] = {n: deque(maxlen=10_000) for n in NAMES}
        self._servers: dict[str, Server] = {}
        self._threads: list[threading.Thread] = []
        self.ports: dict[str, int] = {}
        self._started = False

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> FakeStreamVenues:
        if self._started:
            return self
        for name in NAMES:
            binance = name in BINANCE_PING_S
            server = serve(lambda ws, name=name: self._handle(name, ws), "127.0.0.1", 0,
                           compression=None, max_size=2**20, close_timeout=1,
                           ping_interval=BINANCE_PING_S.get(name) if binance else None,
                           ping_timeout=60.0 if name == "binance_spot" else 600.0)
            self._servers[name] = server
            self.ports[name] = server.socket.getsockname()[1]
            thread = threading.Thread(target=server.serve_forever, daemon=True,
                                      name=f"fake-stream-{name}")
            thread.start()
            self._threads.append(thread)
        self._started = True
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            for switches in self._switches.values():
                switches.clear()
            sessions = [s for group in self._sessions.values() for s in group]
        for s in sessions:
            self._unstall(s)
        for server in self._servers.values():
            server.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> FakeStreamVenues:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, name: str) -> str:
        return f"ws://127.0.0.1:{self.ports[name]}{PATHS[name]}"

    def env(self) -> dict[str, str]:
        from services.streams.endpoints import WS_ENV_VARS

        return {WS_ENV_VARS[name]: self.url(name) for name in NAMES}

    # -- observation --------------------------------------------------------------------------
    def sessions(self, name: str) -> list[Session]:
        with self._lock:
            return list(self._sessions[name])

    def open_connections(self, name: str) -> int:
        return len(self.sessions(name))

    def wait_subscribed(self, name: str, count: int = 1, timeout: float = 5.0) -> bool:
        """True once `count` open connections have subscribed to something."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for s in self.sessions(name) if s.items or s.liquidation_items) >= count:
                return True
            time.sleep(0.005)
        return False

    # -- controls -----------------------------------------------------------------------------
    def set_rate(self, name: str, msgs_per_s: float) -> None:
        self.rates[name] = msgs_per_s

    def burst(self, name: str, msgs_per_s: float, seconds: float) -> None:
        """Liquidation messages at `msgs_per_s` for `seconds` on every open connection, on top
        of the regular frames."""
        if name not in LIQUIDATION_VENUES:
            raise ValueError(f"{name} has no public liquidation feed")
        self._act(name, "burst", (msgs_per_s, seconds))

    def flood(self, name: str, seconds: float, msgs_per_s: float | None = None) -> None:
        """Regular data frames as fast as the socket takes them (or at `msgs_per_s`)."""
        self._act(name, "flood", (msgs_per_s or 0.0, seconds))

    def malformed(self, name: str, count: int = 1) -> None:
        """The next `count` data frames are cut short (not valid JSON)."""
        self._act(name, "malformed", count)

    def oversized(self, name: str, size_bytes: int = DEFAULT_OVERSIZED) -> None:
        """One well-formed data frame padded to `size_bytes`."""
        self._act(name, "oversized", size_bytes)

    def announce_reconnect(self, name: str) -> None:
        """Binance `serverShutdown`, OKX notice 64008: the venue asks clients to reconnect."""
        if name not in RECONNECT_VENUES:
            raise ValueError(f"{name} has no reconnect notice")
        self._act(name, "announce", None)

    def reject_subscription(self, name: str, on: bool = True) -> None:
        """Refuse subscriptions (in the venue's error shape) on connections opened from now on
        and on resubscriptions; no data flows for refused items."""
        self._switch(name, "reject", on)

    def skip_snapshot(self, name: str = "bybit", on: bool = True) -> None:
        """Bybit only: new subscriptions get deltas without their snapshot first."""
        if name != "bybit":
            raise ValueError("only Bybit's tickers send a snapshot before deltas")
        self._switch(name, "skip_snapshot", on)

    def stall(self, name: str, on: bool = True) -> None:
        """Stop sending and stop answering (protocol pings included) until stall(name, False);
        connections opened meanwhile stall once their handshake is done."""
        self._switch(name, "stall", on)
        for s in self.sessions(name):
            if on:
                self._stall(s)
            else:
                self._unstall(s)

    def close(self, name: str, code: int = 1001, reason: str = "") -> None:
        """Close the open connections with `code`; 1006 cuts TCP without a close frame."""
        for s in self.sessions(name):
            self._unstall(s)
            if code == 1006:
                self._cut(s)
            else:
                s.ws.close(code, reason)

    def disconnect_mid_message(self, name: str) -> None:
        """Send half of a data frame, then cut TCP: the client sees a frame that never ends."""
        for s in self.sessions(name):
            self._unstall(s)
            text = _dumps({"topic": "cut", "data": "x" * 512})
            with s.ws.protocol_mutex:
                try:
                    s.ws.socket.sendall(_partial_frame(text))
                except OSError:
                    pass
                self._cut(s)

    # -- internals: switches and actions ------------------------------------------------------
    def _switch(self, name: str, key: str, on: bool) -> None:
        with self._lock:
            if on:
                self._switches[name][key] = True
            else:
                self._switches[name].pop(key, None)

    def _on(self, name: str, key: str) -> bool:
        with self._lock:
            return bool(self._switches[name].get(key))

    def _act(self, name: str, action: str, arg: Any) -> None:
        for s in self.sessions(name):
            s.actions.append((action, arg))

    def _stall(self, s: Session) -> None:
        with self._lock:
            if s.stall_held:
                return
            s.stall_held = True
        # Holding the connection's protocol mutex freezes its reader thread (no pong, no close
        # handshake) and its sender, as a venue that stopped processing would.
        s.ws.protocol_mutex.acquire()

    def _unstall(self, s: Session) -> None:
        with self._lock:
            if not s.stall_held:
                return
            s.stall_held = False
        s.ws.protocol_mutex.release()

    @staticmethod
    def _cut(s: Session) -> None:
        try:
            s.ws.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- the connection handler ---------------------------------------------------------------
    def _handle(self, name: str, ws: ServerConnection) -> None:
        venue = VENUE_PROTOCOLS[name]
        session = Session(name, ws, next(self._seeds))
        with self._lock:
            self._sessions[name].append(session)
            self.connects[name] += 1
        try:
            if self._on(name, "stall"):
                self._stall(session)
            self._serve(name, venue, session)
        except ConnectionClosed:
            pass
        except OSError:  # the socket was cut under us (a fault)
            pass
        finally:
            self._unstall(session)
            with self._lock:
                self._sessions[name].remove(session)

    def _send(self, s: Session, text: str) -> None:
        s.ws.send(text)
        s.sent += 1
        s.last_traffic = time.monotonic()
        with self._lock:
            self.sent[s.name] += 1

    def _serve(self, name: str, venue: VenueProtocol, s: Session) -> None:
        for frame in venue.on_connect(self, s):
            self._send(s, frame)
        next_data = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            rate = self.rates.get(name, 0.0)
            due = [0.25]
            sending = bool(rate > 0 and (s.items or s.liquidation_items) and s.route_ok)
            if sending:
                due.append(next_data - now)
            if s.heartbeat_s:
                due.append(s.heartbeat_due - now)
            due += [b[2] - now for b in s.bursts]
            if s.flood:
                due.append(0.0 if s.flood[0] == 0 else s.flood[2] - now)
            if s.actions:
                due.append(0.0)
            try:
                text = s.ws.recv(timeout=max(0.0, min(due)))
            except TimeoutError:
                text = None
            if text is not None:
                if isinstance(text, bytes):
                    text = text.decode("utf-8", "replace")
                self.received[name].append(text)
                s.last_traffic = time.monotonic()
                if not self._count_incoming(name, s):
                    return
                for reply in venue.on_message(self, s, text):
                    self._send(s, reply)
            self._run_actions(venue, s)
            now = time.monotonic()
            if sending:
                sent = 0
                while next_data <= now and sent < MAX_CATCH_UP:
                    self._send_data(venue, s)
                    next_data += 1.0 / rate
                    sent += 1
                if next_data < now - 1.0:  # far behind (a stall): do not replay the backlog
                    next_data = now
            else:
                next_data = now
            self._run_bursts(venue, s, now)
            self._run_flood(venue, s, now)
            if s.heartbeat_s and now >= s.heartbeat_due:
                if s.test_pending:  # Deribit closes at once when a test_request goes unanswered
                    s.ws.close(1000, "heartbeat test_request unanswered")
                    return
                self._send(s, _dumps({"jsonrpc": "2.0", "method": "heartbeat",
                                      "params": {"type": "test_request"}}))
                s.test_pending = True
                s.heartbeat_due = now + s.heartbeat_s
            cut = self.idle_cut_s.get(name)
            if cut and now - s.last_traffic > cut:
                code, reason = IDLE_CLOSE[name]
                s.ws.close(code, reason)
                return

    def _count_incoming(self, name: str, s: Session) -> bool:
        limit = BINANCE_INCOMING_LIMIT.get(name)
        if not limit:
            return True
        now = time.monotonic()
        s.incoming.append(now)
        while s.incoming and s.incoming[0] < now - 1.0:
            s.incoming.popleft()
        if len(s.incoming) > limit:
            s.ws.close(1008, "Too many requests")
            return False
        return True

    def _send_data(self, venue: VenueProtocol, s: Session) -> None:
        liq = (s.liquidation_items and
               (not s.items or s.rng.random() < self.liquidation_share))
        frame = venue.liquidation(s, now_ms()) if liq else venue.data(s, now_ms())
        if frame is not None:
            for text in ([frame] if isinstance(frame, str) else frame):
                self._send(s, self._maybe_corrupt(s, text))

    @staticmethod
    def _maybe_corrupt(s: Session, text: str) -> str:
        if s.malformed_left > 0:
            s.malformed_left -= 1
            return text[: max(1, len(text) // 2)]
        return text

    def _run_actions(self, venue: VenueProtocol, s: Session) -> None:
        while s.actions:
            action, arg = s.actions.popleft()
            now = time.monotonic()
            if action == "burst":
                rate, seconds = arg
                s.bursts.append([rate, now + seconds, now])
            elif action == "flood":
                rate, seconds = arg
                s.flood = [rate, now + seconds, now]
            elif action == "malformed":
                s.malformed_left += arg
            elif action == "oversized":
                text = venue.data(s, now_ms())
                if isinstance(text, list):
                    text = text[0]
                if text is None:
                    text = _dumps({"event": "filler"})
                pad = max(0, arg - len(text) - 12)
                self._send(s, text[:-1] + ',"pad":"' + "x" * pad + '"}')
            elif action == "announce":
                self._send(s, venue.reconnect_notice())

    def _run_bursts(self, venue: VenueProtocol, s: Session, now: float) -> None:
        for b in list(s.bursts):
            rate, end, _ = b
            sent = 0
            while b[2] <= min(now, end) and sent < MAX_CATCH_UP:
                frame = venue.liquidation(s, now_ms())
                if frame is not None:
                    self._send(s, frame)
                b[2] += 1.0 / rate
                sent += 1
            if b[2] > end or now > end + 1.0:
                s.bursts.remove(b)

    def _run_flood(self, venue: VenueProtocol, s: Session, now: float) -> None:
        if not s.flood:
            return
        rate, end, _ = s.flood
        if now > end:
            s.flood = None
            return
        sent = 0
        while sent < MAX_CATCH_UP and (rate == 0 or s.flood[2] <= now):
            self._send_data(venue, s)
            s.flood[2] += 1.0 / rate if rate else 0.0
            sent += 1


# -- venue protocols --------------------------------------------------------------------------
class VenueProtocol:
    """What one venue answers and sends; `data`/`liquidation` return a frame or None."""

    def on_connect(self, fake: FakeStreamVenues, s: Session) -> list[str]:
        return []

    def on_message(self, fake: FakeStreamVenues, s: Session, text: str) -> list[str]:
        raise NotImplementedError

    def data(self, s: Session, t: int) -> str | list[str] | None:
        if not s.items:
            return None
        item = s.items[s.cursor % len(s.items)]
        s.cursor += 1
        return self.frame(s, item, t)

    def frame(self, s: Session, item: tuple[str, ...], t: int) -> str | list[str] | None:
        raise NotImplementedError

    def liquidation(self, s: Session, t: int) -> str | None:
        return None

    def reconnect_notice(self) -> str:
        raise ValueError("no reconnect notice")


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


class BinanceProtocol(VenueProtocol):
    """Spot klines; USD-M markPrice and forceOrder. `/ws` + SUBSCRIBE, `/ws/<streams>` and
    `/stream?streams=` (combined: wrapped frames)."""

    def __init__(self, futures: bool) -> None:
        self.futures = futures

    def on_connect(self, fake: FakeStreamVenues, s: Session) -> list[str]:
        request = s.ws.request
        parts = urlsplit(request.path if request else "/")
        path = parts.path
        if self.futures:
            # Since 2026-04-23 an unrouted USD-M connection handshakes but gets none of these.
            s.route_ok = path.startswith("/market/") or path == "/market"
            path = path.removeprefix("/market")
        s.combined = path.startswith("/stream")
        names: list[str] = []
        if path.startswith("/ws/"):
            names = path[len("/ws/"):].split("/")
        elif s.combined:
            names = parse_qs(parts.query).get("streams", [""])[0].split("/")
        self._add(s, [n for n in names if n])
        return []

    def on_message(self, fake: FakeStreamVenues, s: Session, text: str) -> list[str]:
        msg = _loads(text)
        if not isinstance(msg, dict) or "method" not in msg:
            return [_dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})]
        if msg["method"] == "SUBSCRIBE":
            if fake._on(s.name, "reject"):
                return [_dumps({"error": {"code": 2, "msg": "Invalid request: unknown stream"},
                                "id": msg.get("id")})]
            self._add(s, [str(p) for p in msg.get("params", [])])
        return [_dumps({"result": None, "id": msg.get("id")})]

    def _add(self, s: Session, names: Iterable[str]) -> None:
        for name in names:
            symbol, _, kind = name.partition("@")
            if kind.startswith("kline_") and not self.futures:
                interval = kind.removeprefix("kline_")
                if interval in INTERVAL_MS:
                    s.items.append(("kline", symbol.upper(), interval, name))
            elif kind.startswith("markPrice") and self.futures:
                s.items.append(("markPrice", symbol.upper(), name))
            elif kind == "forceOrder" and self.futures:
                s.liquidation_items.append(("forceOrder", symbol.upper(), name))

    def _wrap(self, s: Session, stream: str, payload: dict[str, Any]) -> str:
        if s.combined:
            return _dumps({"stream": stream, "data": payload})
        return _dumps(payload)

    def frame(self, s: Session, item: tuple[str, ...], t: int) -> str | list[str] | None:
        if item[0] == "kline":
            return self._kline(s, item, t)
        _, symbol, stream = item
        next_funding = t - t % (8 * H) + 8 * H
        return self._wrap(s, stream, {
            "e": "markPriceUpdate", "E": t, "s": symbol, "p": f"{_px(symbol, t, s.rng):.2f}",
            "i": f"{_px(symbol, t, s.rng):.8f}", "P": f"{price_at(_coin(symbol), t):.8f}",
            "r": f"{_funding_rate('binance', symbol, t):.8f}", "T": next_funding})

    def _kline(self, s: Session, item: tuple[str, ...], t: int) -> list[str]:
        _, symbol, interval, stream = item
        step = INTERVAL_MS[interval]
        bar = t - t % step
        out = []
        previous = s.bars.get((symbol, interval))
        if previous is not None and previous < bar:  # the bar closed since the last frame
            out.append(self._kline_frame(s, symbol, interval, stream, previous, t, closed=True))
        s.bars[(symbol, interval)] = bar
        out.append(self._kline_frame(s, symbol, interval, stream, bar, t, closed=False))
        return out

    def _kline_frame(self, s: Session, symbol: str, interval: str, stream: str, bar: int,
                     t: int, closed: bool) -> str:
        step = INTERVAL_MS[interval]
        coin = _coin(symbol)
        # bench/fake_venues.py's REST bar: open at price(t), close at price(t + step)
        o = price_at(coin, bar)
        c = price_at(coin, bar + step) if closed else price_at(coin, t)
        frac = 1.0 if closed else min(1.0, (t - bar) / step)
        return self._wrap(s, stream, {"e": "kline", "E": t, "s": symbol, "k": {
            "t": bar, "T": bar + step - 1, "s": symbol, "i": interval, "f": 1, "L": 100,
            "o": f"{o:.2f}", "c": f"{c:.2f}", "h": f"{max(o, c) * 1.002:.2f}",
            "l": f"{min(o, c) * 0.998:.2f}", "v": f"{12.5 * frac:.4f}", "n": 100,
            "x": closed, "q": "1000.0", "V": "6.0", "Q": "500.0", "B": "0"}})

    def liquidation(self, s: Session, t: int) -> str | None:
        if not s.liquidation_items:
            return None
        _, symbol, stream = s.rng.choice(s.liquidation_items)
        qty = round(s.rng.uniform(0.001, 2.0), 3)
        price = _px(symbol, t, s.rng)
        side = s.rng.choice(("SELL", "BUY"))
        fill = price * (0.999 if side == "SELL" else 1.001)
        return self._wrap(s, stream, {"e": "forceOrder", "E": t + 2, "o": {
            "s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": f"{qty}",
            "p": f"{price * (0.995 if side == 'SELL' else 1.005):.2f}", "ap": f"{fill:.2f}",
            "X": "FILLED", "l": f"{qty}", "z": f"{qty}", "T": t}})

    def reconnect_notice(self) -> str:
        return _dumps({"e": "serverShutdown", "E": now_ms()})


class BybitProtocol(VenueProtocol):
    def on_message(self, fake: FakeStreamVenues, s: Session, text: str) -> list[str]:
        msg = _loads(text)
        if not isinstance(msg, dict):
            return [_dumps({"success": False, "ret_msg": "Invalid JSON", "op": ""})]
        op = msg.get("op")
        if op == "ping":
            return [_dumps({"success": True, "ret_msg": "pong", "conn_id": "fake",
                            "req_id": msg.get("req_id", ""), "op": "ping"})]
        if op != "subscribe":
            return [_dumps({"success": False, "ret_msg": f"error:unknown op {op}",
                            "conn_id": "fake", "op": op})]
        args = [str(a) for a in msg.get("args", [])]
        if fake._on(s.name, "reject"):
            return [_dumps({"success": False,
                            "ret_msg": f"error:handler not found,topic:{args[0] if args else ''}",
                            "conn_id": "fake", "req_id": msg.get("req_id", ""),
                            "op": "subscribe"})]
        taken = {f"{item[0]}.{item[1]}" for item in s.items + s.liquidation_items}
        twice = [topic for topic in args if topic in taken]
        if twice:  # Bybit refuses a topic this connection already has
            return [_dumps({"success": False,
                            "ret_msg": f"error:already subscribed,topic:{twice[0]}",
                            "conn_id": "fake", "req_id": msg.get("req_id", ""),
                            "op": "subscribe"})]
        out = [_dumps({"success": True, "ret_msg": "", "conn_id": "fake",
                       "req_id": msg.get("req_id", ""), "op": "subscribe"})]
        skip = fake._on(s.name, "skip_snapshot")
        for topic in args:
            channel, _, symbol = topic.partition(".")
            if channel == "tickers":
                s.items.append(("tickers", symbol))
                if not skip:  # Bybit sends the snapshot right after the ack
                    out.append(self._ticker(s, symbol, now_ms(), snapshot=True))
                    s.snapshot_sent.add(symbol)
            elif channel == "allLiquidation":
                s.liquidation_items.append(("allLiquidation", symbol))
        return out

    def frame(self, s: Session, item: tuple[str, ...], t: int) -> str | None:
        return self._ticker(s, item[1], t, snapshot=False)

    def _ticker(self, s: Session, symbol: str, t: int, snapshot: bool) -> str:
        mark = _px(symbol, t, s.rng)
        data: dict[str, Any] = {"symbol": symbol, "markPrice": f"{mark:.2f}",
                                "indexPrice": f"{_px(symbol, t, s.rng):.2f}",
                                "lastPrice": f"{_px(symbol, t, s.rng):.2f}",
                                "bid1Price": f"{mark - 0.1:.2f}", "bid1Size": "1.2",
                                "ask1Price": f"{mark + 0.1:.2f}", "ask1Size": "0.8"}
        if snapshot or s.rng.random() < 0.2:
            data.update({
                "fundingRate": f"{_funding_rate('bybit', symbol, t):.8f}",
                "nextFundingTime": str(t - t % (8 * H) + 8 * H), "fundingIntervalHour": "8",
                "fundingCap": "0.005", "openInterest": "50000.000",
                "openInterestValue": f"{50_000 * mark:.2f}"})
        if snapshot:
            data.update({"tickDirection": "PlusTick", "price24hPcnt": "0.01",
                         "prevPrice24h": f"{mark * 0.99:.2f}", "highPrice24h": f"{mark * 1.01:.2f}",
                         "lowPrice24h": f"{mark * 0.98:.2f}", "prevPrice1h": f"{mark:.2f}",
                         "turnover24h": "1000000", "volume24h": "1000"})
        return _dumps({"topic": f"tickers.{symbol}", "type": "snapshot" if snapshot else "delta",
                       "data": data, "cs": s.sent + 1, "ts": t})

    def liquidation(self, s: Session, t: int) -> str | None:
        if not s.liquidation_items:
            return None
        _, symbol = s.rng.choice(s.liquidation_items)
        rows = [{"T": t - s.rng.randint(0, 499), "s": symbol, "S": s.rng.choice(("Buy", "Sell")),
                 "v": f"{round(s.rng.uniform(0.001, 3.0), 3)}",
                 "p": f"{_px(symbol, t, s.rng):.2f}"} for _ in range(s.rng.randint(1, 3))]
        return _dumps({"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": t,
                       "data": rows})


class OkxProtocol(VenueProtocol):
    def on_message(self, fake: FakeStreamVenues, s: Session, text: str) -> list[str]:
        if text == "ping":
            return ["pong"]
        msg = _loads(text)
        if not isinstance(msg, dict) or msg.get("op") != "subscribe":
            return [_dumps({"event": "error", "code": "60012",
                            "msg": f"Invalid request: {text[:60]}", "connId": "fake"})]
        out = []
        for arg in msg.get("args", []):
            if not isinstance(arg, dict):
                continue
            if fake._on(s.name, "reject"):
                out.append(_dumps({"id": msg.get("id", ""), "event": "error", "code": "60018",
                                   "msg": f"Wrong URL or channel:{arg.get('channel')},"
                                          f"instId:{arg.get('instId')} doesn't exist",
                                   "connId": "fake"}))
                continue
            channel = arg.get("channel")
            if channel == "liquidation-orders":
                s.liquidation_items.append(("liquidation-orders", str(arg.get("instType"))))
            elif channel in ("funding-rate", "open-interest", "mark-price", "index-tickers"):
                s.items.append((str(channel), str(arg.get("instId"))))
            out.append(_dumps({"id": msg.get("id", ""), "event": "subscribe", "arg": arg,
                               "connId": "fake"}))
        return out

    def frame(self, s: Session, item: tuple[str, ...], t: int) -> str:
        channel, inst = item
        if channel == "funding-rate":
            settle = t - t % (8 * H) + 8 * H
            row = {"instType": "SWAP", "instId": inst, "formulaType": "withRate",
                   "fundingRate": f"{_funding_rate('okx', inst, t):.10f}",
                   "fundingTime": str(settle), "nextFundingTime": str(settle + 8 * H),
                   "nextFundingRate": "", "method": "current_period", "maxFundingRate": "0.00375",
                   "minFundingRate": "-0.00375", "premium": "0.0001", "settState": "settled",
                   "settFundingRate": f"{_funding_rate('okx', inst, t - 8 * H):.10f}",
                   "impactValue": "", "interestRate": "", "ts": str(t)}
        elif channel == "open-interest":
            px = _px(inst, t, s.rng)
            ct = 0.01 if inst.startswith("BTC") else 0.1
            row = {"instType": "SWAP", "instId": inst, "oi": f"{30_000 / ct:.2f}",
                   "oiCcy": "30000", "oiUsd": f"{30_000 * px:.2f}", "ts": str(t)}
        elif channel == "mark-price":
            row = {"instType": "SWAP", "instId": inst, "markPx": f"{_px(inst, t, s.rng):.2f}",
                   "ts": str(t)}
        else:  # index-tickers
            px = _px(inst, t, s.rng)
            row = {"instId": inst, "idxPx": f"{px:.2f}", "open24h": f"{px:.2f}",
                   "high24h": f"{px * 1.01:.2f}", "low24h": f"{px * 0.99:.2f}",
                   "sodUtc0": f"{px:.2f}", "sodUtc8": f"{px:.2f}", "ts": str(t)}
        return _dumps({"arg": {"channel": channel, "instId": inst}, "data": [row]})

    def liquidation(self, s: Session, t: int) -> str | None:
        if not s.liquidation_items:
            return None
        swaps = sorted({inst for ch, inst in s.items if ch != "index-tickers"}) or [
            "BTC-USDT-SWAP"]
        inst = s.rng.choice([*swaps, OTHER_OKX_SWAP])
        side = s.rng.choice(("buy", "sell"))
        detail = {"bkLoss": "0", "bkPx": f"{_px(inst, t, s.rng):.2f}", "ccy": "",
                  "posSide": s.rng.choice(("net", "long" if side == "sell" else "short")),
                  "side": side, "sz": str(s.rng.randint(1, 400)), "ts": str(t)}
        family = inst.removesuffix("-SWAP")
        return _dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [
            {"details": [detail], "instFamily": family, "instId": inst, "instType": "SWAP",
             "uly": family}]})

    def reconnect_notice(self) -> str:
        return _dumps({"event": "notice", "code": "64008",
                       "msg": "The connection will soon be closed for a service upgrade. "
                              "Please reconnect.", "connId": "fake"})


class DeribitProtocol(VenueProtocol):
    def on_message(self, fake: FakeStreamVenues, s: Session, text: str) -> list[str]:
        msg = _loads(text)
        if not isinstance(msg, dict):
            return [_dumps({"jsonrpc": "2.0", "error": {"code": -32700, "message": "parse error"}})]
        rid, method = msg.get("id"), msg.get("method")
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        stamp = {"usIn": now_ms() * 1000, "usOut": now_ms() * 1000 + 200, "usDiff": 200,
                 "testnet": False}
        if method == "public/set_heartbeat":
            interval = params.get("interval")
            if not isinstance(interval, int | float) or interval <= 0:
                return [_dumps({"jsonrpc": "2.0", "id": rid, **stamp, "error": {
                    "code": -32602, "message": "Invalid params",
                    "data": {"reason": "must be a number >= 10", "param": "interval"}}})]
            s.heartbeat_s = float(interval)
            s.heartbeat_due = time.monotonic() + s.heartbeat_s
            return [_dumps({"jsonrpc": "2.0", "id": rid, "result": "ok", **stamp})]
        if method == "public/test":
            s.test_pending = False
            return [_dumps({"jsonrpc": "2.0", "id": rid, "result": {"version": "1.2.26"},
                            **stamp})]
        if method == "public/subscribe":
            channels = [str(c) for c in params.get("channels", [])]
            if fake._on(s.name, "reject"):
                return [_dumps({"jsonrpc": "2.0", "id": rid, **stamp, "error": {
                    "code": 11050, "message": "bad_request",
                    "data": {"reason": "unknown channel", "param": "channels"}}})]
            accepted = []
            for channel in channels:
                kind = channel.split(".")[0]
                if kind == "trades":
                    s.items.append(("trades", channel))
                    s.liquidation_items.append(("trades", channel))
                elif kind in ("ticker", "deribit_volatility_index", "deribit_price_index"):
                    s.items.append((kind, channel))
                else:
                    continue  # not a channel this fake knows: left out of the result
                accepted.append(channel)
            return [_dumps({"jsonrpc": "2.0", "id": rid, "result": accepted, **stamp})]
        return [_dumps({"jsonrpc": "2.0", "id": rid, **stamp,
                        "error": {"code": -32601, "message": "Method not found"}})]

    @staticmethod
    def _note(channel: str, data: Any) -> str:
        return _dumps({"jsonrpc": "2.0", "method": "subscription",
                       "params": {"channel": channel, "data": data}})

    def frame(self, s: Session, item: tuple[str, ...], t: int) -> str:
        kind, channel = item
        name = channel.split(".")[1]
        if kind == "ticker":
            mark = _px(name, t, s.rng)
            return self._note(channel, {
                "timestamp": t, "state": "open", "instrument_name": name,
                "index_price": round(_px(name, t, s.rng), 2), "last_price": round(mark, 1),
                "mark_price": round(mark, 2), "open_interest": 1_000_000_000.0,
                "current_funding": 0.0, "funding_8h": 0.00008, "interest_value": 0.0028,
                "best_bid_price": round(mark - 0.5, 1), "best_ask_price": round(mark + 0.5, 1),
                "best_bid_amount": 10000.0, "best_ask_amount": 12000.0,
                "settlement_price": round(mark, 2), "estimated_delivery_price": round(mark, 2),
                "min_price": round(mark * 0.985, 1), "max_price": round(mark * 1.015, 1),
                "stats": {"high": round(mark * 1.01, 1), "low": round(mark * 0.99, 1),
                          "price_change": 0.5, "volume": 1000.0, "volume_usd": 1e8,
                          "volume_notional": 1e8}})
        if kind == "deribit_volatility_index":
            return self._note(channel, {"timestamp": t, "volatility": 55.0 + s.rng.uniform(-1, 1),
                                        "index_name": name})
        if kind == "deribit_price_index":
            return self._note(channel, {"timestamp": t, "price": round(_px(name, t, s.rng), 2),
                                        "index_name": name})
        return self._trades(s, channel, t, liquidation=False)

    def _trades(self, s: Session, channel: str, t: int, liquidation: bool) -> str:
        name = channel.split(".")[1]
        trades = []
        for i in range(s.rng.randint(1, 3)):
            price = round(_px(name, t, s.rng) * 2) / 2
            amount = float(s.rng.randint(1, 500) * 10)
            trade = {"timestamp": t, "price": price, "amount": amount,
                     "direction": s.rng.choice(("buy", "sell")),
                     "index_price": round(_px(name, t, s.rng), 2), "instrument_name": name,
                     "trade_seq": s.sent * 4 + i, "mark_price": round(_px(name, t, s.rng), 2),
                     "tick_direction": 0, "contracts": amount / 10,
                     "trade_id": str(s.sent * 4 + i)}
            if liquidation and i == 0:
                trade["liquidation"] = s.rng.choice(("M", "T", "MT"))
            trades.append(trade)
        return self._note(channel, trades)

    def liquidation(self, s: Session, t: int) -> str | None:
        if not s.liquidation_items:
            return None
        _, channel = s.rng.choice(s.liquidation_items)
        return self._trades(s, channel, t, liquidation=True)


class HyperliquidProtocol(VenueProtocol):
    def on_connect(self, fake: FakeStreamVenues, s: Session) -> list[str]:
        return ["Websocket connection established."]

    def on_message(self, fake: FakeStreamVenues, s: Session, text: str) -> list[str]:
        msg = _loads(text)
        if not isinstance(msg, dict):
            return [_dumps({"channel": "error", "data": f"Invalid message: {text[:60]}"})]
        if msg.get("method") == "ping":
            return [_dumps({"channel": "pong"})]
        sub = msg.get("subscription")
        if msg.get("method") != "subscribe" or not isinstance(sub, dict):
            return [_dumps({"channel": "error", "data": f"Unknown method: {text[:60]}"})]
        if fake._on(s.name, "reject") or sub.get("type") != "activeAssetCtx":
            return [_dumps({"channel": "error",
                            "data": f"Invalid subscription {_dumps(sub)}"})]
        s.items.append(("activeAssetCtx", str(sub.get("coin"))))
        return [_dumps({"channel": "subscriptionResponse", "data": msg})]

    def frame(self, s: Session, item: tuple[str, ...], t: int) -> str:
        coin = item[1]
        mark = _px(coin, t, s.rng)
        return _dumps({"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": {
            "funding": f"{_funding_rate('hl', coin, t) / 8:.10f}", "openInterest": "20000.0",
            "prevDayPx": f"{mark * 0.99:.1f}", "dayNtlVlm": "1000000000.0",
            "premium": "0.0001", "oraclePx": f"{_px(coin, t, s.rng):.1f}",
            "markPx": f"{mark:.1f}", "midPx": f"{mark:.1f}",
            "impactPxs": [f"{mark - 1:.1f}", f"{mark + 1:.1f}"], "dayBaseVlm": "15000.0"}}})


VENUE_PROTOCOLS: dict[str, VenueProtocol] = {
    "binance_spot": BinanceProtocol(futures=False),
    "binance_futures": BinanceProtocol(futures=True),
    "bybit": BybitProtocol(),
    "okx": OkxProtocol(),
    "deribit": DeribitProtocol(),
    "hyperliquid": HyperliquidProtocol(),
}
