"""LiveBatcher: live batches cut by count and by time, never splitting an instant, in time order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.market_data.live_batcher import LiveBatcher
from cluster.foundation.domain.wire import Bar, Quote

MS = 1_000_000
T0 = 1_381_152_600_000_000_000  # 2013-10-07 13:30 UTC


def _bar(symbol: str, minute: int) -> Bar:
    return Bar(symbol, T0 + minute * 60_000 * MS, 1.0, 1.0, 1.0, 1.0, 100.0)


def test_cut_when_wait_not_reached_then_nothing_is_due() -> None:
    batcher = LiveBatcher(max_items=10, max_wait_ns=200 * MS, settle_ns=30 * MS)
    batcher.add([_bar("SPY", 0), _bar("IBM", 0)], now_ns=0)
    assert batcher.cut(now_ns=199 * MS) == []
    assert batcher.pending == 2


def test_cut_when_wait_passed_and_feed_quiet_then_everything_in_time_order() -> None:
    batcher = LiveBatcher(max_items=10, max_wait_ns=200 * MS, settle_ns=30 * MS)
    batcher.add([_bar("SPY", 1), _bar("IBM", 0)], now_ns=0)  # a backfilled older bar after a newer one
    due = batcher.cut(now_ns=200 * MS)
    assert [[(b.symbol, b.ts_ns) for b in batch] for batch in due] == [[("IBM", _bar("IBM", 0).ts_ns),
                                                                        ("SPY", _bar("SPY", 1).ts_ns)]]
    assert batcher.pending == 0


def test_cut_when_newest_instant_still_arriving_then_it_waits_for_the_next_batch() -> None:
    batcher = LiveBatcher(max_items=10, max_wait_ns=200 * MS, settle_ns=30 * MS)
    batcher.add([_bar("SPY", 0)], now_ns=0)
    batcher.add([_bar("SPY", 1)], now_ns=190 * MS)
    due = batcher.cut(now_ns=200 * MS)
    assert [[b.ts_ns for b in batch] for batch in due] == [[_bar("SPY", 0).ts_ns]]
    batcher.add([_bar("IBM", 1)], now_ns=210 * MS)
    assert batcher.cut(now_ns=250 * MS) == []  # the held instant's wait starts again
    later = batcher.cut(now_ns=400 * MS)
    assert [sorted(b.symbol for b in batch) for batch in later] == [["IBM", "SPY"]]


def test_cut_when_count_reached_then_full_batches_go_out_at_instant_boundaries() -> None:
    batcher = LiveBatcher(max_items=2, max_wait_ns=10_000 * MS, settle_ns=30 * MS)
    batcher.add([_bar("A", 0), _bar("B", 0), _bar("A", 1), _bar("B", 1), _bar("A", 2)], now_ns=0)
    due = batcher.cut(now_ns=1)
    assert [[b.ts_ns for b in batch] for batch in due] == [[_bar("A", 0).ts_ns] * 2, [_bar("A", 1).ts_ns] * 2]
    assert batcher.pending == 1


def test_drain_when_stream_ends_then_nothing_is_left() -> None:
    batcher = LiveBatcher(max_items=3, max_wait_ns=10_000 * MS, settle_ns=30 * MS)
    batcher.add([_bar("A", 0), Quote("A", _bar("A", 0).ts_ns, 1.0, 1.0, 1.1, 1.0), _bar("A", 1)], now_ns=0)
    assert sum(len(b) for b in batcher.drain()) == 3
    assert batcher.pending == 0


def test_new_when_limits_are_not_positive_then_refused() -> None:
    with pytest.raises(ValueError):
        LiveBatcher(max_items=0, max_wait_ns=1, settle_ns=0)


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers(0, 20), st.integers(0, 500)), max_size=60),
       st.integers(1, 8))
def test_batches_when_any_arrival_pattern_then_every_item_once_time_ordered_and_instants_whole(
    arrivals: list[tuple[str, int, int]], max_items: int
) -> None:
    batcher = LiveBatcher(max_items=max_items, max_wait_ns=100 * MS, settle_ns=30 * MS)
    out: list[list[Bar]] = []
    now = 0
    for symbol, minute, gap_ms in arrivals:
        now += gap_ms * MS
        out += batcher.cut(now)
        batcher.add([_bar(symbol, minute)], now)
    out += batcher.cut(now + 10_000 * MS)
    out += batcher.drain()
    flat = [b for batch in out for b in batch]
    assert sorted((b.symbol, b.ts_ns) for b in flat) == sorted((s, _bar(s, m).ts_ns) for s, m, _ in arrivals)
    for batch in out:
        assert batch
        assert [b.ts_ns for b in batch] == sorted(b.ts_ns for b in batch)
