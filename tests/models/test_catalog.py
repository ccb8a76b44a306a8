"""The catalog: ids are stable and safe, every series knows its columns and venues."""

from __future__ import annotations

import pytest

from models.catalog import (
    CATALOG,
    KIND_COLUMNS,
    get_spec,
    validate_series_id,
    validate_symbol,
    venue_label,
)
from services.sources import CLIENTS


def test_every_series_has_a_client_for_each_venue_and_valid_names():
    for spec in CATALOG.values():
        assert validate_series_id(spec.id) == spec.id
        assert spec.kind in KIND_COLUMNS
        for venue, symbol in spec.venues:
            assert venue in CLIENTS, f"{spec.id}: no client for {venue}"
            assert validate_symbol(symbol) == symbol


def test_price_series_cover_the_cross_asset_set_in_both_intervals():
    for stem, symbol in [("btc", "BTCUSDT"), ("spx", "^GSPC"), ("ndx", "^NDX"), ("gold", "GC=F"),
                         ("silver", "SI=F"), ("dxy", "DX-Y.NYB"), ("vix", "^VIX")]:
        for interval in ("1h", "1d"):
            assert get_spec(f"{stem}.{interval}").symbol == symbol
    assert get_spec("btc.1h").fallbacks == (("coinbase", "BTC-USD"), ("kraken", "XBTUSD"))
    assert get_spec("spx.1h").max_history_days == 729  # Yahoo keeps 730 days of 1h bars


@pytest.mark.parametrize("bad", ["BTC/../../x", "BTC USDT", "a?b=c", "", "x" * 41, "BTC\r\nX: 1"])
def test_symbols_that_could_leak_into_a_url_are_refused(bad):
    with pytest.raises(ValueError):
        validate_symbol(bad)


@pytest.mark.parametrize("bad", ["BTC.1h", "../cache", "a b", "x;drop", ""])
def test_series_ids_are_lowercase_tokens(bad):
    with pytest.raises(ValueError):
        validate_series_id(bad)


def test_unknown_series_names_the_list_command():
    with pytest.raises(KeyError, match=r"main\.py list"):
        get_spec("nope.1h")
    assert venue_label("binance_futures") == "Binance"
