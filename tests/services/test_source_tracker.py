"""The retry/back-off/staleness/demo-fall-back state machine, driven by a fake clock (no Qt)."""

from __future__ import annotations

import pytest

from models.catalog import get_spec
from models.status import ERROR_TEXT, ErrorKind, SourceState
from services import errors as E
from services.source_tracker import SourceTracker

S = 1000
T0 = 1_770_000_000_000


def _tracker(*series_ids: str, had_cache: bool = False) -> tuple[SourceTracker, list]:
    changes: list = []
    tracker = SourceTracker(on_change=changes.append)
    tracker.watch([get_spec(i) for i in series_ids])
    tracker.had_cache = had_cache
    for series_id in series_ids:
        tracker.on_cached(series_id, None, T0)
    return tracker, changes


def test_cached_series_are_due_at_once_at_most_max_running_at_a_time():
    tracker, _ = _tracker("btc.1h", "eth.1h", "spx.1h", "funding.okx.btc")
    assert tracker.due(T0, max_running=3) == ["btc.1h", "eth.1h", "spx.1h"]
    tracker.on_started("btc.1h")
    tracker.on_started("eth.1h")
    assert tracker.due(T0, max_running=3) == ["spx.1h"]  # one slot left; running ones skipped
    assert tracker.status("btc.1h").state == SourceState.UPDATING


def test_success_is_due_again_after_one_poll_interval():
    tracker, _ = _tracker("btc.1h")  # polled every 60 s
    tracker.on_started("btc.1h")
    tracker.on_success("btc.1h", T0, venue="coinbase", data_last_ms=T0 - 3600 * S)
    status = tracker.status("btc.1h")
    assert (status.state, status.venue, status.last_good_ms) == (SourceState.OK, "coinbase", T0)
    assert status.data_last_ms == T0 - 3600 * S
    assert tracker.due(T0 + 59_999, 3) == []
    assert tracker.due(T0 + 60_000, 3) == ["btc.1h"]


