"""The window's size on the screen it opens on: the preferred size where it fits, the screen's
available area where it does not (a 1366×768 laptop, half of a 1920 screen) (docs/window.md).
A restored geometry saved on a larger screen needs nothing here: `restoreGeometry` moves and
shrinks it into the available area itself (tests/ui/test_window_fit.py checks it)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

PREFERRED_SIZE = QSize(1600, 950)
#: the narrowest a wrapping label asks to be
WRAP_MIN_WIDTH = 240


class WrappingLabel(QLabel):
    """A label that wraps onto more lines in a narrow window instead of widening it, also where
    the layout around it knows nothing of height-for-width (a tool bar): it sets its own
    minimum height for the width it was given."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def minimumSizeHint(self) -> QSize:
        return QSize(min(WRAP_MIN_WIDTH, self._one_line()), self.height())

    def sizeHint(self) -> QSize:
        width = self.width() if self.isVisible() and self.width() > 1 else self._one_line()
        return QSize(self._one_line(), self._lines_height(width))

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit_height()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _padding(self) -> QSize:
        """Margins and style-sheet padding around the text."""
        self.ensurePolished()
        return self.size() - self.contentsRect().size() + QSize(2 * self.margin() + 2,
                                                                2 * self.margin())

    def _one_line(self) -> int:
        self.ensurePolished()
        slack = 16  # QLabel wraps a little before the advance it measures
        return (self.fontMetrics().horizontalAdvance(self.text()) + self._padding().width()
                + slack)

    def _lines_height(self, width: int) -> int:
        pad = self._padding()
        flags = int(Qt.TextFlag.TextWordWrap)
        box = QRect(0, 0, max(1, width - pad.width()), 100_000)
        return self.fontMetrics().boundingRect(box, flags, self.text()).height() + pad.height()

    def _fit_height(self) -> None:
        """As tall as its text needs at its width (a tool bar does no height-for-width)."""
        height = self._lines_height(max(1, self.width()))
        if height != self.height() or height != self.minimumHeight():
            self.setFixedHeight(height)


def available_area(window: QWidget) -> QRect | None:
    """The part of the window's screen not taken by panels and task bars."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


def fitted_size(preferred: QSize, area: QRect, frame: QSize | None = None) -> QSize:
    """`preferred`, shrunk to fit `area` with the window frame (`frame`: its extra size)."""
    frame = frame or QSize(0, 0)
    return QSize(min(preferred.width(), area.width() - frame.width()),
                 min(preferred.height(), area.height() - frame.height()))


def size_to_screen(window: QWidget, preferred: QSize = PREFERRED_SIZE) -> None:
    """Open at `preferred`, or at the screen's available size when that is smaller, centred."""
    area = available_area(window)
    if area is None:
        window.resize(preferred)
        return
    size = fitted_size(preferred, area, _frame_extra(window))
    window.resize(size)
    centre = area.center()
    window.move(centre.x() - size.width() // 2, centre.y() - size.height() // 2)


def _frame_extra(window: QWidget) -> QSize:
    """What the window manager's frame adds (nothing known before the first show)."""
    if not window.isVisible():
        return QSize(0, 0)
    return window.frameGeometry().size() - window.geometry().size()
