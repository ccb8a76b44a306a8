"""Readability at 1366 × 768 (issue #13, item 4): axes, labels, titles, tables, readouts."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from ui.derived_feeds import DerivedFeeds
from ui.panels.base import UiContext
from ui.scheduler import Scheduler
from ui.store import DataStore


@pytest.fixture
def ctx(settings):
    store = DataStore()
    scheduler = Scheduler()
    return UiContext(store, scheduler, settings,
                     DerivedFeeds(store, scheduler, settings, held=False))


def test_log_price_axis_reads_70k(make_panel):
    from ui.panels.prices import PricesPanel

    panel = make_panel(PricesPanel)
    panel.log_box.setChecked(True)
    axis = panel._plots["btc"].getAxis("left")
    assert axis.logMode
    assert axis.tickStrings([math.log10(70_000), 5.0], 1.0, None) == ["70k", "100k"]


def test_gex_axes_read_dollars(make_panel):
    from ui.panels.options import OptionsPanel

    panel = make_panel(OptionsPanel)
    for plot in (panel.gex_plot, panel.profile_plot):
        assert plot.getAxis("left").tickStrings([-4e7, 4e7], 1.0, 2e7) == ["-$40M", "$40M"]
    assert panel.gex_plot.getAxis("bottom").tickStrings([70_000, 80_000], 1.0, 10_000) == [
        "70k", "80k"]


def test_open_interest_axes_read_compact(make_panel):
    from ui.panels.open_interest import OpenInterestPanel

    panel = make_panel(OpenInterestPanel)
    for side in ("left", "right"):  # OI in coins, the price beside it
        assert panel.plot.getAxis(side).tickStrings([90_000, 100_000], 1.0, 10_000) == [
            "90k", "100k"]


# -- price levels whose labels would collide -----------------------------------------------------
def test_levels_closer_than_a_label_share_one_label_top_first():
    from ui.charts.levels import group_close, merged_labels

    # pixel rows (0 at the top): 100 and 110 collide, 200 stands alone
    assert group_close([100.0, 110.0, 200.0], 16.0) == [[0, 1], [2]]
    # a chain: each within 16 px of the one above joins the group
    assert group_close([40.0, 0.0, 10.0, 20.0], 16.0) == [[1, 2, 3], [0]]
    assert group_close([0.0, 16.0], 16.0) == [[0], [1]]  # exactly a label apart: no clash
    assert group_close([], 16.0) == []
    assert merged_labels(["gamma flip 72,541", "call wall 75,000", "put wall 65,000"],
                         [109.0, 100.0, 180.0]) == [
        "", "call wall 75,000 · gamma flip 72,541", "put wall 65,000"]


def test_price_chart_merges_colliding_level_labels_and_splits_them_on_zoom(make_panel):
    from types import SimpleNamespace

    import numpy as np

    from models.levels import CALL_WALL, GAMMA_FLIP, PUT_WALL, Level
    from models.series import MS_PER_HOUR, SeriesData
    from ui.panels.prices import PricesPanel

    panel = make_panel(PricesPanel)
    hours = 1_769_990_400_000 + np.arange(48) * MS_PER_HOUR
    close = np.linspace(60_000, 100_000, 48)
    panel.ctx.store.set_series("btc.1h", SeriesData(hours, {
        "open": close, "high": close, "low": close, "close": close, "volume": np.ones(48)}))
    levels = [Level(72_541.0, "gamma flip 72,541", GAMMA_FLIP),
              Level(75_000.0, "call wall 75,000", CALL_WALL),
              Level(65_000.0, "put wall 65,000", PUT_WALL)]
    panel.ctx.feeds.publish("chain", SimpleNamespace(levels=lambda: levels, time_ms=0,
                                                     convention="long calls, short puts"),
                            asset="btc")
    plot = panel._plots["btc"]
    plot.disableAutoRange()
    plot.setYRange(60_000, 100_000, padding=0)
    height = plot.vb.height()
    assert (75_000 - 72_541) / 40_000 * height < 16 < (72_541 - 65_000) / 40_000 * height
    assert panel._level_labels.texts() == [
        "", "call wall 75,000 · gamma flip 72,541", "put wall 65,000"]
    plot.setYRange(64_000, 76_000, padding=0)  # zoomed in: 2,459 is now a label apart
    assert (75_000 - 72_541) / 12_000 * height > 16
    assert panel._level_labels.texts() == [
        "gamma flip 72,541", "call wall 75,000", "put wall 65,000"]


# -- the movers table ------------------------------------------------------------------------------
def _movers_rows():
    """Rows as the feed hands them, deliberately in name order Z→A, ETH with the biggest move."""
    from models.movers import MOVER_COLUMNS

    changes = {"vix": -3.0, "spx": 0.47, "silver": 5.14, "ndx": 0.63, "gold": 2.26,
               "eth": 13.84, "dxy": 0.06, "btc": 10.05}
    return {stem: {**dict.fromkeys(MOVER_COLUMNS, 1.0), "chg_1d_pct": change}
            for stem, change in changes.items()}


def _headers_cut(table):
    """Header texts wider than their column, by Qt's rule: text and two margins, and room for
    the sort arrow (the header's height and a margin) in the sorted column."""
    from PySide6.QtWidgets import QStyle

    header = table.horizontalHeader()
    margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin)
    cut = []
    for col in range(header.count()):
        text = table.horizontalHeaderItem(col).text()
        need = header.fontMetrics().horizontalAdvance(text) + 2 * margin
        if header.isSortIndicatorShown() and col == header.sortIndicatorSection():
            need += header.height() + margin
        if need > header.sectionSize(col):
            cut.append(text)
    return cut


