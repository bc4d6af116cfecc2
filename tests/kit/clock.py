"""Clocks a test sets by hand: no sleeps, no wall time."""

from __future__ import annotations

NS = 1_000_000_000


class FakeClock:
    """Settable clock in UTC nanoseconds, like a test clock in an event engine.

    With `tick_ns` > 0 every reading first moves it forward by that much, so successive readings differ
    (records made one after another get increasing times)."""

    def __init__(self, now_ns: int = 0, tick_ns: int = 0) -> None:
        self.now_ns = now_ns
        self.tick_ns = tick_ns

    def __call__(self) -> int:
        self.now_ns += self.tick_ns
        return self.now_ns

    def advance(self, seconds: float) -> int:
        self.now_ns += int(seconds * NS)
        return self.now_ns


class SecondsClock:
    """Settable monotonic clock in float seconds; `sleep` only moves it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
