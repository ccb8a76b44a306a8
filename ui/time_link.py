"""One time cursor and one time range across the time-series docks (issue 13).

Each dock keeps its own `Crosshair` (ui/charts/crosshair.py) and registers it here: a mouse over
any time chart shows the same instant in every other one (`show_at`, which emits nothing, so a
cursor never echoes back), and each dock's readout gives its values at that instant.

"Link time ranges" (View menu, on by default, saved under `view/link_time_ranges`): when the
trader pans or zooms one time chart (mouse drag, wheel, a range button, Home), the others take
the same x range. That range then holds: a dock that sets its own range afterwards (a new
analysis result re-applying its default window) is put back on it. Ranges the hub applies are
applied under a guard, so they never publish again.

Every time chart's x axis is UTC epoch seconds (docs/architecture.md, "Conventions"): the hub
passes seconds through. A chart whose x is not real time (the price dock with closed hours
compressed, docs/sessions-gaps.md) gives `attach` and `attach_range` a converter (`to_real_s`,
`to_x_s`): the hub then speaks real time to everyone and the chart's own x only to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from ui.charts.crosshair import Crosshair
from ui.settings_file import read_setting
from ui.time_display import format_time, zone_label

LINK_SETTING = "view/link_time_ranges"
CURSOR_SETTING = "view/crosshair"
# A pan emits a range per mouse move; the other docks follow at most this often (the last range
# of a burst is always applied).
RANGE_FAN_OUT_S = 1 / 30

CursorSlot = Callable[[float | None], None]


class XConverter(Protocol):
    """A chart's x <-> real time (UTC epoch seconds); ui/charts/gap_axis.TimeMap is one."""

    def to_real_s(self, x: Any) -> Any: ...

    def to_x_s(self, t_s: Any) -> Any: ...


def cursor_stamp(x_seconds: float) -> str:
    """The cursor's instant as the readouts state it, in the display zone (ui/time_display.py)."""
    return f"{format_time(int(x_seconds * 1000), '%Y-%m-%d %H:%M')} {zone_label()}"


