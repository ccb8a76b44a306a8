"""What every dock panel shares: the context it reads from, and how it tells it has data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer, Signal
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
        self._awaiting_paint = False
        # One recompute for a burst of changes: start-up publishes dozens of series in one
        # pass, and a job per series would queue work that the next one supersedes.
        self._recompute_soon = debounced(self, 0, self._recompute)

    def has_data(self) -> bool:
        raise NotImplementedError

    def _recompute(self) -> None:
        """Recompute what the panel shows from the store (subclasses that follow data)."""

    def on_screen(self) -> bool:
        """Shown and not hidden behind another dock's tab (Qt keeps those "visible", off-screen)."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    @property
    def first_paint_done(self) -> bool:
        return self._first_paint_done

    def _note_painted(self) -> None:
        """Data is drawn into the panel's items: `firstDataPaint` follows its next real paint
        (a dock behind another's tab paints when it is brought forward)."""
        if self._first_paint_done or self._awaiting_paint or not self.has_data():
            return
        self._awaiting_paint = True
        self.installEventFilter(self)
        self.update()

    def _mark_painted(self) -> None:
        """Called right after a paint of the panel's chart: emit now if it showed data."""
        if not self._first_paint_done and self.has_data():
            self._first_paint_done = True
            self.firstDataPaint.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self and self._awaiting_paint and event.type() == QEvent.Type.Paint:
            self._awaiting_paint = False
            self.removeEventFilter(self)
            # Children paint after their parent in the same pass: emit once that pass is done.
            QTimer.singleShot(0, self._mark_painted)
        return super().eventFilter(watched, event)

    def shutdown(self) -> None:
        """Disconnect from the store before the window goes away."""


def debounced(owner: QObject, msec: int, slot: Callable[[], object]) -> Callable[..., None]:
    """A callable that runs `slot` once, `msec` after the last call of a burst (on the GUI
    thread). superqt's `qdebounced` does this too, but importing superqt loads all of its
    widgets (~70 ms here), which the first chart should not wait for."""
    timer = QTimer(owner)
    timer.setSingleShot(True)
    timer.setInterval(msec)
    timer.timeout.connect(slot)
    return lambda *_args: timer.start()


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
