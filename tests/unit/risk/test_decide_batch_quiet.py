"""decide_batch stores the marks of quiet symbols at once: the decisions, events and books must equal those of
a core that takes every mark in time order (the reference below), over random batches of real prices with
bad prints, fills between batches, orders left working and trading days that roll mid-batch."""

from __future__ import annotations

import math
from decimal import Decimal
from operator import itemgetter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from risk_fakes import NS, SESSION_START_NS, FakeBroker, real_closes, seed_limits

from actors.risk.batch import Clock, MarketItem, decide_batch, quiet_marks
from actors.risk.core import Approved, RiskCore
from cluster.foundation.domain.wire import Bar, OrderIntent, Quote, Signal, Trade
from cluster.foundation.runtime.actor_base import EventClock

SYMBOLS = ("SPY", "IBM", "BAC", "AIG", "AAPL", "QQQ")
BAD = (math.nan, 0.0, -1.0, math.inf)


def decide_every_mark(core: RiskCore, clock: Clock, batch: int, market: list[MarketItem],
                      signals: list[Signal]) -> tuple[list[OrderIntent], list[tuple[str, str]]]:
    """The reference: every mark and signal merged in event-time order, each mark through on_price."""
    events: list[tuple[int, int, str, Any]] = [(m.ts_ns, 0, m.symbol, m) for m in market if not isinstance(m, Quote)]
    events += [(s.ts_ns, 1, s.symbol, s) for s in signals]
    events.sort(key=itemgetter(0, 1, 2))
    orders: list[OrderIntent] = []
    rejections: list[tuple[str, str]] = []
    for ts, _, symbol, ev in events:
        clock.advance(ts)
        if isinstance(ev, Signal):
            decision = core.check(ev)
            if isinstance(decision, Approved):
                orders.append(decision.intent)
            else:
                rejections.append((decision.rule, symbol))
        else:
            core.on_price(symbol, ev.close if isinstance(ev, Bar) else ev.price, ev.ts_ns)
    core.tick(clock())
    orders += core.follow_up(batch)
    core.check_stale_book(clock())
    return orders, rejections


_mark = st.tuples(st.integers(0, len(SYMBOLS) - 1), st.integers(0, 119), st.integers(0, 400),
                  st.sampled_from(("bar", "bar", "trade", "quote", "bad")), st.integers(0, len(BAD) - 1))
_signal = st.tuples(st.integers(0, len(SYMBOLS) - 1), st.integers(0, 119), st.sampled_from((-1, 0, 1, 1)))
_batch = st.tuples(
    st.lists(_mark, max_size=30), st.lists(_signal, max_size=4),
    st.sampled_from((60, 60, 600, 3_600, 86_400)),  # seconds to the next batch: a day now and then
    st.sampled_from(("fill_all", "fill_all", "fill_half", "leave")),
)


def _market(spec: list[tuple[int, int, int, str, int]], base_ns: int) -> list[MarketItem]:
    items: list[MarketItem] = []
    for sym, second, row, kind, bad in sorted(spec, key=itemgetter(0)):  # grouped by symbol, as the shards send
        symbol = SYMBOLS[sym]
        ts = base_ns + second * NS
        price = real_closes(symbol)[row] if kind != "bad" else BAD[bad]
        if kind == "trade":
            items.append(Trade(symbol, ts, price, 100.0))
        elif kind == "quote":
            items.append(Quote(symbol, ts, price - 0.01, 100.0, price + 0.01, 100.0))
        else:
            items.append(Bar(symbol, ts, price, price, price, price, 1_000.0))
    return items


def _settle(broker: FakeBroker, orders: list[OrderIntent], how: str, core: RiskCore) -> None:
    for intent in orders:
        broker.accept(intent)
    for coid, intent in list(broker.open.items()):
        if how == "leave":
            continue
        qty = intent.qty if how == "fill_all" else max(Decimal(1), (intent.qty / 2).to_integral_value())
        qty = min(qty, intent.qty - broker.filled[coid])
        price = core.last_mark(intent.symbol) or Decimal(100)
        broker.fill(coid, qty, price)


