"""is_connection_error: driver errors count only when the driver is loaded (it is imported lazily)."""

from __future__ import annotations

import sqlite3

import psycopg2
from sqlalchemy import exc

from cluster.foundation.storage.db.engine import is_connection_error


def test_psycopg2_operational_error_when_driver_loaded_then_connection_error() -> None:
    assert is_connection_error(psycopg2.OperationalError("server closed the connection"))
    assert is_connection_error(psycopg2.InterfaceError("connection already closed"))


def test_psycopg2_data_error_when_raised_then_not_a_connection_error() -> None:
    assert not is_connection_error(psycopg2.DataError("invalid input syntax"))


def test_sqlite_locked_when_wrapped_then_retried_and_syntax_error_is_not() -> None:
    locked = exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    syntax = exc.OperationalError("INSERT", {}, sqlite3.OperationalError("near 'x': syntax error"))
    assert is_connection_error(locked)
    assert not is_connection_error(syntax)
