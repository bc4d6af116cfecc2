"""Reconciliation against the simulator over loopback: orders placed directly over REST while the
execution side is down are adopted on restart, a known order canceled meanwhile takes the broker's
status, the fill we missed is booked once, and nothing is sent or booked twice."""

from __future__ import annotations

from decimal import Decimal

from actors.execution.alpaca_broker import AlpacaBroker
from actors.execution.core import ExecutionCore
from actors.execution.reconcile import apply_reconcile, load_alpaca_snapshot
from cluster.foundation.domain.wire import OrderIntent
from cluster.foundation.storage.repository import InMemoryRepository
from tests.alpaca.conftest import QUOTE_BARS, RunningSim, csv_row

NOW = 1_381_152_660_000_000_000


def _limit_intent(coid: str, price: str) -> OrderIntent:
    return OrderIntent(client_order_id=coid, symbol="SPY", side="buy", qty=Decimal(10), order_type="limit",
                       time_in_force="day", ts_ns=NOW, batch=1, correlation_id=f"c-{coid}", limit_price=Decimal(price))


def test_restart_when_orders_were_placed_while_execution_was_down_then_adopted_once(sim: RunningSim) -> None:
    # Arrange: execution places one resting limit order, then goes down
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    ask = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:30:00Z")["ask_close"])
    repo = InMemoryRepository()
    with AlpacaBroker(sim.client_config()) as broker:
        ExecutionCore(broker, repo, clock=lambda: NOW).submit([_limit_intent("ours-1", "100")])
    # ... while it is down: someone cancels ours-1 and places two orders directly over REST
    status, _, ours = sim.raw("GET", "/v2/orders:by_client_order_id?client_order_id=ours-1")
    assert status == 200
    assert sim.raw("DELETE", f"/v2/orders/{ours['id']}")[0] == 204
    resting = {"symbol": "SPY", "qty": "5", "side": "buy", "type": "limit", "time_in_force": "day",
               "limit_price": "100", "client_order_id": "manual-rest"}
    market = {"symbol": "SPY", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
              "client_order_id": "manual-fill"}
    assert sim.raw("POST", "/v2/orders", resting)[0] == 200
    assert sim.raw("POST", "/v2/orders", market)[0] == 200
    orders_at_broker = sim.admin("/admin/state")["orders"]
    # Act: execution restarts with the same repository and reconciles twice
    with AlpacaBroker(sim.client_config()) as broker:
        core = ExecutionCore(broker, repo, clock=lambda: NOW)
        first = apply_reconcile(core, repo, load_alpaca_snapshot(sim.client_config()), {}, lambda: NOW)
        second = apply_reconcile(core, repo, load_alpaca_snapshot(sim.client_config()), {"SPY": Decimal(3)},
                                 lambda: NOW)
        statuses = {c: core.order_status(c) for c in ("ours-1", "manual-rest", "manual-fill")}
        open_ids = sorted(u.client_order_id for u in core.open_orders())
    # Assert
    assert statuses == {"ours-1": "canceled", "manual-rest": "new", "manual-fill": "filled"}
    assert open_ids == ["manual-rest"]
    fills = list(repo.fills.values())
    assert [(f.client_order_id, f.last_fill_qty) for f in fills] == [("manual-fill", Decimal(3))]
    assert fills[0].last_fill_price == ask  # the market buy took the real 13:30 SPY ask
    kinds = sorted(e.event_type for e in first.events)
    assert kinds == ["reconcile_adopted_order", "reconcile_adopted_order", "reconcile_missed_fill",
                     "reconcile_status_changed"]
    assert second.clean
    assert sim.admin("/admin/state")["orders"] == orders_at_broker == 3  # nothing sent again


def test_snapshot_when_a_position_is_held_then_it_carries_the_brokers_average_entry_price(sim: RunningSim) -> None:
    # Arrange: two market buys at two different minutes' asks
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    first = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:30:00Z")["ask_close"])
    buy = {"symbol": "SPY", "qty": "4", "side": "buy", "type": "market", "time_in_force": "day"}
    assert sim.raw("POST", "/v2/orders", buy | {"client_order_id": "avg-1"})[0] == 200
    sim.admin("/admin/step", {"steps": 1})
    second = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")["ask_close"])
    assert sim.raw("POST", "/v2/orders", buy | {"client_order_id": "avg-2"})[0] == 200
    # Act
    with AlpacaBroker(sim.client_config(), stream=False) as broker:
        snapshot = broker.snapshot()
    # Assert: the books can take the broker's cost, not only its quantity
    assert snapshot is not None and snapshot.positions == {"SPY": Decimal(8)}
    assert abs(snapshot.entry_prices["SPY"] - (first + second) / 2) < Decimal("0.0001")
