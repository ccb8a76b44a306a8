"""The minute backfill in the window (services/minute_backfill.py, docs/backfill.md).

It starts when the live services open (never in the demo), unless View → "Fetch 1m history"
is unchecked (the setting `backfill/minutes`) or `ROTOR_MINUTE_BACKFILL=off` (the tests set
it; a window test opts in). Its line sits at the right of the status bar
("BTC 1m history: 2019-03 … 38 % · 12,345 req · paused"), read from the service's in-memory
status once a second (no I/O on the GUI thread); View → "Pause 1m history" pauses and resumes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMenu, QStatusBar

from services.app import AppServices
from ui.scheduler import Scheduler
from ui.settings_file import read_setting

if TYPE_CHECKING:  # the service imports requests and pandas: loaded when the backfill starts
    from services.minute_backfill import MinuteBackfill

SETTING_KEY = "backfill/minutes"
ENV_VAR = "ROTOR_MINUTE_BACKFILL"
POLL_MS = 1000
STOP_WAIT_S = 0.2  # at close: a request in flight is left to the daemon thread
HINT = ("BTC and ETH minute candles from Binance's first day (2017-08-17), newest first.\n"
        "View → Pause 1m history pauses it.")


def backfill_allowed(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "").strip().lower() not in ("off", "0", "no", "false")


class BackfillControl(QObject):
    """Owns the running `MinuteBackfill`, its status-bar line and its two View actions."""

    def __init__(self, scheduler: Scheduler, status_bar: QStatusBar, settings: QSettings,
                 menu: QMenu, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.backfill: MinuteBackfill | None = None
        self._services: AppServices | None = None
        self.label = QLabel()
        self.label.setObjectName("backfill_status")
        self.label.setVisible(False)
        self.label.setToolTip(HINT)
        status_bar.addPermanentWidget(self.label)
        self.pause_action = QAction("Pause 1m history", self)
        self.pause_action.setObjectName("backfill_pause")
        self.pause_action.setEnabled(False)
        self.pause_action.triggered.connect(self.toggle_pause)
        self.enable_action = QAction("Fetch 1m history (BTC, ETH)", self)
        self.enable_action.setObjectName("backfill_enable")
        self.enable_action.setCheckable(True)
        self.enable_action.setChecked(bool(read_setting(settings, SETTING_KEY, True)))
        self.enable_action.toggled.connect(self.set_enabled)
        menu.addSeparator()
        menu.addAction(self.pause_action)
        menu.addAction(self.enable_action)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.refresh)
        scheduler.servicesReady.connect(self._on_services)

    @property
    def enabled(self) -> bool:
        return self.enable_action.isChecked()

    @Slot(object)
    def _on_services(self, services: AppServices) -> None:
        self.stop()
        live = not services.demo and services.sources is not None
        self._services = services if live else None
        if self._services is not None and self.enabled and backfill_allowed():
            self.start()

    def start(self) -> None:
        services = self._services
        if services is None or services.sources is None or self.backfill is not None:
            return
        from services.minute_backfill import MinuteBackfill

        self.backfill = MinuteBackfill(services.cache, services.sources.endpoints["binance"])
        self.backfill.start()
        self.pause_action.setEnabled(True)
        self._timer.start()
        self.refresh()

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        self._timer.stop()
        if self.backfill is not None:
            self.backfill.stop(timeout)
            self.backfill = None
        self.pause_action.setEnabled(False)
        self.label.setVisible(False)

    @Slot(bool)
    def set_enabled(self, on: bool) -> None:
        self.settings.setValue(SETTING_KEY, bool(on))
        if on:
            if backfill_allowed():
                self.start()
        else:
            self.stop()

    @Slot()
    def toggle_pause(self) -> None:
        if self.backfill is None:
            return
        self.backfill.set_paused(not self.backfill.paused)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        if self.backfill is None:
            return
        from services.minute_backfill import status_details, status_text

        status = self.backfill.status()
        self.label.setText(status_text(status))
        self.label.setToolTip(f"{status_details(status)}\n\n{HINT}")
        self.label.setVisible(True)
        self.pause_action.setText("Resume 1m history" if status.paused else "Pause 1m history")
        if status.done:
            self._timer.stop()  # the line stays: "1m history complete (BTC, ETH since …)"
            self.pause_action.setEnabled(False)
