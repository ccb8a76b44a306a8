"""Price series built from finer stored bars (docs/timeframes.md), on the refresh's worker.

- **Not served by the venue** (`SeriesSpec.extra["resample_from"]`, e.g. Yahoo's 4h): refreshing
  it refreshes the finer series (a request to the venue only when that one is due), then
  rebuilds the bars the new finer rows touch: fixed UTC bins for 24/7 markets, the exchange's
  sessions for the others (`models/resample.py`).
- **Served, with a deeper minute history stored** (BTC and ETH: the minute backfill reaches
  2017): after the venue's own fetch, the bars older than the venue's first stored one are
  built from the stored minutes where every minute of the bar is there (complete bins: exact),
  and their span is recorded as covered so the refresh does not ask the venue for it again. A
  bar with a minute missing (a venue outage) is left to the venue.

No Qt; pandas only through `models.resample.session_table` (exchange calendars).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from models.assets import find_asset
from models.catalog import INTERVAL_MS, SeriesSpec, find_spec
from models.ids import IdKind, parse_series_id, price_id
from models.resample import (
    complete_bins,
    resample_ohlcv,
    session_bins,
    session_table,
)
from models.series import MS_PER_DAY, SeriesData, now_ms
from models.sessions import CALENDAR_NAME, ROUND_THE_CLOCK, YAHOO_MARKETS

if TYPE_CHECKING:
    from services.cache import Cache
    from services.refresh import RefreshResult
    from services.sources import Sources

log = logging.getLogger(__name__)

MINUTE = "1m"
#: the stored minutes are read this many bars before the venue's first one at most per refresh
#: (a backfill that reached 2017 is turned into bars over a few refreshes, not in one read)
_MINUTES_PER_FILL = 2_000_000


def calendar_of(spec: SeriesSpec) -> str:
    """The market calendar a price series' days and weeks follow: "24/7" (UTC bins) for crypto,
    the exchange's for the others (a user's symbol says its own)."""
    own = spec.extra.get("calendar")
    if isinstance(own, str) and own:
        return own
    stem = parse_series_id(spec.id).asset
    asset = find_asset(stem)
    if asset is not None and asset.asset_class.trades_24_7:
        return ROUND_THE_CLOCK
    return YAHOO_MARKETS.get(stem, CALENDAR_NAME)


def build_bars(finer: SeriesData, interval: str, calendar: str, *,
               source_ms: int | None = None) -> SeriesData:
    """Bars of `interval` from `finer` rows. Sessions decide days, weeks and 4h bars of an
    exchange-traded market; everything else is fixed UTC bins. `source_ms`: complete bins only."""
    step = INTERVAL_MS[interval]
    if calendar == ROUND_THE_CLOCK or interval not in ("4h", "1d", "1w"):
        if source_ms is None:
            return resample_ohlcv(finer, step)
        return complete_bins(finer, step, source_ms)
    if not len(finer):
        return finer
    sessions = session_table(calendar, int(finer.time[0]), int(finer.time[-1]))
    return session_bins(finer, sessions, interval, source_ms=source_ms)


def refresh_resampled(spec: SeriesSpec, cache: Cache, sources: Sources, **kwargs
                      ) -> RefreshResult:
    """Refresh the finer series `spec` is built from, then rebuild its bars from the first one
    the new rows touch (all of them the first time)."""
    from dataclasses import replace

    from services.refresh import RefreshResult, refresh_series

    finer_interval = str(spec.extra["resample_from"])
    finer_spec = find_spec(price_id(parse_series_id(spec.id).asset, finer_interval))
    if finer_spec is None:
        return RefreshResult(spec.id, note=f"no {finer_interval} series to build it from")
    if kwargs.get("want_start_ms") is None:
        # as deep as this series wants, not as the finer one's own default (4h: a year of 1h)
        now = kwargs.get("now") or now_ms()
        kwargs["want_start_ms"] = now - spec.history_days * MS_PER_DAY
    result = refresh_series(finer_spec, cache, sources, **kwargs)
    since = _rebuild_from(cache, spec.id, result.rows)
    finer = cache.read(finer_spec.id, since)
    bars = build_bars(finer, spec.interval, calendar_of(spec))
    added = cache.upsert(spec.id, bars) if len(bars) else 0
    cache.update_meta(spec.id, venue=result.venue, resampled_from=finer_spec.id,
                      **({"last_fetch_ms": cache.get_meta(finer_spec.id).get("last_fetch_ms")}
                         if result.ok else {}))
    after = cache.bounds(spec.id)
    return replace(result, series_id=spec.id, rows_added=added,
                   last_ms=after[1] if after else None, rows=bars,
                   rows_dropped=result.rows_dropped, drop_reasons=result.drop_reasons)


def _rebuild_from(cache: Cache, series_id: str, changed: SeriesData | None) -> int | None:
    """Where to read the finer rows from: the open of the stored bar holding the first changed
    row (or of the newest bar), so the first rebuilt bar is whole; None: everything."""
    own = cache.read(series_id)
    if not len(own):
        return None
    at = int(own.time[-1])
    if changed is not None and len(changed):
        at = min(at, int(changed.time[0]))
    i = int(np.searchsorted(own.time, at, side="right")) - 1
    return int(own.time[max(i, 0)]) if i >= 0 else None


def fill_from_minutes(spec: SeriesSpec, cache: Cache) -> SeriesData | None:
    """Bars of `spec` older than its first stored one, built from the stored minutes where all
    a bar's minutes are there; stored, their span marked covered. None when there is nothing
    to add (no minutes, or none older than the venue's bars)."""
    parsed = parse_series_id(spec.id)
    if parsed.kind is not IdKind.PRICE or spec.interval == MINUTE:
        return None
    minute_spec = find_spec(price_id(parsed.asset, MINUTE))
    step = INTERVAL_MS.get(spec.interval)
    if minute_spec is None or step is None:
        return None
    minutes_at = cache.bounds(minute_spec.id)
    own = cache.bounds(spec.id)
    if minutes_at is None:
        return None
    upto = own[0] if own is not None else minutes_at[1] + 1
    if minutes_at[0] > upto - step:
        return None  # no whole bar of minutes before the venue's first
    start = max(minutes_at[0], upto - _MINUTES_PER_FILL * INTERVAL_MS[MINUTE])
    minutes = cache.read(minute_spec.id, start, upto - 1)
    bars = build_bars(minutes, spec.interval, calendar_of(spec),
                      source_ms=INTERVAL_MS[MINUTE])
    bars = bars.between(None, upto - step)  # the venue's own first bar stays the venue's
    if not len(bars):
        return None
    cache.upsert(spec.id, bars)
    from services.refresh import merge_spans

    meta = cache.get_meta(spec.id)
    spans = _bar_spans(bars.time, step)
    covered = merge_spans([*meta.get("covered", []), *spans])
    cache.update_meta(spec.id, covered=[list(s) for s in covered], minutes_filled_to=int(
        bars.time[0]))
    log.info("%s: %d bars built from stored minutes", spec.id, len(bars))
    return bars


def _bar_spans(times: np.ndarray, step: int) -> list[tuple[int, int]]:
    """Runs of consecutive bars as (first open, last open + step - 1) spans."""
    if not len(times):
        return []
    breaks = np.flatnonzero(np.diff(times) != step) + 1
    firsts = np.concatenate(([0], breaks))
    lasts = np.concatenate((breaks - 1, [len(times) - 1]))
    return [(int(times[a]), int(times[b]) + step - 1)
            for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True)]
