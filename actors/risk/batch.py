"""Risk's work on one batch, shared by the risk actor and the one-process replay (pure: no I/O, no Ray).

* `decide_batch`: the batch's marks and signals merged in event-time order (a bar's mark before the
  signal taken on it, then by symbol), every signal checked, then the follow-ups of every target.
  The decisions depend only on the data, never on message timing.
* `apply_reports`: a settled batch's order updates booked into the core; the money invariants are
  checked after every fill the core books (a repeated report books nothing and is not counted).

Which reports are applied before which batch is decided is the BatchGate's schedule
(cluster/foundation/domain/batch_gate.py), the same in both runners.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter, itemgetter
from typing import NamedTuple, Protocol

from actors.risk.core import Approved, RiskCore
from cluster.foundation.domain.wire import Bar, OrderIntent, OrderUpdate, Quote, Settled, Signal, Trade

MarketItem = Bar | Quote | Trade
_EVENT_ORDER = itemgetter(0, 1, 2)  # time, mark before signal, symbol
_INF = float("inf")
_TS = attrgetter("ts_ns")


class Clock(Protocol):
    def advance(self, ts_ns: int) -> None: ...

    def __call__(self) -> int: ...


class Rejection(NamedTuple):
    """A signal risk turned down: the rule that refused it, and its symbol."""

    rule: str
    symbol: str


class Decision(NamedTuple):
    """One batch decided: the orders to send (signals' and follow-ups'), the signals refused."""

    orders: list[OrderIntent]
    rejections: list[Rejection]


class Applied(NamedTuple):
    """A settlement booked: the updates that booked a fill, and how many invariant checks ran."""

    booked: list[OrderUpdate]
    invariant_checks: int


def decide_batch(core: RiskCore, clock: Clock, batch: int, market: Iterable[MarketItem],
                 signals: Sequence[Signal]) -> Decision:
    """Decide batch `batch`: its marks (bars, trades; quotes are not marks) and signals in event-time order.

    Most marks are of symbols risk neither holds nor trades in the batch: such a mark is only stored, so
    those symbols' last marks are stored at once (`quiet_marks`) and only the rest is merged in time
    order. The result is that of taking every mark in order (tests/unit/risk/test_decide_batch_quiet.py).
    """
    marks: list[Bar | Trade] = [m for m in market if not isinstance(m, Quote)]
    loud, prices, stamps = quiet_marks(core, marks, signals)
    events: list[tuple[int, int, str, Bar | Trade | Signal]] = [(m.ts_ns, 0, m.symbol, m) for m in loud]
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
    if stamps:
        clock.advance(max(stamps.values()))
        core.mark_quietly(prices, stamps)
    core.tick(clock())
    orders += core.follow_up(batch)  # slices, exits whose entry has filled since, targets a limit held back
    core.check_stale_book(clock())
    return Decision(orders, rejections)


def quiet_marks(core: RiskCore, marks: Sequence[Bar | Trade], signals: Sequence[Signal]
                ) -> tuple[Sequence[Bar | Trade], dict[str, float], dict[str, int]]:
    """Split a batch's marks: those on_price must take in time order, and the last price and time of every
    quiet symbol (not in play at the core, no signal in the batch, every mark a positive finite price).
    Nothing is quiet when a mark may roll the trading day."""
    if not marks:
        return marks, {}, {}
    last_date = core.trading_date_of(max(m.ts_ns for m in marks))
    if last_date > core.portfolio.trading_date or last_date > core.breaker.trading_date:
        return marks, {}, {}  # a mark may roll the day: on_price takes each in its place
    in_play = core.symbols_in_play()
    in_play.update(s.symbol for s in signals)
    prices: dict[str, float] = {}
    stamps: dict[str, int] = {}
    for m in marks:
        symbol = m.symbol
        if symbol in in_play:
            continue
        price = m.close if type(m) is Bar else m.price  # type: ignore[union-attr]
        if not 0.0 < price < _INF:  # NaN too: on_price reports it, in its place among the events
            in_play.add(symbol)
            continue
        if m.ts_ns >= stamps.get(symbol, -1):  # the last in time order (ties: the later one)
            prices[symbol] = price
            stamps[symbol] = m.ts_ns
    if not prices:
        return marks, prices, stamps
    for symbol in in_play.intersection(prices):  # a bad mark came after a good one
        del prices[symbol], stamps[symbol]
    return [m for m in marks if m.symbol in in_play], prices, stamps


def broker_market(items: list[MarketItem], symbols: set[str]) -> list[MarketItem]:
    """What of a batch's market data the simulated broker can act on, for execution to show it: the items of
    `symbols` (risk's symbols in play after deciding: its pending orders hold every order the broker may still
    work), the batch's last item (execution's clock follows it) and its latest (the broker's clock)."""
    if not items:
        return items
    last, latest = items[-1], max(items, key=_TS)
    return [m for m in items if m.symbol in symbols or m is last or m is latest]


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
