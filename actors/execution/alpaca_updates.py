"""Alpaca orders and trade_updates events -> cluster.foundation.wire.OrderUpdate, each change exactly once.

The same change can reach us twice: in the POST/GET response and on the trade_updates stream,
in either order. OrderTracker keeps the last state sent per client_order_id and lets through only
progress (more filled quantity, or a later status), so the execution core's transition table
never sees `new -> new`. A fill learnt from a REST snapshot (for example after a stream outage)
becomes a fill update whose size and price are the difference to what was already reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from cluster.foundation.errors import BadInput
from cluster.foundation.wire import OrderStatus, OrderUpdate

_STATUS: dict[str, OrderStatus] = {
    "accepted": "pending_new", "pending_new": "pending_new", "accepted_for_bidding": "pending_new",
    "pending_review": "pending_new", "held": "pending_new", "new": "new",
    "partially_filled": "partially_filled", "filled": "filled", "canceled": "canceled",
    "expired": "expired", "rejected": "rejected", "replaced": "replaced", "pending_cancel": "pending_cancel",
}
_RANK: dict[OrderStatus, int] = {
    "pending_new": 0, "new": 1, "partially_filled": 2, "pending_cancel": 3,
    "filled": 4, "canceled": 4, "expired": 4, "rejected": 4, "replaced": 4,
}


@dataclass(frozen=True, slots=True)
class Known:
    status: OrderStatus
    filled_qty: Decimal
    filled_avg_price: Decimal | None


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


class OrderTracker:
    """Last state sent per order; `admit` returns the update to emit, or None when it is old news."""

    def __init__(self) -> None:
        self._known: dict[str, Known] = {}
        self.correlation: dict[str, str] = {}

    def known(self, client_order_id: str) -> Known | None:
        return self._known.get(client_order_id)

    def unfinished(self) -> list[str]:
        return [cid for cid, k in self._known.items() if _RANK[k.status] < 4]

    def admit(self, update: OrderUpdate) -> OrderUpdate | None:
        cid = update.client_order_id
        if not update.correlation_id and cid in self.correlation:
            update = _replace(update, correlation_id=self.correlation[cid])
        before = self._known.get(cid)
        more_filled = before is not None and update.filled_qty > before.filled_qty
        later_status = before is None or _RANK[update.status] > _RANK[before.status]
        if before is not None and not more_filled and not later_status:
            return None
        if more_filled and update.last_fill_qty == 0:
            update = _with_derived_fill(update, before)
        if before is not None and not more_filled and update.last_fill_qty:
            update = _replace(update, last_fill_qty=Decimal(0), last_fill_price=None, fill_id="")
        if before is None and update.filled_qty > 0 and update.last_fill_qty == 0:
            update = _with_derived_fill(update, Known("pending_new", Decimal(0), None))
        self._known[cid] = Known(update.status, update.filled_qty, update.filled_avg_price)
        return update


def _with_derived_fill(update: OrderUpdate, before: Known | None) -> OrderUpdate:
    """A fill seen only as a new cumulative state: size and price are the difference."""
    old_qty = before.filled_qty if before else Decimal(0)
    old_notional = old_qty * (before.filled_avg_price or Decimal(0)) if before else Decimal(0)
    qty = update.filled_qty - old_qty
    avg = update.filled_avg_price
    price = None if avg is None else (update.filled_qty * avg - old_notional) / qty
    return _replace(
        update, last_fill_qty=qty, last_fill_price=price, fill_id=f"{update.broker_order_id}:{update.filled_qty}"
    )
