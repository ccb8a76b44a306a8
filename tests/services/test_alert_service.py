"""The alert service without a window: the real RuleEvaluator on a worker thread, a real alert
log file, sinks that record. Updates coalesce per operand and none is lost; firings go to the log
first, then to every sink; a failing sink or evaluation is logged and the service goes on."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

from models.alerts import Firing, Operand, OperandSeries, backtest, rule_from_json
from services.alert_log import AlertLog
from services.alert_service import (
    CATCH_UP_MS,
    PAYLOAD_FORMAT,
    AlertService,
    WebhookSink,
    webhook_payload,
)
from services.webhook import DeliveryResult
from tests.services.tls_loopback import make_ca, tls_server

HOUR = 3_600_000
NOW = 1_770_400_800_000  # 2026-02-06 18:00 UTC
CLOSE = Operand("series", "btc.1h", "close")
ETH = Operand("series", "eth.1h", "close")


def rule(rule_id: str = "hot", series: str = "btc.1h", value: float = 100.0, **extra):
    return rule_from_json({"id": rule_id, "name": rule_id.upper(),
                           "when": {"type": "above",
                                    "operand": {"series": series, "column": "close"},
                                    "value": value}, **extra})


def rows(*closes: float, last_known: int = NOW) -> OperandSeries:
    """Hourly values, the last one known at `last_known`."""
    n = len(closes)
    known = last_known - HOUR * np.arange(n - 1, -1, -1, dtype=np.int64)
    return OperandSeries(known, np.array(closes, dtype=float))


class Recorder:
    def __init__(self, alert_log: AlertLog | None = None) -> None:
        self.firings: list[Firing] = []
        self.logged_first: list[bool] = []
        self._log = alert_log
        self.rules: list = []

    def __call__(self, firing: Firing) -> None:
        if self._log is not None:
            self.logged_first.append(firing in self._log.recent())
        self.firings.append(firing)

    def set_rules(self, rules) -> None:
        self.rules = [r.id for r in rules]


@pytest.fixture
def alert_log(tmp_path):
    log = AlertLog(tmp_path / "alerts.sqlite")
    yield log
    log.close()


@pytest.fixture
def services():
    made: list[AlertService] = []
    yield made
    for service in made:
        service.close(2.0)


def start(services, *args, **kwargs) -> AlertService:
    """A service at NOW; every row is evaluated unless the test asks for a catch-up window."""
    kwargs.setdefault("clock", lambda: NOW)
    kwargs.setdefault("catch_up_ms", None)
    service = AlertService(*args, **kwargs)
    services.append(service)
    return service


def test_a_firing_is_logged_then_given_to_every_sink(services, alert_log):
    first, second = Recorder(alert_log), Recorder()
    service = start(services, [rule()], alert_log, [first, second])
    assert service.needs() == frozenset({CLOSE})
    assert first.rules == ["hot"]
    service.submit(CLOSE, rows(90, 95, 101))
    assert service.wait_idle(5)
    (fired,) = first.firings
    assert second.firings == [fired]
    assert first.logged_first == [True]
    assert fired.rule_id == "hot" and fired.fired_ms == NOW and fired.true_since_ms == NOW
    assert fired.noticed_ms == NOW
    assert alert_log.recent() == [fired]


def test_updates_waiting_for_an_operand_coalesce_and_lose_no_row(services, alert_log):
    release = threading.Event()
    blocked = threading.Event()

    def slow_sink(firing: Firing) -> None:
        if firing.rule_id == "eth":
            blocked.set()
            release.wait(5)

    got = Recorder()
    service = start(services, [rule("eth", "eth.1h"), rule("hot")], alert_log,
                    [slow_sink, got])
    service.submit(ETH, rows(50, 120))  # fires; its sink holds the worker
    assert blocked.wait(5)
    # four updates of btc while the worker is busy: the threshold is crossed in the 2nd only,
    # and is back below in the 4th; each carries every row so far
    closes = [90.0, 101.0, 102.0, 99.0]
    for n in range(1, 5):
        service.submit(CLOSE, rows(*closes[:n], last_known=NOW - (4 - n) * HOUR))
    release.set()
    assert service.wait_idle(5)
    assert service.stats["submitted"] == 5 and service.stats["coalesced"] == 3
    assert service.stats["evaluated"] == 2  # eth once, btc once: at most once per update
    hot = [f for f in got.firings if f.rule_id == "hot"]
    assert [(f.true_since_ms, f.fired_ms) for f in hot] == [(NOW - 2 * HOUR, NOW - 2 * HOUR)]


def at(*pairs: tuple[int, float]) -> OperandSeries:
    """Rows (minutes from NOW, value)."""
    return OperandSeries(np.array([NOW + m * 60_000 for m, _ in pairs], dtype=np.int64),
                         np.array([v for _, v in pairs], dtype=float))


def test_operands_waiting_together_are_evaluated_in_the_order_rows_were_known(services,
                                                                              alert_log):
    # BTC above 100 and ETH below 50 never hold at one moment: ETH dips at -50 min while BTC
    # is at 99. Fed one operand's rows after the other's, the dip would meet BTC's last 101.
    both = rule_from_json({"id": "both", "name": "Both", "when": {"all": [
        {"type": "above", "operand": CLOSE.to_json(), "value": 100},
        {"type": "below", "operand": ETH.to_json(), "value": 50}]}})
    data = {CLOSE: at((-120, 101), (-60, 99), (0, 101)),
            ETH: at((-150, 60), (-50, 40), (-10, 60))}
    assert backtest([both], None, data=data) == []
    got = Recorder()
    service = start(services, [both], alert_log, [got])
    service.submit_many(data)
    assert service.wait_idle(5)
    assert got.firings == [] and service.stats["evaluated"] == 2
    # a later moment when both hold fires as the back-test says, noticed now
    more = {CLOSE: at((-120, 101), (-60, 99), (0, 101), (60, 102)),
            ETH: at((-150, 60), (-50, 40), (-10, 60), (70, 45))}
    expected = backtest([both], None, data=more)
    assert [f.fired_ms for f in expected] == [NOW + 70 * 60_000]
    later = start(services, [both], None, [got], clock=lambda: NOW + 2 * HOUR)
    later.submit_many(more)
    assert later.wait_idle(5)
    assert [(f.true_since_ms, f.fired_ms) for f in got.firings] == \
        [(f.true_since_ms, f.fired_ms) for f in expected]
    assert got.firings[0].noticed_ms == NOW + 2 * HOUR


def test_a_failing_sink_is_logged_and_the_others_still_run(services, alert_log, caplog):
    def broken(_firing: Firing) -> None:
        raise RuntimeError("tray gone")

    got = Recorder()
    service = start(services, [rule()], alert_log, [broken, got])
    caplog.set_level(logging.ERROR)
    service.submit(CLOSE, rows(90, 101, last_known=NOW - 2 * HOUR))
    service.submit(ETH, rows(1.0))  # nothing reads it: ignored
    assert service.wait_idle(5)
    service.submit(CLOSE, rows(90, 101, 99, 105, last_known=NOW))
    assert service.wait_idle(5)
    assert len(got.firings) == 2  # the second firing after re-arming: the worker lives on
    assert service.stats["sink_errors"] == 2
    assert "alert sink broken failed on rule 'hot': RuntimeError: tray gone" in caplog.text


def test_an_evaluation_that_raises_is_logged_and_the_next_update_runs(services, alert_log,
                                                                      caplog, monkeypatch):
    got = Recorder()
    service = start(services, [rule()], alert_log, [got])
    real = service._evaluator.on_operand
    calls = []

    def flaky(op, data, now_ms):
        calls.append(op)
        if len(calls) == 1:
            raise ValueError("bad row")
        return real(op, data, now_ms)

    monkeypatch.setattr(service._evaluator, "on_operand", flaky)
    caplog.set_level(logging.ERROR)
    service.submit(CLOSE, rows(90, 95, last_known=NOW - HOUR))
    assert service.wait_idle(5)
    service.submit(CLOSE, rows(90, 95, 101))
    assert service.wait_idle(5)
    assert service.stats["errors"] == 1 and len(got.firings) == 1
    assert "alert evaluation of btc.1h:close failed" in caplog.text


def test_a_restart_continues_without_firing_again(services, tmp_path):
    path = tmp_path / "alerts.sqlite"
    first_log = AlertLog(path)
    got = Recorder()
    service = start(services, [rule(cooldown="6h")], first_log, [got])
    service.submit(CLOSE, rows(90, 101))
    assert service.wait_idle(5)
    assert service.close(2.0)
    first_log.close()
    assert len(got.firings) == 1

    again_log = AlertLog(path)
    again = Recorder()
    service = start(services, [rule(cooldown="6h")], again_log, [again],
                    clock=lambda: NOW + 2 * HOUR)
    # the same rows, then a dip and a new high inside the cooldown: nothing fires
    service.submit(CLOSE, rows(90, 101, 99, 102, last_known=NOW + 2 * HOUR))
    assert service.wait_idle(5)
    assert again.firings == []
    again_log.close()


class SharedSink(Recorder):
    once_per_log = True


def test_a_firing_already_logged_is_shown_but_posted_once(services, alert_log):
    # two evaluators (a recorder and a window) on one log, each with its own state key: both
    # show the firing (the window's tray), only the first posts it (the webhook)
    shown = [Recorder(), Recorder()]
    posted = [SharedSink(), SharedSink()]
    for key, show, post in zip(("recorder", "window"), shown, posted, strict=True):
        service = start(services, [rule()], alert_log, [show, post], state_key=key)
        service.submit(CLOSE, rows(90, 101))
        assert service.wait_idle(5)
    assert [len(s.firings) for s in shown] == [1, 1]
    assert [len(p.firings) for p in posted] == [1, 0]
    assert len(alert_log.recent()) == 1
    assert WebhookSink.once_per_log


def test_rows_known_long_before_the_start_are_history(services, alert_log):
    got = Recorder()
    service = start(services, [rule()], alert_log, [got], catch_up_ms=CATCH_UP_MS)
    assert service.deliver_from_ms == NOW - CATCH_UP_MS
    service.submit(CLOSE, rows(90, 101, 102, last_known=NOW - 2 * HOUR))
    assert service.wait_idle(5)
    assert got.firings == []  # crossed three hours before the start: a back-test shows it
    service.submit(CLOSE, rows(90, 101, 102, 99, 104, last_known=NOW))
    assert service.wait_idle(5)
    assert [f.fired_ms for f in got.firings] == [NOW]


def test_new_rules_apply_to_the_updates_after_them(services, alert_log):
    got = Recorder()
    service = start(services, [rule()], alert_log, [got])
    service.set_rules([rule("eth", "eth.1h")])
    assert service.needs() == frozenset({ETH})
    service.submit(CLOSE, rows(90, 101))
    service.submit(ETH, rows(90, 101))
    assert service.wait_idle(5)
    assert [f.rule_id for f in got.firings] == ["eth"]
    assert got.rules == ["eth"]


def test_an_update_after_close_is_refused_with_a_warning(services, alert_log, caplog):
    got = Recorder()
    service = start(services, [rule()], alert_log, [got])
    service.submit(CLOSE, rows(90, 101))
    assert service.close(2.0)  # what was waiting is evaluated first
    assert len(got.firings) == 1
    caplog.set_level(logging.WARNING)
    service.submit(CLOSE, rows(90, 101, 99, 105))
    assert "after close: not evaluated" in caplog.text


def test_the_webhook_sink_posts_only_rules_with_a_webhook(services, alert_log):
    sent: list[tuple] = []
    results: list[DeliveryResult] = []

    def fake_send(url, headers, payload, *, timeout_s, verify):
        sent.append((url, headers, payload, timeout_s, verify))
        return DeliveryResult(True, 204)

    hooks = WebhookSink(verify="/ca.pem", timeout_s=2.0, send=fake_send,
                        on_result=lambda _f, r: results.append(r))
    with_hook = rule("hook", delivery={"webhook": {"url": "https://hooks.example.com/t0ken",
                                                   "headers": {"X-Key": "k"}}})
    service = start(services, [with_hook, rule("quiet", "eth.1h")], alert_log, [hooks])
    service.submit(CLOSE, rows(90, 101))
    service.submit(ETH, rows(90, 101))
    assert service.wait_idle(5) and hooks.wait_idle(5)
    ((url, headers, payload, timeout_s, verify),) = sent
    assert (url, headers, timeout_s, verify) == ("https://hooks.example.com/t0ken",
                                                 {"X-Key": "k"}, 2.0, "/ca.pem")
    (fired,) = [f for f in alert_log.recent() if f.rule_id == "hook"]
    assert payload == webhook_payload(fired)
    assert payload["format"] == PAYLOAD_FORMAT and payload["firing"] == fired.to_json()
    assert payload["fired"] == "2026-02-06T18:00:00Z"
    assert payload["text"] == f"HOOK: {fired.summary}"
    assert results == [DeliveryResult(True, 204)]
    assert hooks.sent == 1 and hooks.failed == 0


def fired(rule_id: str = "hook") -> Firing:
    return Firing(rule_id, rule_id.upper(), NOW, NOW, NOW, "BTC 101 above 100",
                  {"btc.1h:close": 101.0}, "btc")


HOOK_RULE = rule("hook", delivery={"webhook": {"url": "https://hooks.example.com/t0ken"}})


class ScriptedSend:
    """A webhook host answering from a script, then 204s."""

    def __init__(self, *answers: DeliveryResult) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, url, headers, payload, *, timeout_s, verify) -> DeliveryResult:
        self.calls += 1
        return self.answers.pop(0) if self.answers else DeliveryResult(True, 204)


UNAVAILABLE = DeliveryResult(False, 503, "HTTP 503 (SERVICE UNAVAILABLE)", transient=True)


def test_a_transient_webhook_failure_is_tried_again():
    results: list[DeliveryResult] = []
    send = ScriptedSend(UNAVAILABLE)
    hooks = WebhookSink(send=send, retry_delays_s=(0.05, 0.05),
                        on_result=lambda _f, r: results.append(r))
    hooks.set_rules([HOOK_RULE])
    hooks(fired())
    assert hooks.wait_idle(5)
    assert send.calls == 2 and hooks.retried == 1 and hooks.sent == 1
    assert results == [DeliveryResult(True, 204)]  # the outcome, once
    assert hooks.close(1)


def test_retries_end_and_a_lasting_refusal_is_not_retried():
    results: list[DeliveryResult] = []
    send = ScriptedSend(UNAVAILABLE, UNAVAILABLE, UNAVAILABLE,
                        DeliveryResult(False, 403, "HTTP 403 (FORBIDDEN)"))
    hooks = WebhookSink(send=send, retry_delays_s=(0.02, 0.02),
                        on_result=lambda _f, r: results.append(r))
    hooks.set_rules([HOOK_RULE])
    hooks(fired())  # 503 three times: given up after two retries
    assert hooks.wait_idle(5)
    hooks(fired())  # 403: not worth another try
    assert hooks.wait_idle(5)
    assert send.calls == 4 and hooks.failed == 2 and hooks.retried == 2
    assert results == [UNAVAILABLE, DeliveryResult(False, 403, "HTTP 403 (FORBIDDEN)")]
    assert hooks.close(1)


def test_a_retry_still_waiting_at_close_is_given_up_and_said():
    results: list[DeliveryResult] = []
    send = ScriptedSend(UNAVAILABLE)
    hooks = WebhookSink(send=send, retry_delays_s=(60.0,),
                        on_result=lambda _f, r: results.append(r))
    hooks.set_rules([HOOK_RULE])
    hooks(fired())
    deadline = time.monotonic() + 5
    while hooks.retried == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert hooks.close(2) and time.monotonic() - started < 1
    assert results == [DeliveryResult(False, 503, "HTTP 503 (SERVICE UNAVAILABLE) (retry given "
                                      "up: closing)", transient=True)]
    assert hooks.failed == 1 and send.calls == 1
    hooks(fired())  # after close: nothing is queued
    assert send.calls == 1


def test_a_webhook_host_that_recovers_gets_the_post(tmp_path):
    """The real post against loopback HTTPS: 503 first, then accepted."""
    ca, ca_file = make_ca(tmp_path)
    server = tls_server(ca)
    try:
        server.expect_oneshot_request("/hook", method="POST").respond_with_data("busy", 503)
        server.expect_request("/hook", method="POST").respond_with_data("", 204)
        results: list[DeliveryResult] = []
        hooks = WebhookSink(verify=ca_file, retry_delays_s=(0.05,),
                            on_result=lambda _f, r: results.append(r))
        hooks.set_rules([rule("hook", delivery={"webhook": {"url": server.url_for("/hook")}})])
        hooks(fired())
        assert hooks.wait_idle(10)
        assert [r.status_code for _, r in server.log] == [503, 204]
        assert results == [DeliveryResult(True, 204)]
        assert hooks.close(1)
    finally:
        server.stop()
