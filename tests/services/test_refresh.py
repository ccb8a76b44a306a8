"""The refresh planner (pure) and the refresh road against a real loopback venue."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from werkzeug import Response

from models.catalog import get_spec
from models.series import SeriesData
from services import http
from services.config import DEFAULT_URLS, Endpoints
from services.refresh import plan_refresh, refresh_series
from services.sources import Sources
from tests.services.test_binance import kline

H = 3_600_000
DAY = 24 * H


@pytest.fixture
def btc():
    return get_spec("btc.1h")


def test_plan_after_the_wall_clock_jumped_back_still_fetches_the_newest_bar(btc):
    """The last fetch is stamped a day after `now`: before, now - last_fetch < 30 s held for the
    whole day and no newer row was asked for."""
    plan = plan_refresh(btc, (100 * H, 150 * H, 51), want_start_ms=100 * H, now=200 * H,
                        last_fetch_ms=200 * H + DAY)
    assert plan.ranges == ((150 * H, 200 * H),)


def test_plan_for_an_empty_cache_fetches_the_whole_wanted_range(btc):
    plan = plan_refresh(btc, None, want_start_ms=100 * H, now=200 * H)
    assert plan.ranges == ((100 * H, 200 * H),)


def test_plan_asks_only_for_newer_rows_from_the_forming_bar(btc):
    plan = plan_refresh(btc, (100 * H, 150 * H, 51), want_start_ms=100 * H, now=200 * H)
    assert plan.ranges == ((150 * H, 200 * H),)


def test_plan_skips_a_fetch_made_moments_ago(btc):
    plan = plan_refresh(btc, (100 * H, 150 * H, 51), want_start_ms=100 * H, now=200 * H,
                        last_fetch_ms=200 * H - 1000)
    assert plan.empty


def test_plan_backfills_older_history_unless_the_venue_has_none(btc):
    plan = plan_refresh(btc, (100 * H, 150 * H, 51), want_start_ms=50 * H, now=150 * H)
    assert plan.ranges == ((150 * H, 150 * H), (50 * H, 100 * H - 1))
    plan = plan_refresh(btc, (100 * H, 150 * H, 51), want_start_ms=50 * H, now=150 * H,
                        history_start_ms=100 * H)
    assert plan.ranges == ((150 * H, 150 * H),)


def test_plan_clamps_to_what_the_venue_keeps():
    spec = get_spec("oi.binance.btc")  # Binance keeps 30 days of open interest
    now = 400 * DAY
    plan = plan_refresh(spec, None, want_start_ms=0, now=now)
    assert plan.ranges[0][0] == now - spec.max_history_days * DAY


def _sources(httpserver) -> Sources:
    base = httpserver.url_for("/").rstrip("/")
    return Sources(Endpoints({name: base for name in DEFAULT_URLS}))


def test_second_refresh_with_nothing_new_makes_one_request(httpserver, cache, btc):
    now = 1000 * H
    rows = [kline(t) for t in range(900 * H, 1001 * H, H)]

    def handler(request):
        start = int(request.args["startTime"])
        from werkzeug import Response
        body = [r for r in rows if r[0] >= start][:1000]
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/api/v3/klines").respond_with_handler(handler)
    sources = _sources(httpserver)
    first = refresh_series(btc, cache, sources, want_start_ms=900 * H, now=now)
    assert first.ok and first.rows_added == 101 and first.venue == "binance"
    sent: list[str] = []
    remove = http.add_request_observer(lambda _method, url: sent.append(url))
    try:
        second = refresh_series(btc, cache, sources, want_start_ms=900 * H,
                                now=now + 10 * 60_000)
    finally:
        remove()
    assert second.ok and second.rows_added == 0
    assert len(sent) == second.requests == 1
    assert json.loads(httpserver.log[-1][0].args["startTime"]) == 1000 * H
    # moments later nothing is asked; the user's "refresh now" (force) asks anyway
    soon = now + 10 * 60_000 + 1000
    assert refresh_series(btc, cache, sources, want_start_ms=900 * H, now=soon).requests == 0
    forced = refresh_series(btc, cache, sources, want_start_ms=900 * H, now=soon, force=True)
    assert forced.ok and forced.requests == 1


def test_geo_blocked_venue_falls_back_and_is_remembered(httpserver, cache, btc):
    now = 10 * DAY
    httpserver.expect_request("/api/v3/klines").respond_with_json(
        {"code": 0, "msg": "Service unavailable from a restricted location"}, status=451)
    candles = [[t // 1000, 99.0, 101.0, 100.0, 100.5, 3.0] for t in range(now, 9 * DAY - 1, -H)]
    httpserver.expect_request("/products/BTC-USD/candles").respond_with_json(candles)
    sources = _sources(httpserver)
    result = refresh_series(btc, cache, sources, want_start_ms=9 * DAY, now=now)
    assert result.ok and result.venue == "coinbase", result
    assert result.rows_added == 25
    assert cache.get_meta("btc.1h")["blocked_venue"] == "binance"
    assert any("region" in str(e) for e in result.fallback_errors)


def test_every_venue_failing_keeps_the_cache_and_reports_the_primary_error(httpserver, cache,
                                                                           btc):
    from models.series import SeriesData
    cache.upsert("btc.1h", SeriesData.from_rows([0], close=[1.0]))
    httpserver.expect_request("/api/v3/klines").respond_with_data(
        "<html><title>502 Bad Gateway</title></html>", status=502, content_type="text/html")
    httpserver.expect_request("/products/BTC-USD/candles").respond_with_data("", status=503)
    httpserver.expect_request("/0/public/OHLC").respond_with_json(
        {"error": ["EService:Unavailable"], "result": {}})
    result = refresh_series(btc, cache, _sources(httpserver), want_start_ms=0, now=2 * H)
    assert not result.ok
    assert "502" in str(result.error) and "Bad Gateway" in str(result.error)
    assert len(result.fallback_errors) == 2
    assert len(cache.read("btc.1h")) == 1


def _klines_from(rows_by_symbol: dict[str, list[list]]):
    def handler(request):
        start = int(request.args["startTime"])
        end = int(request.args["endTime"])
        rows = rows_by_symbol[request.args["symbol"]]
        body = [r for r in rows if start <= r[0] <= end][:1000]
        return Response(json.dumps(body), content_type="application/json")
    return handler


def test_concurrent_refreshes_each_count_only_their_own_requests(httpserver, cache, btc):
    # btc.1h needs one page; while it is stopped between pages (in its progress callback),
    # eth.1h fetches 2,500 bars in three pages on another thread. A process-wide counter read
    # before and after made btc.1h report 1 + 3 requests.
    now = 3000 * H
    httpserver.expect_request("/api/v3/klines").respond_with_handler(_klines_from({
        "BTCUSDT": [kline(t) for t in range(2990 * H, now + 1, H)],
        "ETHUSDT": [kline(t) for t in range(500 * H, now + 1, H)],
    }))
    sources = _sources(httpserver)
    eth_done = threading.Event()
    results: dict[str, object] = {}

    def wait_for_eth(_series_id: str, _fraction: float) -> None:
        assert eth_done.wait(10)

    def run_btc() -> None:
        results["btc"] = refresh_series(btc, cache, sources, want_start_ms=2990 * H, now=now,
                                        progress=wait_for_eth)

    def run_eth() -> None:
        results["eth"] = refresh_series(get_spec("eth.1h"), cache, sources,
                                        want_start_ms=500 * H, now=now)
        eth_done.set()

    btc_thread = threading.Thread(target=run_btc)
    btc_thread.start()
    # eth starts once btc has sent its request (the server has logged it)
    for _ in range(1000):
        if httpserver.log:
            break
        threading.Event().wait(0.01)
    eth_thread = threading.Thread(target=run_eth)
    eth_thread.start()
    eth_thread.join(20)
    btc_thread.join(20)
    sent = [req.args["symbol"] for req, _resp in httpserver.log]
    assert sent.count("BTCUSDT") == 1 and sent.count("ETHUSDT") == 3
    assert results["btc"].ok and results["btc"].requests == 1
    assert results["eth"].ok and results["eth"].requests == 3


def test_the_rows_a_refresh_hands_back_merge_into_the_cached_series_as_the_cache_does(
        httpserver, cache, btc):
    # The cache holds 100 bars; the last one (t = 199 h) was still forming at 100.0. The venue
    # now has it closed at 105.0, plus two new bars; one of them carries no value at all.
    cache.upsert("btc.1h", SeriesData.from_rows(
        range(100 * H, 200 * H, H), **{c: [100.0] * 100 for c in btc.columns}))
    held = cache.read("btc.1h")
    venue_rows = [kline(199 * H, 105.0), kline(200 * H, 106.0), kline(201 * H, 107.0)]
    venue_rows[2] = [201 * H, "NaN", "NaN", "NaN", "NaN", "NaN", 0, "0", 0, "0", "0", "0"]
    httpserver.expect_request("/api/v3/klines").respond_with_handler(
        _klines_from({"BTCUSDT": venue_rows}))
    result = refresh_series(btc, cache, _sources(httpserver), want_start_ms=100 * H,
                            now=201 * H)
    assert result.ok and result.rows_added == 1  # 200 h; 201 h had nothing worth keeping
    assert result.rows.time.tolist() == [199 * H, 200 * H]
    merged, tail_from = held.merge_with_tail(result.rows)
    stored = cache.read("btc.1h")
    assert merged.time.tolist() == stored.time.tolist()
    for name in stored.names:
        np.testing.assert_array_equal(merged[name], stored[name])
    assert merged["close"][-2:].tolist() == [105.0, 106.0]
    assert tail_from == 99  # the forming bar's index: rows 0..98 are unchanged


def test_a_failed_refresh_hands_back_no_rows(httpserver, cache, btc):
    httpserver.expect_request("/api/v3/klines").respond_with_data("", status=503)
    httpserver.expect_request("/products/BTC-USD/candles").respond_with_data("", status=503)
    httpserver.expect_request("/0/public/OHLC").respond_with_data("", status=503)
    result = refresh_series(btc, cache, _sources(httpserver), want_start_ms=0, now=2 * H)
    assert not result.ok and result.rows is None
