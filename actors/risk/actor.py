"""RiskActor (singleton): the only place where signals become orders.

Batch k is decided when (a) the feed's BatchEnd(k) has arrived, (b) every signal group has sent its
SignalBatch(k) and (c) execution has settled batch k-1. Marks and signals of the batch are merged in
event-time order (a bar's mark before the signal taken on it), so the decisions depend only on the
data, never on message timing: a replay decides the same orders every time. Fills reach the core
at batch granularity (after the batch they happened in); pending orders count toward every limit
until then, so no limit can be passed in between.

After a restart by Ray the actor re-runs the decided batches from the inputs the other actors retain
and takes the breaker from storage (exactly what it was); if those inputs died too (the core node was
lost) it rebuilds from storage and the broker and trades on from the feed's live edge.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Any

import msgspec

from actors.risk.core import Approved, RiskCore
from actors.risk.liquidation import liquidation_intents
from cluster.foundation import bus, ray_calls
from cluster.foundation.actor_base import ActorShell, EventClock
from cluster.foundation.batch_latency import BatchLatency
from cluster.foundation.batches import BatchAssembler
from cluster.foundation.metrics import (
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
from cluster.foundation.observability import BusLossExporter, DatabaseProbe
from cluster.foundation.records import RiskEvent
from cluster.foundation.settings import Settings
from cluster.foundation.storage import make_repository
from cluster.foundation.wire import (
    Bar,
    OrderBatch,
    OrderIntent,
    OrderUpdate,
    Settled,
    Signal,
    SignalBatch,
    Trade,
)

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
        self.next_batch = 1
        self.settled = 0
        self.done = False
        self.done_at = 0.0
        self.md_assembler = BatchAssembler(accept=(Bar, Trade))
        self.md_batches: dict[int, tuple[list[Bar | Trade], bool]] = {}
        self.signal_batches: dict[int, dict[str, SignalBatch]] = defaultdict(dict)
        self.orders_sent = 0
        self.signals_seen = 0
        self.events_log: deque[dict[str, Any]] = deque(maxlen=1000)
        self.sent_orders: deque[OrderBatch] = deque(maxlen=10_000)
        self.rejections: dict[str, int] = defaultdict(int)
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

    def awaiting_batch(self) -> int:
        return self.next_batch

    def resume_point(self) -> tuple[int, list[OrderBatch]]:
        """For a restarted execution actor: the last settled batch and the order batches sent since."""
        return self.settled, [ob for ob in list(self.sent_orders) if ob.batch > self.settled]

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
            next_batch=self.next_batch, settled=self.settled, done=self.done, done_at=self.done_at, orders_sent=self.orders_sent,
            signals_seen=self.signals_seen, groups=self.groups_for(self.next_batch),
            rejections=dict(self.rejections), restarted=self.restarted, invariant_checks=self.invariant_checks,
            bus={"signals": bus.stats_dict(self.signals_in.stats), "market_data": bus.stats_dict(self.md_in.stats),
                 "reports": bus.stats_dict(self.reports_in.stats), "orders": bus.stats_dict(self.orders_out.stats)},
            failure=self.failure, waiting_for=self.waiting_for(), phase=self.lifecycle.phase,
        )
        return snap

    def waiting_for(self) -> list[str]:
        """What batch `next_batch` still waits for (empty when it can be decided)."""
        k = self.next_batch
        out = [] if k in self.md_batches else [f"market data batch {k}"]
        got = self.signal_batches.get(k, {})
        out += [f"signals of {g} for batch {k}" for g in self.groups_for(k) if g not in got]
        if self.settled < k - 1:
            out.append(f"settlement of batch {k - 1}")
        return out

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
        self._persist_breaker()
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
        for sub in (self.reports_in, self.md_in, self.signals_in):
            for _, env in sub.recv(timeout_ms=0):
                got = True
                self.metrics.inc(EVENTS_IN, len(env.items), actor=self.name)
                if sub is self.reports_in and _settles_at_or_before(env.items, self.settled):
                    continue  # a settlement already applied (re-run after a restart)
                if sub is self.md_in:
                    for end, items in self.md_assembler.add(env):
                        if end.batch >= self.next_batch:
                            self.md_batches.setdefault(end.batch, (items, end.final))
                            self.decision_latency.arrived(end.batch)
                    continue
                for item in env.items:
                    self._on_item(item)
        while self._try_decide():
            got = True
        if not got:
            self._waiter.wait(5)

    def _on_item(self, item: object) -> None:
        if isinstance(item, SignalBatch):
            if item.batch >= self.next_batch:
                self.signal_batches[item.batch].setdefault(item.group, item)
        elif isinstance(item, OrderUpdate):
            self._apply_update(item, live=True)
        elif isinstance(item, Settled):
            self.settled = max(self.settled, item.batch)
            self._after_settlement(item)

    def _try_decide(self) -> bool:
        k = self.next_batch
        if k not in self.md_batches or self.settled < k - 1:
            return False
        got = self.signal_batches.get(k, {})
        groups = self.groups_for(k)
        if any(g not in got for g in groups):
            return False
        marks, final = self.md_batches.pop(k)
        signals = [s for g in groups for s in got[g].signals]
        self.signal_batches.pop(k, None)
        orders = self._decide(k, marks, signals)
        batch = OrderBatch(k, orders, final)
        self.sent_orders.append(batch)
        self.orders_out.send(bus.topic(bus.ORDERS, "batch"), [batch])
        self.decision_latency.done(k)
        self.metrics.inc(EVENTS_OUT, 1, actor=self.name)
        self.orders_sent += len(orders)
        self.next_batch = k + 1
        self._record_events()
        self.db_probe.sample()
        self.bus_loss.export({"signals": self.signals_in.stats, "market_data": self.md_in.stats,
                              "reports": self.reports_in.stats}, {"orders": self.orders_out.stats})
        return True

    def _decide(self, k: int, marks: list[Bar | Trade], signals: list[Signal]) -> list[OrderIntent]:
        """Marks and signals in event-time order; a mark precedes a signal with the same time."""
        t0 = time.perf_counter()
        self.signals_seen += len(signals)
        events: list[tuple[int, int, str, Bar | Trade | Signal]] = [(m.ts_ns, 0, m.symbol, m) for m in marks]
        events += [(s.ts_ns, 1, s.symbol, s) for s in signals]
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        orders: list[OrderIntent] = []
        for ts, _, _, ev in events:
            self.clock.advance(ts)
            if isinstance(ev, Bar):
                self.core.on_price(ev.symbol, ev.close, ev.ts_ns)
            elif isinstance(ev, Trade):
                self.core.on_price(ev.symbol, ev.price, ev.ts_ns)
            else:
                decision = self.core.check(ev)
                if isinstance(decision, Approved):
                    orders.append(decision.intent)
                else:
                    self.rejections[decision.rule] += 1
                    self.metrics.inc(RISK_REJECTIONS, reason=decision.rule)
                    self.log.info("risk rejected a %s signal: %s", ev.symbol, decision.rule,
                                  extra={"actor": self.name, "symbol": ev.symbol, "correlation_id": f"batch-{k}"})
        self.core.tick(self.clock())
        orders += self.core.follow_up(k)  # slices, exits whose entry has filled since, targets a limit held back
        self.core.check_stale_book(self.clock())
        if signals:
            self.metrics.observe(RISK_CHECK_SECONDS, time.perf_counter() - t0)
        return orders

    def _apply_update(self, update: OrderUpdate, live: bool) -> None:
        booked_before = self.core.fill_count
        self.core.on_order_update(update)
        booked = self.core.fill_count > booked_before  # a repeated report (after a restart) books nothing
        if booked and self.settings.risk.check_invariants:
            self.core.portfolio.check_invariants()
            self.invariant_checks += 1
        if live:
            self.metrics.inc(ORDERS, status=update.status)
            if booked:
                self.metrics.inc(FILLS)

    def _after_settlement(self, settled: Settled) -> None:
        if self._check_broker_positions:
            self._check_broker_positions = False
            self._adopt_broker_positions()
        self._record_events()
        self._save_state()
        snap_exposure = float(self.core.portfolio.exposure())
        self.metrics.set(EXPOSURE_USD, snap_exposure)
        self.metrics.set(POSITIONS_OPEN, float(len(self.core.portfolio.open_symbols())))
        self.metrics.set(DAILY_PNL_USD, float(self.core.portfolio.day_total_pnl()))
        self.metrics.set(CIRCUIT_BREAKER_STATUS, float(_BREAKER_CODES[self.core.breaker.state]))
        if settled.final:
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
                self._persist_breaker()
                self.log.warning("breaker %s: %s", ev.event_type, ev.message,
                                 extra={"actor": self.name, "correlation_id": f"breaker:{self.core.breaker.state}"})

    def _persist_breaker(self) -> None:
        self.repo.save_breaker(self.core.breaker.to_record())

    def _save_state(self) -> None:
        now = self.clock()
        self.repo.save_positions(self.core.portfolio.positions(), now)
        self.repo.save_daily_pnl(self.core.portfolio.daily_pnl_row())

    def _restore_breaker(self) -> None:
        from actors.risk.recovery import restore_breaker

        restore_breaker(self.core, self.repo)  # logs what it took

    def _restore_from_storage(self) -> None:
        from actors.risk.recovery import restore_from_storage

        restored = restore_from_storage(self.core, self.repo, replay=self.clock.replay, now_ns=self.clock())
        if restored:
            self.log.warning("restored from storage: %s", restored)

    def _recover(self) -> None:
        """Re-run the batches already decided, from inputs the other actors retain."""
        ns = self.settings.ray.namespace
        execution = ray_calls.get_actor("execution", ns)
        md = ray_calls.get_actor("market_data", ns)
        if execution is None or md is None:
            self._restore_breaker()
            return
        from actors.risk.recovery import group_schedule, lost_with_execution, rerun_inputs, retired_groups

        if not self.orders_out.wait_for_subscribers(bus.channel_prefix(bus.ORDERS), 1, timeout_s=30):
            self.log.warning("restarted risk: execution not re-subscribed to the new orders socket after 30 s")
        schedule = group_schedule(self.settings)
        if schedule:  # re-partitioned since this actor was created: the current schedule, not the ctor's
            self.groups, self.group_schedule = schedule[0][1], schedule[1:]
        upto = int(ray_calls.call(execution, "last_order_batch"))
        if lost_with_execution(ns):
            self._rebuild(ns)
            return
        retired = retired_groups(ns, schedule, upto)  # their signals are gone: re-run marks and fills only
        groups = sorted({g for _, gs in schedule for g in gs} - set(retired) or set(self.groups))
        inputs = rerun_inputs(ns, groups, upto)
        for k in range(1, upto + 1):
            marks, final, signals, updates = inputs.batch(k)
            decided = self._decide(k, marks, [] if retired else signals)
            self.orders_sent += 0 if retired else len(decided)
            for u in updates:
                self._apply_update(u, live=False)
        if retired:  # what is pending is what the intent log holds open, not what a partial re-run approved
            self.core.restore(self.core.portfolio.positions(), self.core.portfolio.daily_pnl_row(),
                              self.core.breaker.to_record(), self.repo.open_intents())
        self.core.drain_events()  # recorded before the restart already
        self.next_batch = upto + 1
        self.settled = inputs.settled
        for k, (marks, final) in inputs.later_marks.items():  # published while this actor was down
            self.md_batches.setdefault(k, (marks, final))
        for sb in inputs.later_signals:
            self.signal_batches[sb.batch].setdefault(sb.group, sb)
        self._restore_breaker()
        self.log.warning("risk restarted: re-ran %d batches; next batch %d", upto, self.next_batch,
                         extra={"actor": self.name, "correlation_id": f"restart:batch-{self.next_batch}"})

    def _rebuild(self, ns: str) -> None:
        from actors.risk.recovery import feed_edge, signals_after

        self._restore_from_storage()
        edge = feed_edge(ns, self.settings.bus.connect_timeout_s)
        self.next_batch, self.settled = edge + 1, edge
        for sb in signals_after(ns, self.groups_for(edge + 1), edge):
            self.signal_batches[sb.batch].setdefault(sb.group, sb)
        self._check_broker_positions = True
        self.log.warning("risk rebuilt from storage and the broker; trading on from batch %d", self.next_batch)

    def _adopt_broker_positions(self) -> None:
        from actors.risk.recovery import adopt_broker_positions, broker_positions

        broker = broker_positions(self.settings.ray.namespace)
        if broker is not None:
            diffs = adopt_broker_positions(self.core, self.repo, broker, self.clock())
            if diffs:
                self.log.warning("positions adopted from the broker: %s", diffs)


def _settles_at_or_before(items: list[Any], batch: int) -> bool:
    return any(isinstance(i, Settled) and i.batch <= batch for i in items)
