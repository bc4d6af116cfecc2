"""Order books: top of book from real quotes, depth from levels, anomalies reported not fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.market_data.book import BookAnomaly, BookKeeper, OrderBook
from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.wire import Bar, BookUpdate, Quote
from cluster.foundation.storage.market_files import read_quote_bars, read_quote_ticks, read_trade_ticks

DATA = Path(__file__).resolve().parents[3] / "data"
SPY_OPEN_NS = 1_381_152_600_000_000_000  # 2013-10-07T13:30:00Z


def _real_quote(symbol: str, ts_ns: int) -> Quote:
    return next(q for q in read_quote_bars(DATA / "us_equity_minute_quote_bars.csv")
                if q.symbol == symbol and q.ts_ns == ts_ns)


def test_apply_quote_when_real_nbbo_then_best_mid_spread_and_snapshot_follow_it():
    # Arrange
    quote = next(read_quote_ticks(DATA / "us_equity_quote_ticks_IBM_2013-10-07_0930-1030ET.csv"))
    book = OrderBook("IBM")
    # Act
    book.apply_quote(quote)
    # Assert
    assert (book.best_bid, book.best_ask) == (181.69, 181.9)
    assert book.mid == pytest.approx(181.795)
    assert book.spread == pytest.approx(0.21)
    assert book.snapshot() == BookUpdate("IBM", quote.ts_ns, [(181.69, 200.0)], [(181.9, 100.0)])


def test_apply_quote_when_later_quote_then_it_replaces_the_top_of_book():
    # Arrange
    book = OrderBook("SPY")
    book.apply_quote(Quote("SPY", 1, 167.40, 500.0, 167.45, 700.0))
    # Act
    book.apply_quote(Quote("SPY", 2, 167.42, 100.0, 167.44, 300.0))
    # Assert
    assert book.snapshot() == BookUpdate("SPY", 2, [(167.42, 100.0)], [(167.44, 300.0)])


def test_apply_level_when_levels_added_then_snapshot_is_best_first_and_cut_at_depth():
    # Arrange
    book = OrderBook("IBM", depth=2)
    # Act
    for price, size in [(181.60, 100.0), (181.69, 200.0), (181.50, 300.0)]:
        book.apply_level("bid", price, size)
    for price, size in [(182.20, 100.0), (181.90, 100.0), (182.00, 400.0)]:
        book.apply_level("ask", price, size, ts_ns=7)
    # Assert
    assert book.snapshot() == BookUpdate("IBM", 7, [(181.69, 200.0), (181.60, 100.0)], [(181.90, 100.0), (182.00, 400.0)])


def test_apply_level_when_size_zero_then_level_removed_and_deeper_level_uncovered():
    # Arrange
    book = OrderBook("IBM", depth=2)
    for price in (181.69, 181.60, 181.50):
        book.apply_level("bid", price, 100.0)
    # Act
    book.apply_level("bid", 181.69, 0.0)
    book.apply_level("bid", 181.00, 0.0)  # removing an absent level changes nothing
    # Assert
    assert book.best_bid == 181.60
    assert book.snapshot().bids == [(181.60, 100.0), (181.50, 100.0)]


def test_apply_level_when_size_changes_at_existing_price_then_level_updated_not_duplicated():
    # Arrange
    book = OrderBook("IBM")
    book.apply_level("ask", 181.90, 100.0)
    # Act
    book.apply_level("ask", 181.90, 600.0)
    # Assert
    assert book.snapshot().asks == [(181.90, 600.0)]


@pytest.mark.parametrize(("price", "size"), [(-1.0, 100.0), (181.9, -5.0), (0.0, 100.0), (float("nan"), 1.0)])
def test_apply_level_when_unusable_level_then_bad_input(price, size):
    with pytest.raises(BadInput):
        OrderBook("IBM").apply_level("bid", price, size)


def test_empty_book_when_nothing_applied_then_no_prices_and_empty_snapshot():
    book = OrderBook("IBM")
    assert (book.best_bid, book.best_ask, book.mid, book.spread, book.state) == (None, None, None, None, "empty")
    assert book.snapshot() == BookUpdate("IBM", 0, [], [])


def test_keeper_when_real_locked_quote_then_reported_and_kept_as_is():
    # Arrange: the SPY 13:30 quote bar opens locked at 167.41 / 167.41
    anomalies: list[BookAnomaly] = []
    keeper = BookKeeper(on_anomaly=anomalies.append)
    # Act
    update = keeper.apply(_real_quote("SPY", SPY_OPEN_NS))
    # Assert
    assert update == BookUpdate("SPY", SPY_OPEN_NS, [(167.41, 4400.0)], [(167.41, 1400.0)])
    assert anomalies == [BookAnomaly("SPY", SPY_OPEN_NS, "locked", 167.41, 167.41)]
    assert keeper.anomaly_count == 1


def test_keeper_when_levels_cross_then_crossed_reported_and_not_fixed():
    # Arrange
    anomalies: list[BookAnomaly] = []
    keeper = BookKeeper(on_anomaly=anomalies.append)
    keeper.apply_level("IBM", "ask", 181.90, 100.0, ts_ns=1)
    # Act
    update = keeper.apply_level("IBM", "bid", 182.00, 200.0, ts_ns=2)
    # Assert
    assert update.bids == [(182.00, 200.0)] and update.asks == [(181.90, 100.0)]
    assert anomalies == [BookAnomaly("IBM", 2, "crossed", 182.00, 181.90)]


def test_keeper_when_real_quotes_replayed_then_anomalies_counted_exactly_for_bid_at_or_above_ask():
    # Arrange
    quotes = list(read_quote_bars(DATA / "us_equity_minute_quote_bars.csv"))
    keeper = BookKeeper()
    # Act
    updates = [keeper.apply(q) for q in quotes]
    # Assert
    assert all(u is not None for u in updates)
    assert keeper.anomaly_count == sum(1 for q in quotes if q.bid >= q.ask)
    assert set(keeper.books) == {"SPY", "IBM", "BAC", "AIG", "AAPL"}


def test_keeper_when_trades_and_bars_applied_then_last_price_updates_and_no_book_update():
    # Arrange
    trades = list(read_trade_ticks(DATA / "us_equity_trade_ticks_IBM_2013-10-07.csv"))[:50]
    keeper = BookKeeper()
    # Act
    results = [keeper.apply(t) for t in trades]
    after_trades = keeper.last_price("IBM")
    keeper.apply(Bar("IBM", trades[-1].ts_ns + 1, 181.0, 182.0, 180.5, 181.25, 1000.0))
    # Assert
    assert results == [None] * 50
    assert after_trades == trades[-1].price
    assert keeper.last_price("IBM") == 181.25
    assert keeper.last_price("SPY") is None
    assert "IBM" not in keeper.books
