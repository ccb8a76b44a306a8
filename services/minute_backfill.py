"""BTC and ETH minute history from Binance's first day, newest first, on one worker thread.

The live refresh keeps the newest minutes (services/refresh.py, forward from the last cached
row). This service walks the other way: from the oldest stored minute back to the venue's first
one, one page of 1,000 minutes per request (`GET /api/v3/klines`, limit 1000), BTC first, then
ETH. docs/backfill.md has the whole story; in short:

- **Resumable.** Its state lives in the cache beside the rows (series_meta, key
  `minute_backfill`): `cursor_ms`, the oldest minute of the contiguous block known so far (every
  minute from there up is stored or a known gap), the venue's first minute, the done flag, the
  gaps, the request count and the pause. A page is stored first and the cursor moved after:
  a kill between the two asks that page again, and the cache's merge by time keeps it unique.
- **Exact windows.** Each request names its whole window (`startTime`, `endTime`, 1,000
  minutes), so whatever minute is missing from the answer is missing at the venue (an outage:
  Binance has real ones). It is recorded as a known gap and never asked again. The first
  minute comes from the venue itself (`startTime=0&limit=1`), so the walk stops there instead
  of asking for empty pages before the listing.
- **Polite.** A 429/418 waits its Retry-After; the used weight
  (`X-MBX-USED-WEIGHT-1M`, docs/venues.md) is read from every answer and the backfill waits for
  the next minute once it passes `WEIGHT_SHARE` of the limit, leaving the rest to the live
  refresh; at most one request every `MIN_INTERVAL_S`. Other failures (an HTML page, a dropped
  connection) back off from 5 s to 5 min; a refusal (HTTP 451, unknown symbol) stops that series
  with its message.
- **Pausable.** `pause()` lets the request in flight finish, then waits; the pause is stored,
  so the next start stays paused.

No Qt here: the window polls `status()` (ui/backfill.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import requests

from models.series import SeriesData, check_rows, frame_rows, now_ms
from services.binance import PAGE_LIMIT, BinanceClient, parse_klines
from services.cache import Cache
from services.config import Endpoints
from services.errors import PermanentError, RateLimited, ServiceError

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
STATE_KEY = "minute_backfill"
PAUSED_KEY = "minute_backfill_paused"
CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
KLINES_WEIGHT = 2  # /api/v3/klines with limit 101-1000 (docs/venues.md)
WEIGHT_LIMIT_1M = 6000  # REQUEST_WEIGHT per minute per IP, Binance spot
WEIGHT_SHARE = 0.5
MIN_INTERVAL_S = 0.2
BACKOFF_S = (5.0, 15.0, 60.0, 300.0)


@dataclass(frozen=True)
class BackfillTarget:
    series_id: str
    symbol: str
    label: str  # "BTC 1m": what the status bar names


DEFAULT_TARGETS = (BackfillTarget("btc.1m", "BTCUSDT", "BTC 1m"),
                   BackfillTarget("eth.1m", "ETHUSDT", "ETH 1m"))


@dataclass(frozen=True)
class SeriesProgress:
    """One series' backfill as stored (`STATE_KEY` in its series_meta)."""

    series_id: str
    label: str
    top_ms: int | None = None  # the cursor when the backfill began: 0 % is here
    cursor_ms: int | None = None  # every minute from here up is stored or a known gap
    first_ms: int | None = None  # the venue's first minute; None until asked
    done: bool = False
    requests: int = 0
    rows: int = 0  # stored by the backfill
    gaps: tuple[tuple[int, int], ...] = ()  # (first, last) missing minute, both inclusive
    error: str = ""  # a refusal that stopped this series

    @property
    def fraction(self) -> float:
        if self.done:
            return 1.0
        if None in (self.top_ms, self.cursor_ms, self.first_ms) or self.top_ms <= self.first_ms:
            return 0.0
        return min(1.0, max(0.0, (self.top_ms - self.cursor_ms) / (self.top_ms - self.first_ms)))

    @property
    def gap_minutes(self) -> int:
        return sum((b - a) // MINUTE_MS + 1 for a, b in self.gaps)

    def to_json(self) -> dict[str, Any]:
        return {"top_ms": self.top_ms, "cursor_ms": self.cursor_ms, "first_ms": self.first_ms,
                "done": self.done, "requests": self.requests, "rows": self.rows,
                "gaps": [list(g) for g in self.gaps], "error": self.error}

    @classmethod
    def from_json(cls, target: BackfillTarget, value: Any) -> SeriesProgress:
        blank = cls(target.series_id, target.label)
        if not isinstance(value, dict):
            return blank

        def as_int(key: str) -> int | None:
            v = value.get(key)
            return int(v) if isinstance(v, int) and not isinstance(v, bool) else None

        gaps = tuple((int(a), int(b)) for a, b in value.get("gaps") or ()
                     if isinstance(a, int) and isinstance(b, int))
        return replace(blank, top_ms=as_int("top_ms"), cursor_ms=as_int("cursor_ms"),
                       first_ms=as_int("first_ms"), done=value.get("done") is True,
                       requests=as_int("requests") or 0, rows=as_int("rows") or 0, gaps=gaps,
                       error=str(value.get("error") or ""))


@dataclass(frozen=True)
class BackfillStatus:
    series: tuple[SeriesProgress, ...]
    paused: bool = False
    running: bool = False
    #: why it is waiting now ("rate limited", "HTML page where JSON …"), "" when it is not
    waiting: str = ""
    retry_in_s: float | None = None

    @property
    def done(self) -> bool:
        return all(s.done or s.error for s in self.series)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.series)

    @property
    def active(self) -> SeriesProgress | None:
        """The series being fetched now: the first neither done nor stopped."""
        return next((s for s in self.series if not s.done and not s.error), None)


