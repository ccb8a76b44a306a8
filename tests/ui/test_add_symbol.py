"""Adding one's own symbol in the window (ui/symbols.py), live against a loopback server: the
search box checks a Yahoo ticker with one chart request, the symbol joins the price dock and
movers with its bars, an unknown ticker is refused with one message and stored nowhere, and
removing it takes it away again."""

from __future__ import annotations

import json
import re
import time

import pytest
from werkzeug import Response

from models.symbols import register_user_symbols
from ui.symbols import AddSymbolDialog

H = 3_600_000
DAY = 24 * H
ACME_CLOSE = 42.5


@pytest.fixture(autouse=True)
def _no_user_symbols_left():
    yield
    register_user_symbols(())


def _chart(symbol: str, times_s: list[int], close: float) -> dict:
    n = len(times_s)
    meta = {"currency": "USD", "symbol": symbol, "exchangeName": "NYQ",
            "fullExchangeName": "NYSE", "instrumentType": "EQUITY", "longName": "Acme Corp",
            "shortName": "Acme", "exchangeTimezoneName": "America/New_York",
            "regularMarketPrice": close, "dataGranularity": "1d"}
    return {"chart": {"result": [{"meta": meta, "timestamp": times_s, "indicators": {"quote": [{
        "open": [close] * n, "high": [close + 1] * n, "low": [close - 1] * n,
        "close": [close] * n, "volume": [1000] * n}]}}], "error": None}}


