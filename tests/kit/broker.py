"""Broker fakes: one that plays the broker to a core by hand, one that speaks the Broker protocol."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from actors.execution.broker import BrokerSnapshot, MarketItem, Polled
from actors.execution.sim_broker import SimBroker
from cluster.foundation.domain.errors import OrderRejected, TemporaryError
from cluster.foundation.domain.wire import OrderIntent, OrderStatus, OrderUpdate
from cluster.foundation.storage.repository import InMemoryRepository


class UpdateSink(Protocol):
    def on_order_update(self, update: OrderUpdate) -> object: ...


class FakeBroker:
    """Plays the broker: turns accepted intents into OrderUpdates fed back to the core."""

    def __init__(self, core: UpdateSink, clock: Callable[[], int]) -> None:
        self.core = core
        self.clock = clock
        self.open: dict[str, OrderIntent] = {}
        self.filled: dict[str, Decimal] = {}

    def accept(self, intent: OrderIntent) -> None:
        self.open[intent.client_order_id] = intent
        self.filled[intent.client_order_id] = Decimal(0)

    def fill(self, coid: str, qty: Decimal, price: Decimal, commission: Decimal = Decimal(0)) -> None:
        intent = self.open[coid]
        done = self.filled[coid] + qty
        self.filled[coid] = done
        status: OrderStatus = "filled" if done == intent.qty else "partially_filled"
        self.core.on_order_update(
            OrderUpdate(
                client_order_id=coid, broker_order_id=f"b-{coid}", symbol=intent.symbol, side=intent.side,
                status=status, qty=intent.qty, filled_qty=done, ts_ns=self.clock(), last_fill_qty=qty,
                last_fill_price=price, commission=commission, fill_id=f"{coid}:{done}",
            )
        )
        if status == "filled":
            del self.open[coid]

    def end(self, coid: str, status: OrderStatus = "canceled") -> None:
        intent = self.open.pop(coid)
        self.core.on_order_update(
            OrderUpdate(
                client_order_id=coid, broker_order_id=f"b-{coid}", symbol=intent.symbol, side=intent.side,
                status=status, qty=intent.qty, filled_qty=self.filled[coid], ts_ns=self.clock(),
            )
        )


class QuietBroker:
    """The Broker protocol answering nothing: no orders, no stream, no snapshot. Tests override what they script."""

    def submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        return []

    def cancel(self, client_order_id: str) -> list[OrderUpdate]:
        return []

    def cancel_all(self) -> list[OrderUpdate]:
        return []

    def on_market(self, items: Sequence[MarketItem]) -> list[OrderUpdate]:
        return []

    def poll(self) -> list[Polled]:
        return []

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        return None

    def open_orders(self) -> list[OrderUpdate]:
        return []

    def snapshot(self) -> BrokerSnapshot | None:
        return None

    def error_counts(self) -> Mapping[tuple[str, str], int]:
        return {}

    def close(self) -> None:
        pass


class CountingBroker:
    """A SimBroker that remembers every submit it was asked for, and what the intent log held then."""

    def __init__(self, repo: InMemoryRepository | None = None) -> None:
        self.inner = SimBroker(slippage_bps=Decimal(1))
        self.repo = repo
        self.submits: Counter[str] = Counter()
        self.logged_before_submit: list[bool] = []
        self.fail_next_submits = 0

    def submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        self.submits[intent.client_order_id] += 1
        if self.repo is not None:
            self.logged_before_submit.append(intent.client_order_id in self.repo.intents)
        if self.fail_next_submits:
            self.fail_next_submits -= 1
            raise TemporaryError("gateway timeout after the request was written")
        return self.inner.submit(intent)

    def cancel(self, client_order_id: str) -> list[OrderUpdate]:
        return self.inner.cancel(client_order_id)

    def cancel_all(self) -> list[OrderUpdate]:
        return self.inner.cancel_all()

    def on_market(self, items: Sequence[MarketItem]) -> list[OrderUpdate]:
        return self.inner.on_market(items)

    def poll(self) -> list[OrderUpdate]:
        return []

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        return self.inner.get_order(client_order_id)

    def open_orders(self) -> list[OrderUpdate]:
        return self.inner.open_orders()

    def snapshot(self) -> BrokerSnapshot | None:
        return self.inner.snapshot()

    def error_counts(self) -> Mapping[tuple[str, str], int]:
        return self.inner.error_counts()

    def close(self) -> None:
        self.inner.close()


class RejectingBroker(CountingBroker):
    """Rejects every order as Alpaca does for insufficient buying power."""

    def submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        self.submits[intent.client_order_id] += 1
        raise OrderRejected("insufficient buying power", code="40310000")
