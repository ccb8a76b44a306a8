"""The live window with a stand-in hub: a streamed forming bar reaches the price chart through
the store, the chips say "live", and closing stops the hub within the shutdown budget."""

from __future__ import annotations

import threading
import time

from tests.ui.stream_fakes import FakeHub, FakeLock, bars
from tests.ui.test_main_window import _klines

H = 3_600_000


def test_a_streamed_bar_reaches_the_chart_and_closing_stops_the_hub(
        make_window, venue_server, qtbot, monkeypatch):
    venue_server.expect_request("/api/v3/klines").respond_with_handler(_klines)
    hubs: list[FakeHub] = []
    lock = FakeLock()

    def make_hub(_services, on_wake):
        hubs.append(FakeHub(on_wake))
        return hubs[-1]

    monkeypatch.setenv("ROTOR_STREAMS", "on")
    monkeypatch.setattr("ui.main_window.IDLE_BUILD_FALLBACK_MS", 100)  # Yahoo never paints
    monkeypatch.setattr("ui.streams.default_hub", make_hub)
    monkeypatch.setattr("ui.streams.default_lock", lambda _dir: lock)
    window = make_window(shutdown_msecs=2000)
    window.show()
    prices = window.panels["prices"]
    qtbot.waitUntil(lambda: window.streams.hub is not None, timeout=15000)
    hub = hubs[0]
    assert "live" in window.status.chip_text("Bybit")
    now_h = int(time.time() * 1000) // H * H
    qtbot.waitUntil(lambda: (window.store.series("btc.1h") is not None
                             and window.store.series("btc.1h").last_ms == now_h), timeout=10000)
    pushed = threading.Thread(target=hub.push, args=("btc.1h", bars([now_h], 123.5)))
    pushed.start()
    pushed.join()

    def last_close() -> float | None:
        y = prices._curves["btc"].getData()[1]
        return None if y is None or not len(y) else float(y[-1])

    qtbot.waitUntil(lambda: last_close() == 123.5, timeout=5000)
    assert window.store.series("btc.1h")["close"][-2] == 101.0  # REST's bars stay
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0
    assert hub.stopped and lock.released == 1 and not window.workers_left
