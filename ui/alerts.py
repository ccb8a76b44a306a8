"""Alerts in the window: the rules of the workspace evaluated on the data the docks draw.

`AlertEngine` watches the inputs of the enabled rules: stored series through the store's
`livePublished` (also what a replay holds back), derived quantities (gamma flip, regime,
decoupling …) through the same derived feeds the docks subscribe to. Each update becomes an
`OperandSeries` on a worker and is handed to the `AlertService` (services/alert_service.py),
whose own thread evaluates the rules (models/alerts.py `RuleEvaluator`) and writes firings to
the alert log. Firings come back to
the GUI thread by a queued signal: the tray notification or status-bar message, the sound, the
alert log dock.

The engine also keeps the last back-test (the rule editor's "Back-test" button) for the price
chart's markers, and announces every firing it knows, live, logged or back-tested, as
`eventsChanged([(ms, label), ...])` so replay can step to them (docs/alerts.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from models.alert_operands import series_operand
from models.alerts import (
    Firing,
    Operand,
    OperandSeries,
    Rule,
    RuleBook,
    operand_from_result,
    rule_operands,
)
from models.derived import DERIVED
from ui.derived_feeds import SHARED_DEFAULTS, DerivedFeeds, Subscription
from ui.scheduler import Scheduler
from ui.store import DataStore
from ui.time_link import TimeLink

log = logging.getLogger(__name__)

#: firings the log dock keeps in memory (the log file keeps them all)
RECENT_LIMIT = 500
#: how often the alert log file is read again: the recorder (`main.py record`) may add to it
LOG_RELOAD_MS = 60_000
#: the evaluator state the window saves in the log (the recorder keeps its own)
WINDOW_STATE_KEY = "window"
#: what closing waits for the service's thread (its queue is in memory: nothing is lost that
#: the next start would not evaluate again from the cache)
CLOSE_TIMEOUT_S = 0.1


def firing_key(firing: Firing) -> tuple[str, int]:
    """One firing, as the alert log keys it (services/alert_log.py)."""
    return firing.rule_id, firing.fired_ms


def feed_params(analysis: str, params: dict[str, Any]) -> dict[str, Any]:
    """A derived quantity's parameters without those the docks share (positioning, rotation
    window …): the alert reads the feed the docks draw, with the trader's choices."""
    shared = SHARED_DEFAULTS.get(analysis, {})
    return {k: v for k, v in params.items() if k not in shared}




