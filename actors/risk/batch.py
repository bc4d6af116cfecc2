"""Risk's work on one batch, shared by the risk actor and the one-process replay (pure: no I/O, no Ray).

* `decide_batch`: the batch's marks and signals merged in event-time order (a bar's mark before the
  signal taken on it, then by symbol), every signal checked, then the follow-ups of every target.
  The decisions depend only on the data, never on message timing.
* `apply_reports`: a settled batch's order updates booked into the core; the money invariants are
  checked after every fill the core books (a repeated report books nothing and is not counted).

Which reports are applied before which batch is decided is the BatchGate's schedule
(cluster/foundation/batch_gate.py), the same in both runners.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Protocol

from actors.risk.core import Approved, RiskCore
from cluster.foundation.wire import Bar, OrderIntent, OrderUpdate, Quote, Settled, Signal, Trade

MarketItem = Bar | Quote | Trade
_EVENT_ORDER = itemgetter(0, 1, 2)  # time, mark before signal, symbol


class Clock(Protocol):
    def advance(self, ts_ns: int) -> None: ...

    def __call__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Rejection:
    rule: str
    symbol: str


@dataclass(frozen=True, slots=True)
class Decision:
    orders: list[OrderIntent]
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Applied:
    booked: list[OrderUpdate]  # the updates that booked a fill
    invariant_checks: int


def decide_batch(core: RiskCore, clock: Clock, batch: int, market: Iterable[MarketItem],
                 signals: Sequence[Signal]) -> Decision:
    """Decide batch `batch`: its marks (bars, trades; quotes are not marks) and signals in event-time order."""
    events: list[tuple[int, int, str, Bar | Trade | Signal]] = [
        (m.ts_ns, 0, m.symbol, m) for m in market if not isinstance(m, Quote)]
    events += [(s.ts_ns, 1, s.symbol, s) for s in signals]
    events.sort(key=_EVENT_ORDER)
    orders: list[OrderIntent] = []
    rejections: list[Rejection] = []
    for ts, _, symbol, ev in events:
        clock.advance(ts)
        if isinstance(ev, Bar):
            core.on_price(symbol, ev.close, ev.ts_ns)
        elif isinstance(ev, Trade):
            core.on_price(symbol, ev.price, ev.ts_ns)
        else:
            decision = core.check(ev)
            if isinstance(decision, Approved):
                orders.append(decision.intent)
            else:
                rejections.append(Rejection(decision.rule, symbol))
    core.tick(clock())
    orders += core.follow_up(batch)  # slices, exits whose entry has filled since, targets a limit held back
    core.check_stale_book(clock())
    return Decision(orders, rejections)


def apply_reports(core: RiskCore, updates: Iterable[OrderUpdate], check_invariants: bool) -> Applied:
    """Book `updates` in order; with `check_invariants`, check the portfolio after each fill booked."""
    booked: list[OrderUpdate] = []
    checks = 0
    for update in updates:
        before = core.fill_count
        core.on_order_update(update)
        if core.fill_count > before:
            booked.append(update)
            if check_invariants:
                core.portfolio.check_invariants()
                checks += 1
    return Applied(booked, checks)


def settles_at_or_before(items: Sequence[object], batch: int) -> bool:
    """Whether a reports envelope carries a settlement of `batch` or earlier (one already booked)."""
    return any(isinstance(i, Settled) and i.batch <= batch for i in items)
