"""Each dock's persisted choices and their defaults, in one table the panels and the headless
export (`main.py export-view`) both read: a choice missing from a workspace means what the dock
shows when it was never set.

Keys are the ones a panel saves under its settings group (`prices/interval`, `vol/window` …),
which a workspace file's `"docks"` section repeats. The price chart's range is saved as `range`
(older versions' key); `range_key` (the panel's attribute) is read as the same choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.analyses import (
    DEFAULT_DELTA,
    DEFAULT_DRAWDOWN,
    DEFAULT_POSITIONING,
    DEFAULT_RV_METHOD,
    ROTATION_WINDOWS,
)
from models.catalog import PRICE_INTERVALS, PRICE_STEMS

#: the price chart's range buttons: days shown, ending at the data's end
RANGES_DAYS = {"1W": 7, "1M": 30, "3M": 91, "6M": 182, "1Y": 365, "2Y": 730, "5Y": 1826}
DEFAULT_PRICE_ASSETS = ("btc", "spx", "ndx", "gold")
PRICE_STYLES = ("line", "candles")
PRICE_MODES = ("stacked", "compare")
#: the funding dock's window buttons
FUNDING_WINDOWS_DAYS = {"7D": 7, "30D": 30, "90D": 90}
DERIVATIVE_ASSETS = ("btc", "eth")
#: the span the volatility and rotation docks open on, ending at their data's end
VOLATILITY_SPAN_DAYS = 365
ROTATION_SPAN_DAYS = 730

DOCK_DEFAULTS: dict[str, dict[str, Any]] = {
    "prices": {"interval": "1h", "range_key": "1M", "mode": "stacked", "style": "line",
               "log": False, "assets": list(DEFAULT_PRICE_ASSETS)},
    "funding": {"asset": "btc", "window": "30D"},
    "open_interest": {"asset": "btc"},
    "volatility": {"asset": "btc", "window": 30, "rv_method": DEFAULT_RV_METHOD},
    "options": {"asset": "btc", "page": "gex", "positioning": DEFAULT_POSITIONING,
                "delta": DEFAULT_DELTA},
    "rotation": {"window": 60, "k": 2.0, "threshold": 0.2},
    "movers": {"drawdown": DEFAULT_DRAWDOWN},
    "sources": {},
}

#: key aliases: the settings key on the left, the choice it is
_ALIASES = {"prices": {"range": "range_key"}}


def _allowed(dock: str, name: str, symbols: tuple[str, ...]) -> tuple[Any, ...] | None:
    from models.derived import RV_WINDOWS
    from models.movers import DRAWDOWN_BASES
    from models.options import DealerPositioning, DeltaConvention
    from models.volatility import RvMethod

    table: dict[tuple[str, str], tuple[Any, ...]] = {
        ("prices", "interval"): PRICE_INTERVALS,
        ("prices", "range_key"): tuple(RANGES_DAYS),
        ("prices", "mode"): PRICE_MODES,
        ("prices", "style"): PRICE_STYLES,
        ("funding", "asset"): DERIVATIVE_ASSETS,
        ("funding", "window"): tuple(FUNDING_WINDOWS_DAYS),
        ("open_interest", "asset"): DERIVATIVE_ASSETS,
        ("volatility", "asset"): DERIVATIVE_ASSETS,
        ("volatility", "window"): RV_WINDOWS,
        ("volatility", "rv_method"): tuple(m.value for m in RvMethod),
        ("options", "asset"): DERIVATIVE_ASSETS,
        ("options", "positioning"): tuple(p.value for p in DealerPositioning),
        ("options", "delta"): tuple(d.value for d in DeltaConvention),
        ("rotation", "window"): ROTATION_WINDOWS,
        ("movers", "drawdown"): tuple(DRAWDOWN_BASES),
    }
    if (dock, name) == ("prices", "assets"):
        return (*PRICE_STEMS, *symbols)
    return table.get((dock, name))


def resolve_choices(dock: str, choices: Mapping[str, Any], symbols: tuple[str, ...] = ()
                    ) -> dict[str, Any]:
    """The dock's defaults overlaid with `choices`; ValueError naming the first bad one (an
    unknown dock, a value of the wrong type or not among the dock's own). Keys the dock does not
    read are ignored, as the panel ignores them."""
    if dock not in DOCK_DEFAULTS:
        raise ValueError(f"unknown dock {dock!r} (one of {', '.join(DOCK_DEFAULTS)})")
    out = dict(DOCK_DEFAULTS[dock])
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
        allowed = _allowed(dock, name, symbols)
        wrong = [v for v in (value if isinstance(value, list) else [value])
                 if allowed is not None and v not in allowed]
        if wrong:
            raise ValueError(f"{dock}.{name}: {wrong[0]!r} is not one of "
                             f"{', '.join(map(str, allowed))}")
        out[name] = float(value) if isinstance(default, float) else value
    if dock == "rotation" and not (0.5 <= out["k"] <= 6.0 and -1.0 <= out["threshold"] <= 1.0):
        raise ValueError("rotation: k must be within 0.5..6 and threshold within -1..1")
    return out
