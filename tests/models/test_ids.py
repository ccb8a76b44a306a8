"""Series ids: every catalog id reads back to the parts it was built from."""

import pytest

from models.assets import ASSETS, AssetClass, asset_color, short_name, ticker
from models.catalog import CATALOG
from models.ids import (
    IdKind,
    SeriesId,
    dvol_id,
    funding_id,
    funding_now_id,
    oi_id,
    options_id,
    parse_series_id,
    price_id,
    volmex_id,
)


def test_builders_spell_the_stable_ids():
    assert price_id("btc", "1h") == "btc.1h"
    assert funding_id("okx", "eth") == "funding.okx.eth"
    assert funding_now_id("bybit", "btc") == "fundingnow.bybit.btc"
    assert oi_id("binance", "btc") == "oi.binance.btc"
    assert dvol_id("eth") == "dvol.eth"
    assert options_id("btc") == "options.btc"
    assert volmex_id("eth") == "eviv.eth"


@pytest.mark.parametrize("text", sorted(CATALOG))
def test_every_catalog_id_round_trips(text):
    parsed = parse_series_id(text)
    assert str(parsed) == text
    assert parsed.asset == CATALOG[text].asset.lower() or parsed.kind is IdKind.PRICE


def test_parse_gives_the_parts():
    assert parse_series_id("funding.hyperliquid.btc") == SeriesId(
        IdKind.FUNDING, "btc", venue="hyperliquid")
    assert parse_series_id("gold.1d") == SeriesId(IdKind.PRICE, "gold", interval="1d")
    assert parse_series_id("bviv.btc") == SeriesId(IdKind.VOLMEX, "btc")


@pytest.mark.parametrize("bad", ["", "btc", "funding.okx", "a.b.c", "funding..btc", "x.y.z.w",
                                 "oi.binance"])
def test_parse_rejects_what_is_not_an_id(bad):
    with pytest.raises(ValueError, match="not a series id"):
        parse_series_id(bad)


def test_asset_table_names_colours_and_falls_back():
    assert list(ASSETS)[:2] == ["btc", "eth"]
    assert ASSETS["btc"].asset_class is AssetClass.CRYPTO
    assert not ASSETS["spx"].asset_class.trades_24_7
    assert ticker("gold") == "XAU" and short_name("dxy") == "DXY"
    assert asset_color("nope").startswith("#") and asset_color("btc") == "#f7931a"
    assert short_name("doge") == "DOGE"
