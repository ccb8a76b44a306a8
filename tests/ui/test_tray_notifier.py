"""TrayNotifier: a firing as a tray message, a beep, or the status bar without a tray. The tray
icon and the beep are replaced at the OS boundary; no window is built."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QStatusBar, QSystemTrayIcon

from models.alerts import Delivery, Firing
from ui import time_display
from ui.alert_delivery import MESSAGE_MS, STATUS_MS, TrayNotifier

HOUR = 3_600_000
T0 = 1_770_400_800_000  # 2026-02-06 18:00 UTC


class FakeTray(QObject):
    """The OS boundary: records what Qt's QSystemTrayIcon would have been asked to show."""

    messageClicked = Signal()

    def __init__(self, supports_messages: bool = True) -> None:
        super().__init__()
        self.messages: list[tuple] = []
        self.hidden = False
        self._supports = supports_messages

    def showMessage(self, title, message, icon, msecs):
        self.messages.append((title, message, icon, msecs))

    def supportsMessages(self) -> bool:
        return self._supports

    def hide(self) -> None:
        self.hidden = True


def firing(since_ms: int = T0 - 2 * HOUR) -> Firing:
    return Firing("squeeze", "Short squeeze", since_ms, T0, T0 + 4_000,
                  "BTC +6.1 % in 4 h with funding < 0 on 3 venues", {"btc.1h:close": 70_100.0},
                  "btc")


@pytest.fixture(autouse=True)
def _utc_display():
    old = time_display.zone_key()
    time_display.set_zone("utc")
    yield
    time_display.set_zone(old)


@pytest.fixture
def beeps():
    return []


def test_a_firing_becomes_a_tray_message(qtbot, beeps):
    tray = FakeTray()
    notifier = TrayNotifier(tray=tray, beep=lambda: beeps.append(1))
    assert notifier.channel == "tray"
    assert notifier.notify(firing()) == "tray"
    assert tray.messages == [(
        "Rotor alert: Short squeeze",
        "BTC +6.1 % in 4 h with funding < 0 on 3 venues (fired 2026-02-06 18:00 UTC, true since "
        "2026-02-06 16:00)",
        QSystemTrayIcon.MessageIcon.Information, MESSAGE_MS)]
    assert beeps == []


def test_the_rules_delivery_decides_popup_and_sound(qtbot, beeps):
    tray = FakeTray()
    notifier = TrayNotifier(tray=tray, beep=lambda: beeps.append(1))
    assert notifier.deliver(firing(), Delivery(notify=True, sound=True)) == "tray"
    assert len(tray.messages) == 1 and beeps == [1]
    assert notifier.deliver(firing(), Delivery(notify=False, sound=True)) is None
    assert len(tray.messages) == 1 and beeps == [1, 1]
    assert notifier.deliver(firing(), Delivery(notify=False, sound=False)) is None
    assert notifier.deliver(firing(), None) == "tray"  # the default: a notification, no sound
    assert len(tray.messages) == 2 and beeps == [1, 1]


def test_without_a_tray_the_status_bar_says_it(qtbot, beeps):
    bar = QStatusBar()
    qtbot.addWidget(bar)
    notifier = TrayNotifier(status_bar=bar, tray_available=lambda: False,
                            beep=lambda: beeps.append(1))
    assert notifier.channel == "status bar"
    assert notifier.notify(firing(since_ms=T0), sound=True) == "status bar"
    assert bar.currentMessage() == ("Rotor alert: Short squeeze — BTC +6.1 % in 4 h with "
                                    "funding < 0 on 3 venues (fired 2026-02-06 18:00 UTC)")
    assert beeps == [1]
    assert STATUS_MS >= 10_000


def test_the_offscreen_platform_has_no_tray_and_falls_back(qtbot):
    # the real check, on the test platform: no tray icon object is made
    assert not QSystemTrayIcon.isSystemTrayAvailable()
    bar = QStatusBar()
    qtbot.addWidget(bar)
    notifier = TrayNotifier(status_bar=bar)
    assert notifier.notify(firing()) == "status bar"
    assert "Short squeeze" in bar.currentMessage()


def test_a_tray_that_cannot_show_messages_uses_the_status_bar(qtbot):
    bar = QStatusBar()
    qtbot.addWidget(bar)
    tray = FakeTray(supports_messages=False)
    notifier = TrayNotifier(status_bar=bar, tray=tray)
    assert notifier.notify(firing()) == "status bar"
    assert tray.messages == []


def test_clicking_the_message_names_the_firing_shown(qtbot):
    tray = FakeTray()
    notifier = TrayNotifier(tray=tray)
    tray.messageClicked.emit()  # nothing shown yet: nothing to jump to
    shown = firing()
    notifier.notify(shown)
    with qtbot.waitSignal(notifier.clicked) as blocker:
        tray.messageClicked.emit()
    assert blocker.args == [shown]
    notifier.close()
    assert tray.hidden
