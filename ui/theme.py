"""Colours and pyqtgraph defaults: a dark and a light theme that keep many series distinguishable.

The current theme is a `Palette`. Its colours read as module attributes (`theme.UP`,
`theme.BACKGROUND`, `theme.STYLESHEET` …) at the moment they are used, so whatever is built after
`set_theme` is in the new theme; the window rebuilds its docks on a switch (ui/theme_switch.py).
Asset and venue colours have a variant per theme (models/assets.py, models/venues.py).
tests/ui/test_theme_colors.py checks each theme: every colour a chart draws with contrasts with
its background (WCAG ≥ 3:1), and asset and venue colours stay apart (CIEDE2000).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pyqtgraph as pg

from models import assets as _assets
from models import venues as _venues
from ui.charts.grid import GridLinesItem

DARK_NAME, LIGHT_NAME = "dark", "light"
THEMES = (DARK_NAME, LIGHT_NAME)


@dataclass(frozen=True)
class Palette:
    name: str
    background: str
    panel: str  # dock titles, buttons, the status bar, table headers
    foreground: str
    muted: str
    up: str
    down: str
    warning: str
    error: str
    ok: str
    border: str
    alternate_row: str
    accent: str  # a checked button, the selected menu item
    banner_background: str
    banner_text: str
    legend_brush: tuple[int, int, int, int]  # translucent, behind a legend's entries
    grid_alpha: float
    strong: str  # a line that must stand out from every coloured one (the funding average)
    flip: str  # the gamma flip level
    implied: str  # implied vol (DVOL), the GEX profile's fill colour
    realised: str
    secondary: str  # a second option metric (25Δ butterfly), user levels
    volmex: str
    cme: str  # CME Bitcoin futures among the crypto venues (the basis dock)
    area_fill: tuple[int, int, int, int]  # under a spread or a profile
    down_fill: tuple[int, int, int, int]  # under a negative funding average
    heatmap_zero: tuple[int, int, int]  # the diverging colour map's middle: the background's


DARK = Palette(
    name=DARK_NAME, background="#131722", panel="#1b2030", foreground="#d1d4dc",
    muted="#787b86", up="#26a69a", down="#ef5350", warning="#f5c542", error="#ef5350",
    ok="#26a69a", border="#2a2e39", alternate_row="#171b26", accent="#2962ff",
    banner_background="#5c4a00", banner_text="#ffe082", legend_brush=(19, 23, 34, 190),
    grid_alpha=0.12, strong="#ffffff", flip="#ffca28", implied="#29b6f6", realised="#ffca28",
    secondary="#b39ddb", volmex="#ce93d8", cme="#ff7043", area_fill=(41, 182, 246, 45),
    down_fill=(239, 83, 80, 70), heatmap_zero=(30, 34, 45))

# On white: the darker shades of the same hues (a yellow or a pale grey line vanishes on white).
LIGHT = Palette(
    name=LIGHT_NAME, background="#ffffff", panel="#eef1f6", foreground="#131722",
    muted="#5d606b", up="#00897b", down="#e53935", warning="#b26a00", error="#d32f2f",
    ok="#00897b", border="#c9ced8", alternate_row="#f6f7f9", accent="#2962ff",
    banner_background="#fff1c2", banner_text="#5c4a00", legend_brush=(255, 255, 255, 210),
    grid_alpha=0.16, strong="#131722", flip="#a87500", implied="#0277bd", realised="#a87500",
    secondary="#6a4fb3", volmex="#8e24aa", cme="#d84315", area_fill=(2, 119, 189, 40),
    down_fill=(229, 57, 53, 60), heatmap_zero=(244, 245, 248))

PALETTES = {p.name: p for p in (DARK, LIGHT)}
_current = DARK
_FIELDS = {f.name for f in fields(Palette)}


def palette() -> Palette:
    return _current


def current_theme() -> str:
    return _current.name


def set_theme(name: str) -> bool:
    """Make `name` the current theme (an unknown name is the dark one); True if it changed.
    What is built from now on uses it; pyqtgraph's defaults (new plots' background and axes)
    follow at once."""
    global _current
    new = PALETTES.get(name, DARK)
    changed = new is not _current
    _current = new
    if _configured:
        pg.setConfigOptions(background=new.background, foreground=new.foreground)
    return changed


def __getattr__(name: str) -> Any:
    """`theme.UP`, `theme.BACKGROUND` …: the current palette's colour, read when used."""
    if name.lower() in _FIELDS and name.isupper():
        return getattr(_current, name.lower())
    if name == "STYLESHEET":
        return stylesheet()
    if name == "ASSET_COLORS":
        return {stem: asset_color(stem) for stem in _assets.ASSETS}
    if name == "VENUE_COLORS":
        return {v.key: venue_color(v.key) for v in _venues.VENUES}
    if name == "DEFAULT_SERIES_COLOR":
        return venue_color("")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def asset_color(stem: str) -> str:
    """The asset's colour in the current theme; a neutral default for an asset it does not know
    (no KeyError)."""
    return _assets.asset_color(stem, _current.name)


