"""Colours and pyqtgraph defaults: a dark chart theme that keeps many series distinguishable."""

from __future__ import annotations

import pyqtgraph as pg

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

ASSET_COLORS = {
    "btc": "#f7931a",
    "eth": "#8c8cff",
    "spx": "#4fc3f7",
    "ndx": "#00bfa5",
    "gold": "#ffd54f",
    "silver": "#cfd8dc",
    "dxy": "#bcaaa4",
    "vix": "#ff7043",
}

VENUE_COLORS = {
    "binance": "#f0b90b",
    "bybit": "#e86bd0",  # not orange: it would read as Binance or as BTC
    "okx": "#e0e0e0",
    "deribit": "#29b6f6",
    "hyperliquid": "#7ee0c4",
}

DEFAULT_SERIES_COLOR = "#b0bec5"


def venue_color(venue: str) -> str:
    """A venue's colour; a venue without one gets a neutral default instead of a KeyError."""
    return VENUE_COLORS.get(venue, DEFAULT_SERIES_COLOR)


def asset_color(stem: str) -> str:
    from models.assets import asset_color as table_color

    return table_color(stem)


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
