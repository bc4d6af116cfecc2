"""BatchHistory: the feed's published batches, kept packed, handed back unpacked and unchanged."""

from __future__ import annotations

from actors.market_data.history import BatchHistory
from actors.market_data.synthetic import SyntheticSource
from cluster.foundation.domain.wire import Bar, Quote, Trade


def _batches() -> list[list[Bar | Quote | Trade]]:
    items: list[Bar | Quote | Trade] = list(SyntheticSource(5, 100, 1, seed=3))
    items.append(Trade("SYN0000", items[-1].ts_ns + 1, 101.5, 300.0))
    return [items[i:i + 16] for i in range(0, len(items), 16)]


def test_history_when_read_back_then_every_item_is_equal_and_in_order() -> None:
    batches = _batches()
    history = BatchHistory()
    for k, items in enumerate(batches, 1):
        history.append(k, items, final=k == len(batches))
    rows = history.after(0)
    assert [k for k, _, _ in rows] == list(range(1, len(batches) + 1))
    assert [items for _, items, _ in rows] == batches
    assert [final for _, _, final in rows] == [False] * (len(batches) - 1) + [True]
    assert {type(m) for _, items, _ in rows for m in items} == {Bar, Quote, Trade}


def test_history_when_asked_after_a_batch_then_only_later_batches_and_empty_ones_kept() -> None:
    history = BatchHistory()
    history.extend([(1, _batches()[0], False), (2, [], False), (3, _batches()[1], False)])
    assert [(k, len(items)) for k, items, _ in history.after(1)] == [(2, 0), (3, 16)]
    assert history.after(3) == []


def test_history_when_bounded_then_keeps_the_newest() -> None:
    history = BatchHistory(maxlen=2)
    for k, items in enumerate(_batches()[:4], 1):
        history.append(k, items, False)
    assert len(history) == 2
    assert [k for k, _, _ in history.after(0)] == [3, 4]
    assert history.packed_bytes() > 0
