"""A named workspace: the dock layout, each dock's choices, the time link and the sections
(drawings, symbols) a trader set up, as versioned JSON (docs/workspaces.md).

Pure data: parsing, validation and the file name derived from a workspace's name. Reading and
writing files is `services/workspaces.py`; capturing and applying one is `ui/workspaces.py`.
Whatever this version does not know (a top-level key, a dock, a choice, a key inside the layout
or a section) is kept as it was read and written back: a newer file loses nothing here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from models.dock_choices import DOCK_CHOICES, Choice, allowed_values

__all__ = ["DOCK_CHOICES", "Choice"]  # re-exported: the table lives in models/dock_choices.py

FORMAT = "rotor-workspace"
VERSION = 1
MAX_NAME_CHARS = 64
#: where a group of docks sits (Qt's four dock areas)
AREAS = ("left", "right", "top", "bottom")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TOP_KEYS = ("format", "version", "name", "description", "time_link", "layout", "docks",
             "sections")


class WorkspaceError(ValueError):
    """A workspace that cannot be used; the message names the problem."""


#: what a choice may be, beyond its type: a collection of values or a predicate
Allowed = Mapping[str, Mapping[str, "Collection[Any] | Callable[[Any], bool]"]]


@dataclass
class Workspace:
    name: str
    #: dock key -> that dock's choices (known ones checked, unknown ones kept)
    docks: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: {"groups": [{"area", "tabs", "front", "size"}], "area_sizes": {...}, "qt_state": hex}
    layout: dict[str, Any] = field(default_factory=dict)
    time_link: dict[str, Any] = field(default_factory=lambda: {"linked": True})
    #: section name -> its JSON, handed to the registered section object
    sections: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: top-level keys this version does not know, kept verbatim
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def linked(self) -> bool:
        return bool(self.time_link.get("linked", True))

    def choices(self, dock: str) -> dict[str, Any]:
        """Dock `dock`'s choices, the ones the workspace leaves out at their defaults: what the
        dock shows once the workspace is applied (a headless export reads the same)."""
        defaults = {name: list(c.default) if isinstance(c.default, list) else c.default
                    for name, c in DOCK_CHOICES.get(dock, {}).items()}
        return {**defaults, **self.docks.get(dock, {})}

    def shown_docks(self) -> list[str]:
        """The dock keys the layout shows, group by group."""
        return [key for group in self.layout.get("groups", []) for key in group["tabs"]]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name}
        if self.description:
            out["description"] = self.description
        out["time_link"] = self.time_link
        out["layout"] = self.layout
        out["docks"] = self.docks
        out["sections"] = self.sections
        out.update(self.extra)
        return out

    def dumps(self) -> str:
        """The file's text: indented, stable, no NaN or infinity."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def renamed(self, name: str) -> Workspace:
        return replace(self, name=check_name(name))


