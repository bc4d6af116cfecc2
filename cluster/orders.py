"""The order vocabulary every module shares: terminal statuses, a fill's identity, exact quantities.

Risk, execution and the order state machine all ask these questions; they get one answer here.

* Terminal statuses: the broker will not work the order any more (late fills may still arrive).
* A fill's identity is the part of the order it covers: the interval (filled_qty - last_fill_qty,
  filled_qty] of the order's cumulative quantity. FillLedger books every share of an order at most
  once, whatever order the reports arrive in, and however often: a report that arrives late, twice,
  or overlapping one already booked adds only the shares not booked yet.
* Quantities go on the wire in plain notation ("100", never "1E+2").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from cluster.wire import OrderStatus, OrderUpdate

TERMINAL_STATUSES: Final[frozenset[OrderStatus]] = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
_ZERO = Decimal(0)
_ONE = Decimal(1)


def is_terminal_status(status: str) -> bool:
    """Terminal: the broker will not work this order any more (late fills may still arrive)."""
    return status in TERMINAL_STATUSES


def fill_key(update: OrderUpdate) -> str:
    """A name for one fill report: the broker's fill id, else the cumulative quantity it reached."""
    return update.fill_id or f"{update.client_order_id}:{update.filled_qty}"


def plain_qty(qty: Decimal) -> Decimal:
    """The same quantity without a positive exponent, so str() never gives scientific notation."""
    if qty.as_tuple().exponent > 0:  # type: ignore[operator]
        return qty.quantize(_ONE)
    return qty


class FillLedger:
    """Which parts of each order's cumulative quantity are booked; order-independent and idempotent."""

    __slots__ = ("_booked",)

    def __init__(self) -> None:
        self._booked: dict[str, list[tuple[Decimal, Decimal]]] = {}  # coid -> disjoint sorted (start, end]

    def book(self, update: OrderUpdate) -> Decimal:
        """Book the fill the update reports; return how many of its shares were not booked before."""
        qty = update.last_fill_qty
        if qty <= 0:
            return _ZERO
        end = update.filled_qty
        start = end - qty
        if start < 0:  # a report whose cumulative quantity is smaller than its own fill: trust the fill
            start, end = _ZERO, qty
        parts = self._booked.setdefault(update.client_order_id, [])
        new = end - start
        for lo, hi in parts:
            overlap = min(hi, end) - max(lo, start)
            if overlap > 0:
                new -= overlap
        if new <= 0:
            return _ZERO
        merged: list[tuple[Decimal, Decimal]] = []
        for lo, hi in sorted([*parts, (start, end)]):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        self._booked[update.client_order_id] = merged
        return new

    def booked_qty(self, client_order_id: str) -> Decimal:
        return sum((hi - lo for lo, hi in self._booked.get(client_order_id, ())), _ZERO)

    def seed(self, client_order_id: str, filled_qty: Decimal) -> None:
        """Mark the first filled_qty of an order as booked (restored state that already holds them)."""
        if filled_qty > 0 and self.booked_qty(client_order_id) == 0:
            self._booked[client_order_id] = [(_ZERO, filled_qty)]
