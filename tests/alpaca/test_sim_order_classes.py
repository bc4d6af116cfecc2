"""Bracket, OCO and OTO orders through the official alpaca-py client: legs, their states and events.

Prices come from the real SPY quote bars of 2013-10-07 (read independently from the CSV): at
13:32Z the standing quote is the 13:31 bar (bid 167.37 / ask 167.38).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.alpaca.conftest import QUOTE_BARS, RunningSim, TradeEvents, csv_row, trading_client

ENTRY = "2013-10-07T13:32:00Z"


def _bracket(tp: float, sl: float, **kw: object) -> MarketOrderRequest:
    return MarketOrderRequest(symbol="SPY", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                              order_class=OrderClass.BRACKET, take_profit=TakeProfitRequest(limit_price=tp),
                              stop_loss=StopLossRequest(stop_price=sl), **kw)


def _first_minute_bid_at_least(price: Decimal, minutes: list[str]) -> tuple[str, Decimal]:
    for minute in minutes:
        bid = Decimal(csv_row(QUOTE_BARS, "SPY", minute)["bid_close"])
        if bid >= price:
            return minute, bid
    raise LookupError(price)


def test_bracket_when_entry_fills_then_legs_go_live_and_a_take_profit_fill_cancels_the_stop(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": ENTRY})
    ask = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")["ask_close"])
    minute, bid = _first_minute_bid_at_least(Decimal("167.50"), [f"2013-10-07T13:{m}:00Z" for m in range(32, 60)])
    # Act
    order = client.submit_order(_bracket(tp=167.50, sl=167.00))
    # Assert: POST answers the entry with both legs held
    assert order.order_class == OrderClass.BRACKET and order.legs is not None and len(order.legs) == 2
    take_profit, stop_loss = order.legs
    assert (take_profit.type, take_profit.side, take_profit.limit_price) == ("limit", OrderSide.SELL, "167.5")
    assert (stop_loss.type, stop_loss.side, stop_loss.stop_price) == ("stop", OrderSide.SELL, "167")
    assert {leg.status for leg in order.legs} == {OrderStatus.HELD}
    first = events.wait_for(4)
    assert [(e["event"], e["order"]["id"]) for e in first] == [
        ("new", str(order.id)), ("fill", str(order.id)), ("new", str(take_profit.id)), ("new", str(stop_loss.id))]
    assert Decimal(first[1]["price"]) == ask
    position = client.get_open_position("SPY")
    assert (position.qty, position.qty_available) == ("10", "0")  # the live legs hold all of it
    # Act: replay until the bid reaches the take-profit
    sim.admin("/admin/step", {"until": _minute_after(minute)})
    later = events.wait_for(6)[4:]
    # Assert
    assert [(e["event"], e["order"]["id"]) for e in later] == [("fill", str(take_profit.id)),
                                                               ("canceled", str(stop_loss.id))]
    assert Decimal(later[0]["price"]) == bid and later[0]["position_qty"] == "0"
    nested = client.get_orders(GetOrdersRequest(status="all", nested=True))
    assert [o.id for o in nested] == [order.id]
    assert [leg.status for leg in nested[0].legs or []] == [OrderStatus.FILLED, OrderStatus.CANCELED]
    flat = client.get_orders(GetOrdersRequest(status="all"))
    assert {o.id for o in flat} == {order.id, take_profit.id, stop_loss.id}


def _minute_after(stamp: str) -> str:
    hour, minute = int(stamp[11:13]), int(stamp[14:16]) + 2  # the bar is published at its end
    hour, minute = hour + minute // 60, minute % 60
    return f"{stamp[:11]}{hour:02d}:{minute:02d}:00Z"


def test_bracket_when_entry_is_canceled_before_filling_then_its_held_legs_are_canceled(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": ENTRY})
    entry = LimitOrderRequest(symbol="SPY", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                              limit_price=160.00, order_class=OrderClass.BRACKET,
                              take_profit=TakeProfitRequest(limit_price=170.00),
                              stop_loss=StopLossRequest(stop_price=155.00, limit_price=154.50))
    order = client.submit_order(entry)
    assert order.legs is not None and order.legs[1].type == "stop_limit"
    client.cancel_order_by_id(order.id)
    got = events.wait_for(4)
    assert [e["event"] for e in got] == ["new", "canceled", "canceled", "canceled"]
    assert {e["order"]["id"] for e in got[1:]} == {str(order.id), *(str(leg.id) for leg in order.legs)}


def test_oco_when_the_stop_is_reached_then_it_fills_and_the_take_profit_is_canceled(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": ENTRY})
    client.submit_order(MarketOrderRequest(symbol="SPY", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    bid_1332 = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:32:00Z")["bid_close"])
    assert bid_1332 <= Decimal("167.30")
    oco = client.submit_order(LimitOrderRequest(
        symbol="SPY", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, limit_price=167.60,
        order_class=OrderClass.OCO, take_profit=TakeProfitRequest(limit_price=167.60),
        stop_loss=StopLossRequest(stop_price=167.30)))
    assert oco.order_class == OrderClass.OCO and oco.legs is not None and len(oco.legs) == 1
    stop = oco.legs[0]
    assert oco.status == OrderStatus.NEW and stop.status == OrderStatus.NEW  # both work at once
    # Act: the 13:32 bar is published at 13:33
    sim.admin("/admin/step", {"until": "2013-10-07T13:33:00Z"})
    got = events.wait_for(6)[2:]
    assert [(e["event"], e["order"]["id"]) for e in got] == [
        ("new", str(oco.id)), ("new", str(stop.id)), ("fill", str(stop.id)), ("canceled", str(oco.id))]
    assert Decimal(got[2]["price"]) == bid_1332
    assert client.get_all_positions() == []


def test_oto_when_entry_fills_then_its_single_stop_leg_goes_live(sim: RunningSim, events: TradeEvents) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": ENTRY})
    ask_1332 = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:32:00Z")["ask_close"])
    order = client.submit_order(LimitOrderRequest(
        symbol="SPY", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=167.30,
        order_class=OrderClass.OTO, stop_loss=StopLossRequest(stop_price=166.00)))
    assert order.legs is not None and len(order.legs) == 1 and order.legs[0].status == OrderStatus.HELD
    sim.admin("/admin/step", {"until": "2013-10-07T13:33:00Z"})
    got = events.wait_for(3)
    assert [e["event"] for e in got] == ["new", "fill", "new"]
    assert Decimal(got[1]["price"]) == ask_1332 and got[2]["order"]["id"] == str(order.legs[0].id)


@pytest.mark.parametrize(("request_", "code", "words"), [
    (_bracket(tp=167.00, sl=166.00), 42210000, "take_profit.limit_price must be >="),
    (_bracket(tp=168.00, sl=167.50), 42210000, "stop_loss.stop_price must be <="),
    (_bracket(tp=168.00, sl=166.00, extended_hours=True), 42210000, "extended hours"),
    (MarketOrderRequest(symbol="BTC/USD", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                        order_class=OrderClass.BRACKET, take_profit=TakeProfitRequest(limit_price=9000),
                        stop_loss=StopLossRequest(stop_price=5000)), 42210000, "simple orders"),
    (MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.DAY,
                        order_class=OrderClass.OCO, take_profit=TakeProfitRequest(limit_price=170),
                        stop_loss=StopLossRequest(stop_price=160)), 42210000, "oco orders must be limit"),
    (MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.IOC,
                        order_class=OrderClass.BRACKET, take_profit=TakeProfitRequest(limit_price=170),
                        stop_loss=StopLossRequest(stop_price=160)), 42210000, "DAY or GTC"),
])
def test_order_class_when_alpaca_would_refuse_it_then_422_with_code_and_reason(
    sim: RunningSim, request_: MarketOrderRequest, code: int, words: str
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": ENTRY})
    with pytest.raises(APIError) as info:
        client.submit_order(request_)
    assert info.value.status_code == 422 and info.value.code == code and words in info.value.message
    assert client.get_orders(GetOrdersRequest(status="all")) == []
