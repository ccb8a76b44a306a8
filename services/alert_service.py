"""Live rule evaluation off the caller's thread: the window's AlertEngine and the recorder both
submit operand updates here (docs/alert-delivery.md).

- `submit(op, data)` (or `submit_many`) returns at once from any thread. Updates wait keyed by
  operand: a newer update of an operand replaces the one still waiting (an `OperandSeries`
  holds every row up to its newest, and only rows not handed to the evaluator yet are, so the
  replaced one's rows are all in the newer: nothing is dropped). The worker takes everything
  waiting at once and hands the new rows over in the order they became known, across operands
  (as the back-test meets them), each row once: a burst costs one pass, and an operand that
  waited longer is not evaluated against the others' later values.
- One worker thread runs the `RuleEvaluator`; firings go to the `AlertLog` first, then to each
  sink in turn. The log returns only the firings it had not logged: a sink with
  `once_per_log = True` (the webhook) gets only those, so the outside world hears of a firing
  once however many evaluators share the data folder (a window and the recorder); the others
  (the tray, a printed line) get every firing of this evaluator. A sink that raises is logged
  and the next sink still runs; an evaluation that raises is logged and the worker goes on.
- A sink may have `set_rules(rules)` (told of every rule change before the next firing) and
  `close(timeout_s)` (called by `close`). `WebhookSink` has both: it posts on its own thread, so
  a slow webhook host never holds the evaluation up, and tries a transient failure again.
- The evaluator's state (armed, cooldowns, last evaluated) is saved in the log after every
  firing, at most a minute apart otherwise, and on `close`; it is loaded at start under
  `state_key`, so a restart neither forgets a cooldown nor fires again what it fired.
- Rows known more than `catch_up_ms` before the start are history, not evaluated: a first start
  on a full cache does not replay last year's alerts (the back-test lists them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.alerts import Firing, Operand, OperandSeries, Rule, RuleEvaluator
from models.series import now_ms
from services.alert_log import DEFAULT_STATE_KEY, AlertLog
from services.webhook import DEFAULT_TIMEOUT_S, DeliveryResult, send_webhook

log = logging.getLogger(__name__)

Sink = Callable[[Firing], None]
STATE_SAVE_INTERVAL_S = 60.0
#: rows known longer than this before the service started are history: read (for windows and
#: levels), not evaluated; and a firing older than that (a state restored after days away) is
#: neither logged nor delivered (a back-test lists those)
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
        # rows known before that are read as history (windows, levels), not evaluated
        self._evaluator = RuleEvaluator(self._rules, start_ms=self.deliver_from_ms)
        self._needs = self._evaluator.needs()
        for sink in self._sinks:
            _tell_rules(sink, self._rules)
        self._cond = threading.Condition()
        self._waiting: dict[Operand, OperandSeries] = {}
        # per operand, the newest known time handed to the evaluator
        self._evaluated_to: dict[Operand, int] = {}
        self._new_rules: list[Rule] | None = None
        self._busy = True  # until the worker has restored the saved state
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
        self.submit_many({op: data})

    def submit_many(self, updates: Mapping[Operand, OperandSeries]) -> None:
        """Queue several operands at once (one stored batch): they are evaluated together, in
        the order their rows became known."""
        with self._cond:
            if self._closing:
                log.warning("alert update of %s after close: not evaluated",
                            ", ".join(op.key for op in updates))
                return
            for op, data in updates.items():
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
        """Evaluate what is waiting, save the state (on the worker), close the sinks (a webhook
        in flight gets what is left of `timeout_s`: the window passes a short one). Blocks up to
        `timeout_s`; True when all of it ended within it."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        done = not self._thread.is_alive()
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
        try:  # the log is a file: read here, never on the caller's (the GUI) thread
            self._restore_state()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        while True:
            with self._cond:
                while not (self._waiting or self._new_rules is not None or self._closing):
                    self._cond.wait()
                rules, self._new_rules = self._new_rules, None
                batch: dict[Operand, OperandSeries] = {}
                if rules is None:  # everything waiting, evaluated together in time order
                    batch, self._waiting = self._waiting, {}
                if rules is None and not batch:  # closing, nothing left
                    self._save_state(force=True)
                    return
                self._busy = True
            try:
                if rules is not None:
                    self._apply_rules(rules)
                else:
                    self._evaluate(batch)
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

    def _evaluate(self, batch: dict[Operand, OperandSeries]) -> None:
        now = self._clock()
        firings = self._feed(batch, now)
        self.stats["evaluated"] += len(batch)
        self._state_dirty = True
        if firings and self.deliver_from_ms is not None:
            news = [f for f in firings if f.fired_ms >= self.deliver_from_ms]
            if len(news) < len(firings):
                self.stats["history"] += len(firings) - len(news)
                log.info("alerts: %d firing(s) before %s are history, not delivered",
                         len(firings) - len(news), iso_utc(self.deliver_from_ms))
            firings = news
        if firings:
            self.stats["firings"] += len(firings)
            self._deliver(firings)
            self._save_state(force=True)

    def _feed(self, batch: dict[Operand, OperandSeries], now: int) -> list[Firing]:
        """Hand the batch's new rows to the evaluator in the order they became known.

        One operand with new rows: one call. Several (a flush that stored many series, updates
        that waited together): moment by moment, at each moment the operands with a row then
        in operand order, each call cut at that moment (`now_ms=t`), as the back-test meets
        them; without that, one operand's rows would all be evaluated against the others'
        values of before. Firings are then stamped noticed now."""
        new: dict[Operand, np.ndarray] = {}
        for op, data in batch.items():
            since = self._evaluated_to.get(op, self.deliver_from_ms)
            known = data.known_ms
            lo = 0 if since is None else int(np.searchsorted(known, since, side="right"))
            hi = int(np.searchsorted(known, now, side="right"))
            if hi > lo:
                new[op] = np.unique(known[lo:hi])
                self._evaluated_to[op] = int(known[hi - 1])
        if len(new) <= 1:
            return [f for op in new for f in self._on_operand(op, batch[op], now)]
        out: list[Firing] = []
        ops = sorted(new)
        at = {op: 0 for op in ops}
        for t in np.unique(np.concatenate(list(new.values()))).tolist():
            for op in ops:
                times = new[op]
                if at[op] < len(times) and times[at[op]] == t:
                    at[op] += 1
                    out += self._on_operand(op, batch[op], t)
        return [replace(f, noticed_ms=now) for f in out]

    def _on_operand(self, op: Operand, data: OperandSeries, until_ms: int) -> list[Firing]:
        try:
            return self._evaluator.on_operand(op, data, until_ms)
        except Exception:  # logged with its traceback; the other operands and updates go on
            self.stats["errors"] += 1
            log.exception("alert evaluation of %s failed", op.key)
            return []

    def _deliver(self, firings: list[Firing]) -> None:
        new = self._log.add(firings) if self._log is not None else firings
        first = {id(f) for f in new}
        for firing in firings:
            self.stats["delivered"] += 1
            for sink in self._sinks:
                if getattr(sink, "once_per_log", False) and id(firing) not in first:
                    continue  # another evaluator on this log delivered it already
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


