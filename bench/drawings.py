"""Drawings on the price dock's four x-linked plots, panned together (docs/drawings.md).

Contenders, with the same n drawings (level, trend line, ray, box, note in turn) over the plots:
- "rotor": `ui/charts/drawing_items.py` (items in the view box's pixels, placed again at each
  view change);
- "pyqtgraph": the same drawings from pyqtgraph's own items in view coordinates (InfiniteLine
  with its label, PlotCurveItem, a rectangle item, TextItem);
- "none": no drawings (the floor).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench import frames as fr

KINDS = ("level", "trend", "ray", "box", "note")


def _points(n: int, rows: int, y_of: Any) -> list[tuple[str, list[tuple[float, float]]]]:
    """n drawings inside the data's x span, on the line's y scale, deterministic."""
    rng = np.random.default_rng(14)
    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        count = 1 if kind in ("level", "note") else 2
        rows_at = sorted(rng.integers(0, rows, count))
        out.append((kind, [(fr.X0 + fr.DX * r, float(y_of(r))) for r in rows_at]))
    return out


def _pyqtgraph_items(plot: Any, kind: str, points: list[tuple[float, float]]) -> None:
    import pyqtgraph as pg
    from PySide6.QtWidgets import QGraphicsRectItem

    pen = pg.mkPen("#b39ddb")
    if kind == "level":
        plot.addItem(pg.InfiniteLine(pos=points[0][1], angle=0, pen=pen, label="level",
                                     labelOpts={"position": 0.9}), ignoreBounds=True)
    elif kind in ("trend", "ray"):
        (x0, y0), (x1, y1) = points
        if kind == "ray" and x1 != x0:  # far past the data: clipped by the view
            x1, y1 = x0 + (x1 - x0) * 50, y0 + (y1 - y0) * 50
        plot.addItem(pg.PlotCurveItem([x0, x1], [y0, y1], pen=pen), ignoreBounds=True)
    elif kind == "box":
        (x0, y0), (x1, y1) = points
        rect = QGraphicsRectItem(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
        rect.setPen(pen)
        rect.setBrush(pg.mkBrush(179, 157, 219, 40))
        plot.addItem(rect, ignoreBounds=True)
        text = pg.TextItem(f"{(y1 - y0) / y0 * 100:+.2f}%", anchor=(0, 1), border=pen,
                           fill=pg.mkBrush(19, 23, 34, 200))
        text.setPos(min(x0, x1), max(y0, y1))
        plot.addItem(text, ignoreBounds=True)
    else:
        text = pg.TextItem("note", anchor=(0, 1), border=pen, fill=pg.mkBrush(19, 23, 34, 200))
        text.setPos(*points[0])
        plot.addItem(text, ignoreBounds=True)


def drawings(contender: str, n: int, frames: int, size: tuple[int, int],
             rows: int = 10_000) -> dict:
    import pyqtgraph as pg

    from models.drawings import DrawingBook, make_drawing
    from models.lod import MinMaxPyramid
    from ui.charts.axes import UtcDateAxisItem
    from ui.charts.drawing_items import DrawingLayer
    from ui.charts.lod_item import LodCurveItem
    from ui.charts.viewbox import PromptViewBox

    out: dict[str, Any] = {"contender": contender, "n": n, "plots": 4, "rows": rows,
                           "size": list(size)}
    x, y = fr.line_data(rows)
    y = y - y.min() + 100.0  # prices > 0
    t0 = time.perf_counter()
    qapp = fr.app()
    w = pg.GraphicsLayoutWidget()
    w.resize(*size)
    plots: dict[str, Any] = {}
    first = None
    for row in range(4):
        plot = w.addPlot(row=row, col=0, viewBox=PromptViewBox(),
                         axisItems={"bottom": UtcDateAxisItem()})
        plot.addItem(LodCurveItem(MinMaxPyramid.build(x, y)))
        plot.enableAutoRange(y=True)
        plot.setAutoVisible(y=True)
        if first is None:
            first = plot
        else:
            plot.setXLink(first)
        plots[f"a{row}"] = plot
    assets = list(plots)
    placed = _points(n, rows, lambda r: y[r])
    layer = None
    if contender == "rotor":
        book = DrawingBook()
        for i, (kind, points) in enumerate(placed):
            book.add(make_drawing(assets[i % 4], kind, points,
                                  label="note" if kind == "note" else ""))
        layer = DrawingLayer(book, w.scene(), w, lambda: fr.DX)
        layer.attach(plots, log=False)
    elif contender == "pyqtgraph":
        for i, (kind, points) in enumerate(placed):
            _pyqtgraph_items(plots[assets[i % 4]], kind, points)
    elif contender != "none":
        raise ValueError(f"unknown contender {contender!r}")
    w.show()
    assert first is not None
    vb = first.getViewBox()

    def set_range(a: float, b: float) -> None:
        vb.setXRange(fr.X0 + fr.DX * a, fr.X0 + fr.DX * b, padding=0)

    ranges = fr.sweep("out", rows, frames, "line")
    set_range(*ranges[0])
    fr.settle(qapp)
    out["setup_to_first_paint_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    out.update(fr.run_sweep(qapp, set_range, ranges))
    if layer is not None:
        layer.close()
    w.close()
    return out
