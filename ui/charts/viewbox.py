"""A ViewBox that applies a new range when it is set, not inside the next paint.

pyqtgraph applies a range lazily in `prepareForPaint()`, which runs inside the paint event; the
items' and the auto-range's reactions to the new transform then schedule a second full paint
(shared/performance.md, slow path S1). Applying it at once, before the paint event, makes one
pan cost one paint.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg


class PromptViewBox(pg.ViewBox):
    def __init__(self, *args: Any, enableMenu: bool = False, **kwargs: Any) -> None:
        # Rotor's charts show no pyqtgraph context menu; not building one saves ~2.5 ms a chart.
        super().__init__(*args, enableMenu=enableMenu, **kwargs)

    def setRange(self, *args: Any, **kwargs: Any) -> None:
        super().setRange(*args, **kwargs)
        self.prepareForPaint()

    def updateAutoRange(self) -> None:
        super().updateAutoRange()
        # The auto range may have moved the view again: apply that now too.
        if self._matrixNeedsUpdate:
            self.updateMatrix()
