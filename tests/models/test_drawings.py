"""Drawings on the price charts: validation, undo/redo, a box's numbers by hand, the JSON round
trip with unknown keys, and the migration of the old BTC levels (issue #14, item 2)."""

from __future__ import annotations

import json
import math

import pytest

from models.drawings import (
    BOX,
    LABEL_MAX,
    LEVEL,
    NOTE,
    RAY,
    TREND,
    Drawing,
    DrawingBook,
    box_numbers,
    format_duration,
    levels_from_setting,
    make_drawing,
    ray_end,
)

DAY = 86_400.0
T0 = 1_769_990_400.0  # 2026-02-02 00:00 UTC


def _trend(asset="btc"):
    return make_drawing(asset, TREND, [(T0, 60_000.0), (T0 + DAY, 66_000.0)])


# -- a box's numbers, by hand -------------------------------------------------------------------
def test_box_numbers_by_hand():
    # 60,000 -> 67,500 is +7,500, i.e. 7,500 / 60,000 = +12.5 %; 3 days 4 hours apart.
    numbers = box_numbers([(T0, 60_000.0), (T0 + 3 * DAY + 4 * 3600, 67_500.0)],
                          bar_seconds=3600)
    assert numbers.change == 7_500.0
    assert numbers.change_pct == pytest.approx(12.5)
    assert numbers.duration_s == 3 * DAY + 4 * 3600
    assert numbers.bars == 76  # 3 × 24 + 4 hourly bars
    assert numbers.text() == "+12.50% (+7,500) · 3 d 4 h · 76 bars"
    # Drawn right to left and downwards: the first point is still where the change starts.
    down = box_numbers([(T0 + 2 * DAY, 80.0), (T0, 60.0)])
    assert down.change_pct == pytest.approx(-25.0)
    assert down.duration_s == 2 * DAY and down.bars is None
    assert down.text() == "-25.00% (-20) · 2 d"


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 min"), (45 * 60, "45 min"), (3600, "1 h"), (5.5 * 3600, "5 h 30 min"),
    (DAY, "1 d"), (3 * DAY + 4 * 3600, "3 d 4 h"), (400 * DAY, "400 d")])
def test_durations_read_in_the_two_largest_units(seconds, text):
    assert format_duration(seconds) == text


def test_a_ray_runs_to_the_views_edge_straight_on_screen():
    points = [(0.0, 100.0), (10.0, 110.0)]
    # linear: +1 a second, so at x = 30 it reads 130
    assert ray_end(points, -50.0, 30.0, log=False) == (30.0, pytest.approx(130.0))
    # log: ×1.1 every 10 s (straight in log10 price), so at x = 30 it reads 100 × 1.1³
    assert ray_end(points, -50.0, 30.0, log=True) == (30.0, pytest.approx(133.1))
    # drawn leftwards it leaves by the left edge
    assert ray_end([(10.0, 110.0), (0.0, 100.0)], -20.0, 99.0, log=False) == (
        -20.0, pytest.approx(80.0))
    # a second point already past the edge, or a vertical ray: it ends at its point
    assert ray_end(points, -50.0, 5.0, log=False) == (10.0, 110.0)
    assert ray_end([(5.0, 1.0), (5.0, 2.0)], 0.0, 9.0, log=False) == (5.0, 2.0)


# -- validation ---------------------------------------------------------------------------------
def _item(**changes):
    item = {"id": "a1", "asset": "btc", "kind": "trend",
            "points": [[T0, 60_000.0], [T0 + DAY, 61_000.0]], "color": "", "label": ""}
    item.update(changes)
    return item