@settings(max_examples=300, deadline=None)
@given(st.lists(_batch, min_size=1, max_size=12))
def test_decide_batch_when_quiet_marks_are_stored_at_once_then_everything_equals_taking_every_mark(
    batches: list[tuple[list[Any], list[Any], int, str]],
) -> None:
    # Arrange: two cores, one deciding with decide_batch, one with the reference
    # tight enough that a working order's mark moves the exposure check of another symbol
    limits = seed_limits(stale_data_seconds=90, max_daily_loss_usd=Decimal(50), order_notional_usd=Decimal(9_000),
                         max_total_exposure_usd=Decimal(12_000), max_position_usd=Decimal(9_000))
    runs = []
    for _ in range(2):
        clock = EventClock(replay=True)
        clock.advance(SESSION_START_NS)
        core = RiskCore(limits, clock)
        runs.append((core, clock, FakeBroker(core, clock)))
    base = SESSION_START_NS

    for k, (mark_spec, signal_spec, gap_s, how) in enumerate(batches, start=1):
        market = _market(mark_spec, base)
        signals = [Signal(symbol=SYMBOLS[sym], ts_ns=base + second * NS, group="g0", batch=k, target=target,
                          strength=1.0, price=real_closes(SYMBOLS[sym])[second], model_version="t",
                          correlation_id=f"{SYMBOLS[sym]}@{second}") for sym, second, target in signal_spec]
        results = []
        for i, (core, clock, broker) in enumerate(runs):
            # Act
            if i == 0:
                decision = decide_batch(core, clock, k, market, signals)
                orders, rejections = decision.orders, [(r.rule, r.symbol) for r in decision.rejections]
            else:
                orders, rejections = decide_every_mark(core, clock, k, market, signals)
            events = core.drain_events()
            results.append((orders, rejections, events, clock(), core.snapshot(),
                            {s: core.last_mark(s) for s in SYMBOLS}))
            _settle(broker, orders, how, core)
            results.append((core.drain_events(), core.snapshot()))

        # Assert
        assert results[0] == results[2], f"batch {k} decided differently"
        assert results[1] == results[3], f"batch {k} settled differently"
        base += gap_s * NS


def test_quiet_marks_when_a_symbol_is_held_pending_or_signalled_then_its_marks_are_taken_in_order() -> None:
    # Arrange: SPY held, IBM with an order working, BAC signalled, AIG quiet with two marks, AAPL with a bad print
    clock = EventClock(replay=True)
    clock.advance(SESSION_START_NS)
    core = RiskCore(seed_limits(), clock)
    broker = FakeBroker(core, clock)
    t = SESSION_START_NS
    for symbol in ("SPY", "IBM"):
        core.on_price(symbol, 100.0, t)
        decision = core.check(Signal(symbol=symbol, ts_ns=t, group="g0", batch=0, target=1, strength=1.0, price=100.0,
                                     model_version="t", correlation_id=f"{symbol}@{t}"))
        assert isinstance(decision, Approved)
        broker.accept(decision.intent)
    broker.fill(next(c for c, i in broker.open.items() if i.symbol == "SPY"), Decimal(1), Decimal(100))
    marks = [Bar("SPY", t + NS, 101.0, 101.0, 101.0, 101.0, 1.0), Bar("IBM", t + NS, 99.0, 99.0, 99.0, 99.0, 1.0),
             Bar("BAC", t + NS, 30.0, 30.0, 30.0, 30.0, 1.0), Trade("AIG", t + 2 * NS, 50.0, 1.0),
             Bar("AIG", t + NS, 49.0, 49.0, 49.0, 49.0, 1.0), Bar("AAPL", t + NS, 400.0, 400.0, 400.0, 400.0, 1.0),
             Trade("AAPL", t + 2 * NS, math.nan, 1.0)]
    signal = Signal(symbol="BAC", ts_ns=t + NS, group="g0", batch=1, target=1, strength=1.0, price=30.0,
                    model_version="t", correlation_id="BAC@1")

    # Act
    loud, prices, stamps = quiet_marks(core, marks, [signal])

    # Assert: AIG's last mark in time is the trade at t+2s, although the bar comes after it in the batch
    assert [m.symbol for m in loud] == ["SPY", "IBM", "BAC", "AAPL", "AAPL"]
    assert prices == {"AIG": 50.0}
    assert stamps == {"AIG": t + 2 * NS}


def test_quiet_marks_when_a_mark_may_roll_the_trading_day_then_every_mark_is_taken_in_order() -> None:
    # Arrange
    clock = EventClock(replay=True)
    clock.advance(SESSION_START_NS)
    core = RiskCore(seed_limits(), clock)
    next_day = SESSION_START_NS + 86_400 * NS
    marks = [Bar("AIG", SESSION_START_NS, 49.0, 49.0, 49.0, 49.0, 1.0), Bar("AIG", next_day, 50.0, 50.0, 50.0, 50.0, 1.0)]

    # Act
    loud, prices, _ = quiet_marks(core, marks, [])

    # Assert
    assert loud == marks
    assert prices == {}
