"""RiskCore on real prices: sizing inside the seed limits, pending exposure, closes, breaker, restore."""

from __future__ import annotations

from decimal import Decimal

from risk_fakes import FakeBroker, FakeClock, make_signal, open_position, real_closes, seed_limits

from actors.risk.core import Approved, Rejected, RiskCore
from cluster.foundation.domain.ids import client_order_id
from cluster.foundation.domain.wire import OrderUpdate

D = Decimal
FIVE = ("SPY", "IBM", "BAC", "AIG", "AAPL")


def _core(**overrides: object) -> tuple[RiskCore, FakeBroker, FakeClock]:
    clock = FakeClock()
    core = RiskCore(seed_limits(**overrides), clock)
    return core, FakeBroker(core, clock), clock


def _signal(core: RiskCore, clock: FakeClock, symbol: str, target: int, price: float) -> Approved | Rejected:
    clock.advance(1)
    core.on_price(symbol, price, clock())
    return core.check(make_signal(symbol, target, price, clock()))


def _px(symbol: str, i: int = 500) -> float:
    return real_closes(symbol)[i]


def test_check_when_entry_aims_at_5k_then_whole_shares_at_most_5k() -> None:
    core, _, clock = _core()
    decision = _signal(core, clock, "IBM", 1, _px("IBM"))
    assert isinstance(decision, Approved)
    intent, price = decision.intent, D(repr(_px("IBM")))
    assert intent.qty * price <= 5_000 < (intent.qty + 1) * price
    assert (intent.side, intent.order_type, intent.time_in_force) == ("buy", "market", "day")
    assert intent.client_order_id == client_order_id("tc", "IBM", clock(), 1)


def test_check_when_symbol_exposure_exceeds_10k_then_rejects() -> None:
    # Arrange: the sizer aims at 20k; 10k per symbol binds and is cut to whole shares
    core, _, clock = _core(order_notional_usd=D(20_000), max_order_notional_usd=D(20_000))
    price = D(repr(_px("SPY")))
    # Act
    cut = _signal(core, clock, "SPY", 1, _px("SPY"))
    # Assert
    assert isinstance(cut, Approved)
    assert cut.intent.qty * price <= 10_000 < (cut.intent.qty + 1) * price
    tight, _, tight_clock = _core(max_position_usd=D(600))  # one AAPL share costs more than 600
    rejected = _signal(tight, tight_clock, "AAPL", 1, _px("AAPL"))
    assert isinstance(rejected, Rejected) and rejected.rule == "max_position"


def test_check_when_total_exposure_would_exceed_50k_then_cuts_then_rejects() -> None:
    # Arrange: four entries of about 12k each
    big = D(12_000)
    core, broker, clock = _core(order_notional_usd=big, max_order_notional_usd=big, max_position_usd=big)
    for symbol in FIVE[:4]:
        open_position(core, broker, clock, symbol, _px(symbol))
    held = sum(abs(core.portfolio.position(s)) * D(repr(_px(s))) for s in FIVE[:4])
    aapl = D(repr(_px("AAPL")))
    # Act
    cut = _signal(core, clock, "AAPL", 1, _px("AAPL"))
    # Assert
    assert isinstance(cut, Approved)
    assert held + cut.intent.qty * aapl <= 50_000 < held + (cut.intent.qty + 1) * aapl
    broker.accept(cut.intent)
    broker.end(cut.intent.client_order_id)
    spy_2023 = real_closes("SPY")[-1]  # SPY in 2023 is far above its 2013 entry: exposure > 50k
    core.on_price("SPY", spy_2023, clock())
    rejected = _signal(core, clock, "AAPL", 1, _px("AAPL"))
    assert isinstance(rejected, Rejected) and rejected.rule == "max_total_exposure"


def test_check_when_five_positions_open_then_sixth_symbol_rejects() -> None:
    core, broker, clock = _core()
    for symbol in FIVE:
        open_position(core, broker, clock, symbol, _px(symbol))
    decision = _signal(core, clock, "QQQ", 1, _px("QQQ"))
    assert isinstance(decision, Rejected) and decision.rule == "max_open_positions"


