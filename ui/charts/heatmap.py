"""A row × time heatmap with a diverging colour map centred on zero (red below, green above)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QTransform

from ui import theme


def diverging_colormap() -> pg.ColorMap:
    # Red for negative (shorts paying), the background's shade at zero, green for positive
    # (longs paying), in the current theme.
    down, up = QColor(theme.DOWN), QColor(theme.UP)
    return pg.ColorMap(pos=[0.0, 0.5, 1.0],
                       color=[(down.red(), down.green(), down.blue()), theme.HEATMAP_ZERO,
                              (up.red(), up.green(), up.blue())])


class HeatmapItem(pg.ImageItem):
    """Rows are categories (venues), columns are time buckets of equal width."""

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.setLookupTable(diverging_colormap().getLookupTable(nPts=256))
        self.limit = 1.0
        #: hover text for a cell: describe(bucket start in s, row, value) (None: no hover text)
        self.describe: Callable[[float, int, float], str] | None = None
        self.matrix = np.empty((0, 0))  # the values as given (NaN: no data)
        self.x0_s = 0.0
        self.step_s = 1.0

    def color_at(self, value: float) -> tuple[int, int, int]:
        """The cell colour drawn for `value` (NaN: the zero colour), as (r, g, b)."""
        lut = self.lut
        if lut is None or not len(lut):
            return (0, 0, 0)
        shown = 0.0 if not np.isfinite(value) else value
        frac = (min(max(shown, -self.limit), self.limit) + self.limit) / (2 * self.limit)
        r, g, b = lut[min(int(frac * len(lut)), len(lut) - 1)][:3]
        return int(r), int(g), int(b)

    def value_at(self, x_s: float, row: int) -> float:
        """The value of `row` in the bucket under data-x `x_s` (NaN outside the grid)."""
        col = int(np.floor((x_s - self.x0_s) / self.step_s))
        if not (0 <= row < self.matrix.shape[0] and 0 <= col < self.matrix.shape[1]):
            return float("nan")
        return float(self.matrix[row, col])

    def hoverEvent(self, event) -> None:
        """The cell under the mouse, in words (its provenance comes with the describer)."""
        if self.describe is None or event.isExit():
            return
        pos = event.pos()  # item coordinates: column, row
        col, row = int(np.floor(pos.x())), int(np.floor(pos.y()))
        if 0 <= row < self.matrix.shape[0] and 0 <= col < self.matrix.shape[1]:
            start = self.x0_s + col * self.step_s
            self.setToolTip(self.describe(start, row, float(self.matrix[row, col])))

    def set_grid(self, x0_s: float, step_s: float, matrix: np.ndarray) -> None:
        """matrix[row, col]: value of row `row` in the bucket starting at x0 + col × step."""
        self.matrix, self.x0_s, self.step_s = matrix, float(x0_s), float(step_s)
        if matrix.size == 0:
            self.clear()
            return
        finite = matrix[np.isfinite(matrix)]
        self.limit = float(np.max(np.abs(finite))) if finite.size else 1.0
        self.limit = max(self.limit, 1e-9)
        # NaN (no data) shows as the zero colour rather than a false extreme.
        shown = np.where(np.isfinite(matrix), matrix, 0.0)
        self.setImage(shown, levels=(-self.limit, self.limit), autoLevels=False)
        transform = QTransform()
        transform.translate(x0_s, 0.0)
        transform.scale(step_s, 1.0)
        self.setTransform(transform)