@pytest.mark.parametrize(("changes", "message"), [
    ({"kind": "circle"}, "drawings[0].kind: unknown kind 'circle'"),
    ({"points": [[T0, 60_000.0]]}, "drawings[0].points: expected 2 points, got 1"),
    ({"points": [[T0, 60_000.0], [T0, -1.0]]}, "drawings[0].points[1]: price -1.0"),
    ({"points": [[T0, 60_000.0], [T0, 0]]}, "drawings[0].points[1]: price 0"),
    ({"points": [[math.nan, 60_000.0], [T0, 1.0]]}, "drawings[0].points[0]: time nan"),
    ({"points": [[T0, math.inf], [T0, 1.0]]}, "drawings[0].points[0]: price inf"),
    ({"points": [[T0, "60000"], [T0, 1.0]]}, "drawings[0].points[0]: price '60000'"),
    ({"points": [[T0, True], [T0, 1.0]]}, "drawings[0].points[0]: price True"),
    ({"color": "red"}, "drawings[0].color: 'red' is not a #rrggbb colour"),
    ({"color": "#12345"}, "drawings[0].color"),
    ({"label": "x" * (LABEL_MAX + 1)}, f"drawings[0].label: {LABEL_MAX + 1} characters"),
    ({"asset": "../etc"}, "drawings[0].asset: '../etc' is not an asset name"),
    ({"asset": "btc'; drop"}, "drawings[0].asset"),
    ({"id": ""}, "drawings[0].id"),
])
def test_validation_names_the_problem(changes, message):
    with pytest.raises(ValueError) as raised:
        DrawingBook.validate_json([_item(**changes)])
    assert str(raised.value).startswith(message)


def test_validation_refuses_a_non_list_and_a_repeated_id():
    with pytest.raises(ValueError, match="drawings: expected a list, got dict"):
        DrawingBook.validate_json({"items": []})
    with pytest.raises(ValueError, match=r"drawings\[1\].id: 'a1' is used twice"):
        DrawingBook.validate_json([_item(), _item()])
    with pytest.raises(ValueError, match=r"drawings\[0\]: missing 'points'"):
        DrawingBook.validate_json([{"id": "a", "asset": "btc", "kind": "note"}])


def test_a_failed_load_changes_nothing():
    book = DrawingBook()
    kept = book.add(_trend())
    calls = []
    book.add_listener(lambda: calls.append(1))
    with pytest.raises(ValueError):
        book.load_json([_item(), _item(id="b", kind="box", points=[[T0, 1.0]])])
    assert list(book) == [kept] and calls == [] and book.can_undo


def test_edits_are_checked_before_they_apply():
    book = DrawingBook()
    drawing = book.add(_trend())
    with pytest.raises(ValueError, match="colour"):
        book.edit(drawing.id, color="blue")
    with pytest.raises(ValueError, match="price"):
        book.move(drawing.id, [(T0, 1.0), (T0, -5.0)])
    assert book.get(drawing.id) == drawing
    assert book.undo_name() == "add trend line"


# -- undo / redo --------------------------------------------------------------------------------
def test_undo_and_redo_walk_the_history_and_a_new_edit_drops_the_redo():
    book = DrawingBook()
    calls = []
    book.add_listener(lambda: calls.append(len(book)))
    trend = book.add(_trend())
    level = book.add(make_drawing("eth", LEVEL, [(T0, 3_000.0)]))
    moved = book.move(trend.id, [(T0, 61_000.0), (T0 + DAY, 65_000.0)])
    book.edit(trend.id, color="#ff8800", label="breakout")
    book.delete(trend.id)
    assert [d.id for d in book] == [level.id]
    assert book.undo_name() == "delete trend line"

    assert book.undo()  # the delete: back in its place (first), with its colour and label
    assert [d.id for d in book] == [trend.id, level.id]
    assert (book.get(trend.id).color, book.get(trend.id).label) == ("#ff8800", "breakout")
    assert book.undo()  # the edit
    assert book.get(trend.id) == moved and book.get(trend.id).label == ""
    assert book.undo()  # the move
    assert book.get(trend.id).points == trend.points
    assert book.redo()  # the move again
    assert book.get(trend.id).points == moved.points
    assert book.can_redo
    book.edit(level.id, label="eth pivot")  # a new edit: the redo stack is gone
    assert not book.can_redo and not book.redo()
    while book.undo():
        pass
    assert len(book) == 0 and not book.can_undo
    assert calls[:5] == [1, 2, 2, 2, 1]  # a listener call after every change


