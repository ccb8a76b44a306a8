"""The one table of assets: what a trader calls each one, its ticker, colour, class and order.

Every view, export and analytic that names an asset reads it from here, so a new asset is one row.
Colours are plain hex strings (no Qt here); `ui.theme` turns them into pens. Each asset has one
colour per theme: `color` reads on the dark background, `light_color` on the light one (a yellow
or a pale grey vanishes on white; tests/ui/test_theme_colors.py keeps every pair apart and
every colour readable in both).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AssetClass(StrEnum):
    """Decides how returns are measured: crypto trades 24/7 (rolling windows from the last
    trade), the others trade in exchange sessions (session closes, counted in sessions)."""

    CRYPTO = "crypto"
    EQUITY_INDEX = "equity index"
    METAL = "metal"
    FX = "fx"
    VOLATILITY = "volatility"
    EXCHANGE_TRADED = "exchange-traded"  # a user's stock, ETF, index or future (models.symbols)

    @property
    def trades_24_7(self) -> bool:
        return self is AssetClass.CRYPTO


@dataclass(frozen=True)
class Asset:
    stem: str  # the id stem: "btc" in btc.1h, funding.binance.btc
    name: str  # "S&P 500"
    short: str  # for tight labels: "S&P 500", "DXY"
    ticker: str  # for matrix headers: "SPX", "XAU"
    color: str  # hex, on the dark theme
    asset_class: AssetClass
    light_color: str = ""  # hex, on the light theme ("": the dark one)


_DEFAULT_COLOR = "#b0bec5"
_DEFAULT_LIGHT_COLOR = "#757575"

# In display order.
ASSETS: dict[str, Asset] = {a.stem: a for a in (
    Asset("btc", "Bitcoin", "BTC", "BTC", "#f7931a", AssetClass.CRYPTO, "#e06f00"),
    Asset("eth", "Ether", "ETH", "ETH", "#8c8cff", AssetClass.CRYPTO, "#5c5ce6"),
    Asset("spx", "S&P 500", "S&P 500", "SPX", "#4fc3f7", AssetClass.EQUITY_INDEX, "#0288d1"),
    Asset("ndx", "Nasdaq 100", "Nasdaq 100", "NDX", "#00bfa5", AssetClass.EQUITY_INDEX, "#00897b"),
    # the CME E-mini futures on the two indices: they trade ~23 h a weekday (CME Globex)
    Asset("es", "E-mini S&P 500", "ES", "ES", "#ff99dd", AssetClass.EQUITY_INDEX, "#dd22cc"),
    Asset("nq", "E-mini Nasdaq 100", "NQ", "NQ", "#88aa00", AssetClass.EQUITY_INDEX, "#555500"),
    Asset("gold", "Gold", "Gold", "XAU", "#ffd54f", AssetClass.METAL, "#a67c00"),
    Asset("silver", "Silver", "Silver", "XAG", "#cfd8dc", AssetClass.METAL, "#607d8b"),
    Asset("dxy", "US Dollar Index", "DXY", "DXY", "#bcaaa4", AssetClass.FX, "#8d6e63"),
    Asset("vix", "VIX", "VIX", "VIX", "#ff7043", AssetClass.VOLATILITY, "#d84315"),
)}

#: assets with perpetual swaps, options and DVOL
CRYPTO_STEMS: tuple[str, ...] = tuple(s for s, a in ASSETS.items() if a.asset_class.trades_24_7)
#: the futures that stand for a cash index on intraday views: they trade ~23 h a weekday where
#: the index has 6.5 h of regular hours (the cash index stays choosable)
INTRADAY_FUTURES: dict[str, str] = {"spx": "es", "ndx": "nq"}


def assets_for_interval(stems: list[str], intraday: bool) -> list[str]:
    """The assets to show at an intraday interval (`intraday`) or a daily/weekly one: each
    cash index shown without its future becomes the future on intraday views, and each future
    shown without its index the index on daily ones; a pair shown together stays. Order kept."""
    swap = INTRADAY_FUTURES if intraday else {f: c for c, f in INTRADAY_FUTURES.items()}
    out: list[str] = []
    for stem in stems:
        other = swap.get(stem)
        new = other if other is not None and other not in stems else stem
        if new not in out:
            out.append(new)
    return out


#: what BTC is compared with in the rotation analysis
ROTATION_PEERS: tuple[str, ...] = ("spx", "ndx", "gold", "silver", "dxy")

# The user's symbols (models/symbols.py), swapped whole by `set_user_assets`: the lookups below
# find them after the built-ins; ASSETS itself stays the fixed table.
_user_assets: dict[str, Asset] = {}


def set_user_assets(assets: list[Asset]) -> None:
    global _user_assets
    clash = [a.stem for a in assets if a.stem in ASSETS]
    if clash:
        raise ValueError(f"user symbols may not reuse built-in stems: {clash}")
    _user_assets = {a.stem: a for a in assets}


def find_asset(stem: str) -> Asset | None:
    """A built-in asset, else one of the user's symbols, else None."""
    return ASSETS.get(stem) or _user_assets.get(stem)


def asset(stem: str) -> Asset:
    found = find_asset(stem)
    if found is None:
        raise KeyError(f"unknown asset {stem!r}")
    return found


def short_name(stem: str) -> str:
    found = find_asset(stem)
    return found.short if found else stem.upper()


def ticker(stem: str) -> str:
    found = find_asset(stem)
    return found.ticker if found else stem.upper()


def prose_name(stem: str) -> str:
    """The name inside a sentence ("BTC vs gold", "BTC vs the S&P 500"): metals are common
    nouns, so lower case; the rest keep their short name."""
    found = find_asset(stem)
    if found is None:
        return stem.upper()
    return found.short.lower() if found.asset_class is AssetClass.METAL else found.short


def asset_color(stem: str, theme: str = "dark") -> str:
    """The asset's colour on `theme` ("dark" or "light"), or a neutral default for one the table
    does not know."""
    found = find_asset(stem)
    if theme == "light":
        return (found.light_color or found.color) if found else _DEFAULT_LIGHT_COLOR
    return found.color if found else _DEFAULT_COLOR
