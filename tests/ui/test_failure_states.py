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
