"""Items drawn across the whole visible range of their view (grid lines, shaded periods)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore


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