class AlertEngine(QObject):
    #: a firing arrived from the service (GUI thread), after the log has it
    fired = Signal(object)
    #: the firings shown in the log dock changed (a new one, the log file read)
    firingsChanged = Signal()
    #: every firing known, as (fired ms, label), oldest first: replay's "next event"
    eventsChanged = Signal(list)
    #: the rules in force changed (the enabled ones are on watch)
    rulesChanged = Signal()
    #: the last back-test's firings changed (the price chart's markers)
    backtestChanged = Signal()
    #: a webhook post failed: (rule name, what happened), for the status bar
    webhookFailed = Signal(str, str)
    #: emitted on the service's thread; queued to the GUI thread (a cross-thread signal)
    _arrived = Signal(object)
    #: emitted on the webhook thread: (firing, services.webhook.DeliveryResult)
    _webhook_done = Signal(object, object)

    def __init__(self, book: RuleBook, store: DataStore, feeds: DerivedFeeds,
                 scheduler: Scheduler, time_link: TimeLink,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.book = book
        self.store = store
        self.feeds = feeds
        self.scheduler = scheduler
        self.time_link = time_link
        self.service: Any = None  # services.alert_service.AlertService, once services are up
        self._log_path: Any = None  # the alert log file the service writes
        self._log: Any = None
        self._firings: dict[tuple[str, int], Firing] = {}
        self._backtest: list[Firing] = []
        self._backtest_rules: tuple[str, ...] = ()
        self._series_ops: dict[str, list[Operand]] = {}
        self._derived_ops: dict[str, list[Operand]] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._closed = False
        self._arrived.connect(self._on_arrived)
        self._webhook_done.connect(self._on_webhook_done)
        self._rules_soon = QTimer(self)
        self._rules_soon.setSingleShot(True)
        self._rules_soon.setInterval(0)
        self._rules_soon.timeout.connect(self._apply_rules)
        self._reload = QTimer(self)
        self._reload.setInterval(LOG_RELOAD_MS)
        self._reload.timeout.connect(self.read_log)
        book.add_listener(self._rules_soon.start)
        # live publications, also those held back while the window replays a moment
        store.livePublished.connect(self._on_series_changed)
        scheduler.servicesReady.connect(self._on_services_ready)
        if scheduler.services is not None:
            self._on_services_ready(scheduler.services)

    # -- the rules ------------------------------------------------------------------------------
    def rules(self) -> list[Rule]:
        return list(self.book.rules)

    def enabled_rules(self) -> list[Rule]:
        return [r for r in self.book.rules if r.enabled]

    def _apply_rules(self) -> None:
        """The rule book changed: the service gets the enabled rules, the engine follows their
        inputs, and what is loaded of them now is evaluated at once."""
        if self._closed:
            return
        rules = self.enabled_rules()
        if self.service is not None:
            self.service.set_rules(rules)
        operands: set[Operand] = set()
        for rule in rules:
            operands |= rule_operands(rule)
        self._series_ops = {}
        self._derived_ops = {}
        for op in sorted(operands, key=lambda o: (o.kind, o.id, o.column)):
            table = self._series_ops if op.kind == "series" else self._derived_ops
            table.setdefault(op.id, []).append(op)
        unwatched = [i for i in self._series_ops if i not in self.scheduler.tracker.watched]
        if unwatched:  # a rule on a series no dock shows: keep it fresh too
            self.scheduler.watch_more(unwatched)
        self._follow_derived()
        if self.service is not None:
            for series_id in self._series_ops:
                self._on_series_changed(series_id)
        self.rulesChanged.emit()

    def _follow_derived(self) -> None:
        for derived_id in list(self._subscriptions):
            if derived_id not in self._derived_ops:
                self._subscriptions.pop(derived_id).close()
        for derived_id in self._derived_ops:
            if derived_id in self._subscriptions or derived_id not in DERIVED:
                continue
            spec = DERIVED[derived_id]
            self._subscriptions[derived_id] = self.feeds.subscribe(
                spec.analysis, lambda result, d=derived_id: self._on_result(d, result),
                **feed_params(spec.analysis, dict(spec.params)))

    # -- inputs -> the service --------------------------------------------------------------------
    @Slot(str)
    def _on_series_changed(self, series_id: str) -> None:
        ops = self._series_ops.get(series_id)
        data = self.store.newest_series(series_id)
        if not ops or data is None or self.service is None or self._closed:
            return
        for op in ops:
            self.scheduler.run(f"alert-operand:{op.id}:{op.column}", series_operand, op, data,
                               on_result=lambda sampled, o=op: self._submit(o, sampled),
                               on_error=lambda exc, o=op: self._failed(o, exc))

    def _on_result(self, derived_id: str, result: Any) -> None:
        ops = self._derived_ops.get(derived_id, [])
        if self.service is None or self._closed or self.store.replaying:
            return  # a replayed moment's result: the feed recomputes live on leaving replay
        for op in ops:
            self.scheduler.run(f"alert-operand:{op.id}:{op.column}", operand_from_result, op,
                               result,
                               on_result=lambda sampled, o=op: self._submit(o, sampled),
                               on_error=lambda exc, o=op: self._failed(o, exc))

    def _submit(self, op: Operand, sampled: OperandSeries) -> None:
        # The latest sample per operand arrives here (the job runner drops superseded ones), in
        # order: the service's queue coalesces per operand and evaluates on its own thread.
        if self.service is not None and not self._closed:
            self.service.submit(op, sampled)

    def _failed(self, op: Operand, exc: Exception) -> None:
        log.error("alert input %s:%s could not be read", op.id, op.column, exc_info=exc)

    # -- the service and the log ------------------------------------------------------------------
    @Slot(object)
    def _on_services_ready(self, services: Any) -> None:
        """Open the service on the services' log; leaving the demo (Go live) closes the demo's
        and forgets its firings: none of them may show in the live log."""
        if self._closed or self._log_path == alert_log_path(services):
            return
        if self.service is not None:
            old, self.service, self._log = self.service, None, None
            self._reload.stop()
            self.scheduler.run("alerts:close", old.close, CLOSE_TIMEOUT_S,
                               on_result=lambda _done: None)
            self._firings.clear()
            self.firingsChanged.emit()
            self._emit_events()
        self._log_path = alert_log_path(services)
        self.scheduler.run("alerts:open", self._open_service, services, self.enabled_rules(),
                           on_result=self._on_service_open,
                           on_error=lambda exc: log.error("alert service not started",
                                                          exc_info=exc))

    def _open_service(self, services: Any, rules: list[Rule]) -> tuple[Any, Any, list[Firing]]:
        """On a worker: the log file is opened and read here (I/O), the service starts. Its
        clock is the window's (the demo's own "now" in demo mode): firings older than an hour
        before it are history, listed by a back-test, not delivered."""
        from services.alert_log import AlertLog
        from services.alert_service import AlertService, webhook_sink

        alert_log = AlertLog(alert_log_path(services))
        webhooks = webhook_sink(on_result=lambda firing, result:
                                self._webhook_done.emit(firing, result))
        service = AlertService(rules, alert_log, [self._arrived.emit, webhooks],
                               self.scheduler.now_ms, state_key=WINDOW_STATE_KEY)
        try:
            recent = alert_log.recent(RECENT_LIMIT)
        except Exception as e:  # noqa: BLE001  (AlertLogError: the service still runs)
            log.warning("alert log not read: %s", e)
            recent = []
        return service, alert_log, recent

    def _on_service_open(self, opened: tuple[Any, Any, list[Firing]]) -> None:
        service, alert_log, recent = opened
        if self._closed or alert_log.path != self._log_path:  # closed, or left the demo since
            service.close(CLOSE_TIMEOUT_S)
            return
        self.service, self._log = service, alert_log
        self._merge(recent)
        self._reload.start()
        self._apply_rules()

    def read_log(self) -> None:
        """Read the log file again on a worker (the recorder may have added firings)."""
        if self._log is None or self._closed:
            return
        self.scheduler.run("alerts:log", self._log.recent, RECENT_LIMIT, on_result=self._merge,
                           on_error=lambda exc: log.warning("alert log not read: %s", exc))

    def _merge(self, firings: Iterable[Firing]) -> None:
        added = False
        for firing in firings:
            key = firing_key(firing)
            if key not in self._firings:
                self._firings[key] = firing
                added = True
        if added:
            self.firingsChanged.emit()
            self._emit_events()

    @Slot(object)
    def _on_arrived(self, firing: Firing) -> None:
        if self._closed:
            return
        self._merge([firing])
        self.fired.emit(firing)

    @Slot(object, object)
    def _on_webhook_done(self, firing: Firing, result: Any) -> None:
        if not result.ok:  # the error text is secret-free (services/webhook.py)
            self.webhookFailed.emit(firing.rule_name, result.error or f"HTTP {result.status}")

    def firings(self) -> list[Firing]:
        """The firings the log dock lists, newest first."""
        return sorted(self._firings.values(), key=lambda f: (f.fired_ms, f.rule_id),
                      reverse=True)

    # -- back-test ------------------------------------------------------------------------------
    def set_backtest(self, rule_ids: Sequence[str], firings: Sequence[Firing]) -> None:
        self._backtest_rules = tuple(rule_ids)
        self._backtest = sorted(firings, key=lambda f: f.fired_ms)
        self.backtestChanged.emit()
        self._emit_events()

    def backtest_firings(self) -> list[Firing]:
        return list(self._backtest)

    # -- replay and jumps -------------------------------------------------------------------------
    def firing_times(self) -> list[tuple[int, str]]:
        """(fired ms, label) of every firing known, oldest first: logged ones, then the last
        back-test's (labelled so), one entry per moment and label."""
        events = {(f.fired_ms, f.rule_name) for f in self._firings.values()}
        events |= {(f.fired_ms, f"{f.rule_name} (back-test)") for f in self._backtest}
        return sorted(events)

    def _emit_events(self) -> None:
        self.eventsChanged.emit(self.firing_times())

    def jump_to(self, ms: int) -> None:
        """The charts show the moment `ms`: the time cursor there, each time chart centred."""
        self.time_link.jump_to(ms / 1000)

    def close(self) -> None:
        """The window closes: stop following, let the service's thread go."""
        if self._closed:
            return
        self._closed = True
        self._reload.stop()
        self.book.remove_listener(self._rules_soon.start)
        for sub in self._subscriptions.values():
            sub.close()
        self._subscriptions.clear()
        if self.service is not None:
            self.service.close(CLOSE_TIMEOUT_S)


def alert_log_path(services: Any) -> Any:
    """The alert log beside the cache; the demo's own, so its firings never mix with live."""
    from services.alert_log import ALERT_LOG_FILE

    name = "alerts-demo.sqlite" if services.demo else ALERT_LOG_FILE
    return services.data_dir / name
