"""Replay: the whole window as of one moment t, moved by a slider, keys or playback
(docs/replay.md).

The narrowest place for "as of t" is the road every dock already reads (docs/architecture.md,
"The data road"): the store shows each series cut to the rows known at t and the snapshots at
or before t (read here, on a worker), and the derived feeds run every analysis through
`models.asof.AsOfLoader`. A step signals only the series and snapshots whose known rows changed,
so only the feeds reading them recompute, one run per feed at a time, the latest t winning: at
3600× the feeds never queue a backlog. Live publications meanwhile wait in the store until
replay ends.

`ReplayController` owns the time cursor, playback (1×, 60×, 3600×), the events to step to
(regime changes from the squeeze analysis; other sources through `set_events`, e.g. alert
firings) and the replay bar.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QSlider,
    QToolBar,
    QToolButton,
)

from models.analyses import ANALYSES
from models.asof import known_delay_ms
from models.catalog import find_spec
from models.dock_choices import DOCK_DEFAULTS
from models.series import MS_PER_HOUR
from ui import theme
from ui.derived_feeds import StoreLoader
from ui.time_display import format_time, zone_label

if TYPE_CHECKING:
    from ui.main_window import MainWindow

log = logging.getLogger(__name__)

#: playback speeds: data time per wall-clock time
SPEEDS = (1, 60, 3600)
#: how often playback moves the cursor (ms of wall clock); a step coalesces what it skipped
PLAY_TICK_MS = 50
#: the slider's resolution
SLIDER_STEP_MS = 60_000
#: the price chart's right edge follows t once it is this share of the span away from t + 2 %
#: (a few pixels: moving every linked dock's range at each step would cost ~100 ms)
FOLLOW_SLACK = 0.01
#: the keys' small step
NUDGE_MS = MS_PER_HOUR
REGIME_WORDS = {1: "short squeeze", -1: "long flush"}


def replay_label(t_ms: int) -> str:
    """'REPLAY 2026-02-05 20:00 UTC' (in the display zone, ui/time_display.py)."""
    return f"REPLAY {format_time(int(t_ms), '%Y-%m-%d %H:%M')} {zone_label()}"


def regime_events(asset: str, periods: Iterable[tuple[int, int, int]]) -> list[tuple[int, str]]:
    """Each regime period's start and end as events, at the time they became known: a bar's
    regime is classified on its close, one hour after its stamp (models/asof.py)."""
    out = []
    for start, end, kind in periods:
        word = REGIME_WORDS.get(int(kind), "regime")
        out.append((int(start) + MS_PER_HOUR, f"{asset.upper()} {word} begins"))
        out.append((int(end), f"{asset.upper()} {word} ends"))
    return sorted(out)


def next_event(events: Sequence[tuple[int, str]], t_ms: int, direction: int
               ) -> tuple[int, str] | None:
    """The first event after `t_ms` (direction +1) or the last before it (−1)."""
    times = [e[0] for e in events]
    if direction > 0:
        i = bisect.bisect_right(times, t_ms)
        return events[i] if i < len(events) else None
    i = bisect.bisect_left(times, t_ms) - 1
    return events[i] if i >= 0 else None


def data_span(series: dict[str, Any]) -> tuple[int, int] | None:
    """The span replay can show: from the first to the last known moment of the hourly-or-finer
    series (daily history going back years would make a slider minute unreachable)."""
    firsts, lasts = [], []
    for series_id, data in series.items():
        spec = find_spec(series_id)
        if data is None or not len(data) or spec is None or spec.is_snapshot:
            continue
        lasts.append(int(data.time[-1]) + known_delay_ms(series_id))
        if (spec.interval_ms or 0) <= MS_PER_HOUR:
            firsts.append(int(data.time[0]) + known_delay_ms(series_id))
    if not lasts:
        return None
    end = max(lasts)
    start = min(firsts) if firsts else end - 30 * 24 * MS_PER_HOUR
    return (min(start, end), end)


def _read_snapshot_times(cache: Any, ids: Sequence[str]) -> dict[str, np.ndarray]:
    return {i: np.asarray(cache.snapshot_times(i), dtype=np.int64) for i in ids}


def _read_snapshots(cache: Any, t_ms: int, ids: Sequence[str]) -> dict[str, Any]:
    """The snapshot of each id at or before t, the revision known at t where the cache keeps
    corrections (services/cache.py)."""
    if getattr(cache, "keeps_revisions", False):
        return {i: cache.latest_snapshot(i, t_ms, known_ms=t_ms) for i in ids}
    return {i: cache.latest_snapshot(i, t_ms) for i in ids}


def _squeeze_periods(loader: StoreLoader, params: dict[str, Any]) -> list[tuple[int, int, int]]:
    return list(ANALYSES["squeeze"].run(loader, **params).periods)


class ReplayController(QObject):
    """The one time cursor of replay; the window's `replay`."""

    #: the time shown (ms), or None when replay ended
    timeChanged = Signal(object)
    playingChanged = Signal(bool)
    eventsChanged = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.store = window.store
        self.feeds = window.feeds
        self.scheduler = window.scheduler
        self._span: tuple[int, int] | None = None
        self._speed = SPEEDS[1]
        self._events: dict[str, list[tuple[int, str]]] = {}
        self._snapshot_times: dict[str, np.ndarray] | None = None
        self._wanted: dict[str, int | None] = {}  # snapshot id -> stamp shown (None: none yet)
        self._set_reads_pending(False)
        self._saved_range: tuple[float, float] | None = None
        self._follow_span_s: float | None = None
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(PLAY_TICK_MS)
        self._play_timer.timeout.connect(self._on_play_tick)
        self._last_tick = 0.0
        self._t_float = 0.0  # playback keeps fractions of a ms at 1×
        self.bar = ReplayBar(self)
        window.addToolBar(Qt.ToolBarArea.BottomToolBarArea, self.bar)
        self.bar.setVisible(False)

    # -- state --------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.store.replaying

    @property
    def t_ms(self) -> int | None:
        return self.store.replay_ms

    @property
    def span(self) -> tuple[int, int] | None:
        return self._span

    @property
    def speed(self) -> int:
        return self._speed

    @property
    def playing(self) -> bool:
        return self._play_timer.isActive()

    def settled(self) -> bool:
        """Every dock shows t: the snapshots are read and no feed is computing."""
        return (self.active and self._snapshot_times is not None
                and not self.store.snapshot_reads_pending and self.feeds.settled())

    def _set_reads_pending(self, pending: bool) -> None:
        """The step's snapshots are being read: the feeds hand the step to the docks only with
        them (one paint a step, not one for the series and another for the snapshots)."""
        self.store.snapshot_reads_pending = pending
        if not pending:
            self.feeds.flush_if_done()

    # -- entering, moving, leaving --------------------------------------------------------------
    def enter(self, t_ms: int | None = None) -> bool:
        """Show the window as of `t_ms` (default: a day before the data's end). False when there
        is no data to replay yet."""
        span = data_span({i: self.store.live_series(i) for i in self.store.series_ids()})
        if span is None:
            self.window.status.showMessage("Replay needs data: nothing is loaded yet", 8000)
            return False
        self._span = span
        if t_ms is None:
            t_ms = max(span[0], span[1] - 24 * MS_PER_HOUR)
        t_ms = self._clamp(t_ms)
        if not self.active:
            self._collect_regime_events()
            self._remember_range()
            self._snapshot_times = None
            self._wanted = {}
            self.store.enter_replay(t_ms)
            self._start_snapshot_reads()
            self.bar.setVisible(True)
        else:
            self.store.set_replay_time(t_ms)
        self._after_move(t_ms)
        return True

    def set_time(self, t_ms: int) -> None:
        """Move the cursor (clamped to the data's span)."""
        if not self.active:
            self.enter(t_ms)
            return
        t_ms = self._clamp(t_ms)
        self._t_float = float(t_ms)
        self._update_snapshots(t_ms)  # first: the step waits for them (_set_reads_pending)
        self.store.set_replay_time(t_ms)
        self._after_move(t_ms)

    def nudge(self, direction: int) -> None:
        if self.active and self.t_ms is not None:
            self.pause()
            self.set_time(self.t_ms + direction * NUDGE_MS)

    def leave(self) -> None:
        """Back to live: what was published meanwhile is shown; the price chart gets the range
        it had."""
        if not self.active:
            return
        self.pause()
        self.store.leave_replay()
        self.store.snapshot_reads_pending = False  # a read still out is for a replay left
        self._snapshot_times = None
        self._wanted = {}
        self.bar.setVisible(False)
        self._restore_range()
        self.timeChanged.emit(None)

    def toggle(self) -> None:
        if self.active:
            self.leave()
        else:
            self.enter(self._cursor_ms())

    def _cursor_ms(self) -> int | None:
        """Enter at the shared time cursor when it is on a chart."""
        x = self.window.time_link.cursor
        return int(x * 1000) if x is not None else None

    def _clamp(self, t_ms: int) -> int:
        if self._span is None:
            return int(t_ms)
        return int(min(max(int(t_ms), self._span[0]), self._span[1]))

    def _after_move(self, t_ms: int) -> None:
        self._update_snapshots(t_ms)
        self._follow_prices(t_ms)
        self.bar.show_time(t_ms)
        self.timeChanged.emit(t_ms)

    # -- playback -----------------------------------------------------------------------------
    def play(self, speed: int | None = None) -> None:
        if speed is not None:
            self.set_speed(speed)
        if not self.active and not self.enter():
            return
        if self.t_ms is not None and self._span is not None and self.t_ms >= self._span[1]:
            self.set_time(self._span[0])
        self._t_float = float(self.t_ms or 0)
        self._last_tick = time.monotonic()
        self._play_timer.start()
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if self._play_timer.isActive():
            self._play_timer.stop()
            self.playingChanged.emit(False)

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def set_speed(self, speed: int) -> None:
        if speed not in SPEEDS:
            raise ValueError(f"replay speed must be one of {SPEEDS}, not {speed}")
        self._speed = speed
        self.bar.show_speed(speed)

    def cycle_speed(self) -> None:
        self.set_speed(SPEEDS[(SPEEDS.index(self._speed) + 1) % len(SPEEDS)])

    def _on_play_tick(self) -> None:
        """Move by the wall time since the last tick × speed: a slow tick skips ahead rather
        than falling behind (no backlog)."""
        now = time.monotonic()
        self._t_float += (now - self._last_tick) * 1000 * self._speed
        self._last_tick = now
        if self._span is not None and self._t_float >= self._span[1]:
            self.set_time(self._span[1])
            self.pause()
            return
        t = int(self._t_float)
        keep = self._t_float
        if t != self.t_ms:
            self.set_time(t)
        self._t_float = keep

    # -- events -------------------------------------------------------------------------------
    def set_events(self, source: str, events: Iterable[tuple[int, str]]) -> None:
        """The moments `source` offers to step to (e.g. "alerts": each firing's data time)."""
        self._events[source] = sorted((int(ms), str(label)) for ms, label in events)
        self.eventsChanged.emit()

    def events(self) -> list[tuple[int, str]]:
        return sorted(e for evs in self._events.values() for e in evs)

    def step_event(self, direction: int) -> tuple[int, str] | None:
        """Go to the next (+1) or previous (−1) event; None when there is none that way."""
        if not self.active and not self.enter():
            return None
        assert self.t_ms is not None
        event = next_event(self.events(), self.t_ms, direction)
        if event is None:
            self.window.status.showMessage(
                f"No {'later' if direction > 0 else 'earlier'} event to step to", 5000)
            return None
        self.pause()
        self.set_time(event[0])
        self.window.status.showMessage(f"{event[1]} — {replay_label(event[0])[7:]}", 8000)
        return event

    def _collect_regime_events(self) -> None:
        """Regime changes from the squeeze analysis as it stands live: the docks' own results
        where they exist, else computed on a worker with the dock's defaults."""
        found = False
        for params, value in self.feeds.values_of("squeeze"):
            if value is not None:
                self.set_events(f"regime:{params.get('asset')}",
                                regime_events(str(params.get("asset")), value.periods))
                found = True
        if found:
            return
        params = dict(DOCK_DEFAULTS["squeeze"])
        services = self.scheduler.services
        inputs = ANALYSES["squeeze"].inputs(**params)
        loader = StoreLoader(
            {i: d for i in inputs if (d := self.store.live_series(i)) is not None},
            {i: s for i in inputs if (s := self.store.live_snapshot(i)) is not None},
            services.cache if services is not None else None)
        asset = str(params["asset"])
        self.scheduler.run("replay:regimes", _squeeze_periods, loader, params,
                           on_result=lambda periods: self.set_events(
                               f"regime:{asset}", regime_events(asset, periods)),
                           on_error=lambda exc: log.error("regime events failed",
                                                          exc_info=exc))

    # -- snapshots as of t --------------------------------------------------------------------
    def _start_snapshot_reads(self) -> None:
        ids = self.store.snapshot_ids()
        services = self.scheduler.services
        if services is None:  # nothing behind the store: its own snapshots, where not after t
            self._snapshot_times = {
                i: np.array([s.time_ms], dtype=np.int64)
                for i in ids if (s := self.store.live_snapshot(i)) is not None}
            self._update_snapshots(self.t_ms or 0)
            return
        self._set_reads_pending(True)
        self.scheduler.run("replay:snapshot-times", _read_snapshot_times, services.cache, ids,
                           on_result=self._on_snapshot_times,
                           on_error=self._on_snapshot_error)

    def _on_snapshot_times(self, times: dict[str, np.ndarray]) -> None:
        if not self.active:
            return
        self._snapshot_times = times
        self._set_reads_pending(False)
        self._update_snapshots(self.t_ms or 0)
        if self._span is not None:
            self.feeds.prefetch(times, *self._span)

    def _on_snapshot_error(self, exc: Exception) -> None:
        self._set_reads_pending(False)
        log.error("replay: reading the snapshots failed", exc_info=exc)
        self.window.status.showMessage(f"Replay: the snapshots could not be read ({exc}); "
                                       "the docks that use them keep what they show", 15000)

    def _update_snapshots(self, t_ms: int) -> None:
        """Read the snapshots whose stamp at or before t changed (on a worker; the latest
        request wins, so fast playback never queues reads)."""
        if self._snapshot_times is None:
            return
        wanted: dict[str, int | None] = {}
        for series_id, times in self._snapshot_times.items():
            i = int(np.searchsorted(times, t_ms, "right")) - 1
            wanted[series_id] = int(times[i]) if i >= 0 else None
        changed = [i for i, stamp in wanted.items() if self._wanted.get(i, -1) != stamp]
        if not changed:
            return
        self._wanted = wanted
        services = self.scheduler.services
        if services is None:
            self.store.set_replay_snapshots(t_ms, {
                i: (self.store.live_snapshot(i) if wanted[i] is not None else None)
                for i in changed})
            return
        self._set_reads_pending(True)
        self.scheduler.run("replay:snapshots", _read_snapshots, services.cache, t_ms, changed,
                           on_result=self._on_snapshots, on_error=self._on_snapshot_error)

    def _on_snapshots(self, snaps: dict[str, Any]) -> None:
        if self.active and self.t_ms is not None:
            # The latest request's result: right for the stamps wanted now, whatever t moved to
            self.store.set_replay_snapshots(self.t_ms, snaps)
        self._set_reads_pending(False)  # after: the feeds they dirtied hold the step's paint

    # -- the price chart follows t ------------------------------------------------------------
    def _price_plot(self) -> Any:
        prices = self.window.panels.get("prices")
        plots = getattr(prices, "_plots", None)
        return next(iter(plots.values())) if plots else None

    def _time_map(self) -> Any:
        """The price chart's x <-> real time (closed hours compressed: docs/sessions-gaps.md)."""
        return getattr(self.window.panels.get("prices"), "time_map", None)

    def _remember_range(self) -> None:
        plot = self._price_plot()
        if plot is None:
            self._saved_range = None
            return
        x0, x1 = plot.vb.viewRange()[0]
        tm = self._time_map()
        # kept in real time: the compressed axis is rebuilt as the steps bring bars
        self._saved_range = tm.real_range(x0, x1) if tm is not None else (float(x0), float(x1))
        self._follow_span_s = float(x1 - x0)

    def _follow_prices(self, t_ms: int) -> None:
        """Keep the span the trader had; its right edge follows t (a little room after it)."""
        plot = self._price_plot()
        if plot is None or not self._follow_span_s:
            return
        span = self._follow_span_s
        tm = self._time_map()
        t_x = tm.to_x_s(t_ms / 1000) if tm is not None else t_ms / 1000
        prices = self.window.panels.get("prices")
        room = getattr(prices, "room_ahead", lambda s: s * 0.02)(span)
        end = t_x + room  # the room the range buttons leave (the implied bands' week)
        x1 = plot.vb.viewRange()[0][1]
        if abs(x1 - end) <= span * FOLLOW_SLACK:
            return  # t is still by the right edge: re-ranging every dock each step costs
        plot.setXRange(end - span, end, padding=0)
        self.window.time_link.publish("prices")

    def _restore_range(self) -> None:
        plot = self._price_plot()
        if plot is not None and self._saved_range is not None:
            tm = self._time_map()
            plot.setXRange(*(tm.x_range(*self._saved_range) if tm is not None
                             else self._saved_range), padding=0)
            self.window.time_link.publish("prices")
        self._saved_range = None


