"""Alpaca orders and trade_updates events -> cluster.foundation.domain.wire.OrderUpdate: translation only.

The same change can reach us twice: in the POST/GET response and on the trade_updates stream,
in either order. Recognising that is the execution core's (its order FSM and the fill key,
actors/execution/core.py), for every broker alike. A fill learnt only from a REST order (for
example after a stream outage) carries no fill of its own: the core books the shares its
cumulative quantity adds at the price its average implies.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.wire import OrderStatus, OrderUpdate

_STATUS: dict[str, OrderStatus] = {
    "accepted": "pending_new", "pending_new": "pending_new", "accepted_for_bidding": "pending_new",
    "pending_review": "pending_new", "held": "pending_new", "new": "new",
    "partially_filled": "partially_filled", "filled": "filled", "canceled": "canceled",
    "expired": "expired", "rejected": "rejected", "replaced": "replaced", "pending_cancel": "pending_cancel",
}
def parse_rfc3339_ns(text: str) -> int:
    """Alpaca stamps carry up to 9 fractional digits, more than datetime keeps: split them off."""
    head, dot, rest = text.partition(".")
    if not dot:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 1_000_000_000
    digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
    zone = rest[len(digits):].replace("Z", "+00:00") or "+00:00"
    seconds = int(datetime.fromisoformat(head + zone).timestamp())
    return seconds * 1_000_000_000 + int(digits[:9].ljust(9, "0"))


def _dec(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def order_to_update(order: dict[str, Any], correlation_id: str = "", reason: str = "") -> OrderUpdate | None:
    """The state of one Alpaca Order object; None for statuses the core does not model."""
    try:
        status = _STATUS.get(str(order["status"]))
        if status is None:
            return None
        stamp = order.get("updated_at") or order.get("submitted_at") or order["created_at"]
        return OrderUpdate(
            client_order_id=order["client_order_id"], broker_order_id=order["id"], symbol=order["symbol"],
            side=order["side"], status=status, qty=Decimal(str(order["qty"])),
            filled_qty=Decimal(str(order.get("filled_qty") or 0)), ts_ns=parse_rfc3339_ns(stamp),
            correlation_id=correlation_id, filled_avg_price=_dec(order.get("filled_avg_price")), reason=reason,
        )
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise BadInput(f"unusable Alpaca order object ({exc!r}): {str(order)[:300]}") from exc


def event_to_update(data: dict[str, Any], correlation_id: str = "") -> OrderUpdate | None:
    """One trade_updates `data` payload; fills carry this execution's qty and price."""
    if not isinstance(data.get("order"), dict) or "event" not in data:
        raise BadInput(f"trade_updates event without event/order: {str(data)[:300]}")
    base = order_to_update(data["order"], correlation_id)
    if base is None:
        return None
    try:
        ts_ns = parse_rfc3339_ns(data["timestamp"]) if data.get("timestamp") else base.ts_ns
        if data["event"] not in ("fill", "partial_fill"):
            return _replace(base, ts_ns=ts_ns)
        qty, price = _dec(data.get("qty")), _dec(data.get("price"))
    except (ValueError, ArithmeticError) as exc:
        raise BadInput(f"unusable trade_updates event ({exc!r}): {str(data)[:300]}") from exc
    if qty is None or price is None:
        return _replace(base, ts_ns=ts_ns)
    fill_id = str(data.get("execution_id") or f"{base.broker_order_id}:{base.filled_qty}")
    return _replace(base, ts_ns=ts_ns, last_fill_qty=qty, last_fill_price=price, fill_id=fill_id)


def _replace(update: OrderUpdate, **changes: Any) -> OrderUpdate:
    return msgspec.structs.replace(update, **changes)
