"""The market-data actor's live source: an Alpaca WebSocket feed cut into bus batches.

The feed (actors/market_data/alpaca_feed.py) reconnects, re-subscribes and backfills by itself, on
an asyncio loop that the actor's loop thread drives (take() and wait()); this pump drains it, cuts
batches with LiveBatcher, records the feed's risk events and exposes the feed's health. Events go
straight to the risk-events store through the actor's own repository: forwarding them to the risk
actor would tie the feed's health reporting to the risk actor being up, which is exactly when it
matters least.

`request_finish()` (any thread) ends the stream: the next take() returns what is left with
final=True. The launcher calls it when the simulator reports the end of its data.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from actors.market_data.alpaca_feed_parse import FeedItem
from actors.market_data.live_batcher import LiveBatcher, MarketItem
from cluster.foundation.domain.records import RiskEvent
from cluster.foundation.domain.settings import Settings
from cluster.foundation.domain.wire import Bar, Quote, Trade
from cluster.foundation.runtime.metrics import ALPACA_WEBSOCKET_CONNECTED, Metrics

SETTLE_NS = 30_000_000  # an instant still arriving within 30 ms is kept together


class FeedPort(Protocol):
    def poll(self, max_items: int = 10_000) -> list[FeedItem]: ...
    def wait(self, timeout_s: float) -> bool: ...
    def take_events(self) -> list[RiskEvent]: ...
    def status(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...


@dataclass(eq=False)
class LiveFeedPump:
    feed: FeedPort
    batcher: LiveBatcher
    record_event: Callable[[RiskEvent], None]
    metrics: Metrics
    feed_label: str
    clock: Callable[[], int] = time.monotonic_ns
    received: int = field(default=0, init=False)
    backfilled_bars: int = field(default=0, init=False)
    event_counts: Counter[str] = field(default_factory=Counter, init=False)
    _finish: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _connected: bool | None = field(default=None, init=False, repr=False)

    def request_finish(self) -> None:
        self._finish.set()

    def take(self) -> tuple[list[list[MarketItem]], bool]:
        """(batches due now, is this the end). Loop thread only."""
        finishing = self._finish.is_set()  # read first: everything polled below is then included
        polled = self.feed.poll()
        items: list[MarketItem] = [i for i in polled if isinstance(i, Bar | Quote | Trade)]
        self.received += len(items)
        self.backfilled_bars += sum(1 for i in items if isinstance(i, Bar) and i.backfilled)
        self.batcher.add(items, self.clock())
        for event in self.feed.take_events():
            self.event_counts[event.event_type] += 1
            self.record_event(event)
        self._export_connected()
        if finishing and not polled:
            return self.batcher.drain(), True
        return self.batcher.cut(self.clock()), False

    def wait(self, timeout_s: float) -> None:
        """Idle until the feed delivers something or timeout_s passes (the feed's connection runs meanwhile)."""
        self.feed.wait(timeout_s)

    def status(self) -> dict[str, Any]:
        return {**self.feed.status(), "received": self.received, "backfilled_bars_published": self.backfilled_bars,
                "waiting": self.batcher.pending, "finishing": self._finish.is_set(),
                "events": dict(self.event_counts)}

    def close(self) -> None:
        self.feed.stop()
        self.metrics.set(ALPACA_WEBSOCKET_CONNECTED, 0.0, feed=self.feed_label)

    def _export_connected(self) -> None:
        connected = bool(self.feed.status()["connected"])
        if connected != self._connected:
            self._connected = connected
            self.metrics.set(ALPACA_WEBSOCKET_CONNECTED, 1.0 if connected else 0.0, feed=self.feed_label)


def open_alpaca_pump(settings: Settings, record_event: Callable[[RiskEvent], None], metrics: Metrics,
                     resume_after: dict[str, int] | None = None) -> LiveFeedPump:
    """An AlpacaFeed on settings.alpaca subscribed to the universe's bars and quotes, started.

    resume_after (symbol -> last bar time already published): a restarted feed backfills from there on
    its first connection and never delivers those bars again."""
    from actors.market_data.alpaca_feed import AlpacaFeed, AlpacaFeedConfig

    universe = tuple(settings.signal.universe)
    config = AlpacaFeedConfig.from_settings(settings.alpaca, bars=universe, quotes=universe)
    md = settings.market_data
    batcher = LiveBatcher(md.batch_bars, md.live_batch_ms * 1_000_000, min(SETTLE_NS, md.live_batch_ms * 1_000_000))
    feed = AlpacaFeed(config)
    if resume_after:
        feed.resume_after(resume_after)
    feed.start()
    return LiveFeedPump(feed, batcher, record_event, metrics, settings.alpaca.feed)