def test_an_edit_that_changes_nothing_is_no_step():
    book = DrawingBook()
    drawing = book.add(_trend())
    book.move(drawing.id, drawing.points)
    book.edit(drawing.id, label="")
    assert book.undo_name() == "add trend line"
    book.undo()
    assert not book.can_undo


def test_the_selection_is_shared_and_follows_a_deletion():
    book = DrawingBook()
    drawing = book.add(_trend())
    seen = []
    book.add_selection_listener(lambda: seen.append(book.selected))
    book.select(drawing.id)
    book.select("nope")  # unknown: nothing is selected
    book.select(drawing.id)
    book.delete(drawing.id)
    assert seen == [drawing.id, None, drawing.id, None]


# -- the workspace section ----------------------------------------------------------------------
def test_to_json_and_load_json_round_trip_with_unknown_keys_kept():
    data = [
        _item(id="t1", color="#3366ff", label="channel top", locked=True,
              style={"width": 2}),
        _item(id="l1", kind="level", points=[[T0, 70_000.0]]),
        _item(id="b1", asset="gold", kind="box", points=[[T0, 2_000.0], [T0 + DAY, 2_100.0]]),
        _item(id="n1", asset="spx", kind="note", points=[[T0, 6_000.0]], label="FOMC"),
        _item(id="r1", asset="eth", kind="ray"),
    ]
    book = DrawingBook()
    calls = []
    book.add_listener(lambda: calls.append(1))
    book.load_json(json.loads(json.dumps(data)))
    assert calls == [1]
    out = book.to_json()
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert out[0] == {"id": "t1", "asset": "btc", "kind": "trend",
                      "points": [[T0, 60_000.0], [T0 + DAY, 61_000.0]],
                      "color": "#3366ff", "label": "channel top",
                      "locked": True, "style": {"width": 2}}
    assert list(out[0]) == ["id", "asset", "kind", "points", "color", "label", "locked",
                            "style"]  # stable key order: known keys first, then the others
    assert [d["kind"] for d in out] == [TREND, LEVEL, BOX, NOTE, RAY]
    again = DrawingBook()
    again.load_json(out)
    assert again.to_json() == out
    # an edit keeps the unknown keys
    again.edit("t1", label="channel")
    assert again.to_json()[0]["locked"] is True


def test_a_load_starts_the_history_afresh():
    book = DrawingBook()
    book.add(_trend())
    book.load_json([_item()])
    assert not book.can_undo and [d.id for d in book] == ["a1"]


# -- the levels of earlier versions -------------------------------------------------------------
def test_the_old_btc_levels_become_level_drawings_once():
    book = DrawingBook()
    raw = ["67000.00", "70000.50", "junk", "-3", "nan"]  # as QSettings hands them back
    prices = levels_from_setting(raw)
    assert prices == [67_000.0, 70_000.5]
    assert book.merge_levels("btc", prices, T0) == 2
    assert book.levels("btc") == [67_000.0, 70_000.5]
    assert all(d.kind == LEVEL and d.asset == "btc" for d in book)
    assert not book.can_undo  # a migration, not an edit
    assert book.merge_levels("btc", prices, T0) == 0  # run again: nothing doubles
    assert len(book) == 2
    assert levels_from_setting("65000") == [65_000.0] and levels_from_setting(None) == []


def test_a_drawing_reads_back_from_its_json():
    drawing = Drawing("x1", "btc", NOTE, ((T0, 1.5),), "#aabbcc", "hello", {"z": 1})
    assert Drawing.from_json(drawing.to_json()) == drawing
    assert Drawing.from_json(drawing.to_json()).extra == {"z": 1}
