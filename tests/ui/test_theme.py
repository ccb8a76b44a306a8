"""Theme colours: every registered venue and asset has one, an unknown one gets a default."""

from __future__ import annotations

from models.assets import ASSETS
from models.catalog import FUNDING_VENUES, OI_VENUES
from models.venues import DEFAULT_VENUE_COLOR
from ui import theme


def test_unknown_venue_and_asset_get_the_default_colour_not_a_key_error():
    assert theme.venue_color("a-venue-nobody-registered") == DEFAULT_VENUE_COLOR
    assert theme.asset_color("doge") == "#b0bec5"
    assert theme.venue_color("bybit") == "#e86bd0"
    assert theme.asset_color("btc") == "#f7931a"


def test_derived_colour_dicts_cover_every_venue_a_dock_draws():
    assert set(FUNDING_VENUES) | set(OI_VENUES) <= set(theme.VENUE_COLORS)
    assert set(theme.ASSET_COLORS) == set(ASSETS)
    assert theme.VENUE_COLORS["deribit"] == "#29b6f6"
