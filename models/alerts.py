"""Alert rules: the versioned JSON a trader writes, what it means, and when it fires.

A rule's `when` is a tree of conditions over operands (models/alert_operands.py), combined with
{"all": [...]} and {"any": [...]}. It is evaluated at every moment one of its inputs gets a new
row (that row's known time, models/asof.py); it fires when the tree holds while the rule is
armed, inside its active hours and out of its cooldown, then stays disarmed until it re-arms
(the tree false again, or its `rearm` condition true). docs/alerts.md has the schema with an
example per condition and the semantics; `backtest` (vectorised) and `RuleEvaluator`
(incremental, the live path) implement the same semantics (tests/models/test_alerts*.py).

Pure data and numpy: no Qt, no I/O (files are services/alerts_files.py).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.alert_operands import (  # noqa: F401  (re-exported: the API is models.alerts)
    DERIVED,
    SERIES,
    Operand,
    OperandSeries,
    family_ids,
    operand_from_result,
    operand_problem,
    sample_operand,
    sample_operands,
)

RULES_FORMAT = "rotor-alert-rules"
RULES_VERSION = 1
SECTION = "alerts"
MAX_RULES = 500
MAX_DEPTH = 6
MAX_NAME = 80
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*\Z")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_HHMM_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)\Z")

REGIMES = {"short_squeeze": 1.0, "long_flush": -1.0}
LIQ_SIDES = ("long", "short", "both")
DIRECTIONS = ("up", "down", "any")
UNITS = ("abs", "pct")
DECOUPLING_PAIRS = ("btc_spx",)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class RuleError(ValueError):
    """A rule or rules file that cannot be used; the message says what and where."""


# -- conditions ---------------------------------------------------------------------------------
Level = float | Operand


@dataclass(frozen=True)
class Compare:
    """"above" / "below": the operand is above (below) a value or another operand. With
    `hysteresis` h, once true it stays true until the operand is back h beyond the level."""

    direction: str  # "above" | "below"
    operand: Operand
    value: Level
    hysteresis: float = 0.0
    label: str = ""


@dataclass(frozen=True)
class Cross:
    """"cross_above" / "cross_below": the operand passes the level (from at or below to above,
    for above). With `hysteresis` h a new cross counts only after the operand was back h beyond
    the level. True at the crossing's moment and for `within_ms` after it."""

    direction: str  # "above" | "below"
    operand: Operand
    value: Level
    hysteresis: float = 0.0
    within_ms: int = 0
    label: str = ""


@dataclass(frozen=True)
class Change:
    """The operand's change over `window_ms`: now minus its value known `window_ms` earlier
    (abs), or that as % of it (pct); `direction` up: ≥ by, down: ≤ −by, any: |change| ≥ by."""

    operand: Operand
    window_ms: int
    by: float
    unit: str = "pct"
    direction: str = "up"


@dataclass(frozen=True)
class Count:
    """At least `at_least` of the family's series (e.g. every venue's funding of one asset) have
    their newest known value above (below) `value`."""

    family: str  # "funding.*.btc"
    column: str
    direction: str  # "above" | "below"
    value: float
    at_least: int
    operands: tuple[Operand, ...] = ()


@dataclass(frozen=True)
class Decoupling:
    """A session flagged as a decoupling day (decoupling.btc_spx) became known, BTC's move of
    that session up, down or any; true then and for `within_ms` after."""

    pair: str = "btc_spx"
    direction: str = "any"
    within_ms: int = 0

    @property
    def operand(self) -> Operand:
        return Operand(DERIVED, f"decoupling.{self.pair}", "btc_ret")


@dataclass(frozen=True)
class Liquidations:
    """Reported liquidations of `side` (long, short or both) summed over venues and over the
    rows known in the last `window_ms` exceed `over_usd`."""

    asset: str
    side: str
    window_ms: int
    over_usd: float
    venues: tuple[str, ...] = ()  # () = every venue with a liquidation feed
    operands: tuple[Operand, ...] = ()


@dataclass(frozen=True)
class RegimeEntered:
    """The asset's squeeze regime (regime.<asset>) became `regime` at an hourly bar's close
    (from anything else); true then and for `within_ms` after."""

    asset: str
    regime: str  # "short_squeeze" | "long_flush"
    within_ms: int = 0

    @property
    def operand(self) -> Operand:
        return Operand(DERIVED, f"regime.{self.asset}", "regime")


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


