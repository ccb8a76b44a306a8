"""What every dock panel shares: the context it reads from, persisted choices, subscriptions that
disconnect themselves, one demo badge, a freshness line, and how it tells it has data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal, SignalInstance
from PySide6.QtWidgets import (
    QBoxLayout,
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from models.drawings import DrawingBook
from models.preferences import venue_name
from models.status import SourceState, SourceStatus
from models.symbols import SymbolList
from ui import theme
from ui.derived_feeds import DerivedFeeds, Subscription
from ui.scheduler import Scheduler
from ui.settings_file import read_setting
from ui.store import DataStore
from ui.time_display import on_zone_changed, to_datetime, zone_label
from ui.time_link import TimeLink

if TYPE_CHECKING:
    from ui.alerts import AlertEngine


@dataclass
class UiContext:
    store: DataStore
    scheduler: Scheduler
    settings: QSettings
    feeds: DerivedFeeds
    #: the time cursor and the linked x range shared by the time-series docks
    time_link: TimeLink = field(default_factory=TimeLink)
    #: every asset's drawings, their selection and undo history (models/drawings.py)
    drawings: DrawingBook = field(default_factory=DrawingBook)
    #: the user's own symbols (models/symbols.py), shown beside the built-in assets
    symbols: SymbolList = field(default_factory=SymbolList)
    #: the workspace's alert rules at work (ui/alerts.py); None in a window without alerts
    alerts: AlertEngine | None = None

    @property
    def demo(self) -> bool:
        return self.store.demo

    def now_ms(self) -> int:
        """The wall clock, or in replay the moment shown (countdowns and ages read as of it)."""
        t = self.store.replay_ms
        return t if t is not None else self.scheduler.now_ms()


def symbol_params(ctx: UiContext) -> dict[str, Any]:
    """The movers and rotation feeds' parameter for the user's symbols; none while there are
    none, so the feed is the same one as without the parameter."""
    symbols = ctx.symbols.feed_param()
    return {"symbols": symbols} if symbols else {}


class Panel(QWidget):
    """A dock's content. Subclasses set `key`, `title`, `series_ids`, and implement `has_data`.

    Panels draw what they are handed: analyses come from `ctx.feeds` (`self.follow`), stored
    series from `ctx.store`. Connections made with `self.listen` / `self.follow` end with the
    panel (`shutdown`).
    """

    key = "panel"
    title = "Panel"
    #: the dock's title while it is tabbed with others (short: five tabs share ~640 px);
    #: empty when `title` is short already (ui/dock_titles.py)
    tab_title = ""
    #: prefix of the panel's persisted choices (older versions' keys are kept readable)
    settings_prefix = ""
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
        self._connections: list[tuple[SignalInstance, Callable[..., Any]]] = []
        self._subscriptions: list[Subscription] = []
        self._symbol_listeners: list[Callable[[], None]] = []
        self._allowed: dict[str, list[Any] | None] = {}
        # Parented at once: a panel that never lays them out must still own them (a parentless
        # widget with a live timer would be freed by whichever thread runs the collector).
        self.demo_badge = QLabel("Demo data (synthetic)", self)
        self.demo_badge.setStyleSheet(f"color: {theme.WARNING}; font-weight: bold;")
        self.demo_badge.setToolTip("A made-up dataset shaped after February 2026: nothing in "
                                   "this panel is a market price.")
        self.demo_badge.setVisible(ctx.demo)
        self.freshness = FreshnessLine(ctx, self.freshness_ids, self)
        self.listen(ctx.store.statusChanged, self._on_status_changed)

    # -- persisted choices --------------------------------------------------------------------
    def persisted(self, name: str, allowed: Iterable[Any] | None, default: Any) -> Any:
        """A choice saved under `<prefix>/<name>`, read back safely (see `stored_choice`)."""
        allowed = None if allowed is None else list(allowed)
        self._allowed[name] = allowed
        value = stored_choice(self.ctx.settings, self._setting(name), allowed, default)
        setattr(self, name, value)
        return value

    def choose(self, name: str, value: Any) -> None:
        """The user picked `value` for a persisted choice: set it, save it, react."""
        allowed = self._allowed.get(name)
        if allowed is not None and value not in allowed:
            raise ValueError(f"{self.key}: {name} cannot be {value!r}")
        setattr(self, name, value)
        self.ctx.settings.setValue(self._setting(name), value)
        self._on_choice(name)

    def _setting(self, name: str) -> str:
        return f"{self.settings_prefix or self.key}/{name}"

    def _on_choice(self, name: str) -> None:
        """A persisted choice changed (default: recompute what the panel shows)."""
        self._recompute()

    # -- connections that end with the panel ---------------------------------------------------
    def listen(self, signal: SignalInstance, slot: Callable[..., Any]) -> None:
        signal.connect(slot)
        self._connections.append((signal, slot))

    def follow(self, analysis: str, slot: Callable[[Any], None], **params: Any) -> Subscription:
        """Receive the results of a derived feed (now, if it has one, and on every change)."""
        sub = self.ctx.feeds.subscribe(analysis, slot, on_screen=self.on_screen, **params)
        self._subscriptions.append(sub)
        return sub

    def follow_symbols(self, callback: Callable[[], None]) -> None:
        """`callback()` after each change to the user's symbols, until the panel goes."""
        self.ctx.symbols.add_listener(callback)
        self._symbol_listeners.append(callback)

    def shutdown(self) -> None:
        """Disconnect from the store and the feeds before the window goes away."""
        for callback in self._symbol_listeners:
            self.ctx.symbols.remove_listener(callback)
        self._symbol_listeners.clear()
        for sub in self._subscriptions:
            sub.close()
        self._subscriptions.clear()
        for signal, slot in self._connections:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # the sender is already gone
                pass
        self._connections.clear()
        self.freshness.stop()

    # -- freshness ----------------------------------------------------------------------------
    def hide_freshness(self) -> None:
        """A dock with no series of its own (drawings, sources, alerts) shows no freshness line."""
        self.freshness.stop()
        self.freshness.setVisible(False)

    def freshness_ids(self) -> tuple[str, ...]:
        """The series whose state the freshness line reports (default: all of the panel's)."""
        return self.series_ids

    def _on_status_changed(self, series_id: str) -> None:
        self.demo_badge.setVisible(self.ctx.demo)
        if series_id in self.freshness_ids():
            self.freshness.refresh_soon()

    def footer(self) -> QHBoxLayout:
        """The freshness line and the demo badge, for the bottom of the panel's layout."""
        row = QHBoxLayout()
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.freshness, 1)
        row.addWidget(self.demo_badge)
        return row

    def add_footer(self, layout: QBoxLayout) -> None:
        layout.addLayout(self.footer())

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



