"""The main window against a loopback venue server: docks, layout persistence, status, threads."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QWidget
from werkzeug import Response

from models.status import SourceState

H = 3_600_000
ROOT = Path(__file__).resolve().parents[2]


def _klines(request):
    start = int(request.args["startTime"])
    end = int(request.args["endTime"])
    now_h = (int(time.time() * 1000) // H) * H
    first = max(start - start % H, now_h - 200 * H)
    rows = [[t, "100", "102", "99", "101", "5", t + H - 1, "500", 7, "2", "200", "0"]
            for t in range(first, min(end, now_h) + 1, H)][:1000]
    return Response(json.dumps(rows), content_type="application/json")


def test_docks_have_stable_names_and_a_view_menu(make_window):
    window = make_window(start=False)
    names = {d.objectName() for d in window.findChildren(QDockWidget)}
    assert {"dock_prices", "dock_sources"} <= names
    actions = [a.text() for a in window.view_menu.actions()]
    for dock in window.docks.values():
        assert dock.toggleViewAction().text() in actions
        features = dock.features()
        assert features & QDockWidget.DockWidgetFeature.DockWidgetClosable
        assert features & QDockWidget.DockWidgetFeature.DockWidgetFloatable
    assert "Reset &layout" in actions


def test_layout_is_restored_and_can_be_reset(make_window, settings, qtbot):
    window = make_window(start=False)
    window.show()
    window.docks["sources"].setVisible(False)
    window.close()
    again = make_window(start=False)
    again.show()
    qtbot.waitUntil(lambda: again.isVisible())
    assert not again.docks["sources"].isVisible()
    again.reset_layout()
    assert again.docks["sources"].isVisible()


def test_data_reaches_the_chart_and_no_request_runs_on_the_gui_thread(
        make_window, venue_server, gui_thread_requests, qtbot):
    venue_server.expect_request("/api/v3/klines").respond_with_handler(_klines)
    venue_server.expect_request("/v8/finance/chart", method="GET").respond_with_json(
        {"chart": {"result": None, "error": {"code": "Not Found", "description": "No data"}}},
        status=404)
    window = make_window()
    window.show()
    prices = window.panels["prices"]
    def btc_points() -> int:
        x = prices._curves["btc"].getData()[0]
        return 0 if x is None else len(x)

    qtbot.waitUntil(lambda: btc_points() > 100, timeout=10000)
    _x, y = prices._curves["btc"].getData()
    assert y[-1] == 101.0
    qtbot.waitUntil(lambda: window.store.status("btc.1h").state == SourceState.OK, timeout=5000)
    assert gui_thread_requests == []


def test_a_failing_source_shows_in_the_status_bar_and_keeps_running(
        make_window, venue_server, qtbot):
    venue_server.expect_request("/api/v3/klines").respond_with_data(
        "<html><title>503 Service Unavailable</title></html>", status=503,
        content_type="text/html")
    window = make_window()
    window.show()
    qtbot.waitUntil(lambda: (window.store.status("btc.1h") or window).state == SourceState.ERROR
                    if window.store.status("btc.1h") else False, timeout=15000)
    status = window.store.status("btc.1h")
    assert status.next_retry_ms is not None and status.next_retry_ms > status.error_at_ms
    assert "Binance spot" in window.status.chip_text("Binance spot")
    assert "retry" in window.status.chip_text("Binance spot")
    sources = window.build_panel("sources")  # behind the movers tab: built on demand
    row = sources._rows["btc.1h"]
    qtbot.waitUntil(lambda: sources.table.item(row, 2).text() == "error", timeout=2000)
    table = sources.table
    assert table.item(row, 6).text()  # the last error is spelled out


def test_closing_with_requests_in_flight_waits_and_leaves_no_worker(
        make_window, venue_server, qtbot):
    from PySide6.QtCore import QThreadPool

    def slow(request):
        time.sleep(0.5)
        return _klines(request)

    venue_server.expect_request("/api/v3/klines").respond_with_handler(slow)
    window = make_window(shutdown_msecs=2000)
    window.show()
    qtbot.waitUntil(lambda: bool(window.scheduler.tracker.inflight), timeout=5000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0  # the issue: exits within 2 s
    assert not window.workers_left
    assert QThreadPool.globalInstance().activeThreadCount() == 0


def test_closing_while_a_venue_does_not_answer_ends_within_2_s(make_window, venue_server, qtbot):
    """The whole close (layout saved, panels let go, workers waited for) fits in the 2 s it
    claims, even when no request finishes in that time: it measured 2.07-2.21 s."""
    def hanging(request):
        time.sleep(3.0)  # longer than the shutdown budget (bounded, so the server thread ends)
        return _klines(request)

    venue_server.expect_request("/api/v3/klines").respond_with_handler(hanging)
    window = make_window(shutdown_msecs=2000)
    window.show()
    qtbot.waitUntil(lambda: bool(window.scheduler.tracker.inflight), timeout=5000)
    started = time.monotonic()
    window.close()
    elapsed = time.monotonic() - started
    assert window.workers_left  # the requests were still blocked: they were not waited out
    assert elapsed < 2.0, f"close took {elapsed:.3f} s"


# The window as `main.py` runs it, closed once requests are in flight; prints when it closes.
_CLOSE_WHILE_IN_FLIGHT = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
import main
from ui.main_window import MainWindow

def close_once_requests_are_in_flight():
    for window in app.topLevelWidgets():
        if isinstance(window, MainWindow) and window.scheduler.tracker.inflight:
            print("CLOSING", time.monotonic(), flush=True)
            window.close()
            return
    QTimer.singleShot(50, close_once_requests_are_in_flight)

QTimer.singleShot(50, close_once_requests_are_in_flight)
sys.exit(main.main([]))
"""


