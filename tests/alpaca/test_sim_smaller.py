"""Smaller fidelity points: fok, features refused by name, event times within a long step, and the
dailyBars stream channel."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pandas as pd
import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, TrailingStopOrderRequest

from tests.alpaca.conftest import QUOTE_BARS, TRADE_BARS, RunningSim, TradeEvents, csv_row, trading_client

NOW = "2013-10-07T13:32:00Z"  # standing quote: the 13:31 bar, ask 167.38 for 47,000


def test_fok_when_the_ask_size_covers_it_then_filled_whole(sim: RunningSim, events: TradeEvents) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    client.submit_order(MarketOrderRequest(symbol="SPY", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.FOK))
    assert [e["event"] for e in events.wait_for(2)] == ["new", "fill"]


def test_fok_when_the_ask_size_is_short_then_canceled_with_nothing_filled(sim: RunningSim, events: TradeEvents) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": "2013-10-07T13:33:00Z"})
    size = int(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:32:00Z")["ask_size"])
    client.submit_order(MarketOrderRequest(symbol="SPY", qty=size + 1, side=OrderSide.BUY,
                                           time_in_force=TimeInForce.FOK))
    got = events.wait_for(2)
    assert [e["event"] for e in got] == ["new", "canceled"] and got[1]["order"]["filled_qty"] == "0"


@pytest.mark.parametrize(("body", "words"), [
    ({"time_in_force": "opg"}, "time_in_force opg is not supported"),
    ({"time_in_force": "cls"}, "time_in_force cls is not supported"),
    ({"type": "trailing_stop", "trail_percent": "1", "time_in_force": "ioc"}, "trailing_stop orders must be DAY"),
    ({"notional": "1000", "qty": None, "type": "limit", "limit_price": "100"}, "notional orders must be market"),
])
def test_order_when_feature_is_out_of_scope_then_422_naming_it(sim: RunningSim, body: dict[str, Any],
                                                                words: str) -> None:
    order = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day", **body}
    status, _, answer = sim.raw("POST", "/v2/orders", {k: v for k, v in order.items() if v is not None})
    assert status == 422 and answer["code"] == 42210000 and words in answer["message"]


def test_trailing_stop_when_the_bid_falls_back_by_the_trail_then_it_sells_at_that_bid(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    client.submit_order(MarketOrderRequest(symbol="SPY", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    trail = Decimal("0.10")
    order = client.submit_order(TrailingStopOrderRequest(
        symbol="SPY", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, trail_price=float(trail)))
    # independently: the high-water mark of the bids from the standing 13:31 quote on, and the first bid
    # at or below it minus the trail
    hwm, trigger = Decimal(0), None
    for minute in range(31, 60):
        bid = Decimal(csv_row(QUOTE_BARS, "SPY", f"2013-10-07T13:{minute}:00Z")["bid_close"])
        hwm = max(hwm, bid)
        if bid <= hwm - trail:
            trigger = (minute, bid, hwm)
            break
    assert trigger is not None and trigger[0] < 59
    assert order.hwm == "167.37" and order.stop_price == "167.27" and order.trail_price == "0.1"
    sim.admin("/admin/step", {"until": f"2013-10-07T13:{trigger[0] + 1:02d}:00Z"})  # published a minute later
    got = events.wait_for(4)
    assert [e["event"] for e in got] == ["new", "fill", "new", "fill"] and got[3]["order"]["id"] == str(order.id)
    assert Decimal(got[3]["price"]) == trigger[1] and Decimal(got[3]["order"]["hwm"]) == trigger[2]


def test_notional_buy_when_filled_then_qty_is_the_amount_over_the_ask_rounded_down(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    ask = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")["ask_close"])
    order = client.submit_order(MarketOrderRequest(symbol="SPY", notional=1000, side=OrderSide.BUY,
                                                   time_in_force=TimeInForce.DAY))
    assert order.notional == "1000" and order.qty is None
    got = events.wait_for(2)
    expected = (Decimal(1000) / ask).quantize(Decimal("0.000000001"), rounding="ROUND_DOWN")
    assert got[1]["event"] == "fill" and Decimal(got[1]["qty"]) == expected
    assert client.get_open_position("SPY").qty == str(expected)


def test_events_when_one_step_spans_many_minutes_then_each_carries_its_own_minute(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": NOW})
    client.submit_order(LimitOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                                          limit_price=167.30))  # first reached by the 13:32 bar's ask
    assert Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:32:00Z")["ask_close"]) <= Decimal("167.30")
    sim.admin("/admin/step", {"until": "2013-10-07T14:30:00Z"})
    got = events.wait_for(2)
    assert got[1]["event"] == "fill" and got[1]["timestamp"] == "2013-10-07T13:33:00Z"


async def _daily_bars(sim: RunningSim, count: int) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.url + "/v2/iex") as ws:
        await ws.receive()
        await ws.send_str(json.dumps({"action": "auth", "key": "sim-key", "secret": "sim-secret"}))
        await ws.receive()
        await ws.send_str(json.dumps({"action": "subscribe", "dailyBars": ["SPY"]}))
        await ws.receive()
        await asyncio.to_thread(sim.admin, "/admin/step", {"until": "2013-10-07T13:28:00Z"})
        received: list[dict[str, Any]] = []
        while len(received) < count:
            received.extend(json.loads((await asyncio.wait_for(ws.receive(), 5)).data))
        return received


def test_daily_bars_when_subscribed_then_the_day_so_far_after_every_minute(sim: RunningSim) -> None:
    minutes = pd.read_csv(TRADE_BARS)
    released = minutes[(minutes["symbol"] == "SPY") & (minutes["timestamp"] >= "2013-10-07T13:24:00Z")
                       & (minutes["timestamp"] < "2013-10-07T13:28:00Z")]  # published 13:25..13:28
    received = asyncio.run(_daily_bars(sim, len(released)))
    day = minutes[(minutes["symbol"] == "SPY") & (minutes["timestamp"] >= "2013-10-07T04:00:00Z")
                  & (minutes["timestamp"] < "2013-10-07T13:28:00Z")]  # through the bar published at 13:28
    last = received[-1]
    assert {m["T"] for m in received} == {"d"} and last["t"] == "2013-10-07T04:00:00Z"
    assert (last["o"], last["h"], last["l"], last["c"], last["v"]) == (
        day["open"].iloc[0], day["high"].max(), day["low"].min(), day["close"].iloc[-1], int(day["volume"].sum()))
