"""Time from a batch's arrival to the moment an actor is done with it, observed into a histogram.

The risk actor uses it for trading_tick_to_decision_seconds: `arrived(k)` when market data batch k is
complete there (its BatchEnd was read), `done(k)` when the order batch of k has been sent, which is
the decision, with or without orders. Every decided batch is one observation, so the histogram has a
sample per batch (tens per second live), not only per order.

Pure: the monotonic clock is injected; observations go through the Metrics facade. A batch that is
never done (a restart re-runs it from history) is forgotten once `keep` newer batches have arrived.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cluster.foundation.runtime.metrics import Metrics, MetricSpec


@dataclass(eq=False)
class BatchLatency:
    metrics: Metrics
    spec: MetricSpec
    clock: Callable[[], float] = time.perf_counter
    keep: int = 10_000
    wall_ns: Callable[[], int] = time.time_ns
    _arrived: OrderedDict[int, float] = field(default_factory=OrderedDict, init=False, repr=False)
    _arrived_wall: dict[int, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError(f"keep must be >= 1, got {self.keep}")

    @property
    def waiting(self) -> int:
        return len(self._arrived)

    def arrived(self, batch: int) -> None:
        """Batch `batch` is here (the first arrival counts: a copy sent again after a restart does not)."""
        if batch in self._arrived:
            return
        self._arrived[batch] = self.clock()
        self._arrived_wall[batch] = self.wall_ns()
        while len(self._arrived) > self.keep:
            self._arrived_wall.pop(self._arrived.popitem(last=False)[0], None)

    def arrived_wall_ns(self, batch: int) -> int:
        """Wall-clock time of `batch`'s arrival (for a later process to measure from); 0 if not seen."""
        return self._arrived_wall.get(batch, 0)

    def done(self, batch: int) -> float | None:
        """Observe arrival -> now for `batch` and return it in seconds; None if its arrival was not seen."""
        start = self._arrived.pop(batch, None)
        self._arrived_wall.pop(batch, None)
        if start is None:
            return None
        seconds = max(0.0, self.clock() - start)
        self.metrics.observe(self.spec, seconds)
        return seconds
