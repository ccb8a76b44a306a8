"""Colours and pyqtgraph defaults: a dark chart theme that keeps many series distinguishable."""

from __future__ import annotations

import pyqtgraph as pg

from models import assets as _assets
from models import venues as _venues
from ui.charts.grid import GridLinesItem

BACKGROUND = "#131722"
PANEL = "#1b2030"
FOREGROUND = "#d1d4dc"
GRID_ALPHA = 0.12
MUTED = "#787b86"
UP = "#26a69a"
DOWN = "#ef5350"
WARNING = "#f5c542"
ERROR = "#ef5350"
OK = "#26a69a"


def asset_color(stem: str) -> str:
    """From the asset table; a neutral default for an asset it does not know (no KeyError)."""
    return _assets.asset_color(stem)


def venue_color(venue: str) -> str:
    """From the venue registry; a neutral default for a venue it does not know (no KeyError)."""
    return _venues.venue_color(venue)


# Derived dicts, kept while panels still index them; prefer the functions above.
ASSET_COLORS: dict[str, str] = {stem: a.color for stem, a in _assets.ASSETS.items()}
VENUE_COLORS: dict[str, str] = {v.key: v.color for v in _venues.VENUES}
DEFAULT_SERIES_COLOR = _venues.DEFAULT_VENUE_COLOR  # the same neutral grey as the asset table's

_configured = False


def configure_pyqtgraph() -> None:
    global _configured
    if _configured:
        return
    # Width-1 cosmetic pens only: width > 1 is ~10x slower to stroke (docs/performance.md).
    pg.setConfigOptions(background=BACKGROUND, foreground=FOREGROUND, antialias=True,
                        useOpenGL=False)
    _configured = True


def pen(color: str, width: float = 1.0, style: object = None) -> object:
    p = pg.mkPen(color, width=width)
    p.setCosmetic(True)
    if style is not None:
        p.setStyle(style)
    return p


STYLESHEET = f"""
QMainWindow, QDockWidget, QWidget {{ background: {BACKGROUND}; color: {FOREGROUND}; }}
QDockWidget::title {{ background: {PANEL}; padding: 4px 8px; }}
QToolButton, QPushButton, QComboBox {{ background: {PANEL}; border: 1px solid #2a2e39;
    padding: 2px 8px; border-radius: 3px; }}
QToolButton:checked {{ background: #2962ff; border-color: #2962ff; color: white; }}
QStatusBar {{ background: {PANEL}; }}
QStatusBar QLabel {{ padding: 0 6px; }}
QTableView, QTableWidget {{ gridline-color: #2a2e39; background: {BACKGROUND};
    alternate-background-color: #171b26; }}
QHeaderView::section {{ background: {PANEL}; color: {FOREGROUND}; border: 0;
    padding: 3px 6px; }}
QCheckBox {{ spacing: 4px; }}
QLabel#banner {{ background: #5c4a00; color: #ffe082; padding: 4px 10px; font-weight: bold; }}
QMenu {{ background: {PANEL}; color: {FOREGROUND}; }}
QMenu::item:selected {{ background: #2962ff; }}
"""


def legend(plot: pg.PlotItem, columns: int = 3) -> pg.LegendItem:
    """A compact legend in the plot's top-left corner: entries in `columns`, on a translucent
    panel, so it covers a strip of the chart rather than a tall block of its lines."""
    return plot.addLegend(offset=(4, 2), labelTextColor=FOREGROUND, colCount=columns,
                          brush=pg.mkBrush(19, 23, 34, 190), verSpacing=-6, horSpacing=10)


def grid(plot: pg.PlotItem) -> None:
    """The faint grid every chart has (see ui/charts/grid.py for why not `showGrid`)."""
    GridLinesItem(plot, FOREGROUND, GRID_ALPHA)
