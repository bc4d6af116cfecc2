"""Pure pieces of supervision: stall detection, the actor lifecycle table, batch assembly per publisher."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cluster.app.progress import StallWatch
from cluster.foundation.domain.batches import BatchAssembler
from cluster.foundation.domain.errors import InvalidTransition
from cluster.foundation.domain.wire import Bar, BatchEnd, Envelope, OrderUpdate
from cluster.foundation.runtime.lifecycle import Lifecycle
from tests.kit.clock import SecondsClock


def test_stall_watch_when_risk_keeps_deciding_then_zero():
    clock = SecondsClock()
    watch = StallWatch(clock)
    for k in range(1, 20):
        clock.now += 1.0
        assert watch.observe(feed_batch=k + 2, next_batch=k) == 0.0


def test_stall_watch_when_feed_is_ahead_and_risk_waits_then_counts_up_and_resets_on_progress():
    clock = SecondsClock()
    watch = StallWatch(clock)
    watch.observe(feed_batch=10, next_batch=7)
    clock.now = 45.0
    assert watch.observe(feed_batch=12, next_batch=7) == 45.0
    assert watch.observe_stats({"market_data": {"batch": 12}, "risk": {"next_batch": 7, "waiting_for": ["x"]}}) == 45.0
    clock.now = 46.0
    assert watch.observe(feed_batch=12, next_batch=8) == 0.0


def test_stall_watch_when_no_data_is_waiting_then_not_a_stall():
    clock = SecondsClock()
    watch = StallWatch(clock)
    watch.observe(feed_batch=6, next_batch=7)
    clock.now = 100.0
    assert watch.observe(feed_batch=6, next_batch=7) == 0.0


def test_lifecycle_when_started_connected_recovered_stopped_then_passes_every_phase():
    life = Lifecycle()
    for trigger in ("connected", "recovered", "stop", "drained"):
        life.trigger(trigger)
    assert life.history == ["starting", "recovering", "running", "draining", "stopped"]


def test_lifecycle_when_a_trigger_is_not_in_the_table_then_invalid_transition_names_it():
    life = Lifecycle()
    with pytest.raises(InvalidTransition, match="starting -> recovered"):
        life.trigger("recovered")
    life.trigger("fail")
    assert life.phase == "failed" and not life.accepting_work


def _bar(symbol: str, minute: int) -> Bar:
    return Bar(symbol, minute * 60_000_000_000, 1.0, 1.0, 1.0, 1.0, 100.0)


def test_batch_assembler_when_a_batch_ends_then_its_items_once():
    asm = BatchAssembler(accept=(Bar,))
    assert asm.add(Envelope("md", 1, 1, [_bar("A", 1)])) == []
    done = asm.add(Envelope("md", 1, 2, [BatchEnd(1, 60_000_000_000)]))
    assert [(end.batch, items) for end, items in done] == [(1, [_bar("A", 1)])]
    # the same batch again (a feed that resumed) is not handed out twice
    assert asm.add(Envelope("md", 1, 3, [_bar("A", 1), BatchEnd(1, 60_000_000_000)])) == []
    assert asm.stats.repeated_batches == 1


def test_batch_assembler_when_publisher_restarts_mid_batch_then_the_partial_batch_is_dropped():
    asm = BatchAssembler(accept=(Bar,))
    asm.add(Envelope("md", 1, 1, [_bar("A", 1)]))  # the old feed died before BatchEnd(1)
    done = asm.add(Envelope("md", 2, 1, [_bar("A", 1), _bar("B", 1), BatchEnd(1, 60_000_000_000)]))
    assert [items for _, items in done] == [[_bar("A", 1), _bar("B", 1)]]
    assert asm.stats.publisher_restarts == 1 and asm.stats.dropped_partial_items == 1


def test_batch_assembler_when_items_are_not_accepted_then_left_out():
    asm = BatchAssembler(accept=(Bar,))
    update = OrderUpdate("c", "b", "A", "buy", "new", Decimal(1), Decimal(0), 0)
    done = asm.add(Envelope("md", 1, 1, [update, _bar("A", 1), BatchEnd(1, 0)]))
    assert [items for _, items in done] == [[_bar("A", 1)]]