def test_check_when_two_quick_signals_then_pending_counts_toward_limits() -> None:
    # Arrange: one position allowed; the first entry is approved but not yet filled
    core, broker, clock = _core(max_open_positions=1)
    first = _signal(core, clock, "SPY", 1, _px("SPY"))
    assert isinstance(first, Approved)
    broker.accept(first.intent)
    # Act
    second = _signal(core, clock, "IBM", 1, _px("IBM"))
    broker.end(first.intent.client_order_id, "canceled")
    third = _signal(core, clock, "IBM", 1, _px("IBM"))
    # Assert
    assert isinstance(second, Rejected) and second.rule == "max_open_positions"
    assert isinstance(third, Approved)


def test_check_when_signal_price_outside_5pct_band_then_rejects() -> None:
    core, _, clock = _core()
    last = _px("BAC")
    core.on_price("BAC", last, clock())
    decision = core.check(make_signal("BAC", 1, last * 1.06, clock()))
    assert isinstance(decision, Rejected) and decision.rule == "price_band"


def test_check_when_no_price_for_300s_then_rejects_stale_data() -> None:
    core, _, clock = _core()
    core.on_price("AIG", _px("AIG"), clock())
    clock.advance(301)
    decision = core.check(make_signal("AIG", 1, _px("AIG"), clock()))
    assert isinstance(decision, Rejected) and decision.rule == "stale_data"


def test_check_when_order_rate_reached_then_rejects_until_a_minute_passes() -> None:
    core, _, clock = _core(max_orders_per_minute=2)
    assert isinstance(_signal(core, clock, "SPY", 1, _px("SPY")), Approved)
    assert isinstance(_signal(core, clock, "IBM", 1, _px("IBM")), Approved)
    third = _signal(core, clock, "BAC", 1, _px("BAC"))
    assert isinstance(third, Rejected) and third.rule == "order_rate"
    clock.advance(60)
    assert isinstance(_signal(core, clock, "BAC", 1, _px("BAC")), Approved)


def test_check_when_long_and_target_short_then_one_order_to_flat_and_next_signal_opens() -> None:
    # Arrange
    core, broker, clock = _core()
    open_position(core, broker, clock, "IBM", _px("IBM"))
    held = core.portfolio.position("IBM")
    # Act
    close = _signal(core, clock, "IBM", -1, _px("IBM", 501))
    assert isinstance(close, Approved)
    broker.accept(close.intent)
    broker.fill(close.intent.client_order_id, close.intent.qty, D(repr(_px("IBM", 501))))
    reopen = _signal(core, clock, "IBM", -1, _px("IBM", 502))
    # Assert
    assert (close.intent.side, close.intent.qty, close.intent.reduce_only) == ("sell", held, True)
    assert isinstance(reopen, Approved) and reopen.intent.side == "sell" and not reopen.intent.reduce_only


def test_on_order_update_when_daily_loss_reaches_exactly_5k_then_trips_and_rejects_everything() -> None:
    # Arrange: 10,000 BAC bought at a real 14.17; real BAC closes include 13.68 and 13.67
    core, _, clock = _core()
    core.on_order_update(OrderUpdate(
        client_order_id="ext-1", broker_order_id="b1", symbol="BAC", side="buy", status="filled",
        qty=D(10_000), filled_qty=D(10_000), ts_ns=clock(), last_fill_qty=D(10_000), last_fill_price=D("14.17"),
    ))
    assert {"14.17", "13.68", "13.67"} <= {repr(p) for p in real_closes("BAC")}
    # Act / Assert: a cent short of the limit does not trip, the limit itself does
    core.on_price("BAC", 13.68, clock.advance(1))
    assert core.breaker.state == "closed"
    core.on_price("BAC", 13.67, clock.advance(1))
    assert core.breaker.state == "open"
    assert core.portfolio.day_total_pnl() == D(-5_000)
    for symbol, target in (("BAC", 0), ("SPY", 1), ("IBM", -1)):
        decision = _signal(core, clock, symbol, target, 13.67 if symbol == "BAC" else _px(symbol))
        assert isinstance(decision, Rejected) and decision.rule == "breaker_open"
    tripped = [e for e in core.drain_events() if e.event_type == "breaker_tripped"]
    assert len(tripped) == 1 and tripped[0].severity == "critical"


def test_on_order_update_when_five_consecutive_rejections_then_trips() -> None:
    core, broker, clock = _core()
    for i, symbol in enumerate(FIVE):
        decision = _signal(core, clock, symbol, 1, _px(symbol))
        assert isinstance(decision, Approved), i
        broker.accept(decision.intent)
        assert core.breaker.state == "closed"
        broker.end(decision.intent.client_order_id, "rejected")
    assert core.breaker.state == "open"


