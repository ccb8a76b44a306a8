"""The status bar: one chip per source (ok, updating, stale since HH:MM, error · retry HH:MM) and
a progress bar while history is backfilling. A venue that streams adds its stream's state to its
chip ("Bybit: ok 14:05 UTC · live", "· reconnecting (3)", "· polling": ui/streams.py).

When the chips do not fit, they collapse into one summary chip ("✖ 2 venues failing · ● 5 ok")
whose tooltip holds each source's line; the Sources dock shows the same lines. The chips never
widen the window (docs/window.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QSize, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QStatusBar, QWidget

from models.catalog import find_spec, source_label
from models.status import SourceState, SourceStatus, state_severity
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
#: the summary chip's words per state, worst first
_SUMMARY_WORDS = ((SourceState.ERROR, "failing"), (SourceState.STALE, "stale"),
                  (SourceState.UPDATING, "updating"), (SourceState.IDLE, "idle"),
                  (SourceState.DEMO, "demo"), (SourceState.OK, "ok"), (SourceState.OFF, "off"))
CHIP_SPACING = 12


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


def source_of(status: SourceStatus) -> str:
    """The chip a series belongs to: its catalog source (Binance spot and Binance futures are
    two), not the fall-back venue that last served it."""
    spec = find_spec(status.series_id)
    return source_label(spec.source if spec else status.venue)


def source_lines(statuses: Iterable[SourceStatus]) -> dict[str, tuple[SourceState, str]]:
    """Each source's (state, text), in the order its first series appears."""
    groups: dict[str, list[SourceStatus]] = {}
    for status in statuses:
        groups.setdefault(source_of(status), []).append(status)
    return {name: describe(group) for name, group in groups.items()}


def summary_text(states: Iterable[SourceState]) -> str:
    """One line for many sources: "✖ 2 venues failing · ● 5 ok" (worst first)."""
    states = list(states)
    parts = []
    for state, word in _SUMMARY_WORDS:
        n = states.count(state)
        if not n:
            continue
        noun = ("venue" if n == 1 else "venues") + " " if not parts else ""
        parts.append(f"{_ICONS.get(state, '')} {n} {noun}{word}")
    return " · ".join(parts)


def _colored(state: SourceState, text: str) -> str:
    color = state_color(state)
    return f"<span style='color:{color}'>{_ICONS.get(state, '')}</span> {text}"


def source_line_html(name: str, state: SourceState, text: str) -> str:
    """A source's chip text ("✖ Bybit: network · retry 14:08 UTC"), its icon coloured."""
    return _colored(state, f"{name}: {text}")


