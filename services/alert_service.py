"""Live rule evaluation off the caller's thread: the window's AlertEngine and the recorder both
submit operand updates here (docs/alert-delivery.md).

- `submit(op, data)` returns at once from any thread. Updates wait in a queue keyed by operand:
  a newer update of an operand replaces the one still waiting (an `OperandSeries` holds every row
  up to its newest, and the evaluator reads only rows it has not evaluated yet, so the replaced
  one's rows are all in the newer: nothing is dropped), and operands are evaluated in the order
  they first arrived. So each input update is evaluated at most once, and a burst of updates
  costs one evaluation per operand.
- One worker thread runs the `RuleEvaluator`; firings go to the `AlertLog` first (which returns
  only the ones it had not logged, so a restart or a second process never delivers one twice),
  then to each sink in turn. A sink that raises is logged and the next sink still runs; an
  evaluation that raises is logged and the worker goes on.
- A sink may have `set_rules(rules)` (told of every rule change before the next firing) and
  `close(timeout_s)` (called by `close`). `WebhookSink` has both: it posts on its own thread, so
  a slow webhook host never holds the evaluation up.
- The evaluator's state (armed, cooldowns, last evaluated) is saved in the log after every
  firing, at most a minute apart otherwise, and on `close`; it is loaded at start under
  `state_key`, so a restart neither forgets a cooldown nor fires again what it fired.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from models.alerts import Firing, Operand, OperandSeries, Rule, RuleEvaluator
from models.series import now_ms
from services.alert_log import DEFAULT_STATE_KEY, AlertLog
from services.webhook import DEFAULT_TIMEOUT_S, DeliveryResult, send_webhook

log = logging.getLogger(__name__)

Sink = Callable[[Firing], None]
STATE_SAVE_INTERVAL_S = 60.0
#: firings older than this before the service started are history, not news: neither logged nor
#: delivered (the first evaluation of a cache reads all of it; a back-test lists those)
CATCH_UP_MS = 3_600_000
PAYLOAD_FORMAT = "rotor-alert"


class AlertService:
    def __init__(self, rules: Iterable[Rule], log: AlertLog | None, sinks: Sequence[Sink],
                 clock: Callable[[], int] = now_ms, *,
                 state_key: str = DEFAULT_STATE_KEY,
                 catch_up_ms: int | None = CATCH_UP_MS) -> None:
        self._rules = list(rules)
        self._log = log
        self._sinks = list(sinks)
        self._clock = clock
        self._state_key = state_key
        #: data time before which a firing is history (None: everything is delivered)
        self.deliver_from_ms = None if catch_up_ms is None else clock() - catch_up_ms
        self._evaluator = RuleEvaluator(self._rules)
        self._restore_state()
        self._needs = self._evaluator.needs()
        for sink in self._sinks:
            _tell_rules(sink, self._rules)
        self._cond = threading.Condition()
        self._waiting: dict[Operand, OperandSeries] = {}  # insertion order: first arrival
        self._new_rules: list[Rule] | None = None
        self._busy = False
        self._closing = False
        self._state_dirty = False
        self._state_saved_at = time.monotonic()
        #: counters for a status line and the tests
        self.stats = {"submitted": 0, "coalesced": 0, "evaluated": 0, "firings": 0,
                      "history": 0, "delivered": 0, "errors": 0, "sink_errors": 0}
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    # -- from any thread -----------------------------------------------------------------------
    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Evaluate `rules` from now on (applied on the worker, before the updates after it)."""
        rules = list(rules)
        needs = RuleEvaluator(rules).needs()
        with self._cond:
            self._new_rules = rules
            self._needs = needs
            self._cond.notify_all()

    def needs(self) -> frozenset[Operand]:
        """The operands the rules read: what a caller should submit."""
        with self._cond:
            return self._needs

    def submit(self, op: Operand, data: OperandSeries) -> None:
        """Queue `data`, the operand's values so far; returns at once."""
        with self._cond:
            if self._closing:
                log.warning("alert update for %s after close: not evaluated", op.key)
                return
            self.stats["submitted"] += 1
            if op in self._waiting:
                self.stats["coalesced"] += 1
            self._waiting[op] = data
            self._cond.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every update submitted so far is evaluated and delivered to the sinks
        (not the webhook's own thread); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._waiting or self._new_rules is not None or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout_s: float = 5.0) -> bool:
        """Evaluate what is waiting, save the state, close the sinks. True when all of it ended
        within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        done = not self._thread.is_alive()
        if done:
            self._save_state(force=True)
        for sink in self._sinks:
            closer = getattr(sink, "close", None)
            if callable(closer):
                try:
                    done = closer(max(0.0, deadline - time.monotonic())) is not False and done
                except Exception as e:  # noqa: BLE001 - one sink must not stop the others
                    log.error("alert sink %s failed to close: %s", _name(sink), _text(e))
        return done

    # -- the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._waiting or self._new_rules is not None or self._closing):
                    self._cond.wait()
                rules, self._new_rules = self._new_rules, None
                item = None
                if rules is None and self._waiting:
                    op = next(iter(self._waiting))
                    item = (op, self._waiting.pop(op))
                if rules is None and item is None:  # closing, nothing left
                    return
                self._busy = True
            try:
                if rules is not None:
                    self._apply_rules(rules)
                else:
                    self._evaluate(*item)
                self._save_state()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _apply_rules(self, rules: list[Rule]) -> None:
        try:
            self._evaluator.set_rules(rules)
        except Exception as e:  # noqa: BLE001 - the previous rules keep running
            self.stats["errors"] += 1
            log.error("alert rules not applied: %s", _text(e))
            return
        self._rules = rules
        self._state_dirty = True
        for sink in self._sinks:
            _tell_rules(sink, rules)

    def _evaluate(self, op: Operand, data: OperandSeries) -> None:
        try:
            firings = self._evaluator.on_operand(op, data, self._clock())
        except Exception:  # logged with its traceback; the next update runs
            self.stats["errors"] += 1
            log.exception("alert evaluation of %s failed", op.key)
            return
        self.stats["evaluated"] += 1
        self._state_dirty = True
        if firings and self.deliver_from_ms is not None:
            news = [f for f in firings if f.fired_ms >= self.deliver_from_ms]
            if len(news) < len(firings):
                self.stats["history"] += len(firings) - len(news)
                log.info("alerts: %d firing(s) of %s before %s are history, not delivered",
                         len(firings) - len(news), op.key, iso_utc(self.deliver_from_ms))
            firings = news
        if firings:
            self.stats["firings"] += len(firings)
            self._deliver(firings)
            self._save_state(force=True)

    def _deliver(self, firings: list[Firing]) -> None:
        new = self._log.add(firings) if self._log is not None else firings
        for firing in new:
            self.stats["delivered"] += 1
            for sink in self._sinks:
                try:
                    sink(firing)
                except Exception as e:  # noqa: BLE001 - one sink must not stop the others
                    self.stats["sink_errors"] += 1
                    log.error("alert sink %s failed on rule %r: %s", _name(sink),
                              firing.rule_id, _text(e))

    def _restore_state(self) -> None:
        if self._log is None:
            return
        state = self._log.load_state(self._state_key)
        if state is None:
            return
        try:
            self._evaluator.state_from_json(state)
        except Exception as e:  # noqa: BLE001 - a state from another version: start afresh
            log.warning("alert state %r not restored (%s); evaluating afresh",
                        self._state_key, _text(e))

    def _save_state(self, force: bool = False) -> None:
        if self._log is None or not self._state_dirty:
            return
        if not force and time.monotonic() - self._state_saved_at < STATE_SAVE_INTERVAL_S:
            return
        try:
            state = self._evaluator.state_to_json()
        except Exception as e:  # noqa: BLE001
            log.error("alert state not saved: %s", _text(e))
            return
        self._log.save_state(state, self._state_key)  # never raises; kept in memory on failure
        self._state_dirty = False
        self._state_saved_at = time.monotonic()


def _tell_rules(sink: Sink, rules: list[Rule]) -> None:
    setter = getattr(sink, "set_rules", None)
    if callable(setter):
        try:
            setter(rules)
        except Exception as e:  # noqa: BLE001
            log.error("alert sink %s refused the rules: %s", _name(sink), _text(e))


def _name(sink: object) -> str:
    return getattr(sink, "__name__", None) or type(sink).__name__


def _text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:300]


# -- the webhook sink ---------------------------------------------------------------------------
def iso_utc(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def webhook_payload(firing: Firing) -> dict[str, Any]:
    """The JSON a webhook receives. `text` and `content` carry the one-line message, the fields
    Slack and Discord show; the rest is the firing itself."""
    line = f"{firing.rule_name}: {firing.summary}"
    return {"format": PAYLOAD_FORMAT, "version": 1, "text": line, "content": line,
            "true_since": iso_utc(firing.true_since_ms), "fired": iso_utc(firing.fired_ms),
            "noticed": iso_utc(firing.noticed_ms), "firing": firing.to_json()}


DeliveryCallback = Callable[[Firing, DeliveryResult], None]


class WebhookSink:
    """Posts each firing of a rule with a webhook to the rule's URL, on a thread of its own, in
    the order they came. `on_result(firing, result)` hears how each went (on that thread)."""

    def __init__(self, *, verify: bool | str = True, timeout_s: float = DEFAULT_TIMEOUT_S,
                 on_result: DeliveryCallback | None = None,
                 send: Callable[..., DeliveryResult] = send_webhook) -> None:
        self._verify = verify
        self._timeout_s = timeout_s
        self._on_result = on_result
        self._send = send
        self._hooks: dict[str, tuple[str, dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Firing, str, dict[str, str]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)
        self._thread.start()
        self.sent = 0
        self.failed = 0

    def set_rules(self, rules: Iterable[Rule]) -> None:
        hooks = {r.id: (r.delivery.webhook_url, dict(r.delivery.webhook_headers))
                 for r in rules if r.delivery.webhook_url}
        with self._lock:
            self._hooks = hooks

    def __call__(self, firing: Firing) -> None:
        with self._lock:
            hook = self._hooks.get(firing.rule_id)
        if hook is not None:
            self._queue.put((firing, *hook))

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every firing queued so far was posted (or failed); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout_s: float = 5.0) -> bool:
        self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                firing, url, headers = item
                result = self._send(url, headers, webhook_payload(firing),
                                    timeout_s=self._timeout_s, verify=self._verify)
                if result.ok:
                    self.sent += 1
                else:
                    self.failed += 1
                if self._on_result is not None:
                    try:
                        self._on_result(firing, result)
                    except Exception as e:  # noqa: BLE001
                        log.error("webhook result callback failed: %s", _text(e))
            except Exception as e:  # noqa: BLE001 - send_webhook never raises; a fake might
                self.failed += 1
                log.error("webhook delivery failed: %s", type(e).__name__)
            finally:
                self._queue.task_done()


def webhook_sink(*, verify: bool | str = True, timeout_s: float = DEFAULT_TIMEOUT_S,
                 on_result: DeliveryCallback | None = None) -> WebhookSink:
    return WebhookSink(verify=verify, timeout_s=timeout_s, on_result=on_result)
