"""ExecutionCore: intent log first, one order per client_order_id, every broker update checked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import msgspec
import pytest
from execution_data import iso_to_ns, make_intent

from actors.execution.core import ExecutionCore
from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.wire import Bar, OrderIntent, OrderUpdate
from cluster.foundation.storage.repository import InMemoryRepository
from tests.kit.broker import CountingBroker, RejectingBroker
from tests.kit.clock import FakeClock as KitClock

BarsFn = Callable[[str, str, str], list[Bar]]
T0 = iso_to_ns("2013-10-07T13:30:00Z")


def FakeClock(now_ns: int = T0) -> KitClock:
    """The kit's clock, set to the session open of the test data."""
    return KitClock(now_ns)


class DownRepository(InMemoryRepository):
    def record_intent(self, intent: OrderIntent) -> None:
        raise DependencyDown("database unreachable")


def _buy(coid: str = "tc-SPY-1", qty: int = 100) -> OrderIntent:
    return make_intent(coid, "SPY", "buy", qty, ts_ns=T0)


def _core(repo: InMemoryRepository | None = None, broker: CountingBroker | None = None) -> ExecutionCore:
    repo = repo if repo is not None else InMemoryRepository()
    return ExecutionCore(broker if broker is not None else CountingBroker(repo), repo, FakeClock())


def test_submit_when_broker_sees_the_order_then_intent_is_already_in_the_log() -> None:
    # Arrange
    repo = InMemoryRepository()
    broker = CountingBroker(repo)
    core = ExecutionCore(broker, repo, FakeClock())
    # Act
    updates = core.submit([_buy("a"), _buy("b")])
    # Assert
    assert broker.logged_before_submit == [True, True]
    assert [u.status for u in updates] == ["new", "new"]
    assert repo.orders["a"].status == "new"


def test_submit_when_intent_log_is_down_then_broker_never_sees_the_order() -> None:
    repo = DownRepository()
    broker = CountingBroker(repo)
    core = ExecutionCore(broker, repo, FakeClock())
    with pytest.raises(DependencyDown):
        core.submit([_buy()])
    assert broker.submits == Counter()


def test_submit_when_same_client_order_id_twice_then_broker_gets_one_order() -> None:
    # Arrange
    repo = InMemoryRepository()
    broker = CountingBroker(repo)
    core = ExecutionCore(broker, repo, FakeClock())
    # Act
    core.submit([_buy()])
    repeated = core.submit([_buy(), _buy()])
    # Assert
    assert repeated == []
    assert broker.submits == Counter({"tc-SPY-1": 1})
    assert core.stats()["duplicates_suppressed"] == 2
    assert core.stats()["submitted"] == 1


def test_submit_when_restarted_with_same_repository_then_open_order_is_not_sent_again() -> None:
    # Arrange: the first process sends the order and dies; the broker keeps working it
    repo = InMemoryRepository()
    broker = CountingBroker(repo)
    ExecutionCore(broker, repo, FakeClock()).submit([_buy()])
    # Act: a new process over the same intent log replays the same batch
    restarted = ExecutionCore(broker, repo, FakeClock())
    restarted.restore(repo.open_intents(), broker.open_orders())
    again = restarted.submit([_buy()])
    # Assert
    assert again == []
    assert broker.submits == Counter({"tc-SPY-1": 1})
    assert [u.client_order_id for u in restarted.open_orders()] == ["tc-SPY-1"]
    assert restarted.order_status("tc-SPY-1") == "new"


def test_submit_when_restarted_without_restore_then_open_intent_still_blocks_a_resend() -> None:
    repo = InMemoryRepository()
    broker = CountingBroker(repo)
    ExecutionCore(broker, repo, FakeClock()).submit([_buy()])
    assert ExecutionCore(broker, repo, FakeClock()).submit([_buy()]) == []
    assert broker.submits["tc-SPY-1"] == 1


