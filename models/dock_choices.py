"""Each dock's persisted choices and their defaults, in one table the panels and the headless
export (`main.py export-view`) both read: a choice missing from a workspace means what the dock
shows when it was never set.

Keys are the ones a panel saves under its settings group (`prices/interval`, `vol/window` …),
which a workspace file's `"docks"` section repeats. The price chart's range is saved as `range`
(older versions' key); `range_key` (the panel's attribute) is read as the same choice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from models.analyses import (
    DEFAULT_DELTA,
    DEFAULT_DRAWDOWN,
    DEFAULT_POSITIONING,
    DEFAULT_RV_METHOD,
    ROTATION_WINDOWS,
)
from models.catalog import PRICE_INTERVALS, PRICE_STEMS
from models.indicator_lines import INDICATORS
from models.liquidations import BURST_THRESHOLDS_MUSD, DEFAULT_BURST_MUSD
from models.squeeze import SqueezeThresholds

#: the price chart's range buttons: days shown, ending at the data's end
RANGES_DAYS = {"1W": 7, "1M": 30, "3M": 91, "6M": 182, "1Y": 365, "2Y": 730, "5Y": 1826}
DEFAULT_PRICE_ASSETS = ("btc", "spx", "ndx", "gold")
#: the same at an intraday interval (the default 1h): the index futures stand for the cash
#: indices (models/assets.py: assets_for_interval)
DEFAULT_INTRADAY_PRICE_ASSETS = ("btc", "es", "nq", "gold")
PRICE_STYLES = ("line", "candles")
PRICE_MODES = ("stacked", "compare")
#: the funding dock's window buttons
FUNDING_WINDOWS_DAYS = {"7D": 7, "30D": 30, "90D": 90}
DERIVATIVE_ASSETS = ("btc", "eth")
#: the span the volatility and rotation docks open on, ending at their data's end
VOLATILITY_SPAN_DAYS = 365
ROTATION_SPAN_DAYS = 730

#: the span the squeeze dock opens on, ending at its data's end
SQUEEZE_SPAN_DAYS = 10

#: the liquidations dock's bar intervals (models/liquidations.LIQ_INTERVALS_MS without 5m: a
#: month of 5-minute bars per venue is more rectangles than a dock can show)
LIQUIDATION_INTERVALS = ("15m", "1h", "4h", "1d")

#: the span the basis dock's time plots open on, ending at their data's end
BASIS_SPAN_DAYS = 14

#: the options dock's pages (one row of charts at a time in a short dock)
OPTIONS_PAGES = ("gex", "iv", "skew")


@dataclass(frozen=True)
class Choice:
    """A dock choice: where the window keeps it (a settings key) and its default, whose type is
    the choice's type (a list default means a list of strings)."""

    setting: str
    default: Any


#: Every dock's persisted choices: the settings key the panel (or the derived feed whose shared
#: parameter it shows) reads, and the default. A workspace's "docks" repeats these names; a new
#: choice of a dock is one row here.
DOCK_CHOICES: dict[str, dict[str, Choice]] = {
    "prices": {
        "interval": Choice("prices/interval", "1h"),
        "range_key": Choice("prices/range", "1M"),  # "range" for earlier versions' sake
        "mode": Choice("prices/mode", "stacked"),
        "style": Choice("prices/style", "line"),
        "log": Choice("prices/log", False),
        # the default interval is intraday: what a first start shows
        "assets": Choice("prices/assets", list(DEFAULT_INTRADAY_PRICE_ASSETS)),
        "shade_funding": Choice("prices/shade_funding", True),
        "levels": Choice("prices/levels", True),
        "implied": Choice("prices/implied", False),  # implied-move bands on BTC/ETH
        # intraday, exchange-traded: closed hours squeezed out of x (docs/sessions-gaps.md)
        "compress": Choice("prices/compress", False),
        # the user's symbols are shown unless hidden here (a new one is shown at once)
        "hidden_symbols": Choice("prices/hidden_symbols", []),
        # the indicators (docs/indicators.md): which, on which asset, the VWAP's anchor bar
        "indicators": Choice("prices/indicators", []),
        "indicator_asset": Choice("prices/indicator_asset", "btc"),
        "vwap_anchor_ms": Choice("prices/vwap_anchor_ms", 0),
    },
    "funding": {"asset": Choice("funding/asset", "btc"),
                "window": Choice("funding/window", "30D")},
    "movers": {"drawdown": Choice("movers/drawdown", DEFAULT_DRAWDOWN)},
    "open_interest": {"asset": Choice("oi/asset", "btc")},
    "volatility": {"asset": Choice("vol/asset", "btc"), "window": Choice("vol/window", 30),
                   "rv_method": Choice("vol/rv_method", DEFAULT_RV_METHOD)},
    "options": {"asset": Choice("options/asset", "btc"), "page": Choice("options/page", "gex"),
                "positioning": Choice("options/positioning", DEFAULT_POSITIONING),
                "delta": Choice("options/delta", DEFAULT_DELTA)},
    "rotation": {"window": Choice("rotation/window", 60), "k": Choice("rotation/k", 2.0),
                 "threshold": Choice("rotation/threshold", 0.2)},
    "liquidations": {"asset": Choice("liq/asset", "btc"),
                     "interval": Choice("liq/interval", "1h"),
                     # shared with the price chart's burst markers (ui/derived_feeds.py)
                     "burst_musd": Choice("liq/burst_musd", DEFAULT_BURST_MUSD)},
    # the regime thresholds (models/squeeze.py: SqueezeThresholds, whose defaults these are)
    "squeeze": {"asset": Choice("squeeze/asset", "btc"),
                **{name: Choice(f"squeeze/{name}", value)
                   for name, value in SqueezeThresholds().as_params().items()}},
    "basis": {"asset": Choice("basis/asset", "btc")},
    "sources": {},
}

