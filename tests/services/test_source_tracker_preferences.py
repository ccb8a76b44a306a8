"""The user's cadences and disabled venues, applied by the tracker at once (no restart)."""

from __future__ import annotations

from models.catalog import get_spec
from models.ids import funding_id
from models.preferences import Preferences
from models.status import SourceState
from services.errors import NetworkError
from services.source_tracker import SourceTracker

S = 1000
OKX = funding_id("okx", "btc")  # catalog cadence 300 s
BYBIT = funding_id("bybit", "btc")


def _tracker(*ids: str) -> SourceTracker:
    tracker = SourceTracker()
    tracker.watch([get_spec(i) for i in ids])
    for series_id in ids:
        tracker.on_cached(series_id, None, 0)
    return tracker


def _refreshed(tracker: SourceTracker, series_id: str, at: int) -> None:
    tracker.on_started(series_id)
    tracker.on_success(series_id, at, data_last_ms=at)


def test_a_venue_cadence_sets_the_next_refresh_and_moves_a_pending_one():
    tracker = _tracker(OKX, BYBIT)
    assert get_spec(OKX).poll_seconds == 300
    tracker.set_preferences(Preferences(cadence_s={"okx": 60}), 0)
    _refreshed(tracker, OKX, 0)
    _refreshed(tracker, BYBIT, 0)
    assert tracker.due_at(OKX) == 60 * S  # the catalog's 300 s before
    assert tracker.due_at(BYBIT) == 300 * S
    # Changed at 10 s: the pending refresh moves to its last success + the new cadence.
    tracker.set_preferences(Preferences(cadence_s={"okx": 60, "bybit": 30}), 10 * S)
    assert tracker.due_at(BYBIT) == 30 * S
    assert tracker.due(31 * S, 5) == [BYBIT]
    assert set(tracker.due(61 * S, 5)) == {OKX, BYBIT}


def test_staleness_and_back_off_follow_the_cadence():
    tracker = _tracker(OKX)
    tracker.set_preferences(Preferences(cadence_s={"okx": 600}), 0)
    _refreshed(tracker, OKX, 0)
    tracker.mark_stale(3 * 300 * S + 1)  # stale after 3 catalog polls, not after 3 of 600 s
    assert tracker.status(OKX).state == SourceState.OK
    tracker.mark_stale(3 * 600 * S + 1)
    assert tracker.status(OKX).state == SourceState.STALE
    tracker.on_started(OKX)
    tracker.on_failure(OKX, NetworkError("down", venue="okx"), 2000 * S)
    assert tracker.due_at(OKX) == 2000 * S + 150 * S  # a quarter of 600 s, not 75 s


def test_a_disabled_venue_is_not_refreshed_shows_off_and_comes_back_when_enabled():
    tracker = _tracker(OKX, BYBIT)
    tracker.set_preferences(Preferences(disabled_venues=frozenset({"bybit"})), 0)
    assert tracker.status(BYBIT).state == SourceState.OFF
    assert tracker.due(0, 5) == [OKX]
    tracker.on_started(OKX)
    assert tracker.due(10 * S, 5) == []  # still not BYBIT
    tracker.set_preferences(Preferences(), 20 * S)
    assert tracker.status(BYBIT).state == SourceState.UPDATING
    assert tracker.due(20 * S, 5) == [BYBIT]


def test_a_refresh_running_when_its_venue_is_disabled_ends_off():
    tracker = _tracker(BYBIT)
    tracker.on_started(BYBIT)
    tracker.set_preferences(Preferences(disabled_venues=frozenset({"bybit"})), 0)
    tracker.on_success(BYBIT, 5 * S, data_last_ms=5 * S)
    status = tracker.status(BYBIT)
    assert status.state == SourceState.OFF and status.data_last_ms == 5 * S


def test_a_venue_disabled_before_start_up_is_off_from_its_cached_phase():
    tracker = SourceTracker()
    tracker.watch([get_spec(BYBIT)])
    tracker.set_preferences(Preferences(disabled_venues=frozenset({"bybit"})), 0)
    tracker.on_cached(BYBIT, 123, 0)
    assert tracker.status(BYBIT).state == SourceState.OFF
    assert tracker.due(0, 5) == []


def test_the_demo_is_unaffected_by_disabled_venues():
    tracker = SourceTracker()
    tracker.demo = True
    tracker.watch([get_spec(BYBIT)])
    tracker.on_cached(BYBIT, 123, 0)
    tracker.set_preferences(Preferences(disabled_venues=frozenset({"bybit"})), 0)
    assert tracker.status(BYBIT).state == SourceState.DEMO