class ChipStrip(QWidget):
    """The source chips, shown in one of three ways, the first that fits: every chip; the
    failing sources' chips in full beside a summary of the rest ("● 6 ok"); one summary chip.
    Asks for the summary's width at least, never for the sum of the chips."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chips: dict[str, QLabel] = {}
        self.summary = QLabel(self)
        self.summary.setObjectName("status_summary")
        self.summary.setVisible(False)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(CHIP_SPACING)
        self._layout.addWidget(self.summary)
        self._layout.addStretch(1)
        self.collapsed = False
        self._summary_all = ""
        self._summary_rest = ""  # every source but the failing ones
        # Measures the rest's summary; kept, not made per fit (a new QLabel costs 2 references
        # to None that PySide 6.11 never gives back: the soak counts them).
        self._rest_probe = QLabel(self)
        self._rest_probe.setVisible(False)

    def chip(self, name: str) -> QLabel:
        chip = self.chips.get(name)
        if chip is None:
            chip = QLabel(self)
            chip.setObjectName(f"status_{name}")
            self.chips[name] = chip
            # Before the summary: beside failing chips it counts only the sources after them.
            self._layout.insertWidget(self._layout.indexOf(self.summary), chip)
        return chip

    def _width_of(self, chips: list[QLabel]) -> int:
        widths = [c.sizeHint().width() for c in chips]
        return sum(widths) + CHIP_SPACING * max(0, len(widths) - 1)

    def full_width(self) -> int:
        return self._width_of(list(self.chips.values()))

    def failing(self) -> list[QLabel]:
        return [c for c in self.chips.values() if c.property("state") == SourceState.ERROR.value]

    def sizeHint(self) -> QSize:
        return QSize(self.full_width(), self.summary.sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.summary.sizeHint().width(), self.summary.sizeHint().height())

    def set_summary(self, text: str, tooltip: str, rest: str = "") -> None:
        self._summary_all, self._summary_rest = text, rest
        self.summary.setToolTip(tooltip)
        self.updateGeometry()
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        shown: list[QLabel] = list(self.chips.values())
        summary = ""
        if len(self.chips) > 1 and self.full_width() > self.width():
            shown, summary = [], self._summary_all
            failing = self.failing()
            if failing and self._summary_rest:
                if self._rest_probe.text() != self._summary_rest:
                    self._rest_probe.setText(self._summary_rest)
                wanted = (self._width_of(failing) + CHIP_SPACING
                          + self._rest_probe.sizeHint().width())
                if wanted <= self.width():
                    shown, summary = failing, self._summary_rest
        self.collapsed = bool(summary)
        if self.summary.text() != summary:
            self.summary.setText(summary)
        self.summary.setVisible(bool(summary))
        for chip in self.chips.values():
            chip.setVisible(chip in shown)


class SourceStatusBar(QStatusBar):
    def __init__(self, store: DataStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.strip = ChipStrip(self)
        self.chips = self.strip.chips
        self.addWidget(self.strip, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setFormat("loading %p%")  # the 1m history has its own line (ui/backfill.py)
        self.progress.setVisible(False)
        self.addPermanentWidget(self.progress)
        #: chip name -> (what its stream says, its colour's theme field, a tooltip line)
        self._streams: dict[str, tuple[str, str, str]] = {}
        store.statusChanged.connect(self._on_status)

    @Slot(str)
    def _on_status(self, series_id: str) -> None:
        status = self.store.status(series_id)
        if status is None:
            return
        self._draw_chip(source_of(status))
        self._update_summary()

    def set_stream_label(self, name: str, label: str, color: str = "ok", tip: str = "") -> None:
        """Add `label` ("live", "reconnecting (3)") to chip `name` (a source label, or a chip of
        its own such as "Streams"), drawn in the theme's `color` field; "" takes it off."""
        if label:
            if self._streams.get(name) == (label, color, tip):
                return
            self._streams[name] = (label, color, tip)
        elif self._streams.pop(name, None) is None:
            return
        self._draw_chip(name)
        self._update_summary()

    def stream_label(self, name: str) -> str:
        return self._streams.get(name, ("", "", ""))[0]

    def _draw_chip(self, name: str) -> None:
        group = [s for s in self.store.statuses().values() if source_of(s) == name]
        stream = self._streams.get(name)
        if not group and stream is None:
            chip = self.chips.get(name)
            if chip is not None:
                chip.setText("")
                chip.setVisible(False)
            return
        state, text = describe(group) if group else (SourceState.OK, "")
        tips = [f"{s.series_id}: {s.last_error}" for s in group
                if s.state == SourceState.ERROR][:8]
        chip = self.strip.chip(name)
        if stream is not None:
            label, color, tip = stream
            shown = f"<span style='color:{getattr(theme, color.upper())}'>{label}</span>"
            text = f"{text} · {shown}" if text else shown
            if tip:
                tips.append(tip)
            chip.setText(source_line_html(name, state, text) if group
                         else f"{name}: {text}")
        else:
            chip.setText(source_line_html(name, state, text))
        chip.setToolTip("\n".join(tips) or f"{name}: {text}")
        chip.setProperty("state", state.value)

    def _update_summary(self) -> None:
        lines = source_lines(self.store.statuses().values())
        text = summary_text(state for state, _text in lines.values())
        worst = max((state for state, _t in lines.values()),
                    key=state_severity, default=SourceState.OK)
        color = state_color(worst)
        tip = "\n".join(f"{_ICONS.get(s, '')} {name}: {t}"
                        + (f" · {self._streams[name][0]}" if name in self._streams else "")
                        for name, (s, t) in lines.items())
        others = [state for state, _t in lines.values() if state != SourceState.ERROR]
        rest = summary_text(others)
        rest_color = state_color(max(others, key=state_severity, default=SourceState.OK))
        streams = self._stream_summary()
        self.strip.set_summary(f"<span style='color:{color}'>{text}</span>{streams}",
                               f"{tip}\n\nEvery series: the Sources dock.",
                               f"<span style='color:{rest_color}'>{rest}</span>{streams}"
                               if rest else "")

    def _stream_summary(self) -> str:
        """The streams in the summary chip: " · streams 5 live, 1 reconnecting" (each count in
        its word's colour), so a collapsed strip still tells a stream that is down."""
        counts: dict[str, tuple[int, str]] = {}
        for label, color, _tip in self._streams.values():
            word = label.split(" (")[0]  # "reconnecting (3)" counts as reconnecting
            n, _c = counts.get(word, (0, color))
            counts[word] = (n + 1, color)
        if not counts:
            return ""
        parts = [f"<span style='color:{getattr(theme, c.upper())}'>{n} {w}</span>"
                 for w, (n, c) in sorted(counts.items(), key=lambda kv: kv[0] != "live")]
        return " · streams " + ", ".join(parts)

    def apply_theme(self) -> None:
        """Redraw every chip in the current theme's colours."""
        for name in {*(source_of(s) for s in self.store.statuses().values()), *self._streams}:
            self._draw_chip(name)
        self._update_summary()

    @Slot(float)
    def set_progress(self, fraction: float) -> None:
        busy = fraction < 1.0
        self.progress.setVisible(busy)
        self.progress.setValue(int(fraction * 1000))

    def chip_text(self, venue: str) -> str:
        chip = self.chips.get(venue)
        return chip.text() if chip is not None else ""

    def summary_text(self) -> str:
        return self.strip.summary.text()
