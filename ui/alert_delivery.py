"""A firing shown to the trader: a desktop notification through Qt's system tray, an optional
beep, and the status bar when there is no tray (docs/alert-delivery.md).

The tray icon object is where Rotor meets the OS: `TrayNotifier` builds a `QSystemTrayIcon`
unless it is given one (tests give a recording fake), and `QApplication.beep` is the sound unless
it is given another callable. No tray (a desktop without one, the offscreen platform) or a tray
that cannot show messages: the message goes to the status bar instead, for `STATUS_MS`.

Call it on the GUI thread (the alert engine brings firings there by a queued signal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStatusBar, QSystemTrayIcon

from models.alerts import Delivery, Firing
from ui.time_display import format_time, zone_label

#: how long a notification stays up (the OS may cap it)
MESSAGE_MS = 10_000
#: how long the status-bar fallback stays
STATUS_MS = 30_000


class TrayLike(Protocol):
    """What `TrayNotifier` uses of a `QSystemTrayIcon`."""

    messageClicked: Signal

    def showMessage(self, title: str, message: str, icon: QSystemTrayIcon.MessageIcon,
                    msecs: int) -> None: ...
    def supportsMessages(self) -> bool: ...
    def hide(self) -> None: ...


def firing_title(firing: Firing) -> str:
    return f"Rotor alert: {firing.rule_name}"


def firing_text(firing: Firing) -> str:
    """The notification's body: the summary, and when the condition became true when that is
    earlier than the firing (active hours, a cooldown)."""
    fmt = "%Y-%m-%d %H:%M"
    text = f"{firing.summary} (fired {format_time(firing.fired_ms, fmt)} {zone_label()}"
    if firing.true_since_ms < firing.fired_ms:
        text += f", true since {format_time(firing.true_since_ms, fmt)}"
    return text + ")"


class TrayNotifier(QObject):
    """Shows firings. `clicked(firing)` when the trader clicks the last notification shown."""

    clicked = Signal(object)

    def __init__(self, parent: QObject | None = None, *, status_bar: QStatusBar | None = None,
                 tray: TrayLike | None = None,
                 tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
                 beep: Callable[[], None] = QApplication.beep,
                 icon: QIcon | None = None) -> None:
        super().__init__(parent)
        self._status_bar = status_bar
        self._beep = beep
        self._last: Firing | None = None
        if tray is None and tray_available():
            icon = icon if icon is not None else QApplication.windowIcon()
            real = QSystemTrayIcon(icon, self)
            real.setToolTip("Rotor alerts")
            real.show()
            tray = real
        self._tray = tray
        if tray is not None:
            tray.messageClicked.connect(self._message_clicked)
        #: shown as a desktop notification ("tray") or in the status bar ("status bar")
        self.channel = "tray" if self._uses_tray() else "status bar"

    def _uses_tray(self) -> bool:
        return self._tray is not None and bool(self._tray.supportsMessages())

    def notify(self, firing: Firing, *, popup: bool = True, sound: bool = False) -> str | None:
        """Show `firing` (when `popup`) and beep (when `sound`); returns where it was shown
        ("tray", "status bar") or None."""
        shown = None
        if popup:
            title, text = firing_title(firing), firing_text(firing)
            if self._uses_tray():
                self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information,
                                       MESSAGE_MS)
                self._last = firing
                shown = "tray"
            elif self._status_bar is not None:
                self._status_bar.showMessage(f"{title} — {text}", STATUS_MS)
                shown = "status bar"
        if sound:
            self._beep()
        return shown

    def deliver(self, firing: Firing, delivery: Delivery | None) -> str | None:
        """As the rule's delivery asks (a notification by default, a beep if it says so)."""
        delivery = delivery or Delivery()
        return self.notify(firing, popup=delivery.notify, sound=delivery.sound)

    def close(self) -> None:
        if self._tray is not None:
            self._tray.hide()

    def _message_clicked(self) -> None:
        if self._last is not None:
            self.clicked.emit(self._last)
