"""RiskActor (singleton): the only place where signals become orders.

Batch k is decided when (a) the feed's BatchEnd(k) has arrived, (b) every signal group has sent its
SignalBatch(k) and (c) execution has settled batch k-2: the BatchGate (cluster/foundation/domain/batch_gate.py)
pipelines risk one batch ahead of execution, so batch k+1 is decided while execution works on k.
Marks and signals of the batch are merged in event-time order (actors/risk/batch.py), so the decisions
depend only on the data, never on message timing: a replay decides the same orders every time. Order
updates reach the core at batch granularity: those published up to and with Settled(j) are booked
just before batch j+2 is decided (whenever they arrived); pending orders count toward every limit
until then, so no limit can be passed in between. Every OrderBatch (empty ones too) is all execution
needs: with the in-process simulated broker it carries the batch's market data to fill against.

After a restart by Ray the actor re-runs the decided batches from the inputs the other actors retain
and takes the breaker from storage (exactly what it was); if those inputs died too (the core node was
lost) it rebuilds from storage and the broker and trades on from the feed's live edge.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

import msgspec

from actors.risk import recovery
from actors.risk.batch import apply_reports, broker_market, decide_batch, settles_at_or_before
from actors.risk.core import RiskCore
from actors.risk.liquidation import liquidation_intents
from cluster.foundation.domain.batch_gate import BatchGate
from cluster.foundation.domain.batches import BatchAssembler
from cluster.foundation.domain.records import RiskEvent
from cluster.foundation.domain.settings import Settings
from cluster.foundation.domain.wire import (
    Bar,
    OrderBatch,
    OrderIntent,
    OrderUpdate,
    Quote,
    Settled,
    Signal,
    SignalBatch,
    Trade,
)
from cluster.foundation.runtime import bus, ray_calls
from cluster.foundation.runtime.actor_base import ActorShell, EventClock
from cluster.foundation.runtime.batch_latency import BatchLatency
from cluster.foundation.runtime.metrics import (
    CIRCUIT_BREAKER_STATUS,
    DAILY_PNL_USD,
    EVENTS_IN,
    EVENTS_OUT,
    EXPOSURE_USD,
    FILLS,
    ORDERS,
    POSITIONS_OPEN,
    RISK_CHECK_SECONDS,
    RISK_REJECTIONS,
    TICK_TO_DECISION_SECONDS,
    BreakerCode,
    Metrics,
)
from cluster.foundation.runtime.observability import BusLossExporter, DatabaseProbe
from cluster.foundation.storage.factory import make_repository

MARKET = "market"  # the gate's part for the feed's batch; signal groups are parts by their names
Report = tuple[list[OrderUpdate], bool]  # a settled batch's updates and its final flag

_BREAKER_CODES = {"closed": BreakerCode.CLOSED, "reducing": BreakerCode.REDUCING, "open": BreakerCode.OPEN}


class RiskActor(ActorShell):
    name = "risk"

    def __init__(self, settings: Settings, groups: list[str]) -> None:
        super().__init__(settings)
        b = settings.bus
        self.groups = list(groups)
        self.group_schedule: list[tuple[int, list[str]]] = []
        self.clock = EventClock(replay=settings.market_data.source != "alpaca" or settings.alpaca.simulated)
        self.core = RiskCore(settings.risk, self.clock, settings.execution.client_order_prefix)
        self.repo = make_repository(settings, self.name)
        self.metrics = Metrics()
        self.db_probe = DatabaseProbe(self.repo, self.metrics)
        self.bus_loss = BusLossExporter(self.metrics, self.log, self.name)
        self.decision_latency = BatchLatency(self.metrics, TICK_TO_DECISION_SECONDS)
        self.signals_in = self.bind_channel(bus.SIGNALS, lambda addr: bus.Subscriber(
            self.ctx, addr, topics=[], bind=True, max_message_bytes=b.max_message_bytes, hwm=b.recv_hwm, fan_in=True, security=self.bus_security))
        self.md_in = self.peer_channel(bus.MARKET_DATA, bus.Subscriber(
            self.ctx, None, topics=[bus.channel_prefix(bus.MARKET_DATA)], bind=False, max_message_bytes=b.max_message_bytes, hwm=b.recv_hwm))
        self.reports_in = self.peer_channel(bus.REPORTS, bus.Subscriber(
            self.ctx, None, topics=[bus.channel_prefix(bus.REPORTS)], bind=False, max_message_bytes=b.max_message_bytes, hwm=b.recv_hwm))
        self.orders_out = self.bind_channel(bus.ORDERS, lambda addr: bus.Publisher(
            self.ctx, addr, source=self.name, bind=True, max_message_bytes=b.max_message_bytes, hwm=b.send_hwm, security=self.bus_security))
        self._waiter = bus.Waiter(self.reports_in, self.md_in, self.signals_in)
        self.gate: BatchGate[Any, Report] = BatchGate(settings.risk.pipeline_depth)
        self.carry_market = settings.execution.broker == "sim"  # the in-process simulator fills against it
        self.loose: list[OrderUpdate] = []  # published before the next Settled: booked with it
        self.final_decided = False
        self.done = False
        self.done_at = 0.0
        self.md_assembler = BatchAssembler(accept=(Bar, Quote, Trade) if self.carry_market else (Bar, Trade))
        self.orders_sent = 0
        self.signals_seen = 0
        self.events_log: deque[dict[str, Any]] = deque(maxlen=1000)
        self.sent_orders: deque[OrderBatch] = deque(maxlen=10_000)
        self._order_subscribes = 0
        self.rejections: Counter[str] = Counter()
        self.invariant_checks = 0
        self.restarted = ray_calls.was_reconstructed()
        self._check_broker_positions = False
        self.start_loop()

    def recover(self) -> None:
        if self.restarted:
            self._recover()
        else:
            self._restore_from_storage()

    # ---- control plane -------------------------------------------------------------------------

    @property
    def next_batch(self) -> int:
        return self.gate.next_batch

    def awaiting_batch(self) -> int:
        return self.next_batch

    def resume_point(self) -> tuple[int, list[OrderBatch]]:
        """For a restarted execution actor: the last settlement received and the order batches sent since."""
        settled = self.gate.settled
        return settled, [ob for ob in list(self.sent_orders) if ob.batch > settled]

    def ready(self) -> bool:
        return self.orders_out.wait_for_subscribers(bus.channel_prefix(bus.ORDERS), 1, timeout_s=0.1)

    def set_groups(self, groups: list[str], from_batch: int) -> None:
        """From batch `from_batch` on, these groups answer (re-partitioning while trading)."""
        if from_batch < self.next_batch:
            raise ValueError(f"batch {from_batch} is already decided (next is {self.next_batch})")
        self.group_schedule.append((from_batch, list(groups)))
        self.group_schedule.sort(key=lambda e: e[0])

    def groups_for(self, batch: int) -> list[str]:
        current = self.groups
        for start, groups in self.group_schedule:
            if start <= batch:
                current = groups
        return current

    def snapshot(self) -> dict[str, Any]:
        return self.run_in_loop(self._snapshot)

    def _snapshot(self) -> dict[str, Any]:
        snap = self.core.snapshot()
        snap.update(
            next_batch=self.next_batch, settled=self.gate.settled, done=self.done, done_at=self.done_at, orders_sent=self.orders_sent,
            signals_seen=self.signals_seen, groups=self.groups_for(self.next_batch),
            rejections=dict(self.rejections), restarted=self.restarted, invariant_checks=self.invariant_checks,
            bus={"signals": bus.stats_dict(self.signals_in.stats), "market_data": bus.stats_dict(self.md_in.stats),
                 "reports": bus.stats_dict(self.reports_in.stats), "orders": bus.stats_dict(self.orders_out.stats)},
            failure=self.failure, waiting_for=self.waiting_for(), **self.shell_stats(),
        )
        return snap

    def waiting_for(self) -> list[str]:
        """What batch `next_batch` still waits for (empty when it can be decided)."""
        k = self.next_batch
        named = {MARKET: f"market data batch {k}"} | {g: f"signals of {g} for batch {k}" for g in self.groups_for(k)}
        return [named.get(m, m.replace("settled", "settlement of batch")) for m in self.gate.missing(named)]

    def trip(self, by: str, reason: str) -> dict[str, Any]:
        return self.run_in_loop(lambda: self._breaker_change(self.core.trip, by, reason))

    def reset(self, by: str, reason: str) -> dict[str, Any]:
        return self.run_in_loop(lambda: self._breaker_change(self.core.reset, by, reason))

    def kill(self, by: str, reason: str, flatten: bool) -> list[OrderIntent]:
        """Halt (breaker OPEN) and, with flatten, the reduce-only market orders that close every position."""
        def do() -> list[OrderIntent]:
            if self.core.breaker.state != "open":
                self._breaker_change(self.core.trip, by, f"kill switch: {reason}")
            intents = liquidation_intents(self.core, by, time.time_ns()) if flatten else []
            for intent in intents:
                self.repo.record_risk_event(RiskEvent(
                    event_type="kill_flatten", severity="critical", message=f"flatten {intent.symbol} by {by}",
                    occurred_at_ns=time.time_ns(), metadata={"client_order_id": intent.client_order_id}))
            return intents
        return self.run_in_loop(do)

    def recent_events(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.events_log)[-limit:][::-1]

    def _breaker_change(self, change: Any, by: str, reason: str) -> dict[str, Any]:
        moved = change(by, reason)
        self._record_events()
        self.repo.save_breaker(self.core.breaker.to_record())
        self.metrics.set(CIRCUIT_BREAKER_STATUS, float(_BREAKER_CODES[self.core.breaker.state]))
        return {"from": moved.from_state, "to": moved.to_state, "by": by, "reason": reason}

    def flush(self) -> None:
        self._save_state()
        self.repo.flush()

    def close(self) -> None:
        self.stop()
        self.flush()
        self.repo.close()
        for s in (self.signals_in, self.md_in, self.reports_in):
            s.close()
        self.orders_out.close()

    # ---- data plane ----------------------------------------------------------------------------

    def step(self) -> None:
        got = False
        events_in = 0
        if self.orders_out.poll_subscriptions() and self.orders_out.stats.subscribe_frames > self._order_subscribes:
            self._order_subscribes = self.orders_out.stats.subscribe_frames  # execution (re)subscribed:
            if missed := [ob for ob in self.sent_orders if ob.batch > self.gate.settled]:  # what it may have missed
                self.orders_out.send(bus.topic(bus.ORDERS, "batch"), missed)
        for sub in (self.reports_in, self.md_in, self.signals_in):
            for _, env in sub.recv(timeout_ms=0):
                got = True
                events_in += len(env.items)
                if sub is self.reports_in and settles_at_or_before(env.items, self.gate.settled):
                    continue  # a settlement already here (re-run after a restart)
                if sub is self.md_in:
                    for end, items in self.md_assembler.add(env):
                        self.gate.offer(end.batch, MARKET, (items, end.final))
                        if end.batch >= self.next_batch:
                            self.decision_latency.arrived(end.batch)
                    continue
                for item in env.items:
                    self._on_item(item)
        if events_in:  # counted once per step, not per envelope (a batch is many envelopes)
            self.metrics.inc(EVENTS_IN, events_in, actor=self.name)
        while self._try_decide():
            got = True
        if self.final_decided:  # no decision waits for reports any more
            for j, report in self.gate.drain():
                self._apply_settlement(j, report)
            if self.loose and self.gate.applied == self.gate.settled:  # late reports after the last batch
                self._apply_updates(self.loose, live=True)
                self.loose = []
        if not got:
            self._waiter.wait(5)

    def _on_item(self, item: object) -> None:
        if isinstance(item, SignalBatch):
            self.gate.offer(item.batch, item.group, item)
        elif isinstance(item, OrderUpdate):
            self.loose.append(item)
        elif isinstance(item, Settled):
            updates, self.loose = self.loose, []
            self.gate.settle(item.batch, (updates, item.final))
            while self.sent_orders and self.sent_orders[0].batch <= self.gate.settled:
                self.sent_orders.popleft()  # a restarted execution resumes after the last settlement here

    def _try_decide(self) -> bool:
        k = self.next_batch
        groups = self.groups_for(k)
        release = self.gate.release([MARKET, *groups])
        if release is None:
            return False
        for j, report in release.reports:
            self._apply_settlement(j, report)
        items, final = release.parts[MARKET]
        signals = [s for g in groups for s in release.parts[g].signals]
        orders = self._decide(k, items, signals)
        market = broker_market(items, self.core.symbols_in_play()) if self.carry_market else []
        batch = OrderBatch(k, orders, final, market, self.decision_latency.arrived_wall_ns(k))
        self.final_decided = self.final_decided or final
        self.sent_orders.append(batch)
        self.orders_out.send(bus.topic(bus.ORDERS, "batch"), [batch])
        self.decision_latency.done(k)
        self.metrics.inc(EVENTS_OUT, 1, actor=self.name)
        self.orders_sent += len(orders)
        self._record_events()
        self.db_probe.sample()
        self.bus_loss.export({"signals": self.signals_in.stats, "market_data": self.md_in.stats,
                              "reports": self.reports_in.stats}, {"orders": self.orders_out.stats})
        return True

    def _decide(self, k: int, market: list[Any], signals: list[Signal]) -> list[OrderIntent]:
        t0 = time.perf_counter()
        self.signals_seen += len(signals)
        decision = decide_batch(self.core, self.clock, k, market, signals)
        by_rule = Counter(r.rule for r in decision.rejections)
        self.rejections.update(by_rule)
        for rule, n in by_rule.items():  # one metric call per rule and batch
            self.metrics.inc(RISK_REJECTIONS, n, reason=rule)
        for r in decision.rejections:
            self.log.info("risk rejected a %s signal: %s", r.symbol, r.rule,
                          extra={"actor": self.name, "symbol": r.symbol, "correlation_id": f"batch-{k}"})
        if signals:
            self.metrics.observe(RISK_CHECK_SECONDS, time.perf_counter() - t0)
        return decision.orders

    def _apply_updates(self, updates: list[OrderUpdate], live: bool) -> None:
        applied = apply_reports(self.core, updates, self.settings.risk.check_invariants)
        self.invariant_checks += applied.invariant_checks  # a repeated report (after a restart) books nothing
        if live:
            for update in updates:
                self.metrics.inc(ORDERS, status=update.status)
            self.metrics.inc(FILLS, len(applied.booked))

    def _apply_settlement(self, batch: int, report: Report) -> None:
        updates, final = report
        self._apply_updates(updates, live=True)
        self._after_settlement(final)

    def _after_settlement(self, final: bool) -> None:
        if self._check_broker_positions:  # at the first settlement with none of our orders working
            self._check_broker_positions = not recovery.try_adopt_from_broker(
                self.settings.ray.namespace, self.core, self.repo, self.clock())
        self._record_events()
        self._save_state()
        snap_exposure = float(self.core.portfolio.exposure())
        self.metrics.set(EXPOSURE_USD, snap_exposure)
        self.metrics.set(POSITIONS_OPEN, float(len(self.core.portfolio.open_symbols())))
        self.metrics.set(DAILY_PNL_USD, float(self.core.portfolio.day_total_pnl()))
        self.metrics.set(CIRCUIT_BREAKER_STATUS, float(_BREAKER_CODES[self.core.breaker.state]))
        if final:
            self.done = True
            self.done_at = time.time()
            self.repo.flush()

    # ---- storage -------------------------------------------------------------------------------

    def _record_events(self) -> None:
        events = self.core.drain_events()
        for ev in events:
            self.repo.record_risk_event(ev)
            self.events_log.append(msgspec.to_builtins(ev))
            if ev.event_type.startswith("breaker"):
                self.repo.save_breaker(self.core.breaker.to_record())
                self.log.warning("breaker %s: %s", ev.event_type, ev.message,
                                 extra={"actor": self.name, "correlation_id": f"breaker:{self.core.breaker.state}"})

    def _save_state(self) -> None:
        now = self.clock()
        self.repo.save_positions(self.core.portfolio.positions(), now)
        self.repo.save_daily_pnl(self.core.portfolio.daily_pnl_row())

    def _restore_from_storage(self) -> None:
        restored = recovery.restore_from_storage(self.core, self.repo, replay=self.clock.replay, now_ns=self.clock())
        if restored:
            self.log.warning("restored from storage: %s", restored)

    def _recover(self) -> None:
        """Re-run the batches already decided, from inputs the other actors retain."""
        ns = self.settings.ray.namespace
        execution = ray_calls.get_actor("execution", ns)
        md = ray_calls.get_actor("market_data", ns)
        if execution is None or md is None:
            recovery.restore_breaker(self.core, self.repo)  # logs what it took
            return
        if not self.orders_out.wait_for_subscribers(bus.channel_prefix(bus.ORDERS), 1, timeout_s=30):
            self.log.warning("restarted risk: execution not re-subscribed to the new orders socket after 30 s")
        schedule = recovery.group_schedule(self.settings)
        if schedule:  # re-partitioned since this actor was created: the current schedule, not the ctor's
            self.groups, self.group_schedule = schedule[0][1], schedule[1:]
        upto = int(ray_calls.call(execution, "last_order_batch"))
        if recovery.lost_with_execution(ns):
            self._rebuild(ns)
            return
        retired = recovery.retired_groups(ns, schedule, upto)  # their signals are gone: re-run marks and fills only
        groups = sorted({g for _, gs in schedule for g in gs} - set(retired) or set(self.groups))
        inputs = recovery.rerun_inputs(ns, groups, upto)
        ran = recovery.rerun(self.core, self.clock, self.gate, inputs, upto, bool(retired), self.settings.risk.check_invariants)
        self.orders_sent += ran.orders
        self.signals_seen += ran.signals
        self.invariant_checks += ran.invariant_checks
        self.final_decided = ran.final_decided
        if retired:  # what is pending is what the intent log holds open, not what a partial re-run approved
            self.core.restore(self.core.portfolio.positions(), self.core.portfolio.daily_pnl_row(),
                              self.core.breaker.to_record(), self.repo.open_intents())
        self.core.drain_events()  # recorded before the restart already
        for k, (items, final) in inputs.later_marks.items():  # published while this actor was down
            self.gate.offer(k, MARKET, (items, final))
        for sb in inputs.later_signals:
            self.gate.offer(sb.batch, sb.group, sb)
        recovery.restore_breaker(self.core, self.repo)  # logs what it took
        self.log.warning("risk restarted: re-ran %d batches; next batch %d", upto, self.next_batch,
                         extra={"actor": self.name, "correlation_id": f"restart:batch-{self.next_batch}"})

    def _rebuild(self, ns: str) -> None:
        self._restore_from_storage()
        edge = recovery.feed_edge(ns, self.settings.bus.connect_timeout_s)
        self.gate.restart_at(edge + 1, edge)
        for sb in recovery.signals_after(ns, self.groups_for(edge + 1), edge):
            self.gate.offer(sb.batch, sb.group, sb)
        # the books take the broker's positions before the first decision when no order of ours is working
        self._check_broker_positions = not recovery.try_adopt_from_broker(ns, self.core, self.repo, self.clock())
        self.log.warning("risk rebuilt from storage and the broker; trading on from batch %d", self.next_batch)
