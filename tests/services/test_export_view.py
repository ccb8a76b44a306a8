"""`main.py export-view` without a window: a workspace's dock choices, the demo cache, one CSV
per plotted series with its provenance; the numbers checked against `main.py export` of the same
ids (another route through the cache), and every refusal one line with exit status 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.dock_choices import DOCK_DEFAULTS, RANGES_DAYS, resolve_choices
from models.export_view import PlottedSeries, safe_file_name
from services.commands import CommandError, cmd_export, sidecar_path
from services.export_view import cmd_export_view, export_view, write_plotted

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from services.app import open_demo

    services = open_demo({"ROTOR_DATA_DIR": str(tmp_path_factory.mktemp("demo-data"))})
    yield services
    services.close()


def workspace(tmp_path: Path, docks: dict) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "workspace.json"
    path.write_text(json.dumps({"format": "rotor-workspace", "version": 1, "name": "Test",
                                "docks": docks}))
    return str(path)


def cli_export(services, series_id: str, tmp_path: Path, start=None, end=None) -> pd.DataFrame:
    out = tmp_path / f"cli-{series_id}.csv"
    assert cmd_export(services, series_id, str(out), start, end, io.StringIO()) == 0
    return pd.read_csv(out)


def test_prices_and_funding_equal_the_series_export_over_the_same_window(demo, tmp_path):
    ws = workspace(tmp_path, {"prices": {"interval": "1h", "range": "1W",
                                         "assets": ["btc", "gold"], "style": "candles"},
                              "funding": {"asset": "eth", "window": "7D"}})
    out = tmp_path / "prices"
    out.mkdir()
    printed = io.StringIO()
    assert cmd_export_view(demo, ws, "prices", str(out), "2026-01-20", "2026-01-25T12:00",
                           printed) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "btc.1h.csv", "btc.1h.provenance.json", "gold.1h.csv", "gold.1h.provenance.json"]
    assert printed.getvalue().count("prices: ") == 2
    for stem in ("btc", "gold"):
        ours = pd.read_csv(out / f"{stem}.1h.csv")
        theirs = cli_export(demo, f"{stem}.1h", tmp_path, "2026-01-20", "2026-01-25T12:00")
        assert list(ours.columns) == ["time", "open", "high", "low", "close"]  # candles
        pd.testing.assert_frame_equal(ours, theirs[list(ours.columns)].dropna(subset=["close"])
                                      .reset_index(drop=True))
        provenance = json.loads(sidecar_path(str(out / f"{stem}.1h.csv")).read_text())
        assert provenance["id"] == f"{stem}.1h" and provenance["inputs"]
        assert provenance["window"] == {"start": "2026-01-20T00:00:00Z",
                                        "end": "2026-01-25T12:00:00Z"}

    # Without --start/--end: the dock's range (1W) ending at the data's end.
    out = tmp_path / "default"
    out.mkdir()
    export_view(demo, "prices", {"range": "1W", "assets": ["btc"]}, out, None, None)
    frame = pd.read_csv(out / "btc.1h.csv")
    times = pd.to_datetime(frame["time"])
    last = demo.cache.bounds("btc.1h")[1]
    assert times.iloc[-1] == pd.Timestamp(last, unit="ms", tz="UTC")
    assert times.iloc[0] == pd.Timestamp(last - RANGES_DAYS["1W"] * 86_400_000, unit="ms",
                                         tz="UTC")

    out = tmp_path / "funding"
    out.mkdir()
    paths = export_view(demo, "funding", json.loads(Path(ws).read_text())["docks"]["funding"],
                        out, None, None)
    assert {p.stem for p in paths} >= {"fundingavg.eth", "fundinggrid.eth", "funding.okx.eth"}
    average = pd.read_csv(out / "fundingavg.eth.csv")
    span = pd.to_datetime(average["time"]).iloc[[0, -1]]
    theirs = cli_export(demo, "fundingavg.eth", tmp_path, span.iloc[0].isoformat(),
                        span.iloc[1].isoformat())
    np.testing.assert_allclose(average["apr_pct"], theirs["apr_pct"], rtol=1e-12)
    assert (span.iloc[1] - span.iloc[0]) <= pd.Timedelta(days=7)
    provenance = json.loads(sidecar_path(str(out / "fundingavg.eth.csv")).read_text())
    assert "Σ" in provenance["formula"] and provenance["as_of"]


def test_compare_view_rebases_to_100_at_the_window_start(demo, tmp_path):
    out = tmp_path / "compare"
    out.mkdir()
    export_view(demo, "prices", {"mode": "compare", "assets": ["spx"], "interval": "1d"},
                out, 1_767_225_600_000, None)  # from 2026-01-01
    frame = pd.read_csv(out / "spx.1d.csv")
    closes = cli_export(demo, "spx.1d", tmp_path)
    before = closes[pd.to_datetime(closes["time"]) < pd.Timestamp("2026-01-01", tz="UTC")]
    base = before["close"].iloc[-1]  # the last close at or before the left edge
    np.testing.assert_allclose(frame["rebased"], frame["close"] * 100 / base, rtol=1e-9)


def test_an_open_start_keeps_what_the_dock_shows_up_to_the_end_asked(demo, tmp_path):
    out = tmp_path / "oi"
    out.mkdir()
    end = "2026-02-01T00:00:00"
    export_view(demo, "open_interest", {"asset": "btc"}, out, None,
                int(pd.Timestamp(end, tz="UTC").timestamp() * 1000))
    ours = pd.read_csv(out / "oi.binance.btc.csv")
    theirs = cli_export(demo, "oi.binance.btc", tmp_path, None, end)
    np.testing.assert_allclose(ours["open_interest"], theirs["open_interest"], rtol=1e-12)
    assert ours["time"].iloc[-1] == "2026-02-01T00:00:00Z"
    window = json.loads(sidecar_path(str(out / "oi.binance.btc.csv")).read_text())["window"]
    assert window == {"start": None, "end": "2026-02-01T00:00:00Z"}


def test_refusals_are_one_line_with_exit_status_2(demo, tmp_path):
    ws = workspace(tmp_path, {})
    bad_value = workspace(tmp_path / "value", {"prices": {"interval": "2h"}})
    not_object = workspace(tmp_path / "object", {"funding": "1h"})
    out = tmp_path / "out"
    out.mkdir()

    def refused(workspace_path, dock, folder=str(out), start=None, end=None) -> str:
        with pytest.raises(CommandError) as caught:
            cmd_export_view(demo, workspace_path, dock, folder, start, end, io.StringIO())
        assert caught.value.exit_status == 2 and "\n" not in str(caught.value)
        return str(caught.value)

    assert "unknown dock 'pricez'" in refused(ws, "pricez")
    assert "missing.json: no such file" in refused(str(tmp_path / "missing.json"), "prices")
    assert "no workspace named 'Nope'" in refused("Nope", "prices")
    broken = tmp_path / "broken.json"
    broken.write_text("{\"docks\": ")
    assert "malformed JSON at line 1, column 11" in refused(str(broken), "prices")
    assert ('docks.prices.interval: "2h" is not a valid value (one of "1m", "5m", "15m", '
            '"1h", "4h", "1d", "1w")') in refused(bad_value, "prices")
    assert "docks.funding: expected an object" in refused(not_object, "funding")
    assert "no such folder" in refused(ws, "movers", folder=str(tmp_path / "nowhere"))
    assert "nothing to export between 2001-01-01" in refused(ws, "volatility",
                                                             start="2001-01-01",
                                                             end="2001-02-01")
    assert "plots no data series" in refused(ws, "sources")
    assert "after --end" in refused(ws, "movers", start="2026-02-01", end="2026-01-01")
    assert not list(out.iterdir())  # nothing written by a refused export


def test_main_py_export_view_runs_headless_and_says_what_it_wrote(tmp_path):
    ws = workspace(tmp_path, {"rotation": {"window": 20}})
    out = tmp_path / "rotation"
    out.mkdir()
    env_run = dict(cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                   env={**__import__("os").environ, "ROTOR_DATA_DIR": str(tmp_path / "data")})
    done = subprocess.run([sys.executable, "main.py", "--demo", "export-view", ws, "rotation",
                           "--out", str(out)], **env_run)
    assert done.returncode == 0, done.stderr
    assert (out / "corr.btc_spx.20.csv").exists() and (out / "corrmatrix.csv").exists()
    assert f"rotation: {out / 'beta.btc_spx.20.csv'}" in done.stdout
    matrix = pd.read_csv(out / "corrmatrix.csv").set_index("asset")
    np.testing.assert_allclose(np.diag(matrix.to_numpy(float)), 1.0)
    failed = subprocess.run([sys.executable, "main.py", "--demo", "export-view", ws, "nope",
                             "--out", str(out)], **env_run)
    assert failed.returncode == 2
    assert failed.stderr.startswith("rotor: error: unknown dock 'nope'")
    assert len(failed.stderr.strip().splitlines()) == 1


def test_choices_resolve_over_one_table_of_defaults():
    assert resolve_choices("prices", {}) == DOCK_DEFAULTS["prices"]
    assert resolve_choices("prices", {"range": "3M"})["range_key"] == "3M"
    assert resolve_choices("rotation", {"k": 3})["k"] == 3.0
    assert resolve_choices("prices", {"assets": ["btc", "mine"]}, ("mine",))["assets"] == [
        "btc", "mine"]
    for dock, choices, words in (("prices", {"log": "yes"}, "is not a bool"),
                                 ("prices", {"assets": ["btc", "doge"]}, "'doge'.* is not a valid"),
                                 ("volatility", {"window": 31}, r"31 is not a valid value \(one"),
                                 ("rotation", {"k": 9.0}, "rotation.k: 9.0 is not a valid")):
        with pytest.raises(ValueError, match=words):
            resolve_choices(dock, choices)


def test_file_names_are_safe_and_two_series_of_one_name_do_not_overwrite(tmp_path):
    assert safe_file_name("btc.1h") == "btc.1h"
    assert safe_file_name("../a b/c") == "a_b_c"
    assert safe_file_name("...") == "series"
    x = np.array([1.0, 2.0, 3.0])
    series = [PlottedSeries("a/b", "a", x, {"v": x}, {"id": "a"}, np.array([1000, 2000, 3000])),
              PlottedSeries("a/b", "a", x, {"v": x * 2}, {"id": "a"},
                            np.array([1000, 2000, 3000]))]
    paths = write_plotted(series, tmp_path, (1.5, 3.0))
    assert [p.name for p in paths] == ["a_b.csv", "a_b-2.csv"]
    assert (tmp_path / "a_b-2.csv").read_text().splitlines() == [
        "time,v", "1970-01-01T00:00:02Z,4", "1970-01-01T00:00:03Z,6"]


def test_a_workspaces_own_symbols_are_exported_headless(tmp_path):
    """A symbol the workspace's "symbols" section adds (models/symbols.py) is charted, so it is
    exported: its bars come from the cache under its own id, read back equal."""
    from models.series import SeriesData
    from models.symbols import SymbolList, register_user_symbols
    from services.app import open_demo

    services = open_demo({"ROTOR_DATA_DIR": str(tmp_path / "data")})
    try:
        symbols = SymbolList()
        symbols.add(symbols.make("yahoo", "ACME", "Acme Corp", "XNYS"))
        days = services.cache.read("btc.1d").time[-60:]
        closes = np.linspace(40.0, 52.0, len(days))
        services.cache.upsert("acme.1d", SeriesData.from_rows(
            days, open=closes, high=closes + 1, low=closes - 1, close=closes,
            volume=np.full(len(days), 1000.0)))
        path = tmp_path / "acme.json"
        path.write_text(json.dumps({
            "format": "rotor-workspace", "version": 1, "name": "Acme",
            "docks": {"prices": {"interval": "1d", "range_key": "1M", "assets": ["btc"]}},
            "sections": {"symbols": symbols.to_json()}}))
        out = tmp_path / "out"
        out.mkdir()
        said = io.StringIO()
        assert cmd_export_view(services, str(path), "prices", str(out), None, None, said) == 0
        written = sorted(p.name for p in out.glob("*.csv"))
        assert len(written) == 2 and any("acme" in name for name in written), written
        acme = pd.read_csv(out / next(n for n in written if "acme" in n))
        shown = seconds(acme) * 1000
        expected = closes[np.isin(days, shown.astype(np.int64))]
        assert len(acme) >= 28  # a month of daily bars
        np.testing.assert_allclose(acme["close"], expected)

        # Unchecked on the chart (the dock's hidden_symbols): not exported.
        data = json.loads(path.read_text())
        data["docks"]["prices"]["hidden_symbols"] = ["acme"]
        path.write_text(json.dumps(data))
        hidden = tmp_path / "hidden"
        hidden.mkdir()
        assert cmd_export_view(services, str(path), "prices", str(hidden), None, None, said) == 0
        assert [p.name for p in hidden.glob("*.csv")] == [n for n in written if "acme" not in n]
    finally:
        services.close()
        register_user_symbols(())


def seconds(frame: pd.DataFrame) -> np.ndarray:
    times = pd.to_datetime(frame["time"], utc=True)
    return times.dt.as_unit("s").astype("int64").to_numpy().astype(float)
