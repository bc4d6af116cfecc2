"""Storage of a replay in one process: the configured repository, minus reads a new database cannot answer.

ExecutionCore asks the repository, before each send, whether the intent log already holds the
client_order_id (an order finished before a restart must not be sent again). On SQL storage that
question flushes the write-behind queue and reads the database: once per order, on the hot path.
A replay into a database created by this run has no earlier intents, so the answer is exactly
"recorded by this run", which RunIntentLog keeps in memory. Every write still goes to the database.
"""

from __future__ import annotations

from pathlib import Path

from cluster.records import AuditRecord, BreakerRecord, DailyPnlRow, PositionRow, RiskEvent
from cluster.repository import Repository
from cluster.storage import MEMORY_URL
from cluster.wire import OrderIntent, OrderUpdate


def is_new_database(url: str) -> bool:
    """True when `url` names no existing database: memory://, or a SQLite file not yet created.
    Any other URL (PostgreSQL, an existing file) may hold earlier intents."""
    if url == MEMORY_URL:
        return True
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return False
    path = url.removeprefix(prefix).split("?", 1)[0]
    return path not in ("", ":memory:") and not Path(path).exists()


class RunIntentLog:
    """A Repository over one whose intent log was empty when this run began."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._intent_ids: set[str] = set()

    def record_intent(self, intent: OrderIntent) -> None:
        self._repo.record_intent(intent)
        self._intent_ids.add(intent.client_order_id)

    def has_intent(self, client_order_id: str) -> bool:
        return client_order_id in self._intent_ids

    def open_intents(self) -> list[OrderIntent]:
        return self._repo.open_intents()

    def record_order_update(self, update: OrderUpdate) -> None:
        self._repo.record_order_update(update)

    def record_fill(self, update: OrderUpdate) -> None:
        self._repo.record_fill(update)

    def record_risk_event(self, event: RiskEvent) -> None:
        self._repo.record_risk_event(event)

    def save_positions(self, rows: list[PositionRow], at_ns: int) -> None:
        self._repo.save_positions(rows, at_ns)

    def load_positions(self) -> list[PositionRow]:
        return self._repo.load_positions()

    def save_daily_pnl(self, row: DailyPnlRow) -> None:
        self._repo.save_daily_pnl(row)

    def load_daily_pnl(self, trading_date: str) -> DailyPnlRow | None:
        return self._repo.load_daily_pnl(trading_date)

    def save_breaker(self, record: BreakerRecord) -> None:
        self._repo.save_breaker(record)

    def load_breaker(self) -> BreakerRecord | None:
        return self._repo.load_breaker()

    def record_audit(self, record: AuditRecord) -> None:
        self._repo.record_audit(record)

    def flush(self) -> None:
        self._repo.flush()

    def close(self) -> None:
        self._repo.close()
