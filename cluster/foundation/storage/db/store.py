"""Statements of the repository: idempotent upserts of a batch of ops, and the reads.

One code path for both backends: INSERT ... ON CONFLICT on the natural key (PostgreSQL and
SQLite both have it). Rows of one table go in one executemany on SQLite, and in one COPY into a
staging table + one INSERT .. SELECT on PostgreSQL (pgcopy.py). Within a table the last op wins on a key; orders only move forward in time (the
DO UPDATE has a WHERE on updated_at), so an old update replayed late cannot undo a newer one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from cluster.foundation.domain.records import BreakerRecord, DailyPnlRow, PositionRow
from cluster.foundation.domain.wire import OrderIntent
from cluster.foundation.storage.db import models as m
from cluster.foundation.storage.db import ops as o
from cluster.foundation.storage.db.partitions import Month, ensure_partitions, month_of
from cluster.foundation.storage.db.pgcopy import copy_merge, names
from cluster.foundation.storage.db.types import dt_to_ns

_ORDERS: Table = m.Order.__table__  # type: ignore[assignment]
_TRADES: Table = m.TradeFill.__table__  # type: ignore[assignment]
_RISK: Table = m.RiskEventRow.__table__  # type: ignore[assignment]
_INTENTS: Table = m.OrderIntentRow.__table__  # type: ignore[assignment]
_POSITIONS: Table = m.Position.__table__  # type: ignore[assignment]
_DAILY: Table = m.DailyPnl.__table__  # type: ignore[assignment]
_BREAKER: Table = m.BreakerStateRow.__table__  # type: ignore[assignment]
_AUDIT: Table = m.AuditLogRow.__table__  # type: ignore[assignment]


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _execute_many(conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """executemany as multi-row INSERTs: SQLAlchemy batches an INSERT .. ON CONFLICT into pages
    of VALUES (insertmanyvalues) only when it has a RETURNING clause, so it gets one."""
    conn.execute(stmt.returning(stmt.table.primary_key.columns[0]), rows).close()


def _last_per_key(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any],
                  newer_only: str | None = None) -> list[dict[str, Any]]:
    """One row per key (one statement may not hit a row twice): the last one, or with `newer_only`
    the one with the latest value of that column (the last of equals)."""
    latest: dict[Any, dict[str, Any]] = {}
    for row in rows:
        k = key(row)
        if newer_only is not None and k in latest and latest[k][newer_only] > row[newer_only]:
            continue
        latest[k] = row
    return list(latest.values())


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    if rows:
        unique = _last_per_key(rows, lambda r: tuple(r[k] for k in keys))
        if conn.dialect.name == "postgresql":
            copy_merge(conn, table, unique, f"ON CONFLICT ({names(keys)}) DO NOTHING")
            return
        _execute_many(conn, _insert(conn, table).on_conflict_do_nothing(index_elements=list(keys)), unique)


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str],
           newer_only: str | None = None) -> None:
    if not rows:
        return
    unique = _last_per_key(rows, lambda r: tuple(r[k] for k in keys), newer_only)
    if conn.dialect.name == "postgresql":
        updates = ", ".join(f'"{c.name}" = EXCLUDED."{c.name}"' for c in table.columns if c.name not in keys)
        guard = f' WHERE "{table.name}"."{newer_only}" <= EXCLUDED."{newer_only}"' if newer_only else ""
        copy_merge(conn, table, unique, f"ON CONFLICT ({names(keys)}) DO UPDATE SET {updates}{guard}")
        return
    stmt = _insert(conn, table)
    values = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    where = None
    if newer_only is not None:
        where = table.c[newer_only] <= stmt.excluded[newer_only]
    _execute_many(conn, stmt.on_conflict_do_update(index_elements=list(keys), set_=values, where=where), unique)


class FactsCache:
    """submitted_at / order_type / price per client_order_id, from the intent; DB lookup on a miss."""

    def __init__(self) -> None:
        self._facts: dict[str, o.OrderFacts] = {}

    def remember(self, intent: OrderIntent) -> None:
        self._facts.setdefault(intent.client_order_id, o.OrderFacts(intent.ts_ns, intent.order_type, intent.limit_price))

    def resolve(self, conn: Connection, updates: list[o.OrderOp]) -> dict[str, o.OrderFacts]:
        wanted = {op.update.client_order_id for op in updates}
        missing = [coid for coid in wanted if coid not in self._facts]
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            known = select(_ORDERS.c.client_order_id, _ORDERS.c.submitted_at, _ORDERS.c.order_type, _ORDERS.c.price)
            for coid, at, kind, price in conn.execute(known.where(_ORDERS.c.client_order_id.in_(chunk))):
                self._facts[coid] = o.OrderFacts(dt_to_ns(at), kind, price)
            intents = select(_INTENTS.c.client_order_id, _INTENTS.c.created_at, _INTENTS.c.order_type,
                             _INTENTS.c.limit_price)
            for coid, at, kind, price in conn.execute(intents.where(_INTENTS.c.client_order_id.in_(chunk))):
                self._facts.setdefault(coid, o.OrderFacts(dt_to_ns(at), kind, price))
        for op in updates:  # never seen before: the first update stands for the submission
            u = op.update
            self._facts.setdefault(u.client_order_id, o.OrderFacts(u.ts_ns, "market", None))
        return {coid: self._facts[coid] for coid in wanted}

    def forget_terminal(self, updates: list[o.OrderOp]) -> None:
        for op in updates:
            if op.update.status in m.TERMINAL_STATUSES:
                self._facts.pop(op.update.client_order_id, None)


class PartitionCache:
    """Monthly partitions known to exist (PostgreSQL); a new month is created before its first row."""

    def __init__(self) -> None:
        self._known: set[tuple[str, Month]] = set()

    def prepare(self, conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
        if conn.dialect.name != "postgresql" or not rows:
            return
        column = m.PARTITIONED[table]
        months = {month_of(r[column]) for r in rows} - {mo for t, mo in self._known if t == table}
        if months:
            ensure_partitions(conn, table, months)
            self._known.update((table, mo) for mo in months)

    def clear(self) -> None:
        self._known.clear()


def apply_ops(conn: Connection, ops: Sequence[o.Op], facts: FactsCache, partitions: PartitionCache) -> int:
    """Write a batch inside the caller's transaction; returns the number of rows sent."""
    by_kind: dict[type, list[Any]] = {}
    for op in ops:
        by_kind.setdefault(type(op), []).append(op)
    intents = [op.intent for op in by_kind.get(o.IntentOp, [])]
    for intent in intents:
        facts.remember(intent)
    insert_ignore(conn, _INTENTS, [o.intent_row(i) for i in intents], ["client_order_id"])
    order_ops = by_kind.get(o.OrderOp, [])
    known = facts.resolve(conn, order_ops) if order_ops else {}
    order_rows = [o.order_row(op.update, known[op.update.client_order_id]) for op in order_ops]
    partitions.prepare(conn, "orders", order_rows)
    upsert(conn, _ORDERS, order_rows, ["client_order_id", "submitted_at"], newer_only="updated_at")
    facts.forget_terminal(order_ops)
    trade_rows = [o.trade_row(op.update) for op in by_kind.get(o.FillOp, [])]
    partitions.prepare(conn, "trades", trade_rows)
    insert_ignore(conn, _TRADES, trade_rows, ["trade_id", "executed_at"])
    risk_rows = [o.risk_row(op.event) for op in by_kind.get(o.RiskOp, [])]
    partitions.prepare(conn, "risk_events", risk_rows)
    insert_ignore(conn, _RISK, risk_rows, ["id", "occurred_at"])
    position_ops = by_kind.get(o.PositionsOp, [])
    if position_ops:  # a snapshot replaces the previous one: only the last in the batch matters
        write_positions(conn, position_ops[-1].rows)
    daily = {op.row.trading_date: op.row for op in by_kind.get(o.DailyPnlOp, [])}  # the last of each day wins
    upsert(conn, _DAILY, [o.daily_pnl_row(row) for row in daily.values()], ["trading_date"])
    insert_ignore(conn, _BREAKER, [o.breaker_row(op.record) for op in by_kind.get(o.BreakerOp, [])], ["id"])
    insert_ignore(conn, _AUDIT, [o.audit_row(op.record) for op in by_kind.get(o.AuditOp, [])], ["id"])
    return len(ops)