class TimeLink(QObject):
    #: the time cursor is at this instant (UTC epoch seconds)
    cursorMoved = Signal(float)
    #: the time cursor left the time charts
    cursorLeft = Signal()
    #: the linked x range (UTC epoch seconds) the time charts now show
    rangeChanged = Signal(float, float)
    linkedChanged = Signal(bool)
    cursorEnabledChanged = Signal(bool)
    #: a dock's crosshair joined (the keyboard watches its double-clicks)
    attached = Signal(object)

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._linked = True if settings is None else read_setting(settings, LINK_SETTING, True)
        self._cursor_enabled = (True if settings is None
                                else read_setting(settings, CURSOR_SETTING, True))
        self._crosshairs: dict[int, tuple[Crosshair, CursorSlot | None]] = {}
        self._plots: dict[str, pg.PlotItem] = {}
        self._cursor: float | None = None
        self._source: int | None = None
        self._user_range: tuple[float, float] | None = None
        self._range_source: str | None = None
        self._applying = False
        self._last_fan_out = 0.0
        self._fan_out_timer = QTimer(self)
        self._fan_out_timer.setSingleShot(True)
        self._fan_out_timer.timeout.connect(self._fan_out)
        self._enforce_timer = QTimer(self)
        self._enforce_timer.setSingleShot(True)
        self._enforce_timer.timeout.connect(self._enforce)
        self._to_enforce: set[str] = set()
        self._manual_slots: dict[str, Callable[..., None]] = {}
        self._changed_slots: dict[str, Callable[..., None]] = {}
        self._range_converters: dict[str, XConverter] = {}
        self._cursor_converters: dict[int, XConverter] = {}

    # -- the cursor ---------------------------------------------------------------------------
    def attach(self, crosshair: Crosshair, on_cursor: CursorSlot | None = None, *,
               own: bool = False, convert: XConverter | None = None) -> None:
        """Share `crosshair`'s cursor with the other docks and show theirs on it. `on_cursor`
        gets every other dock's instant (None when it leaves); with `own=True` it gets this
        crosshair's own moves too (a panel that reads no crosshair signal itself). `convert`:
        the chart's x is not real time (module note)."""
        key = id(crosshair)
        self._crosshairs[key] = (crosshair, on_cursor)
        if convert is not None:
            self._cursor_converters[key] = convert
        crosshair.set_enabled(self._cursor_enabled)
        crosshair.moved.connect(lambda x, k=key: self.move(self._real(k, x), k))
        crosshair.left.connect(lambda k=key: self.leave(k))
        crosshair.destroyed.connect(lambda _=None, k=key: self._crosshairs.pop(k, None))
        if own and on_cursor is not None:
            crosshair.moved.connect(lambda x, k=key: on_cursor(self._real(k, x)))
            crosshair.left.connect(lambda: on_cursor(None))
        if self._cursor is not None:
            crosshair.show_at(self._chart_x(key, self._cursor))
        self.attached.emit(crosshair)

    def _real(self, key: int, x: float) -> float:
        convert = self._cursor_converters.get(key)
        return float(convert.to_real_s(x)) if convert is not None else x

    def _chart_x(self, key: int, t: float) -> float:
        convert = self._cursor_converters.get(key)
        return float(convert.to_x_s(t)) if convert is not None else t

    def crosshairs(self) -> list[Crosshair]:
        return [crosshair for crosshair, _slot in self._crosshairs.values()]

    def hovered_crosshair(self) -> Crosshair | None:
        """The crosshair the mouse is over now, if any."""
        entry = self._crosshairs.get(self._source) if self._source is not None else None
        return entry[0] if entry is not None else None

    def hovered_plot(self) -> pg.PlotItem | None:
        crosshair = self.hovered_crosshair()
        return crosshair.plot_under_mouse if crosshair is not None else None

    @property
    def cursor(self) -> float | None:
        return self._cursor

    def move(self, x: float, source: int | None = None) -> None:
        """The cursor is at `x` (seconds) over the crosshair `source` (its id)."""
        self._cursor = x
        self._source = source
        for key, (crosshair, on_cursor) in list(self._crosshairs.items()):
            if key == source:
                continue
            crosshair.show_at(self._chart_x(key, x))
            if on_cursor is not None:
                on_cursor(x)
        self.cursorMoved.emit(x)

    def leave(self, source: int | None = None) -> None:
        if source is not None and source != self._source:
            return  # an older cursor's leave, after another dock took over
        self._cursor = None
        self._source = None
        for key, (crosshair, on_cursor) in list(self._crosshairs.items()):
            if key == source:
                continue
            crosshair.hide_lines()
            if on_cursor is not None:
                on_cursor(None)
        self.cursorLeft.emit()

    @property
    def cursor_enabled(self) -> bool:
        return self._cursor_enabled

    def set_cursor_enabled(self, on: bool) -> None:
        """The crosshair toggle: off hides the cursor in every dock."""
        if on == self._cursor_enabled:
            return
        self._cursor_enabled = on
        if self._settings is not None:
            self._settings.setValue(CURSOR_SETTING, on)
        if not on and self._cursor is not None:
            self.leave(self._source)
        for crosshair, _slot in self._crosshairs.values():
            crosshair.set_enabled(on)
        self.cursorEnabledChanged.emit(on)

    # -- the x range --------------------------------------------------------------------------
    def attach_range(self, key: str, plot: pg.PlotItem,
                     convert: XConverter | None = None) -> None:
        """`plot` is dock `key`'s time chart (its other time plots are x-linked to it); it
        replaces the one the dock registered before (the price chart rebuilds its plots).
        `convert`: the chart's x is not real time (module note)."""
        if convert is not None:
            self._range_converters[key] = convert
        else:
            self._range_converters.pop(key, None)
        old = self._plots.get(key)
        if old is plot:
            return
        if old is not None:
            for signal, slot in ((old.vb.sigRangeChangedManually, self._manual_slots.get(key)),
                                 (old.vb.sigXRangeChanged, self._changed_slots.get(key))):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):  # already gone with its plot
                    pass
        self._plots[key] = plot
        # A dock rebuilt (theme switch, Go live) or closed leaves its plot behind: forget it,
        # and check again before each use (deleteLater may not have run yet).
        # By id, not the plot: a closure holding it would keep a deleted ViewBox's wrapper in
        # pyqtgraph's registry, which its exit clean-up then touches (a crash at exit).
        plot_id = id(plot)
        plot.vb.destroyed.connect(lambda _=None, k=key: self._forget(k, plot_id))
        manual = self._manual_slots.setdefault(key, lambda *_a, k=key: self.publish(k))
        changed = self._changed_slots.setdefault(key, lambda *_a, k=key: self._on_changed(k))
        plot.vb.sigRangeChangedManually.connect(manual)
        plot.vb.sigXRangeChanged.connect(changed)
        if self._linked and self._user_range is not None:
            self._apply(key, self._user_range)

    def _forget(self, key: str, plot_id: int) -> None:
        if id(self._plots.get(key)) == plot_id:
            del self._plots[key]

    def _live_plot(self, key: str) -> pg.PlotItem | None:
        plot = self._plots.get(key)
        if plot is not None and not (shiboken6.isValid(plot) and shiboken6.isValid(plot.vb)):
            del self._plots[key]
            return None
        return plot

    @property
    def linked(self) -> bool:
        return self._linked

    def set_linked(self, on: bool) -> None:
        if on == self._linked:
            return
        self._linked = on
        if self._settings is not None:
            self._settings.setValue(LINK_SETTING, on)
        if not on:
            self._user_range = None
            self._fan_out_timer.stop()
        elif self._plots:  # linked again: the others line up on the chart last panned
            self.publish(self._range_source if self._range_source in self._plots
                         else next(iter(self._plots)))
        self.linkedChanged.emit(on)

    def forget_range(self) -> None:
        """A new arrangement of the docks (a workspace applied): the range the trader set is
        not carried over, so the rebuilt price chart's range button leads again."""
        self._user_range = None
        self._range_source = None
        self._fan_out_timer.stop()

    @property
    def user_range(self) -> tuple[float, float] | None:
        """The range the trader last set on a linked time chart (None: none, or unlinked)."""
        return self._user_range

    def publish(self, key: str) -> None:
        """The trader set dock `key`'s x range (pan, zoom, a range button): the others follow."""
        plot = self._live_plot(key)
        if self._applying or plot is None or not self._linked:
            return
        self._user_range = self.real_range(key)
        self._range_source = key
        wait = self._last_fan_out + RANGE_FAN_OUT_S - time.monotonic()
        if wait <= 0:
            self._fan_out()
        elif not self._fan_out_timer.isActive():
            self._fan_out_timer.start(int(wait * 1000) + 1)

    def publish_plot(self, plot: pg.PlotItem) -> None:
        """As `publish`, for a plot (a registered one, or one x-linked to it)."""
        for key in list(self._plots):
            registered = self._live_plot(key)
            if registered is None:
                continue
            if registered is plot or plot.vb.linkedView(pg.ViewBox.XAxis) is registered.vb:
                self.publish(key)
                return

    def _fan_out(self) -> None:
        self._last_fan_out = time.monotonic()
        if self._user_range is None:
            return
        for key in list(self._plots):
            if key != self._range_source:
                self._apply(key, self._user_range)
        self.rangeChanged.emit(*self._user_range)

    def real_range(self, key: str) -> tuple[float, float]:
        """Dock `key`'s x range in real time (seconds)."""
        plot = self._plots[key]
        x0, x1 = plot.vb.viewRange()[0]
        convert = self._range_converters.get(key)
        if convert is not None:
            x0, x1 = convert.to_real_s(x0), convert.to_real_s(x1)
        return float(x0), float(x1)

    def _chart_range(self, key: str, x_range: tuple[float, float]) -> tuple[float, float]:
        convert = self._range_converters.get(key)
        if convert is None:
            return x_range
        return float(convert.to_x_s(x_range[0])), float(convert.to_x_s(x_range[1]))

    def _apply(self, key: str, x_range: tuple[float, float]) -> None:
        plot = self._live_plot(key)
        if plot is None:
            return
        x_range = self._chart_range(key, x_range)
        if _same_range(plot.vb.viewRange()[0], x_range):
            return
        self._applying = True
        try:
            plot.setXRange(*x_range, padding=0)
        finally:
            self._applying = False

    def _on_changed(self, key: str) -> None:
        """A dock moved its range by itself (e.g. a new result re-applying its window): while
        linked, it goes back to the trader's range once the event that moved it is over (a
        pan emits this before `sigRangeChangedManually` publishes the new range)."""
        if self._applying or not self._linked or self._user_range is None:
            return
        self._to_enforce.add(key)
        self._enforce_timer.start(0)

    def jump_to(self, x: float) -> None:
        """Show the instant `x` (seconds) everywhere: the time cursor moves there and every
        time chart is centred on it, keeping its width (an alert's "jump to the moment")."""
        self.move(x)
        keys = [k for k in self._plots if self._live_plot(k) is not None]
        if not keys:
            return
        lead = self._range_source if self._range_source in keys else keys[0]
        for key in keys if not self._linked else [lead]:
            plot = self._plots[key]
            x0, x1 = plot.vb.viewRange()[0]
            half = (x1 - x0) / 2
            centre = self._chart_range(key, (x, x))[0]
            plot.setXRange(centre - half, centre + half, padding=0)
            self.publish(key)  # linked: the others follow (publish does nothing unlinked)

    def _enforce(self) -> None:
        keys, self._to_enforce = self._to_enforce, set()
        if not self._linked or self._user_range is None:
            return
        for key in keys & set(self._plots):
            self._apply(key, self._user_range)


def _same_range(a: tuple[float, float] | list[float], b: tuple[float, float]) -> bool:
    tolerance = 1e-9 * max(1.0, abs(b[1] - b[0]))
    return abs(a[0] - b[0]) <= tolerance and abs(a[1] - b[1]) <= tolerance
