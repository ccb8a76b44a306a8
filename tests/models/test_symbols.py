"""The user's symbols (models/symbols.py): the list's validation and workspace-section contract,
the registry that makes them series and assets, and movers and rotation with them as peers,
checked against answers built by hand or by exchange-calendars directly."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from models import analyses
from models import rotation as rot
from models.assets import ASSETS, asset_color, find_asset, short_name
from models.catalog import CATALOG, find_spec, get_spec
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData
from models.symbols import (
    PALETTE,
    SymbolList,
    calendar_for_yahoo,
    register_user_symbols,
    stem_candidate,
)
from models.venues import find_venue
from tests.models.test_rotation import MemoryLoader, _market, daily_bars
from tests.ui.test_theme_colors import MIN_CONTRAST, MIN_DELTA_E_2000, contrast_ratio, delta_e_2000


def item(**changes):
    base = {"venue": "yahoo", "symbol": "AAPL", "stem": "aapl", "name": "Apple Inc.",
            "calendar": "XNYS", "currency": "USD", "exchange": "NMS", "instrument": "EQUITY",
            "color": 0}
    return {**base, **changes}


@pytest.fixture(autouse=True)
def _no_user_symbols_left():
    yield
    register_user_symbols(())


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "message"), [
    ({"stem": "../x"}, r"symbols\[0\]\.stem: stem '\.\./x'"),
    ({"stem": "a;drop"}, r"symbols\[0\]\.stem"),
    ({"stem": "a'b"}, r"symbols\[0\]\.stem"),
    ({"stem": 'a"b'}, r"symbols\[0\]\.stem"),
    ({"stem": "a.b"}, r"symbols\[0\]\.stem"),  # a dot would split the series id
    ({"stem": "x" * 33}, r"symbols\[0\]\.stem"),
    ({"stem": "btc"}, "built-in asset"),
    ({"stem": "funding"}, "reserved"),
    ({"symbol": "../etc/passwd"}, r"symbols\[0\]\.symbol"),
    ({"symbol": "AAPL;DROP TABLE chunks"}, r"symbols\[0\]\.symbol"),
    ({"symbol": "A'B"}, r"symbols\[0\]\.symbol"),
    ({"symbol": "X" * 41}, r"symbols\[0\]\.symbol"),
    ({"venue": "ftx"}, r"symbols\[0\]\.venue"),
    ({"calendar": "Mars"}, r"symbols\[0\]\.calendar"),
    ({"name": ""}, r"symbols\[0\]\.name"),
    ({"name": "n" * 61}, r"symbols\[0\]\.name"),
    ({"color": len(PALETTE)}, r"symbols\[0\]\.color"),
    ({"color": True}, r"symbols\[0\]\.color"),
])
def test_validation_names_the_field_and_changes_nothing(changes, message):
    symbols = SymbolList()
    symbols.load_json([item(symbol="MSFT", stem="msft")])
    before = symbols.to_json()
    calls = []
    symbols.add_listener(lambda: calls.append(1))
    with pytest.raises(ValueError, match=message):
        SymbolList.validate_json([item(**changes)])
    with pytest.raises(ValueError, match=message):
        symbols.load_json([item(**changes)])
    assert symbols.to_json() == before and calls == []


def test_two_items_may_not_share_a_stem_or_a_symbol():
    with pytest.raises(ValueError, match=r"symbols\[1\]\.stem: 'aapl' is used twice"):
        SymbolList.validate_json([item(), item(symbol="AAPL.MX")])
    with pytest.raises(ValueError, match=r"symbols\[1\]: AAPL \(yahoo\) is listed twice"):
        SymbolList.validate_json([item(), item(stem="aapl2")])
    with pytest.raises(ValueError, match="expected a list"):
        SymbolList.validate_json({"aapl": item()})


def test_unknown_keys_are_kept_and_written_back_and_listeners_follow_every_change():
    symbols = SymbolList()
    calls = []
    symbols.add_listener(lambda: calls.append(len(symbols)))
    data = [item(note={"from": "a newer version"})]
    symbols.load_json(data)
    assert symbols.to_json() == data and calls == [1]
    made = symbols.make("binance", "SOLUSDT", "SOL/USDT", "24/7", currency="USDT",
                        instrument="SPOT")
    symbols.add(made)
    assert calls == [1, 2] and symbols.stems() == ("aapl", "solusdt")
    with pytest.raises(ValueError, match="already in the list"):
        symbols.add(made)
    assert symbols.remove("aapl") and calls == [1, 2, 1]
    assert not symbols.remove("aapl") and calls == [1, 2, 1]


def test_new_stems_are_spelled_from_the_symbol_and_never_a_built_in():
    assert stem_candidate("yahoo", "^FTSE") == "ftse-idx"
    assert stem_candidate("yahoo", "ES=F") == "es-f"
    assert stem_candidate("yahoo", "BRK.B") == "brk-b"
    symbols = SymbolList()
    grayscale = symbols.make("yahoo", "BTC", "Grayscale Bitcoin Mini Trust", "XNYS")
    assert grayscale.stem == "y-btc" and grayscale.stem not in ASSETS
    symbols.add(grayscale)
    # colours: the least used first
    colours = []
    for ticker in ("A", "B", "C", "D", "E", "F", "G"):
        made = symbols.make("yahoo", ticker, ticker, "XNYS")
        symbols.add(made)
        colours.append(made.color)
    assert colours == [1, 2, 3, 4, 5, 0, 1]


def test_yahoo_exchanges_map_to_calendars():
    assert calendar_for_yahoo("NMS", "EQUITY") == "XNYS"
    assert calendar_for_yahoo("PCX", "ETF") == "XNYS"
    assert calendar_for_yahoo("CME", "FUTURE") == "XNYS"
    assert calendar_for_yahoo("LSE", "EQUITY") == "XLON"
    assert calendar_for_yahoo("JPX", "EQUITY") == "XTKS"
    assert calendar_for_yahoo("CCC", "CRYPTOCURRENCY") == "24/7"
    assert calendar_for_yahoo("CCY", "CURRENCY") == "24/5"
    assert calendar_for_yahoo("ZZZ", "EQUITY") is None
    import exchange_calendars

    known = set(exchange_calendars.get_calendar_names())
    from models.symbols import YAHOO_CALENDARS

    assert set(YAHOO_CALENDARS.values()) <= known


def test_palette_is_readable_and_apart_from_every_built_in_colour():
    for dark, light in PALETTE:
        assert contrast_ratio(dark, "#131722") >= MIN_CONTRAST
        assert contrast_ratio(light, "#ffffff") >= MIN_CONTRAST
    for theme_index, built_ins in ((0, [a.color for a in ASSETS.values()]),
                                   (1, [a.light_color or a.color for a in ASSETS.values()])):
        ours = [pair[theme_index] for pair in PALETTE]
        for i, colour in enumerate(ours):
            for other in built_ins + ours[:i]:
                assert delta_e_2000(colour, other) >= MIN_DELTA_E_2000, (colour, other)


# -- the registry -------------------------------------------------------------------------------
def test_registered_symbols_are_series_and_assets_until_replaced():
    symbols = SymbolList()
    symbols.load_json([item(), item(venue="binance", symbol="SOLUSDT", stem="solusdt",
                                    name="SOL/USDT", calendar="24/7", currency="USDT",
                                    exchange="", instrument="SPOT", color=2)])
    assert find_spec("aapl.1d") is None
    register_user_symbols(symbols)
    spec = get_spec("aapl.1h")
    yahoo = find_venue("yahoo")
    assert (spec.source, spec.symbol, spec.kind, spec.unit) == ("yahoo", "AAPL", "candles", "USD")
    assert spec.poll_seconds == yahoo.candle_poll_seconds == 300
    assert spec.max_history_days == 729
    assert get_spec("solusdt.1d").source == "binance"
    assert get_spec("solusdt.1d").poll_seconds == find_venue("binance").candle_poll_seconds
    assert "aapl.1h" not in CATALOG  # the built-in table stays fixed
    assert short_name("solusdt") == "SOL/USDT" and short_name("aapl") == "AAPL"
    assert asset_color("solusdt") == PALETTE[2][0]
    assert asset_color("solusdt", "light") == PALETTE[2][1]
    assert find_asset("solusdt").asset_class.trades_24_7
    register_user_symbols(())
    assert find_spec("aapl.1h") is None and find_asset("aapl") is None
    assert short_name("aapl") == "AAPL"  # the unknown-asset fallback again


# -- movers -------------------------------------------------------------------------------------
def test_movers_measure_a_24_7_symbol_on_rolling_days_and_a_listed_one_on_sessions():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [int(start.timestamp() * 1000) + i * MS_PER_DAY for i in range(30)]
    closes = [float(i + 1) for i in range(30)]  # 1 … 30, one bar per calendar day
    bars = SeriesData.from_rows(times, close=closes)
    loader = MemoryLoader({"coin.1d": bars, "stock.1d": bars})
    symbols = (("coin", "24/7"), ("stock", "XNYS"))
    assert set(analyses.movers_inputs("close", symbols)) >= {"coin.1d", "coin.1h", "stock.1d"}
    assert "stock.1h" not in analyses.movers_inputs("close", symbols)
    rows = analyses.analyse_movers(loader, "close", symbols)
    assert list(rows) == ["coin", "stock"]  # no built-in has data here
    # 24/7: a week is 7 × 24 h back (close 23); a listed asset: 5 sessions back (close 25).
    assert rows["coin"]["chg_1w_pct"] == pytest.approx((30 / 23 - 1) * 100)
    assert rows["stock"]["chg_1w_pct"] == pytest.approx((30 / 25 - 1) * 100)
    assert rows["stock"]["chg_1d_pct"] == pytest.approx((30 / 29 - 1) * 100)
    assert analyses.analyse_movers(loader, "close") == {}


# -- rotation -----------------------------------------------------------------------------------
def _xlon_closes(first: date, last: date) -> pd.DatetimeIndex:
    import warnings

    import exchange_calendars

    with warnings.catch_warnings():  # its build trips a pandas deprecation (models/sessions.py)
        warnings.simplefilter("ignore")
        calendar = exchange_calendars.get_calendar("XLON", start="2025-01-02", end="2026-12-31")
    return pd.DatetimeIndex(calendar.closes.loc[str(first):str(last)]).tz_convert("UTC")


def test_rotation_takes_user_peers_on_their_own_sessions():
    market = _market()
    hourly = market["btc.1h"]
    plain = analyses.analyse_rotation(MemoryLoader(market), window=20)
    nyse = plain.returns.index
    btc_at_nyse = rot.btc_session_closes(hourly, market["btc.1d"], nyse)
    nyse_dates = [d.date() for d in btc_at_nyse.index]
    # A listed stock = BTC² on NYSE sessions: its log returns are twice BTC's, corr 1.
    market["sq.1d"] = daily_bars(nyse_dates, list(btc_at_nyse.to_numpy() ** 2), hour=14.5)
    # A 24/7 coin = 1/BTC every hour: corr −1 at the NYSE closes.
    market["inv.1h"] = SeriesData(hourly.time, {"close": 1.0 / hourly["close"]})
    # A London stock = BTC at each London close (15:30/16:30 UTC), from the hourly bars by hand.
    london = _xlon_closes(date(2025, 12, 2), date(2026, 5, 29))
    close_end = hourly.time + MS_PER_HOUR
    at = np.searchsorted(close_end, london.as_unit("ms").asi8, side="right") - 1
    market["ldn.1d"] = daily_bars([d.date() for d in london], list(hourly["close"][at]))
    symbols = (("sq", "XNYS"), ("inv", "24/7"), ("ldn", "XLON"))
    assert set(analyses.rotation_inputs(20, symbols=symbols)) >= {"sq.1d", "inv.1h", "inv.1d",
                                                                  "ldn.1d"}
    result = analyses.analyse_rotation(MemoryLoader(market), window=20, symbols=symbols)
    assert result.corr["sq"].dropna().to_numpy() == pytest.approx(1.0, abs=1e-9)
    assert result.corr["inv"].dropna().to_numpy() == pytest.approx(-1.0, abs=1e-9)
    # London: sampled at London's closes, so BTC and the stock are the same number: corr 1.
    ldn = result.corr["ldn"].dropna()
    assert ldn.to_numpy() == pytest.approx(1.0, abs=1e-9)
    assert set(ldn.index) <= set(london) and not set(ldn.index) & set(nyse)
    # The built-in peers' numbers do not move; London stays out of the joint frame.
    pd.testing.assert_frame_equal(result.returns[plain.returns.columns], plain.returns)
    for stem in plain.corr:
        pd.testing.assert_series_equal(result.corr[stem], plain.corr[stem])
    assert list(result.returns.columns) == [*plain.returns.columns, "sq", "inv"]
    assert (result.returns["sq"].dropna() / result.returns["btc"]).dropna().to_numpy() == \
        pytest.approx(2.0, rel=1e-9)
