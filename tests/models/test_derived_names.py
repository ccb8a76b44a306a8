"""The analytics modules' declarations read the same series now that their ids are spelled by
models.ids and peer names come from models.assets (literal copies of the values before)."""

from __future__ import annotations

from models.assets import prose_name
from models.catalog import derived_specs

INPUTS_BEFORE = {
    'rv.btc.7': ('btc.1d',),
    'rv.btc.30': ('btc.1d',),
    'rv.btc.90': ('btc.1d',),
    'ivrv.btc.30': ('dvol.btc', 'btc.1d'),
    'gex.btc': ('options.btc',),
    'skew.btc': ('options.btc',),
    'skew30.btc': ('options.btc',),
    'rv.eth.7': ('eth.1d',),
    'rv.eth.30': ('eth.1d',),
    'rv.eth.90': ('eth.1d',),
    'ivrv.eth.30': ('dvol.eth', 'eth.1d'),
    'gex.eth': ('options.eth',),
    'skew.eth': ('options.eth',),
    'skew30.eth': ('options.eth',),
    'corr.btc_spx.20': ('btc.1h', 'btc.1d', 'spx.1d'),
    'corr.btc_spx.60': ('btc.1h', 'btc.1d', 'spx.1d'),
    'corr.btc_spx.120': ('btc.1h', 'btc.1d', 'spx.1d'),
    'corr.btc_ndx.20': ('btc.1h', 'btc.1d', 'ndx.1d'),
    'corr.btc_ndx.60': ('btc.1h', 'btc.1d', 'ndx.1d'),
    'corr.btc_ndx.120': ('btc.1h', 'btc.1d', 'ndx.1d'),
    'corr.btc_gold.20': ('btc.1h', 'btc.1d', 'gold.1d'),
    'corr.btc_gold.60': ('btc.1h', 'btc.1d', 'gold.1d'),
    'corr.btc_gold.120': ('btc.1h', 'btc.1d', 'gold.1d'),
    'corr.btc_silver.20': ('btc.1h', 'btc.1d', 'silver.1d'),
    'corr.btc_silver.60': ('btc.1h', 'btc.1d', 'silver.1d'),
    'corr.btc_silver.120': ('btc.1h', 'btc.1d', 'silver.1d'),
    'corr.btc_dxy.20': ('btc.1h', 'btc.1d', 'dxy.1d'),
    'corr.btc_dxy.60': ('btc.1h', 'btc.1d', 'dxy.1d'),
    'corr.btc_dxy.120': ('btc.1h', 'btc.1d', 'dxy.1d'),
    'beta.btc_spx.60': ('btc.1h', 'btc.1d', 'spx.1d'),
    'ratio.btc_gold': ('btc.1h', 'btc.1d', 'gold.1d'),
    'ratio.btc_spx': ('btc.1h', 'btc.1d', 'spx.1d'),
}
PEER_LABELS_BEFORE = {
    'corr.btc_spx.20': 'BTC vs S&P 500 rolling correlation, 20 sessions',
    'corr.btc_ndx.20': 'BTC vs Nasdaq 100 rolling correlation, 20 sessions',
    'corr.btc_gold.20': 'BTC vs gold rolling correlation, 20 sessions',
    'corr.btc_silver.20': 'BTC vs silver rolling correlation, 20 sessions',
    'corr.btc_dxy.20': 'BTC vs DXY rolling correlation, 20 sessions',
    'ratio.btc_gold': 'BTC / gold at the session close',
    'ratio.btc_spx': 'BTC / S&P 500 at the session close',
}


def test_declared_inputs_are_the_same_series_ids():
    specs = derived_specs()
    assert {i: specs[i].inputs for i in INPUTS_BEFORE} == INPUTS_BEFORE


def test_rotation_labels_name_the_peers_as_before():
    labels = {i: s.label for i, s in derived_specs().items()}
    assert {k: labels[k] for k in PEER_LABELS_BEFORE} == PEER_LABELS_BEFORE


def test_prose_names_lower_case_the_metals_only():
    assert [prose_name(s) for s in ("spx", "ndx", "gold", "silver", "dxy", "btc")] == [
        "S&P 500", "Nasdaq 100", "gold", "silver", "DXY", "BTC"]
    assert prose_name("doge") == "DOGE"
