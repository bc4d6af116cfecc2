"""Per-symbol ordering of a live feed, and the merge of a REST backfill with live bars.

The consumer must see every bar exactly once and every stream in time order per symbol. After a
reconnect the client holds live messages while the gap is fetched over REST, then releases the
backfilled bars (oldest first) followed by the held live ones. A bar whose (symbol, ts) was already
delivered is a duplicate and is dropped quietly (it arrived both ways); a message older than the
last one delivered for its symbol and kind is out of order: dropped and reported, never reordered.
Pure and synchronous: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from actors.market_data.alpaca_feed_parse import FeedItem
from cluster.foundation.domain.wire import Bar, BookUpdate, Quote, Trade

_KIND: dict[type, str] = {Bar: "bar", Quote: "quote", Trade: "trade", BookUpdate: "book"}


@dataclass(frozen=True, slots=True)
class OutOfOrder:
    """A message stamped before the last one delivered for the same symbol and kind."""

    kind: str
    symbol: str
    ts_ns: int
    last_ts_ns: int


@dataclass(slots=True)
class Released:
    delivered: list[FeedItem]
    out_of_order: list[OutOfOrder]


class FeedSequencer:
    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}
        self._held: list[FeedItem] = []
        self.holding = False
        self.duplicates = 0
        self.out_of_order = 0
        self.backfilled = 0
        self.backfill_overlap = 0

    def last_bar_ts(self, symbol: str) -> int | None:
        return self._last.get(("bar", symbol))

    def seed_bars(self, last_bar_ts: dict[str, int]) -> None:
        """Bars up to these times (per symbol) count as delivered already."""
        for symbol, ts in last_bar_ts.items():
            key = ("bar", symbol)
            self._last[key] = max(ts, self._last.get(key, ts))

    def bar_symbols(self) -> list[str]:
        return sorted(symbol for kind, symbol in self._last if kind == "bar")

    def backfill_start_ns(self) -> int | None:
        """Where a backfill must begin: just after the oldest 'last bar' of any symbol."""
        stamps = [ts for (kind, _symbol), ts in self._last.items() if kind == "bar"]
        return min(stamps) + 1 if stamps else None

    def hold(self) -> None:
        """From now on keep live messages back until release()."""
        self.holding = True

    def live(self, items: list[FeedItem]) -> Released:
        if self.holding:
            self._held.extend(items)
            return Released([], [])
        return self._admit(items)

    def release(self, backfill: list[Bar]) -> Released:
        """Deliver the backfilled bars not yet seen, oldest first, then every held live message."""
        delivered: list[FeedItem] = []
        for bar in sorted(backfill, key=lambda b: (b.ts_ns, b.symbol)):
            last = self._last.get(("bar", bar.symbol))
            if last is not None and bar.ts_ns <= last:
                self.backfill_overlap += 1
                continue
            self._last[("bar", bar.symbol)] = bar.ts_ns
            delivered.append(bar if bar.backfilled else msgspec.structs.replace(bar, backfilled=True))
            self.backfilled += 1
        held, self._held, self.holding = self._held, [], False
        rest = self._admit(held)
        return Released(delivered + rest.delivered, rest.out_of_order)

    def _admit(self, items: list[FeedItem]) -> Released:
        delivered: list[FeedItem] = []
        rejected: list[OutOfOrder] = []
        last_seen = self._last
        for item in items:
            kind = _KIND[type(item)]
            key = (kind, item.symbol)
            last = last_seen.get(key)
            if last is not None and item.ts_ns <= last:
                if item.ts_ns == last and kind == "bar":
                    self.duplicates += 1
                    continue
                if item.ts_ns < last:
                    self.out_of_order += 1
                    rejected.append(OutOfOrder(kind, item.symbol, item.ts_ns, last))
                    continue
            last_seen[key] = item.ts_ns
            delivered.append(item)
        return Released(delivered, rejected)
