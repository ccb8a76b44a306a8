"""File → Export in the demo window: each time dock's CSV equals the arrays its chart items draw
within the visible window, the headless `export_view` writes the same files for the same choices
and window, and the images (1×, 2×, clipboard) are real pictures of the dock.

Two windows in all (each test opens one, as tests/ui/test_dock_exports.py does).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtGui import QGuiApplication, QImage

from services.commands import sidecar_path
from services.export_view import export_view
from ui.charts.lod_item import LodCurveItem


def export_in_window(window, qtbot, key: str, folder: Path) -> list[str]:
    """The dock's CSV export as the menu runs it (written by a worker); the file stems."""
    folder.mkdir()
    window.status.clearMessage()
    assert window.exports.export_csv(window.docks[key], str(folder))
    qtbot.waitUntil(lambda: "CSV files" in window.status.currentMessage()
                    or "failed" in window.status.currentMessage(), timeout=20000)
    assert "written" in window.status.currentMessage(), window.status.currentMessage()
    return sorted(p.stem for p in folder.glob("*.csv"))


def seconds(frame: pd.DataFrame) -> np.ndarray:
    return pd.to_datetime(frame["time"], utc=True).dt.as_unit("s").astype("int64").to_numpy()


def in_view(x: np.ndarray, y: np.ndarray, view: tuple[float, float]
            ) -> tuple[np.ndarray, np.ndarray]:
    keep = (x >= view[0]) & (x <= view[1]) & np.isfinite(y)
    return x[keep], y[keep]


def assert_drawn(folder: Path, name: str, column: str, x: np.ndarray, y: np.ndarray,
                 view: tuple[float, float], scale: float = 1.0) -> pd.DataFrame:
    """The CSV's rows are the item's finite points inside the view, value for value."""
    frame = pd.read_csv(folder / f"{name}.csv")
    xs, ys = in_view(np.asarray(x, float), np.asarray(y, float), view)
    assert len(frame) == len(xs) > 0, name
    np.testing.assert_array_equal(seconds(frame), xs.astype(np.int64))
    np.testing.assert_allclose(frame[column], ys * scale, rtol=1e-9)
    provenance = json.loads(sidecar_path(str(folder / f"{name}.csv")).read_text())
    assert provenance["id"] == name and provenance["formula"] and provenance["as_of"]
    assert provenance["rows"] == len(frame)
    return frame


def pyramid_xy(curve: LodCurveItem) -> tuple[np.ndarray, np.ndarray]:
    pyramid = curve.pyramid()
    return pyramid.x, pyramid.y


def assert_headless_equal(window, key: str, choices: dict, view: tuple[float, float],
                          in_window: Path, tmp_path: Path) -> None:
    """`export_view` from the cache writes the same files, the same bytes (sidecars: the same
    but for the export time)."""
    headless = tmp_path / f"{in_window.name}-headless"
    headless.mkdir()
    paths = export_view(window.scheduler.services, key, choices, headless,
                        int(view[0] * 1000), int(view[1] * 1000))
    assert sorted(p.stem for p in paths) == sorted(p.stem for p in in_window.glob("*.csv"))
    for path in paths:
        assert path.read_text() == (in_window / path.name).read_text(), path.name
        ours, theirs = (json.loads(sidecar_path(str(p)).read_text())
                        for p in (path, in_window / path.name))
        ours.pop("exported_at"), theirs.pop("exported_at")
        assert ours == theirs, path.name


