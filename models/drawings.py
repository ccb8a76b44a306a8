"""A trader's drawings on the price charts: levels, trend lines, rays, boxes and notes.

Points are in data coordinates (x: UTC epoch seconds, y: price), never in pixels or in a log
axis's log10 units, so a drawing stays where it was put through pans, zooms, a new bar interval
and the log scale. The `DrawingBook` holds every asset's drawings, the shared selection and the
undo/redo history; it is a workspace section (to_json / validate_json / load_json / listeners).

The history is a plain stack of (before, after) pairs, not Qt's QUndoStack: `models/` imports no
Qt (tests/test_layering.py), and the book is also used headless (a workspace file, tests).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from models.levels import parse_user_levels

LEVEL = "level"
TREND = "trend"
RAY = "ray"
BOX = "box"
NOTE = "note"
#: every kind, with how many points it is placed with
POINT_COUNTS = {LEVEL: 1, TREND: 2, RAY: 2, BOX: 2, NOTE: 1}
KINDS = tuple(POINT_COUNTS)
KIND_NAMES = {LEVEL: "level", TREND: "trend line", RAY: "ray", BOX: "range box", NOTE: "note"}

LABEL_MAX = 200
#: the keys a drawing item is written with, in this order; others are kept as they came
KNOWN_KEYS = ("id", "asset", "kind", "points", "color", "label")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# An asset is a series-id stem: lower-case letters, digits and underscores (no path or SQL
# characters), as models/ids.py spells them.
_ASSET = re.compile(r"[a-z0-9_]{1,40}")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Prices and times a chart can hold: no epoch before 1970 or after year 2300.
MAX_EPOCH_S = 10_413_792_000.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Drawing:
    id: str
    asset: str
    kind: str
    points: tuple[Point, ...]
    color: str = ""  # "#rrggbb", or "" for the theme's drawing colour
    label: str = ""
    #: keys of the item this version does not know, written back as they came
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "asset": self.asset, "kind": self.kind,
                               "points": [[x, y] for x, y in self.points],
                               "color": self.color, "label": self.label}
        for key in sorted(self.extra):
            out[key] = self.extra[key]
        return out

    @classmethod
    def from_json(cls, item: Mapping[str, Any], where: str = "drawing") -> Drawing:
        check_item(item, where)
        return cls(str(item["id"]), str(item["asset"]), str(item["kind"]),
                   tuple((float(x), float(y)) for x, y in item["points"]),
                   str(item.get("color", "")), str(item.get("label", "")),
                   {k: v for k, v in item.items() if k not in KNOWN_KEYS})

    def moved(self, points: Sequence[Point]) -> Drawing:
        return replace(self, points=tuple((float(x), float(y)) for x, y in points))


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def make_drawing(asset: str, kind: str, points: Sequence[Point], color: str = "",
                 label: str = "") -> Drawing:
    """A new drawing with a fresh id, checked (ValueError names the problem)."""
    drawing = Drawing(new_id(), asset, kind, tuple((float(x), float(y)) for x, y in points),
                      color, label)
    check_item(drawing.to_json(), "drawing")
    return drawing


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def check_item(item: object, where: str) -> None:
    """Raise ValueError naming the first problem of one drawing's JSON form."""
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(item).__name__}")
    for key in ("id", "asset", "kind", "points"):
        if key not in item:
            raise ValueError(f"{where}: missing {key!r}")
    if not isinstance(item["id"], str) or not _ID.fullmatch(item["id"]):
        raise ValueError(f"{where}.id: {item['id']!r} is not an id (letters, digits, - and _)")
    if not isinstance(item["asset"], str) or not _ASSET.fullmatch(item["asset"]):
        raise ValueError(f"{where}.asset: {item['asset']!r} is not an asset name")
    kind = item["kind"]
    if kind not in POINT_COUNTS:
        raise ValueError(f"{where}.kind: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    points = item["points"]
    if not isinstance(points, list | tuple):
        raise ValueError(f"{where}.points: expected a list of [time, price] pairs")
    want = POINT_COUNTS[kind]
    if len(points) != want:
        raise ValueError(f"{where}.points: expected {want} point{'s' if want > 1 else ''}, "
                         f"got {len(points)}")
    for i, point in enumerate(points):
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise ValueError(f"{where}.points[{i}]: expected [time, price]")
        x, y = point
        if not _finite(x) or not 0 <= x <= MAX_EPOCH_S:
            raise ValueError(f"{where}.points[{i}]: time {x!r} is not a finite epoch second")
        if not _finite(y) or y <= 0:
            raise ValueError(f"{where}.points[{i}]: price {y!r} is not a finite number > 0")
    color = item.get("color", "")
    if not isinstance(color, str) or (color and not _COLOR.fullmatch(color)):
        raise ValueError(f"{where}.color: {color!r} is not a #rrggbb colour")
    label = item.get("label", "")
    if not isinstance(label, str):
        raise ValueError(f"{where}.label: expected text")
    if len(label) > LABEL_MAX:
        raise ValueError(f"{where}.label: {len(label)} characters (at most {LABEL_MAX})")


# -- what a drawing shows -----------------------------------------------------------------------
@dataclass(frozen=True)
class BoxNumbers:
    change: float  # second price − first price
    change_pct: float  # that change in % of the first price
    duration_s: float  # |second time − first time|
    bars: int | None  # whole bars of the shown interval in that span, when one is given

    def text(self) -> str:
        """"+12.50% (+7,500) · 3 d 4 h · 76 bars"."""
        parts = [f"{self.change_pct:+.2f}% ({signed_price(self.change)})",
                 format_duration(self.duration_s)]
        if self.bars is not None:
            parts.append(f"{self.bars} bar{'s' if self.bars != 1 else ''}")
        return " · ".join(parts)


def box_numbers(points: Sequence[Point], bar_seconds: float | None = None) -> BoxNumbers:
    """The change from the first point's price to the second's, and the time between them."""
    (x0, y0), (x1, y1) = points
    change = y1 - y0
    duration = abs(x1 - x0)
    bars = int(duration // bar_seconds) if bar_seconds else None
    return BoxNumbers(change, change / y0 * 100.0, duration, bars)


def format_duration(seconds: float) -> str:
    """The two largest units that matter: "3 d 4 h", "5 h 30 min", "45 min", "2 d"."""
    minutes = round(abs(seconds) / 60.0)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def signed_price(value: float) -> str:
    """A price change with its sign: "+7,500", "-12.5", "+0.0042"."""
    sign = "+" if value >= 0 else "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{sign}{magnitude:,.0f}"
    if magnitude >= 10:
        return f"{sign}{magnitude:,.2f}".rstrip("0").rstrip(".")
    return f"{sign}{magnitude:.4g}"


def ray_end(points: Sequence[Point], x_left: float, x_right: float, log: bool) -> Point:
    """Where a ray from the first point through the second leaves the view [x_left, x_right]:
    the line is straight on screen, so in log scale it is straight in log10(price) and the
    price at the edge grows geometrically. A vertical ray ends at its second point."""
    (x0, y0), (x1, y1) = points
    if x1 == x0:
        return x1, y1
    edge = x_right if x1 > x0 else x_left
    if (edge - x1) * (x1 - x0) <= 0:  # the second point is already past the edge
        return x1, y1
    t = (edge - x0) / (x1 - x0)
    if log:
        return edge, 10 ** (math.log10(y0) + t * (math.log10(y1) - math.log10(y0)))
    return edge, y0 + t * (y1 - y0)


# -- the book -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Change:
    """One undoable step: each touched drawing before and after (None: absent), with where it
    stood in the order (a deleted drawing comes back in its place)."""
    name: str
    before: tuple[tuple[int, Drawing | None], ...]
    after: tuple[Drawing | None, ...]


class DrawingBook:
    """Every asset's drawings, the selection shared by the chart and the drawings dock, and the
    undo/redo history. A workspace section named "drawings"."""

    section = "drawings"

    def __init__(self, drawings: Iterable[Drawing] = ()) -> None:
        self._items: dict[str, Drawing] = {d.id: d for d in drawings}
        self._undo: list[_Change] = []
        self._redo: list[_Change] = []
        self._listeners: list[Callable[[], None]] = []
        self._selection_listeners: list[Callable[[], None]] = []
        self.selected: str | None = None

    # -- reading ------------------------------------------------------------------------------
    def __iter__(self):
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def get(self, drawing_id: str | None) -> Drawing | None:
        return self._items.get(drawing_id) if drawing_id else None

    def for_asset(self, asset: str) -> list[Drawing]:
        return [d for d in self._items.values() if d.asset == asset]

    def levels(self, asset: str) -> list[float]:
        return sorted(d.points[0][1] for d in self.for_asset(asset) if d.kind == LEVEL)

    # -- listeners ----------------------------------------------------------------------------
    def add_listener(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def add_selection_listener(self, callback: Callable[[], None]) -> None:
        """Told when the selection changes (not a change of the drawings: nothing to save)."""
        self._selection_listeners.append(callback)

    def remove_selection_listener(self, callback: Callable[[], None]) -> None:
        if callback in self._selection_listeners:
            self._selection_listeners.remove(callback)

    def _changed(self) -> None:
        if self.selected is not None and self.selected not in self._items:
            self.select(None)
        for callback in list(self._listeners):
            callback()

    # -- selection ----------------------------------------------------------------------------
    def select(self, drawing_id: str | None) -> None:
        if drawing_id is not None and drawing_id not in self._items:
            drawing_id = None
        if drawing_id == self.selected:
            return
        self.selected = drawing_id
        for callback in list(self._selection_listeners):
            callback()

    # -- edits (each one undoable step) --------------------------------------------------------
    def add(self, drawing: Drawing) -> Drawing:
        check_item(drawing.to_json(), "drawing")
        if drawing.id in self._items:
            raise ValueError(f"drawing {drawing.id} exists already")
        self._apply(_Change(f"add {KIND_NAMES[drawing.kind]}", ((len(self._items), None),),
                            (drawing,)))
        return drawing

    def move(self, drawing_id: str, points: Sequence[Point]) -> Drawing:
        old = self._need(drawing_id)
        new = old.moved(points)
        check_item(new.to_json(), "drawing")
        if new.points != old.points:
            self._replace(old, new, f"move {KIND_NAMES[old.kind]}")
        return new

    def edit(self, drawing_id: str, *, color: str | None = None,
             label: str | None = None) -> Drawing:
        old = self._need(drawing_id)
        new = replace(old, color=old.color if color is None else color,
                      label=old.label if label is None else label)
        check_item(new.to_json(), "drawing")
        if (new.color, new.label) != (old.color, old.label):
            self._replace(old, new, f"edit {KIND_NAMES[old.kind]}")
        return new

    def delete(self, drawing_id: str) -> Drawing:
        old = self._need(drawing_id)
        index = list(self._items).index(drawing_id)
        self._apply(_Change(f"delete {KIND_NAMES[old.kind]}", ((index, old),), (None,)))
        return old

    def _need(self, drawing_id: str) -> Drawing:
        drawing = self._items.get(drawing_id)
        if drawing is None:
            raise KeyError(f"no drawing {drawing_id}")
        return drawing

    def _replace(self, old: Drawing, new: Drawing, name: str) -> None:
        index = list(self._items).index(old.id)
        self._apply(_Change(name, ((index, old),), (new,)))

    def _apply(self, change: _Change) -> None:
        self._put(change.before, change.after)
        self._undo.append(change)
        self._redo.clear()
        self._changed()

    def _put(self, before: tuple[tuple[int, Drawing | None], ...],
             after: Sequence[Drawing | None]) -> None:
        """Each touched drawing takes its `after` state, at its place in the order."""
        order = list(self._items.values())
        for (index, old), new in zip(before, after, strict=True):
            ident = (old or new).id  # type: ignore[union-attr]
            order = [d for d in order if d.id != ident]
            if new is not None:
                order.insert(min(index, len(order)), new)
        self._items = {d.id: d for d in order}

    # -- history ------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_name(self) -> str:
        return self._undo[-1].name if self._undo else ""

    def redo_name(self) -> str:
        return self._redo[-1].name if self._redo else ""

    def undo(self) -> bool:
        if not self._undo:
            return False
        change = self._undo.pop()
        self._put(tuple((i, new) for (i, _old), new in zip(change.before, change.after,
                                                            strict=True)),
                  [old for _i, old in change.before])
        self._redo.append(change)
        self._changed()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        change = self._redo.pop()
        self._put(change.before, change.after)
        self._undo.append(change)
        self._changed()
        return True

    # -- the workspace section -----------------------------------------------------------------
    def to_json(self) -> list[dict[str, Any]]:
        return [d.to_json() for d in self._items.values()]

    @classmethod
    def validate_json(cls, data: object) -> None:
        if not isinstance(data, list):
            raise ValueError(f"drawings: expected a list, got {type(data).__name__}")
        seen: set[str] = set()
        for i, item in enumerate(data):
            check_item(item, f"drawings[{i}]")
            if item["id"] in seen:
                raise ValueError(f"drawings[{i}].id: {item['id']!r} is used twice")
            seen.add(item["id"])

    def load_json(self, data: object) -> None:
        """Replace every drawing (all or nothing); the history starts afresh (undoing into
        another workspace's drawings would surprise)."""
        self.validate_json(data)
        assert isinstance(data, list)
        self._items = {item["id"]: Drawing.from_json(item, f"drawings[{i}]")
                       for i, item in enumerate(data)}
        self._undo.clear()
        self._redo.clear()
        self._changed()

    # -- the levels of earlier versions ---------------------------------------------------------
    def merge_levels(self, asset: str, prices: Iterable[float], x: float) -> int:
        """Add a level drawing for each price the asset has none at (not an undoable step: a
        migration, not an edit). Returns how many were added."""
        have = set(self.levels(asset))
        added = 0
        for price in prices:
            if price in have:
                continue
            drawing = make_drawing(asset, LEVEL, [(x, price)])
            self._items[drawing.id] = drawing
            have.add(price)
            added += 1
        if added:
            self._changed()
        return added


def levels_from_setting(raw: object) -> list[float]:
    """The BTC levels earlier versions kept under the setting `levels/btc`."""
    return parse_user_levels(raw)
