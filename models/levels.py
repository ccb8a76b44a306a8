"""Horizontal price levels drawn on a chart: a trader's own, and the ones analytics derive."""

from __future__ import annotations

from dataclasses import dataclass

USER = "user"
GAMMA_FLIP = "gamma_flip"
CALL_WALL = "call_wall"
PUT_WALL = "put_wall"


@dataclass(frozen=True)
class Level:
    price: float
    label: str
    kind: str = USER


#: the demo's story: the $70k support the February 2026 sell-off broke (synthetic data)
DEMO_LEVELS = (Level(70_000.0, "support 70,000 (demo story)", USER),)


def parse_user_levels(raw: object) -> list[float]:
    """Levels as QSettings hands them back (a list, one string, or nothing): finite and > 0."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list | tuple) else [raw]
    out: list[float] = []
    for item in items:
        try:
            value = float(item)
        except (TypeError, ValueError):
            continue
        if value > 0 and value == value and value != float("inf"):
            out.append(value)
    return sorted(set(out))