def _serve(server, now_ms: int) -> None:
    """Binance spot klines for BTC/ETH, Yahoo bars for any ticker but NOPE (404, as Yahoo
    answers an unknown one); every other request a 404 (not the server's 500, which the
    clients retry with back-off)."""
    now_h = now_ms // H * H

    def klines(request):
        start, end = int(request.args["startTime"]), int(request.args["endTime"])
        first = max(start - start % H, now_h - 200 * H)
        rows = [[t, "100", "102", "99", "101", "5", t + H - 1, "500", 7, "2", "200", "0"]
                for t in range(first, min(end, now_h) + 1, H)][:1000]
        return Response(json.dumps(rows), content_type="application/json")

    def chart(request):
        symbol = request.path.rsplit("/", 1)[1]
        if symbol == "NOPE":
            return Response(json.dumps({"chart": {"result": None, "error": {
                "code": "Not Found", "description": "No data found, symbol may be delisted"}}}),
                status=404, content_type="application/json")
        if "range" in request.args:  # the check: the last 5 daily bars
            times = [(now_ms - k * DAY) // 1000 for k in range(5, 0, -1)]
        else:
            step = H if request.args["interval"] == "60m" else DAY
            lo = max(int(request.args["period1"]) * 1000, now_ms - 60 * DAY)
            hi = min(int(request.args["period2"]) * 1000, now_ms)
            times = [t // 1000 for t in range(lo - lo % step, hi, step)]
        return Response(json.dumps(_chart(symbol, times, ACME_CLOSE)),
                        content_type="application/json")

    server.expect_request("/api/v3/klines").respond_with_handler(klines)
    server.expect_request("/api/v3/exchangeInfo").respond_with_json({"symbols": [
        {"symbol": "SOLUSDT", "status": "TRADING", "baseAsset": "SOL", "quoteAsset": "USDT",
         "isSpotTradingAllowed": True, "permissions": []},
        {"symbol": "LUNAUSDT", "status": "BREAK", "baseAsset": "LUNA", "quoteAsset": "USDT",
         "isSpotTradingAllowed": True, "permissions": []}]})
    server.expect_request("/v8/finance/chart/NOPE").respond_with_handler(chart)
    server.expect_request("/v8/finance/chart/ACME").respond_with_handler(chart)
    for built_in in ("^GSPC", "^NDX", "GC=F", "SI=F", "DX-Y.NYB", "^VIX"):
        server.expect_request(f"/v8/finance/chart/{built_in}").respond_with_handler(chart)
    server.expect_request(re.compile(".*")).respond_with_json({"error": "not here"}, status=404)


def _dialog(window, qtbot) -> AddSymbolDialog:
    assert window.add_symbol_action.shortcut().toString() == "Ctrl+K"
    assert window.add_symbol_action in window.file_menu.actions()
    window.add_symbol_action.trigger()
    dialog = window.findChild(AddSymbolDialog)
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_a_yahoo_symbol_added_by_the_search_joins_prices_and_movers(make_window, venue_server,
                                                                    qtbot):
    _serve(venue_server, int(time.time() * 1000))
    window = make_window()
    window.resize(1366, 768)
    window.show()
    prices = window.panels["prices"]
    qtbot.waitUntil(lambda: window.scheduler.services is not None, timeout=10000)

    # Unknown: one message, nothing stored, not in the workspace.
    dialog = _dialog(window, qtbot)
    qtbot.waitUntil(lambda: len(dialog.pairs) == 2, timeout=10000)
    assert "1 spot pairs trading" in dialog.pairs_state.text()
    assert dialog.choices("sol") == ["SOLUSDT · SOL/USDT · Binance", "Yahoo: SOL"]
    assert dialog.choices("nope") == ["Yahoo: NOPE"]
    dialog.search.setText("Yahoo: NOPE")
    dialog.submit()
    qtbot.waitUntil(lambda: "Yahoo does not know NOPE" in dialog.message.text(), timeout=10000)
    assert len(window.symbols) == 0 and "nope" not in prices.asset_boxes
    assert window.workspaces.capture().sections.get("symbols", []) == []
    assert not [i for i in window.scheduler.tracker.watched if i.startswith("nope")]
    assert not [i for i in window.scheduler.services.cache.series_ids() if "nope" in i]

    # Known: checked by one chart request, then in the price dock. In compare view its bars
    # arrive after the others' and are rebased too (a constant 42.5 is 100 at any edge).
    prices.choose("mode", "compare")
    dialog.search.setText("acme")
    dialog.submit()
    qtbot.waitUntil(lambda: window.symbols.stems() == ("acme",), timeout=10000)
    assert "Added Acme Corp (ACME)" in dialog.message.text()
    symbol = window.symbols.find("acme")
    assert (symbol.venue, symbol.calendar, symbol.currency) == ("yahoo", "XNYS", "USD")
    box = prices.asset_boxes["acme"]
    assert box.isChecked() and box.text() == "ACME" and "acme" in prices.visible
    qtbot.waitUntil(lambda: (d := prices._curves["acme"].getData()[1]) is not None and len(d) > 0,
                    timeout=15000)
    assert prices._curves["acme"].getData()[1][-1] == ACME_CLOSE
    assert prices._plots["acme"] is prices._plots["btc"]  # one compare chart
    assert prices._rebase_factors["acme"] == pytest.approx(100 / ACME_CLOSE)
    assert prices._curves["acme"].transform().m22() == pytest.approx(100 / ACME_CLOSE)
    prices.choose("mode", "stacked")
    assert prices._plots["acme"] is not prices._plots["btc"]
    assert prices._curves["acme"].getData()[1][-1] == ACME_CLOSE

    # Movers: a row of its own, its last price the served close.
    movers = window.build_panel("movers")
    qtbot.waitUntil(lambda: "acme" in movers._shown_rows, timeout=15000)
    assert movers._shown_rows["acme"]["last"] == ACME_CLOSE
    # Saved in the current workspace's file (on a worker) for the next start.
    workspaces = window.workspaces
    qtbot.waitUntil(lambda: workspaces.is_started, timeout=5000)

    def saved_stems() -> list[str]:
        if workspaces.store.find(workspaces.current().name) is None:
            return []  # not written yet
        stored = workspaces.store.read(workspaces.current().name)
        return [s["stem"] for s in stored.sections.get("symbols", [])]

    qtbot.waitUntil(lambda: saved_stems() == ["acme"], timeout=5000)

    # A rebuilt price panel (a theme switch, Go live) shows it as the trader left it.
    window.release_panel("prices")
    prices = window.build_panel("prices")
    assert prices.asset_boxes["acme"].isChecked() and "acme" in prices.visible
    prices.asset_boxes["acme"].setChecked(False)
    window.release_panel("prices")
    prices = window.build_panel("prices")
    assert not prices.asset_boxes["acme"].isChecked() and "acme" not in prices.visible
    prices.asset_boxes["acme"].setChecked(True)

    # Removed from its checkbox's menu: gone from the dock, movers and the watched series.
    menu = prices._symbol_menu("acme")
    assert menu.actions()[0].text() == "Remove Acme Corp"
    menu.actions()[0].trigger()
    assert window.symbols.stems() == () and "acme" not in prices.asset_boxes
    assert "acme.1d" not in window.scheduler.tracker.watched
    qtbot.waitUntil(lambda: "acme" not in movers._shown_rows, timeout=10000)
    menu.close()
    dialog.close()