def write_positions(conn: Connection, rows: list[PositionRow]) -> None:
    symbols = [r.symbol for r in rows]
    conn.execute(delete(_POSITIONS).where(_POSITIONS.c.symbol.not_in(symbols)) if symbols else delete(_POSITIONS))
    upsert(conn, _POSITIONS, [o.position_row(r) for r in rows], ["symbol"])


def write_intent(conn: Connection, intent: OrderIntent) -> None:
    insert_ignore(conn, _INTENTS, [o.intent_row(intent)], ["client_order_id"])


def read_positions(conn: Connection) -> list[PositionRow]:
    rows = conn.execute(select(_POSITIONS).order_by(_POSITIONS.c.symbol)).mappings()
    return [
        PositionRow(symbol=r["symbol"], quantity=r["quantity"], entry_price=r["entry_price"],
                    current_price=r["current_price"], unrealized_pnl=r["unrealized_pnl"],
                    realized_pnl=r["realized_pnl"], opened_at_ns=dt_to_ns(r["opened_at"]),
                    updated_at_ns=dt_to_ns(r["updated_at"]))
        for r in rows
    ]


def read_daily_pnl(conn: Connection, trading_date: str) -> DailyPnlRow | None:
    r = conn.execute(select(_DAILY).where(_DAILY.c.trading_date == date.fromisoformat(trading_date))).mappings().first()
    if r is None:
        return None
    return DailyPnlRow(trading_date=trading_date, realized_pnl=r["realized_pnl"], unrealized_pnl=r["unrealized_pnl"],
                       total_pnl=r["total_pnl"], trade_count=r["trade_count"], winning_trades=r["winning_trades"],
                       losing_trades=r["losing_trades"])


