"""Client-side request budget for Alpaca: at most `limit` requests in any `window_s`, plus pauses
ordered by the server (429 with Retry-After or X-RateLimit-Reset).

Why not a classic continuously-refilling token bucket: a full bucket of 200 that refills at
200/min lets 400 requests through in one minute (the burst plus the refill), which trips a
server counting 200 per window. Here each token comes back exactly one window (plus a margin for
network delay) after it was spent: a token bucket whose refill is the expiry of old spends, so no
window ever holds more than `limit` requests, whatever the server's window alignment.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping


class RequestBudget:
    """Pure: decides how long the next request must wait; time comes from an injected clock."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float], margin_s: float | None = None) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"rate limit must be >= 1 per positive window, got {limit}/{window_s}s")
        self.limit = limit
        self.window_s = window_s
        self.margin_s = window_s * 0.05 if margin_s is None else margin_s
        self._clock = clock
        self._spent: deque[float] = deque()
        self._paused_until = 0.0

    def wait_s(self) -> float:
        """0 if a request may go now (and records it); otherwise the seconds to wait first."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        horizon = self.window_s + self.margin_s
        while self._spent and self._spent[0] + horizon <= now:
            self._spent.popleft()
        if len(self._spent) >= self.limit:
            return self._spent[0] + horizon - now
        self._spent.append(now)
        return 0.0

    def pause_until(self, until: float) -> None:
        """The server said stop (429): nobody sends before `until` (clock seconds)."""
        self._paused_until = max(self._paused_until, until)

    def now(self) -> float:
        return self._clock()

    def in_window(self) -> int:
        now = self._clock()
        return sum(1 for t in self._spent if t + self.window_s > now)


def retry_after_s(headers: Mapping[str, str], now_epoch_s: float, default_s: float = 1.0, cap_s: float = 60.0) -> float:
    """Seconds to wait after a 429: Retry-After (seconds) first, then X-RateLimit-Reset (epoch s)."""
    raw = headers.get("Retry-After")
    if raw is not None:
        try:
            return min(cap_s, max(0.0, float(raw)))
        except ValueError:
            pass
    reset = headers.get("X-RateLimit-Reset")
    if reset is not None:
        try:
            return min(cap_s, max(0.0, float(reset) - now_epoch_s))
        except ValueError:
            pass
    return default_s


class AsyncRequestBudget:
    """The asyncio face of RequestBudget: `await acquire()` before every request."""

    def __init__(self, budget: RequestBudget) -> None:
        self.budget = budget
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # FIFO: waiting requests keep their order
            while (delay := self.budget.wait_s()) > 0:
                await asyncio.sleep(delay)

    def pause_for(self, seconds: float) -> None:
        self.budget.pause_until(self.budget.now() + seconds)


def monotonic_budget(limit: int, window_s: float) -> AsyncRequestBudget:
    return AsyncRequestBudget(RequestBudget(limit, window_s, time.monotonic))
