"""Money correctness through the risk core, in the replay's event order: one test per defect found.

Every signal reaches its target (in slices when the fat-finger cap cuts an order), the P&L belongs
to the trading day of the event that moved it, and no pending quantity is left behind.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from risk_fakes import NS, FakeBroker, FakeClock, make_signal, real_closes

from actors.execution.core import ExecutionCore
from actors.execution.sim_broker import SimBroker
from actors.risk.core import Approved, Rejected, RiskCore
from actors.risk.liquidation import liquidation_intents
from cluster.foundation.domain.settings import RiskSettings, load_settings
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.storage.repository import InMemoryRepository

D = Decimal


def _ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) * NS


FRIDAY_CLOSE = _ns("2013-10-04T15:59:00-04:00")
MONDAY_OPEN = _ns("2013-10-07T09:30:00-04:00")
BIG: dict[str, Any] = {  # one position of 1,000 shares at 100 USD fits every limit
    "order_notional_usd": D(100_000), "max_order_notional_usd": D(100_000), "max_position_usd": D(200_000),
    "max_total_exposure_usd": D(200_000), "initial_cash": D(1_000_000),
}


def _core(now_ns: int | None = None, **overrides: Any) -> tuple[RiskCore, FakeBroker, FakeClock]:
    clock = FakeClock() if now_ns is None else FakeClock(now_ns)
    core = RiskCore(RiskSettings(**overrides), clock)
    return core, FakeBroker(core, clock), clock


def _signal(core: RiskCore, clock: FakeClock, symbol: str, target: int, price: float) -> Approved | Rejected:
    clock.advance(60)
    core.on_price(symbol, price, clock())
    return core.check(make_signal(symbol, target, price, clock()))


def _approved(decision: Approved | Rejected) -> OrderIntent:
    assert isinstance(decision, Approved), decision
    return decision.intent


def _fill_all(broker: FakeBroker, intent: OrderIntent, price: float) -> None:
    broker.accept(intent)
    broker.fill(intent.client_order_id, intent.qty, D(repr(price)))


def _hold_100_at_50_then_mark_150(**overrides: Any) -> tuple[RiskCore, FakeBroker, FakeClock]:
    core, broker, clock = _core(**overrides)
    _fill_all(broker, _approved(_signal(core, clock, "IBM", 1, 50.0)), 50.0)
    assert core.portfolio.position("IBM") == 100
    return core, broker, clock


# ---- 1: one decision, one order ----------------------------------------------------------------


def test_close_when_same_signal_processed_twice_then_one_order_and_no_stuck_pending() -> None:
    core, broker, clock = _hold_100_at_50_then_mark_150()
    clock.advance(60)
    core.on_price("IBM", 150.0, clock())
    exit_signal = make_signal("IBM", 0, 150.0, clock())
    first = _approved(core.check(exit_signal))
    assert first.qty == 66  # the fat-finger cap (10,000 USD) cuts the close
    again = core.check(exit_signal)
    assert isinstance(again, Rejected) and again.rule == "order_pending"
    broker.accept(first)
    broker.fill(first.client_order_id, first.qty, D(150))
    rest = core.follow_up(batch=2)
    assert [(i.side, i.qty) for i in rest] == [("sell", 34)]
    assert rest[0].client_order_id != first.client_order_id
    _fill_all(broker, rest[0], 150.0)
    assert core.portfolio.position("IBM") == 0
    assert (core.pending_sell("IBM"), core.snapshot()["pending_orders"]) == (0, 0)
    assert core.follow_up(batch=3) == []


def test_close_when_restored_mid_slices_then_target_read_from_the_open_order_and_finished() -> None:
    core, broker, clock = _hold_100_at_50_then_mark_150()
    first = _approved(_signal(core, clock, "IBM", 0, 150.0))
    broker.accept(first)
    restored = RiskCore(RiskSettings(), clock)
    restored.restore(core.portfolio.positions(), core.portfolio.daily_pnl_row(), core.breaker.to_record(), [first])
    broker.core = restored
    broker.fill(first.client_order_id, first.qty, D(150))
    rest = restored.follow_up(batch=3)
    assert [(i.side, i.qty) for i in rest] == [("sell", 34)]
    assert rest[0].client_order_id != first.client_order_id


def test_kill_when_strategy_close_at_same_instant_then_ids_differ() -> None:
    core, broker, clock = _hold_100_at_50_then_mark_150()
    clock.advance(60)
    core.on_price("IBM", 150.0, clock())
    strategy_close = _approved(core.check(make_signal("IBM", 0, 150.0, clock())))
    broker.accept(strategy_close)
    kill = liquidation_intents(core, "ops")
    assert [(i.side, i.qty) for i in kill] == [("sell", 34)]  # net of the close already pending
    assert kill[0].client_order_id != strategy_close.client_order_id


def test_kill_when_first_flatten_order_was_rejected_then_second_kill_sends_a_new_id() -> None:
    core, broker, clock = _hold_100_at_50_then_mark_150()
    first = liquidation_intents(core, "ops")
    broker.accept(first[0])
    broker.end(first[0].client_order_id, "rejected")
    second = liquidation_intents(core, "ops")  # the same clock instant
    assert [(i.side, i.qty) for i in second] == [("sell", 100)]
    assert second[0].client_order_id != first[0].client_order_id


def test_kill_when_flatten_order_canceled_and_strategy_signals_before_reset_then_flatten_sent_again() -> None:
    core, broker, clock = _hold_100_at_50_then_mark_150()
    core.trip("ops", "kill switch")
    first = liquidation_intents(core, "ops")
    broker.accept(first[0])
    broker.end(first[0].client_order_id, "canceled")
    core.tick(clock.advance(61 * 60))
    assert core.breaker.state == "reducing"
    refused = _signal(core, clock, "IBM", 1, 150.0)  # the strategy still wants long
    assert isinstance(refused, Rejected)
    again = core.follow_up(batch=9)
    assert [(i.side, i.qty, i.reduce_only) for i in again] == [("sell", 100, True)]
    assert again[0].client_order_id != first[0].client_order_id


# ---- 2: the trading day follows every event ----------------------------------------------------


def test_daily_loss_when_monday_opens_lower_then_only_monday_loss_counts() -> None:
    core, broker, clock = _core(FRIDAY_CLOSE - 120 * NS, **BIG)
    core.on_price("SPY", 100.0, clock())
    _fill_all(broker, _approved(core.check(make_signal("SPY", 1, 100.0, clock()))), 100.0)
    core.on_price("SPY", 95.1, FRIDAY_CLOSE)
    assert core.portfolio.day_total_pnl() == D(-4900)
    clock.now_ns = MONDAY_OPEN
    core.on_price("SPY", 95.0, MONDAY_OPEN)  # no tick between the days
    assert core.portfolio.trading_date == "2013-10-07"
    assert core.portfolio.day_total_pnl() == D(-100)
    assert core.breaker.state == "closed"


def test_daily_loss_when_monday_gaps_down_then_gap_counts_on_monday_and_trips() -> None:
    core, broker, clock = _core(FRIDAY_CLOSE - 120 * NS, **BIG)
    core.on_price("SPY", 100.0, clock())
    _fill_all(broker, _approved(core.check(make_signal("SPY", 1, 100.0, clock()))), 100.0)
    core.on_price("SPY", 100.0, FRIDAY_CLOSE)
    clock.now_ns = MONDAY_OPEN
    core.on_price("SPY", 97.0, MONDAY_OPEN)
    core.tick(MONDAY_OPEN)  # the end of Monday's first batch
    core.on_price("SPY", 94.5, MONDAY_OPEN + 60 * NS)
    assert core.portfolio.day_total_pnl() == D(-5500)
    assert core.breaker.state == "open"


# ---- 3: marks are not fill prices --------------------------------------------------------------


def test_pnl_when_fill_at_older_price_arrives_after_newer_mark_then_valued_at_mark() -> None:
    core, broker, clock = _core(**BIG)
    core.on_price("SPY", 100.0, clock())
    entry = _approved(core.check(make_signal("SPY", 1, 100.0, clock())))
    core.on_price("SPY", 95.0, clock.advance(60))  # the batch's close is marked first ...
    _fill_all(broker, entry, 100.2)  # ... its fill at the older open arrives afterwards
    assert core.portfolio.last_price("SPY") == D("95.0")
    assert core.portfolio.day_total_pnl() == 1000 * (D("95.0") - D("100.2"))


# ---- 4 and 5: the target persists until it is reached ------------------------------------------


def test_exit_when_entry_still_pending_then_position_closed_after_entry_fills() -> None:
    core, broker, clock = _core()
    entry = _approved(_signal(core, clock, "IBM", 1, 50.0))
    broker.accept(entry)
    exit_decision = _signal(core, clock, "IBM", 0, 50.0)
    assert isinstance(exit_decision, Rejected) and exit_decision.rule == "order_pending"
    broker.fill(entry.client_order_id, entry.qty, D(50))
    exits = core.follow_up(batch=3)
    assert [(i.side, i.qty, i.reduce_only) for i in exits] == [("sell", 100, True)]


def test_close_when_cut_by_reduced_cap_after_reset_then_finished_in_a_second_slice() -> None:
    core, broker, clock = _core()
    _fill_all(broker, _approved(_signal(core, clock, "IBM", 1, 50.0)), 50.0)
    core.trip("ops", "manual check")
    core.reset("ops", "checked")
    first = _approved(_signal(core, clock, "IBM", 0, 51.0))  # up 2%: 5,100 USD > the reduced cap 5,000
    assert first.qty == 98
    _fill_all(broker, first, 51.0)
    second = core.follow_up(batch=3)
    assert [(i.side, i.qty) for i in second] == [("sell", 2)]
    _fill_all(broker, second[0], 51.0)
    assert core.portfolio.position("IBM") == 0


# ---- 6: replacements ---------------------------------------------------------------------------


def _update(coid: str, status: str, qty: int, filled: int, last: int = 0, price: str | None = None) -> OrderUpdate:
    return OrderUpdate(
        client_order_id=coid, broker_order_id=f"b-{coid}", symbol="IBM", side="buy", status=status,  # type: ignore[arg-type]
        qty=D(qty), filled_qty=D(filled), ts_ns=FakeClock()() + 10 * NS, last_fill_qty=D(last),
        last_fill_price=None if price is None else D(price),
    )


def test_replaced_order_when_replacement_works_then_pending_kept_and_its_fills_booked() -> None:
    core, _, clock = _core()
    entry = _approved(_signal(core, clock, "IBM", 1, 50.0))
    core.on_order_update(_update(entry.client_order_id, "new", 100, 0))
    core.on_order_update(_update(entry.client_order_id, "replaced", 100, 0))
    assert core.pending_buy("IBM") == 100  # the replacement still works
    core.on_order_update(_update("alpaca-repl-1", "new", 100, 0))
    assert core.pending_buy("IBM") == 100
    core.on_order_update(_update("alpaca-repl-1", "filled", 100, 100, 100, "50"))
    assert core.portfolio.position("IBM") == 100
    assert (core.pending_buy("IBM"), core.pending_orders()) == (0, 0)


# ---- 7: fills by cumulative quantity -----------------------------------------------------------


def _through_execution(core: RiskCore, intent: OrderIntent, reports: list[OrderUpdate]) -> ExecutionCore:
    """The broker's reports through the execution core, and what it passes on into the risk core."""
    execution = ExecutionCore(SimBroker(), InMemoryRepository(), lambda: intent.ts_ns)
    for update in execution.submit([intent]):
        core.on_order_update(update)
    for report in reports:
        for update in execution.on_broker_updates([report]):
            core.on_order_update(update)
    return execution


