"""The one interface the execution core talks to, whether the orders go to a simulator or to Alpaca.

Every method returns the order updates it caused, oldest first, so the core applies them in one
place. A refusal by the broker comes back as an update with status "rejected" and a reason; a
broker that cannot be reached raises cluster.foundation.errors.DependencyDown or TemporaryError, and then the
order may or may not exist: the caller asks get_order() before it ever sends the same order again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from cluster.foundation.wire import Bar, OrderIntent, OrderUpdate, Quote, Trade

MarketItem = Bar | Quote | Trade


@runtime_checkable
class Broker(Protocol):
    def submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        """Place the order and return its acknowledgement.

        A client_order_id the broker already knows never creates a second order: the broker
        returns that order's current state instead.
        """
        ...

    def cancel(self, client_order_id: str) -> list[OrderUpdate]:
        """Ask to cancel one order; an unknown or finished order yields []."""
        ...

    def cancel_all(self) -> list[OrderUpdate]:
        """Ask to cancel every open order."""
        ...

    def on_market(self, items: Sequence[MarketItem]) -> list[OrderUpdate]:
        """Fills caused by market data (simulators); a live broker returns []."""
        ...

    def poll(self) -> list[OrderUpdate]:
        """Updates that arrived on the broker's stream since the last poll; a simulator returns []."""
        ...

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        """The latest known state of one order, or None if the broker never saw it."""
        ...

    def open_orders(self) -> list[OrderUpdate]:
        """The latest state of every order the broker is still working."""
        ...
