"""The replay cursor: releases market events in publish-time groups, by step or up to a time."""

from __future__ import annotations

from alpaca_sim.data import MarketEvent
from alpaca_sim.timefmt import parse_rfc3339_ns

_MINUTE_NS = 60 * 1_000_000_000


class Replay:
    """Events sorted by publish time; `now_ns` is the simulator's clock (the last released time)."""

    def __init__(self, events: list[MarketEvent], start: str | None = None) -> None:
        start_ns = parse_rfc3339_ns(start) if start else None
        self._events = [e for e in events if start_ns is None or e.publish_ns >= start_ns]
        self._cursor = 0
        if start_ns is not None:
            self.now_ns = start_ns
        elif self._events:
            self.now_ns = self._events[0].publish_ns - _MINUTE_NS
        else:
            self.now_ns = 0

    @property
    def remaining(self) -> int:
        return len(self._events) - self._cursor

    def next_publish_ns(self) -> int | None:
        return self._events[self._cursor].publish_ns if self._cursor < len(self._events) else None

    def step(self, groups: int = 1) -> list[list[MarketEvent]]:
        """Release the next `groups` distinct publish times."""
        released: list[list[MarketEvent]] = []
        for _ in range(groups):
            ts = self.next_publish_ns()
            if ts is None:
                break
            released.append(self._release_through(ts))
        return released

    def advance_to(self, ts_ns: int) -> list[list[MarketEvent]]:
        """Release every group published at or before `ts_ns`, and move the clock there."""
        released: list[list[MarketEvent]] = []
        while (ts := self.next_publish_ns()) is not None and ts <= ts_ns:
            released.append(self._release_through(ts))
        self.now_ns = max(self.now_ns, ts_ns)
        return released

    def _release_through(self, ts_ns: int) -> list[MarketEvent]:
        group: list[MarketEvent] = []
        while self._cursor < len(self._events) and self._events[self._cursor].publish_ns <= ts_ns:
            group.append(self._events[self._cursor])
            self._cursor += 1
        self.now_ns = max(self.now_ns, ts_ns)
        return group
