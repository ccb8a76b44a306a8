"""The venue registry: every venue-specific table derives from one row per venue."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from models.catalog import (
    BASIS,
    BASIS_CURVE,
    CANDLES,
    CATALOG,
    CME_BTC_ID,
    FUNDING_VENUES,
    LIQUIDATIONS,
    OI_VENUES,
    PREMIUM,
    venue_label,
)
from models.venues import DEFAULT_VENUE_COLOR, VENUES, venue_color
from services.config import DEFAULT_URLS, ENV_VARS, Endpoints
from services.sources import CLIENTS, Sources

ROOT = Path(__file__).resolve().parents[2]

# The catalog as it was before the registry (id, source, symbol, label), written out by hand
# from `main.py list`: deriving it from the registry must not rename or re-route anything.
CATALOG_BEFORE_REGISTRY = (
    ('btc.1h', 'binance', 'BTCUSDT', 'BTC/USD'),
    ('eth.1h', 'binance', 'ETHUSDT', 'ETH/USD'),
    ('spx.1h', 'yahoo', '^GSPC', 'S&P 500'),
    ('ndx.1h', 'yahoo', '^NDX', 'Nasdaq 100'),
    ('gold.1h', 'yahoo', 'GC=F', 'Gold'),
    ('silver.1h', 'yahoo', 'SI=F', 'Silver'),
    ('dxy.1h', 'yahoo', 'DX-Y.NYB', 'US Dollar Index'),
    ('vix.1h', 'yahoo', '^VIX', 'VIX'),
    ('btc.1d', 'binance', 'BTCUSDT', 'BTC/USD'),
    ('eth.1d', 'binance', 'ETHUSDT', 'ETH/USD'),
    ('spx.1d', 'yahoo', '^GSPC', 'S&P 500'),
    ('ndx.1d', 'yahoo', '^NDX', 'Nasdaq 100'),
    ('gold.1d', 'yahoo', 'GC=F', 'Gold'),
    ('silver.1d', 'yahoo', 'SI=F', 'Silver'),
    ('dxy.1d', 'yahoo', 'DX-Y.NYB', 'US Dollar Index'),
    ('vix.1d', 'yahoo', '^VIX', 'VIX'),
    ('funding.binance.btc', 'binance_futures', 'BTCUSDT', 'BTC funding · Binance'),
    ('fundingnow.binance.btc', 'binance_futures', 'BTCUSDT', 'BTC funding now · Binance'),
    ('funding.binance.eth', 'binance_futures', 'ETHUSDT', 'ETH funding · Binance'),
    ('fundingnow.binance.eth', 'binance_futures', 'ETHUSDT', 'ETH funding now · Binance'),
    ('funding.bybit.btc', 'bybit', 'BTCUSDT', 'BTC funding · Bybit'),
    ('fundingnow.bybit.btc', 'bybit', 'BTCUSDT', 'BTC funding now · Bybit'),
    ('funding.bybit.eth', 'bybit', 'ETHUSDT', 'ETH funding · Bybit'),
    ('fundingnow.bybit.eth', 'bybit', 'ETHUSDT', 'ETH funding now · Bybit'),
    ('funding.okx.btc', 'okx', 'BTC-USDT-SWAP', 'BTC funding · OKX'),
    ('fundingnow.okx.btc', 'okx', 'BTC-USDT-SWAP', 'BTC funding now · OKX'),
    ('funding.okx.eth', 'okx', 'ETH-USDT-SWAP', 'ETH funding · OKX'),
    ('fundingnow.okx.eth', 'okx', 'ETH-USDT-SWAP', 'ETH funding now · OKX'),
    ('funding.deribit.btc', 'deribit', 'BTC-PERPETUAL', 'BTC funding · Deribit'),
    ('fundingnow.deribit.btc', 'deribit', 'BTC-PERPETUAL', 'BTC funding now · Deribit'),
    ('funding.deribit.eth', 'deribit', 'ETH-PERPETUAL', 'ETH funding · Deribit'),
    ('fundingnow.deribit.eth', 'deribit', 'ETH-PERPETUAL', 'ETH funding now · Deribit'),
    ('funding.hyperliquid.btc', 'hyperliquid', 'BTC', 'BTC funding · Hyperliquid'),
    ('fundingnow.hyperliquid.btc', 'hyperliquid', 'BTC', 'BTC funding now · Hyperliquid'),
    ('funding.hyperliquid.eth', 'hyperliquid', 'ETH', 'ETH funding · Hyperliquid'),
    ('fundingnow.hyperliquid.eth', 'hyperliquid', 'ETH', 'ETH funding now · Hyperliquid'),
    ('oi.binance.btc', 'binance_futures', 'BTCUSDT', 'BTC open interest · Binance'),
    ('oi.binance.eth', 'binance_futures', 'ETHUSDT', 'ETH open interest · Binance'),
    ('oi.bybit.btc', 'bybit', 'BTCUSDT', 'BTC open interest · Bybit'),
    ('oi.bybit.eth', 'bybit', 'ETHUSDT', 'ETH open interest · Bybit'),
    ('dvol.btc', 'deribit', 'BTC', 'BTC DVOL (Deribit)'),
    ('bviv.btc', 'volmex', 'BVIV', 'BTC implied vol (Volmex BVIV, undocumented API)'),
    ('options.btc', 'deribit', 'BTC', 'BTC option chain (Deribit)'),
    ('dvol.eth', 'deribit', 'ETH', 'ETH DVOL (Deribit)'),
    ('eviv.eth', 'volmex', 'EVIV', 'ETH implied vol (Volmex EVIV, undocumented API)'),
    ('options.eth', 'deribit', 'ETH', 'ETH option chain (Deribit)'),
)


# The venues of that catalog; a venue added since brings series of its own.
VENUES_BEFORE_REGISTRY = ("binance", "binance_futures", "bybit", "okx", "deribit", "hyperliquid",
                          "coinbase", "kraken", "yahoo", "volmex")


# Series added since (issue 15: premium, futures basis, CME) are not part of that table.
_ADDED_SINCE = frozenset({PREMIUM, BASIS, BASIS_CURVE, LIQUIDATIONS})


# Price intervals added since (issue 16: 1m … 1w besides the hourly and daily bars).
_INTERVALS_BEFORE = ("1h", "1d")


def _of_venues_before(ids):
    return [i for i in ids if all(v in VENUES_BEFORE_REGISTRY for v, _ in CATALOG[i].venues)
            and CATALOG[i].kind not in _ADDED_SINCE and i != CME_BTC_ID
            and not (CATALOG[i].kind == CANDLES and CATALOG[i].interval not in _INTERVALS_BEFORE)]


def test_catalog_is_unchanged_by_the_registry():
    kept = _of_venues_before(CATALOG)
    assert set(kept) == {row[0] for row in CATALOG_BEFORE_REGISTRY}
    now = tuple((s.id, s.source, s.symbol, s.label) for s in map(CATALOG.get, kept))
    assert now == CATALOG_BEFORE_REGISTRY  # same order too: `main.py list` prints it


def test_derived_tables_keep_their_names_and_values():
    before = [v for v in FUNDING_VENUES if v in VENUES_BEFORE_REGISTRY]
    assert before == ["binance", "bybit", "okx", "deribit", "hyperliquid"]
    assert [v for v in OI_VENUES if v in VENUES_BEFORE_REGISTRY] == ["binance", "bybit"]
    assert DEFAULT_URLS["binance"] == "https://data-api.binance.vision"
    assert DEFAULT_URLS["binance_futures"] == "https://fapi.binance.com"
    assert ENV_VARS["binance"] == "ROTOR_BINANCE_SPOT_URL"
    assert ENV_VARS["volmex"] == "ROTOR_VOLMEX_URL"
    assert CLIENTS["okx"] == ("services.okx", "OkxClient", "okx")
    assert venue_label("binance_futures") == "Binance" and venue_label("yahoo") == "Yahoo Finance"
    assert venue_label("nope") == "nope"
    # funding and OI of Binance come from its futures host
    assert CATALOG["funding.binance.btc"].source == "binance_futures"
    assert CATALOG["funding.okx.btc"].max_history_days == 90
    assert CATALOG["oi.binance.eth"].max_history_days == 29
    assert CATALOG["oi.bybit.eth"].max_history_days is None
    assert CATALOG["eth.1d"].fallbacks == (("coinbase", "ETH-USD"), ("kraken", "ETHUSD"))
    assert CATALOG["spx.1d"].fallbacks == () and CATALOG["spx.1d"].max_history_days is None
    polls = {i: CATALOG[i].poll_seconds for i in ("btc.1h", "gold.1h", "bviv.btc", "dvol.eth",
                                                    "options.btc", "fundingnow.okx.eth")}
    assert polls == {"btc.1h": 60, "gold.1h": 300, "bviv.btc": 600, "dvol.eth": 300,
                     "options.btc": 900, "fundingnow.okx.eth": 60}
    units = {i: CATALOG[i].unit for i in ("eth.1h", "silver.1d", "dxy.1h", "vix.1d",
                                          "funding.deribit.eth", "oi.bybit.eth", "eviv.eth")}
    assert units == {"eth.1h": "USD", "silver.1d": "USD/oz", "dxy.1h": "index",
                     "vix.1d": "vol pts", "funding.deribit.eth": "APR %", "oi.bybit.eth": "ETH",
                     "eviv.eth": "vol pts"}
    assert CATALOG["funding.deribit.btc"].interval == "1h"
    assert CATALOG["funding.bybit.btc"].interval == "8h"
    assert CATALOG["dxy.1d"].asset == "US Dollar Index" and CATALOG["eth.1h"].asset == "ETH"


def test_rows_are_unique_and_their_clients_answer_to_their_key():
    keys = [v.key for v in VENUES]
    assert len(set(keys)) == len(keys)
    env = [v.env_var for v in VENUES]
    assert len(set(env)) == len(env) and all(re.fullmatch(r"ROTOR_[A-Z_]+_URL", e) for e in env)
    sources = Sources(Endpoints({k: "https://example.invalid" for k in keys}))
    try:
        for v in VENUES:
            assert sources.get(v.key).venue == v.key
            assert re.fullmatch(r"#[0-9a-f]{6}", v.color)
            assert v.perp_source in keys
    finally:
        sources.close()


def test_unknown_venue_gets_the_default_colour():
    assert venue_color("okx") == "#e0e0e0"
    assert venue_color("a-venue-nobody-registered") == DEFAULT_VENUE_COLOR


def test_readme_configuration_table_lists_every_venue_override():
    """Each registry row's variable is in the README's table, beside its default URL."""
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(ROTOR_[A-Z_]+)` \| `?([^`|]+)`?", readme, re.M))
    for v in VENUES:
        assert rows.get(v.env_var, "").strip() == v.base_url, v.env_var
    documented = {k for k in rows if k.endswith("_URL")}
    assert documented == {v.env_var for v in VENUES}


_TEST_VENUE_CLIENT = """
from services.http import HttpClient
from services.parsing import funding_frame


