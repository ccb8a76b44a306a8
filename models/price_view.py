"""The price chart's data, ready to draw: level-of-detail pyramids of each series, and the look-ups
the chart makes on them (the value under the crosshair, the compare view's rebase).

Daily bars are drawn at their trading date. Venues stamp a daily bar at its session's open in
UTC: BTC at 00:00, gold futures at 05:00, the S&P 500 at 14:30. Drawn as stamped, a crosshair at
12:00 UTC on 6 Feb would read BTC's 6 Feb bar beside the S&P's 5 Feb bar. On 1d views every bar
is therefore placed at 00:00 UTC of its trading date. For every asset Rotor shows, that is the
UTC date of the stamp: crypto days are UTC days, and the US sessions' bars are stamped between
04:00 UTC (midnight in New York) and their close, all on the same date in UTC as in New York.

Numpy only, so a long history is prepared on a worker and nothing here waits for pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.lod import MinMaxPyramid, OhlcPyramid
from models.series import MS_PER_DAY, SeriesData, break_gaps

# Longer series are prepared on a worker: building two pyramids over 1e5+ rows takes milliseconds.
PREPARE_ON_WORKER = 100_000
_APPEND_ROOM = 4096  # live bars a pyramid takes before it grows its buffers


@dataclass(frozen=True)
class PreparedPrices:
    """Chart-ready pyramids for one series (x in epoch seconds) and its raw closes."""

    source: SeriesData
    line: MinMaxPyramid  # close, with NaN rows at market-closed gaps so the line breaks
    ohlc: OhlcPyramid | None  # None until candles are shown (`with_candles`): ~190 MB at 4.9M rows
    t_raw: np.ndarray  # seconds of real bars (no gap rows), for crosshair look-ups
    close_raw: np.ndarray
    by_date: bool = False  # daily bars placed at 00:00 UTC of their trading date


def trading_date_stamps(time_ms: np.ndarray) -> np.ndarray:
    """Each daily bar's stamp moved to 00:00 UTC of its trading date (module note)."""
    return time_ms - time_ms % MS_PER_DAY


def _bar_times(data: SeriesData, by_date: bool) -> np.ndarray:
    return trading_date_stamps(data.time) if by_date else data.time


def prepare_prices(data: SeriesData, interval_ms: int, by_date: bool = False,
                   candles: bool = True, room: bool = True) -> PreparedPrices:
    """Pyramids of one series' bars (the price chart prepares past `PREPARE_ON_WORKER` rows on
    a worker). With `by_date`, daily bars are placed at their trading date (module note).
    Without `candles` only the line's pyramid is built (`with_candles` adds the other).
    `room`: copy the rows into buffers with room for live bars now (on a worker); without it the
    pyramids read the given arrays until a live bar comes (the GUI thread's quick prepares: a
    short series, or the newest rows of a long one, replaced before any live bar)."""
    close = data["close"]
    times = _bar_times(data, by_date)
    t, y = break_gaps(times, close, int(interval_ms * 1.5))
    line = MinMaxPyramid.build(t / 1e3, y)
    if room:  # the first live append then copies nothing
        line.reserve(_APPEND_ROOM)
    prepared = PreparedPrices(data, line, None, _shared_seconds(line, None, times), close, by_date)
    return with_candles(prepared, interval_ms, room) if candles else prepared


def with_candles(prepared: PreparedPrices, interval_ms: int, room: bool = True
                 ) -> PreparedPrices:
    """`prepared` with its candle pyramid (built here, so on a worker for a long series);
    `room` as for `prepare_prices`."""
    if prepared.ohlc is not None:
        return prepared
    data = prepared.source
    ohlc = OhlcPyramid.build(prepared.t_raw, data["open"], data["high"], data["low"],
                             data["close"], bar_width=interval_ms / 1e3 if interval_ms else None)
    if room:
        ohlc.reserve(_APPEND_ROOM)
    return replace(prepared, ohlc=ohlc, t_raw=_shared_seconds(prepared.line, ohlc,
                                                              prepared.t_raw))


def without_candles(prepared: PreparedPrices) -> PreparedPrices:
    """`prepared` without its candle pyramid (drawn as a line again: ~190 MB at 4.9M rows)."""
    if prepared.ohlc is None:
        return prepared
    line = prepared.line
    seconds = line.x if len(line) == len(prepared.t_raw) else prepared.t_raw  # no gap row
    return replace(prepared, ohlc=None, t_raw=seconds)


def _shared_seconds(line: MinMaxPyramid, ohlc: OhlcPyramid | None,
                    times: np.ndarray) -> np.ndarray:
    """The bars' times in seconds (`times`: ms as int, or seconds as float), as a view of a
    pyramid's x when one holds exactly them (39 MB saved at 4.9M rows): the candles' when every
    bar is valid, the line's when no gap row was inserted."""
    n = len(times)
    if ohlc is not None and len(ohlc) == n:
        return ohlc.column("x")
    if len(line) == n:
        return line.x
    return times / 1e3 if times.dtype.kind in "iu" else times


