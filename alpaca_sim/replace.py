"""PATCH /v2/orders/{id}: a replacement is a new order that `replaces` the old one.

The old order becomes `replaced` (with `replaced_by` and `replaced_at`) and the stream sends
`replaced` for it, then `new` for the replacement, which keeps the old order's place (a leg stays
a leg of its parent). Only orders with nothing filled can be replaced here; replacing the entry of
a bracket/oco/oto order is refused with a 422 that says so.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from alpaca_sim.data import is_crypto
from alpaca_sim.models import (
    CODE_UNPROCESSABLE,
    CODE_VALIDATION,
    Execution,
    SimOrder,
    SimRejection,
    order_json,
)
from alpaca_sim.order_requests import CRYPTO_TIF, ReplaceRequest
from alpaca_sim.orders import MatchingEngine
from alpaca_sim.trailing import trail_to


def _refuse(message: str) -> SimRejection:
    return SimRejection(422, CODE_UNPROCESSABLE, message)


def replace(engine: MatchingEngine, order_id: str, request: ReplaceRequest,
            now_ns: int) -> tuple[dict[str, Any], list[Execution]]:
    old = engine.order(order_id)
    if not old.is_open:
        raise _refuse("order is not replaceable: it is " + old.status)
    if old.filled_qty > 0:
        raise _refuse("replacing a partially filled order is not supported by this simulator")
    if old.leg_ids:
        raise _refuse(f"replacing the entry of an {old.order_class} order is not supported by this simulator; "
                      "replace its legs")
    if old.notional is not None:
        raise _refuse("replacing a notional order is not supported by this simulator")
    limit, stop = request.limit_price, request.stop_price
    if request.trail is not None and old.order_type != "trailing_stop":
        raise SimRejection(422, CODE_VALIDATION, f"trail does not apply to a {old.order_type} order")
    if stop is not None and old.order_type == "trailing_stop":
        raise SimRejection(422, CODE_VALIDATION, "a trailing_stop order moves by trail, not stop_price")
    if limit is not None and old.order_type not in ("limit", "stop_limit"):
        raise SimRejection(422, CODE_VALIDATION, f"limit_price does not apply to a {old.order_type} order")
    if stop is not None and old.order_type not in ("stop", "stop_limit"):
        raise SimRejection(422, CODE_VALIDATION, f"stop_price does not apply to a {old.order_type} order")
    tif = request.time_in_force or old.time_in_force
    if is_crypto(old.symbol) and tif not in CRYPTO_TIF:
        raise _refuse(f"invalid crypto time_in_force: {tif} (crypto orders take gtc or ioc)")
    if old.parent_id is not None and tif != old.time_in_force:
        raise _refuse("the legs of an order keep its time_in_force")
    cid = request.client_order_id or str(uuid.uuid4())
    if engine.client_id_taken(cid):
        raise SimRejection(422, CODE_VALIDATION, "client_order_id must be unique")
    qty = request.qty or old.qty
    new_limit, new_stop = limit or old.limit_price, stop or old.stop_price
    price = new_limit or new_stop or Decimal(0)
    if old.parent_id is None:
        engine.check_funds(old.symbol, old.side, qty, price or _market(engine, old), replacing=old)
    new = SimOrder(
        id=engine.new_id(), client_order_id=cid, symbol=old.symbol, asset_id=old.asset_id, qty=qty,
        side=old.side, order_type=old.order_type, time_in_force=tif, limit_price=new_limit, stop_price=new_stop,
        created_ns=now_ns, updated_ns=now_ns, status="held" if old.status == "held" else "new",
        extended_hours=old.extended_hours, order_class=old.order_class, parent_id=old.parent_id,
        replaces=old.id,
    )
    if old.order_type == "trailing_stop":
        _retrail(new, old, request.trail)
    engine.expiry(new, now_ns)
    old.status, old.replaced_by, old.replaced_ns, old.updated_ns = "replaced", new.id, now_ns, now_ns
    engine.add(new)
    if old.parent_id is not None:
        parent = engine.orders[old.parent_id]
        parent.leg_ids[parent.leg_ids.index(old.id)] = new.id
    accepted = engine.snapshot(new)
    executions = [Execution("replaced", order_json(old), now_ns), Execution("new", accepted, now_ns)]
    if new.status != "held":
        executions.extend(engine.match_now(new, now_ns))
    return accepted, executions


def _retrail(new: SimOrder, old: SimOrder, trail: Decimal | None) -> None:
    new.trail_price, new.trail_percent, new.hwm, new.stop_price = old.trail_price, old.trail_percent, None, None
    if trail is not None and old.trail_price is not None:
        new.trail_price = trail
    elif trail is not None:
        if trail >= 100:
            raise _refuse("trail_percent must be below 100")
        new.trail_percent = trail
    if old.hwm is not None:
        trail_to(new, old.hwm)


def _market(engine: MatchingEngine, order: SimOrder) -> Decimal:
    return engine.last_price.get(order.symbol, Decimal(0))