def venue_color(venue: str) -> str:
    """The venue's colour in the current theme; a neutral default for a venue it does not know
    (no KeyError)."""
    return _venues.venue_color(venue, _current.name)


_configured = False


def configure_pyqtgraph() -> None:
    global _configured
    if _configured:
        return
    # Width-1 cosmetic pens only: width > 1 is ~10x slower to stroke (docs/performance.md).
    pg.setConfigOptions(background=_current.background, foreground=_current.foreground,
                        antialias=True, useOpenGL=False)
    _configured = True


def pen(color: str, width: float = 1.0, style: object = None) -> object:
    p = pg.mkPen(color, width=width)
    p.setCosmetic(True)
    if style is not None:
        p.setStyle(style)
    return p


def stylesheet(p: Palette | None = None) -> str:
    """The widgets' style sheet for palette `p` (default: the current one)."""
    p = p or _current
    return f"""
QMainWindow, QDockWidget, QWidget {{ background: {p.background}; color: {p.foreground}; }}
QDockWidget::title {{ background: {p.panel}; padding: 4px 8px; }}
QToolButton, QPushButton, QComboBox {{ background: {p.panel}; border: 1px solid {p.border};
    padding: 2px 8px; border-radius: 3px; }}
QToolButton:checked {{ background: {p.accent}; border-color: {p.accent}; color: white; }}
QStatusBar {{ background: {p.panel}; }}
QStatusBar QLabel {{ padding: 0 6px; }}
QTableView, QTableWidget {{ gridline-color: {p.border}; background: {p.background};
    alternate-background-color: {p.alternate_row}; }}
QHeaderView::section {{ background: {p.panel}; color: {p.foreground}; border: 0;
    padding: 3px 6px; }}
QCheckBox {{ spacing: 4px; }}
QCheckBox::indicator {{ width: 10px; height: 10px; border: 1px solid {p.muted};
    border-radius: 2px; background: {p.background}; }}
QCheckBox::indicator:checked {{ background: {p.accent}; border-color: {p.accent}; }}
QLabel#banner {{ background: {p.banner_background}; color: {p.banner_text}; padding: 4px 10px;
    font-weight: bold; }}
QMenu {{ background: {p.panel}; color: {p.foreground}; }}
QMenu::item:selected {{ background: {p.accent}; color: white; }}
QToolTip {{ background: {p.panel}; color: {p.foreground}; border: 1px solid {p.border}; }}
"""


def translucent(color: str, alpha: int) -> tuple[int, int, int, int]:
    """`color` (hex) at opacity `alpha` (0-255), for a fill under or behind a series."""
    h = color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha


def _luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c / 255) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_on(rgb: tuple[int, int, int]) -> str:
    """Black or white, whichever reads better on a cell of colour `rgb` (a correlation of
    +1.00 on deep green): one of them always reaches 4.58:1, the theme's own inks may not."""
    fill = _luminance(rgb)
    candidates = ("#ffffff", "#000000")

    def contrast(hex_color: str) -> float:
        h = hex_color.lstrip("#")
        other = _luminance((int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)))
        return (max(fill, other) + 0.05) / (min(fill, other) + 0.05)

    return max(candidates, key=contrast)


def legend(plot: pg.PlotItem, columns: int = 3) -> pg.LegendItem:
    """A compact legend in the plot's top-left corner: entries in `columns`, on a translucent
    panel, so it covers a strip of the chart rather than a tall block of its lines."""
    return plot.addLegend(offset=(4, 2), labelTextColor=_current.foreground, colCount=columns,
                          brush=pg.mkBrush(*_current.legend_brush), verSpacing=-6, horSpacing=10)


def grid(plot: pg.PlotItem) -> None:
    """The faint grid every chart has (see ui/charts/grid.py for why not `showGrid`)."""
    GridLinesItem(plot, _current.foreground, _current.grid_alpha)
