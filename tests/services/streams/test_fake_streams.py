"""bench/fake_streams.py speaks each venue's protocol: a real websockets client running the
parsers (services/streams/) against it gets every kind of event, and each fault switch does
what it says on the wire."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from bench.fake_streams import NAMES, FakeStreamVenues
from models.stream_events import BarUpdate, Liquidation, TickUpdate
from services.streams.base import StreamReconnect, StreamRejected, VenueStream
from services.streams.binance import BinanceSpotStream
from services.streams.deribit import DeribitStream
from services.streams.endpoints import StreamEndpoints, build_streams

FAST = {"binance_spot": 40.0, "binance_futures": 40.0, "bybit": 100.0, "okx": 100.0,
        "deribit": 100.0, "hyperliquid": 40.0}


@pytest.fixture(scope="module")
def fake():
    with FakeStreamVenues(rates=FAST, liquidation_share=0.3) as venues:
        yield venues


def streams_for(fake: FakeStreamVenues) -> dict[str, VenueStream]:
    return {s.name: s for s in build_streams(StreamEndpoints.from_env(fake.env()))}


@contextmanager
def open_stream(stream: VenueStream, max_size: int = 2**20) -> Iterator[ClientConnection]:
    with connect(stream.url(), compression=None, open_timeout=5, max_size=max_size,
                 close_timeout=1) as ws:
        for frame in stream.subscribe_frames():
            ws.send(frame)
        yield ws


def pump(ws: ClientConnection, stream: VenueStream, seconds: float,
         until=lambda events: False) -> list:
    """Receive, reply and parse for up to `seconds` (or until `until(events)`)."""
    events: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until(events):
        try:
            raw = ws.recv(timeout=0.05)
        except TimeoutError:
            continue
        for reply in stream.replies(raw):
            ws.send(reply)
        events += stream.parse(raw, time.perf_counter_ns())
    return events


EXPECTED = {
    "binance_spot": {("BarUpdate", s) for s in ("btc.1h", "btc.1d", "eth.1h", "eth.1d")},
    "binance_futures": {("TickUpdate", "btc"), ("TickUpdate", "eth"), ("Liquidation", "btc"),
                        ("Liquidation", "eth")},
    "bybit": {("TickUpdate", "btc"), ("TickUpdate", "eth"), ("Liquidation", "btc"),
              ("Liquidation", "eth")},
    "okx": {("TickUpdate", "btc"), ("TickUpdate", "eth"), ("Liquidation", "btc"),
            ("Liquidation", "eth")},
    "deribit": {("TickUpdate", "btc"), ("TickUpdate", "eth"), ("Liquidation", "btc"),
                ("Liquidation", "eth")},
    "hyperliquid": {("TickUpdate", "btc"), ("TickUpdate", "eth")},
}


def kinds(events: list) -> set[tuple[str, str]]:
    return {(type(e).__name__, e.series_id if isinstance(e, BarUpdate) else e.asset)
            for e in events}


@pytest.mark.parametrize("name", NAMES)
def test_each_venue_round_trip_yields_every_event_kind(fake, name):
    stream = streams_for(fake)[name]
    with open_stream(stream) as ws:
        events = pump(ws, stream, 5.0, until=lambda ev: EXPECTED[name] <= kinds(ev))
    assert EXPECTED[name] <= kinds(events)
    ticks = [e for e in events if isinstance(e, TickUpdate)]
    for tick in ticks:
        assert tick.values and tick.recv_ns > 0
    fields = set().union(*(t.values for t in ticks)) if ticks else set()
    want = {"binance_futures": {"mark", "index", "funding_rate", "next_funding_ms"},
            "bybit": {"mark", "index", "funding_rate", "open_interest", "open_interest_usd"},
            "okx": {"mark", "index", "funding_rate", "open_interest", "open_interest_usd"},
            "deribit": {"mark", "index", "funding_rate", "open_interest_usd", "dvol"},
            "hyperliquid": {"mark", "index", "funding_rate", "open_interest"}}.get(name, set())
    assert want <= fields
    for liq in (e for e in events if isinstance(e, Liquidation)):
        assert liq.usd == pytest.approx(liq.qty * liq.price) and liq.qty > 0


def test_a_closed_kline_arrives_when_its_bar_ends_and_matches_the_rest_fake():
    """A 1 s kline closes every second; its values are bench/fake_venues.py's REST bar."""
    from bench.fake_venues import price_at

    with FakeStreamVenues(rates={"binance_spot": 20}) as fake:
        stream = BinanceSpotStream(fake.url("binance_spot"), {"btc": "BTCUSDT"},
                                   intervals=("1s",))
        with open_stream(stream) as ws:
            events = pump(ws, stream, 3.0, until=lambda ev: any(e.closed for e in ev))
    closed = next(e for e in events if e.closed)
    o, c = price_at("BTC", closed.time_ms), price_at("BTC", closed.time_ms + 1000)
    assert closed.series_id == "btc.1s" and closed.time_ms % 1000 == 0
    assert (closed.open, closed.close) == (round(o, 2), round(c, 2))
    assert closed.high == round(max(o, c) * 1.002, 2) and closed.volume == 12.5


