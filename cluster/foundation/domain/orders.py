"""The order vocabulary every module shares: terminal statuses, a fill's identity, exact quantities.

Risk, execution and the order state machine all ask these questions; they get one answer here.

* Terminal statuses: the broker will not work the order any more (late fills may still arrive).
* A fill's identity is the part of the order it covers: the interval (filled_qty - last_fill_qty,
  filled_qty] of the order's cumulative quantity. FillLedger books every share of an order at most
  once, whatever order the reports arrive in, and however often: a report that arrives late, twice,
  or overlapping one already booked adds only the shares not booked yet.
* The cumulative quantity is the truth: when a report says an order has filled more than the reports
  booked so far (an earlier report is late or lost), the missing shares are booked at once at the
  price the order's average implies, so no position is ever short of shares the broker says it
  has; the late report, if it comes, finds its shares booked.
* Quantities go on the wire in plain notation ("100", never "1E+2").
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Final, NamedTuple

from cluster.foundation.domain.wire import OrderStatus, OrderUpdate

TERMINAL_STATUSES: Final[frozenset[OrderStatus]] = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
_ZERO = Decimal(0)
_ONE = Decimal(1)
PRICE_STEP = Decimal("0.0001")


def is_terminal_status(status: str) -> bool:
    """Terminal: the broker will not work this order any more (late fills may still arrive)."""
    return status in TERMINAL_STATUSES


def fill_key(update: OrderUpdate) -> str:
    """A name for one fill report: the broker's fill id, else the cumulative quantity it reached."""
    return update.fill_id or f"{update.client_order_id}:{update.filled_qty}"


@lru_cache(maxsize=1 << 16)
def price_decimal(price: float) -> Decimal:
    """A float market price as the Decimal it was written as (167.43 stays 167.43, no binary noise).
    Memoized: a book marks the same few thousand prices over and over."""
    return Decimal(repr(price))


def plain_qty(qty: Decimal) -> Decimal:
    """The same quantity without a positive exponent, so str() never gives scientific notation."""
    if qty.as_tuple().exponent > 0:  # type: ignore[operator]
        return qty.quantize(_ONE)
    return qty


class Taken(NamedTuple):
    """What one report brought: new shares of its own, whether it is a late report of shares booked from the
    cumulative quantity before (its commission is still news), and the (start, end, price) booked from it."""

    new: Decimal
    late: bool
    holes: list[tuple[Decimal, Decimal, Decimal]]


class FillLedger:
    """Which parts of each order's cumulative quantity are booked; order-independent and idempotent."""

    __slots__ = ("_booked", "_notional", "_from_zero", "_inferred", "_fees")

    def __init__(self) -> None:
        self._booked: dict[str, list[tuple[Decimal, Decimal]]] = {}  # coid -> disjoint sorted (start, end]
        self._notional: dict[str, Decimal] = {}  # coid -> booked qty x price
        self._from_zero: set[str] = set()  # orders whose every share goes through this ledger
        self._inferred: dict[str, list[tuple[Decimal, Decimal]]] = {}  # coid -> parts booked from the cumulative
        self._fees: set[tuple[str, Decimal, Decimal]] = set()  # late reports whose commission is booked

    def expect(self, client_order_id: str) -> None:
        """An order sent in this ledger's lifetime: every share it fills is booked here, so gaps can be inferred."""
        self._from_zero.add(client_order_id)

    def take(self, update: OrderUpdate) -> Taken:
        """Book one report: its own new shares, then (orders expected here only) the shares its cumulative
        quantity says are filled that no report has brought, at the price the order's average implies."""
        coid = update.client_order_id
        price = update.last_fill_price if update.last_fill_price is not None else update.filled_avg_price
        new, late = _ZERO, False
        if update.last_fill_qty > 0:
            new = self.book(update)
            if new > 0 and price is not None:
                self._notional[coid] = self._notional.get(coid, _ZERO) + new * price
            elif new <= 0:
                late = self._late_for_inferred(update)
        holes: list[tuple[Decimal, Decimal, Decimal]] = []
        gap = update.filled_qty - self.booked_qty(coid)
        if gap > 0 and coid in self._from_zero and (update.filled_avg_price or price):
            avg = update.filled_avg_price
            implied = price if avg is None else (avg * update.filled_qty - self._notional.get(coid, _ZERO)) / gap
            if implied is None or not implied > 0:
                implied = avg if avg is not None else price
            assert implied is not None
            implied = implied.quantize(PRICE_STEP)
            holes = [(lo, hi, implied) for lo, hi in _holes(self._booked.get(coid, []), update.filled_qty)]
            self._inferred.setdefault(coid, []).extend((lo, hi) for lo, hi, _ in holes)
            self._booked[coid] = [(_ZERO, update.filled_qty)]
            self._notional[coid] = self._notional.get(coid, _ZERO) + gap * implied
        return Taken(new, late, holes)

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

    def _late_for_inferred(self, update: OrderUpdate) -> bool:
        end, start = update.filled_qty, update.filled_qty - update.last_fill_qty
        key = (update.client_order_id, start, end)
        inside = any(lo <= start and end <= hi for lo, hi in self._inferred.get(update.client_order_id, ()))
        if not inside or key in self._fees:
            return False
        self._fees.add(key)
        return True

    def booked_qty(self, client_order_id: str) -> Decimal:
        return sum((hi - lo for lo, hi in self._booked.get(client_order_id, ())), _ZERO)

    def seed(self, client_order_id: str, filled_qty: Decimal) -> None:
        """Mark the first filled_qty of an order as booked (restored state that already holds them)."""
        if filled_qty > 0 and self.booked_qty(client_order_id) == 0:
            self._booked[client_order_id] = [(_ZERO, filled_qty)]


def _holes(parts: list[tuple[Decimal, Decimal]], end: Decimal) -> list[tuple[Decimal, Decimal]]:
    """The parts of (0, end] that the sorted disjoint parts do not cover."""
    holes, at = [], _ZERO
    for lo, hi in parts:
        if lo > at:
            holes.append((at, min(lo, end)))
        at = max(at, hi)
    if at < end:
        holes.append((at, end))
    return [(lo, hi) for lo, hi in holes if hi > lo]
