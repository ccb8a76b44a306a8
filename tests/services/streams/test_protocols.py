"""The venues' wire protocols (services/streams/): recorded and hand-built frames in the documented
shapes → normalised events, checked against values computed by hand from the frame."""

from __future__ import annotations

import json

import pytest

from models.stream_events import (
    BANKRUPTCY,
    FILL,
    LONG,
    SHORT,
    TICK_FIELDS,
    TRADE,
    BarUpdate,
    Liquidation,
    TickUpdate,
)
from services.streams.base import StreamReconnect, StreamRejected, VenueStream
from services.streams.binance import BinanceFuturesStream, BinanceSpotStream
from services.streams.bybit import BybitStream
from services.streams.deribit import DeribitStream
from services.streams.hyperliquid import HyperliquidStream
from services.streams.okx import OkxStream
from tests.conftest import shared_fixture

H = 3_600_000
RECV = 123_456_789


def recorded(name: str) -> str:
    return json.dumps(shared_fixture(f"streams/{name}"))


def one(events: list) -> object:
    assert len(events) == 1, events
    return events[0]


# -- Binance spot ----------------------------------------------------------------------------
def spot(**kw) -> BinanceSpotStream:
    return BinanceSpotStream("wss://example.test", {"btc": "BTCUSDT", "eth": "ETHUSDT"}, **kw)


def kline_frame(symbol="BTCUSDT", interval="1h", t=1_796_162_400_000, closed=True,
                o="62950.10", h="63010.00", low="62900.55", c="62990.20", v="812.40512",
                combined=False) -> str:
    payload = {"e": "kline", "E": t + 5_000, "s": symbol, "k": {
        "t": t, "T": t + H - 1, "s": symbol, "i": interval, "f": 1, "L": 9, "o": o, "c": c,
        "h": h, "l": low, "v": v, "n": 9, "x": closed, "q": "51141000.1", "V": "400.0",
        "Q": "25000000.0", "B": "0"}}
    if combined:
        return json.dumps({"stream": f"{symbol.lower()}@kline_{interval}", "data": payload})
    return json.dumps(payload)


def test_binance_spot_recorded_kline_is_an_open_bar_in_base_volume():
    stream = BinanceSpotStream("wss://x", {"nkn": "NKNUSDT"}, intervals=("1m",))
    bar = one(stream.parse(recorded("binance-spot-kline.json"), RECV))
    assert bar == BarUpdate(series_id="nkn.1m", venue="binance", time_ms=1633998480000,
                            open=0.3527, high=0.3528, low=0.3522, close=0.3528, volume=25877.0,
                            closed=False, recv_ns=RECV)


def test_binance_spot_closed_bar_equals_the_rest_bar():
    """The stream's closed 1h bar and the REST klines row for the same hour store the same
    values (services/binance.py parses the REST row)."""
    from services.binance import parse_klines

    t = 1_796_162_400_000
    bar = one(spot().parse(kline_frame(t=t), RECV))
    rest = parse_klines([[t, "62950.10", "63010.00", "62900.55", "62990.20", "812.40512",
                          t + H - 1, "51141000.1", 9, "400.0", "25000000.0", "0"]])
    row = rest.iloc[0]
    assert bar.closed and bar.series_id == "btc.1h"
    assert bar.time_ms == rest.index[0].value // 1_000_000
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        row["open"], row["high"], row["low"], row["close"], row["volume"])


def test_binance_spot_combined_form_daily_bar_and_what_it_ignores():
    stream = spot()
    bare = one(stream.parse(kline_frame(symbol="ETHUSDT", interval="1d", closed=False), RECV))
    wrapped = one(stream.parse(kline_frame(symbol="ETHUSDT", interval="1d", closed=False,
                                           combined=True), RECV))
    assert bare == wrapped and bare.series_id == "eth.1d" and not bare.closed
    assert stream.parse(kline_frame(interval="1m"), RECV) == []  # not subscribed
    assert stream.parse(kline_frame(symbol="SOLUSDT"), RECV) == []
    assert stream.parse('{"result":null,"id":1}', RECV) == []  # the SUBSCRIBE ack


