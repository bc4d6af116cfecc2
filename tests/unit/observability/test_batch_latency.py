"""trading_tick_to_decision_seconds: arrival of a batch at the risk actor -> its decision, per batch."""

from __future__ import annotations

import pytest

from cluster.foundation.batch_latency import BatchLatency
from cluster.foundation.metrics import (
    ALL_METRICS,
    TICK_TO_DECISION_SECONDS,
    TICK_TO_ORDER_SECONDS,
    InMemoryRecorder,
    Kind,
    Metrics,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _latency(keep: int = 10_000) -> tuple[BatchLatency, InMemoryRecorder, FakeClock]:
    rec, clock = InMemoryRecorder(), FakeClock()
    return BatchLatency(Metrics(rec), TICK_TO_DECISION_SECONDS, clock=clock, keep=keep), rec, clock


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
