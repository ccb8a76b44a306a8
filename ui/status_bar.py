"""The status bar: one chip per venue (ok, updating, stale since HH:MM, error · retry HH:MM) and
a progress bar while history is backfilling."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from models.catalog import CATALOG, venue_label
from models.status import SourceState, SourceStatus
from ui import theme
from ui.store import DataStore
from ui.time_display import format_time, zone_label


def state_color(state: SourceState) -> str:
    """The chip icon's colour in the current theme (read when drawn: the theme can change)."""
    return {SourceState.OK: theme.OK, SourceState.DEMO: theme.WARNING,
            SourceState.STALE: theme.WARNING, SourceState.ERROR: theme.ERROR,
            }.get(state, theme.FOREGROUND)


_ICONS = {SourceState.OK: "●", SourceState.DEMO: "◆", SourceState.UPDATING: "↻",
          SourceState.STALE: "◐", SourceState.ERROR: "✖"}


def hhmm(ms: int | None) -> str:
    if ms is None:
        return "--:--"
    return format_time(ms, "%H:%M")  # the display zone (ui/time_display.py)


def describe(statuses: list[SourceStatus]) -> tuple[SourceState, str]:
    """(state, text) summarising one venue's series: the worst state wins."""
    worst = max(statuses, key=lambda s: s.severity)
    if worst.state == SourceState.ERROR:
        failing = [s for s in statuses if s.state == SourceState.ERROR]
        retry = min((s.next_retry_ms for s in failing if s.next_retry_ms), default=None)
        return SourceState.ERROR, f"{worst.error_words} · retry {hhmm(retry)} {zone_label()}"
    if worst.state == SourceState.STALE:
        since = min((s.last_good_ms for s in statuses if s.last_good_ms), default=None)
        return SourceState.STALE, f"stale since {hhmm(since)} {zone_label()}"
    if worst.state == SourceState.UPDATING:
        return SourceState.UPDATING, "updating"
    if worst.state == SourceState.OFF:  # its venue is disabled in File → Settings
        return SourceState.OFF, "off"
    if worst.state == SourceState.DEMO:
        return SourceState.DEMO, "demo"
    last = max((s.last_good_ms for s in statuses if s.last_good_ms), default=None)
    return SourceState.OK, f"ok {hhmm(last)} {zone_label()}"


class SourceStatusBar(QStatusBar):
    def __init__(self, store: DataStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.chips: dict[str, QLabel] = {}
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setFormat("backfill %p%")
        self.progress.setVisible(False)
        self.addPermanentWidget(self.progress)
        store.statusChanged.connect(self._on_status)

    def _venue_of(self, status: SourceStatus) -> str:
        spec = CATALOG.get(status.series_id)
        return venue_label(spec.source if spec else status.venue)

    @Slot(str)
    def _on_status(self, series_id: str) -> None:
        status = self.store.status(series_id)
        if status is None:
            return
        venue = self._venue_of(status)
        group = [s for s in self.store.statuses().values() if self._venue_of(s) == venue]
        state, text = describe(group)
        chip = self.chips.get(venue)
        if chip is None:
            chip = QLabel()
            chip.setObjectName(f"status_{venue}")
            self.chips[venue] = chip
            self.addWidget(chip)
        color = state_color(state)
        chip.setText(f"<span style='color:{color}'>{_ICONS.get(state, '')}</span> "
                     f"{venue}: {text}")
        errors = [s for s in group if s.state == SourceState.ERROR]
        tip = "\n".join(f"{s.series_id}: {s.last_error}" for s in errors[:8])
        chip.setToolTip(tip or f"{venue}: {text}")
        chip.setProperty("state", state.value)

    def apply_theme(self) -> None:
        """Redraw every chip in the current theme's colours."""
        for series_id in list(self.store.statuses()):
            self._on_status(series_id)

    @Slot(float)
    def set_progress(self, fraction: float) -> None:
        busy = fraction < 1.0
        self.progress.setVisible(busy)
        self.progress.setValue(int(fraction * 1000))

    def chip_text(self, venue: str) -> str:
        chip = self.chips.get(venue)
        return chip.text() if chip is not None else ""
