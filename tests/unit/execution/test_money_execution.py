"""Money correctness in the execution core: every fill the broker reports is booked once, whoever sent the order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from execution_data import iso_to_ns, make_intent

from actors.execution.core import ExecutionCore
from actors.execution.sim_broker import SimBroker
from cluster.foundation.domain.wire import OrderStatus, OrderUpdate
from cluster.foundation.storage.repository import InMemoryRepository

T0 = iso_to_ns("2013-10-07T13:30:00Z")
D = Decimal


def _core() -> tuple[ExecutionCore, InMemoryRepository]:
    repo = InMemoryRepository()
    return ExecutionCore(SimBroker(), repo, lambda: T0), repo


def _report(coid: str, status: OrderStatus, filled: int, last: int = 0, price: str = "50", fill_id: str = "") -> OrderUpdate:
    return OrderUpdate(
        client_order_id=coid, broker_order_id=f"b-{coid}", symbol="IBM", side="buy", status=status, qty=D(100),
        filled_qty=D(filled), ts_ns=T0 + 60, last_fill_qty=D(last), last_fill_price=D(price) if last else None,
        fill_id=fill_id,
    )


def _booked(repo: InMemoryRepository) -> Decimal:
    return sum((f.last_fill_qty for f in repo.fills.values()), D(0))


def test_fill_when_order_was_never_sent_here_then_adopted_and_booked() -> None:
    core, repo = _core()
    applied = core.on_broker_updates([_report("placed-by-hand", "filled", 100, 100)])
    assert [u.client_order_id for u in applied] == ["placed-by-hand"]  # passed on to risk
    assert _booked(repo) == 100
    assert [(e.event_type, e.severity) for e in core.take_errors()] == [("adopted_broker_order", "warning")]


def test_replacement_when_old_order_replaced_then_new_order_tracked_as_open() -> None:
    core, _ = _core()
    core.submit([make_intent("tc-1", "IBM", "buy", 100, T0)])
    core.on_broker_updates([_report("tc-1", "replaced", 0)])
    core.on_broker_updates([_report("alpaca-repl", "new", 0)])
    assert [u.client_order_id for u in core.open_orders()] == ["alpaca-repl"]
    assert core.order_status("tc-1") == "replaced"


def test_fills_when_out_of_order_then_every_share_booked_and_no_critical_event() -> None:
    core, repo = _core()
    core.submit([make_intent("tc-1", "IBM", "buy", 100, T0)])
    core.on_broker_updates([_report("tc-1", "filled", 100, 60, fill_id="e2")])
    core.on_broker_updates([_report("tc-1", "partially_filled", 40, 40, fill_id="e1")])
    core.on_broker_updates([_report("tc-1", "partially_filled", 40, 40, fill_id="")])  # e1 again, found by a reconcile
    assert _booked(repo) == 100
    assert core.order_status("tc-1") == "filled"
    assert [e.event_type for e in core.take_errors() if e.severity == "critical"] == []


@pytest.mark.parametrize("ended", ["canceled", "pending_cancel"])
def test_late_fill_when_order_canceled_or_cancel_pending_then_booked_without_critical_event(ended: OrderStatus) -> None:
    core, repo = _core()
    core.submit([make_intent("tc-1", "IBM", "buy", 100, T0)])
    core.on_broker_updates([_report("tc-1", ended, 0)])
    applied = core.on_broker_updates([_report("tc-1", ended, 30, 30, fill_id="late")])
    assert [u.last_fill_qty for u in applied] == [30]
    assert _booked(repo) == 30
    assert core.order_status("tc-1") == ended
    assert [e.event_type for e in core.take_errors()] == []


def test_report_when_own_order_finished_before_a_restart_then_not_booked_again() -> None:
    repo = InMemoryRepository()  # tells whether an id was ever logged, open or finished
    first = ExecutionCore(SimBroker(), repo, lambda: T0)
    first.submit([make_intent("tc-1", "IBM", "buy", 100, T0)])
    first.on_broker_updates([_report("tc-1", "filled", 100, 100, fill_id="e1")])
    restarted = ExecutionCore(SimBroker(), repo, lambda: T0)
    restarted.restore(repo.open_intents(), [])
    assert restarted.on_broker_updates([_report("tc-1", "filled", 100, 100, fill_id="e1")]) == []
    assert [e.event_type for e in restarted.take_errors()] == ["report_for_finished_order"]
