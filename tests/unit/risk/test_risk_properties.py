"""Property: over random streams of real prices, signals, fills and breaker actions, no approved order
takes any limit past its bound (closed, reducing, and at reduced size after a reset).

The test keeps its own model of the book (fills it sent, orders still open at its fake broker, last
prices it gave) and computes the worst-case exposures itself, not through the core.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from risk_fakes import NS, FakeBroker, FakeClock, make_signal, real_closes, seed_limits

from actors.risk.core import Approved, RiskCore
from cluster.foundation.domain.errors import InvalidTransition
from cluster.foundation.domain.settings import RiskSettings

D = Decimal
SYMBOLS = ("SPY", "IBM", "BAC", "AIG", "AAPL", "QQQ")
NY = ZoneInfo("America/New_York")

LIMIT_SETS = {
    "seed": seed_limits(),
    "tight": seed_limits(
        order_notional_usd=D(9_000), max_order_notional_usd=D(8_000), max_position_usd=D(7_000),
        max_total_exposure_usd=D(20_000), max_open_positions=3, max_daily_loss_usd=D(300),
    ),
    "two_entries_fill_total": seed_limits(max_total_exposure_usd=D(12_000), max_position_usd=D(9_000),
                                          order_notional_usd=D(9_000)),
}

_price = st.tuples(st.just("price"), st.integers(0, 5), st.integers(0, 3000))
_signal = st.tuples(st.just("signal"), st.integers(0, 5), st.sampled_from((-1, 0, 0, 1, 1)))
_fill = st.tuples(st.just("fill"), st.integers(0, 50), st.sampled_from((D("0.25"), D("0.5"), D(1), D(1))))
_op = st.one_of(
    _price, _price, _signal, _signal, _signal, _fill, _fill, _fill,
    st.tuples(st.just("end"), st.integers(0, 50), st.sampled_from(("canceled", "rejected", "expired"))),
    st.tuples(st.just("advance"), st.sampled_from((1, 30, 200, 3_600)), st.just(0)),
    st.tuples(st.just("advance"), st.just(3_600), st.just(0)),  # a breaker cooldown
    st.tuples(st.just("trip"), st.just(0), st.just(0)),
    st.tuples(st.just("reset"), st.just(0), st.just(0)),
)


class Model:
    """The test's own book: filled quantity per symbol, open orders, last prices."""

    def __init__(self, limits: RiskSettings, broker: FakeBroker) -> None:
        self.limits = limits
        self.broker = broker
        self.held: dict[str, Decimal] = {}
        self.marks: dict[str, Decimal] = {}
        self.reduced = False

    def worst(self, symbol: str) -> Decimal:
        held = self.held.get(symbol, D(0))
        buys = sum((o.qty - self.broker.filled[c] for c, o in self.broker.open.items()
                    if o.symbol == symbol and o.side == "buy"), D(0))
        sells = sum((o.qty - self.broker.filled[c] for c, o in self.broker.open.items()
                     if o.symbol == symbol and o.side == "sell"), D(0))
        return max(abs(held + buys), abs(held - sells)) * self.marks.get(symbol, D(0))

    def active(self) -> set[str]:
        return {s for s, q in self.held.items() if q} | {o.symbol for o in self.broker.open.values()}

    def bounds(self) -> tuple[Decimal, Decimal, Decimal]:
        lim, f = self.limits, (self.limits.reduced_size_factor if self.reduced else D(1))
        return lim.max_order_notional_usd * f, lim.max_position_usd * f, lim.max_total_exposure_usd * f


def _trading_date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // NS, NY).date().isoformat()


