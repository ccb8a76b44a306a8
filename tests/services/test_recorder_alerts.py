"""`main.py record` evaluating alert rules with no window: a toy venue stream on loopback stores
a bar, the rule fires once, the firing is printed, logged in the alert log and posted to the
rule's webhook (loopback HTTPS). No real venue is reached."""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from models.alerts import rule_from_json
from models.series import SeriesData
from services.alert_log import ALERT_LOG_FILE, AlertLog
from services.app import open_live
from services.headless_alerts import RecorderAlerts, firing_line
from services.recorder import Recorder, RecordError, cmd_record
from tests.services.streams.loopback import FAST, LoopbackServer, ToyStream, bar_frame, wait_until
from tests.services.tls_loopback import make_ca, tls_server

HOUR = 3_600_000
SECRET = "pathsecret42"


def last_closed_hour() -> int:
    """The start of the newest hourly bar that has closed (known less than an hour ago)."""
    now = time.time_ns() // 1_000_000
    return (now - HOUR) - (now - HOUR) % HOUR


@pytest.fixture(scope="module")
def _https(tmp_path_factory):
    ca, ca_file = make_ca(tmp_path_factory.mktemp("ca"))
    server = tls_server(ca)
    yield server, ca_file
    server.stop()


@pytest.fixture
def https(_https):
    yield _https
    _https[0].clear()


def hot_rule(url: str):
    return rule_from_json({
        "id": "hot", "name": "BTC hot",
        "when": {"type": "above", "operand": {"series": "btc.1h", "column": "close"},
                 "value": 100},
        "delivery": {"webhook": {"url": url, "headers": {"Authorization": "Bearer tok"}}}})


def test_a_stored_bar_fires_the_rule_printed_logged_and_posted(data_dir, https):
    server, ca_file = https
    server.expect_request(f"/hook/{SECRET}", method="POST").respond_with_data("", 204)
    t0 = last_closed_hour()
    services = open_live()
    # the history the rule reads first: quiet, below the level
    hist = np.arange(t0 - 10 * HOUR, t0, HOUR, dtype=np.int64)
    services.cache.upsert("btc.1h", SeriesData.from_rows(
        hist, open=np.full(10, 90.0), high=np.full(10, 91.0), low=np.full(10, 89.0),
        close=np.full(10, 90.0), volume=np.ones(10)))

    def scenario(ws, n):
        time.sleep(0.2)  # after the recorder read the cache once
        ws.send(bar_frame(t0, 101.0))  # closed: stored, and above the level
        server_ws.hold(ws, n)

    out = io.StringIO()
    alert_log = AlertLog(data_dir / ALERT_LOG_FILE)
    try:
        with LoopbackServer(scenario) as server_ws:
            alerts = RecorderAlerts(services.cache, [hot_rule(server.url_for(f"/hook/{SECRET}"))],
                                    alert_log=alert_log, out=out, webhook_verify=ca_file)
            recorder = Recorder(services, [ToyStream(server_ws.url)], out=out,
                                timing=replace(FAST, heartbeat_timeout_s=5.0),
                                flush_interval_s=0.05, status_interval_s=0.2,
                                liquidation_sink=lambda _e: None, refresh_on_start=False,
                                alerts=alerts, alerts_note="1 rule(s) from test")
            done = threading.Event()
            runner = threading.Thread(target=lambda: (recorder.run(20.0), done.set()))
            runner.start()
            try:
                wait_until(lambda: alerts.printed == 1, timeout_s=10)
                wait_until(lambda: alerts.webhooks.sent == 1, timeout_s=10)
                time.sleep(0.3)  # a status line, and time for any wrong second firing
            finally:
                recorder.request_stop()
                runner.join(10)
            assert done.is_set()
        lines = out.getvalue().splitlines()
        assert "alert rules: 1 rule(s) from test" in lines[1]
        (fired,) = alert_log.recent()
        assert fired.rule_id == "hot" and fired.fired_ms == t0 + HOUR  # known at the close
        assert firing_line(fired) in lines
        assert any(line.endswith("; 1 alerts fired") for line in lines if "toy live" in line)
        ((request, _),) = server.log
        body = json.loads(request.get_data())
        assert body["firing"] == fired.to_json()
        assert request.headers["Authorization"] == "Bearer tok"
        assert SECRET not in out.getvalue() and "tok" not in out.getvalue()
        assert alerts.sample_errors == 0
    finally:
        alert_log.close()
        services.close()


def test_a_webhook_that_fails_is_one_printed_line_without_the_url(data_dir, https):
    server, ca_file = https
    server.expect_request(f"/hook/{SECRET}").respond_with_data("no", 403)
    t0 = last_closed_hour()
    services = open_live()
    services.cache.upsert("btc.1h", SeriesData.from_rows(
        [t0 - HOUR, t0], open=[90.0, 100.0], high=[91.0, 102.0], low=[89.0, 99.0],
        close=[90.0, 101.0], volume=[1.0, 1.0]))
    out = io.StringIO()
    alerts = RecorderAlerts(services.cache, [hot_rule(server.url_for(f"/hook/{SECRET}"))],
                            alert_log=None, out=out, webhook_verify=ca_file)
    try:
        alerts.start()  # what the cache holds is evaluated at start
        assert alerts.wait_idle(5)
        assert alerts.close(5)
        printed = out.getvalue().splitlines()
        assert len(printed) == 2
        assert " ALERT BTC hot [hot] fired " in printed[0]
        assert printed[1].endswith("webhook of rule hot not delivered: HTTP 403 (FORBIDDEN)")
        assert SECRET not in out.getvalue()
    finally:
        services.close()