def month_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m")


def status_text(status: BackfillStatus) -> str:
    """The status bar's line: "BTC 1m history: 2019-03 … 38 % · 12,345 req · paused"."""
    active = status.active
    if active is None:
        stopped = [s for s in status.series if s.error]
        if stopped:
            return f"{stopped[0].label} history stopped: {stopped[0].error}"
        firsts = [s.first_ms for s in status.series if s.first_ms is not None]
        since = f" since {month_text(min(firsts))}" if firsts else ""
        labels = ", ".join(s.label.split()[0] for s in status.series)
        return f"1m history complete ({labels}{since})"
    reached = month_text(active.cursor_ms) if active.cursor_ms is not None else "starting"
    parts = [f"{active.label} history: {reached} … {active.fraction * 100:.0f} %",
             f"{status.requests:,} req"]
    if status.paused:
        parts.append("paused")
    elif status.waiting:
        wait = f" · retry in {status.retry_in_s:.0f} s" if status.retry_in_s else ""
        parts.append(f"{status.waiting}{wait}")
    return " · ".join(parts)


def status_details(status: BackfillStatus) -> str:
    """The tooltip: each series' reach, rows, known gaps and requests, one line each."""
    lines = []
    for s in status.series:
        if s.error:
            state = f"stopped: {s.error}"
        elif s.done:
            state = "complete"
        elif s.cursor_ms is None:
            state = "not started"
        else:
            state = f"back to {_minute_text(s.cursor_ms)}, {s.fraction * 100:.0f} %"
        since = f" · first minute {_minute_text(s.first_ms)}" if s.first_ms is not None else ""
        noun = "gap" if len(s.gaps) == 1 else "gaps"
        gaps = (f" · {len(s.gaps)} known {noun} ({s.gap_minutes:,} minutes Binance never had)"
                if s.gaps else "")
        lines.append(f"{s.label}: {state} · {s.rows:,} rows stored · {s.requests:,} requests"
                     f"{since}{gaps}")
    return "\n".join(lines)


def _minute_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