def test_binance_subscribes_once_with_every_stream():
    stream = spot()
    assert stream.url() == "wss://example.test/ws"
    (frame,) = stream.subscribe_frames()  # Binance counts each message against 5/s
    assert json.loads(frame) == {"method": "SUBSCRIBE", "id": 1, "params": [
        "btcusdt@kline_1h", "btcusdt@kline_1d", "ethusdt@kline_1h", "ethusdt@kline_1d"]}
    assert stream.max_lifetime_s == 23 * 3600 + 50 * 60 and stream.ping_frame is None
    futures = BinanceFuturesStream("wss://fstream.example/market", {"btc": "BTCUSDT"})
    assert futures.url() == "wss://fstream.example/market/ws"
    assert json.loads(futures.subscribe_frames()[0])["params"] == [
        "btcusdt@markPrice@1s", "btcusdt@forceOrder"]


def test_binance_refusal_and_server_shutdown():
    stream = spot()
    with pytest.raises(StreamRejected, match=r"btcusdt@kline_1h, .* refused: error 2: Invalid"):
        stream.parse('{"error":{"code":2,"msg":"Invalid request: unknown stream"},"id":1}', 0)
    with pytest.raises(StreamRejected, match="Unknown property"):
        stream.parse('{"code":0,"msg":"Unknown property","id":1}', 0)
    with pytest.raises(StreamReconnect, match="serverShutdown"):
        stream.parse('{"e":"serverShutdown","E":1796162400000}', 0)


# -- Binance USD-M ----------------------------------------------------------------------------
def futures() -> BinanceFuturesStream:
    return BinanceFuturesStream("wss://x/market", {"btc": "BTCUSDT", "eth": "ETHUSDT"})


def test_binance_mark_price_funding_stays_a_fraction_per_interval():
    tick = one(futures().parse(recorded("binance-futures-markprice.json"), RECV))
    assert tick == TickUpdate("binance", "btc", 1562305380000, {
        "mark": 11794.15, "index": 11784.62659091, "funding_rate": 0.00038167,
        "next_funding_ms": 1562306400000.0, "funding_interval_hours": 8.0}, RECV)
    # an undocumented key (the 2026 `"st": 1`) changes nothing
    frame = json.loads(recorded("binance-futures-markprice.json")) | {"st": 1}
    assert one(futures().parse(json.dumps(frame), RECV)) == tick


def test_binance_force_order_sell_is_a_long_valued_at_the_fill():
    liq = one(futures().parse(recorded("binance-forceorder.json"), RECV))
    # S SELL -> the long was closed; usd = ap × z = 26245.10 × 0.115
    assert liq == Liquidation(time_ms=1695714031881, venue="binance", instrument="BTCUSDT",
                              asset="btc", side=LONG, qty=0.115, price=26245.10,
                              usd=pytest.approx(3018.1865), price_kind=FILL, recv_ns=RECV)


def test_binance_force_order_buy_is_a_short_and_partial_fill_counts_what_filled():
    frame = {"e": "forceOrder", "E": 1796162401000, "o": {
        "s": "ETHUSDT", "S": "BUY", "o": "LIMIT", "f": "IOC", "q": "3.000", "p": "2010.00",
        "ap": "2004.50", "X": "PARTIALLY_FILLED", "l": "1.2", "z": "2.000",
        "T": 1796162400999}}
    liq = one(futures().parse(json.dumps(frame), RECV))
    assert (liq.side, liq.asset, liq.qty, liq.price, liq.usd) == (SHORT, "eth", 2.0, 2004.5,
                                                                   4009.0)
    frame["o"] |= {"s": "SOLUSDT"}
    assert futures().parse(json.dumps(frame), RECV) == []  # not ours


# -- Bybit ------------------------------------------------------------------------------------
def bybit() -> BybitStream:
    return BybitStream("wss://x", {"btc": "BTCUSDT", "nkn": "NKNUSDT", "rose": "ROSEUSDT"})


