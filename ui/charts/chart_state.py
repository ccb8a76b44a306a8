"""What a chart says about its own data when its source is not well (docs/window.md):

- data drawn from the cache while its source fails or lags: "stale · data 3 h old · Bybit
  failing, retry 14:08 UTC";
- no data and a failing source: "no data · Yahoo Finance failing (network), retry 14:08 UTC",
  not "loading…" for ever (or "no data · Bybit off" for a venue disabled in Settings);
- no data yet: "loading…", and the axes show no tick values (an empty plot's default range
  reads "0.100 … 0.900").

`chart_state_text` decides (pure); `ChartStateMarks` puts the words in a corner of each plot a
panel hands it and keeps them current as statuses change and data ages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer, SignalInstance

from models.status import SourceState, SourceStatus
from ui import theme
from ui.status_bar import hhmm, source_of
from ui.store import DataStore
from ui.time_display import zone_label

#: how often the ages in the marks move on
AGE_REFRESH_MS = 30_000


@dataclass(frozen=True)
class ChartState:
    text: str
    tone: str  # "muted", "warning" or "error"


def age_words(ms: int) -> str:
    """A data age a trader reads at a glance: "45 min", "3 h", "2 d"."""
    minutes = max(0, ms // 60_000)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def chart_state_text(statuses: Sequence[SourceStatus], has_data: bool, now_ms: int,
                     demo: bool = False) -> ChartState | None:
    """The words a chart shows about its data, or None when there is nothing to say."""
    failing = [s for s in statuses if s.state == SourceState.ERROR]
    stale = [s for s in statuses if s.state == SourceState.STALE]
    cause = ""
    if failing:
        names = ", ".join(dict.fromkeys(source_of(s) for s in failing))
        retry = min((s.next_retry_ms for s in failing if s.next_retry_ms), default=None)
        cause = f"{names} failing, retry {hhmm(retry)} {zone_label()}"
    if not has_data:
        if failing:
            words = ", ".join(dict.fromkeys(s.error_words for s in failing))
            return ChartState(f"no data · {cause.replace(' failing,', f' failing ({words}),')}",
                              "error")
        off = [s for s in statuses if s.state == SourceState.OFF]
        if off and len(off) == len(statuses):
            names = ", ".join(dict.fromkeys(source_of(s) for s in off))
            return ChartState(f"no data · {names} off (File → Settings)", "muted")
        if demo:
            return ChartState("no data in the demo dataset", "muted")
        return ChartState("loading…", "muted")
    if demo or not (failing or stale):
        return None
    current = [s for s in statuses if s.state in (SourceState.OK, SourceState.UPDATING)]
    if failing and current:  # a chart of several venues: say which fail, not "stale"
        ends = [s.data_last_ms for s in failing if s.data_last_ms]
        theirs = (f"their data {age_words(now_ms - max(ends))} old" if ends
                  else "no data from them")
        return ChartState(f"{cause} · {theirs} · the rest current", "warning")
    ends = [s.data_last_ms for s in statuses if s.data_last_ms]
    age = f"data {age_words(now_ms - max(ends))} old" if ends else "data age unknown"
    if not cause:
        since = min((s.last_good_ms for s in stale if s.last_good_ms), default=None)
        cause = f"no update since {hhmm(since)} {zone_label()}"
    return ChartState(f"stale · {age} · {cause}", "error" if failing else "warning")


def tone_color(tone: str) -> str:
    """Read when drawn: the theme can change (ui/theme_switch.py)."""
    return {"muted": theme.MUTED, "warning": theme.WARNING, "error": theme.ERROR}[tone]


class _Watched:
    def __init__(self, plot: pg.PlotItem, ids: Callable[[], Sequence[str]]) -> None:
        self.plot = plot
        self.ids = ids
        self.label = pg.LabelItem(justify="right", size="8pt")
        self.label.setParentItem(plot.vb)
        self.label.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-6, 2))
        # the tick values each axis shows when it has data (a stacked chart hides some)
        self.shows_values = {name: plot.getAxis(name).style.get("showValues", True)
                             for name in ("left", "bottom")}
        self.empty: bool | None = None
        self.shown: tuple[str, str] | None = None  # (text, colour) on the label now

    def show(self, text: str, color: str) -> None:
        # Only on a change: the marks refresh with every status and series change.
        if self.shown != (text, color):
            self.label.setText(text, color=color)
            self.shown = (text, color)
        self.label.setVisible(True)

    def set_empty(self, empty: bool) -> None:
        """An empty plot shows no tick values: its default range means nothing."""
        if empty == self.empty:
            return
        self.empty = empty
        for name, shows in self.shows_values.items():
            self.plot.getAxis(name).setStyle(showValues=shows and not empty)


class ChartStateMarks(QObject):
    """The state marks of one panel's plots; `watch` each plot with the series it draws."""

    def __init__(self, store: DataStore, now_ms: Callable[[], int],
                 demo: Callable[[], bool], parent: QObject | None = None,
                 listen: Callable[[SignalInstance, Callable[..., Any]], None] | None = None
                 ) -> None:
        """`listen(signal, slot)`: how to connect to the store (a panel's `listen`, so the
        connections end with the panel); plain `connect` when None."""
        super().__init__(parent)
        self._store = store
        self._now_ms = now_ms
        self._demo = demo
        self._watched: list[_Watched] = []
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(50)
        self._soon.timeout.connect(self.refresh)
        self._ages = QTimer(self)  # ages move on without a status change
        self._ages.setInterval(AGE_REFRESH_MS)
        self._ages.timeout.connect(self.refresh)
        self._ages.start()
        connect = listen or (lambda signal, slot: signal.connect(slot))
        connect(store.statusChanged, self._refresh_soon)
        connect(store.seriesChanged, self._refresh_soon)

    @classmethod
    def for_panel(cls, panel: Any) -> ChartStateMarks:
        """Marks for a dock panel's plots (`ui.panels.base.Panel`)."""
        ctx = panel.ctx
        return cls(ctx.store, ctx.now_ms, lambda: ctx.demo, panel, panel.listen)

    def _refresh_soon(self, *_args: object) -> None:
        self._soon.start()

    def watch(self, plot: pg.PlotItem, series_ids: Callable[[], Sequence[str]]) -> None:
        self._watched.append(_Watched(plot, series_ids))
        self._soon.start()

    def clear(self) -> None:
        """The panel rebuilt its plots (their labels went with them)."""
        self._watched.clear()

    def text(self, plot: pg.PlotItem) -> str:
        """The words on `plot` now ("" when none)."""
        found = next((w for w in self._watched if w.plot is plot), None)
        return found.label.text if found is not None and found.label.isVisible() else ""

    def refresh(self) -> None:
        now, demo = self._now_ms(), self._demo()
        for watched in self._watched:
            ids = watched.ids()
            has_data = any((d := self._store.series(i)) is not None and len(d) for i in ids)
            statuses = [s for i in ids if (s := self._store.status(i)) is not None]
            state = chart_state_text(statuses, has_data, now, demo)
            watched.set_empty(not has_data)
            if state is None:
                watched.label.setVisible(False)
                continue
            watched.show(state.text, tone_color(state.tone))
