"""The funding dock with one venue failing while another keeps updating (real window, loopback)."""

from __future__ import annotations

import time

import pytest

from models.status import SourceState
from tests.services.test_funding_venues import bybit_funding_handler, bybit_ticker

H = 3_600_000


def test_a_failing_venue_is_reported_while_the_others_keep_updating(
        make_window, venue_server, qtbot):
    now = int(time.time() * 1000)
    times = [now - now % (8 * H) - k * 8 * H for k in range(30)]
    venue_server.expect_request("/v5/market/funding/history").respond_with_handler(
        bybit_funding_handler(times, rate=-0.0002))
    venue_server.expect_request("/v5/market/tickers").respond_with_json(bybit_ticker())
    venue_server.expect_request("/fapi/v1/fundingRate").respond_with_data(
        "<html><title>502 Bad Gateway</title></html>", status=502, content_type="text/html")
    window = make_window()
    window.show()

    def state(series_id):
        status = window.store.status(series_id)
        return status.state if status else None

    qtbot.waitUntil(lambda: state("funding.bybit.btc") == SourceState.OK
                    and state("funding.binance.btc") == SourceState.ERROR, timeout=20000)
    panel = window.panels["funding"]
    qtbot.waitUntil(lambda: panel._curves["bybit"].pyramid() is not None, timeout=10000)
    bybit = panel._curves["bybit"].pyramid()
    assert len(bybit) == 60  # 30 settlements, each a step over the 8 h it paid for
    assert bybit.y[-1] == pytest.approx(-0.0002 * 3 * 365 * 100)  # APR %, 8h settlements
    binance = panel._curves["binance"].pyramid()
    assert binance is None or len(binance) == 0
    status = window.store.status("funding.binance.btc")
    assert "502" in status.last_error and status.next_retry_ms > status.error_at_ms
    assert "retry" in window.status.chip_text("Binance futures")  # spot is another chip


def test_the_heatmap_names_every_venue_in_a_half_height_dock(make_window, qtbot):
    from PySide6.QtGui import QImage, QPainter

    from models.catalog import FUNDING_VENUES, venue_label

    window = make_window(demo=True)
    window.resize(1600, 900)
    window.show()
    panel = window.panels["funding"]
    qtbot.waitUntil(panel.has_data, timeout=20000)
    qtbot.waitUntil(lambda: panel.result is not None
                    and len(panel.result.grid_venues) == len(FUNDING_VENUES), timeout=20000)
    qtbot.wait(50)
    axis = panel.heat_plot.getAxis("left")
    assert axis.height() < 120  # short: the case where pyqtgraph used to drop labels
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    assert sorted(text for _rect, _flags, text in texts) == sorted(
        venue_label(v) for v in FUNDING_VENUES)


def test_the_now_table_is_refilled_only_when_a_value_changes(make_window, qtbot):
    # The funding feed recomputes with every forming hourly bar; refilling unchanged rows
    # replaced every coloured cell (references to None kept under PySide 6.11, see the soak).
    import dataclasses

    window = make_window(demo=True)
    window.show()
    panel = window.panels["funding"]
    qtbot.waitUntil(lambda: panel.result is not None and panel.table.rowCount() > 0,
                    timeout=20000)
    result = panel.result
    first = panel.table.item(0, 4)
    panel._on_result(dataclasses.replace(result))  # the same numbers again
    assert panel.table.item(0, 4) is first
    venue = next(iter(result.now))
    now = {v: dict(r) for v, r in result.now.items()}
    now[venue]["apr_pct"] = 123.45
    panel._on_result(dataclasses.replace(result, now=now))
    texts = [panel.table.item(row, 4).text() for row in range(panel.table.rowCount())]
    assert "+123.45%" in texts


def test_next_funding_reads_continuous_for_deribit_only():
    from ui.panels.funding import next_funding_text

    now = 1_770_000_000_000
    assert next_funding_text("deribit", float("nan"), now) == "continuous"
    assert next_funding_text("okx", float("nan"), now) == "–"  # a missing field, not a rule
    assert next_funding_text("binance", now + 3_723_000, now) == "1h 02m 03s"
    assert next_funding_text("binance", now - 1, now) == "settling"
