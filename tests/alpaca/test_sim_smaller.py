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
from alpaca.common.exceptions import APIError
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
    ({"notional": "1000", "qty": None}, "notional orders are not supported"),
    ({"type": "trailing_stop", "trail_percent": "1"}, "order type trailing_stop is not supported"),
])
def test_order_when_feature_is_out_of_scope_then_422_naming_it(sim: RunningSim, body: dict[str, Any],
                                                                words: str) -> None:
    order = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day", **body}
    status, _, answer = sim.raw("POST", "/v2/orders", {k: v for k, v in order.items() if v is not None})
    assert status == 422 and answer["code"] == 42210000 and words in answer["message"]


def test_trailing_stop_when_sent_by_alpaca_py_then_apierror_with_code(sim: RunningSim) -> None:
    with pytest.raises(APIError) as info:
        trading_client(sim).submit_order(TrailingStopOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, trail_percent=1.0))
    assert info.value.code == 42210000


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
