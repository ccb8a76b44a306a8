"""The GUI thread's view of the data: the latest series, snapshots and statuses, by id.

Panels read from the store and subscribe to its signals, so a panel opened late (a re-opened
dock) paints at once from what is already loaded. Only the GUI thread writes here.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from models.series import SeriesData, Snapshot
from models.status import SourceStatus


class DataStore(QObject):
    seriesChanged = Signal(str)
    snapshotChanged = Signal(str)
    statusChanged = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._series: dict[str, SeriesData] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._status: dict[str, SourceStatus] = {}
        self.demo = False

    def series(self, series_id: str) -> SeriesData | None:
        return self._series.get(series_id)

    def snapshot(self, series_id: str) -> Snapshot | None:
        return self._snapshots.get(series_id)

    def status(self, series_id: str) -> SourceStatus | None:
        return self._status.get(series_id)

    def statuses(self) -> dict[str, SourceStatus]:
        return dict(self._status)

    def series_ids(self) -> list[str]:
        return list(self._series)

    @Slot(str, object)
    def set_series(self, series_id: str, data: SeriesData) -> None:
        self._series[series_id] = data
        self.seriesChanged.emit(series_id)

    @Slot(str, object)
    def set_snapshot(self, series_id: str, snap: Snapshot) -> None:
        self._snapshots[series_id] = snap
        self.snapshotChanged.emit(series_id)

    @Slot(str, object)
    def set_status(self, series_id: str, status: SourceStatus) -> None:
        self._status[series_id] = status
        self.statusChanged.emit(series_id)

    def clear(self) -> None:
        self._series.clear()
        self._snapshots.clear()
