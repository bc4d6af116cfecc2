"""trading_tick_to_decision_seconds: arrival of a batch at the risk actor -> its decision, per batch."""

from __future__ import annotations

import pytest

from cluster.foundation.runtime.batch_latency import BatchLatency
from cluster.foundation.runtime.metrics import (
    ALL_METRICS,
    TICK_TO_DECISION_SECONDS,
    TICK_TO_ORDER_SECONDS,
    InMemoryRecorder,
    Kind,
    Metrics,
)
from tests.kit.clock import FakeClock, SecondsClock


def _latency(keep: int = 10_000) -> tuple[BatchLatency, InMemoryRecorder, SecondsClock]:
    rec, clock = InMemoryRecorder(), SecondsClock(100.0)
    return BatchLatency(Metrics(rec), TICK_TO_DECISION_SECONDS, clock=clock, keep=keep), rec, clock


def test_batch_when_arrived_then_its_wall_time_is_kept_for_execution_until_decided() -> None:
    """The order batch carries the wall-clock arrival, from which execution measures tick-to-order."""
    wall = FakeClock(1_700_000_000_000_000_000, tick_ns=1_000)
    lat = BatchLatency(Metrics(InMemoryRecorder()), TICK_TO_DECISION_SECONDS, clock=SecondsClock(), keep=2,
                       wall_ns=wall)
    lat.arrived(1)
    lat.arrived(1)  # a copy sent again does not move it
    assert lat.arrived_wall_ns(1) == 1_700_000_000_000_001_000
    assert lat.arrived_wall_ns(9) == 0  # never seen: not measured
    lat.done(1)
    assert lat.arrived_wall_ns(1) == 0
    for k in (2, 3, 4):
        lat.arrived(k)
    assert (lat.arrived_wall_ns(2), lat.waiting) == (0, 2)  # forgotten with the oldest


def test_batch_when_decided_then_arrival_to_decision_is_observed_once() -> None:
    lat, rec, clock = _latency()
    lat.arrived(1)
    clock.now += 0.004
    lat.arrived(2)
    clock.now += 0.003
    assert lat.done(1) == pytest.approx(0.007)
    assert lat.done(2) == pytest.approx(0.003)
    assert lat.done(2) is None  # a batch is decided once
    assert rec.observed(TICK_TO_DECISION_SECONDS) == pytest.approx([0.007, 0.003])
    assert lat.waiting == 0


def test_batch_when_sent_again_then_first_arrival_counts() -> None:
    lat, rec, clock = _latency()
    lat.arrived(5)
    clock.now += 0.010
    lat.arrived(5)  # a restarted feed sends it again
    clock.now += 0.002
    lat.done(5)
    assert rec.observed(TICK_TO_DECISION_SECONDS) == pytest.approx([0.012])


def test_batch_when_arrival_not_seen_then_nothing_is_observed() -> None:
    lat, rec, _ = _latency()
    assert lat.done(7) is None  # re-run from history after a restart
    assert rec.observed(TICK_TO_DECISION_SECONDS) == []


def test_batches_when_never_decided_then_only_the_newest_are_kept() -> None:
    lat, rec, _ = _latency(keep=3)
    for k in range(1, 6):
        lat.arrived(k)
    assert lat.waiting == 3
    assert lat.done(1) is None and lat.done(2) is None
    assert lat.done(5) == 0.0
    assert rec.observed(TICK_TO_DECISION_SECONDS) == [0.0]


def test_keep_when_not_positive_then_rejected() -> None:
    with pytest.raises(ValueError, match="keep"):
        _latency(keep=0)


def test_tick_histograms_when_defined_then_fine_around_the_5ms_goal_and_exported() -> None:
    assert TICK_TO_DECISION_SECONDS in ALL_METRICS
    for spec in (TICK_TO_DECISION_SECONDS, TICK_TO_ORDER_SECONDS):
        assert spec.kind is Kind.HISTOGRAM
        assert {0.001, 0.005, 0.01} <= set(spec.boundaries)
        assert sum(1 for b in spec.boundaries if b <= 0.005) >= 4
    assert TICK_TO_DECISION_SECONDS.exported_name == "ray_trading_tick_to_decision_seconds"