def test_submit_when_restarted_after_order_filled_and_repo_knows_all_ids_then_not_resent(
    trade_bars: BarsFn,
) -> None:
    repo = InMemoryRepository()  # tells whether an id was ever logged, open or finished
    broker = CountingBroker(repo)
    first = ExecutionCore(broker, repo, FakeClock())
    first.submit([_buy()])
    first.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:31:00Z"))
    assert repo.open_intents() == []  # finished orders leave the open list
    restarted = ExecutionCore(CountingBroker(repo), repo, FakeClock())
    assert restarted.submit([_buy()]) == []
    assert restarted.stats()["duplicates_suppressed"] == 1


def test_on_market_when_next_bar_fills_order_then_fill_is_recorded_once(trade_bars: BarsFn) -> None:
    # Arrange
    repo = InMemoryRepository()
    core = _core(repo)
    core.submit([_buy()])
    # Act
    updates = core.on_market(trade_bars("SPY", "2013-10-07T13:30:00Z", "2013-10-07T13:34:00Z"))
    replayed = core.on_broker_updates(updates)
    # Assert
    assert [u.status for u in updates] == ["filled"]
    assert updates[0].last_fill_price == Decimal("167.4867")  # 167.47 open x 1.0001
    assert replayed == []
    assert list(repo.fills) == [updates[0].fill_id]
    assert repo.orders["tc-SPY-1"].status == "filled"
    stats = core.stats()
    assert (stats["fills"], stats["filled"], stats["duplicate_updates"], stats["open"]) == (1, 1, 1, 0)


def test_on_broker_updates_when_status_repeats_without_fill_then_ignored_and_counted() -> None:
    core = _core()
    ack = core.submit([_buy()])
    assert core.on_broker_updates(ack + ack) == []
    assert core.stats()["duplicate_updates"] == 2


def test_on_broker_updates_when_a_status_the_order_has_had_comes_again_then_old_news_not_an_error(
    trade_bars: BarsFn,
) -> None:
    # Arrange: an order that went new -> filled
    repo = InMemoryRepository()
    core = _core(repo)
    ack = core.submit([_buy()])
    core.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:31:00Z"))
    # Act: the `new` report again, late (a live broker sends it in its answer and on its stream)
    result = core.on_broker_updates(ack)
    # Assert
    assert result == [] and core.take_errors() == []
    assert core.order_status("tc-SPY-1") == "filled"
    assert core.stats()["duplicate_updates"] == 1 and core.stats()["invalid_transitions"] == 0


def test_on_broker_updates_when_transition_is_invalid_then_error_event_not_silent_drop(
    trade_bars: BarsFn,
) -> None:
    # Arrange: an order that is filled
    repo = InMemoryRepository()
    core = _core(repo)
    core.submit([_buy()])
    filled = core.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:31:00Z"))[0]
    bogus = msgspec.structs.replace(filled, status="pending_cancel", last_fill_qty=Decimal(0), fill_id="")
    # Act
    result = core.on_broker_updates([bogus])
    # Assert
    assert result == []
    errors = core.take_errors()
    assert [(e.event_type, e.severity) for e in errors] == [("invalid_order_transition", "critical")]
    assert "filled -> pending_cancel" in errors[0].message
    assert repo.risk_events == errors
    assert core.order_status("tc-SPY-1") == "filled"
    assert core.stats()["invalid_transitions"] == 1


def test_on_broker_updates_when_fill_arrives_after_cancel_then_fill_is_booked_and_order_stays_canceled() -> None:
    # Arrange
    repo = InMemoryRepository()
    core = _core(repo)
    ack = core.submit([_buy()])[0]
    core.cancel("tc-SPY-1")
    late = msgspec.structs.replace(
        ack, status="partially_filled", filled_qty=Decimal(40), last_fill_qty=Decimal(40),
        last_fill_price=Decimal("167.47"), filled_avg_price=Decimal("167.47"), fill_id="late-fill-1",
        ts_ns=T0 + 1,
    )
    # Act
    result = core.on_broker_updates([late])
    # Assert
    assert [u.status for u in result] == ["canceled"]
    assert repo.fills["late-fill-1"].last_fill_qty == Decimal(40)
    assert core.order_status("tc-SPY-1") == "canceled"
    assert core.take_errors() == []
    assert core.stats()["fills"] == 1