def test_bybit_recorded_snapshot_then_delta_merge():
    stream = bybit()
    tick = one(stream.parse(recorded("bybit-tickers-snapshot.json"), RECV))
    assert tick == TickUpdate("bybit", "nkn", 1709202837189, {
        "mark": 0.13946, "index": 0.13909, "last": 0.13947, "funding_rate": 0.00137968,
        "funding_interval_hours": 8.0,  # the 2024 capture predates fundingIntervalHour
        "next_funding_ms": 1709222400000.0, "open_interest": 12675990.0,
        "open_interest_usd": 1767793.57}, RECV)
    # the recorded delta moved only the book: nothing of ours changed
    assert stream.parse(recorded("bybit-tickers-delta.json"), RECV) == []
    delta = {"topic": "tickers.NKNUSDT", "type": "delta", "cs": 93597554250,
             "ts": 1709202841089, "data": {"symbol": "NKNUSDT", "markPrice": "0.13950",
                                           "openInterest": "12676000"}}
    merged = one(stream.parse(json.dumps(delta), RECV + 1))
    assert merged.time_ms == 1709202841089
    assert merged.values == {**tick.values, "mark": 0.1395, "open_interest": 12676000.0}


def test_bybit_delta_before_snapshot_asks_for_a_reconnect_and_reset_forgets():
    stream = bybit()
    delta = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 1, "data": {
        "symbol": "BTCUSDT", "markPrice": "60000"}}
    with pytest.raises(StreamReconnect, match="delta before any snapshot"):
        stream.parse(json.dumps(delta), RECV)
    snapshot = {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 1, "data": {
        "symbol": "BTCUSDT", "markPrice": "59990", "fundingRate": "0.0001",
        "fundingIntervalHour": "4"}}
    stream.parse(json.dumps(snapshot), RECV)
    assert one(stream.parse(json.dumps(delta), RECV)).values == {
        "mark": 60000.0, "funding_rate": 0.0001, "funding_interval_hours": 4.0}
    stream.reset()  # a reconnect: the old state must not be merged into
    with pytest.raises(StreamReconnect):
        stream.parse(json.dumps(delta), RECV)


def test_bybit_docs_snapshot_reads_the_interval_and_skips_empty_fields():
    stream = BybitStream("wss://x", {"btc": "BTCUSDT"})
    tick = one(stream.parse(recorded("bybit-tickers-snapshot-docs.json"), RECV))
    assert tick.values["funding_interval_hours"] == 8.0
    assert tick.values["funding_rate"] == -0.005
    assert tick.values["open_interest"] == 492373.72
    assert tick.values["open_interest_usd"] == 32824881841.75
    dated = {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 5, "data": {
        "symbol": "BTCUSDT", "markPrice": "61000", "fundingRate": "", "nextFundingTime": ""}}
    assert one(stream.parse(json.dumps(dated), RECV)).values == {"mark": 61000.0}


def test_bybit_all_liquidation_position_side():
    stream = bybit()
    liq = one(stream.parse(recorded("bybit-allliquidation.json"), RECV))
    # S Sell = a short position was liquidated; usd = 20000 × 0.04499
    assert liq == Liquidation(time_ms=1739502302929, venue="bybit", instrument="ROSEUSDT",
                              asset="rose", side=SHORT, qty=20000.0, price=0.04499,
                              usd=pytest.approx(899.8), price_kind=BANKRUPTCY, recv_ns=RECV)
    frame = {"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": 10, "data": [
        {"T": 7, "s": "BTCUSDT", "S": "Buy", "v": "0.5", "p": "58000.5"},
        {"T": 8, "s": "BTCUSDT", "S": "Sell", "v": "0.25", "p": "62000"}]}
    longs, shorts = stream.parse(json.dumps(frame), RECV)
    assert (longs.side, longs.usd, longs.time_ms) == (LONG, 29000.25, 7)
    assert (shorts.side, shorts.usd, shorts.time_ms) == (SHORT, 15500.0, 8)


def test_bybit_pong_ack_and_refusal():
    stream = bybit()
    assert json.loads(stream.ping_frame) == {"op": "ping"} and stream.idle_ping_s == 20
    assert stream.parse('{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}', 0) == []
    assert stream.parse('{"success":true,"ret_msg":"","conn_id":"c","req_id":"rotor-1",'
                        '"op":"subscribe"}', 0) == []
    with pytest.raises(StreamRejected, match=r"handler not found,topic:tickers\.XYZ"):
        stream.parse('{"success":false,"ret_msg":"error:handler not found,topic:tickers.XYZ",'
                     '"op":"subscribe"}', 0)
    assert json.loads(stream.subscribe_frames()[0])["args"] == [
        "tickers.BTCUSDT", "allLiquidation.BTCUSDT", "tickers.NKNUSDT",
        "allLiquidation.NKNUSDT", "tickers.ROSEUSDT", "allLiquidation.ROSEUSDT"]


