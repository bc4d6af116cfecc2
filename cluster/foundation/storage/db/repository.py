"""SqlRepository: the cluster.foundation.storage.repository.Repository protocol on SQLite or PostgreSQL.

Writes are queued and committed behind the caller's back by one writer thread (see writer.py),
except `record_intent`, which is durable before it returns. Reads flush pending writes first, so
a reader always sees its own writes. The schema must already be at Alembic head (upgrade(url)).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from sqlalchemy import Connection

from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.records import AuditRecord, BreakerRecord, DailyPnlRow, PositionRow, RiskEvent
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.storage.db import ops as o
from cluster.foundation.storage.db import store
from cluster.foundation.storage.db.engine import is_connection_error, make_engine
from cluster.foundation.storage.db.journal import Journal
from cluster.foundation.storage.db.writer import (
    DEFAULT_OPTIONS,
    Status,
    Transition,
    WriteBehindWriter,
    WriterOptions,
)

log = logging.getLogger("trading.db")


class SqlRepository:
    """One per process (per actor). `journal_dir` must be local and private to this process."""

    def __init__(self, url: str, journal_dir: Path, options: WriterOptions = DEFAULT_OPTIONS, *,
                 read_timeout_s: float = 30.0, echo: bool = False) -> None:
        self._engine = make_engine(url, echo=echo)
        self._read_timeout_s = read_timeout_s
        self._intent_ids: set[str] = set()
        self._writer = WriteBehindWriter(self._engine, Journal(Path(journal_dir) / "pending-writes.journal"), options)

    # ----- health -----
    @property
    def status(self) -> Status:
        return self._writer.status

    def health(self) -> dict[str, int | str]:
        """status ok|degraded, postgresql_up 0/1, queued, journal_bytes and counters, for metrics."""
        return self._writer.health()

    @property
    def transitions(self) -> list[Transition]:
        return list(self._writer.transitions)

    # ----- writes -----
    def record_intent(self, intent: OrderIntent) -> None:
        """Durable before it returns: committed to the database, or, if the database is unreachable,
        appended to the local journal and fsync'ed. In both cases the caller may send the order;
        a journaled intent reaches the database on reconnect, before every write queued after it.
        Recording the same client_order_id twice keeps the first intent."""
        self.record_intents([intent])

    def record_audit(self, record: AuditRecord) -> None:
        self._writer.enqueue(lambda seq: o.AuditOp(seq=seq, record=record))

    def record_intents(self, intents: Sequence[OrderIntent]) -> None:
        """record_intent for a batch's intents, committed in one transaction (one wait for the disk)."""
        for intent in intents:
            self._writer.facts.remember(intent)
            self._intent_ids.add(intent.client_order_id)
        if self._writer.status == "ok":
            try:
                with self._engine.begin() as conn:
                    for intent in intents:
                        store.write_intent(conn, intent)
                return
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                self._writer.report_outage(exc)
        for intent in intents:
            self._writer.journal_now(partial(_intent_op, intent))

    def record_order_update(self, update: OrderUpdate) -> None:
        self._writer.enqueue(lambda seq: o.OrderOp(seq=seq, update=update))

    def record_fill(self, update: OrderUpdate) -> None:
        self._writer.enqueue(lambda seq: o.FillOp(seq=seq, update=update))

    def save_positions(self, rows: list[PositionRow], at_ns: int) -> None:
        """A snapshot: after it is written, the positions table holds exactly these symbols."""
        snapshot = list(rows)
        self._writer.enqueue(lambda seq: o.PositionsOp(seq=seq, rows=snapshot, at_ns=at_ns))

    def record_risk_event(self, event: RiskEvent) -> None:
        self._writer.enqueue(lambda seq: o.RiskOp(seq=seq, event=event))

    def save_daily_pnl(self, row: DailyPnlRow) -> None:
        self._writer.enqueue(lambda seq: o.DailyPnlOp(seq=seq, row=row))

    def save_breaker(self, record: BreakerRecord) -> None:
        """Durable before it returns (in the local journal, fsync'ed, ahead of nothing written later): a
        breaker an operator or a limit tripped must come back tripped after a crash, even one at once."""
        self._writer.journal_now(lambda seq: o.BreakerOp(seq=seq, record=record))

    # ----- reads (after pending writes are in) -----
    def has_intent(self, client_order_id: str) -> bool:
        """True once the intent is in the log (committed, or journaled while the database is down)."""
        if client_order_id in self._intent_ids:
            return True
        return self._read(lambda conn: store.has_intent(conn, client_order_id))

    def open_intents(self) -> list[OrderIntent]:
        return self._read(store.read_open_intents)

    def load_positions(self) -> list[PositionRow]:
        return self._read(store.read_positions)

    def load_daily_pnl(self, trading_date: str) -> DailyPnlRow | None:
        return self._read(lambda conn: store.read_daily_pnl(conn, trading_date))

    def load_breaker(self) -> BreakerRecord | None:
        return self._read(store.read_breaker)

    def _read[T](self, query: Callable[[Connection], T]) -> T:
        self.flush()
        try:
            with self._engine.connect() as conn:
                return query(conn)
        except Exception as exc:
            if is_connection_error(exc):
                raise DependencyDown(f"database unreachable for a read: {exc}") from exc
            raise

    # ----- lifecycle -----
    def flush(self) -> None:
        """Block until every write so far is committed; DependencyDown if the database stays down."""
        self._writer.flush(self._read_timeout_s)

    def close(self) -> None:
        """Write what can be written; keep the rest in the journal for the next start."""
        self._writer.close(timeout_s=min(self._read_timeout_s, 10.0))
        self._engine.dispose()


def _intent_op(intent: OrderIntent, seq: int) -> o.IntentOp:
    return o.IntentOp(seq=seq, intent=intent)