def test_on_broker_updates_when_order_is_unknown_then_adopted_with_a_warning() -> None:
    core = _core()
    stranger = OrderUpdate(
        client_order_id="not-ours", broker_order_id="x", symbol="SPY", side="buy", status="new",
        qty=Decimal(1), filled_qty=Decimal(0), ts_ns=T0,
    )
    assert core.on_broker_updates([stranger]) == [stranger]
    assert [(e.event_type, e.severity) for e in core.take_errors()] == [("adopted_broker_order", "warning")]
    assert core.stats()["adopted_orders"] == 1
    assert core.order_status("not-ours") == "new"
    assert core.on_broker_updates([stranger]) == []  # the same report again is a repeat


def test_submit_when_broker_refuses_then_rejected_update_recorded_and_counted() -> None:
    repo = InMemoryRepository()
    core = ExecutionCore(RejectingBroker(repo), repo, FakeClock(now_ns=T0 + 5))
    updates = core.submit([_buy()])
    assert [(u.status, u.ts_ns) for u in updates] == [("rejected", T0 + 5)]
    assert "insufficient buying power" in updates[0].reason
    assert repo.orders["tc-SPY-1"].status == "rejected"
    assert core.stats()["rejected"] == 1


def test_retry_when_send_outcome_unknown_and_broker_never_got_it_then_sends_once_more() -> None:
    repo = InMemoryRepository()
    broker = CountingBroker(repo)
    broker.fail_next_submits = 1
    core = ExecutionCore(broker, repo, FakeClock())
    assert core.submit([_buy()]) == []
    assert core.stats()["unacknowledged"] == 1
    updates = core.retry_unacknowledged()
    assert [u.status for u in updates] == ["new"]
    assert broker.submits["tc-SPY-1"] == 2
    assert core.stats()["unacknowledged"] == 0


def test_retry_when_send_outcome_unknown_but_broker_has_the_order_then_adopts_it_without_resend() -> None:
    # Arrange: the broker accepted the order, but the answer was lost
    repo = InMemoryRepository()
    broker = CountingBroker(repo)
    broker.inner.submit(_buy())
    broker.fail_next_submits = 1
    core = ExecutionCore(broker, repo, FakeClock())
    core.submit([_buy()])
    # Act
    updates = core.retry_unacknowledged()
    # Assert
    assert [u.status for u in updates] == ["new"]
    assert broker.submits["tc-SPY-1"] == 1
    assert core.order_status("tc-SPY-1") == "new"


def test_restore_when_intent_logged_but_never_reached_broker_then_retry_sends_it(trade_bars: BarsFn) -> None:
    # Arrange: the process died between record_intent and submit
    repo = InMemoryRepository()
    repo.record_intent(_buy())
    broker = CountingBroker(repo)
    core = ExecutionCore(broker, repo, FakeClock())
    core.restore(repo.open_intents(), broker.open_orders())
    # Act
    updates = core.retry_unacknowledged()
    fills = core.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:31:00Z"))
    # Assert
    assert [u.status for u in updates] == ["new"]
    assert [u.status for u in fills] == ["filled"]
    assert broker.submits["tc-SPY-1"] == 1


def test_cancel_all_when_orders_open_then_all_canceled_and_counted() -> None:
    core = _core()
    core.submit([_buy("a"), _buy("b")])
    updates = core.cancel_all()
    assert sorted((u.client_order_id, u.status) for u in updates) == [("a", "canceled"), ("b", "canceled")]
    assert core.open_orders() == []
    assert core.stats()["canceled"] == 2