class ReplayBar(QToolBar):
    """The bottom bar while replaying: the time in the accent colour, previous/next event,
    play/pause, speed, the slider over the data's span, and Leave."""

    def __init__(self, replay: ReplayController) -> None:
        super().__init__("Replay")
        self.replay = replay
        self.setObjectName("replayBar")
        self.setMovable(False)
        self.time_label = QLabel("")
        self.time_label.setObjectName("replayTime")
        self.time_label.setStyleSheet(f"color: {theme.palette().background}; background: "
                                      f"{theme.palette().accent}; font-weight: bold; "
                                      "padding: 2px 8px; border-radius: 3px;")
        self.time_label.setToolTip("The window shows what was known at this moment; live "
                                   "updates wait until you leave replay")
        # A fixed width: a new time each step must not lay the window out again.
        bold = QFont(self.time_label.font())
        bold.setBold(True)
        widest = QFontMetrics(bold).horizontalAdvance("REPLAY 8888-88-88 88:88 UTC")
        self.time_label.setFixedWidth(widest + 32)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.addWidget(self.time_label)
        self.prev_button = self._button("◀ Event", "Previous event (regime change, alert)",
                                        lambda: replay.step_event(-1))
        self.play_button = self._button("Play", "Play / pause", replay.toggle_play)
        self.next_button = self._button("Event ▶", "Next event (regime change, alert)",
                                        lambda: replay.step_event(+1))
        self.speed_box = QComboBox()
        self.speed_box.setObjectName("replaySpeed")
        self.speed_box.setToolTip("Playback speed: data time per second")
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed}×", speed)
        self.speed_box.setCurrentIndex(SPEEDS.index(replay.speed))
        self.speed_box.currentIndexChanged.connect(
            lambda i: replay.set_speed(int(self.speed_box.itemData(i))))
        self.addWidget(self.speed_box)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("replaySlider")
        self.slider.setToolTip("Drag to move the moment every dock shows")
        self.slider.setMinimumWidth(120)
        self.slider.valueChanged.connect(self._on_slider)
        self.addWidget(self.slider)
        self.leave_button = self._button("Leave replay", "Back to live data", replay.leave)
        self._setting_slider = False
        replay.playingChanged.connect(
            lambda on: self.play_button.setText("Pause" if on else "Play"))

    def _button(self, text: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda _=False: slot())
        self.addWidget(button)
        return button

    def show_time(self, t_ms: int) -> None:
        self.time_label.setText(replay_label(t_ms))
        span = self.replay.span
        if span is None:
            return
        self._setting_slider = True
        try:
            self.slider.setRange(0, max(1, (span[1] - span[0]) // SLIDER_STEP_MS))
            self.slider.setValue(int((t_ms - span[0]) // SLIDER_STEP_MS))
        finally:
            self._setting_slider = False

    def show_speed(self, speed: int) -> None:
        index = SPEEDS.index(speed)
        if self.speed_box.currentIndex() != index:
            self.speed_box.setCurrentIndex(index)

    def _on_slider(self, value: int) -> None:
        span = self.replay.span
        if self._setting_slider or span is None:
            return
        self.replay.pause()
        self.replay.set_time(span[0] + value * SLIDER_STEP_MS)