def test_each_time_dock_exports_the_arrays_it_draws_and_headless_writes_the_same(
        demo_window, qtbot, tmp_path):
    window = demo_window
    panels = window.panels
    qtbot.waitUntil(lambda: panels["prices"].has_data() and panels["funding"].result is not None
                    and panels["open_interest"].result is not None
                    and panels["volatility"].result is not None
                    and panels["rotation"].view is not None, timeout=40000)

    # Prices, stacked lines (the default): each asset's close as drawn, gaps left out.
    prices = panels["prices"]
    view = prices.plotted_x_range()
    folder = tmp_path / "prices"
    stems = export_in_window(window, qtbot, "prices", folder)
    assert stems == sorted(f"{s}.1h" for s in prices.visible)
    for stem in prices.visible:
        assert_drawn(folder, f"{stem}.1h", "close", *pyramid_xy(prices._curves[stem]), view)
    choices = {"interval": prices.interval, "range": prices.range_key, "mode": prices.mode,
               "style": prices.style, "assets": list(prices.visible)}
    assert_headless_equal(window, "prices", choices, view, folder, tmp_path)

    # Compare: the close and the close rebased to 100 at the left edge (the curve's scale).
    prices.choose("mode", "compare")
    view = prices.plotted_x_range()
    folder = tmp_path / "compare"
    export_in_window(window, qtbot, "prices", folder)
    for stem in prices.visible:
        curve = prices._curves[stem]
        frame = assert_drawn(folder, f"{stem}.1h", "rebased", *pyramid_xy(curve), view,
                             scale=curve.transform().m22())
        first = frame["close"].iloc[0]
        assert 80 < frame["rebased"].iloc[0] < 120 and first > 0
    assert_headless_equal(window, "prices", {**choices, "mode": "compare"}, view, folder,
                          tmp_path)

    # Funding: the average line, each venue's settlements at the end of the steps drawn for
    # them, the heatmap's cells.
    funding = panels["funding"]
    view = funding.plotted_x_range()
    folder = tmp_path / "funding"
    export_in_window(window, qtbot, "funding", folder)
    assert_drawn(folder, "fundingavg.btc", "apr_pct", *pyramid_xy(funding.average_curve), view)
    for venue, curve in funding._curves.items():
        frame = pd.read_csv(folder / f"funding.{venue}.btc.csv")
        x, y = pyramid_xy(curve)
        ends = np.searchsorted(x, seconds(frame).astype(float), side="left")
        assert len(frame) > 0 and (x[ends] == seconds(frame)).all(), venue
        np.testing.assert_allclose(frame["apr_pct"], y[ends], rtol=1e-9)
        assert (seconds(frame) >= view[0]).all() and (seconds(frame) <= view[1]).all()
    grid = pd.read_csv(folder / "fundinggrid.btc.csv")
    venues = [c for c in grid.columns if c != "time"]
    assert len(venues) == 5 and len(grid) > 100
    for row, venue in enumerate(venues):
        shown = [funding.heatmap.value_at(s + 1, row) for s in seconds(grid)]
        np.testing.assert_allclose(shown, grid[venue], rtol=1e-9, equal_nan=True)
    assert_headless_equal(window, "funding", {"asset": funding.asset, "window": funding.window},
                          view, folder, tmp_path)

    # Open interest per venue, and the price on the right axis.
    oi = panels["open_interest"]
    view = oi.plotted_x_range()
    folder = tmp_path / "oi"
    export_in_window(window, qtbot, "open_interest", folder)
    for venue, curve in oi._curves.items():
        if curve.pyramid() is not None:
            assert_drawn(folder, f"oi.{venue}.btc", "open_interest", *pyramid_xy(curve), view)
    assert_drawn(folder, "btc.1h", "close", *pyramid_xy(oi.price_curve), view)
    assert_headless_equal(window, "open_interest", {"asset": oi.asset}, view, folder, tmp_path)

    # Volatility: DVOL, realised, Volmex, and the IV − RV spread.
    vol = panels["volatility"]
    view = vol.plotted_x_range()
    folder = tmp_path / "vol"
    export_in_window(window, qtbot, "volatility", folder)
    assert_drawn(folder, "dvol.btc", "close", *pyramid_xy(vol.dvol_curve), view)
    assert_drawn(folder, f"rv.btc.{vol.window}", "rv", *pyramid_xy(vol.rv_curve), view)
    assert_drawn(folder, "bviv.btc", "close", *pyramid_xy(vol.volmex_curve), view)
    assert_drawn(folder, f"ivrv.btc.{vol.window}", "spread", vol.spread_curve.xData,
                 vol.spread_curve.yData, view)
    rv_method = window.feeds.shared_params("volatility")["rv_method"]
    assert_headless_equal(window, "volatility", {"asset": vol.asset, "window": vol.window,
                                                 "rv_method": rv_method}, view, folder, tmp_path)

    # Rotation: correlations, beta, both ratios (one on the right axis), and the matrix.
    rotation = panels["rotation"]
    view = rotation.plotted_x_range()
    folder = tmp_path / "rotation"
    export_in_window(window, qtbot, "rotation", folder)
    w = rotation.view.window
    for stem, curve in rotation.corr_curves.items():
        assert_drawn(folder, f"corr.btc_{stem}.{w}", "corr", *pyramid_xy(curve), view)
    assert_drawn(folder, f"beta.btc_spx.{w}", "beta", *pyramid_xy(rotation.beta_curve), view)
    left = [i for i in rotation.ratio_plot.items if isinstance(i, LodCurveItem)]
    right = [i for i in rotation.ratio_right.addedItems if isinstance(i, LodCurveItem)]
    assert_drawn(folder, "ratio.btc_gold", "ratio", *pyramid_xy(left[0]), view)
    assert_drawn(folder, "ratio.btc_spx", "ratio", *pyramid_xy(right[0]), view)
    matrix = pd.read_csv(folder / "corrmatrix.csv").set_index("asset")
    returns = rotation.view.returns
    ms = returns.index.as_unit("ms").asi8
    shown = returns[(ms >= view[0] * 1e3) & (ms <= view[1] * 1e3)]
    np.testing.assert_allclose(matrix.loc["BTC", "SPX"], shown["btc"].corr(shown["spx"]),
                               rtol=1e-8)
    params = window.feeds.shared_params("rotation")
    assert_headless_equal(window, "rotation", params, view, folder, tmp_path)


