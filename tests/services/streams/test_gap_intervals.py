"""A reconnect refills over REST only the bar intervals the spot stream carries (1h, 1d): the
minute to weekly series follow their own poll (docs/timeframes.md)."""

from models.catalog import PRICE_INTERVALS
from models.stream_events import Gap
from services.streams.binance import SPOT_INTERVALS
from services.streams.gaps import gap_series_ids


def test_a_spot_gap_names_the_streamed_intervals_only():
    assert len(PRICE_INTERVALS) == 7
    ids = gap_series_ids(Gap("binance", 0, 0), ["btc", "eth"])
    assert sorted(ids) == sorted(f"{a}.{i}" for a in ("btc", "eth") for i in SPOT_INTERVALS)