def test_the_process_exits_within_2_s_of_closing_while_venues_hang(venue_server):
    """Measured as the issue did, from the close to the process's exit: 2.04-2.10 s before."""
    def hanging(request):
        time.sleep(4.0)
        return Response("{}", status=500)

    venue_server.expect_request(re.compile("^/")).respond_with_handler(hanging)
    child = subprocess.Popen([sys.executable, "-c", _CLOSE_WHILE_IN_FLIGHT], cwd=ROOT,
                             env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        closing = [float(line.split()[1]) for line in child.stdout if line.startswith("CLOSING")]
        child.wait(timeout=60)
    finally:
        child.kill()
        child.stdout.close()
    exited = time.monotonic()
    assert closing, "the window never had requests in flight"
    assert exited - closing[0] < 2.0, f"exit {exited - closing[0]:.3f} s after close"


def test_view_menu_toggles_docks(make_window, qtbot):
    window = make_window(start=False)
    window.show()
    action = window.docks["sources"].toggleViewAction()
    action.trigger()
    assert not window.docks["sources"].isVisible()
    action.trigger()
    assert window.docks["sources"].isVisible()
    assert window.docks["prices"].allowedAreas() == Qt.DockWidgetArea.AllDockWidgetAreas


def test_settings_file_is_user_only(tmp_path):
    import os
    import stat

    from ui.main_window import open_settings

    path = tmp_path / "settings.ini"
    settings = open_settings(str(path))
    settings.setValue("x", 1)
    settings.sync()
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0


def test_demo_data_reaches_the_curves_and_is_labelled(make_window, qtbot):
    window = make_window(demo=True)
    window.show()
    prices = window.panels["prices"]
    qtbot.waitUntil(prices.has_data, timeout=15000)
    x, y = prices._curves["btc"].getData()
    assert x is not None and len(x) > 100
    assert 55_000 < np.nanmin(y) < 62_000  # the synthetic February 2026 low
    assert window.store.status("btc.1h").state == SourceState.DEMO
    assert "Demo data (synthetic)" in window.windowTitle()
    assert "synthetic" in window.banner.text()
    assert prices.demo_badge.isVisible()


def test_no_cache_and_no_network_falls_back_to_demo(make_window, qtbot):
    # tests/conftest.py points every venue at a closed loopback port: "connection refused".
    window = make_window()
    window.show()
    qtbot.waitUntil(lambda: window.store.demo, timeout=30000)
    qtbot.waitUntil(window.panels["prices"].has_data, timeout=15000)
    assert "No network and no cached data" in window.banner.text()


def test_docks_behind_a_tab_are_built_after_the_docks_on_screen_have_painted(make_window,
                                                                             qtbot):
    window = make_window(demo=True)
    painted = []
    window.allDocksPainted.connect(lambda: painted.append(set(window.panels)))
    window.show()
    on_screen = {"prices", "funding", "movers"}  # the default layout's docks in front
    assert set(window.panels) == on_screen
    qtbot.waitUntil(lambda: bool(painted), timeout=20000)
    assert painted[0] == on_screen
    assert all(window.panels[k].first_paint_done for k in on_screen)
    # Then the rest, one per event-loop turn; hidden, they have data but have not painted.
    qtbot.waitUntil(lambda: set(window.panels) == set(window.docks), timeout=10000)
    rotation = window.panels["rotation"]
    qtbot.waitUntil(rotation.has_data, timeout=20000)
    assert not rotation.on_screen() and not rotation.first_paint_done
    # Gamma levels reach the price chart though the options dock was never brought forward.
    def flip_drawn():
        chain = window.feeds.current("chain", asset="btc")
        lines = {round(i.value(), 2) for _p, i in prices_overlays(window)
                 if isinstance(i, pg.InfiniteLine)}
        return chain is not None and chain.flip is not None and round(chain.flip, 2) in lines

    qtbot.waitUntil(flip_drawn, timeout=20000)
    window.docks["rotation"].raise_()
    qtbot.waitUntil(lambda: rotation.first_paint_done, timeout=5000)
    assert painted == [on_screen]  # emitted once


def prices_overlays(window):
    return window.panels["prices"]._overlay_items


def test_a_dock_brought_forward_before_the_idle_build_gets_its_panel_at_once(make_window, qtbot):
    window = make_window(start=False)
    window.show()
    assert "options" not in window.panels
    window.docks["options"].raise_()
    assert "options" in window.panels and window.panels["options"].isVisible()


def _laid_out(layout) -> set:
    """Every widget a layout places, through its nested layouts."""
    found = set()
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item.widget() is not None:
            found.add(item.widget())
        elif item.layout() is not None:
            found |= _laid_out(item.layout())
    return found


def test_every_visible_part_of_a_panel_is_laid_out(make_window, qtbot):
    # A child shown but in no layout sits at the panel's top-left corner, under its first
    # control (the price chart's freshness line peeked out around the interval box).
    window = make_window(demo=True)
    window.resize(1366, 740)
    window.show()
    qtbot.waitUntil(lambda: len(window.panels) == len(window.docks), timeout=30000)
    for key, panel in window.panels.items():
        placed = _laid_out(panel.layout())
        stray = [child for child in panel.findChildren(QWidget, options=Qt.FindChildOption
                                                      .FindDirectChildrenOnly)
                 if not child.isHidden() and child not in placed]
        assert not stray, (key, [c.objectName() or type(c).__name__ for c in stray])
