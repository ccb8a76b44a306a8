"""How value axes write numbers: compact, with the unit a trader reads ("70k", "$40M").

pyqtgraph writes "7·10⁴" on a log axis and "4e+07" past 10,000 on a linear one. One rule for
every value axis instead (docs/architecture.md, "A chart item"):

- from 10,000 up, a suffix: k, M, B, T ("72.5k", "$40M"); below, thousands separators
  ("6,750"): an index level reads better written out;
- a currency goes after the sign: "-$2.5M";
- small numbers keep their significant digits: 0.5 → "0.5".

Pure Python (no Qt), so the rule is tested with numbers alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
SUFFIX_FROM = 10_000.0  # below this, "6,750" rather than "6.75k"
MAX_DECIMALS = 6


def _unit(magnitude: float) -> tuple[float, str]:
    if magnitude < SUFFIX_FROM:
        return 1.0, ""
    for size, suffix in SUFFIXES:
        if magnitude >= size:
            return size, suffix
    return 1.0, ""


def _join(value: float, digits: str, currency: str, suffix: str) -> str:
    sign = "-" if value < 0 and digits.strip("0.,") else ""
    return f"{sign}{currency}{digits}{suffix}"


def compact(value: float, currency: str = "") -> str:
    """One number, three significant digits at most past 10,000: 70_000 → "70k",
    4e7 with "$" → "$40M", -2.5e6 → "-$2.5M", 6750 → "6,750", 0.5 → "0.5"."""
    if not math.isfinite(value):
        return "–"
    magnitude = abs(value)
    size, suffix = _unit(magnitude)
    if suffix:
        scaled = magnitude / size
        decimals = max(0, 2 - math.floor(math.log10(scaled)))
        digits = f"{scaled:.{decimals}f}"
        if "." in digits:
            digits = digits.rstrip("0").rstrip(".")
        if digits == "1000" and size < SUFFIXES[0][0]:  # 999.96k rounds up to the next unit
            return compact(math.copysign(1000 * size, value), currency)
    elif magnitude >= 1000:
        digits = f"{magnitude:,.0f}"
    else:
        digits = f"{magnitude:.4g}"
        if "e" in digits:  # tiny values: plain decimals, not exponents
            digits = f"{magnitude:.{MAX_DECIMALS}f}".rstrip("0").rstrip(".") or "0"
    return _join(value, digits, currency, suffix)


def _decimals_for(step: float) -> int:
    """The fewest decimals that write every multiple of `step` exactly (2.5 → 1, 20 → 0)."""
    for decimals in range(MAX_DECIMALS + 1):
        if abs(round(step, decimals) - step) <= abs(step) * 1e-9:
            return decimals
    return MAX_DECIMALS


def tick_labels(values: Sequence[float], spacing: float, currency: str = "") -> list[str]:
    """Labels for one level of an axis's ticks: one unit for the level (chosen by its largest
    value) and as many decimals as the spacing needs, so neighbours never read the same
    ("70k", "72.5k", "75k" for a 2,500 spacing; zero is "0", not "0k")."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    if not finite:
        return ["" for _ in values]
    size, suffix = _unit(max(finite))
    if spacing and math.isfinite(spacing) and spacing > 0:
        decimals = _decimals_for(spacing / size)
    else:
        decimals = 0
    labels = []
    for value in values:
        if not math.isfinite(value):
            labels.append("")
            continue
        scaled = abs(value) / size
        if size == 1.0:
            labels.append(_join(value, f"{scaled:,.{decimals}f}", currency, ""))
            continue
        digits = f"{scaled:.{decimals}f}"
        if "." in digits:  # "70k" beside "72.5k", not "70.0k"
            digits = digits.rstrip("0").rstrip(".")
        labels.append(_join(value, digits, currency, suffix if digits != "0" else ""))
    return labels
