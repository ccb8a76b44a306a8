"""Reported liquidations: the raw table and its minute buckets in the cache, the stream-only
rule of the refresh and the tracker, and OKX's REST backfill against a loopback server in the
documented shape (docs/streams.md §5.2, §8)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from werkzeug import Request, Response

from models.catalog import CATALOG, STREAM_ONLY_NOTE, get_spec, is_stream_only
from models.status import SourceState
from models.stream_events import BANKRUPTCY, FILL, LONG, SHORT, Liquidation
from services.config import DEFAULT_URLS, Endpoints
from services.okx import parse_liquidations
from services.refresh import refresh_series
from services.source_tracker import SourceTracker
from services.sources import Sources
from services.streams.okx import CONTRACT_VALUES
from tests.conftest import shared_fixture

T0 = 1_770_336_000_000  # 2026-02-06T00:00Z
M = 60_000


def ev(t: int, side: str = LONG, qty: float = 0.5, price: float = 70_000.0,
       venue: str = "bybit", asset: str = "btc", instrument: str = "BTCUSDT") -> Liquidation:
    return Liquidation(t, venue, instrument, asset, side, qty, price, qty * price, BANKRUPTCY)


# -- the cache --------------------------------------------------------------------------------
def test_buckets_are_sums_of_the_stored_events_and_repeats_count_once(cache):
    first = [ev(T0 + 1_000, LONG, 0.5, 70_000), ev(T0 + 30_000, SHORT, 0.2, 70_100),
             ev(T0 + M + 5, LONG, 1.0, 69_900)]
    out = cache.add_liquidations(first)
    assert set(out) == {"liq.bybit.btc"}
    # the same orders again (the REST backfill of what the stream stored) plus one new one in
    # the first minute: the minute becomes old + new, never old × 2
    again, new = cache.add_liquidations_counted([*first, ev(T0 + 59_999, LONG, 0.1, 70_000)])
    assert new == 1
    stored = cache.read("liq.bybit.btc")
    assert stored.time.tolist() == [T0, T0 + M]
    assert stored["long_usd"].tolist() == pytest.approx([0.5 * 70_000 + 0.1 * 70_000,
                                                          1.0 * 69_900])
    assert stored["short_usd"].tolist() == pytest.approx([0.2 * 70_100, 0.0])
    assert stored["long_qty"].tolist() == pytest.approx([0.6, 1.0])
    assert stored["count"].tolist() == [3.0, 1.0]
    # what it returned is what it stored for the minutes it touched
    assert again["liq.bybit.btc"].time.tolist() == [T0, T0 + M]
    assert again["liq.bybit.btc"]["long_usd"].tolist() == stored["long_usd"].tolist()


def test_new_events_in_a_stored_minute_add_to_it(cache):
    # stream batches a second apart, all new: each adds to the minute already stored
    batches = [[ev(T0 + k * 1_000 + i, LONG if i % 2 else SHORT, 0.1 * (i + 1), 70_000 + k)
                for i in range(5)] for k in range(30)]
    for batch in batches:
        cache.add_liquidations(batch)
    stored = cache.read("liq.bybit.btc")
    every = [e for batch in batches for e in batch]
    assert stored.time.tolist() == [T0]
    assert stored["count"].tolist() == [150.0]
    assert stored["long_usd"][0] == pytest.approx(sum(e.usd for e in every if e.side == LONG))
    assert stored["short_qty"][0] == pytest.approx(sum(e.qty for e in every if e.side == SHORT))


def test_events_split_by_venue_and_asset_and_read_back(cache):
    events = [ev(T0, venue="binance", instrument="BTCUSDT"),
              ev(T0 + 10, venue="binance", asset="eth", instrument="ETHUSDT", price=2_000.0),
              ev(T0 + 20, venue="okx", instrument="BTC-USDT-SWAP", side=SHORT)]
    out = cache.add_liquidations(events)
    assert sorted(out) == ["liq.binance.btc", "liq.binance.eth", "liq.okx.btc"]
    back = cache.liquidation_events("liq.binance.eth")
    assert back == [events[1]]
    assert cache.liquidation_events("liq.okx.btc", T0 + 21) == []
    with pytest.raises(ValueError, match="not a liquidation series"):
        cache.liquidation_events("btc.1h")


def test_bad_events_are_refused_and_the_rest_stored(cache):
    bad = [ev(T0, qty=math.nan), ev(T0, side="up"), ev(T0, price=-1.0)]
    out = cache.add_liquidations([*bad, ev(T0 + 5, qty=2.0, price=100.0)])
    assert out["liq.bybit.btc"]["long_usd"].tolist() == [200.0]
    assert len(cache.liquidation_events("liq.bybit.btc")) == 1


def test_deleting_a_liquidation_series_drops_its_events(cache):
    cache.add_liquidations([ev(T0), ev(T0, venue="okx", instrument="BTC-USDT-SWAP")])
    cache.delete("liq.bybit.btc")
    assert cache.liquidation_events("liq.bybit.btc") == []
    assert len(cache.read("liq.bybit.btc")) == 0
    assert len(cache.liquidation_events("liq.okx.btc")) == 1


# -- the catalog and the stream-only rule -----------------------------------------------------
def test_catalog_lists_liquidations_of_four_venues_with_okx_the_only_rest_one():
    liq = {k: s for k, s in CATALOG.items() if k.startswith("liq.")}
    assert sorted(liq) == [f"liq.{v}.{a}" for v in ("binance", "bybit", "deribit", "okx")
                           for a in ("btc", "eth")]
    assert {k for k, s in liq.items() if not is_stream_only(s)} == {"liq.okx.btc",
                                                                     "liq.okx.eth"}
    assert liq["liq.binance.btc"].source == "binance_futures"
    assert all(s.interval == "1m" and "reported" in s.label for s in liq.values())


def test_stream_only_refresh_asks_nothing_and_is_fine(cache, httpserver):
    base = httpserver.url_for("").rstrip("/")
    sources = Sources(Endpoints({name: base for name in DEFAULT_URLS}))
    cache.add_liquidations([ev(T0 + 7)])
    try:
        result = refresh_series(get_spec("liq.bybit.btc"), cache, sources, now=T0 + 3_600_000)
    finally:
        sources.close()
    assert result.ok and result.requests == 0 and result.note == STREAM_ONLY_NOTE
    assert result.last_ms == T0 and result.venue == "bybit"
    assert httpserver.log == []


def test_tracker_shows_stream_only_series_ok_and_never_due():
    tracker = SourceTracker()
    tracker.watch([get_spec("liq.bybit.btc"), get_spec("liq.okx.btc")])
    tracker.on_cached("liq.bybit.btc", T0, T0)
    tracker.on_cached("liq.okx.btc", None, T0)
    status = tracker.status("liq.bybit.btc")
    assert status.state == SourceState.OK and status.note == STREAM_ONLY_NOTE
    assert status.data_last_ms == T0
    assert tracker.due(T0 + 10**9, 8) == ["liq.okx.btc"]  # the REST one only
    tracker.refresh_now(None, T0)
    tracker.mark_stale(T0 + 10**10)
    assert tracker.status("liq.bybit.btc").state == SourceState.OK
    assert "liq.bybit.btc" not in tracker.due(T0 + 10**10, 8)
    tracker.on_recorded("liq.bybit.btc", T0 + 5 * M)
    assert tracker.status("liq.bybit.btc").data_last_ms == T0 + 5 * M


# -- OKX's REST backfill ----------------------------------------------------------------------
def okx_detail(t: int, side: str, sz: str, px: str, pos: str = "net") -> dict:
    return {"bkLoss": "0", "bkPx": px, "ccy": "", "posSide": pos, "side": side, "sz": sz,
            "ts": str(t)}


def okx_page(details: list[dict], inst: str = "BTC-USDT-SWAP") -> dict:
    family = inst.removesuffix("-SWAP")
    return {"code": "0", "msg": "", "data": [{"details": details, "instFamily": family,
                                              "instId": inst, "instType": "SWAP",
                                              "totalLoss": "", "uly": family}]}


def test_recorded_okx_frame_shape_parses_with_the_order_side_rule():
    frame = shared_fixture("streams/okx-liquidation-orders.json")
    # the recorded frame is another swap (IOST): filtered out for BTC, same details shape
    events, oldest, count = parse_liquidations(frame["data"], "BTC-USDT-SWAP", "btc")
    assert events == [] and count == 1 and oldest == 1692266434010
    detail = frame["data"][0]["details"][0]
    assert (detail["side"], detail["posSide"]) == ("buy", "short")


def test_okx_sizes_in_contracts_and_sides():
    data = okx_page([okx_detail(T0, "sell", "13", "70000"),  # one-way: a forced sell = long
                     okx_detail(T0 + 1, "buy", "2", "70010"),
                     okx_detail(T0 + 2, "buy", "5", "69990", pos="long")])["data"]
    events, oldest, count = parse_liquidations(data, "BTC-USDT-SWAP", "btc")
    assert count == 3 and oldest == T0
    assert [e.side for e in events] == [LONG, SHORT, LONG]
    assert [e.qty for e in events] == pytest.approx([0.13, 0.02, 0.05])
    assert events[0].usd == pytest.approx(13 * 0.01 * 70_000)
    assert all(e.price_kind == BANKRUPTCY and e.venue == "okx" for e in events)
    eth, _, _ = parse_liquidations(okx_page([okx_detail(T0, "sell", "3", "2000")],
                                            "ETH-USDT-SWAP")["data"], "ETH-USDT-SWAP", "eth")
    assert eth[0].qty == pytest.approx(0.3) and CONTRACT_VALUES["ETH-USDT-SWAP"] == 0.1


def okx_liq_handler(details: list[dict], seen: list[dict]):
    """Newest first, 100 per page, `after` = strictly older than that ts, as OKX pages."""
    ordered = sorted(details, key=lambda d: -int(d["ts"]))

    def handle(request: Request) -> Response:
        seen.append(dict(request.args))
        after = int(request.args.get("after", 2**62))
        limit = int(request.args.get("limit", 100))
        rows = [d for d in ordered if int(d["ts"]) < after][:limit]
        return Response(json.dumps(okx_page(rows)), content_type="application/json")
    return handle


def test_okx_backfill_through_refresh_pages_and_dedupes_with_the_stream(cache, httpserver):
    # 250 orders a minute apart, both sides; the stream already stored the newest ten
    details = [okx_detail(T0 + i * M + 17, "sell" if i % 3 else "buy", str(1 + i % 7),
                          f"{70_000 + i}") for i in range(250)]
    stream_copy = parse_liquidations(okx_page(details[-10:])["data"], "BTC-USDT-SWAP", "btc")[0]
    cache.add_liquidations([
        Liquidation(e.time_ms, e.venue, e.instrument, e.asset, e.side, e.qty, e.price, e.usd,
                    e.price_kind) for e in stream_copy])
    seen: list[dict] = []
    httpserver.expect_request("/api/v5/public/liquidation-orders").respond_with_handler(
        okx_liq_handler(details, seen))
    base = httpserver.url_for("").rstrip("/")
    sources = Sources(Endpoints({name: base for name in DEFAULT_URLS}))
    now = T0 + 250 * M
    try:
        result = refresh_series(get_spec("liq.okx.btc"), cache, sources, now=now)
    finally:
        sources.close()
    assert result.ok, result.error
    assert result.rows_added == 240  # new orders: the stream's ten were already there
    assert seen[0]["instType"] == "SWAP" and seen[0]["instFamily"] == "BTC-USDT"
    assert all(s["state"] == "filled" for s in seen) and len(seen) >= 3  # pages of 100
    stored = cache.read("liq.okx.btc")
    assert len(stored) == 250 and stored["count"].tolist() == [1.0] * 250
    # independent route: the sums straight from the orders
    sz = np.array([1 + i % 7 for i in range(250)], dtype=float)
    px = 70_000.0 + np.arange(250)
    is_long = np.array([i % 3 != 0 for i in range(250)])
    assert stored["long_usd"].sum() == pytest.approx((sz * 0.01 * px)[is_long].sum())
    assert stored["short_usd"].sum() == pytest.approx((sz * 0.01 * px)[~is_long].sum())
    assert stored.time.tolist() == [T0 + i * M for i in range(250)]


def test_okx_backfill_with_a_fill_price_kind_elsewhere_is_not_mixed(cache):
    # a Binance event at the same minute lands in its own series
    cache.add_liquidations([Liquidation(T0, "binance", "BTCUSDT", "btc", SHORT, 0.1, 70_000.0,
                                        7_000.0, FILL)])
    assert len(cache.read("liq.okx.btc")) == 0
    assert cache.read("liq.binance.btc")["short_usd"].tolist() == [7_000.0]
