"""Chart cases, each run in its own process by `python -m bench --case NAME ...`.

Every function returns a JSON-able dict. Rotor's chart items are imported lazily: when
`ui/charts/lod_item.py` or `ui/charts/candles.py` is absent the case reports
`{"status": "missing"}` instead of a number.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import frames as fr

ROOT = Path(__file__).resolve().parents[1]


def rotor_available(kind: str) -> bool:
    name = {"line": "ui.charts.lod_item", "candles": "ui.charts.candles"}[kind]
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _rotor_line_item(pyramid: Any) -> Any:
    from ui.charts.lod_item import LodCurveItem

    return LodCurveItem(pyramid)


def _widget(size: tuple[int, int], rotor: bool = False) -> tuple[Any, Any, Any]:
    import pyqtgraph as pg

    qapp = fr.app()
    if rotor:  # Rotor's charts apply a new range before the paint (ui/charts/viewbox.py)
        from ui.charts.viewbox import PromptViewBox

        w = pg.PlotWidget(viewBox=PromptViewBox())
    else:
        w = pg.PlotWidget()
    w.resize(*size)
    w.show()
    return qapp, w, w.getPlotItem()


def _xr(vb: Any) -> Any:
    def set_range(a: float, b: float) -> None:
        vb.setXRange(fr.X0 + fr.DX * a, fr.X0 + fr.DX * b, padding=0)
    return set_range


def _sweep(out: dict, qapp: Any, w: Any, plot: Any, t0: float, ranges: list) -> dict:
    """Settle on the first range, then time every pan of the sweep (fr.run_sweep)."""
    set_range = _xr(plot.getViewBox())
    set_range(*ranges[0])
    fr.settle(qapp)
    out["setup_to_first_paint_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    out.update(fr.run_sweep(qapp, set_range, ranges))
    w.close()
    return out


# -- lines ------------------------------------------------------------------------------------
def line(contender: str, n: int, view: str, frames: int, size: tuple[int, int]) -> dict:
    if contender == "rotor" and not rotor_available("line"):
        return {"status": "missing", "why": "ui/charts/lod_item.py not importable"}
    out: dict[str, Any] = {"contender": contender, "n": n, "view": view, "size": list(size)}
    x, y = fr.line_data(n)
    t0 = time.perf_counter()
    qapp, w, plot = _widget(size, rotor=contender == "rotor")
    if contender == "empty":
        pass
    elif contender == "defaults":
        plot.plot(x, y)
    elif contender == "clippeak":
        item = plot.plot(x, y)
        # Set after addItem (pyqtgraph #1855: set before, it is overridden).
        item.setClipToView(True)
        item.setDownsampling(auto=True, method="peak")
    elif contender == "rotor":
        from models.lod import MinMaxPyramid

        tb = time.perf_counter()
        pyr = MinMaxPyramid.build(x, y)
        out["pyramid_build_ms"] = round((time.perf_counter() - tb) * 1e3, 2)
        plot.addItem(_rotor_line_item(pyr))
    else:
        raise ValueError(f"unknown contender {contender!r}")
    return _sweep(out, qapp, w, plot, t0, fr.sweep(view, n, frames, "line"))


# -- the price dock's layout: stacked, x-linked plots with date axes and grids -----------------
def stacked(grid: str, n: int, frames: int, size: tuple[int, int]) -> dict:
    """Four x-linked plots of n rows each (Rotor's line item, date axes), panned together: what
    the price dock draws. `grid`: "pyqtgraph" (PlotItem.showGrid, drawn by the axes), "rotor"
    (ui/charts/grid.py) or "none" (the floor)."""
    import pyqtgraph as pg

    from models.lod import MinMaxPyramid
    from ui.charts.axes import UtcDateAxisItem
    from ui.charts.grid import GridLinesItem
    from ui.charts.viewbox import PromptViewBox

    out: dict[str, Any] = {"grid": grid, "n": n, "plots": 4, "size": list(size)}
    x, y = fr.line_data(n)
    t0 = time.perf_counter()
    qapp = fr.app()
    w = pg.GraphicsLayoutWidget()
    w.resize(*size)
    first = None
    for row in range(4):
        plot = w.addPlot(row=row, col=0, viewBox=PromptViewBox(),
                         axisItems={"bottom": UtcDateAxisItem()})
        if grid == "pyqtgraph":
            plot.showGrid(x=True, y=True, alpha=0.12)
        elif grid == "rotor":
            GridLinesItem(plot, "#d1d4dc", 0.12)
        plot.addItem(_rotor_line_item(MinMaxPyramid.build(x, y + 10.0 * row)))
        plot.enableAutoRange(y=True)
        plot.setAutoVisible(y=True)
        if first is None:
            first = plot
        else:
            plot.setXLink(first)
    w.show()
    assert first is not None
    return _sweep(out, qapp, w, first, t0, fr.sweep("out", n, frames, "line"))


# -- candles ----------------------------------------------------------------------------------
def _naive_candle_item(x: np.ndarray, o: np.ndarray, h: np.ndarray, low: np.ndarray,
                       c: np.ndarray) -> Any:
    """pyqtgraph's documented example (examples/customGraphicsItem.py): one QPicture."""
    import pyqtgraph as pg
    from PySide6 import QtCore, QtGui

    class CandlestickItem(pg.GraphicsObject):
        def __init__(self) -> None:
            super().__init__()
            self.picture = QtGui.QPicture()
            p = QtGui.QPainter(self.picture)
            p.setPen(pg.mkPen("w"))
            w = (x[1] - x[0]) / 3.0 if len(x) > 1 else 1.0
            up, down = pg.mkBrush("g"), pg.mkBrush("r")
            for t, op, hi, lo, cl in zip(x.tolist(), o.tolist(), h.tolist(), low.tolist(),
                                         c.tolist(), strict=True):
                p.drawLine(QtCore.QPointF(t, lo), QtCore.QPointF(t, hi))
                p.setBrush(down if op > cl else up)
                p.drawRect(QtCore.QRectF(t - w, op, w * 2, cl - op))
            p.end()

        def paint(self, p: Any, *args: Any) -> None:
            p.drawPicture(0, 0, self.picture)

        def boundingRect(self) -> Any:
            return QtCore.QRectF(self.picture.boundingRect())

    return CandlestickItem()


def candles(contender: str, n: int, view: str, frames: int, size: tuple[int, int]) -> dict:
    if contender == "rotor" and not rotor_available("candles"):
        return {"status": "missing", "why": "ui/charts/candles.py not importable"}
    if contender == "finplot":
        return _finplot(n, view, frames, size)
    out: dict[str, Any] = {"contender": contender, "n": n, "view": view, "size": list(size)}
    x, o, h, low, c = fr.ohlc_data(n)
    t0 = time.perf_counter()
    qapp, w, plot = _widget(size, rotor=contender == "rotor")
    if contender == "naive":
        tb = time.perf_counter()
        item = _naive_candle_item(x, o, h, low, c)
        out["build_ms"] = round((time.perf_counter() - tb) * 1e3, 1)
    elif contender == "rotor":
        from models.lod import OhlcPyramid
        from ui.charts.candles import CandlestickItem

        tb = time.perf_counter()
        pyr = OhlcPyramid.build(x, o, h, low, c)
        out["pyramid_build_ms"] = round((time.perf_counter() - tb) * 1e3, 2)
        item = CandlestickItem(pyr)
    else:
        raise ValueError(f"unknown contender {contender!r}")
    plot.addItem(item)
    return _sweep(out, qapp, w, plot, t0, fr.sweep(view, n, frames, "candles"))


def _finplot(n: int, view: str, frames: int, size: tuple[int, int]) -> dict:
    out: dict[str, Any] = {"contender": "finplot", "n": n, "view": view, "size": list(size)}
    try:
        import finplot as fplt
    except Exception as e:  # noqa: BLE001 (any import failure means "not available")
        return {"status": "unavailable", "why": f"{type(e).__name__}: {e}"}
    import pandas as pd

    out["version"] = getattr(fplt, "__version__", None)
    x, o, h, low, c = fr.ohlc_data(n)
    df = pd.DataFrame({"time": pd.to_datetime((x * 1000).astype(np.int64), unit="ms"),
                       "open": o, "close": c, "high": h, "low": low})
    qapp = fr.app()
    t0 = time.perf_counter()
    ax = fplt.create_plot("bench", maximize=False)
    fplt.candlestick_ochl(df[["time", "open", "close", "high", "low"]], ax=ax)
    fplt.show(qt_exec=False)
    win = fplt.windows[0]
    win.resize(*size)
    win.show()
    ranges = fr.sweep(view, n, frames, "candles")
    vb = ax.vb

    def set_range(a: float, b: float) -> None:  # finplot's x is the row index
        vb.setXRange(a, b, padding=0)

    set_range(*ranges[0])
    fr.settle(qapp)
    out["setup_to_first_paint_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    out.update(fr.run_sweep(qapp, set_range, ranges))
    win.close()
    return out


# -- live append, swap ------------------------------------------------------------------------
def append(n: int, reps: int) -> dict:
    """One row into an n-row series: MinMaxPyramid.append, LodCurveItem.appendData + frame."""
    from models.lod import MinMaxPyramid

    out: dict[str, Any] = {"n": n}
    x, y = fr.line_data(n + 2 * reps + 10)
    xs, ys = x[:n].copy(), y[:n].copy()
    pyr = MinMaxPyramid.build(xs, ys)
    t = time.perf_counter()
    pyr.append(x[n], y[n])
    out["pyramid_first_append_no_reserve_ms"] = round((time.perf_counter() - t) * 1e3, 3)
    times = []
    for i in range(n + 1, n + 1 + reps):
        t = time.perf_counter()
        pyr.append(x[i], y[i])
        times.append((time.perf_counter() - t) * 1e3)
    out["pyramid_append_ms"] = _dist(times)
    del pyr
    if not rotor_available("line"):
        out["rotor_item"] = {"status": "missing", "why": "ui/charts/lod_item.py not importable"}
        return out
    qapp, w, plot = _widget(fr.SIZE)
    pyr = MinMaxPyramid.build(x[:n].copy(), y[:n].copy())
    pyr.reserve(4 * reps)  # as a worker would, after the build
    item = _rotor_line_item(pyr)
    plot.addItem(item)
    vb = plot.getViewBox()
    # A live chart: the last 1 % of rows in view plus room on the right, x range fixed.
    _xr(vb)(n * 0.99, n * 1.0 + 4 * reps)
    fr.settle(qapp)
    calls, framed, paints = [], [], []
    for i in range(n, n + reps):
        def act(i: int = i) -> None:
            t = time.perf_counter()
            item.appendData(x[i:i + 1], y[i:i + 1])
            calls.append((time.perf_counter() - t) * 1e3)
        f = fr.timed_frame(qapp, act)
        framed.append(f["ms"])
        paints.append(f["paints"])
    out["rotor_item"] = {"append_call_ms": _dist(calls), "append_plus_frame_ms": _dist(framed),
                         "paints": float(np.median(paints)), "reps": reps}
    w.close()
    return out


def append_pg(n: int, reps: int) -> dict:
    """Baseline: PlotDataItem.setData of the whole (n + 1)-row array (defaults), + frame."""
    out: dict[str, Any] = {"n": n}
    x, y = fr.line_data(n + reps + 1)
    qapp, w, plot = _widget(fr.SIZE)
    item = plot.plot(x[:n], y[:n])
    vb = plot.getViewBox()
    _xr(vb)(n * 0.99, n * 1.0 + 4 * reps)
    fr.settle(qapp)
    calls, framed = [], []
    for k in range(reps):
        def act(m: int = n + k + 1) -> None:
            t = time.perf_counter()
            item.setData(x[:m], y[:m])
            calls.append((time.perf_counter() - t) * 1e3)
        framed.append(fr.timed_frame(qapp, act)["ms"])
    out["setdata_call_ms"] = _dist(calls)
    out["setdata_plus_frame_ms"] = _dist(framed)
    out["reps"] = reps
    w.close()
    return out


def swap(n: int, reps: int) -> dict:
    """Full replace: build a pyramid (worker part), then setPyramid on the GUI thread."""
    if not rotor_available("line"):
        return {"status": "missing", "why": "ui/charts/lod_item.py not importable"}
    from models.lod import MinMaxPyramid

    out: dict[str, Any] = {"n": n}
    x, y = fr.line_data(n)
    y2 = y[::-1].copy()
    qapp, w, plot = _widget(fr.SIZE)
    item = _rotor_line_item(MinMaxPyramid.build(x, y))
    plot.addItem(item)
    vb = plot.getViewBox()
    _xr(vb)(*fr.sweep("out", n, 1)[0])
    fr.settle(qapp)
    builds, calls, framed = [], [], []
    for k in range(reps):
        t = time.perf_counter()
        p = MinMaxPyramid.build(x, y2 if k % 2 == 0 else y)
        builds.append((time.perf_counter() - t) * 1e3)

        def act(p: Any = p) -> None:
            t = time.perf_counter()
            item.setPyramid(p)
            calls.append((time.perf_counter() - t) * 1e3)
        framed.append(fr.timed_frame(qapp, act)["ms"])
    out["pyramid_build_ms"] = _dist(builds)
    out["setpyramid_call_ms"] = _dist(calls)
    out["setpyramid_plus_frame_ms"] = _dist(framed)
    out["reps"] = reps
    w.close()
    return out


# -- cache read -------------------------------------------------------------------------------
def cache_read(n: int, reps: int) -> dict:
    import pandas as pd

    from models.series import SeriesData
    from services import chunk_codec
    from services.cache import Cache

    out: dict[str, Any] = {"n": n}
    x, o, h, low, c = fr.ohlc_data(n)
    t_ms = (x * 1000).astype(np.int64)
    vol = np.abs(fr.walk(n, seed=5)) + 1.0
    # Prices and volume as a venue sends them (decimal text): what the compact chunks store
    # as integer steps (services/chunk_codec.py).
    o, h, low, c = (np.round(v, 2) for v in (o, h, low, c))
    vol = np.round(vol, 8)
    cols = {"open": o, "high": h, "low": low, "close": c, "volume": vol}
    with tempfile.TemporaryDirectory() as tmp:
        # the plain format (before issue 16) first, the compact one the app writes now second
        for key, fmt in (("cache_read_plain_ms", chunk_codec.PLAIN),
                         ("cache_read_ms", chunk_codec.COMPACT)):
            cache = Cache(Path(tmp) / f"cache-{fmt}.sqlite")
            cache.chunk_format = fmt
            t = time.perf_counter()
            cache.upsert("bench.read", SeriesData(t_ms, cols))
            out["upsert_ms" if fmt == chunk_codec.COMPACT else "upsert_plain_ms"] = round(
                (time.perf_counter() - t) * 1e3, 1)
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                data = cache.read("bench.read")
                times.append((time.perf_counter() - t) * 1e3)
            assert len(data) == n, (len(data), n)
            out[key] = _dist(times)
            cache.close()
        out["compact_to_plain_read_ratio"] = round(
            out["cache_read_ms"]["median"] / out["cache_read_plain_ms"]["median"], 2)
        # Baseline: the same rows as a plain table, read with pandas.read_sql.
        db = Path(tmp) / "plain.sqlite"
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE rows (time INTEGER PRIMARY KEY, open REAL, high REAL, "
                     "low REAL, close REAL, volume REAL)")
        conn.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?)",
                         zip(t_ms.tolist(), o.tolist(), h.tolist(), low.tolist(), c.tolist(),
                             vol.tolist(), strict=True))
        conn.commit()
        times = []
        for _ in range(max(1, reps // 2)):
            t = time.perf_counter()
            df = pd.read_sql("SELECT time, open, high, low, close, volume FROM rows ORDER BY time",
                             conn)
            times.append((time.perf_counter() - t) * 1e3)
        assert len(df) == n
        out["pd_read_sql_ms"] = _dist(times)
        conn.close()
    return out


def _dist(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"median": round(float(np.median(a)), 4), "p95": round(float(np.percentile(a, 95)), 4),
            "max": round(float(a.max()), 4), "count": len(a)}


def env_note() -> dict:
    return {"qt_qpa_platform": os.environ.get("QT_QPA_PLATFORM"),
            "pyqtgraph_qt_lib": os.environ.get("PYQTGRAPH_QT_LIB")}
