"""Refresh: decide what a series still needs, fetch it (with venue fallback), store it.

`plan_refresh` is pure (tested without I/O). `refresh_series` is what both the GUI's workers and
`main.py refresh` run: it stores every page as it arrives, so an interrupted backfill keeps what
it got, and it returns a result instead of raising, so one failing series never stops the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from models.catalog import (
    CANDLES,
    LIQUIDATIONS,
    PRICE_INTERVALS,
    STREAM_ONLY_NOTE,
    SeriesSpec,
    is_stream_only,
    validate_symbol,
)
from models.series import (
    DUPLICATE_CONFLICTS,
    DUPLICATE_REASON,
    FUTURE_TOLERANCE_MS,
    MS_PER_DAY,
    RowCheck,
    SeriesData,
    Snapshot,
    check_rows,
    frame_rows,
    now_ms,
)
from models.venues import find_venue
from services.cache import Cache
from services.errors import (
    BadPayload,
    CacheCorrupt,
    CacheUnavailable,
    GeoBlocked,
    PermanentError,
    ServiceError,
    UnknownSymbol,
)
from services.sources import Sources

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (series_id, fraction 0..1)
HISTORY_GAP_MS = 7 * MS_PER_DAY


@dataclass(frozen=True)
class RefreshPlan:
    ranges: tuple[tuple[int, int], ...]  # (start_ms, end_ms), newest first

    @property
    def empty(self) -> bool:
        return not self.ranges


Span = tuple[int, int]


def merge_spans(spans: Iterable[Sequence[int]]) -> list[Span]:
    """Sorted, with overlapping or touching (1 ms apart) spans joined."""
    out: list[Span] = []
    for start, end in sorted((int(a), int(b)) for a, b in spans):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def uncovered(start: int, end: int, covered: Iterable[Sequence[int]]) -> list[Span]:
    """The parts of [start, end] outside every covered span, newest first."""
    holes: list[Span] = []
    cursor = start
    for a, b in merge_spans(covered):
        if b < cursor:
            continue
        if a > end:
            break
        if a > cursor:
            holes.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        holes.append((cursor, end))
    return holes[::-1]


def plan_refresh(spec: SeriesSpec, bounds: tuple[int, int, int] | None, *, want_start_ms: int,
                 now: int, history_start_ms: int | None = None,
                 last_fetch_ms: int | None = None, end_ms: int | None = None,
                 covered: Iterable[Sequence[int]] | None = None) -> RefreshPlan:
    """The ranges to fetch so the cache covers [want_start_ms, end] with the newest bar fresh.

    - Newer: from the last cached bar (inclusive: it may still be forming) to the end, unless
      it was fetched less than half a poll interval ago.
    - Holes: parts between the first and last cached row that no completed fetch `covered` (a
      page failed or the process was killed part-way through a newest-first catch-up). A range
      fetched completely counts as covered even when the venue had no rows in it (a closure,
      a delisting), so a hole the data explains is asked for once, not forever.
    - Older: from `want_start_ms` up to the first cached row, unless an earlier backfill already
      reached the venue's oldest row (`history_start_ms`) or the venue keeps no older data.
    """
    end = now if end_ms is None else min(end_ms, now)
    if spec.max_history_days is not None:
        want_start_ms = max(want_start_ms, now - spec.max_history_days * MS_PER_DAY)
    if bounds is None:
        return RefreshPlan(((want_start_ms, end),)) if want_start_ms < end else RefreshPlan(())
    first, last, _ = bounds
    ranges: list[tuple[int, int]] = []
    # A fetch stamped after `now` means the wall clock jumped back since: not fresh.
    fresh = (last_fetch_ms is not None and 0 <= now - last_fetch_ms < spec.poll_seconds * 500)
    if end >= last and not fresh:
        ranges.append((last, end))
    floor = want_start_ms
    if history_start_ms is not None:
        floor = max(floor, history_start_ms)
    if covered is not None and max(first, floor) < last:
        ranges.extend(uncovered(max(first, floor), last, covered))
    step = spec.interval_ms or 0
    if floor < first - step:
        ranges.append((floor, first - 1))
    return RefreshPlan(tuple(ranges))


@dataclass(frozen=True)
class RefreshResult:
    series_id: str
    rows_added: int = 0
    last_ms: int | None = None
    venue: str = ""
    error: ServiceError | None = None
    requests: int = 0  # sent by this call only
    fallback_errors: tuple[ServiceError, ...] = field(default_factory=tuple)
    #: the rows this call stored (new and re-fetched ones, e.g. the forming bar): the caller
    #: merges them into what it holds instead of reading the whole series back
    rows: SeriesData | None = None
    #: rows refused before storing (non-finite, out of range, future, conflicting repeats)
    rows_dropped: int = 0
    drop_reasons: Mapping[str, int] = field(default_factory=dict)
    #: a word on a result that fetched nothing on purpose ("recorded from the stream")
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def drop_summary(self) -> str:
        """e.g. "2 dropped: non-finite volume"; empty when every row was stored."""
        if not self.rows_dropped:
            return ""
        reasons = sorted(self.drop_reasons.items())
        text = ", ".join(f"{n} {r}" if len(reasons) > 1 else r for r, n in reasons)
        return f"{self.rows_dropped} dropped: {text}"


def refresh_series(spec: SeriesSpec, cache: Cache, sources: Sources, *,
                   want_start_ms: int | None = None, end_ms: int | None = None,
                   now: int | None = None, progress: Progress | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   force: bool = False) -> RefreshResult:
    """Fetch what the cache lacks for one series. Never raises a `ServiceError`.

    `force` asks for the newest bar even when it was fetched moments ago (the user's refresh).
    """
    # Imported here: requests costs ~0.1 s of import, and the window imports this module.
    from services.http import counting_requests

    with counting_requests() as count:
        try:
            result = _refresh(spec, cache, sources, want_start_ms, end_ms, now, progress,
                              should_stop, force)
        except ServiceError as e:  # the cache: a full disk, a lock, a read-only folder
            log.warning("refresh %s: %s", spec.id, e)
            result = RefreshResult(spec.id, error=e)
    # a series built from a finer one reports the requests its refresh of that one sent
    return replace(result, requests=count.sent + result.requests)


def _refresh(spec: SeriesSpec, cache: Cache, sources: Sources, want_start_ms: int | None,
             end_ms: int | None, now: int | None, progress: Progress | None,
             should_stop: Callable[[], bool] | None, force: bool) -> RefreshResult:
    now = now_ms() if now is None else now
    start = want_start_ms if want_start_ms is not None else now - spec.history_days * MS_PER_DAY
    meta = cache.get_meta(spec.id)

    if spec.is_snapshot:
        return _refresh_snapshot(spec, cache, sources, meta, now)
    if is_stream_only(spec):
        # No key-less REST history exists: what the stream recorded is all there is, and it is
        # up to date by definition. Not an error, and no request.
        bounds = cache.bounds(spec.id)
        return RefreshResult(spec.id, 0, bounds[1] if bounds else None, spec.source,
                             note=STREAM_ONLY_NOTE)

    if spec.extra.get("resample_from"):  # the venue lacks the interval (services/resampled.py)
        from services.resampled import refresh_resampled

        return refresh_resampled(spec, cache, sources, want_start_ms=want_start_ms,
                                 end_ms=end_ms, now=now, progress=progress,
                                 should_stop=should_stop, force=force)

    bounds = cache.bounds(spec.id)
    if bounds is not None and "covered" not in meta:
        # A cache from before coverage was kept: trust its span, as planning did then.
        meta = cache.update_meta(spec.id, covered=[[bounds[0], bounds[1]]])
    plan = plan_refresh(spec, bounds, want_start_ms=start, now=now,
                        history_start_ms=meta.get("history_start_ms"),
                        last_fetch_ms=None if force else meta.get("last_fetch_ms"),
                        end_ms=end_ms, covered=meta.get("covered", []))
    added = 0
    dropped: dict[str, int] = {}
    stored: list[SeriesData] = []
    errors: list[ServiceError] = []
    served_by = ""
    first_cached = (cache.bounds(spec.id) or (None,))[0]
    total_span = sum(b - a for a, b in plan.ranges) or 1
    done_span = 0
    for range_start, range_end in plan.ranges:
        for venue, symbol in _venue_order(spec, meta):
            validate_symbol(symbol)
            def report(covered: int, base: int = done_span) -> None:
                if progress is not None:
                    progress(spec.id, min(1.0, (base + covered) / total_span))

            try:
                oldest = _fetch_range(spec, cache, sources.get(venue), symbol, range_start,
                                      range_end, should_stop, report, stored, now=now,
                                      dropped=dropped)
            except (CacheUnavailable, CacheCorrupt):
                raise  # the disk, not the venue: another venue would fail the same way
            except ServiceError as e:
                errors.append(e)
                log.warning("refresh %s via %s failed: %s", spec.id, venue, e)
                if isinstance(e, GeoBlocked):
                    meta = cache.update_meta(spec.id, blocked_venue=venue)
                continue
            added += oldest.rows_added
            served_by = venue
            if oldest.complete:
                # Asked and fully received: no hole here, whatever rows it held.
                spans = merge_spans([*meta.get("covered", []), (range_start, range_end)])
                meta = cache.update_meta(spec.id, covered=[list(span) for span in spans])
            is_backfill = first_cached is None or range_end < first_cached
            # A gap longer than any market closure means the venue keeps nothing older.
            if is_backfill and (oldest.time_ms is None
                                or oldest.time_ms - range_start > HISTORY_GAP_MS):
                found = oldest.time_ms if oldest.time_ms is not None else range_end
                meta = cache.update_meta(spec.id, history_start_ms=found)
            break
        done_span += range_end - range_start

    bounds = cache.bounds(spec.id)
    rows = SeriesData.concat(stored) if stored else None
    if plan.ranges and not served_by:
        # Every venue failed: report the primary venue's error, the others as fallbacks.
        return RefreshResult(spec.id, added, bounds[1] if bounds else None, "",
                             errors[0] if errors else None,
                             fallback_errors=tuple(errors[1:]), rows=rows,
                             rows_dropped=sum(dropped.values()), drop_reasons=dropped)
    cache.update_meta(spec.id, last_fetch_ms=now, venue=served_by or meta.get("venue", ""))
    if spec.kind == CANDLES and spec.interval in PRICE_INTERVALS and spec.interval != "1m":
        # Older bars from the stored minutes, where whole (services/resampled.py)
        from services.resampled import fill_from_minutes

        filled = fill_from_minutes(spec, cache)
        if filled is not None:
            rows = SeriesData.concat([filled, *([rows] if rows is not None else [])])
            added += len(filled)
    return RefreshResult(spec.id, added, bounds[1] if bounds else None,
                         served_by or meta.get("venue", ""), None,
                         fallback_errors=tuple(errors), rows=rows,
                         rows_dropped=sum(dropped.values()), drop_reasons=dropped)


@dataclass(frozen=True)
class _RangeOutcome:
    rows_added: int
    time_ms: int | None  # the oldest row the venue returned in the range
    complete: bool = True  # every page arrived (not stopped part-way)


def _fetch_range(spec: SeriesSpec, cache: Cache, client: object, symbol: str, start: int,
                 end: int, should_stop: Callable[[], bool] | None,
                 report: Callable[[int], object], stored: list[SeriesData], *,
                 now: int | None = None, dropped: dict[str, int] | None = None) -> _RangeOutcome:
    """Store each page as it arrives, so an interrupted backfill keeps what it got; each page
    stored is appended to `stored`, in order (a later page wins a repeated time, as in the
    cache). Every row is checked first (`check_rows`); what was refused is logged and counted
    into `dropped` (reason -> rows)."""
    added = 0
    oldest: int | None = None
    newest: int | None = None
    for page in _pages(spec, cache, client, symbol, start, end, now, dropped):
        if isinstance(page, _StoredPage):
            added += page.added
            data = page.data.between(start, end)
        else:
            data = _checked_page(spec, page, now_ms() if now is None else now, dropped)
            data = data.between(start, end).without_empty_rows()
            added += cache.upsert(spec.id, data)
        stored.append(data)
        if len(data):
            oldest = int(data.time[0]) if oldest is None else min(oldest, int(data.time[0]))
            newest = int(data.time[-1]) if newest is None else max(newest, int(data.time[-1]))
            # Pages come oldest-first or newest-first depending on the venue: report the span
            # covered so far either way.
            report((newest - oldest) if newest != oldest else 0)
        if should_stop is not None and should_stop():
            return _RangeOutcome(added, oldest, complete=False)
    return _RangeOutcome(added, oldest)


@dataclass(frozen=True)
class _StoredPage:
    """A page the cache has already stored (reported liquidations: events, then buckets)."""

    data: SeriesData
    added: int  # new events


def _pages(spec: SeriesSpec, cache: Cache, client: object, symbol: str, start: int, end: int,
           now: int | None, dropped: dict[str, int] | None) -> Iterable[object]:
    if spec.kind != LIQUIDATIONS:
        yield from client.iter_pages(spec, symbol, start, end)  # type: ignore[attr-defined]
        return
    # Events go through the raw table, so an order the stream recorded too is counted once.
    limit = (now_ms() if now is None else now) + FUTURE_TOLERANCE_MS
    for events in client.iter_liquidations(spec, symbol, start, end):  # type: ignore[attr-defined]
        future = [e for e in events if e.time_ms > limit]
        if future and dropped is not None:
            dropped["future time"] = dropped.get("future time", 0) + len(future)
        buckets, new = cache.add_liquidations_counted(
            [e for e in events if e.time_ms <= limit])
        yield _StoredPage(buckets.get(spec.id, SeriesData.empty()), new)


def _checked_page(spec: SeriesSpec, page: object, now: int,
                  dropped: dict[str, int] | None) -> SeriesData:
    time_ms, columns = frame_rows(page)  # type: ignore[arg-type]
    check = check_rows(time_ms, {c: columns[c] for c in spec.columns if c in columns},
                       now=now, interval_ms=spec.interval_ms)
    # Repeats the client's parser already collapsed (services/parsing.make_frame) count too.
    collapsed = int(getattr(page, "attrs", {}).get(DUPLICATE_CONFLICTS, 0))
    if collapsed:
        reasons = dict(check.reasons)
        reasons[DUPLICATE_REASON] = reasons.get(DUPLICATE_REASON, 0) + collapsed
        check = RowCheck(check.data, reasons)
    if check.reasons:
        log.warning("refresh %s: %s", spec.id, check.summary())
        if dropped is not None:
            for reason, count in check.reasons.items():
                dropped[reason] = dropped.get(reason, 0) + count
    return check.data.select(spec.columns)


def _venue_order(spec: SeriesSpec, meta: dict) -> Sequence[tuple[str, str]]:
    """Primary venue first, unless it refused this region before: then it goes last."""
    venues = list(spec.venues)
    if spec.kind == CANDLES and spec.interval in PRICE_INTERVALS:
        # a fallback without this bar interval is no fallback (Coinbase has no 4h, no week)
        venues = [(v, s) for v, s in venues if _serves(v, spec.interval)]
    blocked = meta.get("blocked_venue")
    if blocked:
        venues.sort(key=lambda vs: vs[0] == blocked)
    return venues


def _serves(venue: str, interval: str) -> bool:
    row = find_venue(venue)
    return row is None or interval in row.candle_intervals


def _refresh_snapshot(spec: SeriesSpec, cache: Cache, sources: Sources,
                      meta: dict, now: int) -> RefreshResult:
    if spec.extra.get("merge_venues"):
        return _refresh_merged_snapshot(spec, cache, sources, now)
    errors: list[ServiceError] = []
    for venue, symbol in _venue_order(spec, meta):
        validate_symbol(symbol)
        try:
            snap = _fetch_snapshot(sources, spec, venue, symbol, now)
        except ServiceError as e:
            errors.append(e)
            if isinstance(e, PermanentError) and not isinstance(e, GeoBlocked | UnknownSymbol):
                break
            continue
        added = 1 if cache.put_snapshot(snap) else 0
        cache.update_meta(spec.id, last_fetch_ms=now_ms(), venue=venue)
        return RefreshResult(spec.id, added, snap.time_ms, venue, None,
                             fallback_errors=tuple(errors), **_future_drops(errors))
    return RefreshResult(spec.id, 0, None, "", errors[0] if errors else None,
                         fallback_errors=tuple(errors[1:]), **_future_drops(errors))


def _fetch_snapshot(sources: Sources, spec: SeriesSpec, venue: str, symbol: str,
                    now: int) -> Snapshot:
    snap = sources.get(venue).fetch_snapshot(spec, symbol)
    if snap.time_ms > now + FUTURE_TOLERANCE_MS:
        # Stored, it would be the newest snapshot for good and hide every later one.
        raise BadPayload(f"snapshot stamped {snap.time_ms - now} ms in the future; refused",
                         venue=venue)
    return snap


def _refresh_merged_snapshot(spec: SeriesSpec, cache: Cache, sources: Sources,
                             now: int) -> RefreshResult:
    """One table from every venue of the spec (a futures term structure across venues): the
    venues that answer are stored, stamped with the newest venue time; the others are reported
    as fallback errors, and only when none answers is it a failure."""
    import pandas as pd

    errors: list[ServiceError] = []
    frames: list[Any] = []
    served: list[str] = []
    stamp = None
    for venue, symbol in spec.venues:
        validate_symbol(symbol)
        try:
            snap = _fetch_snapshot(sources, spec, venue, symbol, now)
        except ServiceError as e:
            errors.append(e)
            continue
        frames.append(snap.frame)
        served.append(venue)
        stamp = snap.time_ms if stamp is None else max(stamp, snap.time_ms)
    if stamp is None:
        return RefreshResult(spec.id, 0, None, "", errors[0] if errors else None,
                             fallback_errors=tuple(errors[1:]), **_future_drops(errors))
    merged = Snapshot(spec.id, stamp, pd.concat(frames, ignore_index=True),
                      {"venues": served, "failed": sorted({e.venue for e in errors})})
    added = 1 if cache.put_snapshot(merged) else 0
    cache.update_meta(spec.id, last_fetch_ms=now_ms(), venue=served[0])
    return RefreshResult(spec.id, added, stamp, served[0], None, fallback_errors=tuple(errors),
                         **_future_drops(errors))


def _future_drops(errors: list[ServiceError]) -> dict:
    future = sum(isinstance(e, BadPayload) and e.message.endswith("in the future; refused")
                 for e in errors)
    return {"rows_dropped": future, "drop_reasons": {"future time": future} if future else {}}
