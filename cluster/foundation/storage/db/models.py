"""The schema as SQLAlchemy 2.0 typed models. Alembic migrations are the only thing that creates it.

orders, trades and risk_events are range-partitioned by month on PostgreSQL (see partitions.py),
so their primary keys include the time column. The same keys are used on SQLite, which keeps one
upsert code path: ON CONFLICT on the natural key on both backends.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cluster.foundation.storage.db.types import Money, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# table -> time column it is partitioned by (PostgreSQL only)
PARTITIONED: dict[str, str] = {"orders": "submitted_at", "trades": "executed_at", "risk_events": "occurred_at"}
TERMINAL_STATUSES = ("filled", "canceled", "expired", "rejected", "replaced")
MODEL_STATUSES = ("candidate", "shadow", "live", "retired")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Position(Base):
    __tablename__ = "positions"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(Money())
    entry_price: Mapped[Decimal] = mapped_column(Money())
    current_price: Mapped[Decimal] = mapped_column(Money())
    unrealized_pnl: Mapped[Decimal] = mapped_column(Money())
    realized_pnl: Mapped[Decimal] = mapped_column(Money())
    side: Mapped[str] = mapped_column(String(8))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index(None, "symbol", "submitted_at"),
        Index(None, "status"),
        {"postgresql_partition_by": "RANGE (submitted_at)"},
    )
    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    order_id: Mapped[str | None] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Money())
    price: Mapped[Decimal | None] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(24))
    filled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    filled_qty: Mapped[Decimal] = mapped_column(Money())
    filled_avg_price: Mapped[Decimal | None] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TradeFill(Base):
    __tablename__ = "trades"
    __table_args__ = (
        Index(None, "client_order_id"),
        Index(None, "symbol", "executed_at"),
        {"postgresql_partition_by": "RANGE (executed_at)"},
    )
    trade_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    executed_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    client_order_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Money())
    price: Mapped[Decimal] = mapped_column(Money())
    commission: Mapped[Decimal] = mapped_column(Money())


class RiskEventRow(Base):
    __tablename__ = "risk_events"
    __table_args__ = (
        Index(None, "event_type", "occurred_at"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # content hash: a replay cannot duplicate
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    event_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)


class DailyPnl(Base):
    __tablename__ = "daily_pnl"
    trading_date: Mapped[date] = mapped_column(Date, primary_key=True)
    realized_pnl: Mapped[Decimal] = mapped_column(Money())
    unrealized_pnl: Mapped[Decimal] = mapped_column(Money())
    total_pnl: Mapped[Decimal] = mapped_column(Money())
    trade_count: Mapped[int] = mapped_column(BigInteger)
    winning_trades: Mapped[int] = mapped_column(BigInteger)
    losing_trades: Mapped[int] = mapped_column(BigInteger)


class OrderIntentRow(Base):
    __tablename__ = "order_intents"
    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Money())
    order_type: Mapped[str] = mapped_column(String(16))
    time_in_force: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[Decimal | None] = mapped_column(Money())
    stop_price: Mapped[Decimal | None] = mapped_column(Money())
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    batch: Mapped[int] = mapped_column(BigInteger)
    correlation_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class BreakerStateRow(Base):
    """History of breaker changes; the current state is the latest changed_at."""

    __tablename__ = "breaker_state"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # content hash
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reduced_size: Mapped[bool] = mapped_column(Boolean)
    trading_date: Mapped[str] = mapped_column(String(10))
    trip_rule: Mapped[str] = mapped_column(String(32), server_default="")  # "" when none or unknown


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        CheckConstraint("status IN ('candidate', 'shadow', 'live', 'retired')", name="status"),
    )
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    feature_hash: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    data_range: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text)
    artifact_path: Mapped[str] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(String(64), server_default="")  # revision 0002
    previous_live: Mapped[str | None] = mapped_column(String(64))  # the live version this one replaced


class AuditLogRow(Base):
    __tablename__ = "audit_log"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # content hash
    action: Mapped[str] = mapped_column(String(64))
    caller: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class FeedJournalRow(Base):
    """The live feed's published batches, written before they are sent (revision 0003): a restarted
    feed sends the tail again with identical content and resumes after it."""

    __tablename__ = "feed_journal"
    batch: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    final: Mapped[bool] = mapped_column(Boolean)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    written_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ClusterStateRow(Base):
    """The supervisor's desired state, written before it acts (revision 0003)."""

    __tablename__ = "cluster_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
