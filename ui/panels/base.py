"""What every dock panel shares: the context it reads from, and how it tells it has data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from ui.scheduler import Scheduler
from ui.store import DataStore


@dataclass
class UiContext:
    store: DataStore
    scheduler: Scheduler
    settings: QSettings

    @property
    def demo(self) -> bool:
        return self.store.demo

    def now_ms(self) -> int:
        return self.scheduler.now_ms()


class Panel(QWidget):
    """A dock's content. Subclasses set `key`, `title`, `series_ids`, and implement `has_data`."""

    key = "panel"
    title = "Panel"
    #: the stored series this panel needs kept fresh
    series_ids: tuple[str, ...] = ()
    #: emitted once, after the first paint that shows data (start-up timing, screenshots)
    firstDataPaint = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName(f"{self.key}Panel")
        self._first_paint_done = False

    def has_data(self) -> bool:
        raise NotImplementedError

    @property
    def first_paint_done(self) -> bool:
        return self._first_paint_done

    def _note_painted(self) -> None:
        if not self._first_paint_done and self.has_data():
            self._first_paint_done = True
            self.firstDataPaint.emit()

    def shutdown(self) -> None:
        """Disconnect from the store before the window goes away."""


def elastic(label: QLabel) -> QLabel:
    """A status label that never widens its dock: long text is cut, not the layout."""
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setMinimumWidth(0)
    return label


def choice_buttons(owner: QWidget, bar: QHBoxLayout, values: Iterable[Any], current: Any,
                   on_choose: Callable[[Any], None], label: Callable[[Any], str] = str,
                   tooltip: Callable[[Any], str] | None = None) -> QButtonGroup:
    """A row of exclusive tool buttons (asset, window, range …) added to `bar`."""
    group = QButtonGroup(owner)
    for value in values:
        button = QToolButton(text=label(value), checkable=True)
        button.setChecked(value == current)
        if tooltip is not None:
            button.setToolTip(tooltip(value))
        button.clicked.connect(lambda _=False, v=value: on_choose(v))
        group.addButton(button)
        bar.addWidget(button)
    return group


def stored_choice(settings: QSettings, key: str, allowed: Iterable[Any] | None,
                  default: Any) -> Any:
    """A persisted setting read back safely: a value edited by hand or left by an older
    version (not of `default`'s type, or not one of `allowed`) falls back to `default`."""
    raw = settings.value(key, default)
    try:
        value = type(default)(raw)
    except (TypeError, ValueError):
        return default
    return value if allowed is None or value in allowed else default
