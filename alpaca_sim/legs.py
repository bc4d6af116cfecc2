"""Bracket, OCO and OTO orders: their legs and how the legs live and die.

* bracket: an entry plus a take-profit limit and a stop-loss stop (or stop-limit) on the other
  side; both legs are `held` until the entry is filled, then `new`; when one leg fills (even in
  part) the other is canceled.
* oto: an entry plus one of those legs, held until the entry is filled.
* oco: an exit pair: the order itself is the take-profit limit and its one leg the stop-loss;
  both work at once, and a fill of either cancels the other.
Canceling an entry cancels its held legs; if the entry had filled in part, the legs are released
for the filled quantity instead, so a position is never left without its exits. Canceling one
leg of a pair cancels the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from alpaca_sim.models import CODE_UNPROCESSABLE, Execution, OrderRequest, SimOrder, SimRejection, order_json


class MatchingEngine(Protocol):
    """What the leg rules need of the engine (alpaca_sim.orders.MatchingEngine)."""

    orders: dict[str, SimOrder]
    new_id: Callable[[], str]

    def add(self, order: SimOrder) -> None: ...

    def expiry(self, order: SimOrder, now_ns: int) -> None: ...

    def legs_of(self, order: SimOrder) -> list[SimOrder]: ...

    def close(self, order: SimOrder, status: str, now_ns: int) -> Execution: ...

_CENT = Decimal("0.01")


def check_prices(request: OrderRequest, market: Decimal | None) -> None:
    """A bracket/oto entry's exits must lie a cent beyond its base price (limit, else the market)."""
    if request.order_class == "oco":
        return
    base = request.limit_price if request.order_type in ("limit", "stop_limit") else request.stop_price or market
    if base is None:
        return
    buying = request.side == "buy"
    if request.take_profit is not None:
        bound = base + _CENT if buying else base - _CENT
        if (request.take_profit < bound) if buying else (request.take_profit > bound):
            relation = ">=" if buying else "<="
            raise SimRejection(422, CODE_UNPROCESSABLE,
                               f"take_profit.limit_price must be {relation} base_price {'+' if buying else '-'} 0.01",
                               base_price=format(base, "f"))
    if request.stop_loss is not None:
        bound = base - _CENT if buying else base + _CENT
        if (request.stop_loss > bound) if buying else (request.stop_loss < bound):
            relation = "<=" if buying else ">="
            raise SimRejection(422, CODE_UNPROCESSABLE,
                               f"stop_loss.stop_price must be {relation} base_price {'-' if buying else '+'} 0.01",
                               base_price=format(base, "f"))


def build(engine: MatchingEngine, request: OrderRequest, parent: SimOrder, now_ns: int) -> list[SimOrder]:
    """Create and register the legs of `parent` (none for a simple order)."""
    if request.order_class == "simple":
        return []
    exit_side = parent.side if request.order_class == "oco" else ("sell" if parent.side == "buy" else "buy")
    status = "new" if request.order_class == "oco" else "held"
    children: list[SimOrder] = []
    if request.take_profit is not None and request.order_class != "oco":
        children.append(_leg(engine, parent, exit_side, "limit", request.take_profit, None, status, now_ns))
    if request.stop_loss is not None:
        kind = "stop_limit" if request.stop_loss_limit is not None else "stop"
        children.append(_leg(engine, parent, exit_side, kind, request.stop_loss_limit, request.stop_loss,
                             status, now_ns))
    for child in children:
        engine.add(child)
        parent.leg_ids.append(child.id)
    return children


def _leg(engine: MatchingEngine, parent: SimOrder, side: str, order_type: str, limit: Decimal | None,
         stop: Decimal | None, status: str, now_ns: int) -> SimOrder:
    leg = SimOrder(
        id=engine.new_id(), client_order_id=str(uuid.uuid4()), symbol=parent.symbol, asset_id=parent.asset_id,
        qty=parent.qty, side=side, order_type=order_type, time_in_force=parent.time_in_force,
        limit_price=limit, stop_price=stop, created_ns=now_ns, updated_ns=now_ns, status=status,
        order_class=parent.order_class, parent_id=parent.id,
    )
    engine.expiry(leg, now_ns)
    return leg


def group(engine: MatchingEngine, order: SimOrder) -> list[SimOrder]:
    """The orders that cancel each other with `order`: a bracket's two legs, or an oco pair."""
    parent = engine.orders[order.parent_id] if order.parent_id is not None else order
    members = engine.legs_of(parent)
    if parent.order_class == "oco":
        members = [parent, *members]
    return members if order in members else []


def on_fill(engine: MatchingEngine, order: SimOrder, now_ns: int) -> list[Execution]:
    if order.order_class in ("bracket", "oto") and order.parent_id is None:
        return _release(engine, order, order.qty, now_ns) if order.status == "filled" else []
    return _cancel_others(engine, order, now_ns)


def on_parent_closed(engine: MatchingEngine, order: SimOrder, now_ns: int) -> list[Execution]:
    """After `order` was canceled or expired: release or cancel its legs, or cancel its pair."""
    if order.order_class in ("bracket", "oto") and order.parent_id is None:
        if order.filled_qty > 0:
            return _release(engine, order, order.filled_qty, now_ns)
        return [engine.close(leg, "canceled", now_ns) for leg in engine.legs_of(order) if leg.is_open]
    if order.status == "canceled":
        return _cancel_others(engine, order, now_ns)
    return []


def _cancel_others(engine: MatchingEngine, order: SimOrder, now_ns: int) -> list[Execution]:
    return [engine.close(other, "canceled", now_ns) for other in group(engine, order)
            if other is not order and other.is_open]


def _release(engine: MatchingEngine, parent: SimOrder, qty: Decimal, now_ns: int) -> list[Execution]:
    released = []
    for leg in engine.legs_of(parent):
        if leg.status == "held":
            leg.qty = qty
            leg.status = "new"
            leg.updated_ns = now_ns
            released.append(Execution("new", order_json(leg), now_ns))
    return released