def test_fills_when_out_of_order_and_repeated_under_other_ids_then_each_share_booked_once() -> None:
    core, _, clock = _core()
    entry = _approved(_signal(core, clock, "IBM", 1, 50.0))
    coid = entry.client_order_id
    late = msgspec.structs.replace(_update(coid, "filled", 100, 100, 60, "50.2"), fill_id="exec-2",
                                   filled_avg_price=D("50.16"))
    early = msgspec.structs.replace(_update(coid, "partially_filled", 100, 40, 40, "50.1"), fill_id="exec-1",
                                    filled_avg_price=D("50.1"), commission=D("0.2"))
    execution = _through_execution(core, entry, [late])
    assert core.portfolio.position("IBM") == 100 and core.pending_orders() == 0  # the cumulative says 100
    for report in (early, msgspec.structs.replace(early, fill_id="")):  # late, then found again by a reconcile
        for update in execution.on_broker_updates([report]):
            core.on_order_update(update)
    assert core.portfolio.position("IBM") == 100
    assert core.portfolio.cash == D(100_000) - 40 * D("50.1") - 60 * D("50.2") - D("0.2")
    assert [e.metadata["qty"] for e in execution.take_errors() if e.event_type == "fill_inferred"] == ["40"]


def test_fills_when_an_earlier_report_never_comes_then_the_cumulative_quantity_is_booked() -> None:
    core, _, clock = _core()
    entry = _approved(_signal(core, clock, "IBM", 1, 50.0))
    final = msgspec.structs.replace(_update(entry.client_order_id, "filled", 100, 100, 60, "50.2"),
                                    filled_avg_price=D("50.16"))
    _through_execution(core, entry, [final])
    assert core.portfolio.position("IBM") == 100
    assert core.portfolio.cash == D(100_000) - 40 * D("50.1") - 60 * D("50.2")


