"""Durable state for restarts: the live feed's journal of published batches and the supervisor's
desired state. Written synchronously (each write is committed when the call returns), because it
is read back exactly when the process that wrote it has died.

Both live in the trading database (Alembic revision 0003), so a feed or supervisor that Ray
restarts on another node finds them; `memory://` keeps them in this process only.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from cluster.foundation.domain.wire import Bar, Envelope, Quote, Trade, decode, encode

if TYPE_CHECKING:
    from sqlalchemy import Table

MarketItem = Bar | Quote | Trade
JournalEntry = tuple[int, list[MarketItem], bool]


class StateStore(Protocol):
    def journal_batch(self, batch: int, items: list[MarketItem], final: bool) -> None: ...
    def journal_tail(self, limit: int) -> list[JournalEntry]: ...
    def prune_journal(self, keep_last: int) -> None: ...
    def save_state(self, key: str, value: dict[str, Any]) -> None: ...
    def load_state(self, key: str) -> dict[str, Any] | None: ...
    def close(self) -> None: ...


class MemoryStateStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._journal: dict[int, JournalEntry] = {}
        self._state: dict[str, dict[str, Any]] = {}

    def journal_batch(self, batch: int, items: list[MarketItem], final: bool) -> None:
        with self._lock:
            self._journal[batch] = (batch, list(items), final)

    def journal_tail(self, limit: int) -> list[JournalEntry]:
        with self._lock:
            return [self._journal[k] for k in sorted(self._journal)[-limit:]]

    def prune_journal(self, keep_last: int) -> None:
        with self._lock:
            for k in sorted(self._journal)[:-keep_last]:
                del self._journal[k]

    def save_state(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._state[key] = dict(value)

    def load_state(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._state.get(key)
            return dict(found) if found is not None else None

    def close(self) -> None:
        return None


def _table(name: str) -> Table:
    from cluster.foundation.storage.db.models import Base

    return Base.metadata.tables[name]


class SqlStateStore:
    def __init__(self, url: str) -> None:
        from cluster.foundation.storage.db.engine import make_engine

        self._engine = make_engine(url)

    def journal_batch(self, batch: int, items: list[MarketItem], final: bool) -> None:
        payload = encode(Envelope("journal", 0, batch, list(items)))
        self._replace(_table("feed_journal"), "batch", {
            "batch": batch, "final": final, "payload": payload, "written_at": datetime.now(UTC)})

    def _replace(self, table: Table, key: str, row: dict[str, Any]) -> None:
        """One row by its key, in one transaction (the same statements on SQLite and PostgreSQL)."""
        from sqlalchemy import delete, insert

        with self._engine.begin() as conn:
            conn.execute(delete(table).where(table.c[key] == row[key]))
            conn.execute(insert(table).values(**row))

    def journal_tail(self, limit: int) -> list[JournalEntry]:
        from sqlalchemy import select

        table = _table("feed_journal")
        with self._engine.connect() as conn:
            rows = conn.execute(select(table.c.batch, table.c.payload, table.c.final)
                                .order_by(table.c.batch.desc()).limit(limit)).all()
        out: list[JournalEntry] = []
        for batch, payload, final in reversed(rows):
            items = [m for m in decode(payload).items if isinstance(m, Bar | Quote | Trade)]
            out.append((int(batch), items, bool(final)))
        return out

    def prune_journal(self, keep_last: int) -> None:
        from sqlalchemy import delete, func, select

        table = _table("feed_journal")
        with self._engine.begin() as conn:
            newest = conn.execute(select(func.max(table.c.batch))).scalar()
            if newest is not None:
                conn.execute(delete(table).where(table.c.batch <= int(newest) - keep_last))

    def save_state(self, key: str, value: dict[str, Any]) -> None:
        self._replace(_table("cluster_state"), "key", {"key": key, "value": value, "updated_at": datetime.now(UTC)})

    def load_state(self, key: str) -> dict[str, Any] | None:
        from sqlalchemy import select

        table = _table("cluster_state")
        with self._engine.connect() as conn:
            found = conn.execute(select(table.c.value).where(table.c.key == key)).scalar()
        return dict(found) if found is not None else None

    def close(self) -> None:
        self._engine.dispose()