# -- OKX --------------------------------------------------------------------------------------
def okx(**kw) -> OkxStream:
    return OkxStream("wss://x", {"btc": "BTC-USDT-SWAP", "eth": "ETH-USDT-SWAP"}, **kw)


def okx_frame(channel: str, row: dict, inst: str = "BTC-USDT-SWAP") -> str:
    return json.dumps({"arg": {"channel": channel, "instId": inst}, "data": [row]})


def test_okx_recorded_funding_rate_interval_from_the_two_settlements():
    stream = OkxStream("wss://x", {"btc": "BTC-USD-SWAP"})
    tick = one(stream.parse(recorded("okx-funding-rate.json"), RECV))
    # fundingTime 1700726400000 (the next settlement) → nextFundingTime 1700755200000: 8 h
    assert tick == TickUpdate("okx", "btc", 1700724675402, {
        "funding_rate": 0.0001875391284828, "next_funding_ms": 1700726400000.0,
        "funding_interval_hours": 8.0}, RECV)
    four_hourly = {"instId": "ETH-USDT-SWAP", "fundingRate": "-0.00002",
                   "fundingTime": "1796169600000", "nextFundingTime": "1796184000000",
                   "nextFundingRate": "", "ts": "1796162400000"}
    tick = one(okx().parse(okx_frame("funding-rate", four_hourly, "ETH-USDT-SWAP"), RECV))
    assert tick.asset == "eth" and tick.values["funding_interval_hours"] == 4.0
    assert tick.values["funding_rate"] == -0.00002


def test_okx_open_interest_in_coin_mark_and_index():
    stream = okx()
    tick = one(stream.parse(recorded("okx-open-interest.json"), RECV))
    assert tick == TickUpdate("okx", "btc", 1743041250440, {
        "open_interest": 22161.1301000000309, "open_interest_usd": 1939251795.54769270396321},
        RECV)
    mark = one(stream.parse(okx_frame("mark-price", {
        "instType": "SWAP", "instId": "BTC-USDT-SWAP", "markPx": "61234.5",
        "ts": "1796162400100"}), RECV))
    assert mark.values == {"mark": 61234.5} and mark.time_ms == 1796162400100
    index = one(stream.parse(okx_frame("index-tickers", {
        "instId": "BTC-USDT", "idxPx": "61230.1", "high24h": "62000", "ts": "1796162400200"},
        inst="BTC-USDT"), RECV))
    assert index == TickUpdate("okx", "btc", 1796162400200, {"index": 61230.1}, RECV)
    # the recorded mark-price frame is a dated future we did not subscribe to
    assert stream.parse(recorded("okx-mark-price.json"), RECV) == []


def test_okx_liquidations_in_contracts_times_contract_value():
    stream = okx()
    frame = {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [
        {"instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT", "instType": "SWAP",
         "uly": "BTC-USDT", "details": [
             {"bkLoss": "0", "bkPx": "60000", "ccy": "", "posSide": "net", "side": "sell",
              "sz": "25", "ts": "1796162400300"},
             {"bkLoss": "0", "bkPx": "63000.5", "ccy": "", "posSide": "short", "side": "buy",
              "sz": "4", "ts": "1796162400301"}]},
        {"instId": "ETH-USDT-SWAP", "instFamily": "ETH-USDT", "instType": "SWAP",
         "uly": "ETH-USDT", "details": [
             {"bkLoss": "0", "bkPx": "2000", "ccy": "", "posSide": "long", "side": "sell",
              "sz": "30", "ts": "1796162400302"}]},
        {"instId": "DOGE-USDT-SWAP", "instFamily": "DOGE-USDT", "instType": "SWAP",
         "uly": "DOGE-USDT", "details": [
             {"bkLoss": "0", "bkPx": "0.1", "ccy": "", "posSide": "net", "side": "buy",
              "sz": "1000", "ts": "1796162400303"}]}]}
    btc_long, btc_short, eth_long = stream.parse(json.dumps(frame), RECV)
    # 25 contracts × 0.01 BTC = 0.25 BTC at 60000 = 15000 USD; net + sell → the long
    assert btc_long == Liquidation(time_ms=1796162400300, venue="okx",
                                   instrument="BTC-USDT-SWAP", asset="btc", side=LONG,
                                   qty=0.25, price=60000.0, usd=15000.0,
                                   price_kind=BANKRUPTCY, recv_ns=RECV)
    assert (btc_short.side, btc_short.qty, btc_short.usd) == (SHORT, 0.04,
                                                              pytest.approx(2520.02))
    # 30 contracts × 0.1 ETH = 3 ETH at 2000
    assert (eth_long.side, eth_long.qty, eth_long.usd) == (LONG, pytest.approx(3.0),
                                                           pytest.approx(6000.0))
    # the recorded IOST swap is not ours
    assert stream.parse(recorded("okx-liquidation-orders.json"), RECV) == []


