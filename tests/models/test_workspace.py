"""The workspace file format (models/workspace.py): what is refused and how it is named, what is
kept, and the file names derived from workspace names."""

from __future__ import annotations

import json
import re

import pytest

from models.workspace import (
    DOCK_CHOICES,
    FORMAT,
    VERSION,
    Workspace,
    WorkspaceError,
    check_name,
    file_stem,
    loads_workspace,
    parse_workspace,
)
from services.workspaces import SHIPPED_FILES, shipped_dir


def minimal(**changes) -> dict:
    data = {"format": FORMAT, "version": VERSION, "name": "Mine",
            "docks": {"prices": {"interval": "1d"}}}
    data.update(changes)
    return data


def refused(data, allowed=None) -> str:
    with pytest.raises(WorkspaceError) as caught:
        parse_workspace(data, allowed)
    return str(caught.value)


@pytest.mark.parametrize("stem", SHIPPED_FILES)
def test_each_shipped_workspace_parses_and_names_only_known_docks_and_choices(stem):
    workspace = loads_workspace((shipped_dir() / f"{stem}.json").read_bytes())
    assert workspace.name and workspace.description
    assert workspace.shown_docks(), "a shipped workspace shows docks"
    for dock, choices in workspace.docks.items():
        assert set(choices) <= set(DOCK_CHOICES[dock]), dock  # no typo'd choice
    assert set(workspace.shown_docks()) <= set(DOCK_CHOICES)
    assert not workspace.extra and "qt_state" not in workspace.layout  # hand-written


def test_a_wrong_type_is_named_with_its_path():
    data = minimal(docks={"prices": {"interval": 3}})
    assert refused(data) == "docks.prices.interval: expected a string, got 3"
    assert refused(minimal(docks={"prices": {"log": "yes"}})) == \
        'docks.prices.log: expected true or false, got "yes"'
    assert refused(minimal(docks={"volatility": {"window": 30.5}})) == \
        "docks.volatility.window: expected a whole number, got 30.5"
    assert refused(minimal(docks={"prices": {"assets": ["btc", 1]}})) == \
        'docks.prices.assets: expected a list of strings, got ["btc", 1]'


def test_a_newer_version_is_refused_and_says_to_update():
    assert refused(minimal(version=2)) == \
        "version 2 is newer than this Rotor understands (1); update Rotor"


def test_a_file_that_is_not_a_workspace_says_so():
    data = minimal()
    del data["format"]
    assert refused(data) == "not a Rotor workspace (format missing)"
    assert refused(minimal(format="something-else")).startswith("not a Rotor workspace")
    assert refused([1, 2]) == "not a Rotor workspace (expected an object, got a list)"


def test_malformed_json_is_named_with_its_line_and_column():
    text = '{\n  "format": "rotor-workspace",\n  "version": 1,\n  "name": "x" "oops"\n}'
    with pytest.raises(WorkspaceError) as caught:
        loads_workspace(text)
    # Line 4: `  "name": "x" "oops"`; the second string starts at column 15.
    assert str(caught.value) == "malformed JSON at line 4, column 15: Expecting ',' delimiter"


def test_nan_duplicate_keys_and_bad_bytes_are_refused():
    with pytest.raises(WorkspaceError, match="NaN is not a number a workspace may hold"):
        loads_workspace('{"format": "rotor-workspace", "version": 1, "name": "a", '
                        '"docks": {"rotation": {"k": NaN}}}')
    with pytest.raises(WorkspaceError, match="the key 'name' appears twice"):
        loads_workspace('{"format": "rotor-workspace", "version": 1, "name": "a", "name": "b"}')
    with pytest.raises(WorkspaceError, match="not UTF-8"):
        loads_workspace(b'{"name": "\xff"}')


def test_allowed_values_are_checked_when_given():
    allowed = {"prices": {"mode": ("stacked", "compare"), "assets": ("btc", "eth")},
               "rotation": {"k": lambda v: 0.5 <= v <= 6.0}}
    assert refused(minimal(docks={"prices": {"mode": "banana"}}), allowed) == \
        'docks.prices.mode: "banana" is not a valid value (one of "stacked", "compare")'
    assert refused(minimal(docks={"rotation": {"k": 9}}), allowed) == \
        "docks.rotation.k: 9 is not a valid value"
    assert "docks.prices.assets" in refused(minimal(docks={"prices": {"assets": ["xyz"]}}),
                                            allowed)
    assert parse_workspace(minimal(docks={"prices": {"mode": "banana"}}), {}).docks  # no limits
    # by default the docks' own limits (models/dock_choices.py) apply
    assert refused(minimal(docks={"prices": {"mode": "banana"}}), None).startswith(
        'docks.prices.mode: "banana" is not a valid value')