def test_breaker_when_cooldown_then_reducing_allows_closes_and_reset_halves_entries() -> None:
    # Arrange
    core, broker, clock = _core()
    open_position(core, broker, clock, "SPY", _px("SPY"))
    core.trip("ops", "manual halt")
    # Act / Assert: reducing after 60 minutes
    core.tick(clock.advance(60 * 60))
    assert core.breaker.state == "reducing"
    entry = _signal(core, clock, "IBM", 1, _px("IBM"))
    assert isinstance(entry, Rejected) and entry.rule == "breaker_reducing"
    close = _signal(core, clock, "SPY", 0, _px("SPY"))
    assert isinstance(close, Approved) and close.intent.reduce_only
    # reset: closed, entries at half size for the rest of the day
    core.reset("ops", "resume")
    half = _signal(core, clock, "IBM", 1, _px("IBM"))
    assert isinstance(half, Approved)
    assert half.intent.qty * D(repr(_px("IBM"))) <= 2_500
    core.tick(clock.advance(24 * 60 * 60))
    assert not core.breaker.reduced_size
    kinds = [e.event_type for e in core.drain_events()]
    assert kinds.count("breaker_tripped") == 1 and "breaker_reducing" in kinds and "breaker_reset" in kinds


def test_drain_events_when_rejected_then_event_names_rule_symbol_and_order_id() -> None:
    core, _, clock = _core()
    core.on_price("AIG", _px("AIG"), clock())
    clock.advance(400)
    core.check(make_signal("AIG", 1, _px("AIG"), clock()))
    (event,) = core.drain_events()
    assert event.event_type == "order_rejected"
    assert event.metadata["rule"] == "stale_data" and event.metadata["symbol"] == "AIG"
    assert event.metadata["client_order_id"] == client_order_id("tc", "AIG", clock(), 1)
    assert core.drain_events() == []


def test_restore_when_rebuilt_from_snapshot_rows_then_same_state_and_same_decisions() -> None:
    # Arrange: positions with a partial close, a pending order, a reset breaker
    core, broker, clock = _core()
    for symbol in FIVE[:3]:
        open_position(core, broker, clock, symbol, _px(symbol))
    close = _signal(core, clock, "BAC", 0, _px("BAC", 900))
    assert isinstance(close, Approved)
    broker.accept(close.intent)
    broker.fill(close.intent.client_order_id, close.intent.qty / 2, D(repr(_px("BAC", 900))), D("0.9"))
    core.on_price("SPY", _px("SPY", 700), clock())
    core.trip("ops", "halt")
    core.reset("ops", "resume")
    pending = [broker.open[c] for c in broker.open]
    # Act
    copy = RiskCore(seed_limits(), clock)
    copy.restore(core.portfolio.positions(), core.portfolio.daily_pnl_row(), core.breaker.to_record(), pending)
    # Assert
    keys = ("trading_date", "breaker", "positions", "cash", "equity", "exposure", "worst_case_exposure", "pnl")
    assert {k: copy.snapshot()[k] for k in keys} == {k: core.snapshot()[k] for k in keys}
    assert (copy.portfolio.cash, copy.portfolio.equity()) == (core.portfolio.cash, core.portfolio.equity())
    copy.portfolio.check_invariants()
    for symbol, target in (("AAPL", 1), ("BAC", 0), ("IBM", -1), ("SPY", 0)):
        clock.advance(1)
        signal = make_signal(symbol, target, _px(symbol), clock())
        decisions = []
        for restored_or_not in (core, copy):
            restored_or_not.on_price(symbol, _px(symbol), clock())
            decisions.append(restored_or_not.check(signal))
        assert decisions[0] == decisions[1]


def test_check_when_first_entry_still_pending_then_second_is_cut_to_total_exposure_left() -> None:
    # Arrange: 15k total allowed, entries aim at 10k; the first entry is approved but not filled
    core, broker, clock = _core(order_notional_usd=D(10_000), max_total_exposure_usd=D(15_000))
    first = _signal(core, clock, "SPY", 1, _px("SPY"))
    assert isinstance(first, Approved)
    broker.accept(first.intent)
    pending = first.intent.qty * D(repr(_px("SPY")))
    ibm = D(repr(_px("IBM")))
    # Act
    second = _signal(core, clock, "IBM", -1, _px("IBM"))
    # Assert
    assert isinstance(second, Approved)
    assert pending + second.intent.qty * ibm <= 15_000 < pending + (second.intent.qty + 1) * ibm
