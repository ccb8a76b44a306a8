"""The trader's drawings on the stacked price plots: one graphics item per drawing, and the layer
that keeps them in step with the `DrawingBook` and places new ones.

An item lives in its view box's pixels (a child of the ViewBox, not of its view group) and is
placed from the drawing's data points through the plot's current transform whenever that
changes (pan, zoom, resize). In log scale pyqtgraph's view y is log10(price): the conversion is
made here, both ways, on every placement and drag, so the book only ever holds prices.
Painting and hit-testing in pixels keeps lines one pixel wide, labels unscaled and the
"near enough to grab" distance the same at every zoom.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import QMenu, QWidget

from models.drawings import (
    BOX,
    KIND_NAMES,
    LEVEL,
    NOTE,
    POINT_COUNTS,
    RAY,
    TREND,
    Drawing,
    DrawingBook,
    Point,
    box_numbers,
    make_drawing,
    ray_end,
)
from ui import drawing_dialogs, theme
from ui.charts.crosshair import format_price
from ui.charts.levels import merged_labels

GRAB_PX = 5.0  # how near a line the mouse must be to hover, select or drag it
HANDLE_PX = 7.0  # the side of a selected drawing's point handles
TEXT_PAD = 3.0
PREVIEW_ID = "preview"


def drawing_color(drawing: Drawing) -> str:
    """The drawing's own colour, or the theme's colour for the trader's drawings."""
    return drawing.color or theme.SECONDARY


def level_text(drawing: Drawing) -> str:
    return drawing.label or f"level {format_price(drawing.points[0][1])}"


def clip_segment(a: QPointF, b: QPointF, rect: QRectF) -> QLineF | None:
    """The part of segment a–b inside `rect` (Liang–Barsky), None when none is: a drawing far
    off screen maps to pixel coordinates in the millions, which painters handle badly."""
    x0, y0, dx, dy = a.x(), a.y(), b.x() - a.x(), b.y() - a.y()
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x0 - rect.left()), (dx, rect.right() - x0),
                 (-dy, y0 - rect.top()), (dy, rect.bottom() - y0)):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return QLineF(x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy)