def test_inputs_no_stream_stores_are_polled_over_rest(data_dir):
    """Funding settlements come over REST only: with the window closed, the recorder's own
    polls keep a funding rule's input new (bench/fake_venues.py answers as Binance does)."""
    import os

    from bench.fake_venues import FakeVenues

    rule = rule_from_json({"id": "funding", "name": "Funding seen",
                           "when": {"type": "above",
                                    "operand": {"series": "funding.binance.btc",
                                                "column": "rate"}, "value": -1}})
    with FakeVenues() as rest:
        services = open_live({**os.environ, **rest.env()})
        out = io.StringIO()
        try:
            alerts = RecorderAlerts(services.cache, [rule], alert_log=None, out=out,
                                    catch_up_ms=None)  # every settlement counts here
            assert alerts.rest_inputs() == ["funding.binance.btc"]
            recorder = Recorder(services, [], out=out, status_interval_s=60.0,
                                refresh_on_start=False, alerts=alerts, alert_poll_s=0.2)
            done = threading.Event()
            runner = threading.Thread(target=lambda: (recorder.run(20.0), done.set()))
            runner.start()
            try:
                wait_until(lambda: recorder.gaps.filled >= 2, timeout_s=15)  # polled twice
                wait_until(lambda: alerts.printed == 1, timeout_s=10)
            finally:
                recorder.request_stop()
                runner.join(10)
            assert done.is_set()
            assert len(services.cache.read("funding.binance.btc")) > 0
            assert " ALERT Funding seen [funding] fired " in out.getvalue()
            assert alerts.printed == 1  # once: the condition held since, never re-armed
        finally:
            services.close()



def test_the_recorder_path_fires_what_the_back_test_lists_on_the_demo(demo_cache):
    """The shipped funding rule (five venues' settlements, each an operand read separately from
    the cache) and the squeeze rule (a derived regime), evaluated by the recorder's path over
    the stored demo from its first row: the same firings, to the moment, as `backtest`."""
    from models.alerts import backtest
    from services.alerts_files import shipped_rules
    from services.demo import DEMO_NOW_MS

    rules = [r for r in shipped_rules()
             if r.id in ("btc-funding-negative-3-venues", "btc-short-squeeze")]
    expected = backtest(rules, demo_cache)
    assert {f.rule_id for f in expected} == {r.id for r in rules}
    got: list = []
    alerts = RecorderAlerts(demo_cache, rules, alert_log=None, out=io.StringIO(),
                            clock=lambda: DEMO_NOW_MS, catch_up_ms=None)
    alerts.service._sinks.append(got.append)
    alerts.start()
    assert alerts.wait_idle(30)
    assert alerts.close(5)

    def key(f):
        return f.rule_id, f.true_since_ms, f.fired_ms

    assert sorted(map(key, got)) == sorted(map(key, expected))
    assert all(f.noticed_ms == DEMO_NOW_MS for f in got)


def test_a_derived_operand_is_recomputed_at_most_every_interval(demo_cache, monkeypatch):
    import services.headless_alerts as headless
    from services.demo import DEMO_NOW_MS

    runs: list[str] = []
    real = headless.sample_operands

    def counting(ops, loader):
        runs.extend(sorted({op.id for op in ops}))
        return real(ops, loader)

    monkeypatch.setattr(headless, "sample_operands", counting)
    rule = rule_from_json({"id": "squeeze-and-high", "name": "Squeeze and high", "when": {"all": [
        {"type": "regime_entered", "asset": "btc", "regime": "short_squeeze"},
        {"type": "above", "operand": {"series": "btc.1h", "column": "close"}, "value": 1}]}})
    alerts = RecorderAlerts(demo_cache, [rule], alert_log=None, out=io.StringIO(),
                            clock=lambda: DEMO_NOW_MS, derived_every_s=0.5)
    alerts.start()
    assert alerts.wait_idle(10)
    assert sorted(runs) == ["btc.1h", "regime.btc"]
    started = time.monotonic()
    for _ in range(3):  # three flushes storing BTC's bars: the price at once, the regime later
        alerts.stored(["btc.1h"])
        time.sleep(0.02)
    assert alerts.wait_idle(10)
    assert time.monotonic() - started >= 0.4  # the regime waited for its turn
    assert runs.count("regime.btc") == 2 and runs.count("btc.1h") >= 2
    alerts.stored(["btc.1h"])
    assert alerts.close(5)  # what waits runs on close
    assert runs.count("regime.btc") == 3


def test_an_unreadable_rules_file_stops_record_in_one_line(data_dir):
    services = open_live()
    bad = data_dir / "rules.json"
    bad.write_text("{not json")
    try:
        with pytest.raises(RecordError, match=r"--rules: .*rules\.json: not JSON \(line 1"):
            cmd_record(services, "1m", streams_factory=lambda: [], rules_path=str(bad))
    finally:
        services.close()



def test_main_record_takes_a_rules_file():
    import main

    args = main.build_parser().parse_args(["record", "--for", "1h", "--rules", "mine.json"])
    assert (args.command, args.duration, args.rules) == ("record", "1h", "mine.json")
    assert main.build_parser().parse_args(["record"]).rules is None  # the workspace's rules
