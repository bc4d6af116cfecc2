"""NBBO built from per-exchange one-sided quote ticks, checked against a plain replay."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cluster.foundation.domain.errors import DataError
from cluster.foundation.storage.market_files import QUOTE_TICKS, read_quote_ticks

DATA = Path(__file__).resolve().parents[3] / "data"
QUOTE_TICK_FILE = DATA / "us_equity_quote_ticks_IBM_2013-10-07_0930-1030ET.csv"


def _real_rows() -> list[str]:
    return QUOTE_TICK_FILE.read_text().splitlines()[1:]


def _best_of_exchanges(rows: list[str]) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Last bid and ask of every exchange after replaying `rows` (reference, via the csv module)."""
    bids: dict[str, tuple[float, float]] = {}
    asks: dict[str, tuple[float, float]] = {}
    for row in csv.DictReader([QUOTE_TICKS, *rows]):
        if float(row["bid_price"]) > 0:
            bids[row["exchange"]] = (float(row["bid_price"]), float(row["bid_size"]))
        else:
            asks[row["exchange"]] = (float(row["ask_price"]), float(row["ask_size"]))
    return bids, asks


@pytest.mark.parametrize("checked_rows", [2, 57, 1_000, 7_777, 20_824])
def test_quote_ticks_when_prefix_replayed_then_last_nbbo_is_best_of_exchanges(tmp_path, checked_rows):
    # Arrange
    rows = _real_rows()[:checked_rows]
    path = tmp_path / "prefix.csv"
    path.write_text("\n".join([QUOTE_TICKS, *rows]) + "\n")
    bids, asks = _best_of_exchanges(rows)
    best_bid = max(price for price, _ in bids.values())
    best_ask = min(price for price, _ in asks.values())
    # Act
    last = list(read_quote_ticks(path))[-1]
    # Assert
    assert (last.bid, last.ask) == (best_bid, best_ask)
    assert bids[last.bid_exchange][0] == best_bid
    assert asks[last.ask_exchange][0] == best_ask
    assert last.bid_size == max(size for price, size in bids.values() if price == best_bid)
    assert last.ask_size == max(size for price, size in asks.values() if price == best_ask)


def test_quote_ticks_when_whole_hour_read_then_every_nbbo_differs_from_the_previous():
    # Act
    quotes = list(read_quote_ticks(QUOTE_TICK_FILE))
    # Assert
    assert 500 < len(quotes) < 20_824
    fields = [(q.bid, q.bid_size, q.bid_exchange, q.ask, q.ask_size, q.ask_exchange) for q in quotes]
    assert all(a != b for a, b in zip(fields, fields[1:], strict=False))
    assert all(q.bid_exchange and q.ask_exchange and q.symbol == "IBM" for q in quotes)


def test_quote_ticks_when_only_bids_seen_then_nothing_emitted_until_an_ask_arrives(tmp_path):
    # Arrange: the file's first two real rows, a bid from Q then an ask from P
    first, second = _real_rows()[:2]
    path = tmp_path / "two.csv"
    path.write_text(f"{QUOTE_TICKS}\n{first}\n")
    # Act
    only_bid = list(read_quote_ticks(path))
    path.write_text(f"{QUOTE_TICKS}\n{first}\n{second}\n")
    both = list(read_quote_ticks(path))
    # Assert
    assert only_bid == []
    assert [(q.bid, q.bid_exchange, q.ask, q.ask_exchange) for q in both] == [(181.69, "Q", 181.9, "P")]


def test_quote_ticks_when_two_exchanges_tie_on_price_then_larger_size_then_earlier_wins(tmp_path):
    # Arrange (synthetic edge case)
    path = tmp_path / "tie.csv"
    rows = [
        "IBM,2013-10-07T13:30:00Z,0,0,181.9,100,P,1,0",
        "IBM,2013-10-07T13:30:01Z,181.5,100,0,0,N,1,0",
        "IBM,2013-10-07T13:30:02Z,181.5,100,0,0,Q,1,0",  # same price and size, later: N keeps it
        "IBM,2013-10-07T13:30:03Z,181.5,300,0,0,Z,1,0",  # same price, larger: Z takes it
    ]
    path.write_text("\n".join([QUOTE_TICKS, *rows]) + "\n")
    # Act
    quotes = list(read_quote_ticks(path))
    # Assert
    assert [(q.bid_exchange, q.bid_size) for q in quotes] == [("N", 100.0), ("Z", 300.0)]


def test_quote_ticks_when_row_sets_both_sides_then_data_error_names_line(tmp_path):
    # Arrange
    rows = _real_rows()[:3]
    rows[1] = "IBM,2013-10-07T13:30:00.072Z,181.69,200,181.9,100,P,1,0"
    path = tmp_path / "both.csv"
    path.write_text("\n".join([QUOTE_TICKS, *rows]) + "\n")
    # Act
    with pytest.raises(DataError) as caught:
        list(read_quote_ticks(path))
    # Assert
    assert (caught.value.source, caught.value.line) == (str(path), 3)
