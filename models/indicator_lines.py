"""The price chart's indicators, ready to draw: which ones a trader can pick, and their lines as
level-of-detail pyramids (models/lod.py) built on a worker (docs/indicators.md).

Numpy only, except a session VWAP of an exchange-traded asset, which reads the exchange's
session opens (models/sessions.py, exchange-calendars) on the same worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from models import indicators as ind
from models.lod import MinMaxPyramid
from models.series import MS_PER_DAY, SeriesData, break_gaps

#: every indicator the price dock offers, in menu order: key -> menu label
INDICATORS: dict[str, str] = {
    "sma20": "SMA 20",
    "sma50": "SMA 50",
    "sma200": "SMA 200",
    "ema21": "EMA 21",
    "bb20": "Bollinger 20, 2σ",
    "vwap": "VWAP (session)",
    "avwap": "Anchored VWAP",
    "rsi14": "RSI 14 (Wilder)",
    "atr14": "ATR 14 (Wilder)",
    "profile": "Volume profile (visible range)",
}
#: drawn in a pane of their own under the price (other units than the price)
PANE_INDICATORS = ("rsi14", "atr14")
#: drawn on the price plot
OVERLAY_INDICATORS = ("sma20", "sma50", "sma200", "ema21", "bb20", "vwap", "avwap")

#: a session VWAP restarts each session: on daily and longer bars it would be the bar itself
SESSION_VWAP_MAX_INTERVAL_MS = MS_PER_DAY - 1


@dataclass(frozen=True)
class IndicatorLines:
    """Each chosen indicator's lines (name, pyramid in x = epoch seconds), for one series."""

    source: SeriesData
    keys: tuple[str, ...]
    anchor_ms: int | None
    lines: dict[str, list[tuple[str, MinMaxPyramid]]] = field(default_factory=dict)
    #: the last value of each line, for the pane titles and the readout
    last: dict[str, float] = field(default_factory=dict)
    #: why an indicator the trader picked shows nothing here ("" when it shows)
    notes: dict[str, str] = field(default_factory=dict)
    #: how long the computation took (the chart spaces live recomputations by it)
    seconds: float = 0.0


def session_anchors(time_ms: np.ndarray, calendar: str) -> np.ndarray:
    """Row indices where a session VWAP restarts: each UTC day for a market that never closes
    ("24/7"), else each session's open in the exchange calendar (models/sessions.py)."""
    if calendar in ("24/7", ""):
        return ind.day_starts(time_ms)
    from models.sessions import open_windows

    if not len(time_ms):
        return np.empty(0, dtype=np.int64)
    windows = open_windows(calendar, int(time_ms[0]) - MS_PER_DAY, int(time_ms[-1]) + 1)
    return ind.session_starts(time_ms, [start for start, _ in windows])


def anchor_row(time_ms: np.ndarray, anchor_ms: int) -> int:
    """The bar holding `anchor_ms` (the last bar stamped at or before it); -1 before the data."""
    return int(np.searchsorted(time_ms, anchor_ms, side="right")) - 1


def compute_lines(data: SeriesData, keys: tuple[str, ...], interval_ms: int, *,
                  by_date: bool = False, calendar: str = "24/7",
                  anchor_ms: int | None = None,
                  to_x: Callable[[np.ndarray], np.ndarray] | None = None) -> IndicatorLines:
    """The lines of `keys` over `data` (OHLC, volume optional). x is each bar's stamp in epoch
    seconds (at its trading date on daily bars, as models/price_view.py places them), or its
    place on a compressed axis when `to_x` maps stamps (ms) there (models/gap_axis.py); lines
    break where the price line breaks (a gap longer than 1.5 bars on that x)."""
    started = time.perf_counter()
    t = data.time - data.time % MS_PER_DAY if by_date else data.time
    if to_x is not None:
        t = np.asarray(to_x(t), dtype=np.float64)
    high, low, close = data["high"], data["low"], data["close"]
    volume = data.columns.get("volume")
    out = IndicatorLines(data, tuple(keys), anchor_ms)
    max_gap = int((interval_ms or MS_PER_DAY) * 1.5)
    # one x for every line (a 5M-row line's x is 40 MB): the bars' stamps with a NaN row after
    # each gap, as models.series.break_gaps puts them
    gaps = np.flatnonzero(np.diff(t) > max_gap) + 1
    x = break_gaps(t, np.zeros(len(t)), max_gap)[0] / 1e3

    def put(key: str, name: str, y: np.ndarray) -> None:
        yy = np.insert(y, gaps, np.nan) if len(gaps) else y
        pyramid = MinMaxPyramid.build(x, yy)
        out.lines.setdefault(key, []).append((name, pyramid))
        finite = y[np.isfinite(y)]
        if len(finite):
            out.last[f"{key}:{name}"] = float(finite[-1])

    def no_volume() -> bool:
        return volume is None or not bool(np.nansum(volume) > 0)

    for key in keys:
        if key.startswith("sma"):
            put(key, INDICATORS[key], ind.sma(close, int(key[3:])))
        elif key.startswith("ema"):
            put(key, INDICATORS[key], ind.ema(close, int(key[3:])))
        elif key == "bb20":
            bands = ind.bollinger(close, 20, 2.0)
            put(key, "upper", bands.upper)
            put(key, "middle", bands.middle)
            put(key, "lower", bands.lower)
        elif key == "rsi14":
            put(key, "RSI 14", ind.rsi(close, 14))
        elif key == "atr14":
            put(key, "ATR 14", ind.atr(high, low, close, 14))
        elif key == "vwap":
            if no_volume():
                out.notes[key] = "no volume in this series"
            elif interval_ms and interval_ms > SESSION_VWAP_MAX_INTERVAL_MS:
                out.notes[key] = "session VWAP needs intraday bars"
            else:
                put(key, "VWAP", ind.anchored_vwap(high, low, close, volume,
                                                   session_anchors(data.time, calendar)))
        elif key == "avwap":
            row = -1 if anchor_ms is None else anchor_row(data.time, anchor_ms)
            if no_volume():
                out.notes[key] = "no volume in this series"
            elif row < 0:
                out.notes[key] = "right-click a bar: Anchor VWAP here"
            else:
                put(key, "anchored VWAP", ind.anchored_vwap(high, low, close, volume, [row]))
    return replace(out, seconds=time.perf_counter() - started)


def visible_profile(data: SeriesData, x0_s: float, x1_s: float, bins: int = 48,
                    by_date: bool = False) -> ind.VolumeProfile | None:
    """The volume profile of the bars stamped within [x0_s, x1_s] (epoch seconds)."""
    volume = data.columns.get("volume")
    if volume is None or not len(data):
        return None
    t = data.time - data.time % MS_PER_DAY if by_date else data.time
    i0 = int(np.searchsorted(t, x0_s * 1e3, side="left"))
    i1 = int(np.searchsorted(t, x1_s * 1e3, side="right"))
    if i1 <= i0:
        return None
    return ind.volume_profile(data["high"][i0:i1], data["low"][i0:i1], volume[i0:i1], bins)