Condition = Compare | Cross | Change | Count | Decoupling | Liquidations | RegimeEntered | \
    AllOf | AnyOf


# -- rules --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    notify: bool = True
    sound: bool = False
    webhook_url: str | None = None
    webhook_headers: Mapping[str, str] = field(default_factory=dict)  # secrets: never logged

    def __repr__(self) -> str:  # a repr lands in logs: keep the secrets out
        hook = "set" if self.webhook_url else None
        return f"Delivery(notify={self.notify}, sound={self.sound}, webhook={hook})"


@dataclass(frozen=True)
class ActiveHours:
    """Local times `start`..`end` ("HH:MM", end exclusive; end before start wraps past
    midnight) on `days` (0 = Monday) in time zone `zone`."""

    start: str = "00:00"
    end: str = "00:00"
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    zone: str = "UTC"

    @property
    def start_minute(self) -> int:
        return _minutes(self.start)

    @property
    def end_minute(self) -> int:
        return _minutes(self.end)

    def contains(self, t_ms: int) -> bool:
        local = datetime.fromtimestamp(t_ms / 1000, _zone(self.zone))
        return self._contains(local.weekday(), local.hour * 60 + local.minute)

    def _contains(self, weekday: int, minute: int) -> bool:
        start, end = self.start_minute, self.end_minute
        if start == end:  # the whole day
            return weekday in self.days
        if start < end:
            return weekday in self.days and start <= minute < end
        # past midnight: the early part belongs to the day before
        if minute >= start:
            return weekday in self.days
        return minute < end and (weekday - 1) % 7 in self.days


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


_ZONES: dict[str, Any] = {}


def _zone(name: str) -> Any:
    zone = _ZONES.get(name)
    if zone is None:
        zone = UTC if name == "UTC" else ZoneInfo(name)
        _ZONES[name] = zone
    return zone


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    enabled: bool
    when: Condition
    cooldown_ms: int = 0
    rearm: Condition | None = None  # None: re-armed once `when` is false again
    active_hours: ActiveHours | None = None
    delivery: Delivery = field(default_factory=Delivery)
    asset: str | None = None  # what the firing is about (jump target); else the first operand's
    description: str = ""

    @property
    def subject(self) -> str | None:
        if self.asset:
            return self.asset
        for op in _condition_operands(self.when):
            if op.asset:
                return op.asset
        return None


@dataclass(frozen=True)
class Firing:
    """A rule firing. `true_since_ms`: data time the combined condition became true;
    `fired_ms`: data time it fired (≥ true_since: later when active hours began or a cooldown
    ended while it held); `noticed_ms`: wall clock when evaluated live (None in a back-test)."""

    rule_id: str
    rule_name: str
    true_since_ms: int
    fired_ms: int
    noticed_ms: int | None
    summary: str
    values: Mapping[str, float] = field(default_factory=dict)
    asset: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "rule_name": self.rule_name,
                "true_since_ms": int(self.true_since_ms), "fired_ms": int(self.fired_ms),
                "noticed_ms": None if self.noticed_ms is None else int(self.noticed_ms),
                "summary": self.summary,
                "values": {k: (None if v != v else float(v)) for k, v in self.values.items()},
                "asset": self.asset}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Firing:
        try:
            noticed = obj.get("noticed_ms")
            return cls(str(obj["rule_id"]), str(obj["rule_name"]), int(obj["true_since_ms"]),
                       int(obj["fired_ms"]), None if noticed is None else int(noticed),
                       str(obj.get("summary", "")),
                       {str(k): float("nan") if v is None else float(v)
                        for k, v in dict(obj.get("values") or {}).items()},
                       obj.get("asset"))
        except (KeyError, TypeError, ValueError) as e:
            raise RuleError(f"firing: {e}") from e


