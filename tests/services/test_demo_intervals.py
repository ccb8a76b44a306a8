"""The demo's derived intervals (services/demo_intervals.py): minutes that add up to the shipped
hourly bars, and every coarser interval consistent with them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.catalog import CANDLES, CATALOG, PRICE_INTERVALS
from models.ids import price_id
from services.demo import DEMO_NOW_MS, load_demo
from services.demo_intervals import MINUTES_FROM_MS, complete_price_intervals

HOUR = 3_600_000
NY = "America/New_York"


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def _ohlcv(frame: pd.DataFrame, keys) -> pd.DataFrame:
    g = frame.groupby(keys)
    return pd.DataFrame({"open": g["open"].first(), "high": g["high"].max(),
                         "low": g["low"].min(), "close": g["close"].last(),
                         "volume": g["volume"].sum(min_count=1)})


def test_every_price_interval_of_every_asset_is_there(demo):
    for sid, spec in CATALOG.items():
        if spec.kind == CANDLES and spec.interval in PRICE_INTERVALS:
            assert len(demo.series[sid]) > 0, sid


@pytest.mark.parametrize("stem", ["btc", "eth", "spx", "gold", "es"])
def test_minutes_add_up_to_the_shipped_hourly_bars(demo, stem):
    minutes = demo.series[price_id(stem, "1m")].to_frame()
    hourly = demo.series[price_id(stem, "1h")].to_frame()
    if stem in ("btc", "eth"):  # round the clock: the first minute is the window's
        assert minutes.index[0] == pd.Timestamp(MINUTES_FROM_MS, unit="ms", tz="UTC")
    assert minutes.index[-1] < pd.Timestamp(DEMO_NOW_MS, unit="ms", tz="UTC")
    # the hour each minute belongs to: the last hourly stamp at or before it (Yahoo's hours
    # start at :30)
    stamps = hourly.index.as_unit("ms").asi8
    mins = minutes.index.as_unit("ms").asi8
    owner = stamps[np.searchsorted(stamps, mins, side="right") - 1]
    assert (mins - owner < HOUR).all()
    theirs = _ohlcv(minutes, owner)
    expected = hourly.loc[pd.to_datetime(theirs.index, unit="ms", utc=True)]
    assert len(theirs) >= 30
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(theirs[col].to_numpy(), expected[col].to_numpy()), col
    assert np.allclose(theirs["volume"], expected["volume"], rtol=1e-9, equal_nan=True)
    o, h, lo, c = (minutes[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all() and (lo > 0).all()


@pytest.mark.parametrize(("interval", "rule"), [("5m", "5min"), ("15m", "15min")])
def test_five_and_fifteen_minutes_resample_the_minutes(demo, interval, rule):
    for stem in ("btc", "ndx"):
        minutes = demo.series[price_id(stem, "1m")].to_frame()
        r = minutes.resample(rule, label="left", closed="left")
        theirs = r.agg({"open": "first", "high": "max", "low": "min", "close": "last"})
        theirs = theirs.dropna()
        ours = demo.series[price_id(stem, interval)]
        assert np.array_equal(ours.time, theirs.index.as_unit("ms").asi8)
        for col in ("open", "high", "low", "close"):
            assert np.array_equal(ours[col], theirs[col].to_numpy()), (stem, col)


def test_exchange_assets_4h_open_at_the_session_and_crypto_at_utc_multiples(demo):
    spx = pd.to_datetime(demo.series["spx.4h"].time, unit="ms", utc=True).tz_convert(NY)
    assert set(zip(spx.hour, spx.minute, strict=True)) == {(9, 30), (13, 30)}
    # the E-mini's Globex sessions open 18:00 New York (23:00 UTC in winter) the evening before
    es = pd.to_datetime(demo.series["es.4h"].time, unit="ms", utc=True)
    winter = (es >= pd.Timestamp("2026-01-05", tz="UTC"))
    assert set(es[winter].hour) == {23, 3, 7, 11, 15, 19}
    btc = demo.series["btc.4h"].time
    assert (btc % (4 * HOUR) == 0).all()
    hourly = demo.series["btc.1h"].to_frame()
    theirs = _ohlcv(hourly, hourly.index.floor("4h"))
    assert np.array_equal(demo.series["btc.4h"]["high"], theirs["high"].to_numpy())


def test_weeks_monday_for_crypto_and_first_session_for_the_others(demo):
    btc = pd.to_datetime(demo.series["btc.1w"].time, unit="ms", utc=True)
    assert (btc.day_of_week == 0).all() and (btc.hour == 0).all()
    daily = demo.series["btc.1d"]
    assert btc[0].value // 1_000_000 >= daily.time[0]  # no part-week before the rows
    spx_daily = demo.series["spx.1d"].to_frame()
    weeks = demo.series["spx.1w"]
    day = spx_daily.index.tz_convert(NY)
    monday = (day.normalize() - pd.to_timedelta(day.day_of_week, unit="D")).date
    theirs = _ohlcv(spx_daily, monday)
    assert np.array_equal(weeks["close"], theirs["close"].to_numpy())
    first = spx_daily.groupby(monday).apply(lambda g: g.index[0])
    assert np.array_equal(weeks.time, pd.DatetimeIndex(first.to_numpy()).as_unit("ms").asi8)


def test_derivation_is_deterministic_and_leaves_shipped_series_alone(demo):
    shipped = {k: v for k, v in demo.series.items() if not k.endswith(
        tuple(f".{i}" for i in ("1m", "5m", "15m", "4h", "1w")))}
    again = complete_price_intervals(shipped, DEMO_NOW_MS)
    assert not set(again) & set(shipped)
    for sid, data in again.items():
        assert np.array_equal(data.time, demo.series[sid].time), sid
        for col in data.names:
            assert np.array_equal(data[col], demo.series[sid][col], equal_nan=True), sid
