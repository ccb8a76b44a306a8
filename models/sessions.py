"""NYSE sessions and their close instants, from the `exchange-calendars` package (calendar XNYS).

The package knows the holidays (2025-07-04 is no session) and the early closes (13:00 New York
on 2025-07-03, 2025-11-28 and 2025-12-24), and gives every close as a UTC instant, so daylight
saving time is already in it: a regular close is 20:00 UTC in summer, 21:00 UTC in winter.

Importing `exchange_calendars` pulls in pandas and building XNYS costs ~0.3 s, so the package
is imported on first use (on a worker thread, never at start-up) and the calendar is built once
per process and kept. By default it covers DEFAULT_FIRST_DAY to a year ahead; a date outside
that widens it (one rebuild), so a session is never dropped for lying outside the calendar.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

CALENDAR_NAME = "XNYS"
DEFAULT_FIRST_DAY = "1990-01-02"
OTHER_FIRST_DAY = "2005-01-03"  # where calendars other than XNYS start

_lock = threading.Lock()
# calendar code -> (exchange_calendars.ExchangeCalendar, the (start, end) it was built for)
_calendars: dict[str, tuple[Any, tuple[Any, Any]]] = {}


def _day(value: Any) -> pd.Timestamp:
    """A date as a naive midnight Timestamp (a tz-aware instant: its UTC date)."""
    import pandas as pd

    day = pd.Timestamp(value)
    if day.tz is not None:
        day = day.tz_convert("UTC").tz_localize(None)
    return day.normalize()


def _build(start: pd.Timestamp, end: pd.Timestamp, name: str = CALENDAR_NAME) -> Any:
    import exchange_calendars

    # exchange-calendars 4.13 reads Series.values of tz-aware columns while it builds, which
    # pandas 3.1 deprecates; silenced for this one call (under the module's lock).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return exchange_calendars.get_calendar(name, start=start, end=end)


def _within_bounds(name: str, start: pd.Timestamp, end: pd.Timestamp
                   ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end] clipped to what the calendar records (XSHG's holidays stop at a year's
    end: asking beyond raises). The calendar classes say so, but only the dispatcher's private
    table names them: without it, nothing is clipped."""
    from exchange_calendars.calendar_utils import global_calendar_dispatcher

    factories = getattr(global_calendar_dispatcher, "_calendar_factories", {})
    factory = factories.get(name)
    if factory is None:
        return start, end
    low, high = factory.bound_min(), factory.bound_max()
    if low is not None:
        start = max(start, _day(low))
    if high is not None:
        end = min(end, _day(high))
    return start, end


def nyse_calendar(first_day: Any = None, last_day: Any = None) -> Any:
    """The XNYS `ExchangeCalendar`, covering at least [first_day, last_day]."""
    return exchange_calendar(CALENDAR_NAME, first_day, last_day)


def exchange_calendar(name: str, first_day: Any = None, last_day: Any = None) -> Any:
    """The `ExchangeCalendar` of code `name` (XNYS, XLON …), covering at least
    [first_day, last_day].

    Built once per code and reused. It spans DEFAULT_FIRST_DAY (or first_day, if earlier) to a
    year ahead (or last_day, if later); asked for a date outside what it covers, it is rebuilt
    wider. Calendars other than XNYS start at OTHER_FIRST_DAY at the earliest.
    """
    import pandas as pd

    first = _day(first_day if first_day is not None else DEFAULT_FIRST_DAY)
    last = _day(last_day) if last_day is not None else first
    with _lock:
        known = _calendars.get(name)
        if known is not None and known[1][0] <= first and last <= known[1][1]:
            return known[0]
        a_year_ahead = _day(pd.Timestamp.now("UTC")) + pd.DateOffset(years=1)
        start = min(first, _day(DEFAULT_FIRST_DAY))
        end = max(last, a_year_ahead)
        if known is not None:
            start, end = min(start, known[1][0]), max(end, known[1][1])
        if name != CALENDAR_NAME:  # a user symbol's: its daily history is years, not decades
            start = max(start, _day(OTHER_FIRST_DAY))
            start, end = _within_bounds(name, start, end)
        calendar = _build(start, end, name)
        _calendars[name] = (calendar, (start, end))
        return calendar


