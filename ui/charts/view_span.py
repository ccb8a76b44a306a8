"""Items drawn across the whole visible range of their view (grid lines, shaded periods)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtGui


class ViewSpanItem(pg.GraphicsObject):
    """Bounded by the view's visible rectangle, and repainted whenever it pans, zooms or resizes.
    Add it with `ignoreBounds=True`: it follows the range, it must not set it."""

    def viewTransformChanged(self) -> None:
        """pyqtgraph: the view's range or size changed."""
        super().viewTransformChanged()  # drops the cached viewRect()
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        view = self.viewRect()
        return QtCore.QRectF() if view is None else QtCore.QRectF(view).normalized()

    def backdrop(self) -> QtGui.QColor | None:
        """The opaque colour under the plot (its view box's background, else the view's), or
        None when it is not one solid colour."""
        vb = self.getViewBox()
        if vb is not None and vb.state.get("background") is not None:
            brush = vb.background.brush()
        else:
            view = self.getViewWidget()
            brush = view.backgroundBrush() if view is not None else None
        if brush is None or brush.style() != QtCore.Qt.BrushStyle.SolidPattern \
                or brush.color().alpha() != 255:
            return None
        return brush.color()


def blended(color: QtGui.QColor, alpha: float, backdrop: QtGui.QColor | None) -> QtGui.QColor:
    """`color` at `alpha` over `backdrop`, as one opaque colour (translucent when there is no
    solid backdrop). Qt's raster engine fills and strokes opaque colours 5-25x faster than
    translucent ones here (docs/performance.md, issue 16)."""
    out = QtGui.QColor(color)
    if backdrop is None:
        out.setAlphaF(alpha)
        return out
    return QtGui.QColor(*(round(a * alpha + b * (1.0 - alpha)) for a, b in
                          ((out.red(), backdrop.red()), (out.green(), backdrop.green()),
                           (out.blue(), backdrop.blue()))))