def extend_prepared(prev: PreparedPrices, data: SeriesData, interval_ms: int,
                    tail_from: int | None) -> PreparedPrices | None:
    """Update the pyramids in place, O(new rows + levels), when `data` differs from
    `prev.source` only from row `tail_from` on (the refresh says so: the forming bar changed,
    newer bars came). None when it is not such an extension (rebuild instead)."""
    old = prev.source
    k = len(old)
    if not k or tail_from is None or tail_from < k - 1 or len(data) < k:
        return None
    times = _bar_times(data, prev.by_date)
    last_s = times[k - 1] / 1e3
    line, ohlc = prev.line, prev.ohlc
    if not (len(line) and line.x[-1] == last_s):
        return None  # the last bar was a gap: keep it simple, rebuild
    if ohlc is not None and not (len(ohlc) and ohlc.column("x")[-1] == last_s):
        return None  # the last bar was invalid: rebuild
    o, h, lo, c = (data[name] for name in ("open", "high", "low", "close"))
    i = k - 1
    if not all(np.isfinite(v[i]) for v in (o, h, lo, c)):
        return None
    line.replace_last(c[i])
    if len(data) > k:
        t, y = break_gaps(times[i:], c[i:], int(interval_ms * 1.5))
        line.append(t[1:] / 1e3, y[1:])  # the first row is the one already there
    if ohlc is not None:
        _extend_candles(ohlc, data, times, k)
    return PreparedPrices(data, line, ohlc, _shared_seconds(line, ohlc, times), c, prev.by_date)


def _extend_candles(ohlc: OhlcPyramid, data: SeriesData, times: np.ndarray, k: int) -> None:
    """Row k - 1 replaced, rows k... appended (the valid ones) in place."""
    o, h, lo, c = (data[name] for name in ("open", "high", "low", "close"))
    i = k - 1
    ohlc.replace_last(o[i], h[i], lo[i], c[i])
    if len(data) > k:
        new = slice(k, len(data))
        ok = np.isfinite(o[new]) & np.isfinite(h[new]) & np.isfinite(lo[new]) & np.isfinite(c[new])
        ohlc.append(times[new][ok] / 1e3, o[new][ok], h[new][ok], lo[new][ok], c[new][ok])


def candles_caught_up(built: PreparedPrices, current: PreparedPrices) -> PreparedPrices | None:
    """`current` with the candles `built` (on a worker) for an older source of the same line,
    updated in place with the rows that came since; None when that cannot be done exactly.

    Each live update since only changed rows from its last old row on (`extend_prepared`, which
    kept the line the same object), so the candles need rows len(built.source) - 1 onwards."""
    ohlc = built.ohlc
    old, data = built.source, current.source
    k = len(old)
    if ohlc is None or current.line is not built.line or not k or len(data) < k:
        return None
    times = _bar_times(data, current.by_date)
    if not (len(ohlc) and ohlc.column("x")[-1] == times[k - 1] / 1e3):
        return None
    if not all(np.isfinite(data[name][k - 1]) for name in ("open", "high", "low", "close")):
        return None
    _extend_candles(ohlc, data, times, k)
    return replace(current, ohlc=ohlc, t_raw=_shared_seconds(current.line, ohlc, times))


def index_at_or_before(prepared: PreparedPrices, x_seconds: float) -> int:
    """The last real bar at or before `x_seconds` (-1 when the series starts later)."""
    return int(np.searchsorted(prepared.t_raw, x_seconds, side="right")) - 1


def rebase_factor(prepared: PreparedPrices, left_edge_s: float) -> float:
    """Compare view: the factor that puts the series at 100 at the left edge.

    The base is the series' last close at or before the edge, so assets that do not trade at
    the edge (the S&P 500 on a Saturday) are based on the same instant as BTC, not on their next
    bar. A series that starts after the edge is based on its first close.
    """
    if not len(prepared.t_raw):
        return 1.0
    i = max(index_at_or_before(prepared, left_edge_s), 0)
    base = prepared.close_raw[i]
    return 100.0 / base if np.isfinite(base) and base > 0 else 1.0


def change_at(prepared: PreparedPrices, i: int) -> float:
    """% change of bar i's close against the bar before (NaN for the first)."""
    if i <= 0 or not prepared.close_raw[i - 1] > 0:
        return float("nan")
    return float((prepared.close_raw[i] / prepared.close_raw[i - 1] - 1) * 100)


def closes_at(prepared: PreparedPrices, x_seconds: np.ndarray,
              bar_seconds: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(x, close) of the last bar that ended by each instant (bars `bar_seconds` long, stamped
    at their open; 0 for daily bars placed at their trading date, whose close is the day's).

    Instants before the series' first bar are dropped: the first close is no price for them
    (an hourly history a few weeks long would put a mark of last year at this month's price).
    """
    x = np.asarray(x_seconds, dtype=np.float64)
    idx = np.searchsorted(prepared.t_raw, x - bar_seconds, side="right") - 1
    keep = idx >= 0
    return x[keep], prepared.close_raw[idx[keep]]