def test_okx_text_pong_acks_refusal_and_upgrade_notice():
    stream = okx()
    assert stream.ping_frame == "ping" and stream.idle_ping_s < 30
    assert stream.parse("pong", 0) == [] and stream.parse(b"pong", 0) == []
    assert stream.parse('{"id":"rotor1","event":"subscribe","arg":{"channel":"mark-price",'
                        '"instId":"BTC-USDT-SWAP"},"connId":"a"}', 0) == []
    with pytest.raises(StreamRejected, match="60018"):
        stream.parse('{"event":"error","code":"60018","msg":"Wrong URL or channel",'
                     '"connId":"a"}', 0)
    with pytest.raises(StreamReconnect, match="64008"):
        stream.parse('{"event":"notice","code":"64008","msg":"upgrade","connId":"a"}', 0)
    args = json.loads(stream.subscribe_frames()[0])["args"]
    assert {"channel": "index-tickers", "instId": "ETH-USDT"} in args
    assert args[-1] == {"channel": "liquidation-orders", "instType": "SWAP"}
    assert stream.parse(recorded("okx-tickers-swap.json"), RECV) == []


# -- Deribit ----------------------------------------------------------------------------------
def deribit(**kw) -> DeribitStream:
    return DeribitStream("wss://x", {"btc": "BTC-PERPETUAL", "eth": "ETH-PERPETUAL"}, **kw)


def note(channel: str, data: object) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "subscription",
                       "params": {"channel": channel, "data": data}})


def test_deribit_recorded_ticker_funding_8h_and_usd_open_interest():
    tick = one(deribit().parse(recorded("deribit-ticker-perpetual.json"), RECV))
    assert tick == TickUpdate("deribit", "btc", 1765541474086, {
        "mark": 92281.78, "index": 92263.55, "last": 92283.5, "funding_rate": 0.00001742,
        "funding_interval_hours": 8.0, "open_interest_usd": 1132329370.0,
        # coin = USD / mark: 1132329370 / 92281.78 ≈ 12270.346 BTC
        "open_interest": pytest.approx(12270.346, abs=1e-3)}, RECV)


def test_deribit_dvol_and_price_index():
    stream = deribit()
    dvol = one(stream.parse(recorded("deribit-volatility-index.json"), RECV))
    assert dvol == TickUpdate("deribit", "btc", 1619777946007, {"dvol": 129.36}, RECV)
    data = shared_fixture("streams/deribit-price-index.json")["data"]  # docs: data member only
    index = one(stream.parse(note("deribit_price_index.btc_usd", data), RECV))
    assert index == TickUpdate("deribit", "btc", 1550588002899, {"index": 3937.89}, RECV)


