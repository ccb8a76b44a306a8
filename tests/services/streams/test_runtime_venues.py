"""The hub on the six venues' real protocols (build_streams) against FakeStreamVenues' loopback
servers and their fault switches: each fault ends in a clear status, no traceback, nothing lost,
and a Gap once the venue is back."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from bench.fake_streams import NAMES, FakeStreamVenues
from models.ids import premium_id
from models.stream_events import StreamState, StreamStatus
from services.streams.endpoints import StreamEndpoints, build_streams
from services.streams.hub import StreamHub
from tests.services.streams.loopback import FAST, wait_until

# Milliseconds for the back-off; the watchdog above the slowest venue's 0.5 s between frames.
VENUE_TIMING = replace(FAST, heartbeat_timeout_s=1.5)


class RecordingHub(StreamHub):
    """A hub that also keeps every status it was told, in order, and everything drained."""

    def __init__(self, *args, **kwargs) -> None:
        self.history: list[tuple[str, StreamStatus]] = []
        self.gaps: list = []
        self.liquidations: list = []
        self.series_ids: set[str] = set()
        self.tick_keys: set[tuple[str, str]] = set()
        super().__init__(*args, **kwargs)

    def _on_status(self, name: str, status: StreamStatus) -> None:
        self.history.append((name, status))
        super()._on_status(name, status)

    def take(self) -> None:
        batch = self.drain()
        self.gaps += batch.gaps
        self.liquidations += batch.liquidations
        self.series_ids |= batch.series.keys()
        self.tick_keys |= batch.ticks.keys()

    def messages(self, name: str) -> list[str]:
        return [s.message for n, s in self.history if n == name
                and s.state in (StreamState.RECONNECTING, StreamState.POLLING)]

    def state(self, name: str) -> StreamState:
        return self.statuses()[name].state


@pytest.fixture
def venues(caplog):
    made = []
    caplog.set_level(logging.INFO)

    def make(names=NAMES, *, timing=VENUE_TIMING, rates=None, before_start=None):
        fake = FakeStreamVenues(rates=rates).start()
        if before_start:
            before_start(fake)
        streams = [s for s in build_streams(StreamEndpoints.from_env(fake.env()))
                   if s.name in names]
        hub = RecordingHub(None, streams, timing=timing)
        made.append((fake, hub))
        hub.start()
        return fake, hub

    yield make
    for fake, hub in made:
        assert hub.stop(2.0)
        fake.stop()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks, tracebacks[0].getMessage()


def live(hub: RecordingHub, name: str):
    def check():
        hub.take()
        return hub.state(name) is StreamState.LIVE
    return check


def test_all_six_venues_go_live_and_lose_no_frame(venues):
    fake, hub = venues()
    for name in NAMES:
        wait_until(live(hub, name))
    fake.burst("bybit", 200, 0.2)
    wait_until(lambda: hub.take() or any(e.venue == "bybit" for e in hub.liquidations))
    for name in NAMES:
        fake.set_rate(name, 0.0)
    time.sleep(0.3)
    stats = hub.stats()
    for name in NAMES:
        wait_until(lambda name=name: hub.stats()[name]["messages"] == fake.sent[name])
        assert stats[name]["dropped"] == 0, name
        assert stats[name]["reconnects"] == 0, name
    hub.take()
    assert "btc.1h" in hub.series_ids  # Binance spot klines, round robin at 2 frames/s
    assert {v for v, _a in hub.tick_keys} >= {"binance", "bybit", "okx", "deribit",
                                              "hyperliquid"}
    assert premium_id("bybit", "btc") in hub.series_ids
    assert "liq.bybit.btc" in hub.series_ids or "liq.bybit.eth" in hub.series_ids
    assert not hub.gaps


@pytest.mark.parametrize(("name", "fault", "expected"), [
    ("okx", lambda f: f.close("okx", 4004, "No data received in 30s."),
     "closed by the venue (4004 No data received in 30s.)"),
    ("bybit", lambda f: f.close("bybit", 1001, "going away"),
     "closed by the venue (1001 going away)"),
    ("deribit", lambda f: f.close("deribit", 1006), "connection lost (1006)"),
    ("hyperliquid", lambda f: f.disconnect_mid_message("hyperliquid"), "connection lost (1006)"),
    ("binance_spot", lambda f: f.announce_reconnect("binance_spot"),
     "venue asked to reconnect"),
    ("okx", lambda f: f.announce_reconnect("okx"), "venue asked to reconnect"),
])
def test_a_fault_ends_in_a_status_a_reconnect_and_a_gap(venues, name, fault, expected):
    fake, hub = venues([name])
    wait_until(live(hub, name))
    fault(fake)
    wait_until(lambda: hub.take() or (hub.gaps and hub.state(name) is StreamState.LIVE))
    assert hub.messages(name)[0].startswith(expected)
    assert len(hub.gaps) == 1 and hub.gaps[0].since_ms <= hub.gaps[0].until_ms
    assert fake.connects[name] == 2
    assert fake.wait_subscribed(name)  # resubscribed on the new connection
    assert hub.stats()[name]["reconnects"] == 1


def test_a_stalled_venue_is_closed_by_the_watchdog_and_comes_back(venues):
    timing = replace(VENUE_TIMING, heartbeat_timeout_s=0.3)
    fake, hub = venues(["bybit"], timing=timing, rates={"bybit": 50})
    wait_until(live(hub, "bybit"))
    fake.stall("bybit")
    wait_until(lambda: hub.messages("bybit"))
    assert hub.messages("bybit")[0] == "no frame for 0.3 s (watchdog)"
    assert hub.statuses()["bybit"].label.startswith("reconnecting (")
    fake.stall("bybit", False)
    wait_until(lambda: hub.take() or (hub.gaps and hub.state("bybit") is StreamState.LIVE))
    assert hub.gaps[0].venue == "bybit"


def test_malformed_frames_keep_the_connection(venues):
    fake, hub = venues(["bybit"])
    wait_until(live(hub, "bybit"))
    fake.malformed("bybit", 3)
    wait_until(lambda: hub.stats()["bybit"]["malformed"] == 3)
    assert fake.connects["bybit"] == 1 and hub.state("bybit") is StreamState.LIVE
    hub.take()
    assert not hub.gaps


def test_an_oversized_frame_recycles_the_connection(venues):
    fake, hub = venues(["okx"], timing=replace(VENUE_TIMING, max_frame_bytes=64 * 1024))
    wait_until(live(hub, "okx"))
    fake.oversized("okx", 100_000)
    wait_until(lambda: hub.take() or (hub.gaps and hub.state("okx") is StreamState.LIVE))
    assert hub.messages("okx")[0] == "a frame over the size limit (1009)"
    assert hub.stats()["okx"]["oversized"] == 1


def test_a_rejected_subscription_says_so_and_waits(venues):
    fake, hub = venues(["bybit"], before_start=lambda f: f.reject_subscription("bybit"))
    wait_until(lambda: hub.state("bybit") is StreamState.POLLING)
    status = hub.statuses()["bybit"]
    assert "subscription refused" in status.message
    assert status.retry_at_ms is not None and status.label == "polling"
    time.sleep(0.2)
    assert fake.connects["bybit"] == 1  # no tight loop


def test_bybit_delta_before_snapshot_reconnects_with_backoff(venues):
    fake, hub = venues(["bybit"], before_start=lambda f: f.skip_snapshot())
    wait_until(lambda: len(hub.messages("bybit")) >= 2)
    assert hub.messages("bybit")[0].startswith("venue asked to reconnect")
    attempts = [s.attempt for n, s in hub.history if s.state is StreamState.RECONNECTING]
    assert attempts[:2] == [1, 2]  # backing off, not reconnecting at once each time
    fake.skip_snapshot(on=False)
    wait_until(live(hub, "bybit"))


def test_a_flood_loses_nothing(venues):
    fake, hub = venues(["bybit"])
    wait_until(live(hub, "bybit"))
    fake.flood("bybit", 0.5)
    time.sleep(0.6)
    fake.set_rate("bybit", 0.0)
    wait_until(lambda: hub.stats()["bybit"]["messages"] == fake.sent["bybit"], timeout_s=10)
    assert fake.sent["bybit"] > 1000
    assert hub.stats()["bybit"]["dropped"] == 0 and fake.connects["bybit"] == 1
