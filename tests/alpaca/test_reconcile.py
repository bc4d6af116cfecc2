"""reconcile() as a pure function, and its driver over a real ExecutionCore with a hand-written broker:
unknown orders adopted, finished orders take the broker's status, missed fills booked once,
positions compared after those fills, and a second pass finds nothing left to do."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.execution.core import ExecutionCore
from actors.execution.reconcile import (
    AdoptOrder,
    AdoptPosition,
    AskBroker,
    BrokerSnapshot,
    TakeBrokerStatus,
    apply_reconcile,
    reconcile,
)
from cluster.foundation.domain.wire import OrderIntent, OrderStatus, OrderUpdate
from cluster.foundation.storage.repository import InMemoryRepository
from tests.alpaca.conftest import QUOTE_BARS, csv_row
from tests.kit.broker import QuietBroker

NOW = 1_381_152_660_000_000_000
ROW = csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:30:00Z")
ASK = Decimal(ROW["ask_close"])  # a real SPY ask
BID = Decimal(ROW["bid_close"])


def order(coid: str, status: OrderStatus, filled: str = "0", avg: Decimal | None = None, qty: str = "30",
          side: str = "buy") -> OrderUpdate:
    return OrderUpdate(coid, f"b-{coid}", "SPY", side, status, Decimal(qty), Decimal(filled), NOW,  # type: ignore[arg-type]
                       filled_avg_price=avg)


def intent(coid: str, qty: str = "30") -> OrderIntent:
    return OrderIntent(client_order_id=coid, symbol="SPY", side="buy", qty=Decimal(qty), order_type="limit",
                       time_in_force="day", ts_ns=NOW, batch=1, correlation_id=f"c-{coid}", limit_price=BID)


def test_reconcile_when_broker_has_an_order_we_never_sent_then_adopted_with_an_event() -> None:
    theirs = order("manual-1", "new")
    report = reconcile([], [], [theirs], {}, {}, now_ns=NOW)
    assert report.actions == (AdoptOrder(theirs, None),)
    assert [(e.event_type, e.severity) for e in report.events] == [("reconcile_adopted_order", "warning")]


def test_reconcile_when_unknown_order_already_filled_then_adopted_from_new_and_its_fill_booked() -> None:
    theirs = order("manual-2", "filled", filled="30", avg=ASK)
    report = reconcile([], [], [theirs], {"SPY": Decimal(30)}, {}, now_ns=NOW)
    (adopt,) = report.actions
    assert isinstance(adopt, AdoptOrder) and adopt.update is not None
    assert (adopt.known.status, adopt.known.filled_qty) == ("new", Decimal(0))
    assert (adopt.update.status, adopt.update.last_fill_qty, adopt.update.last_fill_price) == ("filled", Decimal(30), ASK)
    assert adopt.update.fill_id == "b-manual-2:30"
    assert [e.event_type for e in report.events] == ["reconcile_adopted_order", "reconcile_missed_fill"]


def test_reconcile_when_we_think_open_and_broker_canceled_then_broker_status_taken() -> None:
    report = reconcile([order("o-1", "new")], [intent("o-1")], [order("o-1", "canceled")], {}, {}, now_ns=NOW)
    assert report.actions == (TakeBrokerStatus(order("o-1", "canceled")),)
    assert report.events[0].metadata["local"] == "new" and report.events[0].metadata["broker"] == "canceled"


def test_reconcile_when_fills_were_missed_then_only_the_difference_is_booked_at_its_own_price() -> None:
    # Arrange: we booked 10 at the bid; the broker completed 30 at an average of the ask
    ours = order("o-2", "partially_filled", filled="10", avg=BID)
    theirs = order("o-2", "filled", filled="30", avg=ASK)
    # Act
    report = reconcile([ours], [intent("o-2")], [theirs], {"SPY": Decimal(30)}, {"SPY": Decimal(10)}, now_ns=NOW)
    # Assert
    (take,) = report.actions
    assert isinstance(take, TakeBrokerStatus)
    assert take.update.last_fill_qty == Decimal(20)
    assert take.update.last_fill_price == (30 * ASK - 10 * BID) / 20
    assert [e.event_type for e in report.events] == ["reconcile_missed_fill"]  # position agrees afterwards


def test_reconcile_when_open_here_but_absent_at_broker_then_ask_broker_never_resend() -> None:
    report = reconcile([order("o-3", "pending_new")], [intent("o-3")], [], {}, {}, now_ns=NOW)
    assert report.actions == (AskBroker("o-3"),)


def test_reconcile_when_position_differs_beyond_missed_fills_then_broker_position_adopted_critically() -> None:
    report = reconcile([], [], [], {"SPY": Decimal(-5)}, {"SPY": Decimal(10)}, now_ns=NOW)
    assert report.actions == (AdoptPosition("SPY", Decimal(-5), Decimal(10)),)
    assert report.events[0].severity == "critical"


def test_reconcile_when_views_agree_or_order_already_finished_in_the_log_then_clean() -> None:
    same = order("o-4", "new")
    old = order("old-1", "filled", filled="30", avg=ASK)
    report = reconcile([same], [intent("o-4")], [same, old], {}, {}, now_ns=NOW, finished_ids=frozenset({"old-1"}))
    assert report.clean


class ScriptedBroker(QuietBroker):
    """A broker whose answers the test sets; records what the core sends (it must send nothing here)."""

    def __init__(self) -> None:
        self.sent: list[OrderIntent] = []

    def submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        self.sent.append(intent)
        return []


def test_apply_reconcile_when_run_twice_after_restart_then_second_pass_changes_nothing() -> None:
    # Arrange: the intent log has o-5 (filled at the broker while we were down); manual-3 is unknown
    repo = InMemoryRepository()
    repo.record_intent(intent("o-5"))
    broker = ScriptedBroker()
    core = ExecutionCore(broker, repo, clock=lambda: NOW)
    snapshot = BrokerSnapshot([order("o-5", "filled", filled="30", avg=ASK), order("manual-3", "new", qty="7")],
                              {"SPY": Decimal(30)})
    # Act
    first = apply_reconcile(core, repo, snapshot, {}, lambda: NOW)
    second = apply_reconcile(core, repo, snapshot, {"SPY": Decimal(30)}, lambda: NOW)
    # Assert
    assert (core.order_status("o-5"), core.order_status("manual-3")) == ("filled", "new")
    assert [(f.client_order_id, f.last_fill_qty, f.last_fill_price) for f in repo.fills.values()] == [
        ("o-5", Decimal(30), ASK)]
    assert {type(a).__name__ for a in first.actions} == {"TakeBrokerStatus", "AdoptOrder"}
    assert second.clean and broker.sent == []
    assert {e.event_type for e in repo.risk_events} >= {"reconcile_missed_fill", "reconcile_adopted_order"}


@pytest.mark.parametrize("value", [None, "", "abc", "NaN", "-1", "0", "Infinity"])
def test_entry_price_when_the_broker_sends_no_usable_average_then_none_not_an_error(value: object) -> None:
    from actors.execution.reconcile import _entry_price

    assert _entry_price({"symbol": "SPY", "qty": "1", "avg_entry_price": value}) is None
    assert _entry_price({"symbol": "SPY", "qty": "1", "avg_entry_price": "167.42"}) == Decimal("167.42")
