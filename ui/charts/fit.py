"""Chart furniture that gives way in a narrow dock (docs/architecture.md, "A chart item").

pyqtgraph makes a plot's title as wide as its text: two long titles side by side made the
rotation dock's chart 760 px wide in a 640 px dock, and its right column (the correlation
matrix's last asset) was cut off. Titles set here may be clipped instead; keep them short.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt


def set_title(plot: pg.PlotItem, text: str, size: str = "9pt") -> None:
    """The plot's title, which never widens the plot (narrower than its text, it is clipped)."""
    label = plot.titleLabel
    if not getattr(label, "_gives_way", False):
        label.updateMin = lambda: _min_height_only(label)  # LabelItem calls it on every resize
        label._gives_way = True
        label.setFlag(label.GraphicsItemFlag.ItemClipsChildrenToShape)
    plot.setTitle(text, size=size)


def _min_height_only(label: pg.LabelItem) -> None:
    height = label.itemRect().height()
    label.setMinimumWidth(0)
    label.setMinimumHeight(height)
    label._sizeHint = {
        Qt.SizeHint.MinimumSize: (0, height),
        Qt.SizeHint.PreferredSize: (label.itemRect().width(), height),
        Qt.SizeHint.MaximumSize: (-1, -1),
        Qt.SizeHint.MinimumDescent: (0, 0),
    }
    label.updateGeometry()


def legend_share(legend: pg.LegendItem, plot: pg.PlotItem) -> float:
    """The part of the plot's view the legend covers (0 when hidden)."""
    if legend is None or not legend.isVisible():
        return 0.0
    view = plot.vb.sceneBoundingRect()
    area = view.width() * view.height()
    covered = legend.sceneBoundingRect().intersected(view)
    return covered.width() * covered.height() / area if area > 0 else 0.0
