"""File → Settings…: bad values are refused with a message and nothing is stored; good ones are
stored and in force at once; the data folder is measured and a series cleared on workers."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QSettings

from models.preferences import Preferences
from models.series import SeriesData
from models.status import SourceState
from services.app import CACHE_FILE, AppServices
from services.cache import Cache
from services.storage import folder_size, format_bytes
from ui import time_display
from ui.preferences import load_preferences, save_preferences
from ui.scheduler import Scheduler
from ui.settings_dialog import SettingsDialog
from ui.store import DataStore


@pytest.fixture(autouse=True)
def _back_to_utc():
    yield
    time_display.set_zone("utc")


def _ini(settings: QSettings) -> str:
    settings.sync()
    with open(settings.fileName(), encoding="utf-8") as file:
        return file.read()


@pytest.mark.parametrize(("venue", "text", "words"), [
    ("bybit", "5", "Bybit: refresh every 5 s is too fast; at least 10 s"),
    ("binance_futures", "20s",
     "Binance futures: refresh every 20 s is too fast; at least 30 s (its rate limit)"),
    ("okx", "2 days", "OKX: '2 days' is not a duration (write e.g. 30 s, 5 m or 1 h)"),
    ("deribit", "25h", "Deribit: refresh every 90000 s is too slow; at most 86400 s (24 h)"),
])
def test_a_bad_value_is_refused_with_a_message_and_nothing_is_stored(
        qtbot, settings, venue, text, words):
    save_preferences(settings, Preferences(cadence_s={"okx": 120}))
    before = _ini(settings)
    dialog = SettingsDialog(settings, Scheduler())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.zone.setCurrentIndex(dialog.zone.findData("new_york"))
    dialog.enabled["bybit"].setChecked(False)
    dialog.cadence[venue].setText(text)
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.isVisible()  # still open, saying why
    assert dialog.message.isVisible() and dialog.message.text() == words
    assert _ini(settings) == before
    assert load_preferences(settings) == Preferences(cadence_s={"okx": 120})
    assert time_display.zone_key() == "utc"  # nothing applied either


def test_ok_stores_and_applies_at_once(qtbot, make_window, settings):
    window = make_window(demo=True)
    dialog = window.open_settings_dialog()
    qtbot.waitExposed(dialog)
    dialog.zone.setCurrentIndex(dialog.zone.findData("new_york"))
    dialog.enabled["bybit"].setChecked(False)
    dialog.cadence["okx"].setText("2 m")
    dialog.cadence["yahoo"].setText("1h")
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert not dialog.isVisible() and not dialog.message.isVisible()
    expected = Preferences("new_york", {"okx": 120, "yahoo": 3600}, frozenset({"bybit"}))
    assert load_preferences(settings) == expected
    assert window.scheduler.tracker.preferences == expected
    assert time_display.zone_key() == "new_york"
    titles = {item.getAxis("bottom").labelText for item in _plot_items(window)}
    assert "time (New York)" in titles and "time (UTC)" not in titles
    # re-opened: shows what is stored
    dialog = window.open_settings_dialog()
    assert dialog.cadence["okx"].text() == "2 m" and not dialog.enabled["bybit"].isChecked()
    assert dialog.zone.currentData() == "new_york"


def _plot_items(window):
    import pyqtgraph as pg

    items = []
    for panel in window.panels.values():
        for widget in panel.findChildren(pg.PlotWidget):
            items.append(widget.getPlotItem())
        for layout in panel.findChildren(pg.GraphicsLayoutWidget):
            items.extend(i for i in layout.ci.items if isinstance(i, pg.PlotItem))
    return items


def test_a_hand_edited_bad_setting_falls_back_to_its_default(settings):
    settings.setValue("refresh/bybit_seconds", 3)  # below the 10 s floor
    settings.setValue("refresh/okx_seconds", 600)
    settings.setValue("display/time_zone", "Mars")
    settings.setValue("venues/disabled", ["okx", "nasdaq"])
    assert load_preferences(settings) == Preferences(cadence_s={"okx": 600},
                                                     disabled_venues=frozenset({"okx"}))


def _live_scheduler(data_dir, monkeypatch) -> tuple[Scheduler, DataStore, Cache]:
    cache = Cache(data_dir / CACHE_FILE)
    scheduler = Scheduler()
    store = DataStore()
    store.follow(scheduler)
    scheduler.services = AppServices(cache, None, False, data_dir)
    return scheduler, store, cache


def test_the_data_folder_is_measured_on_a_worker_and_can_be_opened(
        qtbot, settings, data_dir, monkeypatch):
    scheduler, _store, _cache = _live_scheduler(data_dir, monkeypatch)
    (data_dir / "logs").mkdir(exist_ok=True)
    (data_dir / "logs" / "rotor.log").write_bytes(b"l" * 3000)
    threads: list[threading.Thread] = []

    def measured(path):
        threads.append(threading.current_thread())
        return folder_size(path)

    monkeypatch.setattr("ui.settings_dialog.folder_size", measured)
    opened = []
    monkeypatch.setattr("ui.settings_dialog.QDesktopServices.openUrl",
                        lambda url: opened.append(url.toLocalFile()))
    try:
        dialog = SettingsDialog(settings, scheduler)
        qtbot.addWidget(dialog)
        expected = format_bytes(folder_size(data_dir))
        qtbot.waitUntil(lambda: dialog.folder_size.text() == expected, timeout=5000)
        assert threads and threading.main_thread() not in threads
        assert dialog.folder.text() == str(data_dir)
        dialog.open_folder.click()
        assert opened == [str(data_dir)]
    finally:
        scheduler.shutdown(2000)


def test_clearing_a_series_deletes_it_on_a_worker_drops_it_and_refetches_it(
        qtbot, settings, data_dir, monkeypatch):
    scheduler, store, cache = _live_scheduler(data_dir, monkeypatch)
    rows = SeriesData.from_rows([0, 3_600_000], rate=[0.0001, 0.0002],
                                interval_hours=[8.0, 8.0], apr_pct=[10.95, 21.9])
    cache.upsert("funding.bybit.btc", rows)
    cache.upsert("funding.okx.btc", rows)
    store.set_series("funding.bybit.btc", cache.read("funding.bybit.btc"))
    refetched: list[list[str]] = []
    monkeypatch.setattr(scheduler.tracker, "_specs", {"funding.bybit.btc": object()})
    monkeypatch.setattr(scheduler, "refresh_now", lambda ids=None: refetched.append(list(ids)))
    deleted_on: list[threading.Thread] = []
    delete = Cache.delete

    def observed(self, series_id):
        deleted_on.append(threading.current_thread())
        return delete(self, series_id)

    monkeypatch.setattr(Cache, "delete", observed)
    try:
        dialog = SettingsDialog(settings, scheduler)
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: dialog.series.count() == 2, timeout=5000)
        assert dialog.clear_button.isEnabled()
        dialog.clear_series("funding.bybit.btc")
        qtbot.waitUntil(lambda: dialog.message.text().startswith("funding.bybit.btc cleared"),
                        timeout=5000)
        qtbot.waitUntil(lambda: dialog.series.count() == 1, timeout=5000)
    finally:
        scheduler.shutdown(2000)
    assert deleted_on and threading.main_thread() not in deleted_on
    assert Cache(data_dir / CACHE_FILE).series_ids() == ["funding.okx.btc"]
    assert store.series("funding.bybit.btc") is None
    assert refetched == [["funding.bybit.btc"]]


def test_the_demo_is_not_cleared(qtbot, make_window):
    window = make_window(demo=True)
    qtbot.waitUntil(lambda: window.scheduler.services is not None, timeout=10000)
    dialog = window.open_settings_dialog()
    assert not dialog.clear_button.isEnabled()
    messages = []
    window.scheduler.clear_cached_series("btc.1h", messages.append)
    assert messages == ["the demo dataset is not cleared"]
    states = {s.state for s in window.store.statuses().values()}
    assert SourceState.OFF not in states
