"""Rows the repository stores: plain frozen values, money as Decimal, time as UTC ns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import msgspec

Severity = Literal["info", "warning", "critical"]


class RiskEvent(msgspec.Struct, frozen=True, kw_only=True):
    event_type: str  # e.g. "order_rejected", "breaker_tripped", "sequence_gap"
    severity: Severity
    message: str
    occurred_at_ns: int
    metadata: dict[str, Any] = {}


class PositionRow(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    quantity: Decimal  # signed: > 0 long, < 0 short
    entry_price: Decimal  # average entry price of the open quantity
    current_price: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    opened_at_ns: int
    updated_at_ns: int

    @property
    def side(self) -> str:
        return "long" if self.quantity > 0 else "short" if self.quantity < 0 else "flat"


class DailyPnlRow(msgspec.Struct, frozen=True, kw_only=True):
    trading_date: str  # YYYY-MM-DD in the risk trading-day zone
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_pnl: Decimal
    trade_count: int
    winning_trades: int
    losing_trades: int


class BreakerRecord(msgspec.Struct, frozen=True, kw_only=True):
    state: Literal["closed", "open", "reducing"]
    reason: str
    changed_by: str
    changed_at_ns: int
    reduced_size: bool = False
    trading_date: str = ""
    trip_rule: str = ""  # what tripped it ("" restored from rows older than the column: waits for a reset)


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    action: str
    caller: str
    reason: str
    occurred_at_ns: int
    details: dict[str, Any] = {}
