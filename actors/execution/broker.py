"""The one interface execution talks to, whether the orders go to a simulator or to Alpaca.

It covers everything the execution actor and core call; nothing reaches past it. Every order
method returns the order updates it caused, oldest first, so the core applies them in one place:
an adapter only translates the broker's reports, de-duplication is the core's (the order FSM and
the fill key, cluster/foundation/domain/orders.py). A refusal by the broker comes back as an update with
status "rejected" and a reason; a broker that cannot be reached raises
cluster.foundation.domain.errors.DependencyDown or TemporaryError, and then the order may or may not
exist: the caller asks get_order() before it ever sends the same order again.

A broker whose update stream (re)connects delivers a `Reconnected` marker through poll(), in line
with the updates: what was sent while the stream was down is lost, and execution's one reconciler
(actors/execution/live_reconcile.py) then compares snapshot() with its own state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from cluster.foundation.domain.wire import Bar, OrderIntent, OrderUpdate, Quote, Trade

MarketItem = Bar | Quote | Trade


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The broker's update stream has connected (again, or for the first time): time to reconcile."""

    connects: int


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    orders: list[OrderUpdate]  # open and recently closed
    positions: dict[str, Decimal] = field(default_factory=dict)  # signed quantity per symbol
    entry_prices: dict[str, Decimal] = field(default_factory=dict)  # average entry price, where the broker gives one


Polled = OrderUpdate | Reconnected


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

    def poll(self) -> list[Polled]:
        """Updates that arrived on the broker's stream since the last poll, and a Reconnected marker
        where the stream connected anew; a simulator returns []."""
        ...

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        """The latest known state of one order, or None if the broker never saw it."""
        ...

    def open_orders(self) -> list[OrderUpdate]:
        """The latest state of every order the broker is still working."""
        ...

    def snapshot(self) -> BrokerSnapshot | None:
        """Open and recent orders and the positions, as the broker holds them (for reconciliation);
        None for a broker that keeps no state outside this process (the in-process simulator)."""
        ...

    def error_counts(self) -> Mapping[tuple[str, str], int]:
        """Failed API calls so far by (HTTP status, error code), for metrics; empty for a simulator."""
        ...

    def close(self) -> None:
        """Release connections and threads; the broker is not used afterwards."""
        ...
