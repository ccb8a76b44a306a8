"""The Settings dialog's values are checked without a window: bounds, venue floors, zones."""

from __future__ import annotations

import pytest

from models.preferences import (
    MAX_CADENCE_S,
    PreferenceError,
    Preferences,
    checked,
    parse_cadence,
    poll_seconds,
    polled_venues,
    venue_name,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("10", 10), ("90 s", 90), ("5m", 300), ("5 min", 300), ("1h", 3600), ("24 h", 86_400),
    ("", None), ("   ", None),
])
def test_cadences_are_read_in_seconds(text, seconds):
    assert parse_cadence("bybit", text) == seconds


@pytest.mark.parametrize(("venue", "text", "words"), [
    ("bybit", "9", "at least 10 s"),
    ("bybit", "0", "at least 10 s"),
    ("bybit", "25h", "at most 86400 s"),
    ("bybit", "90001", "at most 86400 s"),
    ("bybit", "fast", "not a duration"),
    ("bybit", "-5", "not a duration"),
    ("bybit", "1.5m", "not a duration"),
    # Binance USD-M funding history: 500 requests / 5 min per IP (docs/venues.md)
    ("binance_futures", "20 s", "at least 30 s (its rate limit)"),
    ("yahoo", "45", "at least 60 s"),
])
def test_bad_cadences_are_refused_with_a_message(venue, text, words):
    with pytest.raises(PreferenceError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_cadence(venue, text)


def test_floors_and_bounds_at_their_edges():
    assert parse_cadence("binance_futures", "30") == 30
    assert parse_cadence("yahoo", "1m") == 60
    assert parse_cadence("okx", f"{MAX_CADENCE_S}") == 86_400


def test_checked_refuses_unknown_zones_and_venues():
    with pytest.raises(PreferenceError, match="time zone"):
        checked("Europe/Paris", {}, ())
    with pytest.raises(PreferenceError, match="unknown venue"):
        checked("utc", {}, ["nasdaq"])
    with pytest.raises(PreferenceError, match="no series is refreshed from 'coinbase'"):
        checked("utc", {"coinbase": 60}, ())  # a fallback only: nothing polls it on its own
    with pytest.raises(PreferenceError, match="at least 10 s"):
        checked("utc", {"okx": 5}, ())
    prefs = checked("new_york", {"okx": 120}, ["bybit"])
    assert prefs == Preferences("new_york", {"okx": 120}, frozenset({"bybit"}))


def test_an_override_replaces_the_catalog_cadence_of_its_venue_only():
    prefs = Preferences(cadence_s={"okx": 120})
    assert poll_seconds(300, "okx", prefs) == 120
    assert poll_seconds(300, "bybit", prefs) == 300


def test_venues_are_named_apart_where_the_registry_shares_a_label():
    assert venue_name("binance") == "Binance spot"
    assert venue_name("binance_futures") == "Binance futures"
    assert venue_name("bybit") == "Bybit"
    assert "coinbase" not in polled_venues() and "yahoo" in polled_venues()
