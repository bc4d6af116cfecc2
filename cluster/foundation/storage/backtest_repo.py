"""Storage of a replay in one process: the configured repository, minus work a new database does not need.

ExecutionCore asks the repository, before each send, whether the intent log already holds the
client_order_id (an order finished before a restart must not be sent again). On SQL storage that
question flushes the write-behind queue and reads the database: once per order, on the hot path.
A replay into a database created by this run has no earlier intents, so the answer is exactly
"recorded by this run", which RunIntentLog keeps in memory. Every write still goes to the database.

A new SQLite database of a replay starts as a copy of an empty database migrated to Alembic head
once and kept in a cache, keyed by the content of the migrations: Alembic (import and DDL, each
statement synced) costs more than a short replay itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from cluster.foundation.domain.records import AuditRecord, BreakerRecord, DailyPnlRow, PositionRow, RiskEvent
from cluster.foundation.domain.settings import REPO_ROOT
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.storage.factory import MEMORY_URL
from cluster.foundation.storage.repository import Repository


def is_new_database(url: str) -> bool:
    """True when `url` names no existing database: memory://, or a SQLite file not yet created.
    Any other URL (PostgreSQL, an existing file) may hold earlier intents."""
    if url == MEMORY_URL:
        return True
    path = sqlite_path(url)
    return path is not None and not path.exists()


MIGRATIONS = REPO_ROOT / "alembic"  # the shipped copy inside an installed wheel


def default_schema_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trading-cluster"


def schema_fingerprint(migrations: Path = MIGRATIONS) -> str:
    """sha256 over the migration scripts (env.py and versions/*.py, by name): a new one changes it."""
    h = hashlib.sha256()
    for path in [migrations / "env.py", *sorted((migrations / "versions").glob("*.py"))]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def create_migrated_sqlite(path: Path, cache_dir: Path, upgrade: Callable[[str], None] | None = None) -> None:
    """Create the SQLite database `path` (which must not exist) at Alembic head, from the cached
    template; the template is made (by `upgrade`, default cluster.foundation.storage.db.upgrade) when missing."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    template = cache_dir / f"sqlite-schema-{schema_fingerprint()[:16]}.db"
    if not template.exists():
        if upgrade is None:
            from cluster.foundation.storage.db import upgrade as alembic_upgrade

            upgrade = alembic_upgrade
        scratch = cache_dir / f".{template.name}.{os.getpid()}"
        upgrade(f"sqlite:///{scratch}")
        conn = sqlite3.connect(scratch)
        try:  # one self-contained file (still in WAL mode): nothing left in the write-ahead log
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        os.replace(scratch, template)  # atomic: a concurrent run sees no template or a whole one
        for leftover in (Path(f"{scratch}-wal"), Path(f"{scratch}-shm")):
            leftover.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL (None for anything else)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url.removeprefix(prefix).split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


class RunIntentLog:
    """A Repository over one whose intent log was empty when this run began."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._intent_ids: set[str] = set()

    def record_intent(self, intent: OrderIntent) -> None:
        self._repo.record_intent(intent)
        self._intent_ids.add(intent.client_order_id)

    def record_intents(self, intents: Sequence[OrderIntent]) -> None:
        self._repo.record_intents(intents)
        self._intent_ids.update(i.client_order_id for i in intents)

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
