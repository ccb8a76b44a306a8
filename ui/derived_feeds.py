"""Derived feeds: the analyses of `models/analyses.py`, kept current for whoever subscribes.

A feed is one analysis with its parameters (`funding(asset=btc)`, `rotation(window=60, k=2 …)`).
It exists while somebody subscribes to it, recomputes on a worker when one of its input series
changes (a burst of changes is one recompute), and hands its typed result to every subscriber on
the GUI thread. A dock and a price-chart overlay that need the same analysis share one feed, so
the overlays arrive whether or not the dock that shows the same analysis was ever built.

Some parameters are shared by everyone who shows an analysis (the rotation window and the
decoupling thresholds; the dealer positioning convention): they are persisted here, and setting
one re-keys every subscription of that analysis.

Analyses that import pandas ("heavy") wait for `release()`: the main window calls it once the
docks on screen have painted, so their first paint never waits on pandas holding the GIL.

Live updates (a stream moved a series' tail: the forming bar, every second or two) recompute a
feed at most every `LIVE_MIN_INTERVAL_MS`, and never while its previous computation still runs:
a rotation over ten years of hourly bars is not redone per tick, and a stream cannot pile jobs
up. A snapshot built from stream ticks (the live funding "now") counts as live too. Everything
else (a refresh, a cache read, a fetched snapshot) recomputes at once.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QSettings, QTimer, Slot

from models.analyses import (
    ANALYSES,
    DEFAULT_DELTA,
    DEFAULT_DRAWDOWN,
    DEFAULT_POSITIONING,
    DEFAULT_RV_METHOD,
    ROTATION_WINDOWS,
)
from models.asof import AsOfLoader
from models.catalog import find_spec
from models.dock_choices import DOCK_DEFAULTS
from models.liquidations import BURST_THRESHOLDS_MUSD
from models.movers import DRAWDOWN_BASES
from models.options import DealerPositioning, DeltaConvention
from models.series import SeriesData, Snapshot
from models.volatility import RvMethod
from ui.scheduler import Scheduler
from ui.settings_file import read_setting
from ui.store import DataStore

log = logging.getLogger(__name__)

#: a feed recomputes for live (tail) changes at most this often: every analysis reads hourly or
#: slower data, and with the squeeze, basis and liquidation docks a 5 s cadence kept a core busy
#: in steady streaming (bench/streams.py)
LIVE_MIN_INTERVAL_MS = 15000

#: replay keeps this many results per (feed, inputs as of t): scrubbing back costs nothing
REPLAY_MEMO_SIZE = 512
#: analyses of one snapshot, computed ahead for each snapshot stamp when replay begins (a chain
#: takes ~0.1-0.3 s: a step onto a new chain must not wait for it)
REPLAY_PREFETCH = frozenset({"chain"})

#: replay holds a step's first results at most this long for the others (ms): at 3600× the
#: minute liquidations change every tick, and the docks must still move
HOLD_MAX_MS = 120

#: analyses whose code imports pandas: held until the docks on screen have painted
HEAVY = frozenset({"chain", "rotation", "skew_history", "gamma_levels"})
#: parameters everyone showing the analysis shares, with their defaults
SHARED_DEFAULTS: dict[str, dict[str, Any]] = {
    "rotation": dict(DOCK_DEFAULTS["rotation"]),
    "chain": {"positioning": DEFAULT_POSITIONING, "delta": DEFAULT_DELTA},
    "skew_history": {"delta": DEFAULT_DELTA},
    "volatility": {"rv_method": DEFAULT_RV_METHOD},
    "movers": {"drawdown": DEFAULT_DRAWDOWN},
    # the Liquidations dock sets it; the price chart's burst markers use the same
    "liquidations": {"burst_musd": DOCK_DEFAULTS["liquidations"]["burst_musd"]},
}
#: where they are saved (the keys earlier versions used, so a user's choices survive)
_SETTINGS_PREFIX = {"rotation": "rotation", "chain": "options", "skew_history": "options",
                    "volatility": "vol", "movers": "movers", "liquidations": "liq"}
#: what a saved value may be; anything else (a hand edit, an old version) reads as the default
_VALID: dict[tuple[str, str], Callable[[Any], bool]] = {
    ("rotation", "window"): lambda v: v in ROTATION_WINDOWS,
    ("rotation", "k"): lambda v: 0.5 <= v <= 6.0,
    ("rotation", "threshold"): lambda v: -1.0 <= v <= 1.0,
    ("chain", "positioning"): lambda v: v in {p.value for p in DealerPositioning},
    ("chain", "delta"): lambda v: v in {d.value for d in DeltaConvention},
    ("skew_history", "delta"): lambda v: v in {d.value for d in DeltaConvention},
    ("volatility", "rv_method"): lambda v: v in {m.value for m in RvMethod},
    ("movers", "drawdown"): lambda v: v in DRAWDOWN_BASES,
    ("liquidations", "burst_musd"): lambda v: v in BURST_THRESHOLDS_MUSD,
}


_MISSING = object()


class StoreLoader:
    """The `DataLoader` an analysis reads in the window: the store's series and newest snapshots
    (references taken on the GUI thread; SeriesData is immutable), with the cache behind it for
    older snapshots (read on the worker).

    In replay the snapshots are those the store read as of `as_of_ms`; an as-of read
    (`known_ms`, models/asof.py AsOfLoader) at that moment is served from them, any other goes
    to the cache, which picks the revision known then when it keeps corrections."""

    def __init__(self, series: Mapping[str, SeriesData], snapshots: Mapping[str, Snapshot],
                 cache: Any = None, *, as_of_ms: int | None = None) -> None:
        self._series = dict(series)
        self._snapshots = dict(snapshots)
        self._cache = cache
        self._as_of_ms = as_of_ms

    @property
    def keeps_revisions(self) -> bool:
        return bool(getattr(self._cache, "keeps_revisions", False))

    def read(self, series_id: str, start_ms: int | None = None,
             end_ms: int | None = None) -> SeriesData:
        data = self._series.get(series_id)
        if data is None:
            spec = find_spec(series_id)
            return SeriesData.empty(spec.columns if spec else ())
        return data.between(start_ms, end_ms) if start_ms or end_ms else data

    def latest_snapshot(self, series_id: str, at_ms: int | None = None,
                        known_ms: int | None = None) -> Snapshot | None:
        snap = self._snapshots.get(series_id)
        # The store's snapshot is the newest (live) or the newest at or before `as_of_ms`
        # (replay, read as known then): it answers any `at_ms` it is not after.
        if known_ms is not None and self.keeps_revisions and not (
                known_ms == self._as_of_ms and snap is not None and at_ms is not None
                and snap.time_ms <= at_ms):
            return self._cache.latest_snapshot(series_id, at_ms, known_ms=known_ms)
        if at_ms is None or (snap is not None and snap.time_ms <= at_ms):
            return snap
        return self._cache.latest_snapshot(series_id, at_ms) if self._cache else None

    def snapshot_times(self, series_id: str) -> np.ndarray:
        if self._cache is not None:
            return self._cache.snapshot_times(series_id)
        snap = self._snapshots.get(series_id)
        return np.array([snap.time_ms] if snap else [], dtype=np.int64)

    def snapshot_at(self, series_id: str, time_ms: int,
                    known_ms: int | None = None) -> Snapshot | None:
        snap = self._snapshots.get(series_id)
        if known_ms is not None and self.keeps_revisions:
            if known_ms == self._as_of_ms and snap is not None and snap.time_ms == time_ms:
                return snap
            return self._cache.snapshot_at(series_id, time_ms, known_ms=known_ms)
        if snap is not None and snap.time_ms == time_ms:
            return snap
        return self._cache.snapshot_at(series_id, time_ms) if self._cache else None


def _rotation_rows(store: DataStore, inputs: frozenset[str]) -> dict[str, int]:
    """Rotation samples hourly bars only at the session closes of the daily bars known: hourly
    rows after the newest daily bar's day change nothing (models/rotation.py)."""
    daily = [d for i in inputs if i.endswith(".1d") and (d := store.series(i)) is not None
             and len(d)]
    bound = max((int(d.time[-1]) for d in daily), default=None)
    out = {}
    for series_id in inputs:
        data = store.series(series_id)
        n = -1 if data is None else len(data)
        if bound is not None and data is not None and not series_id.endswith(".1d"):
            n = int(data.time.searchsorted(bound + 86_400_000, "left"))
        out[series_id] = n
    return out