def test_images_at_1x_and_2x_the_clipboard_and_the_docks_drawn_by_value(
        demo_window, qtbot, tmp_path, monkeypatch):
    from ui import export_actions

    window = demo_window
    exports = window.exports
    prices = window.panels["prices"]
    qtbot.waitUntil(lambda: prices.has_data() and window.panels["options"].view is not None
                    and window.panels["movers"].rows == 10, timeout=40000)
    menu_texts = [a.text() for a in exports.menu.actions()]
    assert {"Window as PNG…", "Dock as PNG…", "Dock data as CSV…"} <= set(menu_texts)
    assert exports.actions["copyChartImage"].shortcut().toString() == "Ctrl+Shift+C"

    # The dock as PNG through the menu's path: 1×, then 2× (twice the pixels, not blank).
    dock = window.docks["prices"]
    monkeypatch.setattr(export_actions, "ask_dock", lambda *_a: dock)
    sizes = {}
    for scale in (1, 2):
        exports.actions[f"exportScale{scale}"].setChecked(True)
        target = tmp_path / f"prices-{scale}x.png"
        monkeypatch.setattr(export_actions, "ask_png_path", lambda *_a, t=target: str(t))
        window.status.clearMessage()
        exports.actions["exportDockPng"].trigger()
        qtbot.waitUntil(lambda: "Image saved" in window.status.currentMessage(), timeout=10000)
        image = QImage(str(target))
        sizes[scale] = (image.width(), image.height())
        pixels = np.array([image.pixel(x, y) & 0xFFFFFF for x in range(0, image.width(), 7)
                           for y in range(0, image.height(), 7)], dtype=np.int64)
        assert len(np.unique(pixels)) > 20 and pixels.std() > 0, "a blank image"
    assert sizes[2] == (2 * sizes[1][0], 2 * sizes[1][1])
    assert sizes[1] == (dock.width(), dock.height())
    assert window.settings.value("export/scale") in (2, "2")

    # The whole window at 2×.
    target = tmp_path / "window.png"
    monkeypatch.setattr(export_actions, "ask_png_path", lambda *_a: str(target))
    window.status.clearMessage()
    exports.actions["exportWindowPng"].trigger()
    qtbot.waitUntil(lambda: "Image saved" in window.status.currentMessage(), timeout=10000)
    assert QImage(str(target)).width() == 2 * window.width()

    # Copy to the clipboard (the dock under the mouse, else the window).
    QGuiApplication.clipboard().clear()
    copied = exports.copy_chart_image()
    on_clipboard = QGuiApplication.clipboard().image()
    assert not on_clipboard.isNull() and on_clipboard.size() == copied.size()

    # A dock title bar's own menu: its image onto the clipboard.
    funding_dock = window.docks["funding"]
    menu = exports.dock_menu(funding_dock)
    assert [a.text() for a in menu.actions()] == ["Export as PNG…", "Copy image",
                                                  "Export data as CSV…"]
    menu.actions()[1].trigger()
    expected = (2 * funding_dock.width(), 2 * funding_dock.height())  # the 2× choice holds
    assert (QGuiApplication.clipboard().image().width(),
            QGuiApplication.clipboard().image().height()) == expected

    # Docks whose x is no time: every point, as the items were handed them.
    options = window.panels["options"]
    folder = tmp_path / "options"
    stems = export_in_window(window, qtbot, "options", folder)
    assert {"gex.btc", "gexprofile.btc", "term.btc", "skew.btc", "smile.btc"} <= set(stems)
    gex = pd.read_csv(folder / "gex.btc.csv")
    np.testing.assert_allclose(gex["strike"], options.net_curve.xData)
    np.testing.assert_allclose(gex["net_gex"], options.net_curve.yData, rtol=1e-9)
    profile = pd.read_csv(folder / "gexprofile.btc.csv")
    np.testing.assert_allclose(profile["total_gex"], options.profile_curve.yData, rtol=1e-9)
    smile = pd.read_csv(folder / "smile.btc.csv")
    calls = [i for i in options.smile_plot.listDataItems() if i.xData is not None]
    drawn = np.sort(np.concatenate([i.xData for i in calls]))
    np.testing.assert_allclose(np.sort(smile["strike"]), drawn)
    movers = window.panels["movers"]
    folder = tmp_path / "movers"
    export_in_window(window, qtbot, "movers", folder)
    table = pd.read_csv(folder / "movers.csv")
    from PySide6.QtCore import Qt

    for row in range(movers.table.rowCount()):
        shown = movers.table.item(row, 1).data(Qt.ItemDataRole.UserRole)
        assert table["last"].iloc[row] == pytest.approx(shown, rel=1e-9)
    # Files of the same names in the folder: asked first; "Cancel" replaces nothing.
    again = tmp_path / "again"
    export_in_window(window, qtbot, "open_interest", again)
    before = {p.name: p.read_bytes() for p in again.iterdir()}
    (again / next(n for n in before if n.endswith(".csv"))).write_text("mine")
    asked: list[list[str]] = []
    monkeypatch.setattr(exports, "confirm_replace",
                        lambda _folder, names: asked.append(names) or False)
    window.status.clearMessage()
    assert exports.export_csv(window.docks["open_interest"], str(again))
    qtbot.waitUntil(lambda: "cancelled" in window.status.currentMessage(), timeout=10000)
    assert sorted(asked[0]) == sorted(before)  # each CSV and its sidecar
    assert "mine" in {p.read_text() for p in again.glob("*.csv")}
    monkeypatch.setattr(exports, "confirm_replace", lambda _folder, names: True)
    window.status.clearMessage()
    assert exports.export_csv(window.docks["open_interest"], str(again))
    qtbot.waitUntil(lambda: "written" in window.status.currentMessage(), timeout=10000)
    assert {p.name: p.read_bytes() for p in again.iterdir() if p.suffix == ".csv"} == \
        {n: b for n, b in before.items() if n.endswith(".csv")}
    # A time window with no data: said, nothing written.
    next(iter(prices._plots.values())).setXRange(0, 86400, padding=0)
    assert not exports.export_csv(window.docks["prices"], str(tmp_path))
    assert "no data in the visible time window" in window.status.currentMessage()
    # The sources dock plots no series: said, nothing written.
    assert not exports.export_csv(window.docks["sources"], str(tmp_path))
    assert "no data series" in window.status.currentMessage()
