"""Yahoo has no stream: its series are polled every 60 s while their market is open, and at the
catalog's cadence otherwise (issue 15).

The sessions come from exchange-calendars (`models/sessions.py`: pandas, ~0.3 s to build a
calendar), so they are computed on a worker for a week ahead; a single-shot timer fires at the
next open or close and hands the tracker the cadences in force (`SourceTracker.
set_session_cadence`). The user's own cadence for Yahoo (File → Settings) still wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from models.ids import IdKind, parse_series_id
from models.sessions import YAHOO_MARKETS, is_open, next_change_ms, windows_by_series
from ui.scheduler import Scheduler

log = logging.getLogger(__name__)

OPEN_MARKET_POLL_S = 60
SESSION_VENUE = "yahoo"
WINDOW_DAYS = 7
#: the timer is re-armed at least this often (a long wait re-reads the clock: a suspend)
MAX_WAIT_MS = 3_600_000
_MS_PER_DAY = 86_400_000


class MarketHoursCadence(QObject):
    """Keeps the tracker's open-market cadences in step with the sessions of each Yahoo series.

    `user_calendars()` gives the user's symbols as ((stem, calendar), …) (models/symbols.py)."""

    def __init__(self, scheduler: Scheduler,
                 user_calendars: Callable[[], tuple[tuple[str, str], ...]] = tuple,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scheduler = scheduler
        self._user_calendars = user_calendars
        self._windows: dict[str, list[tuple[int, int]]] = {}
        self._computed_for: dict[str, str] = {}
        self._until_ms = 0
        self._pending = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.apply)

    def calendars(self) -> dict[str, str]:
        """Series id -> its market's calendar, for every watched series polled from Yahoo."""
        users = dict(self._user_calendars())
        out = {}
        for series_id, spec in self.scheduler.tracker.watched.items():
            if spec.source != SESSION_VENUE:
                continue
            try:
                parsed = parse_series_id(series_id)
            except ValueError:
                continue
            if parsed.kind is not IdKind.PRICE:
                continue
            calendar = YAHOO_MARKETS.get(parsed.asset) or users.get(parsed.asset)
            if calendar:
                out[series_id] = calendar
        return out

    def start(self) -> None:
        self.apply()

    def stop(self) -> None:
        self._timer.stop()

    def apply(self) -> None:
        """Hand the tracker the cadences in force now; recompute the sessions when the week
        computed runs out or the Yahoo series changed."""
        if self.scheduler.closing or self.scheduler.demo:
            return
        now = self.scheduler.now_ms()
        calendars = self.calendars()
        if calendars != self._computed_for or now >= self._until_ms - _MS_PER_DAY:
            self._compute(calendars, now)
            return
        cadence = {sid: OPEN_MARKET_POLL_S for sid, w in self._windows.items() if is_open(w, now)}
        self.scheduler.tracker.set_session_cadence(cadence)
        changes = [c for w in self._windows.values() if (c := next_change_ms(w, now))]
        wait = min([*(c - now for c in changes), MAX_WAIT_MS])
        self._timer.start(max(1000, wait + 1000))  # a second past the edge: clocks differ

    def _compute(self, calendars: dict[str, str], now: int) -> None:
        if self._pending:
            return
        self._pending = True
        start, end = now - _MS_PER_DAY, now + WINDOW_DAYS * _MS_PER_DAY

        def done(windows: dict[str, list[tuple[int, int]]]) -> None:
            self._pending = False
            self._windows, self._computed_for, self._until_ms = windows, calendars, end
            self.apply()

        def failed(exc: Exception) -> None:
            self._pending = False
            log.warning("market sessions could not be computed: %s", exc)

        self.scheduler.run("market-hours", windows_by_series, calendars, start, end,
                           on_result=done, on_error=failed)
