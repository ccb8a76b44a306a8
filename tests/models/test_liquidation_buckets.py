import numpy as np
import pytest

from models.liquidations import add_buckets, bucket_rows
from models.stream_events import LONG, SHORT, Liquidation

T0 = 1_770_336_000_000  # 2026-02-06 00:00 UTC


def liq(t, side, qty, price, venue="bybit"):
    return Liquidation(t, venue, "BTCUSDT", "btc", side, qty, price, qty * price, "bankruptcy")


def test_buckets_sum_each_side_per_minute_and_venue():
    rows = bucket_rows([liq(T0 + 1_000, LONG, 0.5, 60_000), liq(T0 + 59_999, SHORT, 2, 61_000),
                        liq(T0 + 60_000, LONG, 1, 59_000), liq(T0 + 5, LONG, 0.1, 60_000, "okx")])
    b = rows["liq.bybit.btc"]
    assert b.time.tolist() == [T0, T0 + 60_000]
    assert b["long_usd"].tolist() == [30_000.0, 59_000.0]
    assert b["short_usd"].tolist() == [122_000.0, 0.0]
    assert b["long_qty"].tolist() == [0.5, 1.0]
    assert b["count"].tolist() == [2.0, 1.0]
    assert rows["liq.okx.btc"]["long_usd"].tolist() == [6_000.0]


def test_adding_buckets_sums_shared_minutes_and_keeps_the_rest():
    a = bucket_rows([liq(T0, LONG, 1, 100)])["liq.bybit.btc"]
    b = bucket_rows([liq(T0 + 10, LONG, 2, 100), liq(T0 + 120_000, SHORT, 1, 100)])["liq.bybit.btc"]
    both = add_buckets(a, b)
    assert both.time.tolist() == [T0, T0 + 120_000]
    np.testing.assert_allclose(both["long_usd"], [300.0, 0.0])
    np.testing.assert_allclose(both["count"], [2.0, 1.0])


def test_an_unknown_side_is_refused():
    with pytest.raises(ValueError, match="long or short"):
        bucket_rows([liq(T0, "Buy", 1, 100)])
