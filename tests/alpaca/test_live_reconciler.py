"""Execution's one reconciler and its one de-duplication, over a real ExecutionCore and a scripted broker:
the broker's Reconnected marker (delivered through poll) makes the reconciler due, a missed fill is
booked once whichever path reports it, a broker without a snapshot has nothing to reconcile, the
same change seen in a REST answer and on the stream passes once, and a send with an unknown outcome
is resolved on a later loop, not only at a restart."""

from __future__ import annotations

from decimal import Decimal

from actors.execution.broker import Broker, BrokerSnapshot, Polled, Reconnected
from actors.execution.core import ExecutionCore
from actors.execution.live_reconcile import BrokerReconciler
from cluster.foundation.domain.errors import TemporaryError
from cluster.foundation.domain.wire import OrderIntent, OrderStatus, OrderUpdate
from cluster.foundation.storage.repository import InMemoryRepository
from tests.alpaca.conftest import QUOTE_BARS, csv_row
from tests.kit.broker import QuietBroker

NOW = 1_381_152_660_000_000_000
ASK = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:30:00Z")["ask_close"])  # a real SPY ask
ASK_LATER = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")["ask_close"])


def intent(coid: str, qty: str = "10") -> OrderIntent:
    return OrderIntent(client_order_id=coid, symbol="SPY", side="buy", qty=Decimal(qty), order_type="limit",
                       time_in_force="day", ts_ns=NOW, batch=1, correlation_id=f"c-{coid}", limit_price=ASK)


def report(coid: str, status: OrderStatus, filled: str = "0", avg: Decimal | None = None,
           last: str = "0", price: Decimal | None = None) -> OrderUpdate:
    return OrderUpdate(coid, f"b-{coid}", "SPY", "buy", status, Decimal(10), Decimal(filled), NOW,
                       filled_avg_price=avg, last_fill_qty=Decimal(last), last_fill_price=price,
                       fill_id=f"b-{coid}:{filled}" if last != "0" else "")


class ScriptedBroker(QuietBroker):
    """Answers as the test scripts it: acks, a stream (poll) and a REST snapshot."""

    def __init__(self, snapshot: BrokerSnapshot | None = None) -> None:
        self.stream: list[Polled] = []
        self.snap = snapshot
        self.orders: dict[str, OrderUpdate] = {}
        self.fail_submits = 0
        self.sent: list[str] = []

    def submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        self.sent.append(intent.client_order_id)
        if self.fail_submits:
            self.fail_submits -= 1
            raise TemporaryError("timeout after the request was written")
        ack = report(intent.client_order_id, "new")
        self.orders[intent.client_order_id] = ack
        return [ack]

    def poll(self) -> list[Polled]:
        out, self.stream = self.stream, []
        return out

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        return self.orders.get(client_order_id)

    def open_orders(self) -> list[OrderUpdate]:
        return list(self.orders.values())

    def snapshot(self) -> BrokerSnapshot | None:
        return self.snap


def test_scripted_broker_when_checked_then_satisfies_the_broker_protocol() -> None:
    assert isinstance(ScriptedBroker(), Broker)


def test_reconciler_when_reconnected_marker_polled_then_due_and_missed_fill_booked_once() -> None:
    # Arrange: an order working at the broker; the first reconciliation finds nothing to do
    repo = InMemoryRepository()
    broker = ScriptedBroker(BrokerSnapshot([report("o-1", "new")]))
    core = ExecutionCore(broker, repo, clock=lambda: NOW)
    reconciler = BrokerReconciler(core, repo, broker, clock=lambda: NOW)
    core.submit([intent("o-1")])
    assert reconciler.due()
    assert reconciler.run() == [] and not reconciler.due()
    # Act: the stream drops, the order fills meanwhile, the stream is back: the marker comes through poll
    broker.snap = BrokerSnapshot([report("o-1", "filled", filled="10", avg=ASK)], {"SPY": Decimal(10)})
    broker.stream = [Reconnected(2)]
    polled, reconnected = core.poll()
    if reconnected:
        reconciler.reconnected()
    due = reconciler.due()
    applied = reconciler.run()
    # ... and the stream's own (late) fill report of the same shares arrives afterwards
    broker.stream = [report("o-1", "filled", filled="10", avg=ASK, last="10", price=ASK)]
    late, again = core.poll()
    # Assert
    assert (polled, reconnected, due) == ([], True, True)
    assert [(u.status, u.last_fill_qty, u.last_fill_price) for u in applied] == [("filled", Decimal(10), ASK)]
    assert late == [] and not again and not reconciler.due()
    assert [(f.client_order_id, f.last_fill_qty) for f in repo.fills.values()] == [("o-1", Decimal(10))]
    assert core.order_status("o-1") == "filled" and reconciler.runs == 2


