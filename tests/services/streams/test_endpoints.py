"""Where the streams connect (ROTOR_*_WS) and which streams Rotor opens."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.errors import InsecureEndpoint
from services.streams.binance import BinanceFuturesStream, BinanceSpotStream
from services.streams.endpoints import (
    DEFAULT_WS_URLS,
    WS_ENV_VARS,
    StreamEndpoints,
    build_streams,
)

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_are_the_documented_urls_with_the_usdm_market_route():
    eps = StreamEndpoints.from_env({})
    assert eps.urls == {
        "binance_spot": "wss://data-stream.binance.vision",
        "binance_futures": "wss://fstream.binance.com/market",
        "bybit": "wss://stream.bybit.com/v5/public/linear",
        "okx": "wss://ws.okx.com:8443/ws/v5/public",
        "deribit": "wss://www.deribit.com/ws/api/v2",
        "hyperliquid": "wss://api.hyperliquid.xyz/ws",
    }
    streams = {s.name: s for s in build_streams(eps)}
    assert streams["binance_futures"].url() == "wss://fstream.binance.com/market/ws"


def test_environment_overrides_and_plain_ws_only_on_loopback():
    eps = StreamEndpoints.from_env({"ROTOR_OKX_WS": "ws://127.0.0.1:4321/ws/v5/public/",
                                    "ROTOR_BYBIT_WS": "wss://relay.example/bybit"})
    assert eps["okx"] == "ws://127.0.0.1:4321/ws/v5/public"
    assert eps["bybit"] == "wss://relay.example/bybit"
    assert eps["deribit"] == DEFAULT_WS_URLS["deribit"]
    for bad in ("ws://stream.bybit.com/v5/public/linear", "https://stream.bybit.com", "wss://"):
        with pytest.raises(InsecureEndpoint, match=r"bybit websocket URL must be wss://"):
            StreamEndpoints.from_env({"ROTOR_BYBIT_WS": bad})


def test_build_streams_one_connection_per_venue_for_the_assets_asked():
    streams = build_streams(StreamEndpoints())
    assert [(s.name, s.venue) for s in streams] == [
        ("binance_spot", "binance"), ("binance_futures", "binance_futures"),
        ("bybit", "bybit"), ("okx", "okx"), ("deribit", "deribit"),
        ("hyperliquid", "hyperliquid")]
    btc_only = build_streams(StreamEndpoints(), assets=("btc",))
    spot = next(s for s in btc_only if isinstance(s, BinanceSpotStream))
    perp = next(s for s in btc_only if isinstance(s, BinanceFuturesStream))
    assert spot.symbols == {"btc": "BTCUSDT"} and perp.symbols == {"btc": "BTCUSDT"}
    frames = " ".join(f for s in btc_only for f in s.subscribe_frames()).replace("method", "")
    assert "eth" not in frames.lower() and frames.lower().count("btc") >= 10
    assert build_streams(StreamEndpoints(), assets=("spx",)) == []


def test_readme_configuration_table_lists_every_stream_url():
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(ROTOR_[A-Z_]+_WS)` \| `([^`|]+)`", readme, re.M))
    assert rows == {WS_ENV_VARS[name]: url for name, url in DEFAULT_WS_URLS.items()}


def test_stream_protocols_import_no_qt_pandas_or_requests():
    """The window's import path reaches these modules (ui/streams.py builds the streams)."""
    code = ("import sys\n"
            "import services.streams.endpoints\n"
            "bad = [m for m in ('pandas', 'requests', 'PySide6', 'numpy') if m in sys.modules]\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
