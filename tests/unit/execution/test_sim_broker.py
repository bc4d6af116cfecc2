"""The simulated broker on real shipped SPY and IBM minute bars and quotes (2013-10-04/07)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal

from execution_data import iso_to_ns, make_intent

from actors.execution.sim_broker import SimBroker
from cluster.foundation.domain.wire import Bar, Quote

BarsFn = Callable[[str, str, str], list[Bar]]
QuotesFn = Callable[[str, str, str], list[Quote]]
TICK = Decimal("0.0001")


def _expected(price: str, bps: str, side: str) -> Decimal:
    move = Decimal(bps) / Decimal(10_000)
    factor = 1 + move if side == "buy" else 1 - move
    return (Decimal(price) * factor).quantize(TICK, rounding=ROUND_HALF_EVEN)


def test_market_buy_when_next_bar_arrives_then_fills_at_that_bars_open_plus_slippage(trade_bars: BarsFn) -> None:
    # Arrange: SPY 13:30..13:34 UTC; the 13:31 bar opens at 167.47 (from the CSV)
    broker = SimBroker(slippage_bps=Decimal(1), commission_per_share=Decimal("0.005"), commission_min=Decimal(1))
    bars = trade_bars("SPY", "2013-10-07T13:30:00Z", "2013-10-07T13:34:00Z")
    ack = broker.submit(make_intent("o1", "SPY", "buy", 100, ts_ns=iso_to_ns("2013-10-07T13:30:00Z")))
    # Act
    updates = broker.on_market(bars)
    # Assert
    assert [u.status for u in ack] == ["new"]
    assert len(updates) == 1
    fill = updates[0]
    assert fill.status == "filled"
    assert fill.ts_ns == iso_to_ns("2013-10-07T13:31:00Z")
    assert fill.last_fill_price == _expected("167.47", "1", "buy") == Decimal("167.4867")
    assert fill.last_fill_qty == fill.filled_qty == Decimal(100)
    assert fill.filled_avg_price == fill.last_fill_price
    assert fill.commission == Decimal(1)  # 100 x 0.005 = 0.50 is below the 1.00 minimum
    assert fill.fill_id
    assert broker.open_orders() == []


def test_market_sell_when_next_bar_arrives_then_slippage_lowers_the_price(trade_bars: BarsFn) -> None:
    broker = SimBroker(slippage_bps=Decimal(5))
    broker.submit(make_intent("s1", "SPY", "sell", 10, ts_ns=iso_to_ns("2013-10-07T13:31:00Z")))
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:34:00Z"))
    assert updates[0].last_fill_price == _expected("167.37", "5", "sell")
    assert updates[0].last_fill_price < Decimal("167.37")


def test_market_order_when_only_bars_at_or_before_its_ts_then_never_fills(trade_bars: BarsFn) -> None:
    # Arrange: the order is stamped 13:32; the replay delivers 13:28..13:32
    broker = SimBroker()
    broker.submit(make_intent("o1", "SPY", "buy", 100, ts_ns=iso_to_ns("2013-10-07T13:32:00Z")))
    # Act
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:28:00Z", "2013-10-07T13:32:00Z"))
    # Assert
    assert updates == []
    assert [u.status for u in broker.open_orders()] == ["new"]


def test_market_order_when_bars_of_another_symbol_arrive_then_does_not_fill(trade_bars: BarsFn) -> None:
    broker = SimBroker()
    broker.submit(make_intent("o1", "SPY", "buy", 100, ts_ns=iso_to_ns("2013-10-07T13:30:00Z")))
    assert broker.on_market(trade_bars("IBM", "2013-10-07T13:31:00Z", "2013-10-07T13:40:00Z")) == []


def test_market_buy_when_quoted_size_is_smaller_than_qty_then_fills_partially_until_done(quotes: QuotesFn) -> None:
    # Arrange: IBM end-of-minute asks 182.36 x100, 182.71 x100, 182.55 x200 (from the quote CSV)
    broker = SimBroker(commission_per_share=Decimal("0.005"), commission_min=Decimal(1))
    order_ts = iso_to_ns("2013-10-07T14:01:00Z")
    broker.submit(make_intent("q1", "IBM", "buy", 250, ts_ns=order_ts))
    # Act
    updates = broker.on_market(quotes("IBM", "2013-10-07T14:01:00Z", "2013-10-07T14:05:00Z"))
    # Assert
    assert [u.status for u in updates] == ["partially_filled", "partially_filled", "filled"]
    assert [u.last_fill_qty for u in updates] == [Decimal(100), Decimal(100), Decimal(50)]
    assert [u.last_fill_price for u in updates] == [Decimal("182.36"), Decimal("182.71"), Decimal("182.55")]
    assert [u.filled_qty for u in updates] == [Decimal(100), Decimal(200), Decimal(250)]
    assert all(u.ts_ns > order_ts for u in updates)
    notional = Decimal("182.36") * 100 + Decimal("182.71") * 100 + Decimal("182.55") * 50
    assert updates[-1].filled_avg_price == (notional / 250).quantize(TICK, rounding=ROUND_HALF_EVEN)
    assert sum(u.commission for u in updates) == Decimal("1.25")  # max(1.00, 250 x 0.005), once per order
    assert updates[0].commission == Decimal(1)
    assert len({u.fill_id for u in updates}) == 3


def test_market_sell_when_quote_arrives_then_fills_at_the_bid(quotes: QuotesFn) -> None:
    broker = SimBroker()
    broker.submit(make_intent("q1", "IBM", "sell", 100, ts_ns=iso_to_ns("2013-10-07T14:01:00Z")))
    updates = broker.on_market(quotes("IBM", "2013-10-07T14:01:00Z", "2013-10-07T14:05:00Z"))
    assert updates[0].status == "filled"
    assert updates[0].last_fill_price == Decimal("182.28")


def test_ioc_when_quote_covers_only_part_then_remainder_is_canceled_on_the_same_event(quotes: QuotesFn) -> None:
    broker = SimBroker()
    broker.submit(make_intent("i1", "IBM", "buy", 250, ts_ns=iso_to_ns("2013-10-07T14:01:00Z"), time_in_force="ioc"))
    updates = broker.on_market(quotes("IBM", "2013-10-07T14:01:00Z", "2013-10-07T14:05:00Z"))
    assert [(u.status, u.filled_qty) for u in updates] == [("partially_filled", Decimal(100)), ("canceled", Decimal(100))]
    assert updates[0].ts_ns == updates[1].ts_ns


def test_limit_buy_when_only_the_bar_low_crosses_then_fills_at_the_limit(trade_bars: BarsFn) -> None:
    # Arrange: 13:31 low 167.31 (no cross); 13:32 opens 167.37, low 167.25 (cross)
    broker = SimBroker(slippage_bps=Decimal(1))
    broker.submit(
        make_intent("l1", "SPY", "buy", 50, ts_ns=iso_to_ns("2013-10-07T13:30:00Z"), order_type="limit",
                    limit_price="167.30")
    )
    # Act
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:30:00Z", "2013-10-07T13:34:00Z"))
    # Assert
    assert [(u.status, u.ts_ns, u.last_fill_price) for u in updates] == [
        ("filled", iso_to_ns("2013-10-07T13:32:00Z"), Decimal("167.30"))
    ]


def test_limit_buy_when_next_open_is_already_below_limit_then_fills_at_open_with_slippage(
    trade_bars: BarsFn,
) -> None:
    broker = SimBroker(slippage_bps=Decimal(1))
    broker.submit(
        make_intent("l1", "SPY", "buy", 50, ts_ns=iso_to_ns("2013-10-07T13:30:00Z"), order_type="limit",
                    limit_price="167.50")
    )
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:30:00Z", "2013-10-07T13:34:00Z"))
    assert updates[0].last_fill_price == _expected("167.47", "1", "buy")
    assert updates[0].last_fill_price <= Decimal("167.50")


def test_limit_sell_when_price_never_reaches_limit_then_stays_open(trade_bars: BarsFn) -> None:
    broker = SimBroker()
    broker.submit(
        make_intent("l1", "SPY", "sell", 50, ts_ns=iso_to_ns("2013-10-07T13:30:00Z"), order_type="limit",
                    limit_price="167.60")
    )
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:30:00Z", "2013-10-07T13:34:00Z"))
    assert updates == []
    assert [u.client_order_id for u in broker.open_orders()] == ["l1"]


def test_limit_sell_when_bar_high_crosses_then_fills_at_the_limit(trade_bars: BarsFn) -> None:
    # 13:32 high 167.37, 13:33 high 167.43, 13:34 opens 167.42 and reaches 167.53
    broker = SimBroker()
    broker.submit(
        make_intent("l1", "SPY", "sell", 50, ts_ns=iso_to_ns("2013-10-07T13:31:00Z"), order_type="limit",
                    limit_price="167.45")
    )
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:34:00Z"))
    assert [(u.ts_ns, u.last_fill_price) for u in updates] == [(iso_to_ns("2013-10-07T13:34:00Z"), Decimal("167.45"))]


def test_stop_sell_when_bar_low_breaks_stop_then_fills_at_stop_minus_slippage(trade_bars: BarsFn) -> None:
    # 13:31 low 167.31 does not trigger a 167.30 stop; 13:32 low 167.25 does, after opening above it
    broker = SimBroker(slippage_bps=Decimal(1))
    broker.submit(
        make_intent("st1", "SPY", "sell", 20, ts_ns=iso_to_ns("2013-10-07T13:30:00Z"), order_type="stop",
                    stop_price="167.30")
    )
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:30:00Z", "2013-10-07T13:34:00Z"))
    assert [(u.ts_ns, u.last_fill_price) for u in updates] == [
        (iso_to_ns("2013-10-07T13:32:00Z"), _expected("167.30", "1", "sell"))
    ]


def test_stop_buy_when_bar_gaps_through_stop_then_fills_at_the_open(trade_bars: BarsFn) -> None:
    broker = SimBroker(slippage_bps=Decimal(1))
    broker.submit(
        make_intent("st1", "SPY", "buy", 20, ts_ns=iso_to_ns("2013-10-07T13:30:00Z"), order_type="stop",
                    stop_price="167.45")
    )
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:30:00Z", "2013-10-07T13:34:00Z"))
    assert updates[0].ts_ns == iso_to_ns("2013-10-07T13:31:00Z")
    assert updates[0].last_fill_price == _expected("167.47", "1", "buy")


def test_stop_limit_buy_when_triggered_inside_a_bar_then_fills_as_limit_from_the_next_bar(
    trade_bars: BarsFn,
) -> None:
    # 13:33 (open 167.29, high 167.43) triggers a 167.40 stop inside the bar; 13:34 opens 167.42 <= 167.45
    broker = SimBroker()
    broker.submit(
        make_intent("sl1", "SPY", "buy", 20, ts_ns=iso_to_ns("2013-10-07T13:32:00Z"), order_type="stop_limit",
                    stop_price="167.40", limit_price="167.45")
    )
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:32:00Z", "2013-10-07T13:34:00Z"))
    assert [(u.ts_ns, u.last_fill_price) for u in updates] == [(iso_to_ns("2013-10-07T13:34:00Z"), Decimal("167.42"))]


def test_day_order_when_next_new_york_day_starts_then_expires_unfilled(trade_bars: BarsFn) -> None:
    # Arrange: a limit far below the market, placed at 19:58 New York time on Friday 2013-10-04
    broker = SimBroker()
    placed = iso_to_ns("2013-10-04T23:58:00Z")
    broker.submit(make_intent("d1", "SPY", "buy", 10, placed, order_type="limit", time_in_force="day", limit_price="160"))
    broker.submit(make_intent("g1", "SPY", "buy", 10, placed, order_type="limit", time_in_force="gtc", limit_price="160"))
    # Act: 19:59 Friday is the same day; Monday's first bar is 04:00 New York time
    updates = broker.on_market(trade_bars("SPY", "2013-10-04T23:58:00Z", "2013-10-07T08:05:00Z"))
    # Assert
    assert [(u.client_order_id, u.status, u.ts_ns) for u in updates] == [
        ("d1", "expired", iso_to_ns("2013-10-07T08:00:00Z"))
    ]
    assert [u.client_order_id for u in broker.open_orders()] == ["g1"]


def test_submit_when_client_order_id_repeats_then_returns_existing_order_and_creates_no_second(
    trade_bars: BarsFn,
) -> None:
    broker = SimBroker()
    intent = make_intent("dup", "SPY", "buy", 100, ts_ns=iso_to_ns("2013-10-07T13:30:00Z"))
    first = broker.submit(intent)
    broker.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:31:00Z"))
    second = broker.submit(intent)
    more = broker.on_market(trade_bars("SPY", "2013-10-07T13:32:00Z", "2013-10-07T13:34:00Z"))
    assert second[0].broker_order_id == first[0].broker_order_id
    assert second[0].status == "filled"
    assert more == []


def test_cancel_when_order_open_then_canceled_once_and_never_fills(trade_bars: BarsFn) -> None:
    broker = SimBroker()
    broker.submit(make_intent("c1", "SPY", "buy", 100, ts_ns=iso_to_ns("2013-10-07T13:30:00Z")))
    canceled = broker.cancel("c1")
    again = broker.cancel("c1")
    fills = broker.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:34:00Z"))
    assert [u.status for u in canceled] == ["canceled"]
    assert again == [] and fills == [] and broker.cancel("never-sent") == []


def test_submit_when_limit_order_has_no_price_then_rejected_with_reason() -> None:
    broker = SimBroker()
    updates = broker.submit(make_intent("r1", "SPY", "buy", 10, ts_ns=1, order_type="limit"))
    assert updates[0].status == "rejected"
    assert "limit_price" in updates[0].reason
    assert broker.open_orders() == []


def test_replace_when_order_partly_filled_then_old_replaced_and_new_order_works_the_rest(trade_bars: BarsFn) -> None:
    broker = SimBroker()
    start = iso_to_ns("2013-10-07T13:30:00Z")
    broker.submit(make_intent("old", "SPY", "buy", 10, start))
    updates = broker.replace("old", "new-id")
    assert [(u.client_order_id, u.status, u.qty) for u in updates] == [("old", "replaced", 10), ("new-id", "new", 10)]
    fills = broker.on_market(trade_bars("SPY", "2013-10-07T13:31:00Z", "2013-10-07T13:31:00Z"))
    assert [(u.client_order_id, u.status) for u in fills] == [("new-id", "filled")]
    assert broker.replace("old", "again") == [] and broker.replace("new-id", "again") == []


def test_submit_when_client_order_id_longer_than_48_then_rejected_like_alpaca() -> None:
    broker = SimBroker()
    assert broker.submit(make_intent("x" * 48, "SPY", "buy", 10, ts_ns=1))[0].status == "new"
    refused = broker.submit(make_intent("y" * 49, "SPY", "buy", 10, ts_ns=1))[0]
    assert refused.status == "rejected" and "48" in refused.reason


def test_two_runs_when_inputs_are_equal_then_updates_are_identical(trade_bars: BarsFn, quotes: QuotesFn) -> None:
    def run() -> list:
        broker = SimBroker(slippage_bps=Decimal(2), commission_per_share=Decimal("0.005"))
        start = iso_to_ns("2013-10-07T14:01:00Z")
        out = broker.submit(make_intent("a", "IBM", "buy", 250, start))
        out += broker.submit(make_intent("b", "IBM", "sell", 30, start, order_type="limit", limit_price="182.50"))
        events = sorted(
            trade_bars("IBM", "2013-10-07T14:00:00Z", "2013-10-07T14:10:00Z")
            + quotes("IBM", "2013-10-07T14:00:00Z", "2013-10-07T14:10:00Z"),
            key=lambda item: item.ts_ns,
        )
        return out + broker.on_market(events)

    first, second = run(), run()
    assert first == second
    assert len([u for u in first if u.fill_id]) >= 2


def test_stop_limit_buy_when_bar_gaps_above_limit_then_waits_for_a_later_price_within_limit(
    trade_bars: BarsFn,
) -> None:
    # 13:31 opens 167.47: above the 167.45 stop (triggered) and above the 167.46 limit; its low 167.31
    # came after the trigger in unknown order, so no fill; 13:32 opens 167.37, within the limit
    broker = SimBroker()
    broker.submit(
        make_intent("sl2", "SPY", "buy", 20, ts_ns=iso_to_ns("2013-10-07T13:30:00Z"), order_type="stop_limit",
                    stop_price="167.45", limit_price="167.46")
    )
    updates = broker.on_market(trade_bars("SPY", "2013-10-07T13:30:00Z", "2013-10-07T13:34:00Z"))
    assert [(u.ts_ns, u.last_fill_price) for u in updates] == [(iso_to_ns("2013-10-07T13:32:00Z"), Decimal("167.37"))]
