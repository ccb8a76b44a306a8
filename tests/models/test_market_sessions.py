"""Open-market windows (models/sessions.py) and the tracker's open-market cadence."""

from __future__ import annotations

from datetime import UTC, datetime

from models.catalog import get_spec
from models.sessions import is_open, next_change_ms, open_windows, windows_by_series
from services.source_tracker import SourceTracker


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_nyse_windows_carry_winter_hours_holidays_and_early_closes():
    windows = open_windows("XNYS", ms("2026-11-25T00:00"), ms("2026-11-28T00:00"))
    # 25 Nov a full day (EST: 09:30-16:00 = 14:30-21:00 UTC), 26 Nov Thanksgiving, 27 Nov closes
    # at 13:00 New York
    assert windows == [(ms("2026-11-25T14:30"), ms("2026-11-25T21:00")),
                       (ms("2026-11-27T14:30"), ms("2026-11-27T18:00"))]
    assert is_open(windows, ms("2026-11-25T15:00"))
    assert not is_open(windows, ms("2026-11-26T15:00"))
    assert next_change_ms(windows, ms("2026-11-25T21:00")) == ms("2026-11-27T14:30")
    summer = open_windows("XNYS", ms("2026-07-01T00:00"), ms("2026-07-02T00:00"))
    assert summer == [(ms("2026-07-01T13:30"), ms("2026-07-01T20:00"))]  # EDT


def test_round_the_clock_weekdays_and_unknown_calendars():
    start, end = ms("2026-11-27T12:00"), ms("2026-12-01T00:00")  # Friday noon to Tuesday
    assert open_windows("24/7", start, end) == [(start, end)]
    assert open_windows("24/5", start, end) == [(ms("2026-11-27T00:00"), ms("2026-11-28T00:00")),
                                                (ms("2026-11-30T00:00"), ms("2026-12-01T00:00"))]
    got = windows_by_series({"spx.1h": "XNYS", "odd.1h": "NOPE"}, start, end)
    assert set(got) == {"spx.1h"}  # an unknown calendar: the catalog's cadence all day


def test_the_open_market_cadence_moves_the_next_due_time_and_the_user_still_wins():
    from models.preferences import Preferences

    spec = get_spec("spx.1h")
    assert spec.source == "yahoo" and spec.poll_seconds == 300
    tracker = SourceTracker()
    tracker.watch([spec])
    tracker.on_cached(spec.id, None, 0)
    tracker.on_started(spec.id)
    tracker.on_success(spec.id, 1_000, mono=1_000)
    assert tracker.due_at(spec.id) == 301_000
    tracker.set_session_cadence({spec.id: 60})
    assert tracker.poll_seconds(spec) == 60 and tracker.due_at(spec.id) == 61_000
    tracker.set_session_cadence({})  # the market closed
    assert tracker.poll_seconds(spec) == 300 and tracker.due_at(spec.id) == 301_000
    tracker.set_preferences(Preferences(cadence_s={"yahoo": 600}), 1_000, mono=1_000)
    tracker.set_session_cadence({spec.id: 60})
    assert tracker.poll_seconds(spec) == 600