def test_movers_open_with_btc_first_in_the_asset_order(make_panel):
    from ui.panels.movers import MoversPanel

    panel = make_panel(MoversPanel, 640, 400)
    panel.ctx.feeds.publish("movers", _movers_rows())
    names = [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]
    assert names == ["BTC", "ETH", "S&P 500", "Nasdaq 100", "Gold", "Silver", "DXY", "VIX"]
    panel.table.sortItems(2, Qt.SortOrder.DescendingOrder)  # the trader clicks "1D %"
    assert panel.table.item(0, 0).text() == "ETH"


def test_movers_refill_updates_the_cells_in_place(make_panel):
    # A new item per cell per refill kept references to None under PySide 6.11 (ui/table_cells.py)
    from ui import theme
    from ui.panels.movers import MoversPanel

    panel = make_panel(MoversPanel, 640, 400)
    rows = _movers_rows()
    panel.ctx.feeds.publish("movers", rows)
    btc_1d = panel.table.item(0, 2)
    assert btc_1d.text() == "+10.05" and btc_1d.foreground().color().name() == theme.UP
    panel.ctx.feeds.publish("movers", {**rows, "btc": {**rows["btc"], "chg_1d_pct": -4.5}})
    assert panel.table.item(0, 2) is btc_1d  # the same item, new text and colour
    assert btc_1d.text() == "-4.50" and btc_1d.foreground().color().name() == theme.DOWN
    assert btc_1d.data(Qt.ItemDataRole.UserRole) == -4.5


def test_movers_headers_fit_a_half_width_dock_and_explain_themselves(make_panel):
    from ui.panels.movers import MoversPanel

    panel = make_panel(MoversPanel, 640, 400)
    panel.ctx.feeds.publish("movers", _movers_rows())
    assert panel.table.viewport().width() < 640
    assert _headers_cut(panel.table) == []
    last = panel.table.horizontalHeaderItem(panel.table.columnCount() - 1)
    assert last.toolTip().startswith("Drawdown from the 52-week high, %. Last price against")


# -- dock tabs -----------------------------------------------------------------------------------
@pytest.mark.qt_log_ignore("does not support raise")  # a floating dock, offscreen
def test_tabbed_docks_show_short_titles_that_fit_with_the_full_title_on_hover(make_window, qtbot):
    from PySide6.QtWidgets import QTabBar

    window = make_window(start=False)
    window.resize(1366, 740)
    window.show()
    qtbot.waitUntil(lambda: window.isVisible())
    qtbot.wait(50)  # the titles follow the layout on the next turn of the event loop
    bars = [b for b in window.findChildren(QTabBar) if b.parent() is window and b.isVisible()]
    tabs = {bar.tabText(i): (bar, i) for bar in bars for i in range(bar.count())}
    assert {"Funding", "Open interest", "Volatility", "Options", "Rotation", "Movers",
            "Sources"} <= set(tabs)
    for text, (bar, i) in tabs.items():
        assert bar.tabRect(i).width() >= bar.tabSizeHint(i).width(), text  # not cut
    assert tabs["Options"][0].tabToolTip(tabs["Options"][1]) == "Options and dealer gamma"
    assert window.docks["prices"].windowTitle() == "Cross-asset prices"  # alone: the full title
    window.docks["options"].setFloating(True)
    qtbot.waitUntil(lambda: window.docks["options"].windowTitle() == "Options and dealer gamma")


