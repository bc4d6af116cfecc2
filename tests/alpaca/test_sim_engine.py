"""The matching engine's order-class and replace rules, without sockets (pure core, real SPY quotes)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alpaca_sim.data import QuoteEvent, read_events
from alpaca_sim.hours import NyseHours
from alpaca_sim.models import OrderRequest, SimRejection
from alpaca_sim.order_requests import ReplaceRequest
from alpaca_sim.orders import MatchingEngine
from alpaca_sim.replace import replace
from alpaca_sim.timefmt import parse_rfc3339_ns
from tests.alpaca.conftest import QUOTE_BARS

_QUOTES = {(e.symbol, e.ts_ns): e for e in read_events(QUOTE_BARS) if isinstance(e, QuoteEvent)}


def quote(ts: str) -> QuoteEvent:
    return _QUOTES[("SPY", parse_rfc3339_ns(ts))]


def engine_after(ts: str) -> tuple[MatchingEngine, int]:
    engine = MatchingEngine(Decimal(1_000_000), allow_short=True, multiplier=4, hours=NyseHours())
    q = quote(ts)
    engine.on_market(q, q.publish_ns)
    return engine, q.publish_ns


def bracket(qty: str, limit: str | None = None, tif: str = "day") -> OrderRequest:
    return OrderRequest("SPY", Decimal(qty), "buy", "limit" if limit else "market", tif, None,
                        None if limit is None else Decimal(limit), None, False, "bracket",
                        Decimal("170"), Decimal("140"), None)


def test_bracket_entry_when_partly_filled_then_canceled_then_legs_protect_the_filled_part() -> None:
    q = quote("2013-10-07T13:32:00Z")
    engine, now = engine_after("2013-10-07T13:32:00Z")
    snapshot, events = engine.submit(bracket(str(int(q.ask_size) + 500), limit=str(q.ask)), now)
    assert [e.event for e in events] == ["new", "partial_fill"]
    out = engine.cancel(snapshot["id"], now)
    assert [e.event for e in out] == ["canceled", "new", "new"]
    assert {e.order["qty"] for e in out[1:]} == {str(int(q.ask_size))}


def test_bracket_entry_when_it_expires_unfilled_then_held_legs_are_canceled_at_the_close() -> None:
    engine, now = engine_after("2013-10-07T13:31:00Z")
    snapshot, _ = engine.submit(bracket("10", limit="150"), now)
    out = engine.expire(parse_rfc3339_ns("2013-10-07T20:00:00Z"))
    assert [(e.event, e.ts_ns) for e in out] == [("expired", parse_rfc3339_ns("2013-10-07T20:00:00Z"))] + [
        ("canceled", parse_rfc3339_ns("2013-10-07T20:00:00Z"))] * 2
    assert engine.order(snapshot["id"]).status == "expired"


def test_bracket_leg_when_canceled_by_the_user_then_its_pair_is_canceled_too() -> None:
    engine, now = engine_after("2013-10-07T13:31:00Z")
    snapshot, _ = engine.submit(bracket("10"), now)
    take_profit, stop_loss = engine.legs_of(engine.order(snapshot["id"]))
    out = engine.cancel(stop_loss.id, now)
    assert [(e.event, e.order["id"]) for e in out] == [("canceled", stop_loss.id), ("canceled", take_profit.id)]


def test_replace_when_leg_is_held_then_the_replacement_stays_held_and_takes_its_place() -> None:
    engine, now = engine_after("2013-10-07T13:31:00Z")
    snapshot, _ = engine.submit(bracket("10", limit="150", tif="gtc"), now)
    _, stop_loss = engine.legs_of(engine.order(snapshot["id"]))
    new, events = replace(engine, stop_loss.id, ReplaceRequest(None, None, None, Decimal("149"), None), now)
    assert new["status"] == "held" and new["replaces"] == stop_loss.id
    assert [e.event for e in events] == ["replaced", "new"]
    assert engine.order(snapshot["id"]).leg_ids[1] == new["id"]


def test_replace_when_it_would_exceed_buying_power_then_403_and_the_old_order_stands() -> None:
    engine, now = engine_after("2013-10-07T13:31:00Z")
    snapshot, _ = engine.submit(OrderRequest("SPY", Decimal(100), "buy", "limit", "gtc", None, Decimal(150), None),
                                now)
    with pytest.raises(SimRejection) as info:
        replace(engine, snapshot["id"], ReplaceRequest(Decimal(100_000), None, None, None, None), now)
    assert info.value.http_status == 403 and engine.order(snapshot["id"]).status == "new"


def test_buying_power_when_an_order_rests_then_it_holds_its_limit_value() -> None:
    engine, now = engine_after("2013-10-07T13:31:00Z")
    before = engine.buying_power()
    engine.submit(OrderRequest("SPY", Decimal(100), "buy", "limit", "gtc", None, Decimal(150), None), now)
    assert before - engine.buying_power() == Decimal(15_000)
