"""Failure states tell the truth: per-source chips (Binance spot apart from futures), the Sources
dock's per-source lines, chart marks for stale and failing sources, the demo and going live."""

from __future__ import annotations

from models.catalog import CATALOG
from services.errors import NetworkError


def _demo_window(make_window, qtbot, *keys: str):
    window = make_window(demo=True)
    window.show()
    for key in keys:
        window.build_panel(key)
    qtbot.waitUntil(lambda: window.scheduler.cache_read_done, timeout=20000)
    return window


def _fail(window, *series_ids: str, at_ms: int | None = None) -> None:
    tracker = window.scheduler.tracker
    now = window.scheduler.now_ms() if at_ms is None else at_ms
    for series_id in series_ids:
        source = CATALOG[series_id].source
        tracker.on_failure(series_id, NetworkError("connection refused", venue=source), now)


def test_a_futures_failure_does_not_mark_binance_spot_prices_failing(make_window, qtbot):
    window = _demo_window(make_window, qtbot)
    _fail(window, "funding.binance.btc", "oi.binance.btc")
    chips = window.status.chips
    assert chips["Binance futures"].property("state") == "error"
    assert chips["Binance spot"].property("state") == "demo"  # btc.1h arrives fine
    assert "Binance futures: network · retry" in window.status.chip_text("Binance futures")


def test_the_sources_dock_lists_each_source_like_the_chips(make_window, qtbot):
    window = _demo_window(make_window, qtbot, "sources")
    _fail(window, "funding.bybit.btc")
    sources = window.panels["sources"]
    qtbot.waitUntil(lambda: "Bybit: network" in sources.by_source.text(), timeout=2000)
    assert "Binance spot: demo" in sources.by_source.text()
    row = sources._rows["funding.binance.btc"]
    assert sources.table.item(row, 1).text() == "demo (synthetic)"


T = 1_770_000_000_000  # 2026-02-02 02:40 UTC
H = 3_600_000


def test_chart_state_words_by_hand():
    from models.status import ErrorKind, SourceState, SourceStatus
    from ui.charts.chart_state import chart_state_text

    failing = SourceStatus("spx.1h", SourceState.ERROR, error_kind=ErrorKind.NETWORK,
                           data_last_ms=T - 3 * H, next_retry_ms=T + 75_000)
    state = chart_state_text([failing], True, T)
    assert (state.text, state.tone) == (
        "stale · data 3 h old · Yahoo Finance failing, retry 02:41 UTC", "error")
    state = chart_state_text([failing], False, T)
    assert state.text == "no data · Yahoo Finance failing (network), retry 02:41 UTC"
    lagging = SourceStatus("btc.1h", SourceState.STALE, data_last_ms=T - 50 * 60_000,
                           last_good_ms=T - 45 * 60_000)
    assert chart_state_text([lagging], True, T).text == \
        "stale · data 50 min old · no update since 01:55 UTC"
    fine = SourceStatus("btc.1h", SourceState.OK, data_last_ms=T, last_good_ms=T)
    assert chart_state_text([fine], True, T) is None
    assert chart_state_text([], False, T).text == "loading…"
    assert chart_state_text([failing], True, T, demo=True) is None
    # A chart of several venues with one failing: which, and that the rest are current.
    bybit = SourceStatus("funding.bybit.btc", SourceState.ERROR, error_kind=ErrorKind.NETWORK,
                         data_last_ms=T - 2 * H, next_retry_ms=T + 75_000)
    state = chart_state_text([fine, bybit], True, T)
    assert (state.text, state.tone) == (
        "Bybit failing, retry 02:41 UTC · their data 2 h old · the rest current", "warning")
    no_rows = SourceStatus("funding.okx.btc", SourceState.ERROR, next_retry_ms=T + 75_000)
    assert chart_state_text([fine, no_rows], True, T).text == \
        "OKX failing, retry 02:41 UTC · no data from them · the rest current"