# -- the price readout ---------------------------------------------------------------------------
def _plain(rich: str) -> str:
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText().replace("\xa0", " ")


def _bars(times, close, spread=0.0):
    import numpy as np

    from models.series import SeriesData

    close = np.asarray(close, dtype=float)
    return SeriesData(np.asarray(times, dtype=np.int64), {
        "open": close - spread, "high": close + 2 * spread, "low": close - 3 * spread,
        "close": close, "volume": np.ones(len(close))})


def test_candle_readout_shows_the_hovered_bars_open_high_low_close(make_panel):
    import numpy as np

    from models.series import MS_PER_HOUR
    from ui.panels.prices import PricesPanel

    panel = make_panel(PricesPanel)
    hours = 1_769_990_400_000 + np.arange(10) * MS_PER_HOUR
    panel.ctx.store.set_series("btc.1h", _bars(hours, 60_000 + 100 * np.arange(10), 50))
    panel.style_box.setCurrentText("candles")
    panel._on_crosshair(hours[5] / 1e3 + 60)
    # bar 5 by hand: close 60,500; open 60,450; high 60,600; low 60,350; +100 on 60,400
    assert "BTC O 60,450  H 60,600  L 60,350  C 60,500 +0.17%" in _plain(panel.readout.text())


def test_the_readout_stays_at_the_cursor_while_bars_arrive_and_returns_to_the_last_on_leave(
        make_panel):
    import numpy as np

    from models.series import MS_PER_HOUR
    from ui.panels.prices import PricesPanel

    panel = make_panel(PricesPanel)
    hours = 1_769_990_400_000 + np.arange(10) * MS_PER_HOUR
    panel.ctx.store.set_series("btc.1h", _bars(hours, 60_000 + 100 * np.arange(10)))
    panel._on_crosshair(hours[5] / 1e3 + 60)
    # a streamed bar: the forming bar changes and a new one opens while the trader hovers bar 5
    more = np.append(hours, hours[-1] + MS_PER_HOUR)
    panel.ctx.store.set_series("btc.1h", _bars(more, 60_000 + 100 * np.arange(11)), 9)
    assert "BTC 60,500" in _plain(panel.readout.text())
    panel.crosshair.left.emit()
    assert "BTC 61,000" in _plain(panel.readout.text())  # the newest bar, 60,000 + 100 × 10


def test_readout_wraps_to_show_every_visible_asset_at_half_width(make_panel, qtbot):
    import numpy as np

    from models.catalog import PRICE_STEMS
    from models.series import MS_PER_HOUR
    from ui.panels.prices import PricesPanel

    panel = make_panel(PricesPanel, 640, 700)
    hours = 1_769_990_400_000 + np.arange(10) * MS_PER_HOUR
    for stem in PRICE_STEMS:
        panel.ctx.store.set_series(f"{stem}.1h", _bars(hours, 60_000 + 10 * np.arange(10)))
        panel.asset_boxes[stem].setChecked(True)
    panel._on_crosshair(hours[5] / 1e3)
    qtbot.waitUntil(lambda: panel.readout.height() >= panel.readout.heightForWidth(
        panel.readout.width()))
    readout = panel.readout
    assert readout.wordWrap()
    one_line = readout.fontMetrics().height()
    assert readout.height() > 1.5 * one_line  # a second line rather than a cut
    text = _plain(readout.text())
    for name in ("BTC", "ETH", "S&P 500", "Nasdaq 100", "ES", "NQ", "Gold", "Silver", "DXY",
                 "VIX"):
        assert f"{name} 60,050" in text


