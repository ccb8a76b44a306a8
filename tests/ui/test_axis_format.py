"""The value axes' number format (ui/charts/axis_format.py), checked against labels written by
hand, and the axis item that uses it on linear and log axes."""

from __future__ import annotations

import math

import pytest

from ui.charts.axis_format import compact, tick_labels


@pytest.mark.parametrize(("value", "currency", "expected"), [
    (70_000, "", "70k"),
    (4e7, "$", "$40M"),
    (-2.5e6, "$", "-$2.5M"),
    (0.5, "", "0.5"),
    (72_541, "", "72.5k"),
    (6_750, "", "6,750"),
    (1.5e9, "$", "$1.5B"),
    (0, "$", "$0"),
    (-0.25, "", "-0.25"),
    (999_960, "", "1M"),
    (0.00001234, "", "0.000012"),
    (math.nan, "", "–"),
])
def test_compact_numbers(value, currency, expected):
    assert compact(value, currency) == expected


def test_tick_labels_share_one_unit_and_enough_decimals():
    assert tick_labels([70_000, 72_500, 75_000], 2_500) == ["70k", "72.5k", "75k"]
    assert tick_labels([-4e7, 0, 4e7], 2e7, "$") == ["-$40M", "$0", "$40M"]
    assert tick_labels([6_750, 6_800, 6_850], 50) == ["6,750", "6,800", "6,850"]
    assert tick_labels([0.1, 0.2, 0.3], 0.1) == ["0.1", "0.2", "0.3"]
    assert tick_labels([], 1.0) == []


def test_value_axis_reads_compact_numbers_on_linear_and_log_axes(qapp):
    from ui.charts.axes import ValueAxisItem

    axis = ValueAxisItem("left")
    assert axis.tickStrings([60_000, 80_000, 100_000], 1.0, 20_000) == ["60k", "80k", "100k"]
    axis.setLogMode(y=True)  # the price chart's log scale: values are log10 of the price
    assert axis.tickStrings([math.log10(v) for v in (60_000, 70_000, 80_000)], 1.0, None) == [
        "60k", "70k", "80k"]
    money = ValueAxisItem("left", currency="$")
    assert money.tickStrings([-4e7, 0.0, 4e7], 1.0, 4e7) == ["-$40M", "$0", "$40M"]


def test_log_axis_within_a_decade_marks_even_prices(qapp):
    """Between 6,750 and 7,000 pyqtgraph's log ticks (1-9 × 10ⁿ) mark only 7,000; the axis
    marks 6,750 · 6,800 · 6,850 · … instead (steps of 50, by hand: 250 / 4 = 62.5 → 50)."""
    from ui.charts.axes import ValueAxisItem, even_ticks

    assert even_ticks(6_750, 7_000, 4) == [6_750, 6_800, 6_850, 6_900, 6_950, 7_000]
    assert even_ticks(25_000, 26_000, 4) == [25_000, 25_250, 25_500, 25_750, 26_000]
    axis = ValueAxisItem("left")
    axis.setLogMode(y=True)
    levels = axis.tickValues(math.log10(6_750), math.log10(7_000), 200)
    values = [v for _spacing, vs in levels for v in vs]
    assert [round(10 ** v) for v in values] == [6_750, 6_800, 6_850, 6_900, 6_950, 7_000]
    assert axis.tickStrings(values, 1.0, None) == [
        "6,750", "6,800", "6,850", "6,900", "6,950", "7,000"]
    assert axis.tickStrings([math.log10(v) for v in (25_000, 25_250, 25_500)], 1.0, None) == [
        "25k", "25.25k", "25.5k"]
    # wider than a decade: pyqtgraph's own ticks stay
    wide = axis.tickValues(math.log10(59_000), math.log10(99_000), 200)
    assert sorted(round(10 ** v) for _s, vs in wide for v in vs) == [
        60_000, 70_000, 80_000, 90_000]