def session_close_times(dates: Any, calendar: str = CALENDAR_NAME) -> pd.DatetimeIndex:
    """The close instant (UTC) of each date on `calendar` (XNYS by default), NaT where the date
    is no session (a weekend, a holiday). Dates are calendar dates: naive, or tz-aware (their
    UTC date counts)."""
    import pandas as pd

    days = pd.DatetimeIndex(dates)
    if days.tz is not None:
        days = days.tz_convert("UTC").tz_localize(None)
    days = days.normalize()
    if not len(days):
        return pd.DatetimeIndex([], dtype="datetime64[ms, UTC]", name="time")
    closes = exchange_calendar(calendar, days.min(), days.max()).closes
    found = closes.reindex(days.as_unit(closes.index.unit))
    return pd.DatetimeIndex(found, name="time")


def sessions_between(first_day: Any, last_day: Any) -> pd.DatetimeIndex:
    """The XNYS session dates (naive midnight) from first_day to last_day, both inclusive."""
    first, last = _day(first_day), _day(last_day)
    return nyse_calendar(first, last).sessions_in_range(first, last)


#: markets that never close (a user's crypto symbol from Yahoo) and those open every weekday
ROUND_THE_CLOCK = "24/7"
WEEKDAYS = "24/5"
_MS_PER_DAY = 86_400_000


def open_windows(calendar: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """The [open, close) instants (UTC epoch ms) of `calendar`'s sessions that overlap
    [start_ms, end_ms], in order. "24/7" is one window over the whole range; "24/5" is each UTC
    weekday; any other code is an exchange-calendars calendar (XNYS, CMES …) whose sessions carry
    their own open and close (holidays absent, early closes early). A lunch break counts as open:
    a cadence need not drop for an hour."""
    if calendar == ROUND_THE_CLOCK:
        return [(start_ms, end_ms)] if end_ms > start_ms else []
    if calendar == WEEKDAYS:
        out = []
        day = start_ms - start_ms % _MS_PER_DAY
        while day < end_ms:
            if (day // _MS_PER_DAY + 3) % 7 < 5:  # 1970-01-01 was a Thursday: +3 → Monday is 0
                out.append((day, day + _MS_PER_DAY))
            day += _MS_PER_DAY
        return _joined(out)
    import pandas as pd

    first = pd.Timestamp(start_ms - _MS_PER_DAY, unit="ms", tz="UTC")
    last = pd.Timestamp(end_ms + _MS_PER_DAY, unit="ms", tz="UTC")
    cal = exchange_calendar(calendar, first, last)
    lo, hi = _within_bounds(calendar, _day(first), _day(last)) if calendar != CALENDAR_NAME \
        else (_day(first), _day(last))
    if lo > hi:
        return []
    sched = cal.schedule.loc[lo:hi]
    opens = sched["open"].to_numpy(dtype="datetime64[ms]").astype("int64")
    closes = sched["close"].to_numpy(dtype="datetime64[ms]").astype("int64")
    return _joined([(int(o), int(c)) for o, c in zip(opens, closes, strict=True)
                    if c > start_ms and o < end_ms])


def _joined(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in windows:
        if out and out[-1][1] >= start:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def is_open(windows: list[tuple[int, int]], t_ms: int) -> bool:
    return any(start <= t_ms < end for start, end in windows)


def next_change_ms(windows: list[tuple[int, int]], t_ms: int) -> int | None:
    """The next open or close after `t_ms` (None: no more within the windows)."""
    edges = [e for w in windows for e in w if e > t_ms]
    return min(edges) if edges else None


#: the market each built-in Yahoo series trades in: the cash indices on NYSE hours, the E-mini
#: and metal futures on CME Globex, the dollar-index future on ICE US
YAHOO_MARKETS: dict[str, str] = {"spx": CALENDAR_NAME, "ndx": CALENDAR_NAME,
                                 "es": "CMES", "nq": "CMES",
                                 "vix": CALENDAR_NAME, "gold": "CMES", "silver": "CMES",
                                 "dxy": "IEPA"}


def windows_by_series(calendars: dict[str, str], start_ms: int, end_ms: int
                      ) -> dict[str, list[tuple[int, int]]]:
    """Each series' open windows over [start_ms, end_ms] (series id -> calendar code in);
    a calendar exchange-calendars does not know leaves its series out (the catalog's cadence
    then applies all day)."""
    by_calendar: dict[str, list[tuple[int, int]] | None] = {}
    out = {}
    for series_id, calendar in calendars.items():
        if calendar not in by_calendar:
            try:
                by_calendar[calendar] = open_windows(calendar, start_ms, end_ms)
            except Exception:  # noqa: BLE001 - an unknown or unbuildable calendar
                by_calendar[calendar] = None
        windows = by_calendar[calendar]
        if windows is not None:
            out[series_id] = windows
    return out
