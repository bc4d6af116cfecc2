"""open_source: every file merged into one deterministic, time-ordered stream; filters."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cluster.foundation.domain.wire import Bar, Quote, Trade
from cluster.foundation.storage.market_files import KIND_RANK, open_source, read_file

DATA = Path(__file__).resolve().parents[3] / "data"
ALL_FILES = sorted(DATA.glob("*.csv"))
ROW_FILES = [p for p in ALL_FILES if "quote_ticks" not in p.name]  # one message per row


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_open_source_when_all_files_merged_then_nothing_lost_and_time_ordered():
    # Arrange
    expected = sum(sum(1 for _ in read_file(p)) for p in ALL_FILES)
    # Act
    merged = list(open_source(ALL_FILES))
    # Assert
    assert len(merged) == expected
    keys = [(m.ts_ns, KIND_RANK[type(m)], m.symbol) for m in merged]
    assert all(a <= b for a, b in zip(keys, keys[1:], strict=False))
    assert {type(m) for m in merged} == {Bar, Quote, Trade}


def test_open_source_when_files_given_in_another_order_then_stream_is_identical():
    # Act
    forward = list(open_source(ALL_FILES))
    backward = list(open_source(list(reversed(ALL_FILES))))
    # Assert
    assert forward == backward


def test_open_source_when_quote_and_bar_share_an_instant_then_quote_comes_first():
    # Arrange: IBM has both a trade bar and a quote bar stamped 2013-10-07T13:30:00Z; the trade
    # bar file comes first so that file order alone would put the Bar first
    files = [DATA / "us_equity_minute_trade_bars.csv", DATA / "us_equity_minute_quote_bars.csv"]
    open_ns = 1_381_104_000_000_000_000 + (13 * 3600 + 30 * 60) * 1_000_000_000
    # Act
    at_open = [m for m in open_source(files, "2013-10-07", "2013-10-07", {"IBM"}) if m.ts_ns == open_ns]
    # Assert
    assert [type(m) for m in at_open] == [Quote, Bar]


def test_open_source_when_start_and_end_are_one_day_then_only_that_utc_day_counted_from_csv():
    # Arrange
    day = "2013-10-07"
    expected = 0
    for path in ROW_FILES:
        expected += sum(1 for row in _rows(path) if row["timestamp"].startswith(day))
    # Act
    selected = list(open_source(ROW_FILES, start=day, end=day))
    # Assert
    assert len(selected) == expected
    assert expected > 20_000
    assert all(1_381_104_000_000_000_000 <= m.ts_ns < 1_381_190_400_000_000_000 for m in selected)


def test_open_source_when_date_range_spans_days_then_both_ends_inclusive():
    # Arrange
    daily = DATA / "us_equity_daily_bars_1998-2021.csv"
    expected = [r for r in _rows(daily) if r["symbol"] == "SPY" and "2021-03-01" <= r["date"] <= "2021-03-31"]
    # Act
    selected = list(open_source([daily], start="2021-03-01", end="2021-03-31", symbols={"SPY"}))
    # Assert
    assert [b.close for b in selected] == [float(r["close"]) for r in expected]
    assert len(selected) == 23


def test_open_source_when_symbols_given_then_only_those_symbols_in_file_order():
    # Arrange
    crypto = [DATA / "crypto_minute_trade_bars_coinbase.csv", DATA / "crypto_minute_quote_bars_coinbase.csv"]
    expected = sum(1 for p in crypto for r in _rows(p) if r["symbol"] == "BTC/USD")
    # Act
    selected = list(open_source(crypto, symbols=["BTC/USD"]))
    # Assert
    assert len(selected) == expected
    assert {m.symbol for m in selected} == {"BTC/USD"}


def test_open_source_when_start_is_not_a_date_then_value_error():
    # Act / Assert
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        open_source(ALL_FILES, start="2013/10/07")


def test_open_source_when_rows_tie_on_time_kind_and_symbol_then_run_order_as_a_heap_merge_gives(tmp_path):
    """The merged order is exactly heapq.merge's over the per-file, per-symbol runs (ties: file, then row)."""
    import heapq

    from cluster.foundation.storage.market_files import merge_key

    # Arrange: two files whose bars tie on (time, kind, symbol) and differ in volume only
    header = "symbol,timestamp,open,high,low,close,volume\n"
    rows = [("B", "2024-01-02T14:31:00Z"), ("A", "2024-01-02T14:30:00Z"), ("A", "2024-01-02T14:31:00Z"),
            ("B", "2024-01-02T14:31:00Z"), ("A", "2024-01-02T14:31:00Z")]
    paths = []
    for f in range(2):
        path = tmp_path / f"bars{f}.csv"
        path.write_text(header + "".join(f"{s},{t},10,11,9,10,{100 * f + i}\n" for i, (s, t) in enumerate(rows)))
        paths.append(path)
    runs = []
    for path in paths:
        by_symbol: dict[str, list] = {}
        for message in read_file(path):
            by_symbol.setdefault(message.symbol, []).append(message)
        runs += by_symbol.values()
    # Act / Assert
    assert list(open_source(paths)) == list(heapq.merge(*runs, key=merge_key))
    shipped = [p for p in ALL_FILES if "minute" in p.name]
    runs = []
    for path in shipped:
        by_symbol = {}
        for message in read_file(path):
            by_symbol.setdefault(message.symbol, []).append(message)
        runs += by_symbol.values()
    assert list(open_source(shipped)) == list(heapq.merge(*runs, key=merge_key))
