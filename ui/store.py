"""The GUI thread's view of the data: the latest series, snapshots and statuses, by id.

Panels read from the store and subscribe to its signals, so a panel opened late (a re-opened
dock) paints at once from what is already loaded. Only the GUI thread writes here.

Statuses are not copied here: the store reads them through from the one place that keeps them,
the scheduler's `SourceTracker` (`follow`).

Replay (docs/replay.md): `enter_replay(t)` freezes what was published and shows it as of t.
`series()` then answers each series cut to the rows known at t (`models.asof.known_rows`, a
view: cheap on the GUI thread) and `snapshot()` the snapshot at or before t, read on a worker
(`ui/replay.py`) and handed in with `set_replay_snapshots`. Only what the step changed is
signalled. Live publications arriving meanwhile are kept aside and applied by `leave_replay`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from models.asof import known_delay_ms
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
    #: replay entered, moved or left: the time shown (UTC epoch ms), or None for live
    replayChanged = Signal(object)
    #: a replay step changed these series (before `seriesChanged`: the derived feeds hear it
    #: first and may hold the views' signal until their results are in, `hold_step`)
    replayStepped = Signal(list)
    #: a series was published by a refresh or a stream, shown or (in replay) held: the alert
    #: engine evaluates live data whatever the docks show (ui/alerts.py)
    livePublished = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._series: dict[str, SeriesData] = {}
        self._tail_from: dict[str, int | None] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._status_source: StatusSource | None = None
        self.demo = False
        #: replay: the time shown, the series cut at it, the snapshots as of it, and what live
        #: publications came meanwhile (applied on leaving)
        self._replay_ms: int | None = None
        #: replay: the snapshots of the step are being read on a worker (ui/replay.py)
        self.snapshot_reads_pending = False
        self._cut: dict[str, SeriesData] = {}
        self._replay_snapshots: dict[str, Snapshot] = {}
        self._held_series: dict[str, tuple[SeriesData, int | None]] = {}
        self._held_snapshots: dict[str, Snapshot] = {}
        #: a replay step's series changes not yet signalled to the views (`announce_step`)
        self._unannounced: list[str] = []
        self._hold = False

    def series(self, series_id: str) -> SeriesData | None:
        """The series as shown: all of it live, the rows known at t in replay."""
        if self._replay_ms is not None:
            return self._cut.get(series_id)
        return self._series.get(series_id)

    def live_series(self, series_id: str) -> SeriesData | None:
        """The series as last published (in replay: as it was when replay began)."""
        return self._series.get(series_id)

    def newest_series(self, series_id: str) -> SeriesData | None:
        """The newest publication, including one held back while replaying."""
        held = self._held_series.get(series_id)
        return held[0] if held is not None else self._series.get(series_id)

    def snapshot(self, series_id: str) -> Snapshot | None:
        """The newest snapshot live; in replay the one at or before t."""
        if self._replay_ms is not None:
            return self._replay_snapshots.get(series_id)
        return self._snapshots.get(series_id)

    def live_snapshot(self, series_id: str) -> Snapshot | None:
        return self._snapshots.get(series_id)

    def snapshot_ids(self) -> list[str]:
        return list(self._snapshots)

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

    # -- replay -------------------------------------------------------------------------------
    @property
    def replay_ms(self) -> int | None:
        """The time replay shows (UTC epoch ms); None when live."""
        return self._replay_ms

    @property
    def replaying(self) -> bool:
        return self._replay_ms is not None

    def enter_replay(self, t_ms: int) -> None:
        """Show every series as of `t_ms` (the snapshots follow from `set_replay_snapshots`)."""
        if self._replay_ms is None:
            self._replay_ms = int(t_ms)
            self._cut.clear()
            self._replay_snapshots.clear()
        self.set_replay_time(t_ms, force=True)

    def set_replay_time(self, t_ms: int, *, force: bool = False) -> list[str]:
        """Move replay to `t_ms`: each series whose known rows changed is signalled, with the
        index its new rows start at when t moved forward (the price chart extends in place).
        Returns the ids signalled."""
        if self._replay_ms is None:
            return []
        t_ms = int(t_ms)
        if t_ms == self._replay_ms and not force:
            return []
        self._replay_ms = t_ms
        changed = []
        for series_id, data in self._series.items():
            end = t_ms - known_delay_ms(series_id)
            n = int(data.time.searchsorted(end, "right"))
            old = self._cut.get(series_id)
            if old is not None and len(old) == n:
                continue
            cut = data if n == len(data) else data.between(None, end) if n else \
                SeriesData(data.time[:0], {k: v[:0] for k, v in data.columns.items()})
            self._cut[series_id] = cut
            grew = old is not None and 0 < len(old) < n
            tail = len(old) if grew else None  # type: ignore[arg-type]
            if series_id in self._unannounced:  # the views still draw an earlier cut
                before = self._tail_from.get(series_id)
                tail = None if tail is None or before is None else min(tail, before)
            self._tail_from[series_id] = tail
            changed.append(series_id)
        self._hold = False
        if changed:
            self.replayStepped.emit(changed)
        self._unannounced.extend(i for i in changed if i not in self._unannounced)
        if not self._hold:
            self.announce_step()
        self.replayChanged.emit(t_ms)
        return changed

    @property
    def unannounced(self) -> bool:
        return bool(self._unannounced)

    def hold_step(self) -> None:
        """Called during `replayStepped`: signal this step's series to the views only at
        `announce_step` (the feeds' results come with it: each dock paints once a step)."""
        self._hold = True

    def announce_step(self) -> None:
        """Signal the series that replay steps changed since the last announcement."""
        ids, self._unannounced = self._unannounced, []
        for series_id in ids:
            self.seriesChanged.emit(series_id)

    def set_replay_snapshots(self, t_ms: int, snapshots: dict[str, Snapshot | None]) -> None:
        """The snapshots as of `t_ms` (read on a worker); dropped when replay moved on or left
        meanwhile (a newer read follows). A changed one is signalled."""
        if self._replay_ms != int(t_ms):
            return
        for series_id, snap in snapshots.items():
            old = self._replay_snapshots.get(series_id)
            if snap is None:
                if old is None:
                    continue
                del self._replay_snapshots[series_id]
            elif old is not None and old.time_ms == snap.time_ms and \
                    getattr(old, "recorded_ms", None) == getattr(snap, "recorded_ms", None):
                continue
            else:
                self._replay_snapshots[series_id] = snap
            self.snapshotChanged.emit(series_id)

    def leave_replay(self) -> None:
        """Back to live: what was published meanwhile is applied, and every series and
        snapshot is signalled (whole: the views drew a cut)."""
        if self._replay_ms is None:
            return
        self._replay_ms = None
        self._cut.clear()
        self._replay_snapshots.clear()
        self._unannounced.clear()
        held_series, self._held_series = self._held_series, {}
        held_snaps, self._held_snapshots = self._held_snapshots, {}
        for series_id, (data, _tail) in held_series.items():
            self._series[series_id] = data
        self._snapshots.update(held_snaps)
        for series_id in list(self._series):
            self._tail_from[series_id] = None
            self.seriesChanged.emit(series_id)
        for series_id in list(self._snapshots):
            self.snapshotChanged.emit(series_id)
        self.replayChanged.emit(None)

    def held_ids(self) -> list[str]:
        """Series and snapshots published during replay, not shown until it ends."""
        return [*self._held_series, *(i for i in self._held_snapshots
                                      if i not in self._held_series)]

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
        if self._replay_ms is not None and series_id in self._series:  # shown when replay ends
            self._held_series[series_id] = (data, tail_from)
            self.livePublished.emit(series_id)
            return
        if self._replay_ms is not None:  # a series not loaded before (a dock opened): its cut
            self._series[series_id] = data
            self.set_replay_time(self._replay_ms, force=True)
            self.livePublished.emit(series_id)
            return
        self._series[series_id] = data
        self._tail_from[series_id] = tail_from
        self.seriesChanged.emit(series_id)
        self.livePublished.emit(series_id)

    @Slot(str, object)
    def set_snapshot(self, series_id: str, snap: Snapshot) -> None:
        if self._replay_ms is not None:
            self._held_snapshots[series_id] = snap
            return
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
        self._cut.pop(series_id, None)
        self._held_series.pop(series_id, None)

    def clear(self) -> None:
        self.leave_replay()
        self._series.clear()
        self._tail_from.clear()
        self._snapshots.clear()