def test_backoff_doubles_from_a_quarter_of_the_poll_interval_up_to_half_an_hour():
    tracker, _ = _tracker("btc.1h")  # poll 60 s: a quarter is 15 s
    now = T0
    waits = []
    for _ in range(10):
        tracker.on_started("btc.1h")
        tracker.on_failure("btc.1h", E.VenueUnavailable("HTTP 503", venue="binance"), now)
        status = tracker.status("btc.1h")
        waits.append((status.next_retry_ms - now) // S)
        assert tracker.due(status.next_retry_ms - 1, 3) == []
        assert tracker.due(status.next_retry_ms, 3) == ["btc.1h"]
        now = status.next_retry_ms
    assert waits == [15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800]
    status = tracker.status("btc.1h")
    assert status.failures == 10 and status.error_kind == ErrorKind.VENUE_DOWN
    assert status.last_error == "binance: HTTP 503" and status.error_at_ms == now - 1800 * S
    tracker.on_started("btc.1h")
    tracker.on_success("btc.1h", now)
    status = tracker.status("btc.1h")
    assert (status.failures, status.error_kind, status.last_error, status.next_retry_ms) == (
        0, ErrorKind.NONE, "", None)


def test_retry_after_holds_every_series_of_that_venue_and_no_other():
    tracker, _ = _tracker("btc.1h", "eth.1h", "spx.1h")
    tracker.on_started("btc.1h")
    tracker.on_failure("btc.1h", E.RateLimited("slow down", venue="binance", retry_after=7.0), T0)
    assert tracker.status("btc.1h").next_retry_ms == T0 + 7 * S  # not the 15 s back-off
    # eth.1h (Binance too) was due now: held until the Retry-After has passed; Yahoo is not.
    assert tracker.due(T0 + 1, 3) == ["spx.1h"]
    assert tracker.due_at("eth.1h") == T0 + 7 * S
    # the longest due first (spx.1h since T0), then eth.1h before btc.1h (started before)
    assert tracker.due(T0 + 7 * S, 3) == ["spx.1h", "eth.1h", "btc.1h"]


def test_a_permanent_error_is_retried_hourly_unless_the_user_asks():
    tracker, _ = _tracker("spx.1h")
    tracker.on_started("spx.1h")
    tracker.on_failure("spx.1h", E.UnknownSymbol("not found", venue="yahoo"), T0)
    assert tracker.status("spx.1h").next_retry_ms == T0 + 3600 * S
    assert tracker.due(T0 + 3599 * S, 3) == []
    tracker.refresh_now(None, T0 + 10 * S)
    assert tracker.due(T0 + 10 * S, 3) == ["spx.1h"]
    assert tracker.on_started("spx.1h").force
    assert not tracker.on_started("spx.1h").force  # forced once


def test_a_bug_in_a_job_is_an_internal_error_retried_hourly():
    tracker, _ = _tracker("btc.1h")
    tracker.on_started("btc.1h")
    tracker.on_failure("btc.1h", E.InternalError("internal error: KeyError: 'x'",
                                                 venue="binance"), T0)
    status = tracker.status("btc.1h")
    assert status.error_kind == ErrorKind.INTERNAL and ERROR_TEXT[status.error_kind]
    assert status.next_retry_ms == T0 + 3600 * S


def test_stale_after_three_poll_intervals_without_good_data():
    tracker, _ = _tracker("funding.okx.btc")  # polled every 300 s
    tracker.on_started("funding.okx.btc")
    tracker.on_success("funding.okx.btc", T0)
    tracker.mark_stale(T0 + 900 * S)
    assert tracker.status("funding.okx.btc").state == SourceState.OK
    tracker.mark_stale(T0 + 900 * S + 1)
    assert tracker.status("funding.okx.btc").state == SourceState.STALE


def test_scrolling_back_during_a_refresh_asks_again_once_it_is_done():
    tracker, _ = _tracker("btc.1h")
    tracker.on_started("btc.1h")
    assert tracker.want_history("btc.1h", T0 - 400 * 86_400 * S, T0)
    assert not tracker.want_history("btc.1h", T0 - 300 * 86_400 * S, T0)  # already asked
    tracker.on_success("btc.1h", T0 + S)
    assert tracker.due(T0 + S, 3) == ["btc.1h"]  # not a poll interval later
    assert tracker.on_started("btc.1h").want_start_ms == T0 - 400 * 86_400 * S


def test_every_status_change_is_reported():
    tracker, changes = _tracker("btc.1h")
    assert [c.state for c in changes] == [SourceState.UPDATING, SourceState.UPDATING]
    tracker.on_started("btc.1h")
    tracker.on_failure("btc.1h", E.NetworkTimeout("timed out", venue="binance"), T0)
    assert changes[-1] is tracker.status("btc.1h")
    assert changes[-1].state == SourceState.ERROR


def test_demo_series_are_labelled_and_never_due():
    tracker = SourceTracker()
    tracker.demo = True
    tracker.watch([get_spec("btc.1h")])
    tracker.on_cached("btc.1h", T0 - 3600 * S, T0)
    assert tracker.status("btc.1h").state == SourceState.DEMO
    assert tracker.due(T0 + 3600 * S, 3) == []
    assert not tracker.want_history("btc.1h", 0, T0)


def _fail(tracker: SourceTracker, series_id: str, error: E.ServiceError) -> None:
    tracker.on_started(series_id)
    tracker.on_failure(series_id, error, T0)


WATCHED = ("btc.1h", "eth.1h", "spx.1h", "funding.okx.btc", "funding.bybit.btc")


def test_three_unreachable_venues_with_nothing_cached_fall_back_to_demo():
    tracker, _ = _tracker(*WATCHED)
    _fail(tracker, "btc.1h", E.NetworkError("connection refused", venue="binance"))
    _fail(tracker, "eth.1h", E.NetworkError("connection refused", venue="binance"))
    _fail(tracker, "spx.1h", E.NetworkTimeout("timed out", venue="yahoo"))
    assert not tracker.should_fall_back_to_demo()  # two venues: not yet
    _fail(tracker, "funding.okx.btc", E.NetworkError("connection refused", venue="okx"))
    assert tracker.should_fall_back_to_demo()


@pytest.mark.parametrize("why", ["a venue answered", "cache", "data arrived"])
def test_no_demo_fall_back_when_the_network_is_up_or_there_is_data(why):
    tracker, _ = _tracker(*WATCHED, had_cache=why == "cache")
    for series_id, venue in [("btc.1h", "binance"), ("spx.1h", "yahoo"),
                             ("funding.okx.btc", "okx")]:
        _fail(tracker, series_id, E.NetworkError("connection refused", venue=venue))
    if why == "a venue answered":
        _fail(tracker, "funding.bybit.btc", E.GeoBlocked("HTTP 403", venue="bybit"))
    if why == "data arrived":
        tracker.on_started("eth.1h")
        tracker.on_success("eth.1h", T0)
    assert not tracker.should_fall_back_to_demo()


def test_with_fewer_than_three_venues_watched_all_of_them_unreachable_is_enough():
    tracker, _ = _tracker("btc.1h", "spx.1h")
    _fail(tracker, "btc.1h", E.NetworkError("connection refused", venue="binance"))
    assert not tracker.should_fall_back_to_demo()
    _fail(tracker, "spx.1h", E.NetworkError("connection refused", venue="yahoo"))
    assert tracker.should_fall_back_to_demo()


def test_every_error_class_has_its_own_kind_and_its_words():
    classes = [E.NetworkError, E.NetworkTimeout, E.RateLimited, E.VenueUnavailable,
               E.BadPayload, E.UnknownSymbol, E.BadRequest, E.GeoBlocked, E.InsecureEndpoint,
               E.InternalError]
    kinds = [cls.kind for cls in classes]
    assert len(set(kinds)) == len(classes)
    assert set(ERROR_TEXT) == set(ErrorKind)
    assert ERROR_TEXT[E.RateLimited.kind] == "rate limited"


DAY = 86_400 * S
M0 = 5_000 * S  # a monotonic clock counts from an arbitrary origin (boot)


@pytest.mark.parametrize("jump_ms", [-DAY, DAY])
def test_a_wall_clock_jump_either_way_leaves_the_schedule_on_the_monotonic_clock(jump_ms):
    tracker, _ = _tracker("btc.1h")  # polled every 60 s
    tracker.on_started("btc.1h")
    tracker.on_success("btc.1h", T0, venue="coinbase", mono=M0)
    # 10 s later the wall clock jumps by a day; the monotonic clock runs on.
    wall, mono = T0 + 10 * S + jump_ms, M0 + 10 * S
    assert tracker.due(wall, 3, mono=mono) == []
    tracker.mark_stale(wall, mono=mono)
    assert tracker.status("btc.1h").state == SourceState.OK  # a day forward is not staleness
    # Due again one poll interval after the success, whatever the wall clock says (before the
    # fix: after a day back, due in 86,400 s; after a day forward, due at once and stale).
    assert tracker.due(wall + 49_999, 3, mono=M0 + 59_999) == []
    assert tracker.due(wall + 50 * S, 3, mono=M0 + 60 * S) == ["btc.1h"]
    tracker.on_started("btc.1h")
    tracker.on_success("btc.1h", wall + 51 * S, mono=M0 + 61 * S)
    assert tracker.status("btc.1h").last_good_ms == wall + 51 * S  # stamped with wall time
    assert tracker.due_at("btc.1h") == M0 + 121 * S


@pytest.mark.parametrize("jump_ms", [-DAY, DAY])
def test_backoff_and_venue_holds_survive_a_wall_clock_jump(jump_ms):
    tracker, _ = _tracker("btc.1h", "eth.1h")
    tracker.on_cached("eth.1h", None, T0, mono=M0)  # due now, on the monotonic clock
    tracker.on_started("btc.1h")
    tracker.on_failure("btc.1h", E.RateLimited("slow down", venue="binance", retry_after=7.0),
                       T0, mono=M0)
    assert tracker.status("btc.1h").next_retry_ms == T0 + 7 * S  # shown in wall time
    wall = T0 + jump_ms
    assert tracker.due(wall + 6 * S, 3, mono=M0 + 6_999) == []  # the hold still counts
    assert tracker.due(wall + 7 * S, 3, mono=M0 + 7 * S) == ["eth.1h", "btc.1h"]


def test_a_series_not_refreshed_goes_stale_after_a_wall_clock_jump_back():
    """Before: now - last_good was negative for a day, so 'stale' could not fire."""
    tracker, _ = _tracker("btc.1h")  # 3 polls of 60 s
    tracker.on_started("btc.1h")
    tracker.on_success("btc.1h", T0, mono=M0)
    wall = T0 - DAY
    tracker.mark_stale(wall + 180 * S, mono=M0 + 180 * S)
    assert tracker.status("btc.1h").state == SourceState.OK
    tracker.mark_stale(wall + 180 * S + 1, mono=M0 + 180 * S + 1)
    assert tracker.status("btc.1h").state == SourceState.STALE


def test_refresh_now_again_and_again_starves_no_series():
    """The soak pressed "refresh now" every 10 s: with the series taken in list order, the
    first ones were refreshed each time and 22 of 46 never were."""
    ids = ("btc.1h", "eth.1h", "spx.1h", "ndx.1h", "gold.1h")
    tracker, _ = _tracker(*ids)
    refreshed: list[str] = []
    for press in range(3):
        tracker.refresh_now(None, T0 + press * S)
        started = tracker.due(T0 + press * S, max_running=2)
        for series_id in started:  # two slots: the others wait for the next press
            tracker.on_started(series_id)
            tracker.on_success(series_id, T0 + press * S)
        refreshed += started
    assert refreshed == ["btc.1h", "eth.1h", "spx.1h", "ndx.1h", "gold.1h", "btc.1h"]


def test_the_longest_due_series_goes_first():
    tracker, _ = _tracker("btc.1h", "eth.1h")
    tracker.on_started("btc.1h")
    tracker.on_failure("btc.1h", E.VenueUnavailable("HTTP 503", venue="binance"), T0 - 20 * S)
    tracker.on_started("eth.1h")
    tracker.on_failure("eth.1h", E.VenueUnavailable("HTTP 503", venue="binance"), T0 - 60 * S)
    assert tracker.due(T0, max_running=1) == ["eth.1h"]  # due 15 s before btc.1h


def test_a_series_of_a_stalled_venue_waits():
    tracker, _ = _tracker("btc.1h", "eth.1h", "spx.1h")
    assert tracker.due(T0, 3, stalled_venues={"binance"}) == ["spx.1h"]
    assert tracker.due(T0, 3) == ["btc.1h", "eth.1h", "spx.1h"]


def test_the_cache_says_how_long_to_wait_a_lock_in_seconds_a_full_disk_in_minutes():
    """A held lock is transient: retried in seconds, not the 15 s..30 min venue back-off nor
    the hourly permanent retry (the cache's errors carry their own wait)."""
    tracker, _ = _tracker("btc.1h", "eth.1h")
    tracker.on_started("btc.1h")
    tracker.on_failure("btc.1h", E.CacheBusy("cache busy", retry_after=E.LOCK_RETRY_SECONDS), T0)
    assert tracker.status("btc.1h").next_retry_ms == T0 + 5 * S
    assert tracker.status("btc.1h").error_kind == ErrorKind.CACHE_BUSY
    tracker.on_started("eth.1h")
    tracker.on_failure("eth.1h", E.CacheFull("disk full", retry_after=E.DISK_RETRY_SECONDS), T0)
    assert tracker.status("eth.1h").next_retry_ms == T0 + 300 * S
    assert tracker.due(T0 + 5 * S, 3) == ["btc.1h"]  # a lock holds no other series back


def test_rows_a_refresh_refused_are_in_the_status_until_the_next_one():
    tracker, _ = _tracker("btc.1h")
    tracker.on_started("btc.1h")
    tracker.on_success("btc.1h", T0, dropped="2 dropped: non-finite volume")
    assert tracker.status("btc.1h").dropped == "2 dropped: non-finite volume"
    tracker.on_started("btc.1h")
    tracker.on_success("btc.1h", T0 + 60 * S)
    assert tracker.status("btc.1h").dropped == ""