def test_unrouted_binance_futures_url_handshakes_but_stays_silent(fake):
    stream = streams_for(fake)["binance_futures"]
    stream.base_url = stream.base_url.removesuffix("/market")
    with open_stream(stream) as ws:
        events = pump(ws, stream, 0.5)
    assert events == []


def test_reject_subscription_is_a_stream_rejected_everywhere():
    with FakeStreamVenues(rates=FAST) as fake:
        for name, stream in streams_for(fake).items():
            fake.reject_subscription(name)
            with open_stream(stream) as ws, pytest.raises(StreamRejected):
                pump(ws, stream, 3.0)


def test_reconnect_notices_and_bybit_missing_snapshot():
    with FakeStreamVenues(rates={"bybit": 50, "okx": 20, "binance_spot": 10,
                                 "binance_futures": 10}) as fake:
        streams = streams_for(fake)
        for name in ("binance_spot", "binance_futures", "okx"):
            with open_stream(streams[name]) as ws:
                assert fake.wait_subscribed(name)
                fake.announce_reconnect(name)
                with pytest.raises(StreamReconnect):
                    pump(ws, streams[name], 3.0)
        fake.skip_snapshot("bybit")
        with open_stream(streams["bybit"]) as ws, pytest.raises(StreamReconnect):
            pump(ws, streams["bybit"], 3.0)


def test_malformed_and_oversized_frames():
    with FakeStreamVenues(rates={"okx": 50, "bybit": 50}) as fake:
        streams = streams_for(fake)
        with open_stream(streams["okx"]) as ws:
            assert fake.wait_subscribed("okx")
            fake.malformed("okx", 2)
            with pytest.raises(ValueError, match="not JSON"):
                pump(ws, streams["okx"], 3.0)
        with open_stream(streams["bybit"], max_size=2**16) as ws:
            assert fake.wait_subscribed("bybit")
            fake.oversized("bybit", 2**17)
            with pytest.raises(ConnectionClosedError) as info:
                pump(ws, streams["bybit"], 3.0)
        assert info.value.sent.code == 1009  # the client refused the frame: message too big


@pytest.mark.parametrize(("code", "reason"), [(1001, "going away"),
                                              (4004, "No data received in 30s."),
                                              (1006, "")])
def test_close_codes_reach_the_client(code, reason):
    with FakeStreamVenues(rates={"okx": 20}) as fake:
        stream = streams_for(fake)["okx"]
        with open_stream(stream) as ws:
            assert fake.wait_subscribed("okx")
            fake.close("okx", code, reason)
            with pytest.raises(ConnectionClosed) as info:
                pump(ws, stream, 3.0)
    if code == 1006:  # a TCP cut: no close frame came
        assert info.value.rcvd is None
    else:
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (code, reason)


def test_disconnect_mid_message_cuts_inside_a_frame():
    with FakeStreamVenues(rates={"hyperliquid": 10}) as fake:
        stream = streams_for(fake)["hyperliquid"]
        with open_stream(stream) as ws:
            assert fake.wait_subscribed("hyperliquid")
            fake.disconnect_mid_message("hyperliquid")
            with pytest.raises(ConnectionClosedError) as info:
                pump(ws, stream, 3.0)
    assert info.value.rcvd is None


def test_stall_stops_frames_and_protocol_pongs():
    with FakeStreamVenues(rates={"bybit": 50}) as fake:
        stream = streams_for(fake)["bybit"]
        with open_stream(stream) as ws:
            assert fake.wait_subscribed("bybit")
            assert pump(ws, stream, 0.2)
            fake.stall("bybit")
            pump(ws, stream, 0.1)  # what was in flight
            assert pump(ws, stream, 0.3) == []
            assert not ws.ping().wait(0.3)  # no pong while stalled
            fake.stall("bybit", False)
            assert pump(ws, stream, 2.0, until=bool)