def test_the_price_chart_says_its_source_fails_and_how_old_its_data_is(make_window, qtbot):
    from models.series import SeriesData

    window = make_window(start=False)
    window.scheduler._clock = lambda: T / 1000
    window.show()
    prices = window.panels["prices"]
    tracker = window.scheduler.tracker
    tracker.watch([CATALOG["btc.1h"], CATALOG["spx.1h"]])
    times = [T - (24 - i) * H - 3 * H for i in range(25)]  # the last bar 3 h before now
    window.store.set_series("btc.1h", SeriesData.from_rows(
        times, open=[1.0] * 25, high=[1.0] * 25, low=[1.0] * 25, close=[1.0] * 25,
        volume=[1.0] * 25))
    tracker.on_cached("btc.1h", times[-1], T)
    tracker.on_cached("spx.1h", None, T)
    _fail(window, "btc.1h", "spx.1h", at_ms=T)
    prices.asset_boxes["spx"].setChecked(True)  # at 1h the futures show by default
    btc, spx = prices._plots["btc"], prices._plots["spx"]
    # btc.1h polls every 60 s: the first retry waits max(15 s, 60 s / 4) = 15 s → 02:40
    qtbot.waitUntil(lambda: prices.state_marks.text(btc) ==
                    "stale · data 3 h old · Binance spot failing, retry 02:40 UTC",
                    timeout=3000)
    # spx.1h polls every 300 s: max(15 s, 75 s) = 75 s → 02:41
    assert prices.state_marks.text(spx) == \
        "no data · Yahoo Finance failing (network), retry 02:41 UTC"
    assert "loading" not in prices._labels["spx"].text
    # the empty chart shows no tick values; the one with data does
    assert spx.getAxis("left").style["showValues"] is False
    assert btc.getAxis("left").style["showValues"] is True


def test_in_demo_mode_no_chip_shows_a_network_error(make_window, qtbot):
    """A live refresh still running when the window fell back to the demo ends with a network
    error: the demo has no network, its status stays demo."""
    from services.refresh import RefreshResult
    from ui.scheduler import _Refreshed

    window = _demo_window(make_window, qtbot)
    error = NetworkError("connection refused", venue="bybit")
    window.scheduler._on_refreshed(_Refreshed(RefreshResult("funding.bybit.btc", error=error),
                                              None, None, None))
    window.scheduler._on_refresh_timed_out("oi.bybit.btc", _stop_event())
    assert window.store.status("funding.bybit.btc").state.value == "demo"
    assert window.store.status("oi.bybit.btc").state.value == "demo"
    assert all("network" not in chip.text() and "timeout" not in chip.text()
               for chip in window.status.chips.values())


def _stop_event():
    import threading

    from ui.scheduler import _EitherEvent

    return _EitherEvent(threading.Event(), threading.Event())


def test_the_demo_banner_survives_reset_layout(make_window, qtbot):
    first = make_window(demo=True)
    first.show()
    first.close()  # saves the layout: the next window restores it
    window = make_window(demo=True)
    window.show()
    qtbot.waitExposed(window)
    assert window._layout_restored
    window.reset_layout()
    assert not window._banner_bar.isHidden()
    assert "Demo data (synthetic)" in window.banner.text()


def test_a_live_session_after_a_demo_has_no_empty_banner_strip(make_window, qtbot):
    demo = make_window(demo=True)
    demo.show()
    demo.close()  # its saved state has the banner bar shown
    live = make_window(start=False)
    live.show()
    qtbot.waitExposed(live)
    assert live.banner.text() == ""
    assert live._banner_bar.isHidden()