def _hhmm(ms: int | None, now_ms: int | None = None) -> str:
    """HH:MM, with the date in front when it is not today's (old data must not look fresh)."""
    if ms is None:
        return "–"
    when = to_datetime(ms / 1000)  # in the display zone (ui/time_display.py)
    if now_ms is not None and when.date() != to_datetime(now_ms / 1000).date():
        return when.strftime("%d %b %H:%M")
    return when.strftime("%H:%M")


def _age(ms: int | None, now_ms: int) -> str:
    if ms is None:
        return ""
    minutes = max(0, (now_ms - ms) // 60_000)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago" if minutes < 2880 else f"{minutes // 1440} d ago"


def describe_freshness(statuses: list[SourceStatus], now_ms: int, demo: bool) -> tuple[str, str]:
    """(text, tone) for a panel's series: last good data and its age, the newest row, the
    last error and the next retry."""
    if not statuses:
        return "waiting for data", "muted"
    good = [s.last_good_ms for s in statuses if s.last_good_ms]
    rows = [s.data_last_ms for s in statuses if s.data_last_ms]
    parts = []
    zone = zone_label()
    if rows:
        parts.append(f"data to {_hhmm(max(rows), now_ms)} {zone}")
    if good and not demo:
        last = max(good)
        parts.append(f"updated {_hhmm(last, now_ms)} {zone} ({_age(last, now_ms)})")
    off = sorted({s.venue for s in statuses if s.state == SourceState.OFF})
    if off:  # a disabled venue's series are not refreshed: say so, not "stale"
        parts.append(f"{', '.join(venue_name(v) for v in off)} off in Settings")
    failing = [s for s in statuses if s.state == SourceState.ERROR]
    stale = [s for s in statuses if s.state == SourceState.STALE]
    tone = "muted"
    if failing:
        newest = max(failing, key=lambda s: s.error_at_ms or 0)
        retry = min((s.next_retry_ms for s in failing if s.next_retry_ms), default=None)
        parts.append(f"{len(failing)} of {len(statuses)} failing · last error "
                     f"{_hhmm(newest.error_at_ms)} {zone}: {newest.error_words} "
                     f"({newest.series_id}) · retry {_hhmm(retry)} {zone}")
        tone = "error"
    elif stale:
        parts.append(f"{len(stale)} stale")
        tone = "warning"
    refused = [s for s in statuses if s.dropped]
    if refused:  # bad rows a venue sent were not stored: say so, don't hide it
        parts.append(f"rows refused in {len(refused)} series ({refused[0].dropped})")
        tone = "error" if tone == "error" else "warning"
    return " · ".join(parts) or "waiting for data", tone


def tone_color(tone: str) -> str:
    """A freshness tone's colour in the current theme."""
    return {"warning": theme.WARNING, "error": theme.ERROR}.get(tone, theme.MUTED)



class FreshnessLine(QLabel):
    """One line under a panel: last good data, its age, last error, next retry."""

    def __init__(self, ctx: UiContext, ids: Callable[[], Iterable[str]],
                 parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.ctx = ctx
        self._ids = ids
        self.setObjectName("freshness")
        elastic(self)
        self.refresh_soon = debounced(self, 100, self.refresh)
        self._ages = QTimer(self)  # ages ("3 min ago") move on without any status change
        self._ages.setInterval(30_000)
        self._ages.timeout.connect(self.refresh)
        self._ages.start()
        on_zone_changed(self.refresh)
        ctx.store.replayChanged.connect(self._on_replay)  # a method: goes with the label
        self.refresh_soon()  # after the panel's own __init__: its ids may depend on it

    def refresh(self) -> None:
        if self.ctx.store.replaying:  # the sources' state is today's: say what is shown
            # One text for every step (the replay bar has the time): a new text would lay out
            # every dock again at each step (~50 ms).
            text = "replay: as known at the time in the replay bar; live updates wait"
            if self.text() != text:  # a style set again lays the dock out again
                self.setText(text)
                self.setStyleSheet(f"color: {theme.ACCENT}; font-size: 8pt;")
                self.setToolTip(text)
            return
        statuses = [s for i in self._ids() if (s := self.ctx.store.status(i)) is not None]
        text, tone = describe_freshness(statuses, self.ctx.now_ms(), self.ctx.demo)
        self.setText(text)
        self.setStyleSheet(f"color: {tone_color(tone)}; font-size: 8pt;")
        errors = [f"{s.series_id}: {s.last_error}" for s in statuses if s.last_error]
        self.setToolTip("\n".join(errors[:10]) or text)

    def _on_replay(self, _t_ms: object) -> None:
        self.refresh_soon()

    def stop(self) -> None:
        self._ages.stop()


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


def convention_box(bar: QHBoxLayout, options: Iterable[tuple[str, str, str]], current: str,
                   on_choose: Callable[[str], None], tooltip: str) -> QComboBox:
    """A drop-down of conventions (value, label, description) added to `bar`: each item's
    description is its tooltip, so the choice is stated where it is made."""
    box = QComboBox()
    for value, label, description in options:
        box.addItem(label, value)
        box.setItemData(box.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
    box.setCurrentIndex(max(0, box.findData(current)))
    box.setToolTip(tooltip)
    box.currentIndexChanged.connect(lambda _i: on_choose(box.currentData()))
    bar.addWidget(box)
    return box


def stored_choice(settings: QSettings, key: str, allowed: Iterable[Any] | None,
                  default: Any) -> Any:
    """A persisted setting read back safely (`ui.settings_file.read_setting`): a value edited by
    hand or left by an older version (not of `default`'s type, or not one of `allowed`) falls
    back to `default`."""
    return read_setting(settings, key, default, allowed)
