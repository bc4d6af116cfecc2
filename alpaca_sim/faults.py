"""Injected faults and the server-side rate limit, both decided by pure objects with a clock.

Faults are set through POST /admin/faults (JSON) or the config, e.g.
  {"status": 500, "count": 2, "match": "POST /v2/orders", "after_handler": true}
  {"status": 429, "seconds": 1.5}
  {"latency_ms": 200}, {"reject_auth": true}, {"drop_websockets": true}, {"clear": true}
`after_handler` runs the request first and then answers with the error, as when a response is
lost after the broker acted: the case that makes blind order retries create duplicates.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpFault:
    status: int
    remaining: int | None  # requests left to fail; None = until `until_s`
    until_s: float | None
    match: str  # "" = every request, else "METHOD /path-prefix"
    after_handler: bool

    def applies(self, method: str, path: str, now_s: float) -> bool:
        if self.until_s is not None and now_s >= self.until_s:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        if not self.match:
            return True
        want_method, _, want_path = self.match.partition(" ")
        return method == want_method.upper() and path.startswith(want_path)


@dataclass(frozen=True, slots=True)
class FaultDecision:
    status: int
    after_handler: bool
    reset_s: float  # when the fault window ends (for 429 headers)


class FaultPlan:
    """The faults in force; `take` consumes one count of the first fault that applies."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._http: list[HttpFault] = []
        self.latency_s = 0.0
        self.reject_auth = False

    def configure(self, spec: dict[str, Any]) -> bool:
        """Apply one admin request; returns True when websockets must be dropped now.

        Raises ValueError naming the field on any value out of range (checked before anything
        changes, so a bad request leaves the plan as it was)."""
        latency = None if "latency_ms" not in spec else _number(spec["latency_ms"], "latency_ms", 0, 60_000)
        fault = self._http_fault(spec) if "status" in spec else None
        if spec.get("clear"):
            self._http.clear()
            self.latency_s = 0.0
            self.reject_auth = False
        if latency is not None:
            self.latency_s = latency / 1000
        if "reject_auth" in spec:
            self.reject_auth = bool(spec["reject_auth"])
        if fault is not None:
            self._http.append(fault)
        return bool(spec.get("drop_websockets"))

    def _http_fault(self, spec: dict[str, Any]) -> HttpFault:
        status = int(_number(spec["status"], "status", 400, 599))
        count, seconds = spec.get("count"), spec.get("seconds")
        if count is None and seconds is None:
            raise ValueError("a status fault needs 'count' or 'seconds'")
        match = spec.get("match", "")
        if not isinstance(match, str):
            raise ValueError("match must be a string like 'POST /v2/orders'")
        return HttpFault(
            status=status,
            remaining=None if count is None else int(_number(count, "count", 0, 1_000_000_000)),
            until_s=None if seconds is None else self._clock() + _number(seconds, "seconds", 0, 86_400),
            match=match,
            after_handler=bool(spec.get("after_handler", False)),
        )

    def take(self, method: str, path: str) -> FaultDecision | None:
        now = self._clock()
        for index, fault in enumerate(self._http):
            if not fault.applies(method, path, now):
                continue
            if fault.remaining is not None:
                self._http[index] = HttpFault(
                    fault.status, fault.remaining - 1, fault.until_s, fault.match, fault.after_handler
                )
            reset = fault.until_s if fault.until_s is not None else now
            return FaultDecision(fault.status, fault.after_handler, reset)
        return None


def _number(raw: object, name: str, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
    return float(raw)


@dataclass(frozen=True, slots=True)
class RateVerdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float  # epoch seconds when the current window ends


class FixedWindowRateLimit:
    """`limit` requests per `window_s` per key, in fixed windows opened by a key's first request."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self.rejected = 0
        self.recent: deque[float] = deque(maxlen=10_000)

    def check(self, key: str) -> RateVerdict:
        now = self._clock()
        start, used = self._windows.get(key, (now, 0))
        if now >= start + self.window_s:
            start, used = now, 0
        if used >= self.limit:
            self.rejected += 1
            return RateVerdict(False, self.limit, 0, start + self.window_s)
        self._windows[key] = (start, used + 1)
        self.recent.append(now)
        return RateVerdict(True, self.limit, self.limit - used - 1, start + self.window_s)