#: analyses whose result depends on fewer rows than those known (their replay fingerprint)
_NARROW_ROWS: dict[str, Callable[[DataStore, frozenset[str]], dict[str, int]]] = {
    "rotation": _rotation_rows,
}


def replay_fingerprint(store: DataStore, name: str, inputs: frozenset[str]) -> tuple:
    """What an analysis reads as of the store's replay time: the rows known of each series and
    the stamp and revision of each snapshot. Equal fingerprints, equal results."""
    rows = _NARROW_ROWS[name](store, inputs) if name in _NARROW_ROWS else None
    out = []
    for series_id in sorted(inputs):
        snap = store.snapshot(series_id)
        if snap is not None:
            out.append((series_id, snap.time_ms, getattr(snap, "recorded_ms", None)))
        elif rows is not None:
            out.append((series_id, rows[series_id]))
        else:
            data = store.series(series_id)
            out.append((series_id, -1 if data is None else len(data)))
    return tuple(out)


def _prefetch(name: str, params: dict[str, Any], series_id: str, cache: Any,
              stamps: list[int]) -> Any:
    """Worker: the analysis of each snapshot stamp, as replay would run it there."""
    revisions = getattr(cache, "keeps_revisions", False)
    for stamp in stamps:
        snap = cache.latest_snapshot(series_id, stamp, known_ms=stamp) if revisions else \
            cache.latest_snapshot(series_id, stamp)
        if snap is None:
            continue
        loader = AsOfLoader(StoreLoader({}, {series_id: snap}, cache, as_of_ms=stamp), stamp)
        fingerprint = ((series_id, snap.time_ms, getattr(snap, "recorded_ms", None)),)
        yield fingerprint, ANALYSES[name].run(loader, **params)