# -- JSON -> rule -------------------------------------------------------------------------------
class _Problems:
    """Collects every problem with its path ("when.any[1].value: not a number")."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        where = f"{path}: " if path else ""
        self.items.append(f"{self.prefix}{where}{message}")


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_duration_ms(value: Any) -> int:
    """"90s", "15m", "4h", "1d", "1w" (or 0) as ms; ValueError otherwise."""
    if value == 0 or value == "0":
        return 0
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return round(float(match.group(1)) * _UNIT_MS[match.group(2)])
    raise ValueError(f"{_show(value)} is no duration (e.g. \"90s\", \"15m\", \"4h\", \"1d\")")


def format_duration(ms: int) -> str:
    if ms == 0:
        return "0"
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_MS[unit]
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"


def _number(obj: Mapping[str, Any], key: str, path: str, p: _Problems, *,
            default: float | None = None, minimum: float | None = None) -> float | None:
    value = obj.get(key, default)
    if key not in obj and default is None:
        p.add(_at(path, key), "missing (a number)")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value \
            or value in (float("inf"), float("-inf")):
        p.add(_at(path, key), f"not a number: {_show(value)}")
        return None
    if minimum is not None and value < minimum:
        p.add(_at(path, key), f"must be at least {minimum:g} (got {value:g})")
        return None
    return float(value)


def _duration(obj: Mapping[str, Any], key: str, path: str, p: _Problems,
              default: int | None = None) -> int | None:
    if key not in obj:
        if default is None:
            p.add(_at(path, key), "missing (a duration such as \"1h\")")
        return default
    try:
        return parse_duration_ms(obj[key])
    except ValueError as e:
        p.add(_at(path, key), str(e))
        return None


def _choice(obj: Mapping[str, Any], key: str, path: str, p: _Problems, options: Sequence[str],
            default: str | None = None) -> str | None:
    value = obj.get(key, default)
    if value is None:
        p.add(_at(path, key), f"missing (one of {', '.join(options)})")
        return None
    if value not in options:
        p.add(_at(path, key), f"{_show(value)} is not one of {', '.join(options)}")
        return None
    return str(value)


def _keys(obj: Mapping[str, Any], allowed: Iterable[str], path: str, p: _Problems) -> None:
    allowed = set(allowed)
    for key in obj:
        if key not in allowed:
            p.add(_at(path, str(key)),
                  f"unknown key (known: {', '.join(sorted(allowed))})")


def _operand(value: Any, path: str, p: _Problems) -> Operand | None:
    if not isinstance(value, Mapping):
        p.add(path, "expected an operand such as {\"series\": \"btc.1h\", \"column\": "
                    f"\"close\"}}, got {_show(value)}")
        return None
    kinds = [k for k in (SERIES, DERIVED) if k in value]
    if len(kinds) != 1:
        p.add(path, "an operand names one of \"series\" or \"derived\"")
        return None
    _keys(value, (kinds[0], "column"), path, p)
    ident, column = value.get(kinds[0]), value.get("column")
    if not isinstance(ident, str) or not isinstance(column, str):
        p.add(path, f"\"{kinds[0]}\" and \"column\" must be strings")
        return None
    op = Operand(kinds[0], ident, column)
    problem = operand_problem(op)
    if problem:
        p.add(path, problem)
        return None
    return op


def _level(obj: Mapping[str, Any], path: str, p: _Problems) -> Level | None:
    value = obj.get("value")
    if "value" not in obj:
        p.add(f"{path}.value", "missing (a number or an operand)")
        return None
    if isinstance(value, Mapping):
        return _operand(value, f"{path}.value", p)
    return _number(obj, "value", path, p)


def _label(obj: Mapping[str, Any], path: str, p: _Problems) -> str:
    label = obj.get("label", "")
    if not isinstance(label, str) or len(label) > MAX_NAME:
        p.add(f"{path}.label", f"a text of at most {MAX_NAME} characters")
        return ""
    return label


_LEAF_KEYS = {
    "above": ("operand", "value", "hysteresis", "label"),
    "below": ("operand", "value", "hysteresis", "label"),
    "cross_above": ("operand", "value", "hysteresis", "within", "label"),
    "cross_below": ("operand", "value", "hysteresis", "within", "label"),
    "change": ("operand", "window", "by", "unit", "direction"),
    "count": ("family", "column", "direction", "value", "at_least"),
    "decoupling": ("pair", "direction", "within"),
    "liquidations": ("asset", "side", "window", "over_usd", "venues"),
    "regime_entered": ("asset", "regime", "within"),
}
CONDITION_TYPES = tuple(_LEAF_KEYS)


def _condition(obj: Any, path: str, p: _Problems, depth: int = 0) -> Condition | None:
    if not isinstance(obj, Mapping):
        p.add(path, f"expected a condition (an object), got {_show(obj)}")
        return None
    if depth > MAX_DEPTH:
        p.add(path, f"nested more than {MAX_DEPTH} deep")
        return None
    for combinator, cls in (("all", AllOf), ("any", AnyOf)):
        if combinator in obj:
            _keys(obj, (combinator,), path, p)
            items = obj[combinator]
            if not isinstance(items, list) or not items:
                p.add(f"{path}.{combinator}", "expected a non-empty list of conditions")
                return None
            parsed = [_condition(c, f"{path}.{combinator}[{i}]", p, depth + 1)
                      for i, c in enumerate(items)]
            if any(c is None for c in parsed):
                return None
            return cls(tuple(parsed))  # type: ignore[arg-type]
    kind = obj.get("type")
    if kind not in _LEAF_KEYS:
        p.add(f"{path}.type" if "type" in obj else path,
              f"{_show(kind)} is no condition type (one of {', '.join(CONDITION_TYPES)}, or "
              "\"all\" / \"any\" of a list)" if "type" in obj else
              "a condition needs a \"type\" (or is {\"all\": [...]} / {\"any\": [...]})")
        return None
    _keys(obj, ("type", *_LEAF_KEYS[kind]), path, p)
    before = len(p.items)
    result = _LEAF_PARSERS[kind](obj, path, p)
    return result if len(p.items) == before else None


def _parse_compare(obj: Mapping[str, Any], path: str, p: _Problems) -> Condition | None:
    op = _operand(obj.get("operand"), f"{path}.operand", p)
    value = _level(obj, path, p)
    hysteresis = _number(obj, "hysteresis", path, p, default=0.0, minimum=0.0)
    label = _label(obj, path, p)
    kind = obj["type"]
    if op is None or value is None or hysteresis is None:
        return None
    if kind in ("above", "below"):
        return Compare(kind, op, value, hysteresis, label)
    within = _duration(obj, "within", path, p, default=0)
    if within is None:
        return None
    return Cross(kind.split("_")[1], op, value, hysteresis, within, label)


def _parse_change(obj: Mapping[str, Any], path: str, p: _Problems) -> Condition | None:
    op = _operand(obj.get("operand"), f"{path}.operand", p)
    window = _duration(obj, "window", path, p)
    by = _number(obj, "by", path, p, minimum=0.0)
    unit = _choice(obj, "unit", path, p, UNITS, "pct")
    direction = _choice(obj, "direction", path, p, DIRECTIONS, "up")
    if window is not None and window <= 0:
        p.add(f"{path}.window", "must be longer than 0")
        return None
    if None in (op, window, by, unit, direction):
        return None
    return Change(op, window, by, unit, direction)  # type: ignore[arg-type]


def _parse_count(obj: Mapping[str, Any], path: str, p: _Problems) -> Condition | None:
    family = obj.get("family")
    column = obj.get("column")
    direction = _choice(obj, "direction", path, p, ("above", "below"))
    value = _number(obj, "value", path, p)
    at_least = obj.get("at_least")
    if not isinstance(family, str) or not family:
        p.add(f"{path}.family", "missing (a series id with * for the venue, e.g. "
                                "\"funding.*.btc\")")
        return None
    if not isinstance(column, str):
        p.add(f"{path}.column", "missing (the column each series is compared by, e.g. "
                                "\"rate\")")
        return None
    ids = family_ids(family)
    if not ids:
        p.add(f"{path}.family", f"{_show(family)} matches no series (see `main.py list`)")
        return None
    operands = []
    for i in ids:
        op = Operand(SERIES, i, column)
        problem = operand_problem(op)
        if problem:
            p.add(f"{path}.column", problem)
            return None
        operands.append(op)
    if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
        p.add(f"{path}.at_least", f"a whole number ≥ 1, got {_show(at_least)}")
        return None
    if at_least > len(operands):
        p.add(f"{path}.at_least", f"{at_least} but {_show(family)} has only {len(operands)} "
                                  "series")
        return None
    if direction is None or value is None:
        return None
    return Count(family, column, direction, value, at_least, tuple(operands))


def _parse_decoupling(obj: Mapping[str, Any], path: str, p: _Problems) -> Condition | None:
    pair = _choice(obj, "pair", path, p, DECOUPLING_PAIRS, "btc_spx")
    direction = _choice(obj, "direction", path, p, DIRECTIONS, "any")
    within = _duration(obj, "within", path, p, default=0)
    if None in (pair, direction, within):
        return None
    return Decoupling(pair, direction, within)  # type: ignore[arg-type]


def _asset(obj: Mapping[str, Any], path: str, p: _Problems) -> str | None:
    from models.assets import CRYPTO_STEMS

    value = obj.get("asset")
    if value not in CRYPTO_STEMS:
        p.add(f"{path}.asset", f"{_show(value)} is not one of {', '.join(CRYPTO_STEMS)}")
        return None
    return str(value)


def _parse_liquidations(obj: Mapping[str, Any], path: str, p: _Problems) -> Condition | None:
    from models.catalog import LIQUIDATION_VENUES, find_spec
    from models.ids import liq_id

    asset = _asset(obj, path, p)
    side = _choice(obj, "side", path, p, LIQ_SIDES)
    window = _duration(obj, "window", path, p)
    over = _number(obj, "over_usd", path, p, minimum=0.0)
    venues = obj.get("venues", [])
    if not isinstance(venues, list) or any(v not in LIQUIDATION_VENUES for v in venues):
        p.add(f"{path}.venues", f"a list of venues among {', '.join(LIQUIDATION_VENUES)}")
        return None
    if window is not None and window <= 0:
        p.add(f"{path}.window", "must be longer than 0")
        return None
    if None in (asset, side, window, over):
        return None
    columns = ("long_usd", "short_usd") if side == "both" else (f"{side}_usd",)
    operands = tuple(Operand(SERIES, liq_id(v, asset), c)
                     for v in (venues or LIQUIDATION_VENUES) for c in columns
                     if find_spec(liq_id(v, asset)) is not None)
    if not operands:
        p.add(f"{path}.asset", f"no liquidation feed for {asset}")
        return None
    return Liquidations(asset, side, window, over, tuple(venues), operands)  # type: ignore


def _parse_regime(obj: Mapping[str, Any], path: str, p: _Problems) -> Condition | None:
    asset = _asset(obj, path, p)
    regime = _choice(obj, "regime", path, p, tuple(REGIMES))
    within = _duration(obj, "within", path, p, default=0)
    if None in (asset, regime, within):
        return None
    return RegimeEntered(asset, regime, within)  # type: ignore[arg-type]


_LEAF_PARSERS: dict[str, Callable[[Mapping[str, Any], str, _Problems], Condition | None]] = {
    "above": _parse_compare, "below": _parse_compare, "cross_above": _parse_compare,
    "cross_below": _parse_compare, "change": _parse_change, "count": _parse_count,
    "decoupling": _parse_decoupling, "liquidations": _parse_liquidations,
    "regime_entered": _parse_regime,
}

_RULE_KEYS = ("version", "id", "name", "enabled", "when", "rearm", "cooldown", "active_hours",
              "delivery", "asset", "description")


def _rule_prefix(obj: Any) -> str:
    if isinstance(obj, Mapping) and isinstance(obj.get("id"), str) and obj["id"]:
        return f"rule {obj['id']!r}: "
    return "rule: "


def _parse_rule(obj: Any, p: _Problems) -> Rule | None:
    if not isinstance(obj, Mapping):
        p.add("", f"expected a rule (an object), got {_show(obj)}")
        return None
    before = len(p.items)
    _keys(obj, _RULE_KEYS, "", p)
    version = obj.get("version", RULES_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        p.add("version", f"a whole number ≥ 1, got {_show(version)}")
    elif version > RULES_VERSION:
        p.add("version", f"{version} was written by a newer Rotor (this one reads up to "
                         f"{RULES_VERSION})")
    ident = obj.get("id")
    if not isinstance(ident, str) or not _ID_RE.match(ident):
        p.add("id", "1-64 of letters, digits, '.', '_' and '-', starting with a letter or "
                    f"digit (got {_show(ident)})")
    name = obj.get("name", ident)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        p.add("name", f"a text of 1-{MAX_NAME} characters")
    enabled = obj.get("enabled", True)
    if not isinstance(enabled, bool):
        p.add("enabled", "true or false")
    description = obj.get("description", "")
    if not isinstance(description, str) or len(description) > 1000:
        p.add("description", "a text of at most 1000 characters")
    asset = obj.get("asset")
    if asset is not None and not isinstance(asset, str):
        p.add("asset", "an asset stem such as \"btc\"")
    if "when" not in obj:
        p.add("when", "missing (the condition that fires the rule)")
        when = None
    else:
        when = _condition(obj["when"], "when", p)
    rearm = None
    if obj.get("rearm") is not None:
        rearm = _condition(obj["rearm"], "rearm", p)
    cooldown = _duration(obj, "cooldown", "", p, default=0)
    hours = _active_hours(obj.get("active_hours"), p)
    delivery = _delivery(obj.get("delivery", {}), p)
    if len(p.items) != before:
        return None
    return Rule(ident, name.strip(), enabled, when, cooldown, rearm, hours,  # type: ignore
                delivery, asset, description)  # type: ignore[arg-type]


def _active_hours(obj: Any, p: _Problems) -> ActiveHours | None:
    if obj is None:
        return None
    path = "active_hours"
    if not isinstance(obj, Mapping):
        p.add(path, "expected {\"start\": \"08:00\", \"end\": \"20:00\", \"days\": [0, 1, 2, 3, "
                    "4], \"zone\": \"Europe/London\"} or null")
        return None
    _keys(obj, ("start", "end", "days", "zone"), path, p)
    ok = True
    for key in ("start", "end"):
        value = obj.get(key, "00:00")
        if not isinstance(value, str) or not _HHMM_RE.match(value):
            p.add(_at(path, key), f"a time \"HH:MM\" (24 h), got {_show(value)}")
            ok = False
    days = obj.get("days", list(range(7)))
    if not isinstance(days, list) or not days or any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        p.add(f"{path}.days", "a non-empty list of weekdays 0-6 (0 = Monday)")
        ok = False
    zone = obj.get("zone", "UTC")
    try:
        if not isinstance(zone, str):
            raise ZoneInfoNotFoundError
        _zone(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        p.add(f"{path}.zone", f"{_show(zone)} is no time zone (e.g. \"UTC\", "
                              "\"Europe/London\", \"America/New_York\")")
        ok = False
    if not ok:
        return None
    return ActiveHours(obj.get("start", "00:00"), obj.get("end", "00:00"),
                       tuple(sorted(set(days))), zone)


def _delivery(obj: Any, p: _Problems) -> Delivery:
    path = "delivery"
    if not isinstance(obj, Mapping):
        p.add(path, "expected {\"notify\": true, \"sound\": false, \"webhook\": null}")
        return Delivery()
    _keys(obj, ("notify", "sound", "webhook"), path, p)
    notify, sound = obj.get("notify", True), obj.get("sound", False)
    for key, value in (("notify", notify), ("sound", sound)):
        if not isinstance(value, bool):
            p.add(_at(path, key), "true or false")
    hook = obj.get("webhook")
    url, headers = None, {}
    if hook is not None:
        if not isinstance(hook, Mapping) or not isinstance(hook.get("url"), str):
            p.add(f"{path}.webhook", "expected {\"url\": \"https://…\", \"headers\": {…}} or "
                                     "null")
        else:
            _keys(hook, ("url", "headers"), f"{path}.webhook", p)
            url = hook["url"]
            problem = webhook_url_problem(url)
            if problem:
                p.add(f"{path}.webhook.url", problem)  # the problem never repeats the URL
            headers = hook.get("headers", {})
            if not isinstance(headers, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, str) and k.strip()
                    and "\n" not in k + v and "\r" not in k + v for k, v in headers.items()):
                p.add(f"{path}.webhook.headers", "an object of header names to text values")
                headers = {}
    return Delivery(bool(notify), bool(sound), url, dict(headers))


def webhook_url_problem(url: str) -> str | None:
    """A first check of a webhook URL (services/webhook.py checks again before sending): HTTPS,
    a host, no user:password in it. Says nothing of the URL itself (it may hold a secret)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "not a URL"
    if parts.scheme != "https":
        return "webhooks must use https://"
    if not host:
        return "the URL has no host"
    if parts.username or parts.password:
        return "put credentials in a header, not in the URL"
    return None


