"""Cut a time-ordered stream into bus batches without splitting an instant.

Downstream actors treat a batch as "everything up to this watermark", so all events that share
a ts_ns must travel together; otherwise a strategy could act on half of one instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import attrgetter
from typing import Protocol

from cluster.foundation.domain import topics
from cluster.foundation.domain.errors import BadInput

_TS = attrgetter("ts_ns")


class Timestamped(Protocol):
    @property
    def ts_ns(self) -> int: ...


class SymbolTimestamped(Timestamped, Protocol):
    @property
    def symbol(self) -> str: ...


def batches[M: Timestamped](stream: Iterable[M], max_items: int) -> Iterator[list[M]]:
    """Lists of at most max_items messages; longer only when one ts_ns alone has more events.

    A batch that would overflow is cut where the current instant began, so an oversized batch
    always holds a single instant. The stream must be time-ordered (BadInput otherwise).
    """
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    batch: list[M] = []
    previous_ts: int | None = None
    for ts, group in groupby(stream, key=_TS):  # an instant at a time (the grouping runs in C)
        if previous_ts is not None and ts < previous_ts:
            raise BadInput(f"stream goes back in time: {ts} after {previous_ts}")
        previous_ts = ts
        instant = list(group)
        if batch and len(batch) + len(instant) > max_items:  # full, or the instant would overflow it
            yield batch
            batch = []
        batch += instant
    if batch:
        yield batch


def by_symbol[S: SymbolTimestamped](batch: Iterable[S]) -> dict[str, list[S]]:
    """Messages grouped by symbol: symbols in first-seen order, messages in stream order."""
    groups: dict[str, list[S]] = {}
    for message in batch:
        group = groups.get(message.symbol)
        if group is None:
            group = groups[message.symbol] = []
        group.append(message)
    return groups


class MarketDataShards:
    """A batch as the feed sends it: one envelope per shard topic (topics.shard_topic), each holding its
    symbols' messages grouped by symbol, shards and symbols in first-seen order. The one-process replay
    hands risk the same order, so that both replays book the same fills in the same order."""

    def __init__(self) -> None:
        self._topics: dict[str, bytes] = {}

    def split[S: SymbolTimestamped](self, batch: Sequence[S]) -> dict[bytes, list[S]]:
        shards: dict[bytes, list[S]] = {}
        if len({m.symbol for m in batch}) == len(batch):  # the usual batch: one event per symbol
            for m in batch:
                name = self._topic(m.symbol)
                shard = shards.get(name)
                if shard is None:
                    shards[name] = [m]
                else:
                    shard.append(m)
            return shards
        for symbol, messages in by_symbol(batch).items():
            name = self._topic(symbol)
            shard = shards.get(name)
            if shard is None:
                shards[name] = messages
            else:
                shard += messages
        return shards

    def _topic(self, symbol: str) -> bytes:
        name = self._topics.get(symbol)
        if name is None:
            name = self._topics[symbol] = topics.shard_topic(topics.MARKET_DATA, symbol)
        return name
