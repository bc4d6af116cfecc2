"""Helpers for the market-data feed tests: a feed pointed at the simulator, waiting and draining."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from actors.market_data.alpaca_feed import AlpacaFeed, AlpacaFeedConfig
from actors.market_data.alpaca_feed_parse import FeedItem
from cluster.foundation.domain.records import RiskEvent
from tests.alpaca.conftest import RunningSim


def feed_config(sim: RunningSim, **changes: Any) -> AlpacaFeedConfig:
    base: dict[str, Any] = {
        "stream_url": f"ws://127.0.0.1:{sim.port}", "key_id": sim.config.key_id,
        "secret_key": sim.config.secret_key, "reconnect_delay_s": 0.3, "reconnect_max_s": 1.0,
        "handshake_timeout_s": 3.0,
    }
    base.update(changes)
    return AlpacaFeedConfig(**base)


class EventSink:
    """The feed's event callback: remembers every event (called on the thread that drives the feed)."""

    def __init__(self) -> None:
        self.events: list[RiskEvent] = []

    def __call__(self, event: RiskEvent) -> None:
        self.events.append(event)

    def of_type(self, event_type: str) -> list[RiskEvent]:
        return [e for e in self.events if e.event_type == event_type]


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


def wait_feed(feed: AlpacaFeed, condition: Callable[[], bool], timeout_s: float = 10.0,
              what: str = "condition") -> None:
    """As wait_for, driving the feed's loop between checks, as its owner (the market-data loop) does."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        feed.wait(0.02)


def drain(feed: AlpacaFeed, into: list[FeedItem], until: Callable[[list[FeedItem]], bool],
          timeout_s: float = 10.0) -> list[FeedItem]:
    """Poll the feed into `into` until `until(into)` holds."""
    def done() -> bool:
        into.extend(feed.poll())
        return until(into)

    wait_feed(feed, done, timeout_s, "feed items")
    return into


def iso_ns(text: str) -> int:
    """Independent of the code under test: datetime handles the whole-second CSV stamps."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 1_000_000_000


def csv_bars(path: Path, symbols: set[str], first: str, last: str) -> list[dict[str, str]]:
    """CSV rows of `symbols` with first <= timestamp <= last (RFC-3339 strings compare in time order)."""
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["symbol"] in symbols and first <= r["timestamp"] <= last]