# ---- 8 and 9: prices and quantities at the boundary --------------------------------------------


def test_prices_when_zero_or_not_finite_then_refused_with_a_reason_and_never_raise() -> None:
    core, _, clock = _core()
    core.on_price("IBM", 50.0, clock())
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        core.on_price("IBM", bad, clock.advance(1))
        decision = core.check(make_signal("IBM", 1, bad, clock()))
        assert isinstance(decision, Rejected) and decision.rule == "bad_price", decision
    assert core.last_mark("IBM") == D("50.0")
    events = core.drain_events()
    assert sum(e.event_type == "bad_price" for e in events) == 4
    assert _approved(core.check(make_signal("IBM", 1, 50.0, clock()))).qty == 100


def test_quantities_when_a_round_hundred_then_plain_on_the_wire() -> None:
    core, _, clock = _core()
    intent = _approved(_signal(core, clock, "IBM", 1, 50.0))
    assert str(intent.qty) == "100"
    assert b',"100",' in msgspec.json.encode(intent) and b"E+" not in msgspec.json.encode(intent)


def test_quantities_when_sized_from_every_shipped_close_then_never_scientific() -> None:
    core, broker, clock = _core(max_orders_per_minute=10**9)
    sizes = []
    for symbol in ("SPY", "IBM", "BAC", "AIG"):
        for price in real_closes(symbol):
            intent = _approved(_signal(core, clock, symbol, 1, price))
            sizes.append(str(intent.qty))
            broker.accept(intent)
            broker.end(intent.client_order_id)  # canceled: the next close sizes a new entry
    assert len(sizes) > 10_000
    assert [q for q in sizes if "E" in q or "e" in q] == []