def test_deribit_liquidation_flags_with_the_takers_direction():
    stream = deribit()
    assert stream.parse(recorded("deribit-trades-perpetual.json"), RECV) == []  # none forced

    def trade(direction, flag, amount=1000.0, price=50000.0, name="BTC-PERPETUAL"):
        return {"timestamp": 1796162400400, "price": price, "amount": amount,
                "direction": direction, "instrument_name": name, "trade_seq": 1,
                "trade_id": "1", "contracts": amount / 10, "index_price": price,
                "mark_price": price, "tick_direction": 0, "liquidation": flag}

    taker_sold = one(stream.parse(note("trades.BTC-PERPETUAL.100ms",
                                       [trade("sell", "T")]), RECV))
    # the taker sold and was liquidated: a long; amount is USD, qty = 1000 / 50000 BTC
    assert taker_sold == Liquidation(time_ms=1796162400400, venue="deribit",
                                     instrument="BTC-PERPETUAL", asset="btc", side=LONG,
                                     qty=0.02, price=50000.0, usd=1000.0, price_kind=TRADE,
                                     recv_ns=RECV)
    maker = one(stream.parse(note("trades.BTC-PERPETUAL.100ms", [trade("sell", "M")]), RECV))
    assert maker.side == SHORT  # the maker bought against a taker's sell: its short closed
    both = stream.parse(note("trades.ETH-PERPETUAL.100ms",
                             [trade("buy", "MT", 300.0, 2000.0, "ETH-PERPETUAL")]), RECV)
    assert [(e.side, e.asset, e.qty, e.usd) for e in both] == [
        (SHORT, "eth", 0.15, 300.0), (LONG, "eth", 0.15, 300.0)]


def test_deribit_heartbeat_answer_and_subscription_frames():
    stream = deribit(heartbeat_interval_s=15)
    set_heartbeat, subscribe = map(json.loads, stream.subscribe_frames())
    assert set_heartbeat["method"] == "public/set_heartbeat"
    assert set_heartbeat["params"] == {"interval": 15}
    assert subscribe["params"]["channels"] == [
        "ticker.BTC-PERPETUAL.100ms", "trades.BTC-PERPETUAL.100ms",
        "deribit_volatility_index.btc_usd", "deribit_price_index.btc_usd",
        "ticker.ETH-PERPETUAL.100ms", "trades.ETH-PERPETUAL.100ms",
        "deribit_volatility_index.eth_usd", "deribit_price_index.eth_usd"]
    request = recorded("deribit-heartbeat-test-request.json")
    (reply,) = stream.replies(request)
    first = json.loads(reply)
    assert (first["method"], first["params"], first["jsonrpc"]) == ("public/test", {}, "2.0")
    assert json.loads(stream.replies(request)[0])["id"] != first["id"]
    assert stream.parse(request, RECV) == []
    heartbeat = '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}'
    assert stream.replies(heartbeat) == [] and stream.parse(heartbeat, RECV) == []
    assert stream.parse('{"jsonrpc":"2.0","id":1000,"result":{"version":"1.2.26"}}', 0) == []


def test_deribit_refusals_name_the_channels():
    stream = deribit()
    channels = json.loads(stream.subscribe_frames()[1])["params"]["channels"]
    accepted = json.dumps({"jsonrpc": "2.0", "id": 2, "result": channels})
    assert stream.parse(accepted, 0) == []
    partial = json.dumps({"jsonrpc": "2.0", "id": 2, "result": channels[1:]})
    with pytest.raises(StreamRejected, match=r"refused for ticker\.BTC-PERPETUAL\.100ms$"):
        stream.parse(partial, 0)
    with pytest.raises(StreamRejected, match="subscription refused: error 11050"):
        stream.parse('{"jsonrpc":"2.0","id":2,"error":{"code":11050,"message":"bad_request"}}',
                     0)
    with pytest.raises(StreamRejected, match="set_heartbeat refused"):
        stream.parse('{"jsonrpc":"2.0","id":1,"error":{"code":-32602,'
                     '"message":"Invalid params"}}', 0)


# -- Hyperliquid ------------------------------------------------------------------------------
def hyperliquid() -> HyperliquidStream:
    return HyperliquidStream("wss://x", {"btc": "BTC", "eth": "ETH"},
                             clock=lambda: 1_796_162_400_500)


def test_hyperliquid_recorded_ctx_hourly_funding_coin_open_interest():
    tick = one(hyperliquid().parse(recorded("hyperliquid-activeassetctx.json"), RECV))
    assert tick == TickUpdate("hyperliquid", "btc", 1_796_162_400_500, {
        "mark": 14.3161, "index": 14.32, "funding_rate": 0.0000125,
        "funding_interval_hours": 1.0, "open_interest": 688.11,
        # coin × mark: 688.11 × 14.3161
        "open_interest_usd": pytest.approx(9851.0516, abs=1e-4)}, RECV)


