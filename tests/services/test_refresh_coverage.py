"""Coverage: what a refresh asked for and fully received. A catch-up cut short (a 503 on page 2
of a newest-first venue) leaves a hole between the cache's ends, which the next refresh fills."""

from __future__ import annotations

import pytest
from werkzeug import Request, Response

from models.catalog import get_spec
from services.config import DEFAULT_URLS, Endpoints
from services.refresh import plan_refresh, refresh_series, uncovered
from services.sources import Sources
from tests.services.test_funding_venues import T0, bybit_funding_handler, bybit_ticker

H = 3_600_000
DAY = 24 * H


def test_uncovered_spans_newest_first():
    assert uncovered(0, 100, [(0, 10), (11, 40), (60, 100)]) == [(40, 60)]  # 10 and 11 touch
    assert uncovered(0, 100, [(20, 30)]) == [(30, 100), (0, 20)]
    assert uncovered(0, 100, [(-5, 200)]) == []
    assert uncovered(0, 100, []) == [(0, 100)]


def test_plan_refills_a_hole_between_the_cached_ends():
    spec = get_spec("funding.bybit.btc")
    bounds = (100 * H, 500 * H, 51)
    plan = plan_refresh(spec, bounds, want_start_ms=100 * H, now=600 * H,
                        covered=[(100 * H, 200 * H), (400 * H, 600 * H)])
    assert plan.ranges == ((500 * H, 600 * H), (200 * H, 400 * H))
    # Without a hole, only the newer rows (as before).
    plan = plan_refresh(spec, bounds, want_start_ms=100 * H, now=600 * H,
                        covered=[(100 * H, 600 * H)])
    assert plan.ranges == ((500 * H, 600 * H),)


def test_a_hole_beyond_the_venue_retention_is_not_asked_for():
    spec = get_spec("funding.okx.btc")  # OKX keeps 90 days
    now = 400 * DAY
    bounds = (200 * DAY, 399 * DAY, 500)
    plan = plan_refresh(spec, bounds, want_start_ms=200 * DAY, now=now,
                        last_fetch_ms=now - 1, covered=[(200 * DAY, 250 * DAY),
                                                        (300 * DAY, 400 * DAY)])
    assert plan.empty  # the hole (250-300 d) is older than 400 - 90 = 310 d


@pytest.fixture
def bybit_venue(httpserver):
    """Bybit funding history, newest first, 200 rows a page. With `state["pages_left"]` set,
    the venue answers that many pages, then HTTP 503 (to urllib3's own retries too)."""
    state = {"times": [], "pages_left": None, "history_requests": []}
    httpserver.expect_request("/v5/market/tickers").respond_with_json(
        bybit_ticker(fundingIntervalHour="8"))

    def history(req: Request) -> Response:
        newest_asked = int(req.args["endTime"])
        state["history_requests"].append((int(req.args["startTime"]), newest_asked))
        if state["pages_left"] is not None:
            if state["pages_left"] <= 0:
                return Response("Service Unavailable", status=503)
            state["pages_left"] -= 1
        return bybit_funding_handler(state["times"])(req)

    httpserver.expect_request("/v5/market/funding/history").respond_with_handler(history)
    base = httpserver.url_for("/").rstrip("/")
    return state, Sources(Endpoints({name: base for name in DEFAULT_URLS}))


def test_a_503_on_page_three_leaves_a_hole_that_the_next_refresh_fills(bybit_venue, cache):
    state, sources = bybit_venue
    spec = get_spec("funding.bybit.btc")
    times = [T0 + i * 8 * H for i in range(700)]
    state["times"] = times[:100]
    first = refresh_series(spec, cache, sources, want_start_ms=times[0], now=times[99] + H)
    assert first.ok and first.rows_added == 100

    # 600 settlements later the catch-up gets two pages, then a 503. The client holds a page
    # until the older one arrives (its first row's interval), so the newest 200 are stored.
    state["times"], state["pages_left"] = times, 2
    now = times[-1] + H
    cut = refresh_series(spec, cache, sources, want_start_ms=times[0], now=now)
    assert not cut.ok and len(cut.rows) == 200
    assert cache.bounds(spec.id) == (times[0], times[-1], 300)  # 400 rows missing inside

    state["pages_left"] = None
    healed = refresh_series(spec, cache, sources, want_start_ms=times[0], now=now + H)
    assert healed.ok, healed.error
    assert healed.rows_added == 400  # before: "ok +0 rows", the hole stayed for good
    assert cache.read(spec.id).time.tolist() == times
    assert cache.get_meta(spec.id)["covered"] == [[times[0], now + H]]


def test_a_hole_the_venue_has_no_rows_for_is_asked_for_once(bybit_venue, cache):
    state, sources = bybit_venue
    spec = get_spec("funding.bybit.btc")
    # A 40-day pause in settlements (a delisted-and-relisted perp): rows 300..419 never existed.
    times = [T0 + i * 8 * H for i in range(700) if not 300 <= i < 420]
    state["times"] = times[:100]
    refresh_series(spec, cache, sources, want_start_ms=times[0], now=times[99] + H)
    state["times"], state["pages_left"] = times, 2
    now = times[-1] + H
    assert not refresh_series(spec, cache, sources, want_start_ms=times[0], now=now).ok
    assert cache.bounds(spec.id)[2] == 300  # the newest 200 of 480; 280 missing inside

    state["pages_left"] = None
    healed = refresh_series(spec, cache, sources, want_start_ms=times[0], now=now + H)
    assert healed.ok and healed.rows_added == 280
    state["history_requests"].clear()
    again = refresh_series(spec, cache, sources, want_start_ms=times[0], now=now + 2 * H)
    assert again.ok and again.rows_added == 0
    # Only the newest rows are asked for: the pause, fetched once and found empty, is covered.
    assert len(state["history_requests"]) == 1
    assert state["history_requests"][0][1] == now + 2 * H
