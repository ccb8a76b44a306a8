"""Unexpected errors reach the log and a non-modal message; every dock shows the demo dataset."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtWidgets import QApplication

from services.logs import install_excepthooks


def _boom(text: str) -> None:
    raise RuntimeError(text)


def test_a_crashing_job_is_logged_and_shown_without_a_dialog(make_window, qtbot, caplog):
    window = make_window(demo=True)
    window.show()
    window.scheduler.run("test-job", _boom, "disk on fire", on_result=lambda _v: None)
    qtbot.waitUntil(lambda: "disk on fire" in window.status.currentMessage(), timeout=10000)
    assert QApplication.activeModalWidget() is None  # nothing blocks the trader
    assert any("test-job failed" in r.getMessage() and r.exc_info for r in caplog.records)
    assert window.isVisible()


@pytest.fixture
def restore_hooks():
    saved = sys.excepthook, threading.excepthook
    yield
    sys.excepthook, threading.excepthook = saved


def test_uncaught_exceptions_on_any_thread_are_logged_and_shown(restore_hooks, caplog):
    shown: list[str] = []
    install_excepthooks(shown.append)
    try:
        _boom("on the GUI thread")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    thread = threading.Thread(target=_boom, args=("in a plain thread",))
    thread.start()
    thread.join()
    assert len(shown) == 2
    assert "RuntimeError: on the GUI thread" in shown[0]
    assert "in a plain thread" in shown[1] and "details in the log" in shown[1]
    logged = [r for r in caplog.records if r.name == "rotor.uncaught"]
    assert len(logged) == 2 and all(r.levelno == logging.ERROR and r.exc_info for r in logged)


def test_every_dock_shows_the_demo_dataset(make_window, qtbot):
    window = make_window(demo=True)
    window.show()
    for key, dock in window.docks.items():
        dock.raise_()  # a dock behind another's tab gets its panel when brought forward
        assert key in window.panels
        qtbot.waitUntil(window.panels[key].has_data, timeout=20000)
    options = window.panels["options"]
    assert "gamma flip" in options.headline.text()
    assert window.panels["movers"].rows == 10


def test_hand_edited_or_stale_settings_fall_back_to_defaults(make_window, settings, qtbot):
    for key, junk in (("vol/window", "thirty"), ("rotation/window", "7"), ("rotation/k", "x"),
                      ("prices/mode", "sideways"), ("prices/interval", "3m"),
                      ("funding/asset", "doge"), ("options/asset", "")):
        settings.setValue(key, junk)
    window = make_window(demo=True)
    window.show()
    for key in window.docks:
        window.build_panel(key)
    assert window.panels["volatility"].window == 30
    assert window.panels["rotation"].window == 60
    assert window.panels["rotation"].k_box.value() == 2.0
    prices = window.panels["prices"]
    assert (prices.mode, prices.interval) == ("stacked", "1h")
    assert window.panels["funding"].asset == "btc" and window.panels["options"].asset == "btc"
    qtbot.waitUntil(prices.has_data, timeout=15000)
