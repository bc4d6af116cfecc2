"""Engines for both backends from one URL: SQLite (WAL, foreign keys, full sync) or PostgreSQL."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from cluster.foundation.domain.settings import REPO_ROOT


def resolve_url(url: str | URL) -> URL:
    """A relative SQLite path is taken relative to the repository root; its directory is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return parsed
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return parsed
    path = Path(database)
    if not path.is_absolute():
        path = REPO_ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")  # an intent is on disk when its commit returns
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str | URL, *, echo: bool = False, connect_timeout_s: int = 3) -> Engine:
    """One engine per process and URL. PostgreSQL connections fail fast (connect_timeout) and
    are pinged on checkout, so a dead server shows up as an OperationalError, not a hang."""
    resolved = resolve_url(url)
    if resolved.get_backend_name() == "sqlite":
        engine = create_engine(resolved, echo=echo, connect_args={"timeout": 10, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        resolved,
        echo=echo,
        pool_pre_ping=True,
        pool_size=4,
        max_overflow=2,
        connect_args={"connect_timeout": connect_timeout_s, "application_name": "trading-cluster"},
    )


def _pg_connection_errors() -> tuple[type[BaseException], ...]:
    """psycopg2's connection errors, if the driver is loaded: it is only imported (by SQLAlchemy) for a
    PostgreSQL URL, and an error of a driver never loaded cannot occur, so SQLite processes skip it."""
    psycopg2 = sys.modules.get("psycopg2")
    return (psycopg2.OperationalError, psycopg2.InterfaceError) if psycopg2 is not None else ()


def is_connection_error(error: BaseException) -> bool:
    """True when the database could not be reached or the connection dropped (retry later);
    False for errors that the same statement would hit again (a bug or bad data)."""
    pg_errors = _pg_connection_errors()
    if pg_errors and isinstance(error, pg_errors):
        return True  # raised by the COPY path, which uses the driver's cursor directly
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        orig = getattr(error, "orig", None)
        # SQLite 'database is locked' is contention, not an outage, but it also passes: retry.
        return not isinstance(orig, sqlite3.OperationalError) or "locked" in str(orig) or "unable to open" in str(orig)
    return isinstance(error, exc.DisconnectionError | exc.TimeoutError)
