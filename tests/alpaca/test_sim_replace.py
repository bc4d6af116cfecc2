"""PATCH /v2/orders/{id} through alpaca-py: a new order that replaces the old, with events and links."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.alpaca.conftest import QUOTE_BARS, RunningSim, TradeEvents, csv_row, trading_client

NOW = "2013-10-07T13:32:00Z"  # standing quote: the 13:31 bar


def test_replace_when_order_is_open_then_new_order_replaces_it_with_links_and_events(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    old = client.submit_order(LimitOrderRequest(symbol="SPY", qty=10, side=OrderSide.BUY,
                                                time_in_force=TimeInForce.GTC, limit_price=160.00))
    # Act
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(qty=5, limit_price=161.25, client_order_id="r-1"))
    # Assert
    assert new.id != old.id and str(new.replaces) == str(old.id) and new.client_order_id == "r-1"
    assert (new.qty, new.limit_price, new.status) == ("5", "161.25", OrderStatus.NEW)
    before = client.get_order_by_id(old.id)
    assert before.status == OrderStatus.REPLACED and str(before.replaced_by) == str(new.id)
    assert before.replaced_at is not None
    got = events.wait_for(3)
    assert [(e["event"], e["order"]["id"]) for e in got] == [
        ("new", str(old.id)), ("replaced", str(old.id)), ("new", str(new.id))]
    assert got[1]["order"]["replaced_by"] == str(new.id) and got[2]["order"]["replaces"] == str(old.id)
    assert [o.id for o in client.get_orders(GetOrdersRequest(status="open"))] == [new.id]


def test_replace_when_new_limit_is_marketable_then_the_replacement_fills_at_the_ask(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    ask = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")["ask_close"])
    old = client.submit_order(LimitOrderRequest(symbol="SPY", qty=2, side=OrderSide.BUY,
                                                time_in_force=TimeInForce.DAY, limit_price=160.00))
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=float(ask)))
    got = events.wait_for(4)
    assert [e["event"] for e in got] == ["new", "replaced", "new", "fill"]
    assert got[3]["order"]["id"] == str(new.id) and Decimal(got[3]["price"]) == ask


def test_replace_when_order_already_filled_then_422_not_replaceable(sim: RunningSim, events: TradeEvents) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    filled = client.submit_order(MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY,
                                                    time_in_force=TimeInForce.DAY))
    events.wait_for(2)
    with pytest.raises(APIError) as info:
        client.replace_order_by_id(filled.id, ReplaceOrderRequest(qty=2))
    assert info.value.status_code == 422 and info.value.code == 42210000 and "filled" in info.value.message


def test_replace_when_client_order_id_is_taken_then_422_and_the_old_order_stays(sim: RunningSim) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    client.submit_order(LimitOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                                          limit_price=150, client_order_id="taken"))
    old = client.submit_order(LimitOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY,
                                                time_in_force=TimeInForce.GTC, limit_price=151))
    with pytest.raises(APIError) as info:
        client.replace_order_by_id(old.id, ReplaceOrderRequest(client_order_id="taken", limit_price=152))
    assert info.value.code == 40010001
    assert client.get_order_by_id(old.id).status == OrderStatus.NEW


def test_replace_when_moving_a_bracket_stop_then_the_new_leg_takes_its_place(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    entry = client.submit_order(MarketOrderRequest(
        symbol="SPY", qty=4, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=170), stop_loss=StopLossRequest(stop_price=160)))
    events.wait_for(4)  # new, fill, the two legs go live
    assert entry.legs is not None
    stop = entry.legs[1]
    moved = client.replace_order_by_id(stop.id, ReplaceOrderRequest(stop_price=165.5))
    assert str(moved.replaces) == str(stop.id) and moved.order_class == OrderClass.BRACKET
    nested = client.get_order_by_id(entry.id, filter=None)
    legs = client.get_orders(GetOrdersRequest(status="all", nested=True))[0].legs or []
    assert [leg.id for leg in legs] == [entry.legs[0].id, moved.id] and nested.id == entry.id
    with pytest.raises(APIError) as info:
        client.replace_order_by_id(entry.legs[0].id, ReplaceOrderRequest(time_in_force=TimeInForce.DAY))
    assert info.value.code == 42210000
