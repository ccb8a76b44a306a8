"""Start-up: open the services and read the cache in phases, so the chart in front paints first.

One worker job reads every phase and hands each over as soon as it is read:
1. open the services, read the front chart's series (`Opened`);
2. the other series (`CachedPhase`);
3. once the docks on screen have painted (`release_snapshots`), the snapshots (`CachedPhase`).

One job for all phases: a phase queued as a new job would wait for the GUI thread to finish
painting the previous one before it could even start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from models.catalog import get_spec
from models.series import MS_PER_DAY, SeriesData, Snapshot
from services.app import AppServices, has_cached_data, open_demo, open_live
from ui.jobs import JobRunner

PHASES = 3


@dataclass(frozen=True)
class CachedPhase:
    series: dict[str, SeriesData]  # only series with cached rows
    snapshots: dict[str, Snapshot]
    ids: frozenset[str]  # every series read, with or without cached data


@dataclass(frozen=True)
class Opened(CachedPhase):
    services: AppServices | None = None
    had_cache: bool = False


def read_in_phases(demo: bool, first_ids: tuple[str, ...], rest_ids: tuple[str, ...],
                   snapshots_go: threading.Event, stop: threading.Event
                   ) -> Iterator[CachedPhase]:
    """The start-up job: open the services, then yield each phase as it is read."""
    services = open_demo() if demo else open_live()
    yield Opened(*_read_cached(services, first_ids), frozenset(first_ids), services=services,
                 had_cache=has_cached_data(services))
    series_ids = tuple(i for i in rest_ids if not get_spec(i).is_snapshot)
    yield CachedPhase(*_read_cached(services, series_ids), frozenset(series_ids))
    # A snapshot is a pandas frame: its first read imports pandas, ~0.25 s that holds the GIL
    # in long stretches and would stall the docks painting their first data.
    while not snapshots_go.wait(0.05):
        if stop.is_set():
            return
    snapshot_ids = tuple(i for i in rest_ids if get_spec(i).is_snapshot)
    yield CachedPhase(*_read_cached(services, snapshot_ids), frozenset(snapshot_ids))


def _read_cached(services: AppServices, series_ids: Iterable[str]
                 ) -> tuple[dict[str, SeriesData], dict[str, Snapshot]]:
    series: dict[str, SeriesData] = {}
    snapshots: dict[str, Snapshot] = {}
    for series_id in series_ids:
        if get_spec(series_id).is_snapshot:
            snap = services.cache.latest_snapshot(series_id)
            if snap is not None:
                snapshots[series_id] = snap
        else:
            data = services.cache.read(series_id)
            if len(data):
                series[series_id] = data
    return series, snapshots


def read_cached_phase(services: AppServices, series_ids: tuple[str, ...]) -> CachedPhase:
    """On a worker: what the cache holds of series watched after start-up."""
    return CachedPhase(*_read_cached(services, series_ids), frozenset(series_ids))


#: a series this long is handed over in two steps when it is watched late (the price dock
#: switched to 1m): its newest `NEWEST_FIRST_DAYS` first, then all of it
NEWEST_FIRST_MIN_ROWS = 200_000
NEWEST_FIRST_DAYS = 14
#: how long after the newest rows the whole read starts (ui/scheduler.py's timer): the long
#: read holds the GIL in stretches, so the GUI thread draws the newest rows first
NEWEST_FIRST_PAUSE_MS = 200


def read_newest_rows(services: AppServices, series_ids: tuple[str, ...]) -> CachedPhase:
    """On a worker: the newest two weeks of each long series among `series_ids` (a few ms to
    read; none for short ones). The scheduler reads the whole of every series next: BTC's
    whole minute history takes ~0.5 s, and the chart shows its newest rows meanwhile
    (docs/performance.md, issue 16). No ids: the tracker learns of the series from the whole
    read only."""
    newest: dict[str, SeriesData] = {}
    for series_id in series_ids:
        spec = get_spec(series_id)
        step = None if spec.is_snapshot else spec.interval_ms
        span = services.cache.span(series_id) if step else None
        if span is not None and (span[1] - span[0]) // step >= NEWEST_FIRST_MIN_ROWS:
            start = span[1] - NEWEST_FIRST_DAYS * MS_PER_DAY
            newest[series_id] = services.cache.read(series_id, start_ms=start)
    return CachedPhase(newest, {}, frozenset())


class StartupReader:
    """Runs `read_in_phases` through the job runner and counts the phases handed over."""

    def __init__(self, jobs: JobRunner, stop: threading.Event) -> None:
        self._jobs = jobs
        self._stop = stop
        self._snapshots_go = threading.Event()
        self._phases_left = PHASES

    @property
    def done(self) -> bool:
        """Everything the cache held has been handed over."""
        return self._phases_left == 0

    def start(self, demo: bool, watched: Iterable[str], first: Iterable[str], *,
              hold_snapshots: bool, on_phase: Callable[[CachedPhase], None]) -> None:
        """Read `first` (those watched), then the rest; a newer start (the demo fall-back)
        supersedes an older one."""
        watched = tuple(watched)
        first_ids = tuple(i for i in first if i in watched)
        rest_ids = tuple(i for i in watched if i not in first_ids)
        if not hold_snapshots:
            self._snapshots_go.set()
        self._phases_left = PHASES

        def phase(item: CachedPhase) -> None:
            self._phases_left = max(0, self._phases_left - 1)
            on_phase(item)

        self._jobs.run("open", read_in_phases, demo, first_ids, rest_ids, self._snapshots_go,
                       self._stop, on_result=lambda _none: None, on_item=phase)

    def release_snapshots(self) -> None:
        """Let the reader go on to the snapshots (the docks on screen have painted)."""
        self._snapshots_go.set()