# -- the options dock at half width ------------------------------------------------------------
def test_options_convention_wraps_at_half_width_with_the_snapshot_time_first(make_window, qtbot):
    from ui.panels.options import OptionsPanel, _utc

    window = make_window(demo=True)
    window.show()
    qtbot.waitUntil(lambda: window.scheduler.cache_read_done, timeout=20000)
    panel = OptionsPanel(window.ctx)  # the window's feeds, in a dock-sized widget of its own
    qtbot.addWidget(panel)
    panel.resize(640, 520)
    panel.show()
    qtbot.waitUntil(lambda: panel.view is not None, timeout=30000)
    label = panel.convention
    assert label.text().startswith(f"snapshot {_utc(panel.view.time_ms)}")
    assert "UTC, valued then · GEX = OI × Γ × S² × 1%" in label.text()
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()))
    assert label.wordWrap() and label.width() <= 640
    assert label.height() > 1.5 * label.fontMetrics().height()  # two lines, nothing cut
    # the skew plot says which line is which in its title, not in a legend over its points
    assert panel.skew_plot.legend is None
    assert "● RR (C − P)" in panel.skew_plot.titleLabel.text
    assert "■ BF" in panel.skew_plot.titleLabel.text
    panel.shutdown()


def test_legend_share_is_the_part_of_the_view_a_legend_covers(qtbot):
    import pyqtgraph as pg

    from ui.charts.fit import legend_share

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(300, 200)
    widget.show()
    plot = widget.getPlotItem()
    legend = plot.addLegend(offset=(0, 0))
    for name in ("a", "b", "c", "d"):
        plot.plot([0, 1], [0, 1], name=name)
    qtbot.wait(20)
    # four entries in one column: ~80 × 90 px of a ~260 × 160 px view
    assert 0.1 < legend_share(legend, plot) < 0.5
    legend.setVisible(False)
    assert legend_share(legend, plot) == 0.0


# -- the rotation dock at half width ---------------------------------------------------------------
def test_rotation_matrix_shows_every_asset_and_no_legend_covers_the_chart(make_window, qtbot):
    from PySide6.QtWidgets import QWidget

    from models.assets import short_name
    from ui.charts.fit import legend_share

    window = make_window(demo=True)
    window.show()
    qtbot.waitUntil(lambda: window.scheduler.cache_read_done, timeout=20000)
    window.feeds.release()  # pandas analyses may run (the window does so once its docks painted)
    # The window's own panel (a second one would share its matrix job), out of its dock and
    # sized as half of a 1280 screen's short dock.
    panel = window.build_panel("rotation")
    window.docks["rotation"].setWidget(QWidget())
    panel.setParent(None)
    qtbot.addWidget(panel)
    panel.resize(640, 360)
    panel.show()
    qtbot.waitUntil(lambda: panel.view is not None and bool(panel._matrix_ticks), timeout=30000)
    qtbot.wait(100)  # the layout settles
    chart = panel.chart
    assert chart.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).width() <= chart.width()
    matrix = panel.matrix_plot
    assert matrix.sceneBoundingRect().right() <= chart.viewport().width()
    axis = matrix.getAxis("bottom")
    assert axis.sceneBoundingRect().right() <= chart.viewport().width()
    assert [name for _x, name in panel._matrix_ticks] == [
        "BTC", "SPX", "NDX", "XAU", "XAG", "DXY"]
    # the peers are named in their colours above the chart, not in a legend over it
    assert legend_share(panel.corr_plot.legend, panel.corr_plot) == 0.0
    text = panel.summary.text().replace("&nbsp;", " ")
    for stem in panel.view.corr:
        assert short_name(stem) in text
    assert panel.summary.wordWrap()


def test_short_options_dock_shows_one_row_of_plots_at_a_time(make_panel, qtbot, settings):
    from ui.panels.options import OptionsPanel

    def in_layout(panel):
        return {plot for plot in panel.chart.ci.items}

    panel = make_panel(OptionsPanel, 640, 900)  # tall: the six plots
    qtbot.waitUntil(lambda: panel.chart.height() > 450)
    assert panel.rows_shown() == ["gex", "iv", "skew"]
    assert not panel._page_buttons.isVisible()
    panel.resize(640, 380)  # the 1366 × 768 layout: the dock's chart is ~250 px tall
    qtbot.waitUntil(lambda: panel.rows_shown() == ["gex"])
    assert in_layout(panel) == {panel.gex_plot, panel.profile_plot}
    assert panel._page_buttons.isVisible()
    assert panel.gex_plot.height() > 150  # one row of readable plots, not three of 40 px
    next(b for b in panel._page_group.buttons() if b.text() == "Skew").click()
    assert in_layout(panel) == {panel.skew_plot, panel.history_plot}
    assert settings.value("options/page") == "skew"
    panel.resize(640, 900)
    qtbot.waitUntil(lambda: panel.rows_shown() == ["gex", "iv", "skew"])
    assert len(in_layout(panel)) == 6


