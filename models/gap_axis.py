"""A compressed time axis: a session calendar's closed hours squeezed out (docs/sessions-gaps.md).

A chart of an exchange-traded asset at an intraday interval is mostly empty space when its x is
real time: the S&P 500 trades 6.5 h a weekday, so three quarters of an hourly chart is nights
and weekends. `GapAxis` maps real time to a compressed x in which only open time advances:
inside an open window x moves one-for-one with real time; a closed stretch (a night, a
weekend, a holiday, the CME's daily halt) has zero width, so the window after it starts at the
x where the one before ended. That x is a *break*: the chart marks it.

Both directions are exact within the open windows: `to_real(to_x(t)) == t` for every open t,
and `to_x(to_real(x)) == x` for every x. A closed instant maps to its break (the x of the next
open), and a break maps back to that open (the first instant the market trades again). Before
the first window and after the last, x runs one-for-one (no calendar there to compress by).
x is anchored to real time inside the last window (x == t there), so the newest bars keep
their real stamps as x.

The open windows come from `models.sessions.open_windows` (exchange-calendars: CMES for the
E-mini futures, COMEX for gold and silver, XNYS for the cash indices), joined with the spans of
the bars actually stored (`with_bars`), so a bar the calendar calls closed (a venue stamping
a session's bar early, a holiday session the calendar lacks) is never squeezed out.
Times are UTC epoch milliseconds; numpy only (the calendar itself is built on a worker).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from models.price_view import PreparedPrices

#: the calendar each built-in exchange-traded asset's intraday bars follow
ASSET_CALENDARS: dict[str, str] = {
    "es": "CMES", "nq": "CMES",  # CME Globex equity-index futures: ~23 h a weekday
    "gold": "COMEX", "silver": "COMEX",  # COMEX metals on Globex hours
    "spx": "XNYS", "ndx": "XNYS", "vix": "XNYS",  # the cash indices: NYSE regular hours
    "dxy": "IEPA",  # the dollar-index future on ICE US
}
#: calendars under which nothing closes: no axis to compress
ROUND_THE_CLOCK = "24/7"
#: CME Globex calendars. exchange-calendars runs their sessions 17:00 to 17:00 Chicago back to
#: back; the equity-index and metal futures halt 16:00-17:00 Chicago every day (CME's published
#: hours: Sunday-Friday 17:00-16:00 CT), so a regular session's last hour is taken out here.
GLOBEX = frozenset({"CMES", "COMEX", "CME", "CBOT", "NYMEX"})
GLOBEX_HALT_MS = 3_600_000


def joined_windows(windows: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end) windows sorted, with overlapping or touching ones merged; empty ones
    dropped."""
    out: list[tuple[int, int]] = []
    for start, end in sorted((int(s), int(e)) for s, e in windows if e > s):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def with_bars(windows: Iterable[tuple[int, int]], bar_times_ms: np.ndarray,
              interval_ms: int) -> list[tuple[int, int]]:
    """The windows joined with each bar's own span [t, t + interval): a stored bar is open
    time whatever the calendar says."""
    t = np.asarray(bar_times_ms, dtype=np.int64)
    if not len(t):
        return joined_windows(windows)
    # consecutive bars one interval apart are one span: keeps the list short for 1m data
    new_run = np.flatnonzero(np.diff(t) > interval_ms) + 1
    starts = t[np.concatenate([[0], new_run])]
    ends = t[np.concatenate([new_run - 1, [len(t) - 1]])] + interval_ms
    return joined_windows([*windows, *zip(starts.tolist(), ends.tolist(), strict=True)])


