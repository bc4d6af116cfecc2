"""Data but no batch progress: how long the pipeline has waited on one batch while the feed is ahead.

Pure: the supervisor feeds it the feed's last published batch and the risk actor's next batch on
every status round; a pipeline that keeps deciding reads 0, a stalled one counts up, so the stall
shows in `status`, in the logs and as the trading_pipeline_stall_seconds gauge behind an alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

STALL_WARN_S = 30.0
log = logging.getLogger("trading.supervisor")


class StallWatch:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._batch = -1
        self._since = 0.0
        self.seconds = 0.0
        self._reported = False

    def observe(self, feed_batch: int, next_batch: int) -> float:
        now = self._clock()
        if next_batch != self._batch or feed_batch < next_batch:
            self._batch = next_batch
            self._since = now
        self.seconds = now - self._since if feed_batch >= next_batch else 0.0
        return self.seconds

    def observe_stats(self, stats: dict[str, Any]) -> float:
        """From one round of actor stats; logs a stall once it passes STALL_WARN_S, with what risk waits for."""
        feed, risk = stats.get("market_data", {}), stats.get("risk", {})
        if "batch" not in feed or "next_batch" not in risk:
            return self.seconds
        stalled = self.observe(int(feed["batch"]), int(risk["next_batch"]))
        if stalled > STALL_WARN_S and not self._reported:
            self._reported = True
            log.error("pipeline stalled for %.0fs at batch %s: waiting for %s", stalled, risk["next_batch"],
                      ", ".join(risk.get("waiting_for") or ["?"]))
        elif stalled == 0.0:
            self._reported = False
        return stalled
