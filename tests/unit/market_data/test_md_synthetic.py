"""SyntheticSource: reproducible, evenly timed, well-formed Bars and Quotes for load tests."""

from __future__ import annotations

import pytest

from actors.market_data.synthetic import DEFAULT_START_NS, SyntheticSource
from cluster.foundation.domain.wire import Bar, Quote
from cluster.foundation.storage.market_files import KIND_RANK


def test_synthetic_when_same_seed_then_identical_streams_and_other_seed_differs():
    # Act
    first = list(SyntheticSource(5, 2_000, 1.5, seed=11))
    again = list(SyntheticSource(5, 2_000, 1.5, seed=11))
    other = list(SyntheticSource(5, 2_000, 1.5, seed=12))
    # Assert
    assert first == again
    assert first != other


def test_synthetic_when_rate_and_duration_given_then_event_count_and_span_match():
    # Act
    events = list(SyntheticSource(3, 1_000, 2.0, seed=1))
    # Assert
    assert len(events) == 2_000
    assert events[0].ts_ns == DEFAULT_START_NS
    assert events[-1].ts_ns < DEFAULT_START_NS + 2_000_000_000
    assert events[-1].ts_ns - events[0].ts_ns == 1_999 * 1_000_000


def test_synthetic_when_iterated_then_strictly_time_ordered_and_merge_key_sorted():
    # Act
    events = list(SyntheticSource(7, 100_000, 0.05, seed=3))
    # Assert
    assert all(a.ts_ns < b.ts_ns for a, b in zip(events, events[1:], strict=False))
    keys = [(m.ts_ns, KIND_RANK[type(m)], m.symbol) for m in events]
    assert keys == sorted(keys)


def test_synthetic_when_many_symbols_then_named_syn_and_every_symbol_gets_quotes_and_bars():
    # Act
    events = list(SyntheticSource(12, 1_200, 1.0, seed=5))
    # Assert
    assert {m.symbol for m in events} == {f"SYN{i:04d}" for i in range(12)}
    for i in range(12):
        kinds = {type(m) for m in events if m.symbol == f"SYN{i:04d}"}
        assert kinds == {Bar, Quote}


def test_synthetic_when_generated_then_bars_are_consistent_and_quotes_not_crossed():
    # Act
    events = list(SyntheticSource(4, 10_000, 1.0, seed=9))
    # Assert
    bars = [m for m in events if isinstance(m, Bar)]
    quotes = [m for m in events if isinstance(m, Quote)]
    assert all(0 < b.low <= min(b.open, b.close) and max(b.open, b.close) <= b.high for b in bars)
    assert all(0 < q.bid < q.ask and q.bid_size > 0 and q.ask_size > 0 for q in quotes)


@pytest.mark.parametrize(("n_symbols", "rate", "seconds"), [(0, 10, 1), (1, 0, 1), (1, 10, 0), (1, 2e9, 1)])
def test_synthetic_when_parameters_out_of_range_then_value_error(n_symbols, rate, seconds):
    with pytest.raises(ValueError):
        SyntheticSource(n_symbols, rate, seconds, seed=1)
