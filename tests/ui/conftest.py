"""Qt test fixtures: a main window on isolated settings, a threaded loopback venue server, and
teardown checks that no worker is left running."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

import ui  # noqa: F401  (pins the Qt binding)
from services import http
from services.config import ENV_VARS


@pytest.fixture
def venue_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    """A threaded loopback server standing in for every venue (workers call it concurrently)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    base = server.url_for("/").rstrip("/")
    for var in ENV_VARS.values():
        monkeypatch.setenv(var, base)
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def gui_thread_requests() -> Iterator[list[str]]:
    """URLs requested from the GUI (main) thread: must stay empty."""
    seen: list[str] = []

    def observe(method: str, url: str) -> None:
        if threading.current_thread() is threading.main_thread():
            seen.append(f"{method} {url}")

    remove = http.add_request_observer(observe)
    yield seen
    remove()


@pytest.fixture(autouse=True, scope="session")
def _collect_on_the_gui_thread(qapp) -> None:
    """As the window does: garbage cycles holding Qt objects are freed on the GUI thread."""
    from ui.gui_collector import collect_on_gui_thread

    collect_on_gui_thread()


@pytest.fixture(autouse=True)
def _no_dangling_workers(qapp) -> Iterator[None]:
    from PySide6.QtCore import QThreadPool

    yield
    pool = QThreadPool.globalInstance()
    done = pool.waitForDone(5000)
    assert done, "a worker was still running 5 s after the test ended"


@pytest.fixture
def settings(tmp_path):
    from ui.main_window import open_settings

    return open_settings(str(tmp_path / "settings.ini"))


@pytest.fixture(scope="session")
def demo_cache_template(tmp_path_factory) -> Path:
    """The demo dataset stored once per session: a demo window copies it instead of storing the
    dataset again (about 1 s a window since the liquidation events)."""
    from services.app import DEMO_CACHE_FILE
    from services.cache import Cache
    from services.demo import populate_cache

    path = tmp_path_factory.mktemp("demo-cache") / DEMO_CACHE_FILE
    cache = Cache(path)
    populate_cache(cache)
    cache.close()
    return path


@pytest.fixture
def make_window(qtbot, settings, data_dir, demo_cache_template):
    from services.app import DEMO_CACHE_FILE
    from ui.main_window import MainWindow

    windows = []

    def make(**kwargs):
        target = data_dir / DEMO_CACHE_FILE
        if kwargs.get("demo") and not target.exists():
            shutil.copyfile(demo_cache_template, target)
        window = MainWindow(kwargs.pop("settings", settings), **kwargs)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.isVisible() or not window.scheduler._closing:
            window.close()


@pytest.fixture
def demo_window(make_window, qtbot):
    """The demo window at a desktop size with every dock built and the cache read."""
    window = make_window(demo=True)
    window.resize(1600, 950)
    window.show()
    for key in window.docks:
        window.build_panel(key)
    qtbot.waitUntil(lambda: window.scheduler.cache_read_done, timeout=20000)
    return window


@pytest.fixture
def laptop_window(make_window, qtbot):
    """The demo window at 1366×768, active (keys reach it) and showing its data."""
    from PySide6.QtWidgets import QApplication

    window = make_window(demo=True)
    window.resize(1366, 768)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.panels_have_data, timeout=60000)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    return window


@pytest.fixture
def make_panel(qtbot, ctx):
    """`make_panel(cls, width, height)`: a panel on the test module's own `ctx` fixture, shown
    at that size and shut down after the test."""
    made = []

    def make(cls, width=1000, height=700):
        panel = cls(ctx)
        qtbot.addWidget(panel)
        panel.resize(width, height)
        panel.show()
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.shutdown()
