"""Average-cost accounting: hand-computed fills on real prices, exact invariants over random streams."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from risk_fakes import real_closes

from actors.risk.accounting import AccountingError, Portfolio

D = Decimal


def _price(symbol: str, i: int) -> Decimal:
    return Decimal(repr(real_closes(symbol)[i]))


def test_apply_fill_when_long_is_flipped_short_then_realizes_closed_part_and_opens_rest_at_fill_price() -> None:
    # Arrange
    book = Portfolio(D(100_000), "2014-06-05")
    buy_px, sell_px = _price("AAPL", 0), _price("AAPL", 200)
    book.apply_fill("AAPL", "buy", D(10), buy_px, D("0.05"), 1)
    # Act
    realized = book.apply_fill("AAPL", "sell", D(15), sell_px, D("0.075"), 2)
    # Assert
    assert realized == (sell_px - buy_px) * 10 - D("0.075")
    assert book.position("AAPL") == D(-5)
    row = book.positions()[0]
    assert row.entry_price == sell_px
    assert book.cash == D(100_000) - 10 * buy_px - D("0.05") + 15 * sell_px - D("0.075")
    book.check_invariants()


def test_apply_fill_when_adding_to_long_then_average_price_is_quantity_weighted() -> None:
    # Arrange
    book = Portfolio(D(50_000), "2013-10-07")
    p1, p2 = _price("IBM", 10), _price("IBM", 400)
    # Act
    book.apply_fill("IBM", "buy", D(20), p1, D(0), 1)
    book.apply_fill("IBM", "buy", D(30), p2, D(0), 2)
    # Assert
    assert book.positions()[0].entry_price == (20 * p1 + 30 * p2) / 50


def test_apply_fill_when_short_is_partially_covered_then_counts_a_winning_trade_if_price_fell() -> None:
    # Arrange
    book = Portfolio(D(50_000), "2013-10-07")
    high, low = max(real_closes("BAC")[:300]), min(real_closes("BAC")[:300])
    book.apply_fill("BAC", "sell", D(300), D(repr(high)), D(0), 1)
    # Act
    realized = book.apply_fill("BAC", "buy", D(100), D(repr(low)), D(0), 2)
    # Assert
    assert realized == (D(repr(high)) - D(repr(low))) * 100
    assert book.day_trade_counts() == (2, 1, 0)
    assert book.position("BAC") == D(-200)


def test_daily_pnl_when_day_rolls_then_carried_unrealized_is_not_counted_again() -> None:
    # Arrange
    book = Portfolio(D(100_000), "2013-10-07")
    p0, p1, p2 = _price("SPY", 100), _price("SPY", 900), _price("SPY", 1500)
    book.apply_fill("SPY", "buy", D(50), p0, D(0), 1)
    book.mark("SPY", p1, 2)
    # Act
    book.roll_day("2013-10-08")
    book.mark("SPY", p2, 3)
    # Assert
    row = book.daily_pnl_row()
    assert row.trading_date == "2013-10-08"
    assert row.total_pnl == (p2 - p1) * 50
    assert row.realized_pnl == 0 and row.trade_count == 0


def test_check_invariants_when_cash_is_corrupted_then_names_the_cash_identity() -> None:
    # Arrange
    book = Portfolio(D(10_000), "2013-10-07")
    book.apply_fill("AIG", "buy", D(10), _price("AIG", 5), D(0), 1)
    book.cash += D("0.01")
    # Act / Assert
    with pytest.raises(AccountingError, match="cash"):
        book.check_invariants()


def test_apply_fill_when_quantity_is_not_positive_then_raises_accounting_error() -> None:
    book = Portfolio(D(10_000), "2013-10-07")
    with pytest.raises(AccountingError, match="qty > 0"):
        book.apply_fill("AIG", "buy", D(0), _price("AIG", 5), D(0), 1)


_SYMBOLS = ("SPY", "IBM", "BAC", "AIG")
_fill = st.tuples(
    st.sampled_from(_SYMBOLS),
    st.sampled_from(("buy", "sell")),
    st.decimals(min_value=D("0.001"), max_value=D(500), places=3),
    st.integers(min_value=0, max_value=2000),
    st.decimals(min_value=D(0), max_value=D(2), places=4),
    st.booleans(),  # mark the symbol afterwards at a later real price
    st.booleans(),  # roll the trading day afterwards
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_fill, min_size=1, max_size=60))
def test_invariants_when_random_fills_flips_and_partials_then_hold_after_every_fill(fills: list) -> None:
    # Arrange: an independent ledger to compare against
    book = Portfolio(D(100_000), "d0")
    qty: dict[str, Decimal] = {}
    cash = D(100_000)
    days = 0
    for ts, (symbol, side, q, i, fee, mark, roll) in enumerate(fills):
        closes = real_closes(symbol)
        price = D(repr(closes[i % len(closes)]))
        # Act
        book.apply_fill(symbol, side, q, price, fee, ts)
        signed = q if side == "buy" else -q
        qty[symbol] = qty.get(symbol, D(0)) + signed
        cash -= signed * price + fee
        if mark:
            book.mark(symbol, D(repr(closes[(i + 37) % len(closes)])), ts)
        if roll:
            days += 1
            book.roll_day(f"d{days}")
        # Assert
        book.check_invariants()
        assert book.cash == cash
        assert all(book.position(s) == q for s, q in qty.items())


@settings(max_examples=60, deadline=None)
@given(st.lists(_fill, min_size=1, max_size=40))
def test_restore_when_rebuilt_from_rows_then_books_are_identical(fills: list) -> None:
    # Arrange
    book = Portfolio(D(100_000), "d0")
    for ts, (symbol, side, q, i, fee, mark, roll) in enumerate(fills):
        closes = real_closes(symbol)
        book.apply_fill(symbol, side, q, D(repr(closes[i % len(closes)])), fee, ts)
        if mark:
            book.mark(symbol, D(repr(closes[(i + 11) % len(closes)])), ts)
        if roll:
            book.roll_day(f"d{ts}")
    # Act
    copy = Portfolio.restore(D(100_000), book.positions(), book.daily_pnl_row())
    # Assert
    copy.check_invariants()
    assert copy.cash == book.cash
    assert copy.equity() == book.equity()
    assert copy.positions() == book.positions()
    assert copy.daily_pnl_row() == book.daily_pnl_row()
