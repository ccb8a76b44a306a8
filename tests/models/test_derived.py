"""Every derived quantity has an id, inputs that exist, a formula and a convention; its
provenance names them, and an export writes them beside the CSV."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from models.analyses import ANALYSES
from models.catalog import CATALOG, derived_specs, validate_series_id
from models.derived import DERIVED

DOCK_QUANTITIES = ["fundingavg.btc", "fundinggrid.btc", "fundingneg.btc", "movers",
                   "decoupling.btc_spx", "gammalevels.btc", "gexprofile.btc", "gex.btc",
                   "term.btc", "skew.btc", "skew30.btc", "rv.btc.30", "ivrv.btc.30",
                   "corr.btc_spx.60", "beta.btc_spx.60", "ratio.btc_gold", "ratio.btc_spx",
                   "smile.btc", "oichange.btc"]


def test_the_issue_list_of_dock_quantities_is_registered():
    assert set(DOCK_QUANTITIES) <= set(derived_specs())
    assert derived_specs() is DERIVED


@pytest.mark.parametrize("spec", list(DERIVED.values()), ids=lambda s: s.id)
def test_every_derived_id_has_provenance(spec):
    assert validate_series_id(spec.id) == spec.id and spec.id not in CATALOG
    assert spec.analysis in ANALYSES
    assert spec.inputs and all(i in CATALOG for i in spec.inputs), spec.inputs
    assert set(spec.inputs) <= set(ANALYSES[spec.analysis].inputs(**spec.params))
    prov = spec.provenance()
    assert prov.formula and prov.convention and prov.label and prov.unit
    text = prov.tooltip()
    assert spec.formula in text and spec.convention in text
    assert all(i in text for i in spec.inputs)
    as_json = json.loads(json.dumps(prov.as_dict()))
    assert as_json["inputs"] == list(spec.inputs)


def test_each_export_writes_its_provenance_beside_the_csv(tmp_path, monkeypatch):
    from services.app import open_demo
    from services.commands import cmd_export, sidecar_path

    monkeypatch.setenv("ROTOR_DATA_DIR", str(tmp_path))
    services = open_demo()
    try:
        for series_id in ("fundingavg.btc", "gexprofile.btc", "btc.1d"):
            out = tmp_path / f"{series_id}.csv"
            assert cmd_export(services, series_id, str(out), None, None, io.StringIO()) == 0
            sidecar = json.loads(sidecar_path(str(out)).read_text())
            assert sidecar["id"] == series_id and sidecar["file"] == out.name
            assert sidecar["as_of"].endswith("Z")
        funding = json.loads(sidecar_path(str(tmp_path / "fundingavg.btc.csv")).read_text())
        assert funding["details"]["Weighting"].startswith("OI-weighted")
        assert set(funding["details"]["Venues and intervals"]) == {
            "Binance", "Bybit", "OKX", "Deribit", "Hyperliquid"}
    finally:
        services.close()


def test_funding_average_export_matches_a_hand_weighted_average(tmp_path):
    """Two venues over the same four hours, weights 3:1 by OI: the export's numbers are the
    hand-computed weighted means (an independent route from the grid code)."""
    from models.ids import funding_id, oi_id
    from models.series import MS_PER_HOUR, SeriesData
    from services.cache import Cache

    t0 = 1_770_000_000_000 - 1_770_000_000_000 % MS_PER_HOUR
    cache = Cache(tmp_path / "c.sqlite")
    hours = t0 + np.arange(1, 5) * MS_PER_HOUR  # settlements paying for [t0, t0 + 4h)
    for venue, rate in (("binance", 0.00001), ("bybit", -0.00003)):
        r = np.full(4, rate)
        cache.upsert(funding_id(venue, "btc"), SeriesData(hours, {
            "rate": r, "interval_hours": np.ones(4), "apr_pct": r * 24 * 365 * 100}))
        usd = np.full(2, 3e9 if venue == "binance" else 1e9)
        cache.upsert(oi_id(venue, "btc"), SeriesData(np.array([t0 - MS_PER_HOUR, t0]), {
            "open_interest": usd / 1e5, "open_interest_usd": usd}))
    frame = DERIVED["fundingavg.btc"].compute(cache)
    expected = (3 * 0.00001 + 1 * -0.00003) / 4 * 24 * 365 * 100
    assert list(frame.index.as_unit("ms").asi8) == list(t0 + np.arange(4) * MS_PER_HOUR)
    assert frame["apr_pct"].to_numpy() == pytest.approx(np.full(4, expected))
    cache.close()