# ---- 10: specification and docs ----------------------------------------------------------------


def test_shipped_limits_when_loaded_then_200_orders_per_minute() -> None:
    assert load_settings().risk.max_orders_per_minute == 200


def test_reset_after_loss_trip_when_next_marks_then_closed_until_half_the_limit_more_is_lost() -> None:
    core, broker, clock = _core(**BIG)
    core.on_price("SPY", 100.0, clock())
    _fill_all(broker, _approved(core.check(make_signal("SPY", 1, 100.0, clock()))), 100.0)
    core.on_price("SPY", 95.0, clock.advance(60))
    assert core.breaker.state == "open"
    core.reset("ops", "checked")
    core.on_price("SPY", 94.99, clock.advance(60))  # the next mark of the held symbol
    assert (core.breaker.state, core.breaker.reduced_size) == ("closed", True)
    core.on_price("SPY", 92.6, clock.advance(60))  # 2,400 more: inside half the daily limit
    assert core.breaker.state == "closed"
    core.on_price("SPY", 92.4, clock.advance(60))  # 2,600 more
    assert core.breaker.state == "open"


def test_reducing_after_loss_trip_when_new_trading_day_then_closed_at_full_size() -> None:
    core, broker, clock = _core(FRIDAY_CLOSE - 120 * NS, **BIG)
    core.on_price("SPY", 100.0, clock())
    _fill_all(broker, _approved(core.check(make_signal("SPY", 1, 100.0, clock()))), 100.0)
    core.on_price("SPY", 95.0, FRIDAY_CLOSE)
    core.tick(FRIDAY_CLOSE + 61 * 60 * NS)
    assert core.breaker.state == "reducing"
    clock.now_ns = MONDAY_OPEN
    core.on_price("SPY", 95.0, MONDAY_OPEN)
    assert (core.breaker.state, core.breaker.reduced_size) == ("closed", False)