def feed_key(name: str, params: Mapping[str, Any]) -> str:
    """`rotation(k=2.0, threshold=0.2, window=60)`: stable, readable (job keys, logs)."""
    inner = ", ".join(f"{k}={params[k]}" for k in sorted(params))
    return f"{name}({inner})"


@dataclass
class _Feed:
    key: str
    name: str
    params: dict[str, Any]
    inputs: frozenset[str]
    subscribers: list[Subscription] = field(default_factory=list)
    value: Any = None
    has_value: bool = False


class Subscription:
    """One subscriber's hold on a feed: it gets every new result until `close()`."""

    def __init__(self, feeds: DerivedFeeds, name: str, own: dict[str, Any],
                 slot: Callable[[Any], None],
                 on_screen: Callable[[], bool] | None = None) -> None:
        # Weak: the feeds hold their subscriptions; a strong link back would make a cycle.
        self._feeds_ref = weakref.ref(feeds)
        self.name = name
        self.own = own
        self.slot = slot
        #: whether the subscriber is on screen (a dock behind another's tab is not); None: always
        self.on_screen = on_screen
        #: replay: a result held while the subscriber was off screen (handed over by recheck)
        self.held: Any = None
        self.has_held = False
        self.key = ""
        self.closed = False

    @property
    def value(self) -> Any:
        feeds = self._feeds_ref()
        return feeds.value(self.key) if feeds is not None else None

    def update(self, **own: Any) -> None:
        """Change this subscriber's own parameters (e.g. the asset shown)."""
        self.own = {**self.own, **own}
        feeds = self._feeds_ref()
        if feeds is not None and not self.closed:
            feeds._attach(self)

    def close(self) -> None:
        feeds = self._feeds_ref()
        if not self.closed:
            self.closed = True
            if feeds is not None:
                feeds._detach(self)