def validate_rule_json(obj: Any) -> list[str]:
    """Every problem of one rule, human-readable ("rule 'x': when.any[1].value: not a number");
    [] when it is valid. Cheap enough to run per keystroke."""
    p = _Problems(_rule_prefix(obj))
    _parse_rule(obj, p)
    return p.items


def rule_from_json(obj: Any) -> Rule:
    p = _Problems(_rule_prefix(obj))
    rule = _parse_rule(obj, p)
    if rule is None:
        raise RuleError("; ".join(p.items))
    return rule


# -- rule -> JSON -------------------------------------------------------------------------------
def _level_json(value: Level) -> Any:
    return value.to_json() if isinstance(value, Operand) else value


def condition_to_json(cond: Condition) -> dict[str, Any]:
    if isinstance(cond, AllOf):
        return {"all": [condition_to_json(c) for c in cond.items]}
    if isinstance(cond, AnyOf):
        return {"any": [condition_to_json(c) for c in cond.items]}
    if isinstance(cond, Compare):
        out = {"type": cond.direction, "operand": cond.operand.to_json(),
               "value": _level_json(cond.value)}
        if cond.hysteresis:
            out["hysteresis"] = cond.hysteresis
        if cond.label:
            out["label"] = cond.label
        return out
    if isinstance(cond, Cross):
        out = {"type": f"cross_{cond.direction}", "operand": cond.operand.to_json(),
               "value": _level_json(cond.value)}
        if cond.hysteresis:
            out["hysteresis"] = cond.hysteresis
        if cond.within_ms:
            out["within"] = format_duration(cond.within_ms)
        if cond.label:
            out["label"] = cond.label
        return out
    if isinstance(cond, Change):
        return {"type": "change", "operand": cond.operand.to_json(),
                "window": format_duration(cond.window_ms), "by": cond.by, "unit": cond.unit,
                "direction": cond.direction}
    if isinstance(cond, Count):
        return {"type": "count", "family": cond.family, "column": cond.column,
                "direction": cond.direction, "value": cond.value, "at_least": cond.at_least}
    if isinstance(cond, Decoupling):
        out = {"type": "decoupling", "pair": cond.pair, "direction": cond.direction}
        if cond.within_ms:
            out["within"] = format_duration(cond.within_ms)
        return out
    if isinstance(cond, Liquidations):
        out = {"type": "liquidations", "asset": cond.asset, "side": cond.side,
               "window": format_duration(cond.window_ms), "over_usd": cond.over_usd}
        if cond.venues:
            out["venues"] = list(cond.venues)
        return out
    if isinstance(cond, RegimeEntered):
        out = {"type": "regime_entered", "asset": cond.asset, "regime": cond.regime}
        if cond.within_ms:
            out["within"] = format_duration(cond.within_ms)
        return out
    raise TypeError(f"not a condition: {cond!r}")