#: waits before posting again after a transient failure (no connection, a timeout, 429, 5xx)
RETRY_DELAYS_S = (30.0, 300.0)


class WebhookSink:
    """Posts each firing of a rule with a webhook to the rule's URL, on a thread of its own, in
    the order they came. A transient failure is tried again after each of `retry_delays_s`
    (while later firings go on); `on_result(firing, result)` hears the final outcome (on that
    thread). Retries still waiting at `close` are given up, and logged.

    Once per alert log: a firing another evaluator on the same data folder logged first (the
    recorder, while a window is open) is not posted again."""

    once_per_log = True

    def __init__(self, *, verify: bool | str = True, timeout_s: float = DEFAULT_TIMEOUT_S,
                 on_result: DeliveryCallback | None = None,
                 send: Callable[..., DeliveryResult] = send_webhook,
                 retry_delays_s: Sequence[float] = RETRY_DELAYS_S) -> None:
        self._verify = verify
        self._timeout_s = timeout_s
        self._on_result = on_result
        self._send = send
        self._retry_delays_s = tuple(retry_delays_s)
        self._hooks: dict[str, tuple[str, dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._todo: list[_Post] = []  # first in, first out
        self._retries: list[_Post] = []  # waiting for their time
        self._posting = False
        self._closing = False
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)
        self._thread.start()

    def set_rules(self, rules: Iterable[Rule]) -> None:
        hooks = {r.id: (r.delivery.webhook_url, dict(r.delivery.webhook_headers))
                 for r in rules if r.delivery.webhook_url}
        with self._lock:
            self._hooks = hooks

    def __call__(self, firing: Firing) -> None:
        with self._cond:
            hook = self._hooks.get(firing.rule_id)
            if hook is None or self._closing:
                return
            self._todo.append(_Post(firing, hook[0], hook[1]))
            self._cond.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every firing queued so far was posted or given up (retries included);
        False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._todo or self._retries or self._posting:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout_s: float = 5.0) -> bool:
        """Post what is queued (not the retries still waiting), then stop."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    due = [p for p in self._retries if p.at <= now]
                    if self._todo or due or (self._closing and not self._todo):
                        break
                    wait = min((p.at for p in self._retries), default=now + 3600) - now
                    self._cond.wait(max(0.0, wait))
                if self._todo:
                    post = self._todo.pop(0)
                elif due:
                    post = min(due, key=lambda p: p.at)
                    self._retries.remove(post)
                else:  # closing, nothing queued: the retries still waiting are given up
                    given_up, self._retries = self._retries, []
                    self.failed += len(given_up)
                    self._cond.notify_all()
                    break
                self._posting = True
            try:
                self._post(post)
            finally:
                with self._cond:
                    self._posting = False
                    self._cond.notify_all()
        for post in given_up:
            last = post.last or DeliveryResult(False, None, "not delivered")
            self._report(post.firing, replace(last, error=f"{last.error} (retry given up: "
                                                          "closing)"))

    def _post(self, post: _Post) -> None:
        try:
            result = self._send(post.url, post.headers, webhook_payload(post.firing),
                                timeout_s=self._timeout_s, verify=self._verify)
        except Exception as e:  # noqa: BLE001 - send_webhook never raises; a fake might
            result = DeliveryResult(False, None, f"delivery failed ({type(e).__name__})")
        if not result.ok and result.transient and post.attempt < len(self._retry_delays_s):
            delay = self._retry_delays_s[post.attempt]
            log.warning("webhook of rule %r: %s; trying again in %g s", post.firing.rule_id,
                        result.error, delay)
            self.retried += 1
            with self._cond:
                if not self._closing:
                    self._retries.append(replace(post, attempt=post.attempt + 1,
                                                 at=time.monotonic() + delay, last=result))
                    return
        if result.ok:
            self.sent += 1
        else:
            self.failed += 1
        self._report(post.firing, result)

    def _report(self, firing: Firing, result: DeliveryResult) -> None:
        if self._on_result is not None:
            try:
                self._on_result(firing, result)
            except Exception as e:  # noqa: BLE001
                log.error("webhook result callback failed: %s", _text(e))


@dataclass(frozen=True)
class _Post:
    firing: Firing
    url: str
    headers: dict[str, str]
    attempt: int = 0
    at: float = 0.0
    last: DeliveryResult | None = None


def webhook_sink(*, verify: bool | str = True, timeout_s: float = DEFAULT_TIMEOUT_S,
                 on_result: DeliveryCallback | None = None) -> WebhookSink:
    return WebhookSink(verify=verify, timeout_s=timeout_s, on_result=on_result)
