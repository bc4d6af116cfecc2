"""Order sizes inside the dollar limits, and the strategy's target per symbol that risk works toward.

A Target is what the strategy (or an operator's kill) wants held in one symbol: long, flat or
short. Risk keeps it until the next signal and sends one order at a time toward it, so a close cut
by the fat-finger cap, an exit that arrives while the entry is still pending, or a position that a
breaker mode kept from moving is finished later, without waiting for a signal that never comes.
Each order toward a target gets the next `step`, which makes its client_order_id unique.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from actors.risk import rules
from cluster.foundation.domain.ids import Origin, client_order_id, parse_client_order_id
from cluster.foundation.domain.wire import OrderIntent


class Limits(msgspec.Struct, frozen=True):
    """Dollar limits in force: the configured ones, or scaled by reduced_size_factor after a reset."""

    order_notional: Decimal
    max_order_notional: Decimal
    max_position: Decimal
    max_total_exposure: Decimal


class Target:
    __slots__ = ("direction", "origin", "ts_ns", "step", "correlation_id", "stopped", "blocked")

    def __init__(self, direction: int, origin: Origin, ts_ns: int, correlation_id: str, step: int = 0) -> None:
        self.direction = direction
        self.origin: Origin = origin
        self.ts_ns = ts_ns  # the signal's bar time, or the kill's request time
        self.step = step  # orders already sent toward this target
        self.correlation_id = correlation_id
        self.stopped = False  # the broker refused an order toward it: wait for a new signal
        self.blocked = ""  # the rule that last held it back (its event is recorded once)

    @property
    def is_kill(self) -> bool:
        return self.origin == "k"

    def same_as(self, direction: int, origin: Origin, ts_ns: int) -> bool:
        return (self.direction, self.origin, self.ts_ns) == (direction, origin, ts_ns)

    def next_order_id(self, prefix: str, symbol: str) -> str:
        return client_order_id(prefix, symbol, self.ts_ns, self.direction, self.step, self.origin)

    def reached(self, held: Decimal) -> bool:
        if self.direction == 0:
            return held == 0
        return held > 0 if self.direction > 0 else held < 0


def close_slice(symbol: str, qty: Decimal, last: Decimal, cap: Decimal) -> Decimal | rules.Rejection:
    """The part of a close the fat-finger cap lets through in one order (the rest follows later)."""
    if qty * last <= cap:
        return qty
    cut = rules.whole_shares_within(cap, last)
    if cut < 1:
        return rules.order_notional_cap(symbol, last, cap) or rules.Rejection("order_notional_cap", symbol)
    return cut


def entry_size(symbol: str, last: Decimal, lim: Limits, total_exposure: Decimal) -> Decimal | rules.Rejection:
    """Open from flat: aim at order_notional_usd, cut down to whole shares that fit every limit."""
    budget, bound = lim.order_notional, "order_size"
    if lim.max_order_notional < budget:
        budget, bound = lim.max_order_notional, "order_notional_cap"
    if lim.max_position < budget:
        budget, bound = lim.max_position, "max_position"
    if lim.max_total_exposure - total_exposure < budget:
        budget, bound = lim.max_total_exposure - total_exposure, "max_total_exposure"
    qty = rules.whole_shares_within(budget, last)
    probe = qty if qty >= 1 else Decimal(1)
    notional = probe * last
    rejection = (
        rules.order_notional_cap(symbol, notional, lim.max_order_notional)
        or rules.max_position(symbol, notional, lim.max_position)
        or rules.max_total_exposure(total_exposure + notional, lim.max_total_exposure)
    )
    if rejection is None and qty < 1:
        rejection = rules.Rejection(bound, f"{symbol}: {budget:.2f} USD buys less than one share at {last}")
    return qty if rejection is None else rejection


def targets_from_orders(intents: Iterable[OrderIntent]) -> dict[str, Target]:
    """The targets that open orders were sent toward (an id names its target); the latest per symbol."""
    targets: dict[str, Target] = {}
    for intent in intents:
        parsed = parse_client_order_id(intent.client_order_id)
        if parsed is None:
            continue
        origin, ts, direction, step = parsed
        known = targets.get(intent.symbol)
        if known is not None and (known.ts_ns, known.step) > (ts, step):
            continue
        kind: Origin = "k" if origin == "k" else "s"
        targets[intent.symbol] = Target(direction, kind, ts, intent.correlation_id, step + 1)
    return targets