def read_breaker(conn: Connection) -> BreakerRecord | None:
    stmt = select(_BREAKER).order_by(_BREAKER.c.changed_at.desc(), _BREAKER.c.id.desc()).limit(1)
    r = conn.execute(stmt).mappings().first()
    if r is None:
        return None
    return BreakerRecord(state=r["state"], reason=r["reason"], changed_by=r["changed_by"],
                         changed_at_ns=dt_to_ns(r["changed_at"]), reduced_size=r["reduced_size"],
                         trading_date=r["trading_date"], trip_rule=r["trip_rule"])


def read_open_intents(conn: Connection) -> list[OrderIntent]:
    """Intents whose order has no terminal status yet (never sent, or still working)."""
    done = select(_ORDERS.c.client_order_id).where(_ORDERS.c.status.in_(m.TERMINAL_STATUSES))
    stmt = select(_INTENTS).where(_INTENTS.c.client_order_id.not_in(done)).order_by(
        _INTENTS.c.created_at, _INTENTS.c.client_order_id)
    return [
        OrderIntent(client_order_id=r["client_order_id"], symbol=r["symbol"], side=r["side"], qty=r["quantity"],
                    order_type=r["order_type"], time_in_force=r["time_in_force"], ts_ns=dt_to_ns(r["created_at"]),
                    batch=r["batch"], correlation_id=r["correlation_id"], limit_price=r["limit_price"],
                    stop_price=r["stop_price"], reduce_only=r["reduce_only"])
        for r in conn.execute(stmt).mappings()
    ]


def has_intent(conn: Connection, client_order_id: str) -> bool:
    stmt = select(_INTENTS.c.client_order_id).where(_INTENTS.c.client_order_id == client_order_id)
    return conn.execute(stmt).first() is not None


__all__ = ["FactsCache", "has_intent", "PartitionCache", "apply_ops", "read_breaker", "read_daily_pnl", "read_open_intents",
           "read_positions", "write_intent", "write_positions"]