class _KlinesClient(BinanceClient):
    """Binance spot klines that also read the weight the IP has used this minute."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(Endpoints({"binance": base_url}), **kwargs)
        self.used_weight: int | None = None

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        used = resp.headers.get("X-MBX-USED-WEIGHT-1M", "").strip()
        self.used_weight = int(used) if used.isdigit() else None
        super().check_payload(status, payload, resp)


class MinuteBackfill:
    """The backfill of `targets` into `cache` from Binance at `base_url`.

    `step()` does one request and says how long to wait before the next (tests drive it
    directly); `start()` runs steps on a daemon thread until every series is done or `stop()`.
    """

    def __init__(self, cache: Cache, base_url: str,
                 targets: Sequence[BackfillTarget] = DEFAULT_TARGETS, *,
                 clock_ms: Callable[[], int] = now_ms, min_interval_s: float | None = None,
                 weight_share: float = WEIGHT_SHARE) -> None:
        self.cache = cache
        self.targets = tuple(targets)
        self.client = _KlinesClient(base_url)
        self.clock_ms = clock_ms
        self.min_interval_s = float(MIN_INTERVAL_S if min_interval_s is None else min_interval_s)
        self.weight_share = float(weight_share)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._waiting = ""
        self._retry_at: float | None = None  # time.monotonic()
        # Nothing is read here (the window builds this on the GUI thread): `load()` runs first
        # on the worker, or in the first `step()`.
        self._loaded = False
        self._progress = {t.series_id: SeriesProgress(t.series_id, t.label)
                          for t in self.targets}
        self._paused = False
        self._pause_unsaved = False

    # -- state ----------------------------------------------------------------------------------
    def load(self) -> None:
        """Read every series' state and the pause from the cache (worker side)."""
        progress = {t.series_id: SeriesProgress.from_json(
            t, self.cache.get_meta(t.series_id).get(STATE_KEY)) for t in self.targets}
        paused = any(self.cache.get_meta(t.series_id).get(PAUSED_KEY) is True
                     for t in self.targets)
        with self._lock:
            self._progress = progress
            if not self._pause_unsaved:  # a click before the state was read wins
                self._paused = paused
            self._loaded = True

    def _save(self, progress: SeriesProgress) -> None:
        self.cache.update_meta(progress.series_id, **{STATE_KEY: progress.to_json()})
        with self._lock:
            self._progress[progress.series_id] = progress

    def _save_pause(self) -> None:
        with self._lock:
            if not self._pause_unsaved:
                return
            paused, self._pause_unsaved = self._paused, False
        for target in self.targets:
            self.cache.update_meta(target.series_id, **{PAUSED_KEY: paused})

    def status(self) -> BackfillStatus:
        with self._lock:
            series = tuple(self._progress[t.series_id] for t in self.targets)
            retry = (None if self._retry_at is None
                     else max(0.0, self._retry_at - time.monotonic()))
            running = self._thread is not None and self._thread.is_alive()
            return BackfillStatus(series, self._paused, running, self._waiting, retry)

    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """Pause or resume (any thread; no I/O here). The worker stores it, so the next start
        keeps it; a request in flight finishes first."""
        with self._lock:
            self._paused = bool(paused)
            self._pause_unsaved = True
        self._wake.set()

    def pause(self) -> None:
        self.set_paused(True)

    def resume(self) -> None:
        self.set_paused(False)

    # -- the thread -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="minute-backfill", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait up to `timeout` (a request in flight may outlive it:
        it stores nothing once stopping)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.close()

    def _run(self) -> None:
        try:
            self.load()
        except ServiceError as e:  # the cache is busy or gone: nothing to do without it
            log.warning("minute backfill cannot read its state: %s", e)
            return
        while not self._stopping:
            delay: float | None = 0.0
            try:
                self._save_pause()
                if not self._paused:
                    delay = self.step()
            except ServiceError as e:  # the cache (full, busy): wait as it says
                delay = self._back_off(e.message, e.retry_after)
            except Exception:  # never let the thread die silently: log, back off, go on
                log.exception("minute backfill step failed")
                delay = self._back_off("internal error (see the log)")
            if delay is None:
                break
            if self._paused:
                self._wake.wait()
            elif delay > 0:
                self._wake.wait(delay)
            self._wake.clear()
        try:
            self._save_pause()
        except ServiceError as e:
            log.warning("minute backfill could not store the pause: %s", e)

    # -- one request ----------------------------------------------------------------------------
    def step(self) -> float | None:
        """Fetch and store one page (or find the venue's first minute). Returns the seconds to
        wait before the next step, None when every series is done or stopped."""
        if not self._loaded:
            self.load()
        self._save_pause()
        with self._lock:
            progress = next((self._progress[t.series_id] for t in self.targets
                             if not self._progress[t.series_id].done
                             and not self._progress[t.series_id].error), None)
        if progress is None:
            return None
        target = next(t for t in self.targets if t.series_id == progress.series_id)
        try:
            if progress.first_ms is None:
                self._find_first(target, progress)
            else:
                self._fetch_page(target, progress)
        except RateLimited as e:
            return self._wait(e.retry_after or 60.0, "rate limited")
        except PermanentError as e:
            log.warning("minute backfill %s stopped: %s", target.series_id, e)
            self._save(replace(self._progress[target.series_id], error=str(e)))
            return 0.0
        except ServiceError as e:
            log.warning("minute backfill %s: %s", target.series_id, e)
            return self._back_off(e.message, e.retry_after)
        self._failures = 0
        return self._pace()

    def _counted(self, progress: SeriesProgress) -> SeriesProgress:
        return replace(progress, requests=progress.requests + 1)

    def _find_first(self, target: BackfillTarget, progress: SeriesProgress) -> None:
        rows = self.client.get_json("/api/v3/klines", {
            "symbol": target.symbol, "interval": "1m", "startTime": 0, "limit": 1})
        progress = self._counted(progress)
        page = self._rows(rows)
        if self._stopping:
            return
        if not len(page):  # the venue has no minute of this symbol at all
            self._save(replace(progress, done=True))
            return
        first = int(page.time[0])
        bounds = self.cache.bounds(target.series_id)
        newest_closed = self.clock_ms() // MINUTE_MS * MINUTE_MS
        cursor = progress.cursor_ms
        if cursor is None:  # the live refresh keeps what is newer than the oldest stored row
            cursor = min(bounds[0], newest_closed) if bounds else newest_closed
        self._save(replace(progress, first_ms=first, cursor_ms=cursor,
                           top_ms=progress.top_ms if progress.top_ms is not None else cursor,
                           done=cursor <= first))

    def _fetch_page(self, target: BackfillTarget, progress: SeriesProgress) -> None:
        assert progress.cursor_ms is not None and progress.first_ms is not None
        end = progress.cursor_ms - 1
        start = max(progress.first_ms, progress.cursor_ms - PAGE_LIMIT * MINUTE_MS)
        rows = self.client.get_json("/api/v3/klines", {
            "symbol": target.symbol, "interval": "1m", "startTime": start, "endTime": end,
            "limit": PAGE_LIMIT})
        progress = self._counted(progress)
        page = self._rows(rows).between(start, end)
        if self._stopping:
            return
        aligned = page.time % MINUTE_MS == 0
        if not aligned.all():  # not a minute's open: not a 1m candle
            page = SeriesData(page.time[aligned], {k: v[aligned] for k, v in page.columns.items()})
        # stored first, the cursor moved after: a kill in between asks this page again
        added = self.cache.upsert(target.series_id, page) if len(page) else 0
        gaps = _missing_runs(start, progress.cursor_ms, page.time)
        self._save(replace(progress, cursor_ms=start, rows=progress.rows + added,
                           gaps=_merge_runs([*progress.gaps, *gaps]),
                           done=start <= progress.first_ms))

    def _rows(self, payload: Any) -> SeriesData:
        """A klines answer as checked rows (services/binance.py parses, models/series.py
        checks: the refresh's own rules)."""
        frame = parse_klines(payload)
        time_ms, columns = frame_rows(frame)
        checked = check_rows(time_ms, {c: columns[c] for c in CANDLE_COLUMNS if c in columns},
                             now=self.clock_ms(), interval_ms=MINUTE_MS)
        if checked.reasons:
            log.warning("minute backfill: %s", checked.summary())
        return checked.data

    # -- pacing ---------------------------------------------------------------------------------
    def _wait(self, seconds: float, why: str) -> float:
        with self._lock:
            self._waiting = why
            self._retry_at = time.monotonic() + seconds
        return seconds

    def _back_off(self, why: str, retry_after: float | None = None) -> float:
        delay = BACKOFF_S[min(self._failures, len(BACKOFF_S) - 1)]
        self._failures += 1
        return self._wait(max(delay, retry_after or 0.0), why)

    def _pace(self) -> float:
        used = self.client.used_weight
        if used is not None and used + KLINES_WEIGHT > self.weight_share * WEIGHT_LIMIT_1M:
            now = self.clock_ms()
            next_minute = (now // MINUTE_MS + 1) * MINUTE_MS
            return self._wait((next_minute - now) / 1000 + 1.0, "weight limit: waiting")
        with self._lock:
            self._waiting = ""
            self._retry_at = None
        return self.min_interval_s


def _missing_runs(start: int, stop: int, present: np.ndarray) -> list[tuple[int, int]]:
    """The runs of minutes in [start, stop) absent from `present`, as (first, last)."""
    expected = np.arange(start, stop, MINUTE_MS, dtype=np.int64)
    missing = expected[~np.isin(expected, present)]
    if not len(missing):
        return []
    breaks = np.flatnonzero(np.diff(missing) != MINUTE_MS) + 1
    return [(int(run[0]), int(run[-1])) for run in np.split(missing, breaks)]


def _merge_runs(runs: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(runs):
        if out and a <= out[-1][1] + MINUTE_MS:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)
