"""Merging fetched rows into a held series: which rows are new, and where the tail starts."""

from __future__ import annotations

import numpy as np

from models.series import SeriesData


def _held() -> SeriesData:
    return SeriesData.from_rows([10, 20, 30, 40], close=[1.0, 2.0, 3.0, 4.0])


def test_the_forming_bar_replaced_and_new_bars_appended_leave_the_prefix_alone():
    merged, tail_from = _held().merge_with_tail(
        SeriesData.from_rows([40, 50], close=[4.5, 5.0]))
    assert merged.time.tolist() == [10, 20, 30, 40, 50]
    assert merged["close"].tolist() == [1.0, 2.0, 3.0, 4.5, 5.0]
    assert tail_from == 3  # rows 0..2 (times 10, 20, 30) are the held ones


def test_a_row_between_held_rows_starts_the_tail_there():
    merged, tail_from = _held().merge_with_tail(SeriesData.from_rows([25], close=[2.5]))
    assert merged.time.tolist() == [10, 20, 25, 30, 40]
    assert tail_from == 2  # 10 and 20 unchanged; 25 is new at index 2


def test_older_history_is_a_rewrite():
    merged, tail_from = _held().merge_with_tail(SeriesData.from_rows([0, 5], close=[0.0, 0.5]))
    assert merged.time.tolist() == [0, 5, 10, 20, 30, 40]
    assert tail_from is None


def test_nothing_fetched_changes_nothing():
    held = _held()
    merged, tail_from = held.merge_with_tail(SeriesData.empty(["close"]))
    assert merged is held and tail_from == 4


def test_concat_lets_a_later_page_win_a_repeated_time_and_unions_columns():
    first = SeriesData.from_rows([30, 40], close=[3.0, 4.0])
    second = SeriesData.from_rows([10, 40], close=[1.0, 4.4], volume=[7.0, 8.0])
    both = SeriesData.concat([first, SeriesData.empty(), second])
    assert both.time.tolist() == [10, 30, 40]
    assert both["close"].tolist() == [1.0, 3.0, 4.4]
    np.testing.assert_array_equal(both["volume"], [7.0, np.nan, 8.0])


def test_rows_without_any_value_are_dropped():
    data = SeriesData.from_rows([1, 2, 3], close=[1.0, np.nan, np.nan],
                                volume=[np.nan, np.nan, 3.0])
    assert data.without_empty_rows().time.tolist() == [1, 3]


def _by_dict(held: SeriesData, newer_rows: list[tuple[int, float]]) -> dict[int, float]:
    """The merge by hand: a row per time, the newer one (the last given) wins."""
    rows = dict(zip(held.time.tolist(), held["close"].tolist(), strict=True))
    for t, v in newer_rows:
        rows[t] = v
    return dict(sorted(rows.items()))


def test_merge_equals_a_row_by_row_merge_for_random_overlaps():
    rng = np.random.default_rng(7)
    for _ in range(200):
        times = np.unique(rng.integers(0, 60, rng.integers(0, 30)))
        held = SeriesData(times, {"close": rng.random(len(times))})
        newer_t = rng.integers(0, 70, rng.integers(1, 10))  # unsorted, maybe repeated
        newer_v = rng.random(len(newer_t))
        merged = held.merge(SeriesData.from_rows(newer_t, close=newer_v))
        expect = _by_dict(held, list(zip(newer_t.tolist(), newer_v.tolist(), strict=True)))
        assert merged.time.tolist() == list(expect)
        assert merged["close"].tolist() == list(expect.values())
        _, tail_from = held.merge_with_tail(SeriesData.from_rows(newer_t, close=newer_v))
        if tail_from is not None:  # the rows before it are the held ones, unchanged
            assert merged.time[:tail_from].tolist() == held.time[:tail_from].tolist()
            assert merged["close"][:tail_from].tolist() == held["close"][:tail_from].tolist()


def test_a_column_only_the_newer_rows_have_is_nan_before_them():
    merged = _held().merge(SeriesData.from_rows([40, 50], close=[4.5, 5.0], volume=[1.0, 2.0]))
    np.testing.assert_array_equal(merged["volume"], [np.nan, np.nan, np.nan, 1.0, 2.0])
