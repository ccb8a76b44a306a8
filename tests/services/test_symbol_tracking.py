"""Series watched at run time (a symbol the user added or removed): the tracker takes them
without touching the others, fetches them first, and forgets them when removed (no Qt)."""

from __future__ import annotations

from models.catalog import get_spec
from models.status import SourceState
from models.symbols import SymbolList, register_user_symbols
from services.source_tracker import SourceTracker

T0 = 1_770_000_000_000


def test_added_series_go_first_and_removed_ones_are_forgotten():
    symbols = SymbolList()
    symbols.add(symbols.make("yahoo", "AAPL", "Apple Inc.", "XNYS"))
    register_user_symbols(symbols)
    try:
        tracker = SourceTracker(on_change=lambda _status: None)
        tracker.watch([get_spec(i) for i in ("btc.1h", "eth.1h", "spx.1h", "gold.1h")])
        for series_id in ("btc.1h", "eth.1h", "spx.1h", "gold.1h"):
            tracker.on_cached(series_id, None, T0)
        tracker.on_started("btc.1h")
        tracker.on_success("btc.1h", T0, venue="binance")
        assert tracker.watch_more([get_spec("aapl.1h"), get_spec("btc.1h")]) == ["aapl.1h"]
        assert tracker.status("aapl.1h").state == SourceState.UPDATING
        assert tracker.status("btc.1h").state == SourceState.OK  # the others untouched
        assert "aapl.1h" not in tracker.due(T0, max_running=5)  # not before its cache is read
        tracker.on_cached("aapl.1h", None, T0 + 5000)
        # Due later than the three waiting, yet first in line: the user just asked for it.
        assert tracker.due(T0 + 5000, max_running=2) == ["aapl.1h", "eth.1h"]
        tracker.on_started("aapl.1h")
        tracker.on_success("aapl.1h", T0 + 6000, venue="yahoo")
        tracker.unwatch(["aapl.1h"])
        assert "aapl.1h" not in tracker.watched
        assert "aapl.1h" not in tracker.due(T0 + 10**9, max_running=10)
    finally:
        register_user_symbols(())
