"""The squeeze anatomy dock in the demo window at 1366×768 (the shipped workspace): six plots
that share their x pixels and one cursor, what they draw is what they export (and what the
headless export writes), a threshold typed in the bar recomputes the regime and is kept, and a
plot without its data says why in one line.

One window for the lot (window tests cost seconds each).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from PySide6.QtCore import QPointF
from PySide6.QtTest import QTest

from models.dock_choices import DOCK_CHOICES
from services.commands import sidecar_path
from services.export_view import export_view
from ui.panels.squeeze import ROWS


def test_the_squeeze_dock_draws_what_it_exports_shares_one_cursor_and_keeps_its_thresholds(
        make_window, qtbot, tmp_path, settings):
    window = make_window(demo=True, workspace="Squeeze anatomy")
    window.resize(1366, 768)
    window.show()
    qtbot.waitUntil(lambda: "squeeze" in window.panels
                    and window.panels["squeeze"].has_data(), timeout=60000)
    panel = window.panels["squeeze"]
    # The current funding tables arrive after the first paint: the last hour (no settlement
    # yet at any venue) is funded by them.
    qtbot.waitUntil(lambda: np.isfinite(panel.result.funding_apr_pct[-1]), timeout=20000)
    result = panel.result

    # Laptop: every plot readable (at least 50 px of data each) and the six share their x.
    heights = {row: panel.plots[row].vb.height() for row in ROWS}
    assert min(heights.values()) >= 50, heights
    lefts = {round(panel.plots[row].vb.sceneBoundingRect().left()) for row in ROWS}
    rights = {round(panel.plots[row].vb.sceneBoundingRect().right()) for row in ROWS}
    assert len(lefts) == 1 and len(rights) == 1, (lefts, rights)
    x0, x1 = panel.plotted_x_range()
    for row in ROWS:
        np.testing.assert_allclose(panel.plots[row].vb.viewRange()[0], (x0, x1))

    # What is drawn is what the export writes: the price, the funding and OI change lines,
    # the liquidation steps (longs below the axis) and the shading from the regime column.
    exported = {s.name: s for s in panel.plotted_series()}
    assert {"btc.1h", "regime.btc", "dvol.btc"} <= set(exported)
    regime = exported["regime.btc"]
    price = panel.price_curve.pyramid()
    np.testing.assert_array_equal(price.x, exported["btc.1h"].x)
    np.testing.assert_allclose(price.y, exported["btc.1h"].columns["close"])
    for curve, column in ((panel.funding_curve, "funding_apr_pct"),
                          (panel.oi_curve, "oi_change_pct")):
        drawn = curve.pyramid()
        finite = np.isfinite(drawn.y)
        shown = regime.x[np.isfinite(regime.columns[column])]
        np.testing.assert_array_equal(drawn.x[finite], shown)
        np.testing.assert_allclose(drawn.y[finite], regime.columns[column][
            np.isfinite(regime.columns[column])], rtol=1e-12)
    if result.liq_venues:  # one step per hourly bar, shorts above the axis, longs below
        kept = np.isin(result.hours / 1e3, regime.x)
        np.testing.assert_allclose(panel.short_bars.yData, np.nan_to_num(result.short_usd))
        np.testing.assert_allclose(panel.long_bars.yData, -np.nan_to_num(result.long_usd))
        np.testing.assert_allclose(regime.columns["long_liq_usd"], result.long_usd[kept])
        assert np.nanmax(result.short_usd) > 0 and np.nanmax(result.long_usd) > 0
    else:
        assert panel.reasons["liq"].toPlainText() == result.missing["liq"]
    codes = regime.columns["regime"]
    squeezes = panel.shading["dvol"][0]
    assert squeezes.bandCount() == len([p for p in result.periods if p[2] == 1])
    shaded = np.zeros(len(regime.x), dtype=bool)
    for start, end in zip(squeezes._starts, squeezes._true_ends, strict=True):
        shaded |= (regime.x >= start) & (regime.x < end)
    np.testing.assert_array_equal(shaded, codes == 1)
    # every plot carries the same shading
    for row in ROWS:
        np.testing.assert_array_equal(panel.shading[row][0]._starts, squeezes._starts)

    # The headless export of the dock writes the same files for the same choices and window.
    folder = tmp_path / "window"
    folder.mkdir()
    assert window.exports.export_csv(window.docks["squeeze"], str(folder))
    qtbot.waitUntil(lambda: "written" in window.status.currentMessage(), timeout=20000)
    headless = tmp_path / "headless"
    headless.mkdir()
    choices = {name: getattr(panel, name) for name in DOCK_CHOICES["squeeze"]}
    paths = export_view(window.scheduler.services, "squeeze", choices, headless,
                        int(x0 * 1000), int(x1 * 1000))
    assert sorted(p.name for p in paths) == sorted(p.name for p in folder.glob("*.csv"))
    for path in paths:
        assert path.read_text() == (folder / path.name).read_text(), path.name
    sidecar = json.loads(sidecar_path(str(folder / "regime.btc.csv")).read_text())
    assert sidecar["params"]["liq_multiple"] == panel.liq_multiple
    assert "short squeeze" in sidecar["details"]["Thresholds"]
    frame = pd.read_csv(folder / "regime.btc.csv")
    assert len(frame) > 100 and "funding_apr_pct" in frame

    # A plot without its inputs says why, on one line.
    for row in ROWS:
        reason = panel.reasons[row].toPlainText()
        assert reason == result.missing.get(row, reason) and "\n" not in reason

    # One cursor: a mouse over the DVOL plot moves the shared cursor; the readout is that bar.
    plot = panel.plots["dvol"]
    target = x0 + 0.75 * (x1 - x0)
    (_a, _b), (y0, y1) = plot.vb.viewRange()
    scene = plot.vb.mapViewToScene(QPointF(target, (y0 + y1) / 2))
    QTest.mouseMove(panel.chart.viewport(), panel.chart.mapFromScene(scene))
    qtbot.waitUntil(lambda: window.time_link.cursor is not None, timeout=2000)
    x = panel.crosshair.x
    i = int(np.searchsorted(result.hours, x * 1000, side="right")) - 1
    assert f"{result.funding_apr_pct[i]:+.1f} %" in panel.summary.text()
    assert all(line.value() == x for line in panel.crosshair._vlines)

    # A threshold typed in the bar: a new result under it, saved as the dock's choice.
    before = result.thresholds.price_change_min_pct
    panel.boxes["price_change_min_pct"].setValue(before + 1.0)
    qtbot.waitUntil(lambda: panel.result is not None and
                    panel.result.thresholds.price_change_min_pct == before + 1.0, timeout=10000)
    assert settings.value("squeeze/price_change_min_pct") == before + 1.0
    assert "> +2.5 %" in panel.names["price"].toPlainText()
    assert window.workspaces.capture().docks["squeeze"]["price_change_min_pct"] == before + 1.0