def test_hyperliquid_greeting_pong_ack_nulls_and_refusal():
    stream = hyperliquid()
    assert stream.parse("Websocket connection established.", 0) == []
    assert stream.parse('{"channel":"pong"}', 0) == []
    assert stream.parse('{"channel":"subscriptionResponse","data":{"method":"subscribe"}}',
                        0) == []
    ctx = {"channel": "activeAssetCtx", "data": {"coin": "ETH", "ctx": {
        "markPx": "2001.5", "oraclePx": "2000.9", "funding": "-0.00001", "openInterest": "1000",
        "premium": None, "midPx": None, "impactPxs": None}}}
    assert one(stream.parse(json.dumps(ctx), 0)).values == {
        "mark": 2001.5, "index": 2000.9, "funding_rate": -0.00001,
        "funding_interval_hours": 1.0, "open_interest": 1000.0, "open_interest_usd": 2001500.0}
    with pytest.raises(StreamRejected, match="Invalid subscription"):
        stream.parse('{"channel":"error","data":"Invalid subscription {\\"type\\":\\"x\\"}"}', 0)
    assert [json.loads(f)["subscription"] for f in stream.subscribe_frames()] == [
        {"type": "activeAssetCtx", "coin": "BTC"}, {"type": "activeAssetCtx", "coin": "ETH"}]
    assert json.loads(stream.ping_frame) == {"method": "ping"}


# -- every venue ------------------------------------------------------------------------------
ALL = [spot(), futures(), bybit(), okx(), deribit(), hyperliquid()]


@pytest.mark.parametrize("stream", ALL, ids=lambda s: s.name)
def test_every_stream_is_a_venue_stream_with_its_keys(stream):
    assert isinstance(stream, VenueStream)
    assert stream.name and stream.venue and stream.subscribe_frames()
    assert stream.ping_frame is None or stream.idle_ping_s > 0


@pytest.mark.parametrize("stream", ALL, ids=lambda s: s.name)
@pytest.mark.parametrize("frame", [
    '{"some":"thing","new":1}', '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","data":{}}',
    '{"arg":{"channel":"tickers","instId":"BTC-USDT-SWAP"},"data":[{"last":"1"}]}',
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms",'
    '"data":{}}}', '{"channel":"trades","data":[]}', '{"e":"aggTrade","s":"BTCUSDT","p":"1"}',
])
def test_unknown_frames_are_ignored(stream, frame):
    assert stream.parse(frame, 0) == []


@pytest.mark.parametrize("stream", ALL, ids=lambda s: s.name)
@pytest.mark.parametrize("frame", ['{"topic":"tickers.BTCUSDT","data":{"sym', "[1, 2]",
                                   b"\xff\xfe not text"])
def test_malformed_frames_raise_one_clear_line(stream, frame):
    with pytest.raises(ValueError) as info:
        stream.parse(frame, 0)
    assert stream.name in str(info.value) or "UTF-8" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("stream", "frame"), [
    (spot(), kline_frame().replace('"o": "62950.10"', '"o": "abc"')),
    (futures(), '{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1","r":"0.0001","T":2}'),
    (bybit(), '{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1,"data":{"T":1}}'),
    (okx(), okx_frame("mark-price", {"instId": "BTC-USDT-SWAP", "ts": "1"})),
    (deribit(), note("ticker.BTC-PERPETUAL.100ms", {"instrument_name": "BTC-PERPETUAL",
                                                     "timestamp": 1})),
    (hyperliquid(), '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"funding":"x"}}}'),
], ids=lambda v: getattr(v, "name", ""))
def test_a_known_frame_missing_a_field_names_it(stream, frame):
    with pytest.raises(ValueError, match=r"missing|not a number|expected"):
        stream.parse(frame, 0)


def test_tick_keys_are_the_documented_ones():
    frames = [(futures(), recorded("binance-futures-markprice.json")),
              (bybit(), recorded("bybit-tickers-snapshot.json")),
              (OkxStream("wss://x", {"btc": "BTC-USD-SWAP"}), recorded("okx-funding-rate.json")),
              (okx(), recorded("okx-open-interest.json")),
              (deribit(), recorded("deribit-ticker-perpetual.json")),
              (deribit(), recorded("deribit-volatility-index.json")),
              (hyperliquid(), recorded("hyperliquid-activeassetctx.json"))]
    for stream, frame in frames:
        for event in stream.parse(frame, 0):
            assert set(event.values) <= set(TICK_FIELDS), (stream.name, event.values)
