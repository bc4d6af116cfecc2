"""The live feed's journal: every batch is written before it is sent, so that a feed restarted by Ray
(on any node) continues the numbering, serves the history consumers ask for, sends again exactly
what may have been lost with the old process, and backfills from the last bar of each symbol."""

from __future__ import annotations

from cluster.foundation.domain.wire import Bar
from cluster.foundation.storage.state_store import JournalEntry, MarketItem, StateStore

PRUNE_EVERY = 500


class LiveJournal:
    def __init__(self, store: StateStore, keep: int = 5_000) -> None:
        self.store = store
        self.keep = keep
        self.writes = 0

    def write(self, batch: int, items: list[MarketItem], final: bool) -> None:
        self.store.journal_batch(batch, items, final)
        self.writes += 1
        if self.writes % PRUNE_EVERY == 0:
            self.store.prune_journal(self.keep)

    def restore(self, limit: int) -> tuple[list[JournalEntry], dict[str, int]]:
        """The newest `limit` batches, oldest first, and each symbol's last journaled bar time."""
        tail = self.store.journal_tail(limit)
        last: dict[str, int] = {}
        for _, items, _ in tail:
            for item in items:
                if isinstance(item, Bar) and item.ts_ns > last.get(item.symbol, -1):
                    last[item.symbol] = item.ts_ns
        return tail, last
