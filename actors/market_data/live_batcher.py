"""Cut a live feed into bus batches: by count, and at the latest every `max_wait_ns`.

Replay can cut wherever it likes because it sees the whole stream; live messages trickle in, so a
batch is closed when it is full or when its oldest message has waited `max_wait_ns`. An instant
(one ts_ns) is never split on purpose: when the wait runs out while the newest instant may still
be arriving (something came in less than `settle_ns` ago), that instant stays for the next batch.
Within a batch, messages are in time order (a backfill can deliver an older bar of one symbol
after a newer quote of another). Pure: the caller passes the monotonic time in.
"""

from __future__ import annotations

from actors.market_data.batcher import batches
from cluster.foundation.domain.wire import Bar, Quote, Trade

MarketItem = Bar | Quote | Trade


class LiveBatcher:
    def __init__(self, max_items: int, max_wait_ns: int, settle_ns: int) -> None:
        if max_items < 1 or max_wait_ns < 1 or settle_ns < 0:
            raise ValueError("max_items and max_wait_ns must be >= 1, settle_ns >= 0")
        self.max_items = max_items
        self.max_wait_ns = max_wait_ns
        self.settle_ns = settle_ns
        self._pending: list[MarketItem] = []
        self._oldest_arrival = 0
        self._newest_arrival = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, items: list[MarketItem], now_ns: int) -> None:
        if not items:
            return
        if not self._pending:
            self._oldest_arrival = now_ns
        self._pending.extend(items)
        self._newest_arrival = now_ns

    def cut(self, now_ns: int) -> list[list[MarketItem]]:
        """The batches that are due now (possibly none)."""
        if not self._pending:
            return []
        self._pending.sort(key=_ts)
        out: list[list[MarketItem]] = []
        if len(self._pending) >= self.max_items:
            full = list(batches(self._pending, self.max_items))
            out += full[:-1]  # the last one may still grow: keep it
            self._pending = full[-1]
            if out:
                self._oldest_arrival = self._newest_arrival
        if self._pending and now_ns - self._oldest_arrival >= self.max_wait_ns:
            newest_ts = self._pending[-1].ts_ns
            if now_ns - self._newest_arrival >= self.settle_ns:
                out.append(self._pending)
                self._pending = []
            else:
                older = [m for m in self._pending if m.ts_ns < newest_ts]
                if older:
                    out.append(older)
                    self._pending = self._pending[len(older):]
                    self._oldest_arrival = self._newest_arrival
        return out

    def drain(self) -> list[list[MarketItem]]:
        """Everything still waiting, cut by count only (the end of the stream)."""
        self._pending.sort(key=_ts)
        out = list(batches(self._pending, self.max_items))
        self._pending = []
        return out


def _ts(item: MarketItem) -> int:
    return item.ts_ns
