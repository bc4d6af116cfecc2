"""Order life cycle as a transition table, so every allowed move is visible in one place.

The key is (current status, status reported by the broker); the value is the status the order
has afterwards. Usually that is the reported status, but not always: a late partial fill after a
cancel leaves the order canceled (its fill is still booked), because the rest will never fill.

Rows marked "real world" are moves a textbook would forbid but brokers do send, e.g. a fill that
executed just before a cancel but is reported just after it. Dropping such a fill would leave our
positions wrong, so the table accepts it.
"""

from __future__ import annotations

from typing import Final

from cluster.foundation.domain.errors import InvalidTransition
from cluster.foundation.domain.orders import TERMINAL_STATUSES as TERMINAL_STATUSES
from cluster.foundation.domain.orders import is_terminal_status as is_terminal_status
from cluster.foundation.domain.wire import OrderStatus

ORDER_TRANSITIONS: Final[dict[tuple[OrderStatus, OrderStatus], OrderStatus]] = {
    # Sent, not yet acknowledged.
    ("pending_new", "new"): "new",
    ("pending_new", "rejected"): "rejected",
    ("pending_new", "partially_filled"): "partially_filled",  # real world: fill overtakes the ack
    ("pending_new", "filled"): "filled",  # real world: fill overtakes the ack
    ("pending_new", "canceled"): "canceled",
    ("pending_new", "expired"): "expired",
    ("pending_new", "pending_cancel"): "pending_cancel",
    # Working at the broker.
    ("new", "partially_filled"): "partially_filled",
    ("new", "filled"): "filled",
    ("new", "pending_cancel"): "pending_cancel",
    ("new", "canceled"): "canceled",
    ("new", "expired"): "expired",
    ("new", "rejected"): "rejected",  # real world: accepted, then refused (e.g. halted symbol)
    ("new", "replaced"): "replaced",
    ("partially_filled", "partially_filled"): "partially_filled",
    ("partially_filled", "filled"): "filled",
    ("partially_filled", "pending_cancel"): "pending_cancel",
    ("partially_filled", "canceled"): "canceled",
    ("partially_filled", "expired"): "expired",
    ("partially_filled", "replaced"): "replaced",
    # Cancel requested, not yet confirmed.
    ("pending_cancel", "canceled"): "canceled",
    ("pending_cancel", "new"): "new",  # cancel refused, order still working
    ("pending_cancel", "partially_filled"): "pending_cancel",  # real world: fill races the cancel
    ("pending_cancel", "filled"): "filled",  # real world: fill wins the race
    ("pending_cancel", "expired"): "expired",
    ("pending_cancel", "rejected"): "rejected",
    # Terminal, but fills executed before the end may still be reported.
    ("canceled", "partially_filled"): "canceled",  # real world: late fill, rest stays canceled
    ("canceled", "filled"): "filled",  # real world: late fill completed the order
    ("expired", "partially_filled"): "expired",  # real world: late fill, rest stays expired
    ("expired", "filled"): "filled",  # real world: late fill completed the order
}

class OrderFSM:
    """The status of one order; moves only along ORDER_TRANSITIONS, remembering where it has been."""

    __slots__ = ("_state", "_passed")

    def __init__(self, initial: OrderStatus = "pending_new") -> None:
        self._state: OrderStatus = initial
        self._passed: set[OrderStatus] = {initial}

    def has_passed(self, status: OrderStatus) -> bool:
        """The order has been in `status` (now or before): a report of it again is old news, not a move."""
        return status in self._passed

    @property
    def state(self) -> OrderStatus:
        return self._state

    @property
    def is_terminal(self) -> bool:
        return is_terminal_status(self._state)

    def can_apply(self, next_status: OrderStatus) -> bool:
        return (self._state, next_status) in ORDER_TRANSITIONS

    def apply(self, next_status: OrderStatus) -> OrderStatus:
        """Move to the status the table gives for `next_status`; raise InvalidTransition on a miss."""
        try:
            self._state = ORDER_TRANSITIONS[(self._state, next_status)]
        except KeyError:
            raise InvalidTransition(f"{self._state} -> {next_status}") from None
        self._passed.add(self._state)
        return self._state

    def __repr__(self) -> str:
        return f"OrderFSM({self._state!r})"
