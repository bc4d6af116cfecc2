"""ExecutionActor (singleton): turns approved orders into broker orders and reports what happens.

Batch k is executed when the risk actor's OrderBatch(k) is here (risk sends one for every batch,
empty ones too; the BatchGate releases them in order): the batch's orders are submitted (intent logged
first, so a retry never makes a second order), then the market data the OrderBatch carries is shown to
the broker (the in-process simulator fills against it), and all resulting order updates go out in ONE
envelope ending with Settled(k). Execution subscribes to nothing else. With a live broker, updates
that arrive on its stream between batches are published as soon as they are polled.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from actors.execution.broker import Broker
from actors.execution.core import ExecutionCore
from actors.execution.live_reconcile import BrokerReconciler
from actors.execution.sim_broker import SimBroker
from cluster.foundation.domain.batch_gate import BatchGate
from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.orders import TERMINAL_STATUSES
from cluster.foundation.domain.settings import Settings
from cluster.foundation.domain.wire import (
    Message,
    OrderBatch,
    OrderIntent,
    OrderUpdate,
    Settled,
    as_dict,
)
from cluster.foundation.runtime import bus, ray_calls
from cluster.foundation.runtime.actor_base import ActorShell, EventClock
from cluster.foundation.runtime.loop_io import LoopIO
from cluster.foundation.runtime.metrics import (
    EVENTS_IN,
    EVENTS_OUT,
    ORDER_ACK_SECONDS,
    TICK_TO_ORDER_SECONDS,
    Metrics,
)
from cluster.foundation.runtime.observability import (
    ApiErrorExporter,
    BusLossExporter,
    DatabaseProbe,
    declare_alpaca_api_errors,
)
from cluster.foundation.storage.factory import make_repository

REPORT_HISTORY_BATCHES = 100_000
RETRY_INTERVAL_S = 1.0  # sends with an unknown outcome are looked up again at most this often
ORDERS = "orders"  # the gate's one part of a batch: risk's OrderBatch (with its arrival time)


def make_broker(settings: Settings) -> tuple[Broker, LoopIO | None]:
    """The broker, and the asyncio loop it needs the execution loop thread to drive (None for the
    in-process simulator)."""
    ex = settings.execution
    if ex.broker == "sim":
        return SimBroker(ex.slippage_bps, ex.commission_per_share, ex.commission_min), None
    from actors.execution.alpaca_broker import AlpacaBroker
    from actors.execution.alpaca_rest import AlpacaClientConfig

    io = LoopIO("execution-broker")
    broker = AlpacaBroker(AlpacaClientConfig.from_settings(settings.alpaca), io=io)
    broker.start()
    return broker, io


class ExecutionActor(ActorShell):
    name = "execution"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        b = settings.bus
        self.clock = EventClock(replay=settings.market_data.source != "alpaca" or settings.alpaca.simulated)
        self.repo = make_repository(settings, self.name)
        # A live broker's REST calls and its trade_updates stream run on this actor's loop thread,
        # which drives their asyncio loop (in calls, and in the idle wait beside the ZeroMQ input).
        self.broker, self._broker_io = make_broker(settings)
        self.core = ExecutionCore(self.broker, self.repo, self.clock)
        self.metrics = Metrics()
        self.db_probe = DatabaseProbe(self.repo, self.metrics)
        self.bus_loss = BusLossExporter(self.metrics, self.log, self.name)
        self.api_errors = ApiErrorExporter(self.metrics)
        declare_alpaca_api_errors(self.metrics)
        self.orders_in = self.peer_channel(bus.ORDERS, bus.Subscriber(
            self.ctx, None, topics=[bus.channel_prefix(bus.ORDERS)], bind=False, max_message_bytes=b.max_message_bytes, hwm=b.recv_hwm))
        self.reports_out = self.bind_channel(bus.REPORTS, lambda addr: bus.Publisher(
            self.ctx, addr, source=self.name, bind=True, max_message_bytes=b.max_message_bytes, hwm=b.send_hwm, security=self.bus_security))
        self._waiter = bus.Waiter(self.orders_in, io=self._broker_io)
        self.gate: BatchGate[OrderBatch, None] = BatchGate(depth=0)
        self.report_history: deque[tuple[int, list[OrderUpdate]]] = deque(maxlen=REPORT_HISTORY_BATCHES)
        self.updates_sent = 0
        self.fills = 0
        self.done = False
        self.restarted = ray_calls.was_reconstructed()
        self.live_pending: list[OrderUpdate] = []  # published between batches, kept with the next settlement
        self.startup_updates: list[OrderUpdate] = []  # go out with the first settlement: subscribers are there
        self.reconciler = BrokerReconciler(self.core, self.repo, self.broker, self.clock)
        self._retry_at = 0.0
        self.start_loop()

    def recover(self) -> None:
        resent: list[OrderUpdate] = []
        if self.restarted:
            self.core.restore(self.repo.open_intents(), self.broker.open_orders())
            self.log.warning("execution restarted: restored open intents from storage",
                             extra={"actor": self.name, "correlation_id": "restart"})
            resent = self.core.retry_unacknowledged()  # the broker never saw them: send once
            self._resume_lockstep()
        polled, _ = self.core.poll()  # the stream's first connection is the start-up reconciliation
        self.startup_updates = resent + polled + self._reconcile()

    # ---- control plane -------------------------------------------------------------------------

    @property
    def next_batch(self) -> int:
        return self.gate.next_batch

    def ready(self) -> bool:
        return self.reports_out.wait_for_subscribers(bus.topic(bus.REPORTS, bus.CONTROL), 2, timeout_s=0.1)

    def _resume_lockstep(self) -> None:
        """Continue after the last batch the risk actor saw settled: take the order batches it sent since
        (each carries what this batch needs; live copies that arrive too are ignored)."""
        ns = self.settings.ray.namespace
        risk = ray_calls.get_actor("risk", ns)
        if risk is None:
            return
        # Our XPUB was just re-bound: a settlement sent before the risk and feed actors have
        # re-subscribed would be lost, and the lockstep would wait for it forever.
        if not self.reports_out.wait_for_subscribers(bus.topic(bus.REPORTS, bus.CONTROL), 2, timeout_s=30,
                                                     idle=self._pause):
            self.log.warning("restarted execution: subscribers not back after 30 s; resuming anyway")
        self._wait_running(risk, self.settings.bus.connect_timeout_s)  # a restarting risk actor decides the point
        settled, pending = ray_calls.call(risk, "resume_point")
        self.gate.restart_at(settled + 1, 0)
        for ob in pending:
            self.gate.offer(ob.batch, ORDERS, ob)
        self.log.warning("execution resumes at batch %d (%d order batches pending)", self.next_batch, len(pending),
                         extra={"actor": self.name, "correlation_id": "restart"})

    def broker_positions(self) -> dict[str, dict[str, str | None]] | None:
        """Per symbol, the signed quantity and the average entry price (None where the broker gave none) as a
        live broker holds them; None for the in-process simulator."""
        snapshot = self.broker.snapshot()  # takes the broker's loop in turn, also while this actor recovers
        if snapshot is None:
            return None
        prices = snapshot.entry_prices
        return {symbol: {"qty": str(qty), "avg_entry_price": str(prices[symbol]) if symbol in prices else None}
                for symbol, qty in snapshot.positions.items()}

    def last_order_batch(self) -> int:
        return self.next_batch - 1

    def reports(self, upto: int) -> tuple[dict[int, list[OrderUpdate]], int]:
        return {k: u for k, u in list(self.report_history) if k <= upto}, self.next_batch - 1

    def stats(self) -> dict[str, Any]:
        return {
            "next_batch": self.next_batch, "updates_sent": self.updates_sent, "fills": self.fills, "done": self.done,
            "restarted": self.restarted, "core": self.core.stats(), "failure": self.failure,
            **self.shell_stats(),
            "reconcile": {"runs": self.reconciler.runs, "adopted": self.reconciler.adopted},
            "bus": {"orders": bus.stats_dict(self.orders_in.stats),
                    "reports": bus.stats_dict(self.reports_out.stats)},
        }

    def open_orders(self) -> list[dict[str, Any]]:
        return [as_dict(u) for u in self.core.open_orders()]

    def ledger(self) -> list[dict[str, Any]]:
        """Every order update published with a settlement, in order (the replay's audit trail)."""
        return [as_dict(u) | {"batch": k} for k, ups in list(self.report_history) for u in ups]

    def cancel_all(self) -> int:
        def do() -> int:
            updates = self.core.cancel_all()
            self._publish(updates, None)
            return len(updates)
        return self.run_in_loop(do)

    def submit_now(self, intents: list[OrderIntent]) -> list[dict[str, Any]]:
        """Operator orders (kill-switch liquidation): sent at once, outside the batch lockstep."""
        def do() -> list[dict[str, Any]]:
            updates = self.core.submit(intents)
            self._publish(updates, None)
            return [as_dict(u) for u in updates]
        return self.run_in_loop(do)

    def orders(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Latest state of each order, newest first; status 'open' (default), 'closed' or 'all'."""
        def do() -> list[dict[str, Any]]:
            latest: dict[str, dict[str, Any]] = {}
            for row in self.ledger():
                latest[row["client_order_id"]] = row
            for u in self.core.open_orders():
                latest[u.client_order_id] = as_dict(u)
            rows = list(latest.values())[::-1]
            terminal = TERMINAL_STATUSES
            if status in (None, "open"):
                rows = [r for r in rows if r["status"] not in terminal]
            elif status == "closed":
                rows = [r for r in rows if r["status"] in terminal]
            return rows[:limit]
        return self.run_in_loop(do)

    def flush(self) -> None:
        self.repo.flush()

    def close(self) -> None:
        self.stop()
        self.repo.flush()
        self.repo.close()
        self.orders_in.close()
        self.reports_out.close()
        self.broker.close()

    # ---- data plane ----------------------------------------------------------------------------

    def step(self) -> None:
        got = False
        for _, env in self.orders_in.recv(timeout_ms=0):
            got = True
            self.metrics.inc(EVENTS_IN, len(env.items), actor=self.name)
            for item in env.items:
                if isinstance(item, OrderBatch):
                    self.gate.offer(item.batch, ORDERS, item)
        while self._try_execute():
            got = True
        live, reconnected = self.core.poll()
        if reconnected:
            self.reconciler.reconnected()
        if self.core.has_unacknowledged and time.monotonic() >= self._retry_at:  # on every loop, paced
            self._retry_at = time.monotonic() + RETRY_INTERVAL_S
            live += self.core.retry_unacknowledged()
        if self.reconciler.due():
            live += self._reconcile()
        if live:
            self._publish(live, None)
        if not got:
            self._waiter.wait(5)  # returns at once on order input or, live, on a broker stream event

    def _try_execute(self) -> bool:
        release = self.gate.release([ORDERS])
        if release is None:
            return False
        k = release.batch
        ob = release.parts[ORDERS]
        items, final = ob.market, ob.final
        updates: list[OrderUpdate] = []
        if ob.orders:
            self.clock.advance(max(o.ts_ns for o in ob.orders))
            submitted_wall_ns, submitted_at = time.time_ns(), time.perf_counter()
            updates += self.core.submit(ob.orders)
            acked_at = time.perf_counter()
            self._log_sent(k, ob.orders)
            if ob.md_at_ns:  # from the batch whole at risk (same host clock; across nodes, their skew)
                self.metrics.observe(TICK_TO_ORDER_SECONDS, max(0, submitted_wall_ns - ob.md_at_ns) / 1e9)
            self.metrics.observe(ORDER_ACK_SECONDS, acked_at - submitted_at)
        if items:
            self.clock.advance(items[-1].ts_ns)
            updates += self.core.on_market(items)
        live, self.live_pending = self.live_pending, []
        if self.startup_updates:
            updates, self.startup_updates = self.startup_updates + updates, []
        self.report_history.append((k, live + updates))
        self._log_updates(k, updates)
        self._publish(updates, Settled(k, final))
        if final:
            self.done = True
            self.repo.flush()
        self._export_status()
        return True

    def _export_status(self) -> None:
        """Once per batch: database probe (rate-limited), bus losses, Alpaca REST error totals."""
        self.db_probe.sample()
        self.bus_loss.export({"orders": self.orders_in.stats},
                             {"reports": self.reports_out.stats})
        self.api_errors.export(self.broker.error_counts())

    def _log_sent(self, k: int, orders: list[Any]) -> None:
        for o in orders:
            self.log.info("order sent: %s %s %s %s", o.client_order_id, o.side, o.qty, o.symbol,
                          extra=self._extra(k, o.client_order_id, o.symbol, o.correlation_id))

    def _log_updates(self, k: int, updates: list[OrderUpdate]) -> None:
        """Key order lines with client_order_id/symbol fields (one line per order event, not per tick)."""
        for u in updates:
            extra = self._extra(k, u.client_order_id, u.symbol, u.correlation_id)
            if u.status == "rejected":
                self.log.warning("order rejected: %s %s", u.client_order_id, u.reason, extra=extra)
            elif u.last_fill_qty > 0:
                self.log.info("fill %s %s @ %s (%s)", u.client_order_id, u.last_fill_qty, u.last_fill_price, u.status,
                              extra=extra)

    def _extra(self, k: int, client_order_id: str, symbol: str, correlation_id: str) -> dict[str, str]:
        return {"actor": self.name, "client_order_id": client_order_id, "symbol": symbol,
                "correlation_id": correlation_id or f"batch-{k}"}

    def _reconcile(self) -> list[OrderUpdate]:
        """At start-up and after the broker's Reconnected marker: adopt what happened meanwhile."""
        try:
            updates = self.reconciler.run()
        except Exception as exc:  # the broker may be down: trade on, try again after the next reconnect
            self.log.warning("reconciliation with the broker failed: %s", exc)
            return []
        if updates:
            self.log.warning("reconciliation applied %d order updates", len(updates))
        return updates

    def _publish(self, updates: list[OrderUpdate], settled: Settled | None) -> None:
        if settled is None:
            self.live_pending.extend(updates)
        items: list[Message] = list(updates)
        if settled is not None:
            items.append(settled)
        if not items:
            return
        self.reports_out.send(bus.topic(bus.REPORTS, bus.CONTROL), items)
        self.updates_sent += len(updates)
        self.fills += sum(1 for u in updates if u.last_fill_qty > 0)
        self.metrics.inc(EVENTS_OUT, len(items), actor=self.name)

    def _wait_running(self, handle: Any, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while ray_calls.call(handle, "ping").get("phase") != "running":
            if time.monotonic() > deadline:
                raise DependencyDown(f"restarted execution waited {timeout_s:.0f}s for the risk actor to run again")
            self._pause(0.1)

    def _pause(self, seconds: float) -> None:
        """Wait while recovering without starving a live broker's connection: its loop runs meanwhile."""
        if self._broker_io is None:
            time.sleep(seconds)
        else:
            self._broker_io.wait([], seconds)
