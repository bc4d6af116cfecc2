"""The risk core's decisions, the booking of order reports, and the events it queues: breaker changes, rejections."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from actors.risk.accounting import ZERO, Portfolio
from actors.risk.rules import Rejection
from cluster.foundation.domain.ids import client_order_id
from cluster.foundation.domain.orders import FillLedger
from cluster.foundation.domain.records import RiskEvent, Severity
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate, Signal


class Approved(msgspec.Struct, frozen=True):
    intent: OrderIntent


class Rejected(msgspec.Struct, frozen=True):
    rule: str
    reason: str
    signal: Signal


RiskDecision = Approved | Rejected

BREAKER_EVENTS: dict[str, tuple[str, Severity]] = {
    "trip": ("breaker_tripped", "critical"),
    "cooldown_elapsed": ("breaker_reducing", "warning"),
    "reset": ("breaker_reset", "warning"),
    "day_rollover": ("breaker_day_rollover", "info"),
    "new_day": ("breaker_new_day", "warning"),
}
_INFO_RULES = ("at_target", "order_pending")


def rejection_event(prefix: str, rejection: Rejection, signal: Signal, now: int) -> RiskEvent:
    """A refused signal, named by the id its first order would have had."""
    severity: Severity = "info" if rejection.rule in _INFO_RULES else "warning"
    coid = client_order_id(prefix, signal.symbol, signal.ts_ns, signal.target) if signal.target in (-1, 0, 1) else ""
    return RiskEvent(
        event_type="order_rejected", severity=severity, message=rejection.reason, occurred_at_ns=now,
        metadata={
            "rule": rejection.rule, "symbol": signal.symbol, "client_order_id": coid,
            "correlation_id": signal.correlation_id, "target": signal.target,
        },
    )


def book_report(portfolio: Portfolio, ledger: FillLedger, update: OrderUpdate, event: Callable[..., Any]) -> Decimal:
    """Book the shares of one report that no report booked before; return how many. Refusals become events.

    Execution is the authority on what a report brings: shares the broker's cumulative quantity shows
    before their report arrives come as a fill of their own, and a late report of them as its commission.
    """
    if update.last_fill_qty <= 0:
        if update.commission > 0:
            portfolio.apply_fee(update.symbol, update.commission, update.ts_ns)
        return ZERO
    price = update.last_fill_price if update.last_fill_price is not None else update.filled_avg_price
    if price is None or not price.is_finite() or price <= 0:
        event("bad_fill", "critical", f"fill of {update.client_order_id} at {price}; not booked", update.ts_ns,
              symbol=update.symbol, client_order_id=update.client_order_id)
        return ZERO
    new = ledger.book(update)
    if new > 0:
        portfolio.apply_fill(update.symbol, update.side, new, price, update.commission, update.ts_ns)
    return new