def rule_to_json(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"version": RULES_VERSION, "id": rule.id, "name": rule.name,
                           "enabled": rule.enabled}
    if rule.description:
        out["description"] = rule.description
    if rule.asset:
        out["asset"] = rule.asset
    out["when"] = condition_to_json(rule.when)
    out["rearm"] = None if rule.rearm is None else condition_to_json(rule.rearm)
    out["cooldown"] = format_duration(rule.cooldown_ms)
    hours = rule.active_hours
    out["active_hours"] = None if hours is None else {
        "start": hours.start, "end": hours.end, "days": list(hours.days), "zone": hours.zone}
    d = rule.delivery
    out["delivery"] = {"notify": d.notify, "sound": d.sound,
                       "webhook": None if d.webhook_url is None else {
                           "url": d.webhook_url, "headers": dict(d.webhook_headers)}}
    return out


def rules_file_to_json(rules: Iterable[Rule]) -> dict[str, Any]:
    return {"format": RULES_FORMAT, "version": RULES_VERSION,
            "rules": [rule_to_json(r) for r in rules]}


def _rules_list_problems(items: Any, where: str) -> list[str]:
    if not isinstance(items, list):
        return [f"{where}: expected a list of rules, got {_show(items)}"]
    if len(items) > MAX_RULES:
        return [f"{where}: at most {MAX_RULES} rules (got {len(items)})"]
    problems: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        problems += [f"{where}[{i}] {msg}" for msg in validate_rule_json(item)]
        ident = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(ident, str):
            if ident in seen:
                problems.append(f"{where}[{i}] rule {ident!r}: id: used twice")
            seen.add(ident)
    return problems


