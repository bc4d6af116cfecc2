"""batches never splits an instant and loses or duplicates nothing; by_symbol keeps order."""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.market_data.batcher import MarketDataShards, batches, by_symbol
from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.wire import Bar, Trade
from cluster.foundation.runtime import bus
from cluster.foundation.storage.market_files import read_trade_ticks

DATA = Path(__file__).resolve().parents[3] / "data"


def _stream(gaps: list[int], symbols: list[str]) -> list[Trade]:
    """Synthetic time-ordered trades; `size` is the position in the stream, so each is unique."""
    times = list(accumulate(gaps))
    return [Trade(symbols[i % len(symbols)], ts, 100.0, float(i)) for i, ts in enumerate(times)]


gaps_strategy = st.lists(st.sampled_from([0, 0, 0, 1, 5]), max_size=200)
symbols_strategy = st.lists(st.sampled_from(["SPY", "IBM", "BAC", "AIG"]), min_size=1, max_size=4)


@given(gaps=gaps_strategy, symbols=symbols_strategy, max_items=st.integers(min_value=1, max_value=12))
def test_batches_when_any_ordered_stream_then_concatenation_is_the_stream(gaps, symbols, max_items):
    # Arrange
    stream = _stream(gaps, symbols)
    # Act
    cut = list(batches(iter(stream), max_items))
    # Assert
    assert [m for batch in cut for m in batch] == stream
    assert all(batch for batch in cut)


@given(gaps=gaps_strategy, max_items=st.integers(min_value=1, max_value=12))
def test_batches_when_any_ordered_stream_then_no_timestamp_spans_two_batches(gaps, max_items):
    # Arrange
    stream = _stream(gaps, ["SPY"])
    # Act
    cut = list(batches(stream, max_items))
    # Assert
    for earlier, later in zip(cut, cut[1:], strict=False):
        assert earlier[-1].ts_ns < later[0].ts_ns


@given(gaps=gaps_strategy, max_items=st.integers(min_value=1, max_value=12))
def test_batches_when_a_batch_exceeds_max_items_then_it_holds_one_instant_only(gaps, max_items):
    # Arrange
    stream = _stream(gaps, ["SPY"])
    # Act
    cut = list(batches(stream, max_items))
    # Assert
    for batch in cut:
        if len(batch) > max_items:
            assert len({m.ts_ns for m in batch}) == 1


def test_batches_when_instant_would_overflow_then_cut_before_it_not_inside():
    # Arrange: one message at t=1, then four at t=2, max 3
    stream = _stream([1, 1, 0, 0, 0], ["SPY"])
    # Act
    cut = list(batches(stream, 3))
    # Assert
    assert [[int(m.size) for m in batch] for batch in cut] == [[0], [1, 2, 3, 4]]


def test_batches_when_distinct_times_then_full_batches_of_max_items():
    # Arrange
    stream = _stream([1] * 10, ["SPY"])
    # Act
    sizes = [len(batch) for batch in batches(stream, 4)]
    # Assert
    assert sizes == [4, 4, 2]


def test_batches_when_real_ticks_with_repeated_milliseconds_then_no_instant_split():
    # Arrange
    trades = list(read_trade_ticks(DATA / "us_equity_trade_ticks_IBM_2013-10-07.csv"))
    # Act
    cut = list(batches(trades, 7))
    # Assert
    assert sum(len(b) for b in cut) == 24_293
    assert all(a[-1].ts_ns < b[0].ts_ns for a, b in zip(cut, cut[1:], strict=False))
    assert all(len(b) <= 7 or len({m.ts_ns for m in b}) == 1 for b in cut)
    assert any(len({m.ts_ns for m in b}) < len(b) for b in cut)  # the data does repeat instants


def test_batches_when_stream_goes_back_in_time_then_bad_input():
    # Arrange
    stream = [Trade("SPY", 2, 1.0, 1.0), Trade("SPY", 1, 1.0, 1.0)]
    # Act / Assert
    with pytest.raises(BadInput, match="back in time"):
        list(batches(stream, 10))


def test_batches_when_max_items_below_one_then_value_error():
    with pytest.raises(ValueError):
        list(batches([], 0))


@given(gaps=gaps_strategy, symbols=symbols_strategy)
def test_by_symbol_when_any_batch_then_groups_keep_stream_order_and_cover_it(gaps, symbols):
    # Arrange
    batch = _stream(gaps, symbols)
    # Act
    groups = by_symbol(batch)
    # Assert
    assert list(groups) == list(dict.fromkeys(m.symbol for m in batch))
    for symbol, group in groups.items():
        assert group == [m for m in batch if m.symbol == symbol]
    assert sum(len(g) for g in groups.values()) == len(batch)


def _batches_one_by_one(stream, max_items):
    """The reference: message by message, cutting where the current instant began."""
    batch, instant_start = [], 0
    for message in stream:
        if batch:
            previous_ts = batch[-1].ts_ns
            if message.ts_ns < previous_ts:
                raise BadInput(f"stream goes back in time: {message.ts_ns} after {previous_ts}")
            if message.ts_ns != previous_ts:
                if len(batch) >= max_items:
                    yield batch
                    batch = []
                instant_start = len(batch)
        batch.append(message)
        if len(batch) > max_items and instant_start > 0:
            yield batch[:instant_start]
            batch = batch[instant_start:]
            instant_start = 0
    if batch:
        yield batch


def _outcome(gen):
    out = []
    try:
        for b in gen:
            out.append(b)
    except BadInput as exc:
        out.append(str(exc))
    return out


@given(stamps=st.lists(st.integers(0, 6), max_size=40), max_items=st.integers(min_value=1, max_value=8))
def test_batches_when_any_stream_even_out_of_order_then_the_message_by_message_reference(stamps, max_items):
    stream = [Bar(f"S{i % 3}", ts, 1.0, 1.0, 1.0, 1.0, 1.0) for i, ts in enumerate(stamps)]
    assert _outcome(batches(iter(stream), max_items)) == _outcome(_batches_one_by_one(iter(stream), max_items))


@given(symbols=st.lists(st.sampled_from([f"S{i}" for i in range(40)]), max_size=60))
def test_shards_when_any_batch_then_symbols_grouped_in_first_seen_order_per_shard(symbols):
    batch = [Bar(s, i, 1.0, 1.0, 1.0, 1.0, 1.0) for i, s in enumerate(symbols)]
    expected: dict[bytes, list[Bar]] = {}
    for symbol, messages in by_symbol(batch).items():
        expected.setdefault(bus.shard_topic(bus.MARKET_DATA, symbol), []).extend(messages)
    assert MarketDataShards().split(batch) == expected
    assert list(MarketDataShards().split(batch)) == list(expected)
