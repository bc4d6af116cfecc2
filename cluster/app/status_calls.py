"""One status call per actor at a time.

The supervisor asks every actor for its status each tick. An actor that is busy (recovering after a
restart, its loop not yet taking calls) may not answer within the round's wait. The next round then
waits again on the call already made instead of queueing another one on that actor every tick, and
every call's outcome is eventually read, so none ends up as an error that nobody took (Ray logs those
as "Unhandled error" when the reference is dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cluster.foundation.runtime import ray_calls


class StatusCalls:
    def __init__(self, methods: Mapping[str, str], default: str = "stats", *,
                 submit: Callable[[Any, str], Any] = ray_calls.submit,
                 wait: Callable[[Any, float], Any] = ray_calls.wait) -> None:
        self._methods = dict(methods)
        self._default = default
        self._submit = submit
        self._wait = wait
        self._pending: dict[str, tuple[Any, Any]] = {}  # actor name -> (handle, call not answered yet)

    @property
    def pending(self) -> list[str]:
        return sorted(self._pending)

    def round(self, handles: Mapping[str, Any], timeout_s: float) -> dict[str, Any]:
        """Each actor's answer, or {"unavailable": reason}; calls are issued together, then awaited."""
        calls: dict[str, Any] = {}
        for name, handle in handles.items():
            held = self._pending.get(name)
            if held is None or held[0] is not handle:  # a new handle: the old call is of no use
                held = (handle, self._submit(handle, self._methods.get(name, self._default)))
                self._pending[name] = held
            calls[name] = held[1]
        for gone in set(self._pending) - set(handles):
            self._pending.pop(gone, None)
        out: dict[str, Any] = {}
        for name, ref in calls.items():
            try:
                out[name] = self._wait(ref, timeout_s)
            except ray_calls.ActorCallError as exc:
                out[name] = {"unavailable": str(exc)}
                if exc.outcome is ray_calls.CallOutcome.TIMEOUT:
                    continue  # still running: the next round waits on this same call
            self._pending.pop(name, None)
        return out