def rules_file_problems(obj: Any) -> list[str]:
    if not isinstance(obj, Mapping):
        return [f"expected a rules file (an object with \"format\": \"{RULES_FORMAT}\")"]
    problems = []
    if obj.get("format") != RULES_FORMAT:
        problems.append(f"format: expected {RULES_FORMAT!r}, got {_show(obj.get('format'))}")
    version = obj.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"version: a whole number ≥ 1, got {_show(version)}")
    elif version > RULES_VERSION:
        problems.append(f"version: {version} was written by a newer Rotor (this one reads up "
                        f"to {RULES_VERSION})")
    return problems + _rules_list_problems(obj.get("rules"), "rules")


def rules_file_from_json(obj: Any) -> list[Rule]:
    problems = rules_file_problems(obj)
    if problems:
        raise RuleError("; ".join(problems))
    return [rule_from_json(item) for item in obj["rules"]]


# -- what a rule reads --------------------------------------------------------------------------
def _condition_operands(cond: Condition) -> list[Operand]:
    if isinstance(cond, AllOf | AnyOf):
        return [op for c in cond.items for op in _condition_operands(c)]
    if isinstance(cond, Compare | Cross):
        return [cond.operand] + ([cond.value] if isinstance(cond.value, Operand) else [])
    if isinstance(cond, Change):
        return [cond.operand]
    if isinstance(cond, Count | Liquidations):
        return list(cond.operands)
    if isinstance(cond, Decoupling | RegimeEntered):
        return [cond.operand]
    raise TypeError(f"not a condition: {cond!r}")