def test_layout_problems_are_named():
    def layout(groups, **more):
        return minimal(layout={"groups": groups, **more})

    assert refused(layout([{"area": "middle", "tabs": ["prices"]}])) == \
        'layout.groups[0].area: expected one of left, right, top, bottom, got "middle"'
    assert refused(layout([{"area": "left", "tabs": ["prices"]},
                           {"area": "right", "tabs": ["prices"]}])) == \
        "layout.groups[1].tabs: the dock 'prices' is placed twice"
    assert refused(layout([{"area": "left", "tabs": ["prices"], "front": "movers"}])) == \
        'layout.groups[0].front: "movers" is not one of its tabs'
    assert refused(layout([{"area": "left", "tabs": ["prices"], "size": 0}])) == \
        "layout.groups[0].size: expected a whole number above 0, got 0"
    assert refused(layout([], qt_state="zz")) == "layout.qt_state: expected lower-case hex text"
    assert refused(layout([{"area": "left", "tabs": ["../x"]}])).startswith(
        'layout.groups[0].tabs: "../x" is not a key')


def test_unknown_keys_are_kept_through_a_round_trip():
    data = minimal(
        future_feature={"nested": [1, 2, {"a": True}]},
        docks={"prices": {"interval": "1d", "future_choice": "x"},
               "heatmap": {"depth": 20}},  # a dock of a newer Rotor
        layout={"groups": [{"area": "left", "tabs": ["prices", "heatmap"]}],
                "splitter_style": "thin"},
        sections={"drawings": {"items": [{"kind": "ray", "new_field": 1}]},
                  "alerts": [{"price": 70000}]},
        time_link={"linked": False, "cursor": "shared"})
    workspace = parse_workspace(json.loads(json.dumps(data)))
    assert workspace.extra == {"future_feature": {"nested": [1, 2, {"a": True}]}}
    again = loads_workspace(workspace.dumps())
    assert again.to_json() == workspace.to_json()
    out = json.loads(again.dumps())
    for key in ("future_feature", "docks", "layout", "sections", "time_link"):
        assert out[key] == data[key], key
    assert again.linked is False


def test_names_are_checked():
    assert check_name("  Squeeze watch ") == "Squeeze watch"
    assert check_name("Options (ETH) — 25Δ") == "Options (ETH) — 25Δ"
    for bad, words in (("", "needs a name"), ("a/b", "no / or \\"), ("a\\b", "no / or \\"),
                       ("tab\there", "control characters"), ("x" * 65, "at most 64"),
                       (3, "expected a string")):
        with pytest.raises(WorkspaceError, match=re.escape(words)):
            check_name(bad)
    assert refused(minimal(name="../../etc/passwd")) == "name: no / or \\ in a workspace name"


def test_file_names_are_safe_whatever_the_name():
    assert file_stem("Squeeze watch") == "squeeze-watch"
    assert file_stem("..") .startswith("workspace-")
    assert file_stem("Crème brûlée: v2!") == "creme-brulee-v2"
    cjk = file_stem("期权")
    assert re.fullmatch(r"workspace-[0-9a-f]{10}", cjk) and cjk != file_stem("期货")
    assert len(file_stem("a" * 64)) == 48
    for name in ("CON", "a.b.c", "semi;colon", " spaced "):
        assert re.fullmatch(r"[a-z0-9-]+", file_stem(name)), name


def test_to_json_puts_the_format_first_and_dumps_no_nan():
    workspace = Workspace(name="x", docks={"rotation": {"k": float("nan")}})
    assert list(workspace.to_json())[:3] == ["format", "version", "name"]
    with pytest.raises(ValueError):
        workspace.dumps()


def test_choices_fill_in_the_defaults_a_workspace_leaves_out():
    workspace = parse_workspace(minimal(docks={"prices": {"interval": "1d", "later": 1}}))
    prices = workspace.choices("prices")
    assert prices["interval"] == "1d" and prices["later"] == 1
    assert prices["mode"] == "stacked" and prices["assets"] == ["btc", "es", "nq", "gold"]
    prices["assets"].append("eth")  # a copy: the table's default is not changed
    assert DOCK_CHOICES["prices"]["assets"].default == ["btc", "es", "nq", "gold"]
    assert workspace.choices("rotation") == {"window": 60, "k": 2.0, "threshold": 0.2}
    assert workspace.choices("heatmap") == {}