class TestVenueClient(HttpClient):
    venue = "testvenue"

    def __init__(self, endpoints, **kwargs):
        super().__init__(endpoints["testvenue"], **kwargs)

    def iter_pages(self, spec, symbol, start_ms, end_ms):
        rows = self.get_json("/funding", {"symbol": symbol})
        yield funding_frame([r["t"] for r in rows], [r["rate"] for r in rows], 4.0)
"""

_WITH_TEST_VENUE_ROW = """
import json, sys
import models.venues as registry

row = registry.Venue("testvenue", "Test Venue", "#123456", "https://api.testvenue.example",
                     "ROTOR_TESTVENUE_URL", "test_venue_client:TestVenueClient",
                     perps={"btc": "BTC-PERP-X"}, funding_interval="4h", open_interest=True)
registry.VENUES = (*registry.VENUES, row)

from models.catalog import CATALOG, FUNDING_VENUES, OI_VENUES
from services.cache import Cache
from services.config import Endpoints
from services.refresh import refresh_series
from services.sources import Sources
from ui import theme

sources = Sources(Endpoints.from_env())
spec = CATALOG["funding.testvenue.btc"]
cache = Cache(sys.argv[1])
result = refresh_series(spec, cache, sources, want_start_ms=0, now=1_800_000_000_000)
print(json.dumps({
    "ids": sorted(CATALOG),
    "funding": [spec.source, spec.symbol, spec.interval, spec.label],
    "funding_venues": FUNDING_VENUES, "oi_venues": OI_VENUES,
    "url": sources.get("testvenue").base_url,
    "default_url": Endpoints.from_env({})["testvenue"],
    "client": type(sources.get("testvenue")).__name__,
    "colour": theme.venue_color("testvenue"), "colours": theme.VENUE_COLORS,
    "rows": result.rows_added, "error": str(result.error or ""),
    "rates": cache.read("funding.testvenue.btc").columns["rate"].tolist(),
}))
"""


def test_a_venue_added_as_one_row_reaches_catalog_endpoints_sources_and_colours(
        tmp_path, httpserver):
    """One registry row plus one client module: the catalog lists its series, its variable
    points its endpoint, Sources builds its client, the theme colours it, and a refresh stores
    what its server answers. In a child interpreter: the tables are derived at import."""
    (tmp_path / "test_venue_client.py").write_text(textwrap.dedent(_TEST_VENUE_CLIENT))
    hour = 3_600_000
    httpserver.expect_request("/funding", query_string="symbol=BTC-PERP-X").respond_with_json(
        [{"t": 1_700_000_000 * 1000 // hour * hour, "rate": 0.0001},
         {"t": (1_700_000_000 * 1000 // hour + 4) * hour, "rate": -0.0002}])
    base = httpserver.url_for("/").rstrip("/")
    env = {**os.environ, "ROTOR_TESTVENUE_URL": base,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    out = subprocess.run([sys.executable, "-c", _WITH_TEST_VENUE_ROW, str(tmp_path / "c.sqlite")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    added = {"funding.testvenue.btc", "fundingnow.testvenue.btc", "oi.testvenue.btc",
             "premium.testvenue.btc"}  # a perp's premium comes with its funding
    assert set(got["ids"]) == set(CATALOG) | added  # btc only: it lists no eth perp
    assert got["funding"] == ["testvenue", "BTC-PERP-X", "4h", "BTC funding · Test Venue"]
    assert got["funding_venues"][-1] == "testvenue" and got["oi_venues"][-1] == "testvenue"
    assert got["url"] == base and got["default_url"] == "https://api.testvenue.example"
    assert got["client"] == "TestVenueClient"
    assert got["colour"] == "#123456" and got["colours"]["testvenue"] == "#123456"
    assert got["error"] == "" and got["rows"] == 2
    assert got["rates"] == [0.0001, -0.0002]