class DrawingItem(pg.GraphicsObject):
    """One drawing on one plot, painted in its view box's pixels."""

    def __init__(self, layer: DrawingLayer, plot: pg.PlotItem, drawing: Drawing) -> None:
        super().__init__()
        self.layer = layer
        self.plot = plot
        self.vb = plot.vb
        self.drawing = drawing
        self.points: tuple[Point, ...] = drawing.points  # shown: the drawing's, or a drag's
        self.selected = False
        self.hovered = False
        #: a level's label as shown (merged with close ones: DrawingLayer.merge_level_labels)
        self.shown_label: str | None = None
        self._drag: tuple[int, tuple[Point, ...]] | None = None  # (handle or -1, start points)
        self._lines: list[QLineF] = []
        self._rect: QRectF | None = None
        self._texts: list[tuple[QRectF, str, str, bool]] = []  # rect, text, colour, panel
        self._handles: list[QPointF] = []
        self._shape = QPainterPath()
        self._bounds = QRectF()
        self.setParentItem(self.vb)
        self.setZValue(40)
        self.refresh()

    # -- data <-> pixels ----------------------------------------------------------------------
    @property
    def log(self) -> bool:
        return self.layer.log

    def to_pixel(self, point: Point) -> QPointF:
        x, price = point
        return self.vb.mapFromView(QPointF(x, math.log10(price) if self.log else price))

    def to_data(self, pixel: QPointF) -> Point:
        view = self.vb.mapToView(pixel)
        return view.x(), (10 ** view.y() if self.log else view.y())

    # -- state --------------------------------------------------------------------------------
    def set_drawing(self, drawing: Drawing) -> None:
        self.drawing = drawing
        if self._drag is None:
            self.points = drawing.points
        self.refresh()

    def set_points(self, points: Sequence[Point]) -> None:
        self.points = tuple(points)
        self.refresh()

    def set_selected(self, on: bool) -> None:
        if on != self.selected:
            self.selected = on
            self.refresh()

    def pixel_points(self) -> list[QPointF]:
        """Where the drawing's points are drawn, in the view box's pixels."""
        return [self.to_pixel(p) for p in self.points]

    # -- geometry -----------------------------------------------------------------------------
    def refresh(self, *_args: object) -> None:
        """Place the drawing from its data points through the plot's current transform."""
        self.prepareGeometryChange()
        self._lines, self._rect, self._texts, self._handles = [], None, [], []
        area = self.vb.rect()
        if area.width() <= 0 or area.height() <= 0:
            self._shape, self._bounds = QPainterPath(), QRectF()
            return
        color = drawing_color(self.drawing)
        pixels = self.pixel_points()
        metrics = self.layer.metrics
        kind = self.drawing.kind
        if kind == LEVEL:
            y = pixels[0].y()
            self._lines.append(QLineF(area.left(), y, area.right(), y))
            text = level_text(self.drawing) if self.shown_label is None else self.shown_label
            if text:  # "" when a level just above carries this one's label too
                width = metrics.horizontalAdvance(text) + 2 * TEXT_PAD
                self._texts.append((QRectF(area.right() - width - 10,
                                           y - metrics.height() - 2, width, metrics.height()),
                                    text, color, False))
        elif kind == NOTE:
            anchor = pixels[0]
            text = self.drawing.label or "note"
            width = metrics.horizontalAdvance(text) + 2 * TEXT_PAD
            self._texts.append((QRectF(anchor.x() + 6, anchor.y() - metrics.height() - 6,
                                       width, metrics.height() + 2), text, color, True))
            self._handles.append(anchor)
        else:
            a, b = pixels
            if kind == RAY:
                x_left, x_right = self.vb.viewRange()[0]
                b_end = self.to_pixel(ray_end(self.points, x_left, x_right, self.log))
                self._lines.append(QLineF(a, b_end))
            elif kind == BOX:
                self._rect = QRectF(a, b).normalized()
                numbers = box_numbers(self.points, self.layer.bar_seconds())
                tone = theme.UP if numbers.change >= 0 else theme.DOWN
                texts = [(numbers.text(), tone)]
                if self.drawing.label:
                    texts.insert(0, (self.drawing.label, color))
                top = self._rect.top()
                above = top - len(texts) * (metrics.height() + 1) >= area.top()
                y = top - len(texts) * (metrics.height() + 1) - 1 if above else top + 2
                for text, text_color in texts:
                    width = metrics.horizontalAdvance(text) + 2 * TEXT_PAD
                    self._texts.append((QRectF(self._rect.left(), y, width, metrics.height()),
                                        text, text_color, True))
                    y += metrics.height() + 1
            else:
                self._lines.append(QLineF(a, b))
            if kind != BOX and self.drawing.label:
                text = self.drawing.label
                width = metrics.horizontalAdvance(text) + 2 * TEXT_PAD
                end = b
                self._texts.append((QRectF(end.x() + 6, end.y() - metrics.height() / 2,
                                           width, metrics.height()), text, color, False))
            self._handles.extend(pixels)
        self._texts = [(self._inside(rect, area), text, text_color, panel)
                       for rect, text, text_color, panel in self._texts]
        clip = area.adjusted(-2, -2, 2, 2)
        self._lines = [c for line in self._lines
                       if (c := clip_segment(line.p1(), line.p2(), clip)) is not None]
        if self._rect is not None:
            self._rect = self._rect.intersected(clip.adjusted(-4, -4, 4, 4)) \
                if not self._rect.intersected(clip).isEmpty() else QRectF()
        self._shape = self._hit_shape()
        self._bounds = self._shape.boundingRect().adjusted(-2, -2, 2, 2)
        self.update()

    @staticmethod
    def _inside(rect: QRectF, area: QRectF) -> QRectF:
        """A text moved into the view when it would run out of it (a note or box near the
        right edge), as long as its drawing is on screen."""
        out = QRectF(rect)
        if out.right() > area.right() - 2 and out.left() < area.right():
            out.moveRight(area.right() - 2)
        if out.left() < area.left() + 2 and out.right() > area.left():
            out.moveLeft(area.left() + 2)
        if out.top() < area.top() + 1 and out.bottom() > area.top():
            out.moveTop(area.top() + 1)
        if out.bottom() > area.bottom() - 1 and out.top() < area.bottom():
            out.moveBottom(area.bottom() - 1)
        return out

    def _hit_shape(self) -> QPainterPath:
        path = QPainterPath()
        for line in self._lines:
            path.moveTo(line.p1())
            path.lineTo(line.p2())
        if self._rect is not None and not self._rect.isEmpty():
            path.addRect(self._rect)
        stroker = QPainterPathStroker()
        stroker.setWidth(2 * GRAB_PX)
        shape = stroker.createStroke(path)
        for rect, _text, _color, _panel in self._texts:
            shape.addRect(rect)
        for handle in self._handles:
            shape.addRect(self._handle_rect(handle).adjusted(-2, -2, 2, 2))
        return shape

    @staticmethod
    def _handle_rect(point: QPointF) -> QRectF:
        half = HANDLE_PX / 2
        return QRectF(point.x() - half, point.y() - half, HANDLE_PX, HANDLE_PX)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    # -- paint --------------------------------------------------------------------------------
    def paint(self, painter: QPainter, *_args: object) -> None:
        color = QColor(drawing_color(self.drawing))
        # Smoothing only where it shows: a slanted line; level lines, boxes and label panels
        # are axis-aligned (and smoothing them cost ~0.4 ms a drawing a frame).
        painter.setRenderHint(QPainter.RenderHint.Antialiasing,
                              self.drawing.kind in (TREND, RAY))
        pen = QPen(color, 2.0 if (self.selected or self.hovered) else 1.0)
        pen.setCosmetic(True)
        if self.drawing.kind == LEVEL:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        for line in self._lines:
            painter.drawLine(line)
        if self._rect is not None and not self._rect.isEmpty():
            fill = QColor(color)
            fill.setAlpha(40)
            painter.setBrush(QBrush(fill))
            painter.drawRect(self._rect)
        painter.setFont(self.layer.font)
        for rect, text, text_color, panel in self._texts:
            back = QColor(theme.BACKGROUND)
            back.setAlpha(200 if panel else 150)  # a label stays readable over the curve
            painter.setPen(QPen(color, 1.0) if panel else Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(back))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.drawRect(rect)
            painter.setPen(QColor(text_color))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        if self.drawing.kind == NOTE:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(color))
            painter.drawEllipse(self._handles[0], 3.0, 3.0)
        if self.selected:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(color, 1.0))
            painter.setBrush(QBrush(QColor(theme.BACKGROUND)))
            for handle in self._handles:
                painter.drawRect(self._handle_rect(handle))

    # -- mouse --------------------------------------------------------------------------------
    def hoverEvent(self, ev) -> None:
        if self.layer.tool or self.drawing.id == PREVIEW_ID:
            return
        hovered = (not ev.isExit()) and ev.acceptDrags(Qt.MouseButton.LeftButton)
        if hovered:
            ev.acceptClicks(Qt.MouseButton.LeftButton)
            ev.acceptClicks(Qt.MouseButton.RightButton)
        if hovered != self.hovered:
            self.hovered = hovered
            self.setCursor(Qt.CursorShape.SizeAllCursor if hovered else Qt.CursorShape.ArrowCursor)
            self.update()

    def mouseClickEvent(self, ev) -> None:
        if self.layer.tool or self.drawing.id == PREVIEW_ID:
            ev.ignore()
            return
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.layer.book.select(self.drawing.id)
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self.layer.book.select(self.drawing.id)
            self.layer.context_menu(self.drawing.id, ev.screenPos().toPoint())
        else:
            ev.ignore()

    def handle_at(self, pixel: QPointF) -> int:
        """The index of the point handle under `pixel`, or -1 (the whole drawing)."""
        if self.drawing.kind in (LEVEL, NOTE):
            return -1
        for i, handle in enumerate(self.pixel_points()):
            if (handle - pixel).manhattanLength() <= HANDLE_PX + 2:
                return i
        return -1

    def dragged_points(self, handle: int, start: Sequence[Point], dx: float,
                       dy: float) -> tuple[Point, ...] | None:
        """The points after a drag by (dx, dy) pixels: one point (a handle) or all; a level
        only changes its price. None when a price would not stay > 0 (linear scale)."""
        out = []
        for i, point in enumerate(start):
            if handle in (-1, i):
                pixel = self.to_pixel(point)
                x, price = self.to_data(QPointF(pixel.x() + dx, pixel.y() + dy))
                if self.drawing.kind == LEVEL:
                    x = point[0]
                if not (math.isfinite(price) and price > 0 and math.isfinite(x)):
                    return None
                out.append((x, price))
            else:
                out.append(point)
        return tuple(out)

    def mouseDragEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self.layer.tool \
                or self.drawing.id == PREVIEW_ID:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self._drag = (self.handle_at(ev.buttonDownPos()), self.drawing.points)
            self.layer.book.select(self.drawing.id)
        if self._drag is None:  # cancelled with Esc: the rest of this drag does nothing
            return
        handle, start = self._drag
        delta = ev.pos() - ev.buttonDownPos()
        moved = self.dragged_points(handle, start, delta.x(), delta.y())
        if moved is not None:
            self.set_points(moved)
        if ev.isFinish():
            self._drag = None
            if self.points != self.drawing.points:
                self.layer.book.move(self.drawing.id, self.points)

    def detach(self) -> None:
        """Off its plot. Unparented first: deleted as a child of a view box that goes with
        its plot, the item would have its Python side called mid-destruction (a crash)."""
        scene = self.scene()
        self.setParentItem(None)
        if scene is not None:
            scene.removeItem(self)

    def cancel_drag(self) -> bool:
        if self._drag is None:
            return False
        self._drag = None
        self.set_points(self.drawing.points)
        return True


