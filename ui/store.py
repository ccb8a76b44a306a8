"""The GUI thread's view of the data: the latest series, snapshots and statuses, by id.

Panels read from the store and subscribe to its signals, so a panel opened late (a re-opened
dock) paints at once from what is already loaded. Only the GUI thread writes here.

Statuses are not copied here: the store reads them through from the one place that keeps them,
the scheduler's `SourceTracker` (`follow`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from models.series import SeriesData, Snapshot
from models.status import SourceStatus

if TYPE_CHECKING:
    from ui.scheduler import Scheduler


class StatusSource(Protocol):
    def status(self, series_id: str) -> SourceStatus | None: ...

    def statuses(self) -> dict[str, SourceStatus]: ...


class DataStore(QObject):
    seriesChanged = Signal(str)
    snapshotChanged = Signal(str)
    statusChanged = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._series: dict[str, SeriesData] = {}
        self._tail_from: dict[str, int | None] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._status_source: StatusSource | None = None
        self.demo = False

    def series(self, series_id: str) -> SeriesData | None:
        return self._series.get(series_id)

    def snapshot(self, series_id: str) -> Snapshot | None:
        return self._snapshots.get(series_id)

    def status(self, series_id: str) -> SourceStatus | None:
        """The series' state, read from the one place it lives (the scheduler's tracker)."""
        if self._status_source is None:
            return None
        return self._status_source.status(series_id)

    def statuses(self) -> dict[str, SourceStatus]:
        return self._status_source.statuses() if self._status_source is not None else {}

    def tail_from(self, series_id: str) -> int | None:
        """Rows of the series before this index are those stored before its last update (only
        the tail changed: the forming bar, new bars); None when everything may differ."""
        return self._tail_from.get(series_id)

    def follow(self, scheduler: Scheduler) -> None:
        """Take series, snapshots and statuses from `scheduler`: statuses read through to its
        tracker, series keep the tail index its refreshes report."""
        self._status_source = scheduler.tracker
        scheduler.seriesUpdated.connect(self.set_series)
        scheduler.snapshotChanged.connect(self.set_snapshot)
        scheduler.statusChanged.connect(self._on_status)
        scheduler.seriesCleared.connect(self.drop)

    def series_ids(self) -> list[str]:
        return list(self._series)

    @Slot(str, object)
    @Slot(str, object, object)
    def set_series(self, series_id: str, data: SeriesData, tail_from: int | None = None) -> None:
        self._series[series_id] = data
        self._tail_from[series_id] = tail_from
        self.seriesChanged.emit(series_id)

    @Slot(str, object)
    def set_snapshot(self, series_id: str, snap: Snapshot) -> None:
        self._snapshots[series_id] = snap
        self.snapshotChanged.emit(series_id)

    @Slot(str, object)
    @Slot(str, object)
    def _on_status(self, series_id: str, _status: SourceStatus) -> None:
        self.statusChanged.emit(series_id)

    @Slot(str)
    def drop(self, series_id: str) -> None:
        """Forget one series (its cache was cleared): panels keep what they drew until the
        refetched series is published."""
        self._series.pop(series_id, None)
        self._tail_from.pop(series_id, None)
        self._snapshots.pop(series_id, None)

    def clear(self) -> None:
        self._series.clear()
        self._tail_from.clear()
        self._snapshots.clear()
