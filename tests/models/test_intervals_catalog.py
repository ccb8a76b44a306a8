"""Every price series at every interval, and the registry's word on which a venue serves."""

from __future__ import annotations

import itertools

import pytest

from models.catalog import (
    CANDLES,
    CATALOG,
    INTERVAL_MS,
    PRICE_INTERVALS,
    PRICE_STEMS,
    resample_source,
)
from models.ids import price_id
from models.venues import VENUES


def test_seven_intervals_each_a_whole_number_of_the_finer_ones():
    assert PRICE_INTERVALS == ("1m", "5m", "15m", "1h", "4h", "1d", "1w")
    assert INTERVAL_MS["15m"] == 900_000 and INTERVAL_MS["1w"] == 7 * 86_400_000
    steps = [INTERVAL_MS[i] for i in PRICE_INTERVALS]
    assert all(b % a == 0 for a, b in itertools.pairwise(steps))


def test_every_price_stem_has_every_interval_built_only_where_its_venue_lacks_it():
    venues = {v.key: v for v in VENUES}
    for stem in PRICE_STEMS:
        for interval in PRICE_INTERVALS:
            spec = CATALOG[price_id(stem, interval)]
            assert spec.kind == CANDLES and spec.interval == interval
            native = venues[spec.source].candle_intervals
            finer = spec.extra.get("resample_from")
            assert (finer is None) == (interval in native), spec.id
            if finer:
                assert finer in native and INTERVAL_MS[interval] % INTERVAL_MS[finer] == 0
                # as deep as the finer bars go
                assert spec.max_history_days == venues[spec.source].candle_max_days.get(finer)
    assert CATALOG["spx.4h"].extra == {"resample_from": "1h"}
    assert CATALOG["btc.4h"].extra == {}  # Binance serves 4h bars


def test_resample_source_is_the_finest_native_divisor():
    assert resample_source(("1m", "5m", "1h", "1d"), "4h") == "1h"
    assert resample_source(("1m", "5m", "1h"), "1h") is None
    assert resample_source(("5m", "1d"), "1w") == "1d"
    with pytest.raises(ValueError):
        resample_source(("1d",), "4h")


@pytest.mark.parametrize(("venue", "table"), [
    ("binance", "services.binance:KLINE_INTERVALS"), ("yahoo", "services.yahoo:INTERVALS"),
    ("coinbase", "services.coinbase:GRANULARITY_S"), ("kraken", "services.kraken:INTERVAL_MIN")])
def test_each_client_maps_the_intervals_its_registry_row_claims(venue, table):
    import importlib

    module, _, name = table.partition(":")
    mapping = getattr(importlib.import_module(module), name)
    row = next(v for v in VENUES if v.key == venue)
    assert set(row.candle_intervals) == set(mapping)