def rule_operands(rule: Rule) -> frozenset[Operand]:
    ops = _condition_operands(rule.when)
    if rule.rearm is not None:
        ops += _condition_operands(rule.rearm)
    return frozenset(ops)


# -- the workspace section ----------------------------------------------------------------------
class RuleBook:
    """The workspace's alert rules, in order: the section "alerts" (the protocol of
    models/drawings.py DrawingBook: to_json / validate_json / load_json / listeners)."""

    section = SECTION

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._rules: dict[str, Rule] = {}
        for rule in rules:
            self._rules[rule.id] = rule
        self._listeners: list[Callable[[], None]] = []

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules.values())

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self._rules)

    def get(self, rule_id: str) -> Rule | None:
        return self._rules.get(rule_id)

    def add_listener(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()

    def set_rule(self, rule: Rule) -> None:
        """Add `rule`, or replace the rule of its id in its place."""
        rule_from_json(rule_to_json(rule))  # the same checks as a loaded rule
        if self._rules.get(rule.id) == rule:
            return
        self._rules[rule.id] = rule
        self._changed()

    def remove(self, rule_id: str) -> Rule | None:
        rule = self._rules.pop(rule_id, None)
        if rule is not None:
            self._changed()
        return rule

    def to_json(self) -> dict[str, Any]:
        return rules_file_to_json(self._rules.values())

    @staticmethod
    def problems(data: Any) -> list[str]:
        """Every problem of a section's JSON ([] when it can be loaded)."""
        return rules_file_problems(data)

    @classmethod
    def validate_json(cls, data: Any) -> None:
        """Raise RuleError (a ValueError, what ui/workspaces.py expects of a section) naming
        every problem; return None when `data` can be loaded."""
        problems = cls.problems(data)
        if problems:
            raise RuleError("; ".join(problems))

    def load_json(self, data: Any) -> None:
        """Replace every rule (all or nothing)."""
        rules = rules_file_from_json(copy.deepcopy(data))
        self._rules = {r.id: r for r in rules}
        self._changed()


def __getattr__(name: str) -> Any:
    """`backtest` and `RuleEvaluator` live in models/alert_engine.py (which reads this module);
    they are part of this API, imported on first use."""
    if name in ("backtest", "RuleEvaluator"):
        from models import alert_engine

        return getattr(alert_engine, name)
    raise AttributeError(f"module 'models.alerts' has no attribute {name!r}")
