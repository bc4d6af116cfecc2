"""AlpacaBroker against the simulator over real loopback sockets: order life, cancels, retries."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from actors.execution.alpaca_broker import AlpacaBroker
from actors.execution.broker import Broker, Reconnected
from actors.execution.core import ExecutionCore
from actors.execution.live_reconcile import BrokerReconciler
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.storage.repository import InMemoryRepository
from tests.alpaca.conftest import QUOTE_BARS, RunningSim, csv_row


def intent(cid: str, qty: str, order_type: str = "market", limit: str | None = None) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid, symbol="SPY", side="buy", qty=Decimal(qty), order_type=order_type,  # type: ignore[arg-type]
        time_in_force="day", ts_ns=0, batch=1, correlation_id=f"corr-{cid}",
        limit_price=None if limit is None else Decimal(limit),
    )


def wait_updates(broker: AlpacaBroker, until_status: str, timeout_s: float = 5.0) -> list[OrderUpdate]:
    seen: list[OrderUpdate] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen.extend(u for u in broker.poll() if isinstance(u, OrderUpdate))  # not the Reconnected markers
        if any(u.status == until_status for u in seen):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"no {until_status} update within {timeout_s}s; got {[u.status for u in seen]}")


def through_core(broker: AlpacaBroker) -> ExecutionCore:
    """The broker behind an execution core: the adapter only translates, the core de-duplicates."""
    return ExecutionCore(broker, InMemoryRepository(), clock=lambda: 0)


def wait_core(core: ExecutionCore, until_status: str, timeout_s: float = 5.0,
              on_reconnect: BrokerReconciler | None = None) -> list[OrderUpdate]:
    """What the core passes on from the broker's stream (and, with a reconciler, from reconciliations)."""
    seen: list[OrderUpdate] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        polled, reconnected = core.poll()
        seen += polled
        if reconnected and on_reconnect is not None:
            on_reconnect.reconnected()
        if on_reconnect is not None and on_reconnect.due():
            seen += on_reconnect.run()
        if any(u.status == until_status for u in seen):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"no {until_status} update within {timeout_s}s; got {[u.status for u in seen]}")


def test_alpaca_broker_when_built_then_satisfies_the_broker_protocol(sim: RunningSim) -> None:
    assert isinstance(AlpacaBroker(sim.client_config(), stream=False), Broker)


def test_market_order_when_size_beyond_ask_size_then_new_partial_fill_fill_arrive_on_trade_updates(
    sim: RunningSim,
) -> None:
    # Arrange: the 13:30 quote bar is current; the next one is 13:31 (real SPY NBBO rows)
    first = csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:30:00Z")
    second = csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")
    first_size, second_size = Decimal(first["ask_size"]), Decimal(second["ask_size"])
    extra = Decimal(600)
    assert second_size >= extra
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    with AlpacaBroker(sim.client_config()) as broker:
        core = through_core(broker)
        # Act
        acks = core.submit([intent("life-1", str(first_size + extra))])
        sim.admin("/admin/step", {"steps": 1})
        updates = acks + wait_core(core, "filled")
    # Assert: whichever way each change came first (the POST answer, a retried POST's answer, the stream),
    # the core passes each share once, at the real asks, and the order's life once
    statuses = [u.status for u in updates]
    assert statuses[-1] == "filled" and statuses.count("new") <= 1 and statuses.count("filled") == 1
    fills = {u.last_fill_price: u.last_fill_qty for u in updates if u.last_fill_qty > 0}
    assert fills == {Decimal(first["ask_close"]): first_size, Decimal(second["ask_close"]): extra}
    fill = updates[-1]
    expected_avg = (first_size * Decimal(first["ask_close"]) + extra * Decimal(second["ask_close"])) / (first_size + extra)
    assert abs(fill.filled_avg_price - expected_avg) < Decimal("0.000001")
    assert fill.correlation_id == "corr-life-1"


