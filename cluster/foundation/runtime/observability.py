"""Actor-side exporters for the status metrics that are not counted per batch by the cores.

Why a module of its own: the database probe, bus loss counters and the Alpaca feed/REST status are
read from objects that keep their own running totals (repository health, bus stats, REST error
counts). These exporters turn running totals into counter increments and rate-limit the probes, so
the actor shells only call one method per batch. No Ray and no I/O here; clocks are injected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cluster.foundation.runtime.metrics import (
    ALPACA_API_ERRORS,
    ALPACA_WEBSOCKET_CONNECTED,
    BUS_DROPS,
    BUS_SEQUENCE_GAPS,
    POSTGRESQL_UP,
    Metrics,
    MetricSpec,
)

NO_FEED = "none"  # feed label of alpaca_websocket_connected when no Alpaca feed runs (replay, synthetic)
NO_ERROR = "none"  # status/code labels of the zero-initialised alpaca_api_errors_total series


class HasHealth(Protocol):
    def health(self) -> Mapping[str, int | str]: ...


class DatabaseProbe:
    """Sets postgresql_up from the repository's health(), at most once per `interval_s`.

    The value is the write path's `database_up` (1 while the configured database accepts writes);
    a repository without health() (the in-memory one) exports nothing."""

    def __init__(self, repo: object, metrics: Metrics, interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._repo = repo
        self._metrics = metrics
        self._interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self.last_value: int | None = None

    def sample(self) -> int | None:
        """Probe if the interval has passed; returns the value set, None if skipped or unsupported."""
        health = getattr(self._repo, "health", None)
        now = self._clock()
        if health is None or (self._last is not None and now - self._last < self._interval_s):
            return None
        self._last = now
        report = health()
        value = int(report.get("database_up", report.get("postgresql_up", 0)))
        self._metrics.set(POSTGRESQL_UP, value)
        self.last_value = value
        return value


class BusLossExporter:
    """Turns bus stats (running totals) into increments of the gap and drop counters, per topic."""

    def __init__(self, metrics: Metrics, log: logging.Logger | None = None, actor: str = "") -> None:
        self._metrics = metrics
        self._log = log
        self._actor = actor
        self._missing: dict[str, int] = {}
        self._dropped: dict[str, int] = {}

    def export(self, subscribers: Mapping[str, Any] = {}, publishers: Mapping[str, Any] = {}) -> None:  # noqa: B006
        """`subscribers` topic -> SubscriberStats (uses .missing), `publishers` topic -> PublisherStats
        (uses .dropped_messages). Only increases are recorded; a reset total starts over."""
        for topic, stats in subscribers.items():
            self._count(self._missing, topic, int(stats.missing), BUS_SEQUENCE_GAPS,
                        "bus gap on %s: %d envelopes missing", "gap")
        for topic, stats in publishers.items():
            self._count(self._dropped, topic, int(stats.dropped_messages), BUS_DROPS,
                        "bus drops on %s: %d messages dropped", "drop")

    def _count(self, seen: dict[str, int], topic: str, total: int, spec: MetricSpec, message: str,
               kind: str) -> None:
        new = _delta(seen, topic, total)
        if new:
            self._metrics.inc(spec, new, topic=topic)
            if self._log is not None:
                self._log.warning(message, topic, new, extra={"actor": self._actor, "correlation_id": f"{kind}:{topic}"})


def _delta(seen: dict[str, int], key: str, total: int) -> int:
    before = seen.get(key, 0)
    seen[key] = total
    return total - before if total >= before else total


def declare_no_alpaca_feed(metrics: Metrics) -> None:
    """Replay/synthetic: export alpaca_websocket_connected{feed="none"} = 0, so the series exists
    (dashboards and the TradingMetricsMissing-style checks see it) without meaning a lost feed."""
    metrics.set(ALPACA_WEBSOCKET_CONNECTED, 0, feed=NO_FEED)


def export_feed_status(metrics: Metrics, feed: str, status: Mapping[str, Any]) -> bool:
    """Call once per batch (or per status change) with AlpacaFeed.status(); returns `connected`."""
    connected = bool(status.get("connected"))
    metrics.set(ALPACA_WEBSOCKET_CONNECTED, 1 if connected else 0, feed=feed)
    return connected


def declare_alpaca_api_errors(metrics: Metrics) -> None:
    """Zero-initialise alpaca_api_errors_total{status="none",code="none"} so the family is exported
    even before (or without) any Alpaca REST failure."""
    metrics.declare(ALPACA_API_ERRORS, status=NO_ERROR, code=NO_ERROR)


class ApiErrorExporter:
    """Exports increases of a REST client's error totals keyed by (status, code)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._seen: dict[str, int] = {}

    def export(self, totals: Mapping[tuple[str, str], int] | None) -> int:
        """Returns how many new errors were recorded."""
        if not totals:
            return 0
        recorded = 0
        for (status, code), total in list(totals.items()):
            new = _delta(self._seen, f"{status}/{code}", int(total))
            if new:
                self._metrics.inc(ALPACA_API_ERRORS, new, status=status, code=code)
                recorded += new
        return recorded