def test_okx_idle_cut_and_text_ping_keepalive():
    with FakeStreamVenues(rates={"okx": 0}, idle_cut_s={"okx": 0.3}) as fake:
        stream = streams_for(fake)["okx"]
        with open_stream(stream) as ws, pytest.raises(ConnectionClosed) as info:
            pump(ws, stream, 3.0)  # never pings
        assert info.value.rcvd.code == 4004
        with open_stream(stream) as ws:
            deadline = time.monotonic() + 0.8  # well past the 0.3 s cut
            while time.monotonic() < deadline:
                pump(ws, stream, 0.1)
                ws.send(stream.ping_frame)
            assert ws.recv(timeout=1) == "pong"


def test_deribit_closes_when_a_test_request_goes_unanswered():
    with FakeStreamVenues(rates={"deribit": 0}) as fake:
        answering = DeribitStream(fake.url("deribit"), {"btc": "BTC-PERPETUAL"},
                                  heartbeat_interval_s=0.15)
        with open_stream(answering) as ws:
            pump(ws, answering, 0.8)  # replies() answers each test_request
            assert fake.open_connections("deribit") == 1
        tests = [m for m in fake.received["deribit"] if "public/test" in m]
        assert len(tests) >= 3

        class Silent(DeribitStream):
            def replies(self, raw):
                return []

        silent = Silent(fake.url("deribit"), {"btc": "BTC-PERPETUAL"}, heartbeat_interval_s=0.15)
        with open_stream(silent) as ws, pytest.raises(ConnectionClosed) as info:
            pump(ws, silent, 3.0)
    assert "unanswered" in info.value.rcvd.reason


def test_binance_cuts_a_client_sending_more_than_five_messages_a_second():
    with FakeStreamVenues(rates={"binance_spot": 0}) as fake:
        stream = streams_for(fake)["binance_spot"]
        with connect(stream.url(), compression=None, open_timeout=5) as ws:
            for i in range(6):
                ws.send(f'{{"method":"LIST_SUBSCRIPTIONS","id":{i}}}')
            with pytest.raises(ConnectionClosed) as info:
                pump(ws, stream, 3.0)
    assert info.value.rcvd.code == 1008


def test_burst_sends_liquidations_at_the_asked_rate():
    with FakeStreamVenues(rates={"bybit": 0.001}, liquidation_share=0.0) as fake:
        stream = streams_for(fake)["bybit"]
        with open_stream(stream) as ws:
            assert fake.wait_subscribed("bybit")
            pump(ws, stream, 0.1)
            fake.burst("bybit", 400, 0.5)
            frames = Counter()
            deadline = time.monotonic() + 1.3  # ≤ 0.25 s until the handler wakes, 0.5 s burst
            while time.monotonic() < deadline:
                try:
                    raw = ws.recv(timeout=0.1)
                except TimeoutError:
                    continue
                if stream.parse(raw, 0) and "allLiquidation" in raw:
                    frames["liq"] += 1
    assert 150 <= frames["liq"] <= 260  # 400/s × 0.5 s = 200
    with pytest.raises(ValueError, match="no public liquidation"):
        fake.burst("hyperliquid", 10, 1)


def test_flood_sends_regular_frames_as_fast_as_the_socket_takes_them():
    with FakeStreamVenues(rates={"hyperliquid": 1}) as fake:
        stream = streams_for(fake)["hyperliquid"]
        with open_stream(stream) as ws:
            assert fake.wait_subscribed("hyperliquid")
            fake.flood("hyperliquid", 0.3)
            events = pump(ws, stream, 1.0, until=lambda ev: len(ev) > 200)
    assert len(events) > 200  # at 1/s a second brings one or two
    assert all(isinstance(e, TickUpdate) for e in events)


def test_serve_streams_prints_the_environment_and_takes_commands():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-m", "bench.serve_streams", "--rate", "okx=5"],
                         input="status\nstall nowhere\nburst hyperliquid 10 1\nquit\n",
                         cwd=root, capture_output=True, text=True, timeout=60, check=True)
    lines = out.stdout.splitlines()
    env = dict(line.split("=", 1) for line in lines if line.startswith("ROTOR_"))
    assert env["ROTOR_BINANCE_FUTURES_WS"].endswith("/market")
    assert len(env) == 6 and all(u.startswith("ws://127.0.0.1:") for u in env.values())
    assert any(line.startswith("okx: 0 open, 0 connects") for line in lines)
    assert "need a stream name" in out.stdout
    assert "burst: hyperliquid has no public liquidation feed" in out.stdout


