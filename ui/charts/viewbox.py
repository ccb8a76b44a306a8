"""A ViewBox that applies a new range when it is set, not inside the next paint.

pyqtgraph applies a range lazily in `prepareForPaint()`, which runs inside the paint event; the
new transform then makes the items report changed bounds, which queues an auto-range and a second
full paint (docs/performance.md, S1). Settling range, auto-range and transform at
once, before the paint event, makes one pan cost one paint, also with y auto-ranged to the
visible data (`setAutoVisible(y=True)`, as the price charts do).
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg

_SETTLE_ROUNDS = 3  # range -> transform -> item bounds -> auto range -> transform: 2 suffice


class PromptViewBox(pg.ViewBox):
    def __init__(self, *args: Any, enableMenu: bool = False, **kwargs: Any) -> None:
        # Rotor's charts show no pyqtgraph context menu; not building one saves ~2.5 ms a chart.
        super().__init__(*args, enableMenu=enableMenu, **kwargs)

    def setRange(self, *args: Any, **kwargs: Any) -> None:
        super().setRange(*args, **kwargs)
        for _ in range(_SETTLE_ROUNDS):
            self.prepareForPaint()
            if not (self._autoRangeNeedsUpdate or self._matrixNeedsUpdate):
                break
