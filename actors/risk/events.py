"""The risk core's decisions, and the events it queues for the actor to store: breaker changes, rejections."""

from __future__ import annotations

import msgspec

from actors.risk.rules import Rejection
from cluster.ids import client_order_id
from cluster.records import RiskEvent, Severity
from cluster.wire import OrderIntent, Signal


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