# -- names ------------------------------------------------------------------------------------
def check_name(name: Any) -> str:
    """A workspace name as it is kept (trimmed), or WorkspaceError saying what is wrong."""
    if not isinstance(name, str):
        raise WorkspaceError(f"name: expected a string, got {_show(name)}")
    name = name.strip()
    if not name:
        raise WorkspaceError("name: a workspace needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise WorkspaceError(f"name: at most {MAX_NAME_CHARS} characters (got {len(name)})")
    if "/" in name or "\\" in name:
        raise WorkspaceError("name: no / or \\ in a workspace name")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise WorkspaceError("name: no control characters in a workspace name")
    return name


def same_name(a: str, b: str) -> bool:
    """Names are unique regardless of case ("Options" and "options" are one workspace)."""
    return a.strip().casefold() == b.strip().casefold()


def file_stem(name: str) -> str:
    """A safe file name (without .json) for a workspace name: lower-case ASCII letters, digits
    and dashes; a name with none of those gets a stem from its hash."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48].strip("-")
    if not stem:
        stem = "workspace-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return stem


# -- parsing ----------------------------------------------------------------------------------
def loads_workspace(text: str | bytes, allowed: Allowed | None = None) -> Workspace:
    """A workspace from a file's text; malformed JSON is named with its line and column."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise WorkspaceError(f"not UTF-8 text (byte {e.start})") from e
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise WorkspaceError(f"malformed JSON at line {e.lineno}, column {e.colno}: "
                             f"{e.msg}") from e
    return parse_workspace(data, allowed)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise WorkspaceError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise WorkspaceError(f"{name} is not a number a workspace may hold")


def parse_workspace(data: Any, allowed: Allowed | None = None) -> Workspace:
    """Check a decoded workspace file and build it; WorkspaceError names the first problem.
    `allowed` adds the values each known choice may take (the window knows them)."""
    if not isinstance(data, dict):
        raise WorkspaceError(f"not a Rotor workspace (expected an object, got "
                             f"{_type_name(data)})")
    if "format" not in data:
        raise WorkspaceError("not a Rotor workspace (format missing)")
    if data["format"] != FORMAT:
        raise WorkspaceError(f"not a Rotor workspace (format is {_show(data['format'])}, "
                             f"expected {FORMAT!r})")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise WorkspaceError(f"version: expected a whole number, got {_show(version)}")
    if version > VERSION:
        raise WorkspaceError(f"version {version} is newer than this Rotor understands "
                             f"({VERSION}); update Rotor")
    if version < 1:
        raise WorkspaceError(f"version: {version} is not a workspace version")
    name = check_name(data.get("name"))
    description = data.get("description", "")
    if not isinstance(description, str):
        raise WorkspaceError(f"description: expected a string, got {_show(description)}")
    time_link = _object(data.get("time_link", {"linked": True}), "time_link")
    if not isinstance(time_link.get("linked", True), bool):
        raise WorkspaceError(f"time_link.linked: expected true or false, got "
                             f"{_show(time_link['linked'])}")
    layout = _check_layout(_object(data.get("layout", {}), "layout"))
    docks = _check_docks(_object(data.get("docks", {}), "docks"),
                         allowed_values() if allowed is None else allowed)
    sections = _object(data.get("sections", {}), "sections")
    for key in sections:
        _check_key(key, "sections")
    extra = {k: v for k, v in data.items() if k not in _TOP_KEYS}
    return Workspace(name=name, docks=docks, layout=layout, time_link=time_link,
                     sections=sections, description=description, extra=extra)


def _check_layout(layout: dict[str, Any]) -> dict[str, Any]:
    groups = layout.get("groups", [])
    if not isinstance(groups, list):
        raise WorkspaceError(f"layout.groups: expected a list, got {_show(groups)}")
    seen: set[str] = set()
    for i, group in enumerate(groups):
        where = f"layout.groups[{i}]"
        group = _object(group, where)
        area = group.get("area")
        if area not in AREAS:
            raise WorkspaceError(f"{where}.area: expected one of {', '.join(AREAS)}, got "
                                 f"{_show(area)}")
        tabs = group.get("tabs")
        if not isinstance(tabs, list) or not tabs:
            raise WorkspaceError(f"{where}.tabs: expected a list of dock keys, got "
                                 f"{_show(tabs)}")
        for key in tabs:
            _check_key(key, f"{where}.tabs")
            if key in seen:
                raise WorkspaceError(f"{where}.tabs: the dock {key!r} is placed twice")
            seen.add(key)
        if "front" in group and group["front"] not in tabs:
            raise WorkspaceError(f"{where}.front: {_show(group['front'])} is not one of its "
                                 "tabs")
        if "size" in group:
            _positive(group["size"], f"{where}.size")
    sizes = _object(layout.get("area_sizes", {}), "layout.area_sizes")
    for area, size in sizes.items():
        if area not in AREAS:
            raise WorkspaceError(f"layout.area_sizes: {area!r} is not a dock area")
        _positive(size, f"layout.area_sizes.{area}")
    state = layout.get("qt_state", "")
    if not isinstance(state, str) or not re.fullmatch(r"(?:[0-9a-f]{2})*", state):
        raise WorkspaceError("layout.qt_state: expected lower-case hex text")
    return layout


def _check_docks(docks: dict[str, Any], allowed: Allowed) -> dict[str, dict[str, Any]]:
    for dock, choices in docks.items():
        _check_key(dock, "docks")
        choices = _object(choices, f"docks.{dock}")
        known = DOCK_CHOICES.get(dock, {})
        limits = allowed.get(dock, {})
        for name, value in choices.items():
            where = f"docks.{dock}.{name}"
            spec = known.get(name)
            if spec is None:
                _check_plain(value, where)  # unknown here: kept, not applied
                continue
            _check_type(value, spec.default, where)
            limit = limits.get(name)
            if limit is None:
                continue
            ok = limit(value) if callable(limit) else (
                all(v in limit for v in value) if isinstance(value, list) else value in limit)
            if not ok:
                options = "" if callable(limit) else \
                    f" (one of {', '.join(_show(v) for v in limit)})"
                raise WorkspaceError(f"{where}: {_show(value)} is not a valid value{options}")
    return docks


def _check_type(value: Any, default: Any, where: str) -> None:
    if isinstance(default, bool):
        ok, expected = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, expected = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value))
        expected = "a number"
    elif isinstance(default, str):
        ok, expected = isinstance(value, str), "a string"
    else:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        expected = "a list of strings"
    if not ok:
        raise WorkspaceError(f"{where}: expected {expected}, got {_show(value)}")


def _check_plain(value: Any, where: str) -> None:
    """An unknown choice is still a choice: a JSON scalar or a list of strings."""
    if isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return
    raise WorkspaceError(f"{where}: expected a string, number, true/false or a list of "
                         f"strings, got {_show(value)}")


def _check_key(key: Any, where: str) -> None:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise WorkspaceError(f"{where}: {_show(key)} is not a key (lower-case letters, digits, "
                             "_)")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WorkspaceError(f"{where}: expected an object, got {_show(value)}")
    return value


def _positive(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 100_000:
        raise WorkspaceError(f"{where}: expected a whole number above 0, got {_show(value)}")


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "a value")


def _show(value: Any) -> str:
    """A value as the message shows it (JSON spelling, cut short)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"
