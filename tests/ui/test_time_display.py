"""Times shown in UTC, local or New York time, daylight saving included, on every date axis,
its title, the freshness lines and the status chips."""

from __future__ import annotations

from datetime import UTC, datetime

import pyqtgraph as pg
import pytest

from models.status import SourceState, SourceStatus
from ui import time_display
from ui.charts.axes import ZonedDateAxisItem
from ui.panels.base import describe_freshness
from ui.status_bar import describe


def _ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(autouse=True)
def _back_to_utc():
    yield
    time_display.set_zone("utc")


def test_new_york_follows_daylight_saving_on_both_change_days():
    time_display.set_zone("new_york")
    # 2026-03-08: clocks jump 02:00 EST → 03:00 EDT at 07:00 UTC
    assert time_display.format_time(_ms(2026, 3, 8, 6, 30)) == "01:30"  # UTC-5
    assert time_display.format_time(_ms(2026, 3, 8, 7, 30)) == "03:30"  # UTC-4
    # 2026-11-01: clocks fall back 02:00 EDT → 01:00 EST at 06:00 UTC; 01:30 happens twice
    assert time_display.format_time(_ms(2026, 11, 1, 5, 30), "%H:%M %Z") == "01:30 EDT"
    assert time_display.format_time(_ms(2026, 11, 1, 6, 30), "%H:%M %Z") == "01:30 EST"
    assert time_display.utc_offset_s(_ms(2026, 7, 1) / 1000) == -4 * 3600
    assert time_display.utc_offset_s(_ms(2026, 12, 1) / 1000) == -5 * 3600
    assert time_display.zone_label() == "New York"
    time_display.set_zone("utc")
    assert time_display.format_time(_ms(2026, 3, 8, 6, 30), "%d %H:%M") == "08 06:30"
    assert time_display.zone_label() == "UTC"
    assert time_display.format_time(None) == "--:--"


def test_an_unknown_zone_is_refused():
    with pytest.raises(ValueError):
        time_display.set_zone("Mars/Olympus")
    assert time_display.zone_key() == "utc"


def _hour_ticks(axis: ZonedDateAxisItem, start_ms: int, hours: int) -> dict[float, str]:
    """Tick value (s) -> label for an axis 600 px wide over `hours` hours from `start_ms`."""
    lo, hi = start_ms / 1000, start_ms / 1000 + hours * 3600
    out = {}
    for spacing, values in axis.tickValues(lo, hi, 600):
        for value, text in zip(values, axis.tickStrings(values, 1.0, spacing), strict=True):
            if lo <= value <= hi:
                out[value] = text
    return out


def test_axis_ticks_are_labelled_in_new_york_time_across_the_spring_change(qapp):
    axis = ZonedDateAxisItem()
    time_display.set_zone("new_york")
    ticks = _hour_ticks(axis, _ms(2026, 3, 8, 4), 6)  # 23:00 EST … 03:00 EDT
    # each tick labelled with its own instant's offset: 06:00 UTC is 01:00, 07:00 UTC is 03:00
    assert ticks[_ms(2026, 3, 8, 6) / 1000] == "01:00"
    assert ticks[_ms(2026, 3, 8, 7) / 1000] == "03:00"
    assert "02:00" not in ticks.values()  # that hour did not exist in New York
    time_display.set_zone("utc")
    ticks = _hour_ticks(axis, _ms(2026, 3, 8, 4), 6)
    assert ticks[_ms(2026, 3, 8, 6) / 1000] == "06:00"


def test_axis_day_ticks_sit_at_new_york_midnight(qapp):
    axis = ZonedDateAxisItem()
    time_display.set_zone("new_york")
    start = _ms(2026, 11, 3)
    lo, hi = start / 1000, start / 1000 + 6 * 86400
    days = [v for spacing, values in axis.tickValues(lo, hi, 600) if spacing == 86400
            for v in values if lo <= v <= hi]
    assert days and all(time_display.format_time(int(v * 1000)) == "00:00" for v in days)
    assert _ms(2026, 11, 4, 5) / 1000 in days  # 2026-11-04 00:00 EST is 05:00 UTC


def test_the_axis_title_names_the_zone_and_follows_a_change(qapp):
    plot = pg.PlotItem(axisItems={"bottom": ZonedDateAxisItem()})
    plot.setLabel("bottom", "time (UTC)")
    axis = plot.getAxis("bottom")
    assert axis.labelText == "time (UTC)"
    time_display.set_zone("new_york")
    assert axis.labelText == "time (New York)"
    time_display.set_zone("local")
    assert axis.labelText == "time (local)"
    plot.setLabel("bottom", "price")  # a title without a zone is left alone
    time_display.set_zone("utc")
    assert axis.labelText == "price"


def test_freshness_line_and_status_chip_print_the_display_zone():
    status = SourceStatus("btc.1h", SourceState.OK, venue="binance",
                          last_good_ms=_ms(2026, 3, 8, 7, 30),
                          data_last_ms=_ms(2026, 3, 8, 7))
    now = _ms(2026, 3, 8, 7, 31)
    time_display.set_zone("new_york")
    text, _tone = describe_freshness([status], now, demo=False)
    assert text == "data to 03:00 New York · updated 03:30 New York (1 min ago)"
    assert describe([status]) == (SourceState.OK, "ok 03:30 New York")
    time_display.set_zone("utc")
    text, _tone = describe_freshness([status], now, demo=False)
    assert text == "data to 07:00 UTC · updated 07:30 UTC (1 min ago)"


def test_a_disabled_venue_reads_off_in_its_chip_and_footer():
    off = SourceStatus("funding.bybit.btc", SourceState.OFF, venue="bybit")
    assert describe([off]) == (SourceState.OFF, "off")
    text, _tone = describe_freshness([off], _ms(2026, 3, 8), demo=False)
    assert text == "Bybit off in Settings"