def _start_in(regime: str, core: RiskCore, broker: FakeBroker, model: Model, clock: FakeClock) -> None:
    """Mark every symbol; for 'reducing' and 'reduced', hold three positions and work the breaker."""
    for symbol in SYMBOLS:
        core.on_price(symbol, real_closes(symbol)[500], clock())
        model.marks[symbol] = D(repr(real_closes(symbol)[500]))
    if regime == "closed":
        return
    for symbol in SYMBOLS[:3]:
        decision = core.check(make_signal(symbol, 1 if symbol != "IBM" else -1, float(model.marks[symbol]), clock()))
        assert isinstance(decision, Approved)
        broker.accept(decision.intent)
        broker.fill(decision.intent.client_order_id, decision.intent.qty, model.marks[symbol])
        model.held[symbol] = decision.intent.qty if decision.intent.side == "buy" else -decision.intent.qty
    core.trip("ops", "property test start")
    if regime == "reducing":
        core.tick(clock.advance(3_600))
        for symbol in SYMBOLS:
            core.on_price(symbol, float(model.marks[symbol]), clock())
        assert core.breaker.state == "reducing"
    else:
        core.reset("ops", "property test start")
        model.reduced = True


@pytest.mark.parametrize("regime", ["closed", "reducing", "reduced"])
@pytest.mark.parametrize("limits_name", sorted(LIMIT_SETS))
@settings(max_examples=150, deadline=None)
@given(ops=st.lists(_op, min_size=5, max_size=80))
def test_check_when_random_stream_then_no_approval_takes_a_limit_past_its_bound(
    limits_name: str, regime: str, ops: list
) -> None:
    limits = LIMIT_SETS[limits_name]
    clock = FakeClock()
    core = RiskCore(limits, clock)
    broker = FakeBroker(core, clock)
    model = Model(limits, broker)
    date = _trading_date(clock())
    _start_in(regime, core, broker, model, clock)
    for kind, a, b in ops:
        if kind == "price":
            symbol = SYMBOLS[a]
            closes = real_closes(symbol)
            price = closes[b % len(closes)]
            core.on_price(symbol, price, clock())
            model.marks[symbol] = D(repr(price))
        elif kind == "signal":
            symbol = SYMBOLS[a]
            state, reduced = core.breaker.state, model.reduced
            before = (model.worst(symbol), sum(map(model.worst, model.active()), D(0)), len(model.active()))
            decision = core.check(make_signal(symbol, b, float(model.marks[symbol]), clock()))
            if not isinstance(decision, Approved):
                event(f"rejected {decision.rule}")
                continue
            event(f"approved in {state}{' reduced' if reduced else ''}")
            intent = decision.intent
            held = model.held.get(symbol, D(0))
            assert state != "open"
            if state == "reducing":
                assert intent.reduce_only and abs(held + (intent.qty if intent.side == "buy" else -intent.qty)) < abs(held)
            broker.accept(intent)
            cap, per_symbol, total = model.bounds()
            assert intent.qty * model.marks[symbol] <= cap
            assert intent.qty == intent.qty.to_integral_value() or intent.reduce_only
            after = (model.worst(symbol), sum(map(model.worst, model.active()), D(0)), len(model.active()))
            assert after[0] <= max(per_symbol, before[0])
            assert after[1] <= max(total, before[1])
            assert after[2] <= max(limits.max_open_positions, before[2])
        elif kind in ("fill", "end") and broker.open:
            coid = sorted(broker.open)[a % len(broker.open)]
            intent = broker.open[coid]
            if kind == "end":
                broker.end(coid, b)
                continue
            left = intent.qty - broker.filled[coid]
            qty = max(D(1), (left * b).to_integral_value()) if left >= 1 else left
            price = model.marks[intent.symbol]
            broker.fill(coid, qty, price, qty * D("0.005"))
            signed = qty if intent.side == "buy" else -qty
            model.held[intent.symbol] = model.held.get(intent.symbol, D(0)) + signed
        elif kind == "advance":
            core.tick(clock.advance(a))
            if _trading_date(clock()) != date:
                date, model.reduced = _trading_date(clock()), False
            for symbol in list(model.marks):  # keep the marks fresh, as the feed would
                core.on_price(symbol, float(model.marks[symbol]), clock())
        elif kind == "trip":
            core.trip("ops", "property test")
        elif kind == "reset":
            try:
                core.reset("ops", "property test")
                model.reduced = True
            except InvalidTransition:
                assert core.breaker.state == "closed"
        core.portfolio.check_invariants()
        assert all(core.portfolio.position(s) == q for s, q in model.held.items())