class DrawingLayer(QObject):
    """A price panel's drawings: one item per drawing of each shown asset on that asset's plot,
    kept in step with the book; the drawing tool (click, and click again for two points)."""

    #: the tool in use ("" when none), for the tool row's button
    toolChanged = Signal(str)

    def __init__(self, book: DrawingBook, scene: pg.GraphicsScene, owner: QWidget,
                 bar_seconds: Callable[[], float | None]) -> None:
        super().__init__(owner)
        self.book = book
        self.scene = scene
        self.owner = owner
        self.bar_seconds = bar_seconds
        self.log = False
        self.tool = ""
        self._plots: dict[str, pg.PlotItem] = {}
        self.items: dict[str, DrawingItem] = {}
        self._pending: tuple[str, Point] | None = None  # asset, first point of a 2-point kind
        self._preview: DrawingItem | None = None
        self._closed = False
        self.font = QFont()
        self.font.setPointSizeF(8.5)
        self.metrics = QFontMetricsF(self.font)  # measured once, not at every placement
        book.add_listener(self.sync)
        book.add_selection_listener(self._show_selection)
        scene.sigMouseClicked.connect(self._on_click)
        scene.sigMouseMoved.connect(self._on_move)

    def close(self) -> None:
        """The panel goes: stop following the book (it outlives the panel). Once: a panel is
        shut down by its release and again when the window closes."""
        if self._closed:
            return
        self._closed = True
        self.book.remove_listener(self.sync)
        self.book.remove_selection_listener(self._show_selection)
        for signal, slot in ((self.scene.sigMouseClicked, self._on_click),
                             (self.scene.sigMouseMoved, self._on_move)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self.attach({}, self.log)

    # -- plots --------------------------------------------------------------------------------
    def attach(self, plots: Mapping[str, pg.PlotItem], log: bool) -> None:
        """Draw on these plots (asset -> plot; none in compare view). The old plots' items go
        with them."""
        for plot in self._plots.values():
            for signal in (plot.vb.sigTransformChanged, plot.vb.sigResized):
                try:
                    signal.disconnect(self.refresh)
                except (RuntimeError, TypeError):
                    pass
        for item in self.items.values():
            item.detach()
        self.items = {}
        self._drop_preview()
        self._pending = None  # a first point placed on a plot that is gone: start again
        self._plots = dict(plots)
        self.log = log
        for plot in self._plots.values():
            plot.vb.sigTransformChanged.connect(self.refresh)
            plot.vb.sigResized.connect(self.refresh)
        if not self._plots and self.tool:
            self.set_tool("")
        self.sync()

    def refresh(self, vb: object = None) -> None:
        """Place the items again: those of one view box when it moved or resized (x-linked
        plots each report their own), else all (the interval changed)."""
        for item in [*self.items.values(), self._preview]:
            if item is not None and (vb is None or item.vb is vb):
                item.refresh()
        for plot in self._plots.values():
            if vb is None or plot.vb is vb:
                self.merge_level_labels(plot)

    def merge_level_labels(self, plot: pg.PlotItem) -> None:
        """Levels closer on screen than a label share one label, written at the top one
        ("level 70,000 · level 69,800"), as the derived levels do (ui/charts/levels.py)."""
        levels = [i for i in self.items.values() if i.plot is plot and i.drawing.kind == LEVEL]
        rows = [i.pixel_points()[0].y() for i in levels]
        texts = merged_labels([level_text(i.drawing) for i in levels], rows)
        for item, text in zip(levels, texts, strict=True):
            if item.shown_label != text:
                item.shown_label = text
                item.refresh()

    def sync(self) -> None:
        """Items for the book's drawings on the shown plots: new ones made, changed ones
        updated, deleted ones removed."""
        wanted = {d.id: d for d in self.book if d.asset in self._plots}
        for drawing_id in [i for i in self.items if i not in wanted]:
            self.items.pop(drawing_id).detach()
        for drawing_id, drawing in wanted.items():
            item = self.items.get(drawing_id)
            if item is None:
                self.items[drawing_id] = DrawingItem(self, self._plots[drawing.asset], drawing)
            elif item.drawing != drawing or item.drawing.extra != drawing.extra:
                item.set_drawing(drawing)
        for plot in self._plots.values():
            self.merge_level_labels(plot)
        self._show_selection()

    def _show_selection(self) -> None:
        for drawing_id, item in self.items.items():
            item.set_selected(drawing_id == self.book.selected)

    # -- the tool -----------------------------------------------------------------------------
    def set_tool(self, kind: str) -> None:
        """Place a drawing of `kind` with the next click(s) on a plot; "" puts the tool away."""
        if kind and kind not in POINT_COUNTS:
            raise ValueError(f"unknown drawing kind {kind!r}")
        self._pending = None
        self._drop_preview()
        self.tool = kind if self._plots else ""
        for view in self.scene.views():
            view.setCursor(Qt.CursorShape.CrossCursor if self.tool
                           else Qt.CursorShape.ArrowCursor)
        self.toolChanged.emit(self.tool)

    def cancel(self) -> bool:
        """Esc: a drag in progress goes back, else a drawing being placed is dropped."""
        cancelled = any(item.cancel_drag() for item in list(self.items.values()))
        if self.tool:
            self.set_tool("")
            cancelled = True
        return cancelled

    def plot_at(self, scene_pos: QPointF) -> tuple[str, pg.PlotItem] | None:
        for asset, plot in self._plots.items():
            if plot.vb.sceneBoundingRect().contains(scene_pos):
                return asset, plot
        return None

    def data_at(self, plot: pg.PlotItem, scene_pos: QPointF) -> Point:
        view = plot.vb.mapSceneToView(scene_pos)
        return view.x(), (10 ** view.y() if self.log else view.y())

    def _on_click(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        if not self.tool:
            if not ev.isAccepted() and self.plot_at(ev.scenePos()) is not None:
                self.book.select(None)  # a click on an empty part of a plot
            return
        hit = self.plot_at(ev.scenePos())
        if hit is None:
            return
        ev.accept()
        asset, plot = hit
        self.place(asset, self.data_at(plot, ev.scenePos()))

    def place(self, asset: str, point: Point) -> Drawing | None:
        """One click of the tool at `point` on `asset`'s plot: the drawing is added once it has
        all its points (a note asks for its text first)."""
        kind = self.tool
        if not kind or asset not in self._plots or not point[1] > 0:
            return None
        if POINT_COUNTS[kind] == 2 and (self._pending is None or self._pending[0] != asset):
            self._pending = (asset, point)
            self._drop_preview()
            self._preview = DrawingItem(self, self._plots[asset], Drawing(
                PREVIEW_ID, asset, kind, (point, point)))
            return None
        points = [point] if POINT_COUNTS[kind] == 1 else [self._pending[1], point]
        label = ""
        if kind == NOTE:
            text = drawing_dialogs.ask_text(self.owner, "Note", "Text of the note:", "")
            if not text:
                self.set_tool("")
                return None
            label = text
        drawing = self.book.add(make_drawing(asset, kind, points, label=label))
        self.set_tool("")
        self.book.select(drawing.id)
        return drawing

    def _on_move(self, scene_pos: QPointF) -> None:
        if self._preview is None or self._pending is None:
            return
        plot = self._plots.get(self._pending[0])
        if plot is None:
            return
        x, price = self.data_at(plot, scene_pos)
        if math.isfinite(price) and price > 0:
            self._preview.set_points((self._pending[1], (x, price)))

    def _drop_preview(self) -> None:
        if self._preview is not None:
            self._preview.detach()
        self._preview = None

    # -- editing ------------------------------------------------------------------------------
    def context_menu(self, drawing_id: str, at) -> QMenu:
        """The right-click menu of a drawing, shown at `at` (global pixels)."""
        menu = self.edit_menu(drawing_id)
        menu.popup(at)
        return menu

    def edit_menu(self, drawing_id: str) -> QMenu:
        """Colour…, Label…, Delete for one drawing (deleted with itself once closed)."""
        drawing = self.book.get(drawing_id)
        menu = QMenu(self.owner)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if drawing is not None:
            menu.addSection(KIND_NAMES[drawing.kind])
        book, owner = self.book, self.owner
        menu.addAction("Colour…", lambda: drawing_dialogs.edit_color(book, drawing_id, owner))
        menu.addAction("Label…", lambda: drawing_dialogs.edit_label(book, drawing_id, owner))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.book.delete(drawing_id)
                       if self.book.get(drawing_id) else None)
        return menu

