"""The status bar words come from the one table in models.status, never from the enum values."""

from __future__ import annotations

from datetime import UTC, datetime

from models.status import ErrorKind, SourceState, SourceStatus
from ui.status_bar import describe

T = 1_770_000_000_000  # 2026-02-02 02:40 UTC


def test_an_error_chip_says_the_kind_in_words_and_the_earliest_retry():
    statuses = [
        SourceStatus("btc.1h", SourceState.ERROR, error_kind=ErrorKind.RATE_LIMITED,
                     next_retry_ms=T + 20 * 60_000),
        SourceStatus("eth.1h", SourceState.ERROR, error_kind=ErrorKind.RATE_LIMITED,
                     next_retry_ms=T + 5 * 60_000),
        SourceStatus("btc.1d", SourceState.OK, last_good_ms=T),
    ]
    assert describe(statuses) == (SourceState.ERROR, "rate limited · retry 02:45 UTC")


def test_a_bug_says_internal_error_and_an_unknown_kind_says_error():
    internal = SourceStatus("btc.1h", SourceState.ERROR, error_kind=ErrorKind.INTERNAL,
                            next_retry_ms=T)
    assert describe([internal])[1] == "internal error · retry 02:40 UTC"
    bare = SourceStatus("btc.1h", SourceState.ERROR, next_retry_ms=T)
    assert describe([bare])[1] == "error · retry 02:40 UTC"


def test_stale_beats_ok_and_says_since_when():
    statuses = [SourceStatus("btc.1h", SourceState.STALE, last_good_ms=T - 3_600_000),
                SourceStatus("eth.1h", SourceState.OK, last_good_ms=T)]
    assert describe(statuses) == (SourceState.STALE, "stale since 01:40 UTC")


def test_a_panel_freshness_line_says_the_error_kind_in_words():
    from ui.panels.base import describe_freshness

    failing = SourceStatus("btc.1h", SourceState.ERROR, error_kind=ErrorKind.VENUE_DOWN,
                           error_at_ms=T, next_retry_ms=T + 60_000, last_good_ms=T - 60_000)
    text, tone = describe_freshness([failing], T, demo=False)
    assert tone == "error"
    assert "02:40 UTC: venue down (btc.1h) · retry 02:41 UTC" in text


def test_the_freshness_line_dates_data_that_is_not_from_today():
    from ui.panels.base import describe_freshness

    day = 86_400_000
    old = SourceStatus("btc.1h", SourceState.ERROR, data_last_ms=T - 3 * day,
                       last_good_ms=T - 3 * day, error_at_ms=T, next_retry_ms=T + 60_000,
                       error_kind=ErrorKind.NETWORK)
    text, tone = describe_freshness([old], T, demo=False)
    assert tone == "error"
    stamp = datetime.fromtimestamp((T - 3 * day) / 1000, UTC).strftime("%d %b %H:%M")
    assert f"data to {stamp} UTC" in text and "(3 d ago)" in text
    fresh = SourceStatus("btc.1h", SourceState.OK, data_last_ms=T - 60_000, last_good_ms=T)
    assert describe_freshness([fresh], T, demo=False)[0].startswith("data to 02:39 UTC")


def test_the_freshness_line_says_when_rows_were_refused():
    from ui.panels.base import describe_freshness

    ok = SourceStatus("btc.1h", SourceState.OK, data_last_ms=T, last_good_ms=T,
                      dropped="3 dropped: 1 future time, 2 non-finite volume")
    text, tone = describe_freshness([ok], T, demo=False)
    assert tone == "warning"
    assert "rows refused in 1 series (3 dropped: 1 future time, 2 non-finite volume)" in text
