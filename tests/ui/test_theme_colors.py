"""Both themes keep series apart and readable: every pair of asset colours, of venue colours and of
colours drawn in one chart differs by a minimum colour difference, and every colour a chart draws
contrasts with the theme's background.

The formulas are written out here from their textbooks, not taken from the app: sRGB → CIE XYZ
(D65) → CIELAB (IEC 61966-2-1, CIE 15), CIE76 ΔE*ab, CIEDE2000 (Sharma, Wu & Dalal 2005) and
WCAG 2 relative luminance and contrast ratio.
"""

from __future__ import annotations

import itertools
import math

import pytest

from models.assets import ASSETS
from models.catalog import BASIS_VENUES
from models.venues import VENUES
from ui import theme

MIN_DELTA_E_2000 = 12.0  # well past "just noticeable" (~2): two lines read as two colours
MIN_DELTA_E_76 = 18.0
MIN_CONTRAST = 3.0  # WCAG 2's minimum for graphical objects (success criterion 1.4.11)


def _srgb(hex_color: str) -> tuple[float, float, float]:
    h = hex_color.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_color: str) -> float:
    r, g, b = (_linear(c) for c in _srgb(hex_color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def lab(hex_color: str) -> tuple[float, float, float]:
    r, g, b = (_linear(c) for c in _srgb(hex_color))
    x = 0.4124 * r + 0.3576 * g + 0.1805 * b
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = 0.0193 * r + 0.1192 * g + 0.9505 * b

    def f(t: float) -> float:
        delta = 6 / 29
        return t ** (1 / 3) if t > delta ** 3 else t / (3 * delta ** 2) + 4 / 29

    fx, fy, fz = f(x / 0.95047), f(y / 1.0), f(z / 1.08883)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e_76(a: str, b: str) -> float:
    return math.dist(lab(a), lab(b))


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean ** 7 / (c_mean ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dl, dc = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dh = 0.0
    else:
        dh = h2p - h1p
        if dh > 180:
            dh -= 360
        elif dh < -180:
            dh += 360
    d_big_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        h_mean = (h1p + h2p + 360) / 2
    else:
        h_mean = (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_mean - 30)) + 0.24 * math.cos(math.radians(2 * h_mean))
         + 0.32 * math.cos(math.radians(3 * h_mean + 6))
         - 0.20 * math.cos(math.radians(4 * h_mean - 63)))
    d_theta = 30 * math.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_mean ** 7 / (cp_mean ** 7 + 25 ** 7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (d_big_h / s_h) ** 2
                     + r_t * (dc / s_c) * (d_big_h / s_h))


def delta_e_2000(a: str, b: str) -> float:
    return ciede2000(lab(a), lab(b))


# -- the formulas against published values ----------------------------------------------------

@pytest.mark.parametrize(("lab1", "lab2", "expected"), [
    # Sharma, Wu & Dalal (2005), table 1, pairs 1, 7, 17 and 25
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
])
def test_ciede2000_matches_the_published_test_pairs(lab1, lab2, expected):
    assert ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)


def test_lab_and_contrast_match_known_values():
    assert lab("#ffffff") == pytest.approx((100.0, 0.0, 0.0), abs=0.02)
    assert lab("#000000") == pytest.approx((0.0, 0.0, 0.0), abs=0.01)
    assert lab("#ff0000") == pytest.approx((53.24, 80.09, 67.20), abs=0.05)  # CIE red, D65
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


# -- the themes -----------------------------------------------------------------------------

def _venue_colors(name: str) -> dict[str, str]:
    """One colour per venue a trader sees: Binance spot and futures are one venue (one label)."""
    colors: dict[str, str] = {}
    for venue in VENUES:
        colors.setdefault(venue.label, theme.venue_color(venue.key))
    return colors


@pytest.fixture(params=theme.THEMES)
def palette(request):
    theme.set_theme(request.param)
    yield theme.palette()
    theme.set_theme(theme.DARK_NAME)