class DerivedFeeds(QObject):
    def __init__(self, store: DataStore, scheduler: Scheduler,
                 settings: QSettings | None = None, parent: QObject | None = None,
                 *, held: bool = True) -> None:
        super().__init__(parent)
        self.store = store
        self.scheduler = scheduler
        self.settings = settings
        self._feeds: dict[str, _Feed] = {}
        self._dirty: set[str] = set()
        self._running: set[str] = set()  # feed keys with a computation on a worker
        self._last_run: dict[str, float] = {}  # feed key -> monotonic ms its last run started
        self._not_before: dict[str, float] = {}  # dirty by a live change: wait until then
        self._released = not held
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)  # coalesce one event-loop turn's worth of changes
        self._timer.timeout.connect(self._recompute_dirty)
        store.seriesChanged.connect(self._on_input_changed)
        store.snapshotChanged.connect(self._on_input_changed)
        store.replayChanged.connect(self._on_replay_changed)
        store.replayStepped.connect(self._on_replay_stepped)
        self._announcing = False
        self._replay_ms: int | None = None
        #: replay: (feed key, fingerprint) -> result; and each running feed's fingerprint
        self._memo: OrderedDict[tuple[str, tuple], Any] = OrderedDict()
        self._running_fp: dict[str, tuple] = {}
        self._request: dict[str, int] = {}  # feed key -> its run's request id
        #: replay: results held until every feed on screen has its result for the step, so
        #: the docks change together and each paints once
        self._held: dict[str, Any] = {}
        self._held_since = 0.0

    # -- subscribing ------------------------------------------------------------------------
    def subscribe(self, name: str, slot: Callable[[Any], None], *,
                  on_screen: Callable[[], bool] | None = None, **own: Any) -> Subscription:
        """`slot(result)` now if the feed has a result, and after each recompute. In replay a
        feed whose every subscriber says it is not `on_screen` waits until one is (`recheck`)."""
        if name not in ANALYSES:
            raise KeyError(f"unknown analysis {name!r}")
        sub = Subscription(self, name, own, slot, on_screen)
        self._attach(sub)
        return sub

    def value(self, key: str) -> Any:
        feed = self._feeds.get(key)
        return feed.value if feed is not None else None

    def current(self, name: str, **own: Any) -> Any:
        """The latest result of `name` with these parameters (and the shared ones), or None."""
        return self.value(feed_key(name, {**self.shared_params(name), **own}))

    def publish(self, name: str, value: Any, **own: Any) -> None:
        """Hand subscribers a result computed elsewhere (a replay, a test)."""
        key = feed_key(name, {**self.shared_params(name), **own})
        if key in self._feeds:
            self._on_result(key, value)

    def values_of(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(parameters, latest result) of every feed of analysis `name`."""
        return [(dict(f.params), f.value) for f in self._feeds.values() if f.name == name]

    def active_keys(self) -> list[str]:
        return list(self._feeds)

    def shared_params(self, name: str) -> dict[str, Any]:
        defaults = SHARED_DEFAULTS.get(name, {})
        if self.settings is None:
            return dict(defaults)
        out = {}
        for param, default in defaults.items():
            value = read_setting(self.settings, self._setting(name, param), default)
            valid = _VALID.get((name, param))
            out[param] = value if valid is None or valid(value) else default
        return out

    @staticmethod
    def _setting(name: str, param: str) -> str:
        return f"{_SETTINGS_PREFIX.get(name, name)}/{param}"

    def set_shared_params(self, name: str, **values: Any) -> None:
        """Persist shared parameters and move every subscriber of `name` to the new feed."""
        for param, value in values.items():
            if param not in SHARED_DEFAULTS.get(name, {}):
                raise KeyError(f"{name} has no shared parameter {param!r}")
            if self.settings is not None:
                self.settings.setValue(self._setting(name, param), value)
        for feed in list(self._feeds.values()):
            if feed.name == name:
                for sub in list(feed.subscribers):
                    self._attach(sub)

    def release(self) -> None:
        """Let the pandas analyses run (the docks on screen have painted)."""
        if not self._released:
            self._released = True
            self._dirty.update(k for k, f in self._feeds.items() if f.name in HEAVY)
            self._timer.start(0)

    # -- internals ----------------------------------------------------------------------------
    def _params_for(self, sub: Subscription) -> dict[str, Any]:
        return {**self.shared_params(sub.name), **sub.own}

    def _attach(self, sub: Subscription) -> None:
        params = self._params_for(sub)
        key = feed_key(sub.name, params)
        if sub.key == key:
            return
        if sub.key:
            self._drop(sub)
        sub.key = key
        feed = self._feeds.get(key)
        if feed is None:
            inputs = frozenset(ANALYSES[sub.name].inputs(**params))
            feed = _Feed(key, sub.name, params, inputs)
            self._feeds[key] = feed
            self._dirty.add(key)
            self._timer.start(0)
        feed.subscribers.append(sub)
        if feed.has_value:
            sub.slot(feed.value)

    def _drop(self, sub: Subscription) -> None:
        feed = self._feeds.get(sub.key)
        if feed is None:
            return
        if sub in feed.subscribers:
            feed.subscribers.remove(sub)
        if not feed.subscribers:
            del self._feeds[sub.key]
            self._dirty.discard(sub.key)
            self._last_run.pop(sub.key, None)
            self._not_before.pop(sub.key, None)

    def _detach(self, sub: Subscription) -> None:
        self._drop(sub)
        sub.key = ""

    @Slot(object)
    def _on_replay_changed(self, t_ms: int | None) -> None:
        """Entering or leaving replay: every feed recomputes in the new mode, and a run of the
        old one still on a worker is superseded (its result dropped by the job runner). A step
        within replay recomputes only the feeds whose inputs the step changed."""
        entered_or_left = (t_ms is None) != (self._replay_ms is None)
        self._replay_ms = t_ms
        if entered_or_left:
            self._held.clear()
            for feed in self._feeds.values():
                for sub in feed.subscribers:
                    sub.held, sub.has_held = None, False
            self._memo.clear()
            self._running_fp.clear()
            self._running.clear()
            self._not_before.clear()
            self._dirty.update(self._feeds)
            self._timer.start(0)

    @Slot(list)
    def _on_replay_stepped(self, series_ids: list[str]) -> None:
        """A replay step: the feeds reading these recompute; if one is on screen, the views
        hear of the series with its result (`DataStore.hold_step`)."""
        changed = set(series_ids)
        hit = [k for k, f in self._feeds.items() if f.inputs & changed]
        if self.store.snapshot_reads_pending or any(self._shown(self._feeds[k]) for k in hit):
            self.store.hold_step()
        self._dirty.update(hit)
        if hit:
            self._timer.start(0)

    @Slot(str)
    def _on_input_changed(self, series_id: str) -> None:
        if self._announcing:
            return  # a replay step's series, handed to the views with the feeds' results
        hit = [k for k, f in self._feeds.items() if series_id in f.inputs]
        if not hit:
            return
        # live: a streamed tail, or a snapshot built from stream ticks (ui/streams.py)
        live = self.scheduler.publishing_stream and (
            self.store.tail_from(series_id) is not None
            or self.store.snapshot(series_id) is not None)
        for key in hit:
            if not live:
                self._not_before.pop(key, None)  # the whole series changed: at once
            elif key not in self._dirty and key in self._last_run:
                self._not_before[key] = self._last_run[key] + LIVE_MIN_INTERVAL_MS
        self._dirty.update(hit)
        self._timer.start(0)

    @Slot()
    def _recompute_dirty(self) -> None:
        if self.scheduler.closing:
            return
        now = time.monotonic() * 1000
        wait = None
        for key in list(self._dirty):
            feed = self._feeds.get(key)
            if feed is None:
                self._dirty.discard(key)
                continue
            if feed.name in HEAVY and not self._released:
                continue  # stays dirty until release()
            if key in self._running and key in self._not_before:
                continue  # a live change waits for the run on a worker: its result calls back
            if key in self._running and self.store.replaying and self._out(key):
                continue  # replay: the latest step runs when this run is back (no backlog)
            if self.store.replaying and not self._shown(feed):
                continue  # replay: behind a tab; recomputed when it comes forward (recheck)
            due = self._not_before.get(key, 0.0)
            if due > now:
                wait = due - now if wait is None else min(wait, due - now)
                continue
            self._not_before.pop(key, None)
            self._dirty.discard(key)
            if not any(self.store.live_series(i) is not None
                       or self.store.live_snapshot(i) is not None for i in feed.inputs):
                continue  # nothing loaded yet: its first input will mark it again
            self._submit(feed)
        if wait is not None:
            self._timer.start(int(wait) + 1)
        self.flush_if_done()

    def flush_if_done(self) -> None:
        """Replay: hand out the held results once no feed on screen is pending and the step's
        snapshots are read."""
        if (self._held or self.store.unannounced) and not self._step_pending(""):
            self._flush()

    def _submit(self, feed: _Feed) -> None:
        services = self.scheduler.services
        t = self.store.replay_ms
        if t is not None:
            fingerprint = replay_fingerprint(self.store, feed.name, feed.inputs)
            memo = self._memo.get((feed.key, fingerprint), _MISSING)
            if memo is not _MISSING:  # computed before (a step back, a prefetched chain)
                self._memo.move_to_end((feed.key, fingerprint))
                self._deliver(feed.key, memo)
                return
            self._running_fp[feed.key] = fingerprint
        loader: Any = StoreLoader(
            {i: d for i in feed.inputs if (d := self.store.series(i)) is not None},
            {i: s for i in feed.inputs if (s := self.store.snapshot(i)) is not None},
            services.cache if services is not None else None, as_of_ms=t)
        if t is not None:  # replay: only what was known at t (docs/replay.md)
            loader = AsOfLoader(loader, t)
        run = partial(ANALYSES[feed.name].run, loader, **feed.params)
        self._running.add(feed.key)
        self._last_run[feed.key] = time.monotonic() * 1000
        self._request[feed.key] = self.scheduler.run(
            f"feed:{feed.key}", run,
            on_result=lambda value, key=feed.key: self._on_result(key, value),
            on_error=lambda exc, key=feed.key: self._on_failed(key, exc))

    def _out(self, key: str) -> bool:
        """The feed's run is still on a worker. A run whose result the job runner dropped (a
        newer request under its key) would otherwise hold the feed back in replay for good."""
        request = self._request.get(key)
        if request is not None and self.scheduler.jobs.outstanding(request):
            return True
        if key in self._running:
            log.warning("derived feed %s: its run's result was dropped; recomputing", key)
        self._running.discard(key)
        self._running_fp.pop(key, None)
        return False

    def settled(self) -> bool:
        """Released, nothing waiting to recompute and nothing computing (a screenshot waits for
        this, so the overlays are in the picture). In replay, feeds nobody on screen reads
        wait, and are not waited for."""
        if self.store.replaying:
            lost = [k for k in list(self._running) if not self._out(k)]
            if lost:  # recompute what they were for
                self._dirty.update(k for k in lost if k in self._feeds)
                self._timer.start(0)
            self.flush_if_done()
            return self._released and not self._running and not self._held \
                and not self.store.unannounced and not any(
                (f := self._feeds.get(k)) is not None and self._shown(f) for k in self._dirty)
        return self._released and not self._dirty and not self._running

    @staticmethod
    def _shown(feed: _Feed) -> bool:
        return any(sub.on_screen is None or sub.on_screen() for sub in feed.subscribers)

    def recheck(self) -> None:
        """A dock came forward: its feeds that waited in replay recompute now, and results held
        for it while it was off screen are handed over."""
        for feed in list(self._feeds.values()):
            for sub in list(feed.subscribers):
                if sub.has_held and (sub.on_screen is None or sub.on_screen()):
                    value, sub.held, sub.has_held = sub.held, None, False
                    sub.slot(value)
        if self._dirty:
            self._timer.start(0)

    def pending_keys(self) -> set[str]:
        """Feeds waiting to recompute or computing (replay's step waits for none left)."""
        return self._dirty | self._running

    def _on_failed(self, key: str, exc: Exception) -> None:
        """A bug in an analysis: logged with its traceback; the feed keeps its last result."""
        self._running.discard(key)
        self._running_fp.pop(key, None)
        if key in self._dirty:
            self._timer.start(0)
        log.error("derived feed %s failed", key, exc_info=exc)
        self.flush_if_done()

    def prefetch(self, snapshot_times: Mapping[str, np.ndarray], start_ms: int,
                 end_ms: int) -> None:
        """Replay begins: compute each one-snapshot feed (`REPLAY_PREFETCH`) at every stamp in
        [start, end] on a worker, into the replay memo."""
        services = self.scheduler.services
        if services is None or self.store.replay_ms is None:
            return
        for feed in list(self._feeds.values()):
            if feed.name not in REPLAY_PREFETCH or len(feed.inputs) != 1:
                continue
            (series_id,) = feed.inputs
            times = np.asarray(snapshot_times.get(series_id, ()), dtype=np.int64)
            stamps = [int(x) for x in times[(times >= start_ms) & (times <= end_ms)]]
            if not stamps:
                continue
            # nearest the cursor first: the steps the trader takes next
            t = self.store.replay_ms
            stamps.sort(key=lambda x: abs(x - t))
            self.scheduler.jobs.run(
                f"prefetch:{feed.key}", _prefetch, feed.name, dict(feed.params), series_id,
                services.cache, stamps, on_result=lambda _r: None,
                on_item=lambda item, key=feed.key: self._remember(key, *item),
                on_error=lambda exc, key=feed.key: log.error("prefetch of %s failed", key,
                                                             exc_info=exc))

    def _remember(self, key: str, fingerprint: tuple, value: Any) -> None:
        if self.store.replay_ms is None:
            return
        self._memo[(key, fingerprint)] = value
        while len(self._memo) > REPLAY_MEMO_SIZE:
            self._memo.popitem(last=False)

    def _on_result(self, key: str, value: Any) -> None:
        self._running.discard(key)
        fingerprint = self._running_fp.pop(key, None)
        if fingerprint is not None and self.store.replay_ms is not None:
            self._remember(key, fingerprint, value)
        self._deliver(key, value)

    def _deliver(self, key: str, value: Any) -> None:
        if key in self._dirty:  # changed while it ran
            self._timer.start(0)
        if self.store.replaying:
            now = time.monotonic() * 1000
            if not self._held:
                self._held_since = now
            self._held[key] = value
            if now - self._held_since < HOLD_MAX_MS and self._step_pending(key):
                return
            self._flush()  # all in (or held long enough: playback)
            return
        self._hand_out(key, value)

    def _flush(self) -> None:
        """Replay: the step's series to the views, then the held results: one paint a dock."""
        held, self._held = self._held, {}
        self._announcing = True
        try:
            self.store.announce_step()
        finally:
            self._announcing = False
        for key, value in held.items():
            self._hand_out(key, value)

    def _step_pending(self, done: str) -> bool:
        """Another feed on screen is still to recompute or computing, or the step's snapshots
        are still being read."""
        if self.store.snapshot_reads_pending:
            return True
        return any(k != done and (f := self._feeds.get(k)) is not None and self._shown(f)
                   and (k in self._dirty or (k in self._running and self._out(k)))
                   for k in (*self._dirty, *self._running))

    def _hand_out(self, key: str, value: Any) -> None:
        feed = self._feeds.get(key)
        if feed is None:
            return  # nobody subscribes any more
        feed.value = value
        feed.has_value = True
        replaying = self.store.replaying
        for sub in list(feed.subscribers):
            if replaying and sub.on_screen is not None and not sub.on_screen():
                # a feed shared with a dock on screen (the chain: the price chart's gamma
                # levels): the hidden dock draws once, when it comes forward
                sub.held, sub.has_held = value, True
                continue
            sub.held, sub.has_held = None, False
            sub.slot(value)