def test_cancel_when_order_is_open_then_204_and_canceled_arrives_on_stream(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    with AlpacaBroker(sim.client_config()) as broker:
        broker.submit(intent("cxl-1", "10", "limit", limit="100"))
        order_id = broker.get_order("cxl-1").broker_order_id  # type: ignore[union-attr]
        status, _, body = sim.raw("DELETE", f"/v2/orders/{order_id}")
        updates = wait_updates(broker, "canceled")
        again, _, again_body = sim.raw("DELETE", f"/v2/orders/{order_id}")
    assert (status, body) == (204, None)
    assert updates[-1].client_order_id == "cxl-1"
    assert (again, again_body["code"]) == (422, 42210000)


def test_cancel_all_when_two_orders_open_then_207_lists_both_and_both_cancel(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    with AlpacaBroker(sim.client_config()) as broker:
        broker.submit(intent("all-1", "5", "limit", limit="100"))
        broker.submit(intent("all-2", "5", "limit", limit="101"))
        status, _, body = sim.raw("DELETE", "/v2/orders")
        canceled = [u for u in wait_updates(broker, "canceled") if u.status == "canceled"]
        time.sleep(0.2)
        canceled += [u for u in broker.poll() if u.status == "canceled"]
        assert broker.open_orders() == []
    assert status == 207
    assert sorted(item["body"]["client_order_id"] for item in body) == ["all-1", "all-2"]
    assert all(item["status"] == 200 for item in body)
    assert sorted(u.client_order_id for u in canceled) == ["all-1", "all-2"]


def test_client_cancel_all_when_orders_open_then_none_remain_open(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    with AlpacaBroker(sim.client_config(), stream=False).start() as broker:
        broker.submit(intent("ca-1", "5", "limit", limit="100"))
        assert len(broker.open_orders()) == 1
        broker.cancel_all()
        assert broker.open_orders() == []


def test_submit_when_500_after_the_order_was_created_then_lookup_finds_it_and_no_second_post(
    sim: RunningSim,
) -> None:
    sim.admin("/admin/faults", {"status": 500, "count": 1, "match": "POST /v2/orders", "after_handler": True})
    with AlpacaBroker(sim.client_config(), stream=False).start() as broker:
        acks = broker.submit(intent("lost-1", "1", "limit", limit="100"))
    state = sim.admin("/admin/state")
    assert [a.client_order_id for a in acks] == ["lost-1"]
    assert state["orders"] == 1
    assert state["hits"]["POST /v2/orders"] == 1


def test_submit_when_two_500s_before_the_order_then_resent_with_same_id_and_exactly_one_order(
    sim: RunningSim,
) -> None:
    sim.admin("/admin/faults", {"status": 500, "count": 2, "match": "POST /v2/orders"})
    with AlpacaBroker(sim.client_config(), stream=False).start() as broker:
        acks = broker.submit(intent("retry-1", "1", "limit", limit="100"))
    state = sim.admin("/admin/state")
    status, _, order = sim.raw("GET", "/v2/orders:by_client_order_id?client_order_id=retry-1")
    assert acks[0].broker_order_id == order["id"] and status == 200
    assert state["orders"] == 1
    assert state["hits"]["POST /v2/orders"] == 3
    assert state["hits"]["GET /v2/orders:by_client_order_id"] >= 2


def test_submit_when_client_order_id_already_used_then_422_40010001_resolved_by_fetch(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    with AlpacaBroker(sim.client_config(), stream=False).start() as first:
        original = first.submit(intent("dup-1", "1", "limit", limit="100"))[0]
    status, _, body = sim.raw("POST", "/v2/orders", {"symbol": "SPY", "qty": 1, "side": "buy", "type": "limit",
                                                     "limit_price": "100", "time_in_force": "day",
                                                     "client_order_id": "dup-1"})
    with AlpacaBroker(sim.client_config(), stream=False).start() as second:  # fresh process, no memory
        resolved = second.submit(intent("dup-1", "1", "limit", limit="100"))
    assert (status, body["code"]) == (422, 40010001)
    assert [u.broker_order_id for u in resolved] == [original.broker_order_id]
    assert sim.admin("/admin/state")["orders"] == 1


def test_submit_when_buying_power_is_short_then_rejected_update_with_reason(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    with AlpacaBroker(sim.client_config(), stream=False).start() as broker:
        updates = broker.submit(intent("big-1", "100000", "limit", limit="167"))
    assert [u.status for u in updates] == ["rejected"]
    assert "40310000" in updates[0].reason and "insufficient buying power" in updates[0].reason


def test_broker_when_keys_are_wrong_then_config_error(sim: RunningSim) -> None:
    rest_only = AlpacaBroker(sim.client_config(secret_key="wrong"), stream=False).start()
    streaming = AlpacaBroker(sim.client_config(secret_key="wrong"))
    try:
        with pytest.raises(ConfigError):
            rest_only.account()
        with pytest.raises(ConfigError):
            streaming.start()
    finally:
        rest_only.close()
        streaming.close()


def test_rest_when_keys_are_wrong_then_401_with_alpaca_body(sim: RunningSim) -> None:
    status, _, body = sim.raw("GET", "/v2/account", secret="nope")
    assert (status, body) == (401, {"code": 40110000, "message": "request is not authorized"})


def test_stream_when_connected_then_a_reconnected_marker_comes_through_poll(sim: RunningSim) -> None:
    with AlpacaBroker(sim.client_config()) as broker:
        assert broker.poll() == [Reconnected(1)]


def test_stream_when_dropped_then_reconnects_and_reconciles_missed_fill(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    with AlpacaBroker(sim.client_config(reconnect_max_s=0.5)) as broker:
        repo = InMemoryRepository()
        core = ExecutionCore(broker, repo, clock=lambda: 0)
        reconciler = BrokerReconciler(core, repo, broker, clock=lambda: 0)
        core.submit([intent("gap-1", "10", "limit", limit="167.40")])
        assert reconciler.run() == []  # start-up: nothing missed yet
        core.poll()
        sim.admin("/admin/faults", {"drop_websockets": True})
        sim.admin("/admin/step", {"steps": 1})  # 13:31 ask 167.38 <= 167.40: fills while we are away
        updates = wait_core(core, "filled", timeout_s=8, on_reconnect=reconciler)  # the reconciler finds it
        assert broker.stream is not None and broker.stream.connects >= 2 and reconciler.runs >= 2
    fill = updates[-1]
    assert fill.last_fill_qty == Decimal(10)
    assert fill.last_fill_price == Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")["ask_close"])
