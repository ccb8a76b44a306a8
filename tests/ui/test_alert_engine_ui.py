"""The window's alert engine without a window: store rows and derived feeds reach B's alert
service (a real one, its log a real SQLite file in a tmp dir), firings come back to the GUI
thread with their data times, are logged, and announced for replay."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from models.alerts import RuleBook, rule_from_json
from models.series import SeriesData
from ui.derived_feeds import DerivedFeeds, feed_key
from ui.scheduler import Scheduler
from ui.store import DataStore
from ui.time_link import TimeLink

H = 3_600_000
T0 = 1_770_336_000_000  # 2026-02-06 00:00 UTC


def cross_rule(**over):
    return rule_from_json({
        "id": "btc70", "name": "BTC back above 70k",
        "when": {"type": "cross_above", "operand": {"series": "btc.1h", "column": "close"},
                 "value": 70000}, **over})


def bars(closes, start=T0):
    closes = np.asarray(closes, dtype=float)
    return SeriesData(start + H * np.arange(len(closes), dtype=np.int64),
                      {"open": closes, "high": closes, "low": closes, "close": closes,
                       "volume": np.ones(len(closes))})


@pytest.fixture
def now():
    return {"ms": T0 + 2 * H + 30 * 60_000}  # the service starts half an hour after 02:00


@pytest.fixture
def engine(qtbot, settings, tmp_path, now):
    from ui.alerts import AlertEngine

    store = DataStore()
    scheduler = Scheduler(clock=lambda: now["ms"] / 1000)
    store.follow(scheduler)
    feeds = DerivedFeeds(store, scheduler, settings, held=False)
    made = AlertEngine(RuleBook([cross_rule()]), store, feeds, scheduler, TimeLink(settings))
    made._on_services_ready(SimpleNamespace(data_dir=tmp_path, demo=False))
    qtbot.waitUntil(lambda: made.service is not None, timeout=10000)
    yield made
    made.close()


def test_store_rows_fire_on_the_service_with_their_data_time_and_are_logged(engine, qtbot,
                                                                            tmp_path, now):
    from services.alert_log import AlertLog

    events = []
    engine.eventsChanged.connect(events.append)
    now["ms"] = T0 + 3 * H + 30 * 60_000  # an hour later
    with qtbot.waitSignal(engine.fired, timeout=10000) as fired:
        # the close crosses 70k in the bar opened at 02:00: known when it closes, at 03:00
        engine.store.set_series("btc.1h", bars([69_000, 69_500, 70_500]))
    firing = fired.args[0]
    assert (firing.rule_id, firing.true_since_ms, firing.fired_ms) == ("btc70", T0 + 3 * H,
                                                                       T0 + 3 * H)
    assert firing.noticed_ms == now["ms"]  # the window's clock when it was evaluated
    assert engine.firings() == [firing]
    assert events[-1] == [(T0 + 3 * H, "BTC back above 70k")]
    assert engine.service.wait_idle(5)
    assert [f.fired_ms for f in AlertLog(tmp_path / "alerts.sqlite").recent()] == [T0 + 3 * H]
    # a later update with the same rows fires nothing new (each row is evaluated once)
    engine.store.set_series("btc.1h", bars([69_000, 69_500, 70_500]))
    qtbot.wait(200)
    assert engine.service.wait_idle(5) and len(engine.firings()) == 1


def test_only_enabled_rules_are_followed_and_a_series_no_dock_shows_is_watched(engine):
    import dataclasses

    engine.book.set_rule(rule_from_json({
        "id": "okx-funding", "name": "OKX funding below zero",
        "when": {"type": "below", "operand": {"series": "funding.okx.eth", "column": "rate"},
                 "value": 0}}))
    engine._apply_rules()
    assert set(engine._series_ops) == {"btc.1h", "funding.okx.eth"}
    assert "funding.okx.eth" in engine.scheduler.tracker.watched  # kept fresh for the rule
    engine.book.set_rule(dataclasses.replace(engine.book.get("okx-funding"), enabled=False))
    engine._apply_rules()
    assert set(engine._series_ops) == {"btc.1h"}
    assert engine.service.wait_idle(5)  # the rules reach the service's worker through its queue
    assert [r.id for r in engine.service._evaluator.rules] == ["btc70"]


def test_derived_operands_read_the_feed_the_docks_subscribe_to(engine):
    from models.derived import DERIVED

    engine.book.set_rule(rule_from_json({
        "id": "decoupled", "name": "A decoupling day",
        "when": {"type": "decoupling", "pair": "btc_spx", "direction": "any"}}))
    engine._apply_rules()
    # the rotation feed with the window's shared parameters: the price chart's and the
    # Rotation dock's (ui/panels/prices.py follows "rotation" with no parameter of its own)
    dock_key = feed_key("rotation", engine.feeds.shared_params("rotation"))
    assert engine._subscriptions["decoupling.btc_spx"].key == dock_key
    assert dock_key in engine.feeds.active_keys()
    assert DERIVED["decoupling.btc_spx"].analysis == "rotation"
    engine.book.remove("decoupled")
    engine._apply_rules()
    assert "decoupling.btc_spx" not in engine._subscriptions
    assert dock_key not in engine.feeds.active_keys()  # nobody else held it


def test_new_services_open_their_own_log_and_forget_the_old_ones_firings(engine, qtbot,
                                                                         tmp_path):
    """Go live: the demo's services give way to the live ones (another data file)."""
    from models.alerts import Firing
    from services.alert_log import AlertLog

    live = tmp_path / "live"
    live.mkdir()
    AlertLog(live / "alerts.sqlite").add([Firing("btc70", "BTC back above 70k", T0, T0, T0,
                                                 "recorded headless")])
    demo_service = engine.service
    engine._merge([Firing("btc70", "BTC back above 70k", T0 + H, T0 + H, T0 + H, "demo")])
    events = []
    engine.eventsChanged.connect(events.append)
    engine._on_services_ready(SimpleNamespace(data_dir=live, demo=False))
    assert engine.firings() == [] and events[0] == []  # nothing of the old log stays
    qtbot.waitUntil(lambda: engine.service is not None and engine.service is not demo_service,
                    timeout=10000)
    qtbot.waitUntil(lambda: len(engine.firings()) == 1, timeout=5000)
    assert engine.firings()[0].summary == "recorded headless"  # the recorder's, read in
    assert events[-1] == [(T0, "BTC back above 70k")]
