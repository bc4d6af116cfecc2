"""Pending writes as frozen tagged values (queued in memory, journaled as msgpack), and their rows.

Each op carries a sequence number assigned when it was enqueued; the writer commits ops strictly
in that order, so `seq` is also the watermark that tells which journaled ops are already in the DB.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import msgspec

from cluster.foundation.domain.records import AuditRecord, BreakerRecord, DailyPnlRow, PositionRow, RiskEvent
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.storage.db.types import ns_to_dt


class _Op(msgspec.Struct, frozen=True, tag_field="op"):
    seq: int


class IntentOp(_Op, frozen=True, tag="intent"):
    intent: OrderIntent


class OrderOp(_Op, frozen=True, tag="order"):
    update: OrderUpdate


class FillOp(_Op, frozen=True, tag="fill"):
    update: OrderUpdate


class RiskOp(_Op, frozen=True, tag="risk"):
    event: RiskEvent


class PositionsOp(_Op, frozen=True, tag="positions"):
    rows: list[PositionRow]
    at_ns: int


class DailyPnlOp(_Op, frozen=True, tag="daily_pnl"):
    row: DailyPnlRow


class BreakerOp(_Op, frozen=True, tag="breaker"):
    record: BreakerRecord


class AuditOp(_Op, frozen=True, tag="audit"):
    record: AuditRecord


Op = IntentOp | OrderOp | FillOp | RiskOp | PositionsOp | DailyPnlOp | BreakerOp | AuditOp


def _content_id(*parts: Any) -> str:
    """A stable id for records without a natural key: the same record always gets the same id."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def fill_id(update: OrderUpdate) -> str:
    return update.fill_id or f"{update.client_order_id}:{update.filled_qty}"


def intent_row(intent: OrderIntent) -> dict[str, Any]:
    return {
        "client_order_id": intent.client_order_id,
        "symbol": intent.symbol,
        "side": intent.side,
        "quantity": intent.qty,
        "order_type": intent.order_type,
        "time_in_force": intent.time_in_force,
        "limit_price": intent.limit_price,
        "stop_price": intent.stop_price,
        "reduce_only": intent.reduce_only,
        "batch": intent.batch,
        "correlation_id": intent.correlation_id,
        "created_at": ns_to_dt(intent.ts_ns),
    }


class OrderFacts(msgspec.Struct, frozen=True):
    """What an OrderUpdate lacks but the orders row needs; fixed at submission."""

    submitted_at_ns: int
    order_type: str
    price: Any  # Decimal | None


def order_row(update: OrderUpdate, facts: OrderFacts) -> dict[str, Any]:
    return {
        "client_order_id": update.client_order_id,
        "submitted_at": ns_to_dt(facts.submitted_at_ns),
        "order_id": update.broker_order_id or None,
        "symbol": update.symbol,
        "side": update.side,
        "order_type": facts.order_type,
        "quantity": update.qty,
        "price": facts.price,
        "status": update.status,
        "filled_at": ns_to_dt(update.ts_ns) if update.status == "filled" else None,
        "filled_qty": update.filled_qty,
        "filled_avg_price": update.filled_avg_price,
        "updated_at": ns_to_dt(update.ts_ns),
    }


def trade_row(update: OrderUpdate) -> dict[str, Any]:
    if update.last_fill_price is None:
        raise ValueError(f"fill of {update.client_order_id} has no last_fill_price")
    return {
        "trade_id": fill_id(update),
        "executed_at": ns_to_dt(update.ts_ns),
        "order_id": update.broker_order_id,
        "client_order_id": update.client_order_id,
        "symbol": update.symbol,
        "side": update.side,
        "quantity": update.last_fill_qty,
        "price": update.last_fill_price,
        "commission": update.commission,
    }


def risk_row(event: RiskEvent) -> dict[str, Any]:
    return {
        "id": _content_id(event.event_type, event.severity, event.message, event.occurred_at_ns, event.metadata),
        "occurred_at": ns_to_dt(event.occurred_at_ns),
        "event_type": event.event_type,
        "severity": event.severity,
        "message": event.message,
        "metadata": dict(event.metadata),
    }


def position_row(row: PositionRow) -> dict[str, Any]:
    return {
        "symbol": row.symbol,
        "quantity": row.quantity,
        "entry_price": row.entry_price,
        "current_price": row.current_price,
        "unrealized_pnl": row.unrealized_pnl,
        "realized_pnl": row.realized_pnl,
        "side": row.side,
        "opened_at": ns_to_dt(row.opened_at_ns),
        "updated_at": ns_to_dt(row.updated_at_ns),
    }


def daily_pnl_row(row: DailyPnlRow) -> dict[str, Any]:
    return {
        "trading_date": date.fromisoformat(row.trading_date),
        "realized_pnl": row.realized_pnl,
        "unrealized_pnl": row.unrealized_pnl,
        "total_pnl": row.total_pnl,
        "trade_count": row.trade_count,
        "winning_trades": row.winning_trades,
        "losing_trades": row.losing_trades,
    }


def breaker_row(record: BreakerRecord) -> dict[str, Any]:
    return {
        "id": _content_id(record.state, record.reason, record.changed_by, record.changed_at_ns,
                          record.reduced_size, record.trading_date),
        "state": record.state,
        "reason": record.reason,
        "changed_by": record.changed_by,
        "changed_at": ns_to_dt(record.changed_at_ns),
        "reduced_size": record.reduced_size,
        "trading_date": record.trading_date,
        "trip_rule": record.trip_rule,
    }


def audit_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": _content_id(record.action, record.caller, record.reason, record.occurred_at_ns, record.details),
        "action": record.action,
        "caller": record.caller,
        "reason": record.reason,
        "details": dict(record.details),
        "occurred_at": ns_to_dt(record.occurred_at_ns),
    }
