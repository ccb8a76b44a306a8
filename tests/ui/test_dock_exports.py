"""What a dock plots is what `main.py export` writes for the same ids and window: one function
computes each number (models/analyses.py), the window only draws it.

Each test opens the demo window, waits for the dock, exports the ids through the CLI's own code
path (`cmd_export`, reading the demo cache) and compares the arrays.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt

from models.movers import MOVER_COLUMNS
from services.commands import cmd_export, sidecar_path


def export(window, series_id, tmp_path, start=None, end=None) -> pd.DataFrame:
    out = tmp_path / f"{series_id}.csv"
    status = cmd_export(window.scheduler.services, series_id, str(out), start, end, io.StringIO())
    assert status == 0
    provenance = json.loads(sidecar_path(str(out)).read_text())
    assert provenance["id"] == series_id and provenance["formula"]
    return pd.read_csv(out)


def seconds(frame: pd.DataFrame) -> np.ndarray:
    times = pd.to_datetime(frame["time"], utc=True)
    return times.dt.as_unit("s").astype("int64").to_numpy().astype(float)


def iso(seconds_: float) -> str:
    return pd.Timestamp(seconds_, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def test_funding_dock_draws_the_exported_average_and_grid(demo_window, qtbot, tmp_path):
    panel = demo_window.panels["funding"]
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.asset == "btc",
                    timeout=20000)
    x0, x1 = panel.plot.vb.viewRange()[0]
    average = export(demo_window, "fundingavg.btc", tmp_path, iso(x0), iso(x1))
    drawn = panel.average_curve.pyramid()
    keep = (drawn.x >= np.ceil(x0)) & (drawn.x <= x1)
    assert len(average) == keep.sum() > 100
    np.testing.assert_allclose(drawn.x[keep], seconds(average))
    np.testing.assert_allclose(drawn.y[keep], average["apr_pct"], rtol=1e-9)

    grid = export(demo_window, "fundinggrid.btc", tmp_path, iso(x0), iso(x1))
    venues = [c for c in grid.columns if c not in ("time", "unit")]
    assert len(venues) == 5
    for row, venue in enumerate(venues):
        shown = [panel.heatmap.value_at(s + 1, row) for s in seconds(grid)]
        np.testing.assert_allclose(shown, grid[venue], rtol=1e-9, equal_nan=True)


def test_price_overlays_are_the_exported_negative_funding_and_decoupling_days(
        demo_window, qtbot, tmp_path):
    from ui.charts.bands import BandsItem

    prices = demo_window.panels["prices"]
    qtbot.waitUntil(lambda: prices._funding is not None and prices._rotation is not None,
                    timeout=30000)
    negative = export(demo_window, "fundingneg.btc", tmp_path)
    bands = next(i for _p, i in prices._overlay_items if isinstance(i, BandsItem))
    ends = pd.to_datetime(negative["end"], utc=True).map(lambda t: t.timestamp())
    assert bands.bandCount() == len(negative) > 0
    np.testing.assert_allclose(bands._starts, seconds(negative))
    np.testing.assert_allclose(bands._true_ends, ends)

    decoupling = export(demo_window, "decoupling.btc_spx", tmp_path)
    assert [t / 1e3 for t in prices._rotation.decoupling_ms] == list(seconds(decoupling))


def test_volatility_dock_draws_the_exported_rv_and_spread(demo_window, qtbot, tmp_path):
    panel = demo_window.panels["volatility"]
    qtbot.waitUntil(lambda: panel.result is not None, timeout=20000)
    window = panel.window
    rv = export(demo_window, f"rv.btc.{window}", tmp_path)
    drawn = panel.rv_curve.pyramid()
    np.testing.assert_allclose(drawn.x, seconds(rv))
    np.testing.assert_allclose(drawn.y, rv["rv"], rtol=1e-9)
    spread = export(demo_window, f"ivrv.btc.{window}", tmp_path)
    x, y = panel.spread_curve.xData, panel.spread_curve.yData
    np.testing.assert_allclose(x, seconds(spread))
    np.testing.assert_allclose(y, spread["spread"], rtol=1e-9)


def test_options_dock_draws_the_exported_gex_profile_and_term(demo_window, qtbot, tmp_path):
    panel = demo_window.panels["options"]
    qtbot.waitUntil(lambda: panel.view is not None and panel.profile_curve is not None,
                    timeout=30000)
    profile = export(demo_window, "gexprofile.btc", tmp_path)
    # The data as handed over (getData() is clipped to the view of a dock not yet shown).
    x, y = panel.profile_curve.xData, panel.profile_curve.yData
    np.testing.assert_allclose(x, profile["spot"], rtol=1e-12)
    np.testing.assert_allclose(y, profile["total_gex"], rtol=1e-9)
    gex = export(demo_window, "gex.btc", tmp_path)
    x, y = panel.net_curve.xData, panel.net_curve.yData
    np.testing.assert_allclose(x, gex["strike"])
    np.testing.assert_allclose(y, gex["net_gex"], rtol=1e-9)
    term = export(demo_window, "term.btc", tmp_path)
    x, y = panel.term_curve.xData, panel.term_curve.yData
    np.testing.assert_allclose(y, term["atm_iv"], rtol=1e-9)
    levels = export(demo_window, "gammalevels.btc", tmp_path)
    assert levels["gamma_flip"].iloc[-1] == pytest.approx(panel.view.flip, rel=1e-9)
    assert levels["call_wall"].iloc[-1] == panel.view.call_wall


def test_rotation_dock_draws_the_exported_correlation_and_beta(demo_window, qtbot, tmp_path):
    panel = demo_window.panels["rotation"]
    qtbot.waitUntil(lambda: panel.view is not None, timeout=30000)
    window = panel.view.window
    for stem, curve in panel.corr_curves.items():
        corr = export(demo_window, f"corr.btc_{stem}.{window}", tmp_path)
        drawn = curve.pyramid()
        finite = np.isfinite(drawn.y)
        np.testing.assert_allclose(drawn.x[finite], seconds(corr))
        np.testing.assert_allclose(drawn.y[finite], corr["corr"], rtol=1e-9)
    beta = export(demo_window, f"beta.btc_spx.{window}", tmp_path)
    drawn = panel.beta_curve.pyramid()
    finite = np.isfinite(drawn.y)
    np.testing.assert_allclose(drawn.y[finite], beta["beta"], rtol=1e-9)


def test_movers_dock_shows_the_exported_rows(demo_window, qtbot, tmp_path):
    from models.assets import short_name

    panel = demo_window.panels["movers"]
    qtbot.waitUntil(lambda: panel.rows == 10, timeout=20000)
    movers = export(demo_window, "movers", tmp_path).set_index("asset")
    from ui.panels.movers import COLUMNS

    names = {short_name(stem): stem for stem in movers.index}
    for row in range(panel.table.rowCount()):
        stem = names[panel.table.item(row, 0).text()]
        for col, (_title, field) in enumerate(COLUMNS):
            if field is None:
                continue
            assert field in MOVER_COLUMNS
            shown = panel.table.item(row, col).data(Qt.ItemDataRole.UserRole)
            np.testing.assert_allclose(shown, movers.loc[stem, field], rtol=1e-9,
                                       equal_nan=True)


def test_open_interest_dock_shows_the_exported_change(demo_window, qtbot, tmp_path):
    panel = demo_window.panels["open_interest"]
    qtbot.waitUntil(lambda: panel.result is not None, timeout=20000)
    change = export(demo_window, "oichange.btc", tmp_path).set_index("venue")
    for venue, curve in panel._curves.items():
        data = panel.result.venues[venue]
        np.testing.assert_allclose(curve.pyramid().y, data["open_interest"])
        assert panel.result.change_24h_pct[venue] == pytest.approx(
            change.loc[venue, "change_24h_pct"], rel=1e-9)
        assert f"{change.loc[venue, 'change_24h_pct']:+.1f}% 24h" in panel.summary.text()


def test_every_dock_explains_its_numbers_on_hover(demo_window, qtbot):
    """Legend, axis, table cell, level, heatmap cell: each says its formula and inputs."""
    from models.derived import APR_FORMULA, GEX_FORMULA

    panels = demo_window.panels
    funding, options, vol = panels["funding"], panels["options"], panels["volatility"]
    qtbot.waitUntil(lambda: funding.result is not None and options.view is not None
                    and vol.result is not None and panels["movers"].rows == 10, timeout=30000)
    assert APR_FORMULA in funding.key_label.toolTip()
    assert "OI" in funding.plot.getAxis("left").toolTip()
    start = funding.result.hours[-1] / 1e3
    cell = funding.heatmap.describe(start, 0, funding.heatmap.value_at(start + 1, 0))
    assert "APR" in cell and "funding.binance.btc" in cell
    assert "rate × (24 / interval_h)" in funding.table.item(0, 4).toolTip()
    assert GEX_FORMULA in options.gex_plot.toolTip()
    assert "Dealer positioning" in options.gex_plot.toolTip()
    assert "trailing" in vol.spread_plot.toolTip()
    movers = panels["movers"]
    assert "previous session" in movers.table.horizontalHeaderItem(2).toolTip()
    prices = panels["prices"]
    qtbot.waitUntil(lambda: prices._chain is not None, timeout=20000)
    import pyqtgraph as pg

    tips = [i.toolTip() for _p, i in prices._overlay_items if isinstance(i, pg.InfiniteLine)]
    assert any("gamma flip" in t and "options.btc" in t for t in tips)


def test_a_convention_chosen_in_a_dock_reaches_the_price_chart_and_the_export_names_it(
        demo_window, qtbot, tmp_path):
    options, prices = demo_window.panels["options"], demo_window.panels["prices"]
    qtbot.waitUntil(lambda: options.view is not None and prices._chain is not None,
                    timeout=30000)
    long_calls_flip = options.view.flip
    options.positioning_box.setCurrentIndex(options.positioning_box.findData("long_both"))
    qtbot.waitUntil(lambda: prices._chain.positioning == "long_both"
                    and options.view.positioning == "long_both", timeout=20000)
    assert options.view.flip is None  # dealers long gamma everywhere: no sign change
    assert "dealers long calls and puts" in options.convention.text()
    assert demo_window.settings.value("options/positioning") == "long_both"
    options.positioning_box.setCurrentIndex(
        options.positioning_box.findData("long_calls_short_puts"))
    qtbot.waitUntil(lambda: prices._chain.flip == long_calls_flip, timeout=20000)


def test_an_unchanged_rotation_result_is_not_redrawn(demo_window, qtbot):
    """A forming hourly BTC bar that is no session close recomputes the rotation feed but
    changes nothing it shows: the dock keeps its curves instead of rebuilding every item."""
    from dataclasses import replace

    panel = demo_window.panels["rotation"]
    qtbot.waitUntil(lambda: panel.view is not None, timeout=30000)
    curves = dict(panel.corr_curves)
    same = replace(panel.view, returns=panel.view.returns.copy())
    panel._on_view(same)
    assert panel.corr_curves == curves and panel.view is same
    moved = replace(panel.view, threshold=panel.view.threshold + 0.1)
    panel._on_view(moved)
    assert all(panel.corr_curves[s] is not curves[s] for s in curves)


def test_liquidations_dock_draws_the_exported_totals_and_the_price_chart_the_bursts(
        demo_window, qtbot, tmp_path):
    from models.dock_choices import resolve_choices
    from models.export_view import dock_series

    panel, prices = demo_window.panels["liquidations"], demo_window.panels["prices"]
    qtbot.waitUntil(lambda: panel.result is not None and "btc" in prices._burst_marks,
                    timeout=30000)
    totals = export(demo_window, "liqtotals.btc", tmp_path)
    assert "reported" in json.loads(sidecar_path(str(tmp_path / "liqtotals.btc.csv"))
                                    .read_text())["label"]
    x = seconds(totals)
    assert len(x) > 24 * 30
    stacked_short = np.zeros(len(x))
    stacked_long = np.zeros(len(x))
    for venue in ("binance", "bybit", "okx", "deribit"):  # stacked in this order
        short, long = panel.bars[(venue, "short")].opts, panel.bars[(venue, "long")].opts
        np.testing.assert_allclose(short["x0"], x)
        np.testing.assert_allclose(np.asarray(short["y1"]) - np.asarray(short["y0"]),
                                   totals[f"{venue}_short_usd"], rtol=1e-9)
        np.testing.assert_allclose(np.asarray(long["y0"]) - np.asarray(long["y1"]),
                                   totals[f"{venue}_long_usd"], rtol=1e-9)
        stacked_short += totals[f"{venue}_short_usd"]
        stacked_long += totals[f"{venue}_long_usd"]
        assert (np.asarray(long["y1"]) <= 0).all() and (np.asarray(short["y1"]) >= 0).all()
    # the top of the stack is the total: shorts above the axis, longs below
    np.testing.assert_allclose(panel.bars[("deribit", "short")].opts["y1"],
                               totals["total_short_usd"], rtol=1e-9)
    np.testing.assert_allclose(-np.asarray(panel.bars[("deribit", "long")].opts["y1"]),
                               totals["total_long_usd"], rtol=1e-9)
    np.testing.assert_allclose(stacked_short, totals["total_short_usd"], rtol=1e-9)
    assert "Reported" in panel.key_label.text() and "per symbol" in panel.key_label.text()

    # the price chart marks the exported bursts, at the close of their hour
    bursts = export(demo_window, "liqbursts.btc", tmp_path)
    marks_x, _y = prices._burst_marks["btc"].getData()
    np.testing.assert_allclose(marks_x, seconds(bursts) + 3600)
    assert {"long", "short"} <= set(bursts["side"])

    # a higher threshold in the dock reaches the price chart's marks (one shared parameter)
    panel.burst_box.setCurrentIndex(panel.burst_box.findData(50))
    qtbot.waitUntil(lambda: prices._liquidations["btc"].burst_usd == 50e6
                    and panel.result is not None and panel.result.burst_usd == 50e6,
                    timeout=20000)
    fewer = list(prices._liquidations["btc"].bursts)
    assert 0 < len(fewer) < len(bursts) and all(b.usd >= 50e6 for b in fewer)
    assert len(prices._burst_marks["btc"].getData()[0]) == len(fewer)
    assert demo_window.settings.value("liq/burst_musd") in (50, "50")
    panel.burst_box.setCurrentIndex(panel.burst_box.findData(10))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.burst_usd == 10e6,
                    timeout=20000)

    # the headless export-view builds the same tables from the cache
    headless = dock_series(demo_window.scheduler.services.cache, "liquidations",
                           resolve_choices("liquidations", {})).series
    shown = panel.plotted_series()
    assert [s.name for s in headless] == [s.name for s in shown]
    for mine, theirs in zip(shown, headless, strict=True):
        for column in mine.columns:
            np.testing.assert_allclose(mine.columns[column], theirs.columns[column],
                                       rtol=1e-12, equal_nan=True)


def test_basis_dock_draws_the_exported_term_structure_front_apr_and_premium(
        demo_window, qtbot, tmp_path):
    panel = demo_window.panels["basis"]
    # every input in: the curve snapshot may arrive after the series
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.asset == "btc"
                    and len(panel.result.curve) == 4 and len(panel.result.front) == 3
                    and len(panel.result.premium) == 5, timeout=30000)
    term = export(demo_window, "termstructure.btc", tmp_path)
    assert set(term["venue"]) == {"binance", "okx", "deribit", "cme"}
    for venue, item in panel._term.items():
        rows = term[term["venue"] == venue]
        np.testing.assert_allclose(item.xData, rows["days"], rtol=1e-9)
        np.testing.assert_allclose(item.yData, rows["apr_pct"], rtol=1e-9)
    for venue in ("binance", "okx", "deribit"):
        front = export(demo_window, f"basis.{venue}.btc", tmp_path)
        drawn = panel._front[venue].pyramid()
        np.testing.assert_allclose(drawn.x, seconds(front))
        np.testing.assert_allclose(drawn.y, front["apr_pct"], rtol=1e-9)
    cme = export(demo_window, "cmebasis.btc", tmp_path)
    drawn = panel._front["cme"].pyramid()
    shown, exported = np.isfinite(drawn.y), np.isfinite(cme["apr_pct"].to_numpy())
    assert shown.sum() == exported.sum() > 1000
    np.testing.assert_allclose(drawn.x[shown], seconds(cme)[exported])
    np.testing.assert_allclose(drawn.y[shown], cme["apr_pct"][exported], rtol=1e-9)
    premium = export(demo_window, "premium.okx.btc", tmp_path)
    drawn = panel._premium["okx"].pyramid()
    np.testing.assert_allclose(drawn.x, seconds(premium))
    np.testing.assert_allclose(drawn.y, premium["premium_pct"], rtol=1e-9)
    # The readout at the shared time cursor: each venue's value in force at that instant.
    front = panel.result.front["deribit"]
    at = (front.time[100] + 60_000) / 1e3  # a minute after a poll: that poll's row
    panel.show_at(at)
    assert f"Deribit</span> {front['apr_pct'][100]:+.2f}%" in panel.summary.text()
    panel.show_at(None)
    assert "(48d)" in panel.summary.text()  # back to the latest values
