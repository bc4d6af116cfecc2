"""Session rules from the NYSE calendar, through alpaca-py: regular hours 09:30-16:00 ET, extended
hours for extended-hours day limits, day orders expire at the close, half days close at 13:00.

2013-10-07 is a Monday in EDT (ET = UTC-4): 09:30 ET = 13:30Z, 16:00 ET = 20:00Z. A quote bar
stamped 13:29 is published at 13:30 and shows the book at 09:29:59 ET, before the open.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import GetCalendarRequest, LimitOrderRequest, MarketOrderRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaca_sim import sessions
from alpaca_sim.data import QuoteEvent
from alpaca_sim.timefmt import parse_rfc3339_ns
from tests.alpaca.conftest import QUOTE_BARS, RunningSim, TradeEvents, csv_row, start_sim, trading_client


def _ask(stamp: str) -> Decimal:
    return Decimal(csv_row(QUOTE_BARS, "SPY", stamp)["ask_close"])


def _market(qty: int = 1) -> MarketOrderRequest:
    return MarketOrderRequest(symbol="SPY", qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)


def _limit(price: float, extended: bool = False) -> LimitOrderRequest:
    return LimitOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                             limit_price=price, extended_hours=extended)


def test_market_order_when_sent_at_0929_then_it_waits_for_the_first_regular_minute(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": "2013-10-07T13:29:00Z"})
    order = client.submit_order(_market())
    sim.admin("/admin/step", {"until": "2013-10-07T13:30:00Z"})  # the 09:29 bar: still pre-market
    assert client.get_order_by_id(order.id).status == OrderStatus.NEW
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})  # the 09:30 bar: regular session
    got = events.wait_for(2)
    assert [e["event"] for e in got] == ["new", "fill"]
    assert Decimal(got[1]["price"]) == _ask("2013-10-07T13:30:00Z") and got[1]["timestamp"] == "2013-10-07T13:31:00Z"


def test_market_order_when_sent_at_0930_then_it_fills_at_the_standing_ask(sim: RunningSim, events: TradeEvents) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": "2013-10-07T13:30:00Z"})
    assert client.get_clock().is_open
    client.submit_order(_market())
    got = events.wait_for(2)
    assert [e["event"] for e in got] == ["new", "fill"] and Decimal(got[1]["price"]) == _ask("2013-10-07T13:29:00Z")


@pytest.mark.parametrize("now", ["2013-10-07T20:00:00Z", "2013-10-07T20:01:00Z"])
def test_day_limit_when_sent_at_or_after_1600_then_it_waits_for_the_next_session(sim: RunningSim, now: str) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": now})
    assert not client.get_clock().is_open
    order = client.submit_order(_limit(170.00))  # far above the after-hours asks
    assert order.expires_at == datetime.fromisoformat("2013-10-08T20:00:00+00:00")  # the next day's close
    sim.admin("/admin/step", {"until": "2013-10-07T23:00:00Z"})  # through the after-hours data
    assert client.get_order_by_id(order.id).status == OrderStatus.NEW
    sim.admin("/admin/step", {"until": "2013-10-08T13:31:00Z"})
    filled = client.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and filled.filled_at == datetime.fromisoformat("2013-10-08T13:31:00+00:00")


def test_extended_hours_limit_when_sent_at_1601_then_it_fills_after_hours_and_keeps_the_flag(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": "2013-10-07T20:01:00Z"})
    order = client.submit_order(_limit(170.00, extended=True))
    assert order.extended_hours is True
    assert order.expires_at == datetime.fromisoformat("2013-10-08T00:00:00+00:00")  # 20:00 ET
    got = events.wait_for(2)
    assert [e["event"] for e in got] == ["new", "fill"] and Decimal(got[1]["price"]) == _ask("2013-10-07T20:00:00Z")


def test_day_order_when_the_close_passes_then_it_expires_stamped_at_1600(sim: RunningSim, events: TradeEvents) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": "2013-10-07T14:00:00Z"})
    order = client.submit_order(_limit(150.00))
    sim.admin("/admin/step", {"until": "2013-10-07T19:59:00Z"})
    assert client.get_order_by_id(order.id).status == OrderStatus.NEW
    sim.admin("/admin/step", {"until": "2013-10-07T20:05:00Z"})
    got = events.wait_for(2)
    assert [(e["event"], e["timestamp"]) for e in got][1] == ("expired", "2013-10-07T20:00:00Z")
    assert client.get_order_by_id(order.id).expired_at == datetime.fromisoformat("2013-10-07T20:00:00+00:00")


# ---- a half day: 2013-11-29, the day after Thanksgiving, closes at 13:00 ET (18:00Z) ------------
# The shipped data has no half day, so this test replays a few hand-made SPY quotes on that date.
_HALF_DAY_QUOTES = [QuoteEvent("SPY", parse_rfc3339_ns(f"2013-11-29T{t}:00Z"), 180.0, 500.0, 180.01, 500.0)
                    for t in ("17:30", "17:58", "17:59", "18:00", "18:05")]


@pytest.fixture
def half_day() -> Iterator[RunningSim]:
    running, stop = start_sim(events=list(_HALF_DAY_QUOTES), start="2013-11-29T17:00:00Z")
    yield running
    stop()


def test_half_day_when_1300_et_passes_then_day_orders_expire_and_market_orders_wait(half_day: RunningSim) -> None:
    client = trading_client(half_day)
    half_day.admin("/admin/step", {"until": "2013-11-29T17:31:00Z"})
    resting = client.submit_order(_limit(170.00))
    assert resting.expires_at == datetime.fromisoformat("2013-11-29T18:00:00+00:00")
    half_day.admin("/admin/step", {"until": "2013-11-29T18:02:00Z"})
    assert client.get_order_by_id(resting.id).status == OrderStatus.EXPIRED
    late = client.submit_order(_market())
    half_day.admin("/admin/step", {"until": "2013-11-29T18:10:00Z"})
    assert client.get_order_by_id(late.id).status == OrderStatus.NEW  # after the early close
    assert late.expires_at == datetime.fromisoformat("2013-12-02T21:00:00+00:00")  # Monday 16:00 EST
    clock = client.get_clock()
    assert not clock.is_open and clock.next_open == datetime.fromisoformat("2013-12-02T09:30:00-05:00")


def test_calendar_when_asked_for_thanksgiving_week_then_holiday_absent_and_half_day_closes_at_1300(
    sim: RunningSim,
) -> None:
    days = trading_client(sim).get_calendar(GetCalendarRequest(start=date(2013, 11, 25), end=date(2013, 11, 29)))
    assert [d.date.isoformat() for d in days] == ["2013-11-25", "2013-11-26", "2013-11-27", "2013-11-29"]
    assert [(d.open.strftime("%H:%M"), d.close.strftime("%H:%M")) for d in days][-2:] == [
        ("09:30", "16:00"), ("09:30", "13:00")]


# ---- the calendar itself, as a pure function of time -------------------------------------------------
instants = st.integers(parse_rfc3339_ns("1998-01-01T00:00:00Z"), parse_rfc3339_ns("2030-06-01T00:00:00Z"))


@settings(max_examples=300, deadline=None)
@given(instants)
def test_sessions_when_any_instant_then_regular_inside_extended_and_day_orders_expire_after_it(ts: int) -> None:
    if sessions.is_regular(ts):
        assert sessions.is_extended(ts)
    for extended in (False, True):
        session = sessions.order_session(ts, extended)
        end = session.post_ns if extended else session.close_ns
        assert end > ts and session.pre_ns < session.open_ns < session.close_ns < session.post_ns
    is_open, next_open, next_close = sessions.clock(ts)
    assert is_open == sessions.is_regular(ts) and next_close > ts and next_open > ts
    assert (next_open > next_close) == is_open


def test_sessions_when_every_day_of_the_calendar_then_full_or_half_days_only() -> None:
    lengths = {s.close_ns - s.open_ns for s in sessions.between(date(1998, 1, 1), date(2030, 12, 31))}
    assert lengths == {int(6.5 * 3600e9), int(3.5 * 3600e9)}