def test_bybit_refuses_a_second_subscription_on_the_same_connection():
    """Why a Bybit delta before its snapshot reconnects instead of resubscribing."""
    with FakeStreamVenues(rates={"bybit": 5}) as fake:
        stream = streams_for(fake)["bybit"]
        with open_stream(stream) as ws:
            assert pump(ws, stream, 2.0, until=bool)
            ws.send(stream.subscribe_frames()[0])
            with pytest.raises(StreamRejected, match=r"already subscribed,topic:tickers\.BTCUSDT"):
                pump(ws, stream, 2.0)


def test_binance_combined_stream_path_wraps_frames():
    with FakeStreamVenues(rates={"binance_spot": 20}) as fake:
        stream = BinanceSpotStream(fake.url("binance_spot"), {"eth": "ETHUSDT"})
        url = f"{fake.url('binance_spot')}/stream?streams=ethusdt@kline_1d"
        with connect(url, compression=None, open_timeout=5) as ws:
            raw = ws.recv(timeout=2)
            assert json.loads(raw)["stream"] == "ethusdt@kline_1d"
            bar = stream.parse(raw, 1)[0]
    assert (bar.series_id, bar.closed) == ("eth.1d", False)


def _keys(obj: object, path: str = "") -> set[str]:
    """Every key path in a JSON value (list items share the path "[]")."""
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out |= {f"{path}.{k}"} | _keys(v, f"{path}.{k}")
    elif isinstance(obj, list) and obj and not isinstance(obj[0], str):
        for item in obj:
            out |= _keys(item, f"{path}[]")
    return out


@pytest.mark.parametrize(("name", "item", "liquidation", "fixture"), [
    ("binance_spot", ("kline", "BTCUSDT", "1h", "btcusdt@kline_1h"), False,
     "binance-spot-kline.json"),
    ("binance_futures", ("markPrice", "BTCUSDT", "btcusdt@markPrice@1s"), False,
     "binance-futures-markprice.json"),
    ("binance_futures", ("forceOrder", "BTCUSDT", "btcusdt@forceOrder"), True,
     "binance-forceorder.json"),
    ("bybit", ("tickers", "BTCUSDT"), False, "bybit-tickers-delta.json"),
    ("bybit", ("allLiquidation", "BTCUSDT"), True, "bybit-allliquidation.json"),
    ("okx", ("funding-rate", "BTC-USDT-SWAP"), False, "okx-funding-rate.json"),
    ("okx", ("open-interest", "BTC-USDT-SWAP"), False, "okx-open-interest.json"),
    ("okx", ("mark-price", "BTC-USDT-SWAP"), False, "okx-mark-price.json"),
    ("okx", ("liquidation-orders", "SWAP"), True, "okx-liquidation-orders.json"),
    ("deribit", ("ticker", "ticker.BTC-PERPETUAL.100ms"), False,
     "deribit-ticker-perpetual.json"),
    ("deribit", ("trades", "trades.BTC-PERPETUAL.100ms"), False,
     "deribit-trades-perpetual.json"),
    ("deribit", ("deribit_volatility_index", "deribit_volatility_index.btc_usd"), False,
     "deribit-volatility-index.json"),
    ("hyperliquid", ("activeAssetCtx", "BTC"), False, "hyperliquid-activeassetctx.json"),
])
def test_fake_frames_carry_every_key_of_the_recorded_frame(name, item, liquidation, fixture):
    from bench.fake_streams import VENUE_PROTOCOLS, Session
    from tests.conftest import shared_fixture

    recorded = shared_fixture(f"streams/{fixture}")
    session = Session(name, None, seed=1)
    if liquidation:
        session.liquidation_items.append(item)
        frame = VENUE_PROTOCOLS[name].liquidation(session, 1_796_162_400_000)
    else:
        session.combined = "stream" in recorded
        frame = VENUE_PROTOCOLS[name].frame(session, item, 1_796_162_400_000)
    frame = frame[-1] if isinstance(frame, list) else frame
    ignored = {".id"}  # the OKX docs example echoes the request id; pushes do not
    assert _keys(recorded) - ignored <= _keys(json.loads(frame))


def test_stop_leaves_no_thread_behind_even_with_clients_and_a_stall():
    import threading

    before = set(threading.enumerate())
    with FakeStreamVenues(rates={"okx": 20}) as fake:
        stream = streams_for(fake)["okx"]
        with open_stream(stream) as ws:
            assert fake.wait_subscribed("okx")
            fake.stall("okx")
            started = time.monotonic()
            fake.stop()
            assert time.monotonic() - started < 2.0
            with pytest.raises(ConnectionClosed):
                pump(ws, stream, 2.0)
    time.sleep(0.05)
    assert {t.name for t in set(threading.enumerate()) - before} == set()