def test_go_live_leaves_the_demo_without_a_restart(make_window, venue_server, qtbot):
    import json
    import time

    from werkzeug import Response

    now_h = (int(time.time() * 1000) // H) * H

    def klines(request):
        start, end = int(request.args["startTime"]), int(request.args["endTime"])
        first = max(start - start % H, now_h - 200 * H)
        rows = [[t, "100", "102", "99", "101", "5", t + H - 1, "500", 7, "2", "200", "0"]
                for t in range(first, min(end, now_h) + 1, H)][:1000]
        return Response(json.dumps(rows), content_type="application/json")

    venue_server.expect_request("/api/v3/klines").respond_with_handler(klines)
    window = _demo_window(make_window, qtbot)
    prices = window.panels["prices"]
    qtbot.waitUntil(prices.has_data, timeout=10000)
    assert window.go_live_action.isVisible()
    assert window.status.chips["Binance spot"].property("state") == "demo"
    window.go_live_action.trigger()
    assert "Demo" not in window.windowTitle()
    assert window._banner_bar.isHidden()
    assert not window.go_live_action.isVisible()
    live_prices = window.panels["prices"]
    assert live_prices is not prices  # rebuilt: no demo number stays on screen
    qtbot.waitUntil(lambda: window.scheduler.services is not None
                    and not window.scheduler.services.demo, timeout=10000)
    # the live cache is empty: the network fills it (the loopback server's closes are 101)
    qtbot.waitUntil(lambda: (s := window.store.status("btc.1h")) is not None
                    and s.state.value == "ok", timeout=15000)
    qtbot.waitUntil(lambda: live_prices._curves["btc"].getData()[1] is not None, timeout=5000)
    assert live_prices._curves["btc"].getData()[1][-1] == 101.0
    assert window.status.chips["Binance spot"].property("state") in ("ok", "updating")
    assert not live_prices.demo_badge.isVisible()
    assert not window.store.demo


def test_a_chart_of_a_disabled_venue_says_so_not_loading():
    from models.status import SourceState, SourceStatus
    from ui.charts.chart_state import chart_state_text

    off = SourceStatus("oi.bybit.btc", SourceState.OFF, venue="bybit")
    assert chart_state_text([off], False, T).text == "no data · Bybit off (File → Settings)"


def test_the_funding_chart_names_the_failing_venue_and_the_rest_current(make_window, qtbot):
    from models.series import SeriesData

    window = make_window(start=False)
    window.scheduler._clock = lambda: T / 1000
    window.show()
    funding = window.build_panel("funding")
    tracker = window.scheduler.tracker
    ids = ("funding.binance.btc", "funding.bybit.btc")
    tracker.watch([CATALOG[i] for i in ids])
    times = [T - (10 - i) * 8 * H for i in range(10)]
    window.store.set_series("funding.binance.btc", SeriesData.from_rows(
        times, rate=[0.0001] * 10, interval_hours=[8.0] * 10))
    tracker.on_cached("funding.binance.btc", times[-1], T)
    _fail(window, "funding.bybit.btc", at_ms=T)
    qtbot.waitUntil(lambda: funding.state_marks.text(funding.plot).startswith(
        "Bybit failing, retry"), timeout=3000)
    assert funding.state_marks.text(funding.plot).endswith(
        "no data from them · the rest current")


def test_demo_charts_with_data_keep_their_tick_values_and_no_mark(make_window, qtbot):
    # A state mark watching ids the store holds no rows for (the option chain is snapshots)
    # took the demo's GEX chart for empty and hid its axes.
    window = make_window(demo=True)
    window.show()
    qtbot.waitUntil(window.panels_have_data, timeout=60000)
    for key in ("options", "funding", "rotation"):
        panel = window.build_panel(key)
        qtbot.waitUntil(panel.has_data, timeout=30000)
    qtbot.wait(200)  # the marks refresh 50 ms after a change
    options = window.panels["options"]
    for plot in (options.gex_plot, options.profile_plot):
        assert plot.getAxis("left").style["showValues"]
        assert plot.getAxis("bottom").style["showValues"]
    for key, plot in (("funding", window.panels["funding"].plot),
                      ("rotation", window.panels["rotation"].corr_plot)):
        assert plot.getAxis("left").style["showValues"], key
        assert window.panels[key].state_marks.text(plot) == "", key