#: each dock's defaults (what it shows when a choice was never set)
DOCK_DEFAULTS: dict[str, dict[str, Any]] = {
    dock: {name: c.default for name, c in choices.items()}
    for dock, choices in DOCK_CHOICES.items()}

#: key aliases: the settings key on the left, the choice it is
_ALIASES = {"prices": {"range": "range_key"}}
#: a user symbol's stem or a built-in asset's, as series ids spell them
_STEM = re.compile(r"[a-z0-9][a-z0-9_\-]{0,39}")

Limit = Collection[Any] | Callable[[Any], bool]


def allowed_values(symbols: Collection[str] | None = None) -> dict[str, dict[str, Limit]]:
    """What each dock choice may be beyond its type: a collection of values or a predicate.
    `symbols` are the user's symbol stems the price dock may show; None accepts any well-formed
    stem (a workspace is checked before its own symbols are loaded)."""
    from models.derived import RV_WINDOWS
    from models.movers import DRAWDOWN_BASES
    from models.options import DealerPositioning, DeltaConvention
    from models.squeeze import SQUEEZE_LIMITS, WINDOWS_HOURS
    from models.volatility import RvMethod

    if symbols is None:
        assets: Limit = lambda v: all(_STEM.fullmatch(s) for s in v)  # noqa: E731
    else:
        assets = (*PRICE_STEMS, *symbols)
    return {
        "prices": {"interval": PRICE_INTERVALS, "range_key": tuple(RANGES_DAYS),
                   "mode": PRICE_MODES, "style": PRICE_STYLES, "assets": assets,
                   "hidden_symbols": lambda v: all(_STEM.fullmatch(s) for s in v),
                   "indicators": tuple(INDICATORS),
                   "indicator_asset": lambda v: bool(_STEM.fullmatch(v)),
                   "vwap_anchor_ms": lambda v: v >= 0},
        "funding": {"asset": DERIVATIVE_ASSETS, "window": tuple(FUNDING_WINDOWS_DAYS)},
        "movers": {"drawdown": tuple(DRAWDOWN_BASES)},
        "open_interest": {"asset": DERIVATIVE_ASSETS},
        "volatility": {"asset": DERIVATIVE_ASSETS, "window": RV_WINDOWS,
                       "rv_method": tuple(m.value for m in RvMethod)},
        "options": {"asset": DERIVATIVE_ASSETS, "page": OPTIONS_PAGES,
                    "positioning": tuple(p.value for p in DealerPositioning),
                    "delta": tuple(d.value for d in DeltaConvention)},
        "basis": {"asset": DERIVATIVE_ASSETS},
        "rotation": {"window": ROTATION_WINDOWS, "k": lambda v: 0.5 <= v <= 6.0,
                     "threshold": lambda v: -1.0 <= v <= 1.0},
        "liquidations": {"asset": DERIVATIVE_ASSETS, "interval": LIQUIDATION_INTERVALS,
                         "burst_musd": BURST_THRESHOLDS_MUSD},
        "squeeze": {"asset": DERIVATIVE_ASSETS, "window_hours": WINDOWS_HOURS,
                    **{name: (lambda v, lo=lo, hi=hi: lo <= v <= hi)
                       for name, (lo, hi) in SQUEEZE_LIMITS.items()}},
    }


def is_allowed(value: Any, limit: Limit | None) -> bool:
    if limit is None:
        return True
    if callable(limit):
        return bool(limit(value))
    return all(v in limit for v in value) if isinstance(value, list) else value in limit


def resolve_choices(dock: str, choices: Mapping[str, Any], symbols: tuple[str, ...] = ()
                    ) -> dict[str, Any]:
    """The dock's defaults overlaid with `choices`; ValueError naming the first bad one (an
    unknown dock, a value of the wrong type or not among the dock's own). Keys the dock does not
    read are ignored, as the panel ignores them."""
    if dock not in DOCK_DEFAULTS:
        raise ValueError(f"unknown dock {dock!r} (one of {', '.join(DOCK_DEFAULTS)})")
    out = dict(DOCK_DEFAULTS[dock])
    limits = allowed_values(symbols).get(dock, {})
    aliases = _ALIASES.get(dock, {})
    named = {aliases.get(k, k): v for k, v in choices.items() if k in aliases}
    named.update({k: v for k, v in choices.items() if k not in aliases})
    for name, value in named.items():
        if name not in out:
            continue
        default = out[name]
        if isinstance(default, bool) != isinstance(value, bool) or (
                isinstance(default, float) and not isinstance(value, int | float)) or (
                isinstance(default, int) and not isinstance(default, bool)
                and not isinstance(value, int)) or (
                isinstance(default, str) and not isinstance(value, str)) or (
                isinstance(default, list) and not (isinstance(value, list)
                                                   and all(isinstance(v, str) for v in value))):
            raise ValueError(f"{dock}.{name}: {value!r} is not a {type(default).__name__}")
        limit = limits.get(name)
        if not is_allowed(value, limit):
            options = "" if callable(limit) else f" (one of {', '.join(map(str, limit))})"
            raise ValueError(f"{dock}.{name}: {value!r} is not a valid value{options}")
        out[name] = float(value) if isinstance(default, float) else value
    return out
