"""The price dock's bar intervals (1m … 1w): which series it keeps watched, and what each
interval's entry in the box says about where its bars come from (docs/timeframes.md).

Only the hourly and daily bars are watched from the start (`BASE_PRICE_INTERVALS`); the series
of another interval are read from the cache and refreshed while the dock shows them, and left
alone again when it stops.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from models.catalog import BASE_PRICE_INTERVALS, PRICE_INTERVALS, find_spec
from models.venues import venue_label
from ui.scheduler import Scheduler

_NAMES = {"1m": "1 minute", "5m": "5 minutes", "15m": "15 minutes", "1h": "1 hour",
          "4h": "4 hours", "1d": "1 day", "1w": "1 week"}


class IntervalWatch:
    """Keeps the shown series of intervals outside `BASE_PRICE_INTERVALS` watched, and only
    those: switching from 1m to 1h stops refreshing the minutes."""

    def __init__(self, scheduler: Scheduler, shown: Iterable[str]) -> None:
        self.scheduler = scheduler
        # what the window watches for the dock when it starts (MainWindow.watched_series)
        self._extra = _beyond_base(shown)
        # A dock built after the start (a workspace read on a worker, a theme switch) asks for
        # what the start did not watch; watching a watched series again adds nothing.
        tracker = getattr(scheduler, "tracker", None)
        if tracker is not None and tracker.watched:
            missing = self._extra - set(tracker.watched)
            if missing:
                scheduler.watch_more(sorted(missing))

    def follow(self, shown: Iterable[str]) -> None:
        wanted = _beyond_base(shown)
        gone = self._extra - wanted
        if gone:
            self.scheduler.unwatch(sorted(gone))
        new = wanted - self._extra
        self._extra = wanted
        if new:
            self.scheduler.watch_more(sorted(new))

    @property
    def watched(self) -> frozenset[str]:
        return frozenset(self._extra)


def _beyond_base(ids: Iterable[str]) -> set[str]:
    out = set()
    for series_id in ids:
        spec = find_spec(series_id)
        if spec is not None and spec.interval not in BASE_PRICE_INTERVALS:
            out.add(series_id)
    return out


def interval_tip(interval: str, stems: Iterable[str]) -> str:
    """Where `interval`'s bars come from for these assets: the venue's own, or built."""
    built: dict[str, list[str]] = {}
    for stem in stems:
        spec = find_spec(f"{stem}.{interval}")
        if spec is None:
            continue
        finer = spec.extra.get("resample_from")
        if finer:
            key = f"{venue_label(spec.source)} serves no {interval} bars: built from the " \
                  f"{finer} bars (days, weeks and 4h bars on the exchange's sessions)"
            built.setdefault(key, []).append(spec.asset)
    lines = [f"{_NAMES.get(interval, interval)} bars, stamped at their open"]
    lines += [f"{', '.join(assets)}: {why}" for why, assets in built.items()]
    if interval == "1w":
        lines.append("Crypto weeks open Monday 00:00 UTC")
    return "\n".join(lines)


def fill_interval_box(box: QComboBox, stems: Iterable[str]) -> None:
    """Every interval, each with its tooltip."""
    stems = list(stems)
    box.addItems(list(PRICE_INTERVALS))
    for i, interval in enumerate(PRICE_INTERVALS):
        box.setItemData(i, interval_tip(interval, stems), Qt.ItemDataRole.ToolTipRole)