def test_reconciler_when_broker_keeps_no_state_then_nothing_to_reconcile() -> None:
    repo = InMemoryRepository()
    broker = ScriptedBroker(snapshot=None)  # the in-process simulator's answer
    reconciler = BrokerReconciler(ExecutionCore(broker, repo, clock=lambda: NOW), repo, broker, clock=lambda: NOW)
    assert reconciler.run() == [] and reconciler.runs == 0 and not reconciler.due()


def test_core_when_rest_answer_and_stream_report_the_same_change_then_it_passes_once() -> None:
    # Arrange: the ack came with the POST answer
    repo = InMemoryRepository()
    broker = ScriptedBroker()
    core = ExecutionCore(broker, repo, clock=lambda: NOW)
    acks = core.submit([intent("o-2")])
    # Act: the stream says `new` again, then an older `pending_new`, then a partial fill; then a REST
    # answer shows the partial fill again, and the stream's `new` comes once more, late
    broker.stream = [report("o-2", "new"), report("o-2", "pending_new"),
                     report("o-2", "partially_filled", filled="4", avg=ASK, last="4", price=ASK),
                     report("o-2", "partially_filled", filled="4", avg=ASK), report("o-2", "new")]
    passed, _ = core.poll()
    # Assert
    assert [u.status for u in acks + passed] == ["new", "partially_filled"]
    assert core.stats()["duplicate_updates"] == 4 and core.stats()["invalid_transitions"] == 0
    assert core.take_errors() == []


def test_core_when_fill_seen_only_in_a_rest_order_then_the_difference_is_passed_on_at_the_implied_price() -> None:
    # Arrange: 4 shares reported on the stream at the 13:30 ask
    repo = InMemoryRepository()
    broker = ScriptedBroker()
    core = ExecutionCore(broker, repo, clock=lambda: NOW)
    core.submit([intent("o-3")])
    broker.stream = [report("o-3", "partially_filled", filled="4", avg=ASK, last="4", price=ASK)]
    core.poll()
    # Act: a REST order says all 10 are filled at an average that implies the 13:31 ask for the other 6
    average = (4 * ASK + 6 * ASK_LATER) / 10
    broker.stream = [report("o-3", "filled", filled="10", avg=average)]
    passed, _ = core.poll()
    # ... and the stream's own report of those 6 shares comes later
    broker.stream = [report("o-3", "filled", filled="10", avg=average, last="6", price=ASK_LATER)]
    late, _ = core.poll()
    # Assert: the 6 shares are passed on at once (risk's positions), at the implied price, once
    assert [(u.status, u.last_fill_qty, u.last_fill_price) for u in passed] == [
        ("partially_filled", Decimal(6), ASK_LATER), ("filled", Decimal(0), None)]
    assert [e.event_type for e in core.take_errors()] == ["fill_inferred"]
    assert core.order_status("o-3") == "filled"
    assert [u.last_fill_qty for u in late] == []  # its shares are booked; no commission to add


def test_core_when_a_send_outcome_is_unknown_then_a_later_loop_resolves_it_without_a_second_order() -> None:
    # Arrange: the POST times out after the broker took the order
    repo = InMemoryRepository()
    broker = ScriptedBroker()
    broker.fail_submits = 1
    core = ExecutionCore(broker, repo, clock=lambda: NOW)
    assert core.submit([intent("o-4")]) == []
    broker.orders["o-4"] = report("o-4", "new")
    # Act
    pending_before = core.has_unacknowledged
    resolved = core.retry_unacknowledged()
    # Assert
    assert pending_before and not core.has_unacknowledged
    assert [u.status for u in resolved] == ["new"] and broker.sent == ["o-4"]