def test_column_widths_give_headers_their_room_first():
    from ui.table_fit import column_widths

    # all fit: the 40 px spare shared equally (10 each)
    assert column_widths([50, 60, 70, 80], [40, 40, 40, 40], 300) == [60, 70, 80, 90]
    # they don't (need 300 in 240): floors 40 each (160), the 80 left in proportion to the
    # wants beyond the floors, 10 : 20 : 30 : 40 → 8, 16, 24, 32
    assert column_widths([50, 60, 70, 80], [40, 40, 40, 40], 240) == [48, 56, 64, 72]
    # not even the headers fit: the headers (the table scrolls)
    assert column_widths([50, 60], [40, 40], 70) == [40, 40]
    assert column_widths([], [], 100) == []


def test_movers_headers_fit_when_the_cells_do_not(make_panel, qtbot):
    from ui.panels.movers import MoversPanel

    panel = make_panel(MoversPanel, 560, 400)
    panel.ctx.feeds.publish("movers", _movers_rows())
    header = panel.table.horizontalHeader()
    qtbot.waitUntil(lambda: sum(header.sectionSize(c) for c in range(header.count()))
                    <= panel.table.viewport().width())
    assert _headers_cut(panel.table) == []


def test_funding_table_headers_are_not_cut_in_a_narrow_window(make_window, qtbot):
    window = make_window(demo=True)
    window.resize(1366, 740)
    window.show()
    panel = window.panels["funding"]
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=20000)
    table = panel.table
    header = table.horizontalHeader()
    assert table.viewport().width() < 640
    qtbot.waitUntil(lambda: sum(header.sectionSize(c) for c in range(header.count()))
                    <= table.viewport().width())
    assert _headers_cut(table) == []


def test_matrix_numbers_are_rewritten_in_place(make_panel):
    # A new TextItem per cell per redraw kept references to None under PySide 6.11.
    import numpy as np

    from models.analyses import CorrelationMatrix
    from ui.panels.rotation import RotationPanel

    panel = make_panel(RotationPanel, 640, 400)
    first = np.array([[1.0, 0.27], [0.27, 1.0]])
    panel._draw_matrix(CorrelationMatrix(("BTC", "SPX"), ("btc", "spx"), first, 60))
    texts = list(panel._cell_texts)
    assert [t.toPlainText() for t in texts] == ["+1.00", "+.27", "+.27", "+1.00"]
    second = np.array([[1.0, -0.5], [-0.5, 1.0]])
    panel._draw_matrix(CorrelationMatrix(("BTC", "SPX"), ("btc", "spx"), second, 60))
    assert panel._cell_texts == texts  # the same items
    assert [t.toPlainText() for t in texts] == ["+1.00", "-.50", "-.50", "+1.00"]
    three = np.eye(3)
    panel._draw_matrix(CorrelationMatrix(("BTC", "SPX", "NDX"), ("btc", "spx", "ndx"), three, 60))
    assert len(panel._cell_texts) == 9 and panel._cell_texts[:4] == texts
    shown = [item for item in panel.matrix_plot.items if item in panel._cell_texts]
    assert len(shown) == 9


def test_volatility_in_a_short_dock_drops_its_legend_and_shortens_its_axis_titles(make_panel,
                                                                                   qtbot):
    """At a laptop's half height the legend covered the implied and realised lines and the two
    axis titles ran into each other; the line above the chart names the series then."""
    from ui.panels.volatility import COMPACT_CHART_PX, VolatilityPanel

    panel = make_panel(VolatilityPanel, width=670, height=260)
    qtbot.waitUntil(lambda: panel.chart.height() > 0)
    assert panel.chart.height() < COMPACT_CHART_PX
    assert not panel.legend.isVisible()
    assert panel.plot.getAxis("left").labelText == "%"
    assert panel.spread_plot.getAxis("left").labelText == "IV−RV"
    panel.resize(670, 700)
    qtbot.waitUntil(lambda: panel.chart.height() >= COMPACT_CHART_PX)
    assert panel.legend.isVisible()
    assert panel.plot.getAxis("left").labelText == "% annualised"
    assert panel.spread_plot.getAxis("left").labelText == "IV − RV pts"
