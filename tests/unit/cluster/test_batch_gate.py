"""BatchGate: when a stage may act on batch k, and which settlements it books first (pure, no Ray)."""

from __future__ import annotations

import random

import pytest

from cluster.foundation.domain.batch_gate import PIPELINE_DEPTH, BatchGate


def test_gate_when_depth_two_then_batch_k_waits_for_settlement_of_k_minus_two():
    gate: BatchGate[str, str] = BatchGate(2)
    for k in (1, 2, 3):
        gate.offer(k, "md", f"m{k}")
    first, second = gate.release(["md"]), gate.release(["md"])
    assert first is not None and first.batch == 1 and first.parts == {"md": "m1"} and first.reports == []
    assert second is not None and second.batch == 2 and second.reports == []
    assert gate.release(["md"]) is None  # 3 waits for 1
    assert gate.missing(["md"]) == ["settled 1"]
    gate.settle(1, "r1")
    third = gate.release(["md"])
    assert third is not None and third.batch == 3 and third.reports == [(1, "r1")]


def test_gate_when_a_later_settlement_is_already_here_then_it_is_held_until_its_batch():
    gate: BatchGate[None, str] = BatchGate(2)
    for k in (1, 2, 3, 4):
        gate.offer(k, "md", None)
    gate.release(["md"])
    gate.release(["md"])
    gate.settle(1, "r1")
    gate.settle(2, "r2")  # arrives before 3 is decided: must not be booked before 3
    third = gate.release(["md"])
    assert third is not None and third.reports == [(1, "r1")]
    fourth = gate.release(["md"])
    assert fourth is not None and fourth.reports == [(2, "r2")]
    assert gate.applied == 2 and gate.settled == 2


def test_gate_when_inputs_arrive_in_any_order_then_the_schedule_is_the_same():
    """Determinism: whatever the arrival order, batch k is released with the same reports."""
    def run(seed: int) -> list[tuple[int, list[tuple[int, str]]]]:
        rng = random.Random(seed)
        gate: BatchGate[None, str] = BatchGate(PIPELINE_DEPTH)
        pending = [("md", k) for k in range(1, 21)] + [("sig", k) for k in range(1, 21)]
        rng.shuffle(pending)
        done: list[tuple[int, list[tuple[int, str]]]] = []
        while pending or gate.next_batch <= 20:
            if pending and rng.random() < 0.7:
                part, k = pending.pop()
                gate.offer(k, part, None)
            release = gate.release(["md", "sig"])
            if release is not None:
                done.append((release.batch, release.reports))
                gate.settle(release.batch, f"r{release.batch}")  # execution settles in order, at any time
        return done

    schedules = [run(seed) for seed in range(10)]
    assert all(s == schedules[0] for s in schedules)
    assert [k for k, _ in schedules[0]] == list(range(1, 21))
    assert all(reports == ([(k - 2, f"r{k - 2}")] if k > 2 else []) for k, reports in schedules[0])


def test_gate_when_depth_one_then_lockstep():
    gate: BatchGate[None, str] = BatchGate(1)
    gate.offer(1, "md", None)
    gate.offer(2, "md", None)
    assert gate.release(["md"]) is not None
    assert gate.release(["md"]) is None
    gate.settle(1, "r1")
    second = gate.release(["md"])
    assert second is not None and second.reports == [(1, "r1")]


def test_gate_when_depth_zero_then_only_parts_count_and_batches_go_in_order():
    gate: BatchGate[str, None] = BatchGate(0)
    gate.offer(2, "orders", "b2")
    assert gate.release(["orders"]) is None  # 1 first
    gate.offer(1, "orders", "b1")
    assert [r.parts["orders"] for r in (gate.release(["orders"]), gate.release(["orders"])) if r] == ["b1", "b2"]


def test_gate_when_repeated_or_old_inputs_then_ignored():
    gate: BatchGate[str, str] = BatchGate(2)
    assert gate.offer(1, "md", "first") and not gate.offer(1, "md", "again")
    release = gate.release(["md"])
    assert release is not None and release.parts == {"md": "first"}
    assert not gate.offer(1, "md", "late")  # batch 1 was acted on
    assert gate.settle(1, "r1") and not gate.settle(1, "r1 again")


def test_gate_when_settlements_arrive_out_of_order_then_settled_is_the_contiguous_prefix():
    gate: BatchGate[None, str] = BatchGate(2)
    gate.settle(2, "r2")
    assert gate.settled == 0
    gate.settle(1, "r1")
    assert gate.settled == 2


def test_gate_drain_when_final_batch_decided_then_hands_out_every_report_in_order():
    gate: BatchGate[None, str] = BatchGate(2)
    for k in (1, 2):
        gate.offer(k, "md", None)
        gate.release(["md"])
    gate.settle(1, "r1")
    gate.settle(2, "r2")
    assert gate.drain() == [(1, "r1"), (2, "r2")]
    assert gate.drain() == []


def test_gate_restart_at_when_recovering_then_continues_and_drops_older_inputs():
    gate: BatchGate[str, str] = BatchGate(2)
    gate.offer(3, "md", "old")
    gate.offer(6, "md", "m6")
    gate.settle(1, "r1")
    gate.restart_at(6, 4)
    assert gate.next_batch == 6 and gate.applied == 4 and gate.settled == 4
    release = gate.release(["md"])
    assert release is not None and release.batch == 6 and release.parts == {"md": "m6"} and release.reports == []
    assert not gate.settle(4, "r4")


def test_gate_when_negative_depth_then_refused():
    with pytest.raises(ValueError):
        BatchGate(-1)
