"""The minute backfill in the window: its status-bar line, Pause/Resume, live mode only."""

from __future__ import annotations

import json
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QStatusBar
from werkzeug import Response

from services.app import AppServices
from services.cache import Cache
from services.config import Endpoints
from services.sources import Sources
from tests.services.test_minute_backfill import kline
from tests.ui.test_main_window import _klines
from ui.backfill import SETTING_KEY, BackfillControl

M = 60_000


def minute_klines(first: int):
    def handle(request):
        if request.args.get("interval") != "1m":
            return _klines(request)
        start = max(int(request.args.get("startTime", 0)), first)
        end = int(request.args.get("endTime", 2**62))
        limit = int(request.args.get("limit", 500))
        newest = int(time.time() * 1000) // M * M - M
        rows = [kline(t) for t in range(start - start % M + (M if start % M else 0),
                                         min(end, newest) + 1, M)][:limit]
        return Response(json.dumps(rows), content_type="application/json")
    return handle


def test_live_window_backfills_shows_progress_and_pauses(make_window, venue_server, qtbot,
                                                         monkeypatch):
    now = int(time.time() * 1000) // M * M
    first = now - 2_500 * M  # a venue whose minutes began 2,500 minutes ago: three pages
    venue_server.expect_request("/api/v3/klines").respond_with_handler(minute_klines(first))
    monkeypatch.setenv("ROTOR_MINUTE_BACKFILL", "on")
    monkeypatch.setattr("services.minute_backfill.MIN_INTERVAL_S", 0.3)
    window = make_window(shutdown_msecs=2000)
    window.show()
    control = window.backfill
    qtbot.waitUntil(lambda: control.backfill is not None
                    and control.backfill.status().requests >= 2, timeout=15000)
    assert control.pause_action in window.view_menu.actions()
    control.pause_action.trigger()
    assert control.backfill.paused and control.pause_action.text() == "Resume 1m history"
    assert control.label.text().endswith("· paused") and control.label.text().startswith(
        "BTC 1m history: ")
    control.pause_action.trigger()
    assert control.pause_action.text() == "Pause 1m history"
    qtbot.waitUntil(lambda: "complete" in control.label.text(), timeout=20000)
    assert control.label.toolTip().startswith("BTC 1m: complete · ")
    month = time.strftime("%Y-%m", time.gmtime(first / 1000))
    assert control.label.text() == f"1m history complete (BTC, ETH since {month})"
    btc = window.scheduler.services.cache.read("btc.1m")
    assert btc.first_ms == first and len(btc) == btc.last_ms // M - first // M + 1
    thread = control.backfill._thread
    window.close()
    assert thread is not None and not thread.is_alive()


class _Scheduler(QObject):
    servicesReady = Signal(object)


def test_no_backfill_in_the_demo_or_when_switched_off(qtbot, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("ROTOR_MINUTE_BACKFILL", "on")
    scheduler, bar, menu = _Scheduler(), QStatusBar(), QMenu()
    qtbot.addWidget(bar)
    control = BackfillControl(scheduler, bar, settings, menu)
    cache = Cache(tmp_path / "cache.sqlite")
    try:
        scheduler.servicesReady.emit(AppServices(cache, None, True, tmp_path))
        assert control.backfill is None and not control.label.isVisible()
        control.enable_action.setChecked(False)
        assert settings.value(SETTING_KEY) in (False, "false")
        live = AppServices(cache, Sources(Endpoints({"binance": "http://127.0.0.1:9"})), False,
                           tmp_path)
        scheduler.servicesReady.emit(live)
        assert control.backfill is None  # the setting keeps it off in live mode too
        control.enable_action.setChecked(True)
        assert control.backfill is not None  # switched on: starts at once
        control.stop()
        assert control.backfill is None
    finally:
        control.stop()
        cache.close()
