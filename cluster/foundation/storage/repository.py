"""Storage interface of the trading actors, and an in-memory implementation.

The hot path only calls these methods; an implementation may write behind (queue and batch),
but `record_intent` (and `record_intents`, a batch's intents in one write) must be durable before it
returns, because an order is sent only after its client_order_id is in the intent log. Every write is idempotent on its natural key, so a write
repeated after a failure never duplicates a row.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from cluster.foundation.domain.records import AuditRecord, BreakerRecord, DailyPnlRow, PositionRow, RiskEvent
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate


class Repository(Protocol):
    def record_intent(self, intent: OrderIntent) -> None: ...
    def record_intents(self, intents: Sequence[OrderIntent]) -> None: ...
    def has_intent(self, client_order_id: str) -> bool: ...
    def open_intents(self) -> list[OrderIntent]: ...
    def record_order_update(self, update: OrderUpdate) -> None: ...
    def record_fill(self, update: OrderUpdate) -> None: ...
    def record_risk_event(self, event: RiskEvent) -> None: ...
    def save_positions(self, rows: list[PositionRow], at_ns: int) -> None: ...
    def load_positions(self) -> list[PositionRow]: ...
    def save_daily_pnl(self, row: DailyPnlRow) -> None: ...
    def load_daily_pnl(self, trading_date: str) -> DailyPnlRow | None: ...
    def save_breaker(self, record: BreakerRecord) -> None: ...
    def load_breaker(self) -> BreakerRecord | None: ...
    def record_audit(self, record: AuditRecord) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


_TERMINAL = {"filled", "canceled", "expired", "rejected", "replaced"}


class InMemoryRepository:
    """Keeps everything in dicts; idempotent like the real stores. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.intents: dict[str, OrderIntent] = {}
        self.orders: dict[str, OrderUpdate] = {}
        self.fills: dict[str, OrderUpdate] = {}
        self.risk_events: list[RiskEvent] = []
        self.positions: dict[str, PositionRow] = {}
        self.daily_pnl: dict[str, DailyPnlRow] = {}
        self.breaker: BreakerRecord | None = None
        self.audit: list[AuditRecord] = []

    def record_intent(self, intent: OrderIntent) -> None:
        with self._lock:
            self.intents.setdefault(intent.client_order_id, intent)

    def record_intents(self, intents: Sequence[OrderIntent]) -> None:
        for intent in intents:
            self.record_intent(intent)

    def has_intent(self, client_order_id: str) -> bool:
        with self._lock:
            return client_order_id in self.intents

    def open_intents(self) -> list[OrderIntent]:
        with self._lock:
            return [
                i for coid, i in self.intents.items()
                if coid not in self.orders or self.orders[coid].status not in _TERMINAL
            ]

    def record_order_update(self, update: OrderUpdate) -> None:
        with self._lock:
            self.orders[update.client_order_id] = update

    def record_fill(self, update: OrderUpdate) -> None:
        with self._lock:
            self.fills.setdefault(update.fill_id or f"{update.client_order_id}:{update.filled_qty}", update)

    def record_risk_event(self, event: RiskEvent) -> None:
        with self._lock:
            self.risk_events.append(event)

    def save_positions(self, rows: list[PositionRow], at_ns: int) -> None:
        with self._lock:
            self.positions = {r.symbol: r for r in rows}

    def load_positions(self) -> list[PositionRow]:
        with self._lock:
            return list(self.positions.values())

    def save_daily_pnl(self, row: DailyPnlRow) -> None:
        with self._lock:
            self.daily_pnl[row.trading_date] = row

    def load_daily_pnl(self, trading_date: str) -> DailyPnlRow | None:
        with self._lock:
            return self.daily_pnl.get(trading_date)

    def save_breaker(self, record: BreakerRecord) -> None:
        with self._lock:
            self.breaker = record

    def load_breaker(self) -> BreakerRecord | None:
        with self._lock:
            return self.breaker

    def record_audit(self, record: AuditRecord) -> None:
        with self._lock:
            self.audit.append(record)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
