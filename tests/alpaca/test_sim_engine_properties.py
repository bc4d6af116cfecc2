"""Money invariants of the matching engine under random sequences of orders, cancels, replaces and
real SPY quotes: cash and positions always equal what the fill events say, nothing fills twice,
nothing closed comes back, and the two exits of a bracket or oco never both fill."""

from __future__ import annotations

import os
from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from alpaca_sim.data import QuoteEvent, read_events
from alpaca_sim.hours import NyseHours
from alpaca_sim.models import Execution, OrderRequest, SimRejection
from alpaca_sim.order_requests import ReplaceRequest
from alpaca_sim.orders import MatchingEngine
from alpaca_sim.replace import replace
from alpaca_sim.timefmt import parse_rfc3339_ns
from tests.alpaca.conftest import QUOTE_BARS

_FROM, _TO = parse_rfc3339_ns("2013-10-07T13:20:00Z"), parse_rfc3339_ns("2013-10-07T15:00:00Z")
QUOTES = sorted((e for e in read_events(QUOTE_BARS) if isinstance(e, QuoteEvent) and e.symbol == "SPY"
                 and _FROM <= e.ts_ns < _TO), key=lambda e: e.ts_ns)  # around the open: pre-market to regular
CASH = Decimal(1_000_000)
TERMINAL = {"filled", "canceled", "expired", "replaced"}

prices = st.decimals(min_value=Decimal("166.50"), max_value=Decimal("168.50"), places=2)
submit = st.builds(
    lambda side, kind, qty, px, tif, cls: ("submit", side, kind, qty, px, tif, cls),
    st.sampled_from(["buy", "sell"]), st.sampled_from(["market", "limit", "stop", "trailing_stop"]),
    st.integers(1, 3000), prices, st.sampled_from(["day", "gtc", "ioc", "fok"]),
    st.sampled_from(["simple", "simple", "bracket", "oto"]))
actions = st.lists(st.one_of(
    submit, st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("replace"), st.integers(0, 50), prices, st.integers(1, 3000)),
    st.tuples(st.just("market"), st.integers(1, 5))), max_size=40)


def _request(side: str, kind: str, qty: int, px: Decimal, tif: str, cls: str) -> OrderRequest:
    limit = px if kind == "limit" else None
    stop = px if kind == "stop" else None
    trail = Decimal("0.05") if kind == "trailing_stop" else None
    if cls != "simple" and kind == "trailing_stop":
        cls = "simple"
    tp = sl = None
    if cls != "simple":
        base = px if kind in ("limit", "stop") else Decimal("167.40")
        tp, sl = (base + 2, base - 2) if side == "buy" else (base - 2, base + 2)
        if cls == "oto":
            tp = None
    return OrderRequest("SPY", Decimal(qty), side, kind, "day" if cls != "simple" and tif in ("ioc", "fok") else tif,
                        None, limit, stop, False, cls, tp, sl, None, trail_price=trail)


@settings(max_examples=int(os.environ.get("SIM_FUZZ_EXAMPLES", "0")) or 150, deadline=None)
@given(actions)
def test_engine_when_random_orders_meet_real_quotes_then_money_matches_the_fill_events(steps: list[tuple]) -> None:
    engine = MatchingEngine(CASH, allow_short=True, multiplier=4, hours=NyseHours())
    cursor, now = 0, QUOTES[0].publish_ns
    engine.on_market(QUOTES[0], now)
    events: list[Execution] = []
    ids: list[str] = []
    for step in steps:
        try:
            if step[0] == "submit":
                snapshot, out = engine.submit(_request(*step[1:]), now)
                ids.append(snapshot["id"])
                events += out
            elif step[0] == "cancel" and ids:
                events += engine.cancel(ids[step[1] % len(ids)], now)
            elif step[0] == "replace" and ids:
                order = engine.order(ids[step[1] % len(ids)])
                change = ReplaceRequest(Decimal(step[3]), None, step[2] if order.limit_price else None,
                                        step[2] if order.order_type == "stop" else None, None)
                snapshot, out = replace(engine, order.id, change, now)
                ids.append(snapshot["id"])
                events += out
            elif step[0] == "market":
                for _ in range(step[1]):
                    cursor = min(cursor + 1, len(QUOTES) - 1)
                    now = QUOTES[cursor].publish_ns
                    events += engine.on_market(QUOTES[cursor], now)
        except SimRejection:
            pass
    fills = [e for e in events if e.event in ("fill", "partial_fill")]
    signed = [(e.order["id"], (e.qty or 0) * (1 if e.order["side"] == "buy" else -1), e.price or 0) for e in fills]
    assert engine.cash == CASH - sum(q * p for _, q, p in signed)
    held = engine.positions["SPY"].qty if "SPY" in engine.positions else Decimal(0)
    assert held == sum(q for _, q, _ in signed)
    per_order: dict[str, Decimal] = defaultdict(Decimal)
    for order_id, q, _ in signed:
        per_order[order_id] += abs(q)
    for order in engine.orders.values():
        assert order.filled_qty == per_order[order.id] and order.filled_qty <= order.qty
    seen_closed: set[str] = set()
    for event in events:
        oid = event.order["id"]
        assert oid not in seen_closed, f"{event.event} after {oid} was closed"
        if event.order["status"] in TERMINAL:
            seen_closed.add(oid)
    for order in engine.orders.values():
        exits = engine.legs_of(order) if order.order_class == "bracket" else []
        assert sum(1 for leg in exits if leg.filled_qty > 0) <= 1