def _groups(p: theme.Palette) -> dict[str, dict[str, str]]:
    return {
        "assets": {stem: theme.asset_color(stem) for stem in ASSETS},
        "venues": _venue_colors(p.name),
        # the volatility chart's three lines
        "volatility": {"implied": p.implied, "realised": p.realised, "volmex": p.volmex},
        # the price chart's levels and the options dock's lines
        "levels": {"flip": p.flip, "call wall": p.up, "put wall": p.down, "user": p.secondary,
                   "spot": p.foreground},
        "up and down": {"up": p.up, "down": p.down},
        # the basis dock: the venues with dated futures and CME
        "basis": {**{v: theme.venue_color(v) for v in BASIS_VENUES}, "cme": p.cme},
    }


def test_each_theme_keeps_every_pair_apart(palette):
    close = []
    for group, colors in _groups(palette).items():
        for (a, ca), (b, cb) in itertools.combinations(colors.items(), 2):
            d2000, d76 = delta_e_2000(ca, cb), delta_e_76(ca, cb)
            if d2000 < MIN_DELTA_E_2000 or d76 < MIN_DELTA_E_76:
                close.append(f"{group}: {a} {ca} vs {b} {cb}: ΔE00 {d2000:.1f}, ΔE76 {d76:.1f}")
    assert not close, f"{palette.name} theme:\n" + "\n".join(close)


def test_each_theme_draws_every_colour_readable_on_its_background(palette):
    inks = {f: getattr(palette, f) for f in ("foreground", "muted", "up", "down", "warning",
                                             "error", "ok", "strong", "flip", "implied",
                                             "realised", "secondary", "volmex", "cme")}
    for colors in _groups(palette).values():
        inks.update(colors)
    inks["unknown asset"] = theme.asset_color("an-asset-nobody-listed")
    inks["unknown venue"] = theme.venue_color("a-venue-nobody-registered")
    faint = [f"{name} {color}: {contrast_ratio(color, palette.background):.2f}:1"
             for name, color in inks.items()
             if contrast_ratio(color, palette.background) < MIN_CONTRAST]
    assert not faint, f"{palette.name} theme on {palette.background}:\n" + "\n".join(faint)


def test_the_light_theme_has_its_own_variants_where_the_dark_ones_vanish_on_white():
    """Gold (#ffd54f), silver (#cfd8dc) and OKX (#e0e0e0) read on dark but not on white."""
    assert contrast_ratio(ASSETS["gold"].color, theme.LIGHT.background) < MIN_CONTRAST
    theme.set_theme(theme.LIGHT_NAME)
    try:
        assert theme.asset_color("gold") != ASSETS["gold"].color
        assert contrast_ratio(theme.asset_color("gold"), theme.BACKGROUND) >= MIN_CONTRAST
        assert contrast_ratio(theme.venue_color("okx"), theme.BACKGROUND) >= MIN_CONTRAST
        assert theme.STRONG != "#ffffff"  # the funding average is not drawn white on white
    finally:
        theme.set_theme(theme.DARK_NAME)
    assert theme.asset_color("gold") == ASSETS["gold"].color


def test_matrix_cell_text_reads_on_every_cell_colour(palette, qapp):
    """A correlation's text on its heat-map cell: the foreground on a pale cell, the background's
    shade on a deep one (a +1.00 on the dark theme's green was 2.0:1 in the foreground)."""
    from ui.charts.heatmap import HeatmapItem

    cells = HeatmapItem()
    cells.limit = 1.0
    worst = min(
        (contrast_ratio(theme.text_on(rgb), "#{:02x}{:02x}{:02x}".format(*rgb)), value)
        for value in [v / 20 for v in range(-20, 21)]
        for rgb in [cells.color_at(value)])
    assert worst[0] >= 4.5, f"{palette.name}: {worst[0]:.2f}:1 at a correlation of {worst[1]:+.2f}"