def test_reducing_after_operator_trip_when_new_trading_day_then_stays_until_reset() -> None:
    core, _, clock = _core(FRIDAY_CLOSE - 120 * NS)
    core.trip("ops", "kill switch")
    core.tick(FRIDAY_CLOSE + 61 * 60 * NS)
    assert core.breaker.state == "reducing"
    clock.now_ns = MONDAY_OPEN
    core.on_price("SPY", 95.0, MONDAY_OPEN)
    assert core.breaker.state == "reducing"


# ---- 9: books taken from the broker after a lost core node -------------------------------------


def test_adoption_when_an_order_is_still_working_then_deferred_and_the_books_end_equal_to_the_broker() -> None:
    from actors.risk.recovery import adopt_broker_positions

    # Arrange: a rebuilt risk core sent an order; the broker has filled it, its report is still on the way
    core, broker, clock = _core(**BIG)
    entry = _approved(_signal(core, clock, "IBM", 1, 50.0))
    broker.accept(entry)
    at_broker = {"IBM": entry.qty}
    repo = InMemoryRepository()
    # Act: the books are compared with the broker while the order works, then its fill is booked
    first = adopt_broker_positions(core, repo, at_broker, clock())
    broker.fill(entry.client_order_id, entry.qty, D("50.0"))
    second = adopt_broker_positions(core, repo, at_broker, clock())
    # Assert: nothing was taken while a fill of ours could be in flight; the fill was booked once
    assert first is None
    assert second == {}
    assert core.portfolio.position("IBM") == entry.qty == at_broker["IBM"]


def test_adoption_when_the_books_lost_a_position_then_its_entry_is_the_brokers_average_not_zero() -> None:
    from actors.risk.recovery import adopt_broker_positions

    # Arrange: a rebuilt risk core that never saw the fill; the broker holds IBM 100 bought at 50.00 on average
    core, broker, clock = _core(**BIG)
    clock.advance(60)
    core.on_price("IBM", 50.5, clock())
    # Act: the books take the broker's position, then it is closed at 51.00
    adopt_broker_positions(core, InMemoryRepository(), {"IBM": D(100)}, clock(), entry_prices={"IBM": D("50.00")})
    _fill_all(broker, _approved(_signal(core, clock, "IBM", 0, 51.0)), 51.0)
    # Assert: 100 shares bought at 50 and sold at 51 made 100 USD, not the 5,100 USD of the whole sale
    assert core.portfolio.position("IBM") == 0
    assert core.portfolio.day_realized_pnl() == D(100)


def test_adoption_when_the_broker_gives_no_average_price_then_the_entry_is_the_last_mark_and_the_event_says_so() -> None:
    from actors.risk.recovery import adopt_broker_positions

    core, broker, clock = _core(**BIG)
    clock.advance(60)
    core.on_price("IBM", 50.5, clock())
    repo = InMemoryRepository()
    adopt_broker_positions(core, repo, {"IBM": D(100)}, clock())
    _fill_all(broker, _approved(_signal(core, clock, "IBM", 0, 51.0)), 51.0)
    assert core.portfolio.day_realized_pnl() == D(50)  # from the last mark (50.50) on, not from 0
    event = repo.risk_events[-1]
    assert event.event_type == "positions_adopted_from_broker"
    assert event.metadata["IBM"] == {"books": "0", "broker": "100", "entry_price": "50.5", "entry_from": "last_mark"}


def test_adoption_when_the_books_hold_less_than_the_broker_then_the_cost_is_the_brokers_average_for_all_of_it() -> None:
    from actors.risk.recovery import adopt_broker_positions

    # Arrange: the books hold IBM bought at 50; a lost fill bought as many again at 52 (broker average 51)
    core, broker, clock = _core(**BIG)
    _fill_all(broker, _approved(_signal(core, clock, "IBM", 1, 50.0)), 50.0)
    held = core.portfolio.position("IBM")
    core.on_price("IBM", 53.0, clock())
    # Act
    adopt_broker_positions(core, InMemoryRepository(), {"IBM": 2 * held}, clock(), entry_prices={"IBM": D(51)})
    _fill_all(broker, _approved(_signal(core, clock, "IBM", 0, 54.0)), 54.0)
    # Assert: every share sold at 54 made 3 against the broker's average cost of 51
    sold = 2 * held - core.portfolio.position("IBM")
    assert sold > 0
    assert core.portfolio.day_realized_pnl() == sold * 3