def _last_at_or_before(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each value, the index of the last edge <= it (-1 before the first): what
    `searchsorted(edges, values, "right") - 1` gives, found from the few edges' side when the
    values are sorted (a chart's bar times: millions of them, thousands of edges)."""
    values = np.asarray(values)
    n = values.size
    if values.ndim != 1 or n < 4 * len(edges) or not np.all(values[1:] >= values[:-1]):
        return np.searchsorted(edges, values, side="right") - 1
    starts = np.searchsorted(values, edges, side="left")  # the first value each edge covers
    counts = np.diff(np.concatenate([[0], starts, [n]]))
    return np.repeat(np.arange(-1, len(edges), dtype=np.int64), counts)


@dataclass(frozen=True)
class GapAxis:
    """Real time <-> compressed x over a list of open windows (module note)."""

    starts: np.ndarray  # int64 ms: each open window's first instant, ascending
    ends: np.ndarray  # int64 ms: each window's end (exclusive), ends[i] < starts[i + 1]
    x_starts: np.ndarray  # float64: the compressed x of each window's start

    @classmethod
    def from_windows(cls, windows: Iterable[tuple[int, int]]) -> GapAxis:
        joined = joined_windows(windows)
        starts = np.array([s for s, _ in joined], dtype=np.int64)
        ends = np.array([e for _, e in joined], dtype=np.int64)
        if not len(starts):
            return cls(starts, ends, np.empty(0))
        lengths = (ends - starts).astype(np.float64)
        x_starts = np.concatenate([[0.0], np.cumsum(lengths[:-1])])
        # anchored: x == t inside the last window
        x_starts += float(starts[-1]) - x_starts[-1]
        return cls(starts, ends, x_starts)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def closed_ms(self) -> int:
        """Closed time squeezed out between the first window and the last."""
        return int((self.starts[1:] - self.ends[:-1]).sum()) if len(self) > 1 else 0

    def _window(self, t: np.ndarray) -> np.ndarray:
        """Index of the last window starting at or before each t (-1 before the first)."""
        return _last_at_or_before(self.starts, t)

    def is_open(self, t_ms: np.ndarray | Sequence[int] | int) -> np.ndarray:
        """True where an instant lies inside an open window."""
        t = np.asarray(t_ms, dtype=np.int64)
        if not len(self):
            return np.ones(t.shape, dtype=bool)
        k = self._window(t)
        inside = k >= 0
        kk = np.maximum(k, 0)
        return inside & (t < self.ends[kk])

    def to_x(self, t_ms: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """Compressed x (float ms) of real instants: open ones one-for-one, a closed one at its
        break (the x of the next open), outside the calendar one-for-one."""
        t = np.asarray(t_ms, dtype=np.float64)
        if not len(self):
            return t.copy()
        # x = min(t, the window's end) + the window's offset; before the first window and in
        # the last one, no end (one-for-one): two gathers per instant
        offsets, clip = self._offsets()
        k = _last_at_or_before(self.starts.astype(np.float64), t) + 1
        return np.minimum(t, clip[k]) + offsets[k]

    def to_real(self, x: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """Real instants (float ms) of compressed x: the inverse of `to_x` on open time; a break
        reads as the open after it."""
        xs = np.asarray(x, dtype=np.float64)
        if not len(self):
            return xs.copy()
        offsets, _clip = self._offsets()
        return xs - offsets[_last_at_or_before(self.x_starts, xs) + 1]

    def _offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """x - t inside each window, and each window's end as a clip (inf where x runs
        one-for-one), both with an entry first for before the first window."""
        offsets = self.x_starts - self.starts
        ends = self.ends.astype(np.float64)
        ends[-1] = np.inf
        return np.concatenate([offsets[:1], offsets]), np.concatenate([[np.inf], ends])

    def breaks(self, x0: float | None = None, x1: float | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The breaks with x in [x0, x1]: (x, the close before in real ms, the open after)."""
        if len(self) < 2:
            return np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        xb = self.x_starts[1:]
        lo = 0 if x0 is None else int(np.searchsorted(xb, x0, side="left"))
        hi = len(xb) if x1 is None else int(np.searchsorted(xb, x1, side="right"))
        return xb[lo:hi], self.ends[:-1][lo:hi], self.starts[1:][lo:hi]


def compressed_axis(calendar_windows: Iterable[tuple[int, int]],
                    bars: Iterable[tuple[np.ndarray, int]] = ()) -> GapAxis:
    """The axis over a calendar's open windows joined with stored bars ((times, interval)
    per series): what the price dock builds on a worker."""
    windows = joined_windows(calendar_windows)
    for times, interval_ms in bars:
        windows = with_bars(windows, times, interval_ms)
    return GapAxis.from_windows(windows)


def calendar_windows(code: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """The [open, close) windows (UTC ms) of calendar `code` overlapping [start_ms, end_ms]:
    exchange-calendars sessions, less the daily halt on Globex (GLOBEX); "24/5" and "24/7" as
    `models.sessions.open_windows` has them. Builds the calendar: call it on a worker."""
    from models.sessions import exchange_calendar, open_windows

    if code not in GLOBEX:
        return open_windows(code, start_ms, end_ms)
    import pandas as pd

    day = 86_400_000
    first = pd.Timestamp(start_ms - day, unit="ms", tz="UTC")
    last = pd.Timestamp(end_ms + 2 * day, unit="ms", tz="UTC")
    cal = exchange_calendar(code, first, last)
    sched = cal.schedule.loc[first.tz_localize(None).normalize():last.tz_localize(None)]
    opens = sched["open"].dt.tz_convert(None).to_numpy().astype("datetime64[ms]").astype("int64")
    close_utc = sched["close"].dt.tz_convert(None)
    closes = close_utc.to_numpy().astype("datetime64[ms]").astype("int64")
    local = sched["close"].dt.tz_convert("America/Chicago")
    regular = ((local.dt.hour == 17) & (local.dt.minute == 0)).to_numpy()
    closes = np.where(regular, closes - GLOBEX_HALT_MS, closes)
    return [(int(o), int(c)) for o, c in zip(opens, closes, strict=True)
            if c > start_ms and o < end_ms]


def build_axis(calendars: Iterable[str], start_ms: int, end_ms: int,
               bars: Iterable[tuple[np.ndarray, int]] = ()) -> GapAxis:
    """The compressed axis of the union of `calendars`' open windows over [start_ms, end_ms]
    (exchange-calendars codes, "24/5" or "24/7"), joined with the stored bars. Builds the
    calendars (pandas, ~0.3 s each the first time): call it on a worker."""
    from exchange_calendars.errors import CalendarError

    windows: list[tuple[int, int]] = []
    for code in dict.fromkeys(calendars):
        try:
            windows += calendar_windows(code, start_ms, end_ms)
        except CalendarError:  # a user symbol's calendar the package lacks: its bars decide
            continue
    return compressed_axis(windows, bars)


def compressed_prices(prepared: PreparedPrices, axis: GapAxis, interval_ms: int
                      ) -> PreparedPrices:
    """`prepared`'s pyramids redrawn at compressed x (seconds, like the real chart's).

    Bars stamped in closed time (a 24/7 series' weekend beside ES) are left out of the drawing:
    the line joins the last bar before the break to the first after it. `t_raw`, `close_raw`
    and `source` stay real, so the readout looks bars up by real time (the crosshair's x goes
    through `to_real` first). The line still breaks where bars are missing inside open time."""
    from models.lod import MinMaxPyramid, OhlcPyramid
    from models.series import break_gaps

    data = prepared.source
    keep = axis.is_open(data.time)
    times = data.time[keep]
    x_ms = axis.to_x(times)
    o, h, lo, c = (data[name][keep] for name in ("open", "high", "low", "close"))
    x_line, y = break_gaps(np.round(x_ms).astype(np.int64), c, int(interval_ms * 1.5))
    line = MinMaxPyramid.build(x_line / 1e3, y)
    ohlc = None if prepared.ohlc is None else \
        OhlcPyramid.build(x_ms / 1e3, o, h, lo, c, bar_width=interval_ms / 1e3)
    return PreparedPrices(data, line, ohlc, prepared.t_raw, prepared.close_raw, prepared.by_date)


def compress_all(calendars: Sequence[str], prepared: dict[str, PreparedPrices],
                 exchange_stems: Sequence[str], interval_ms: int
                 ) -> tuple[GapAxis, dict[str, PreparedPrices]]:
    """The price dock's worker job: the axis of `calendars` over the shown series' span, joined
    with the bars of the exchange-traded ones (`exchange_stems`, keys of `prepared`), and every
    shown series' pyramids on it."""
    spans = [(int(p.source.time[0]), int(p.source.time[-1]) + interval_ms)
             for p in prepared.values() if len(p.source)]
    if not spans:
        return GapAxis.from_windows([]), {}
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans)
    bars = [(prepared[s].source.time, interval_ms) for s in exchange_stems if s in prepared]
    axis = build_axis(calendars, start, end, bars)
    return axis, {key: compressed_prices(p, axis, interval_ms) for key, p in prepared.items()}
