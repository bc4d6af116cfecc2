"""The actor-side exporters turn running totals into counter increments and rate-limit probes."""

from __future__ import annotations

from cluster.foundation.runtime.bus import PublisherStats, SubscriberStats
from cluster.foundation.runtime.metrics import (
    ALPACA_API_ERRORS,
    ALPACA_WEBSOCKET_CONNECTED,
    BUS_DROPS,
    BUS_SEQUENCE_GAPS,
    POSTGRESQL_UP,
    InMemoryRecorder,
    Metrics,
)
from cluster.foundation.runtime.observability import (
    ApiErrorExporter,
    BusLossExporter,
    DatabaseProbe,
    declare_alpaca_api_errors,
    declare_no_alpaca_feed,
    export_feed_status,
)
from tests.kit.clock import SecondsClock
from tests.kit.repository import FakeRepository


def test_database_probe_when_sampled_twice_within_interval_then_health_is_read_once() -> None:
    rec, repo, clock = InMemoryRecorder(), FakeRepository(), SecondsClock(100.0)
    probe = DatabaseProbe(repo, Metrics(rec), interval_s=1.0, clock=clock)
    assert probe.sample() == 1
    clock.now += 0.5
    assert probe.sample() is None
    assert repo.calls == 1
    repo.up = 0
    clock.now += 0.6
    assert probe.sample() == 0
    assert rec.value(POSTGRESQL_UP) == 0.0


def test_database_probe_when_repository_has_no_health_then_nothing_is_exported() -> None:
    rec = InMemoryRecorder()
    assert DatabaseProbe(object(), Metrics(rec)).sample() is None
    assert rec.value(POSTGRESQL_UP) is None


def test_bus_loss_exporter_when_totals_grow_then_only_the_increase_is_counted() -> None:
    rec = InMemoryRecorder()
    exporter = BusLossExporter(Metrics(rec))
    sub, pub = SubscriberStats(), PublisherStats()
    sub.missing, pub.dropped_messages = 3, 2
    exporter.export({"signals": sub}, {"orders": pub})
    sub.missing, pub.dropped_messages = 5, 2
    exporter.export({"signals": sub}, {"orders": pub})
    assert rec.value(BUS_SEQUENCE_GAPS, topic="signals") == 5.0
    assert rec.value(BUS_DROPS, topic="orders") == 2.0


def test_feed_status_when_replaying_then_connected_is_zero_for_feed_none() -> None:
    rec = InMemoryRecorder()
    metrics = Metrics(rec)
    declare_no_alpaca_feed(metrics)
    assert rec.value(ALPACA_WEBSOCKET_CONNECTED, feed="none") == 0.0
    assert export_feed_status(metrics, "iex", {"connected": True}) is True
    assert rec.value(ALPACA_WEBSOCKET_CONNECTED, feed="iex") == 1.0


def test_api_errors_when_declared_then_series_exists_at_zero_and_grows_by_deltas() -> None:
    rec = InMemoryRecorder()
    metrics = Metrics(rec)
    declare_alpaca_api_errors(metrics)
    assert rec.value(ALPACA_API_ERRORS, status="none", code="none") == 0.0
    exporter = ApiErrorExporter(metrics)
    assert exporter.export({("429", "none"): 2}) == 2
    assert exporter.export({("429", "none"): 3, ("403", "40310000"): 1}) == 2
    assert rec.value(ALPACA_API_ERRORS, status="429", code="none") == 3.0
    assert rec.value(ALPACA_API_ERRORS, status="403", code="40310000") == 1.0
