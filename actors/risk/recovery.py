"""Inputs of the batches a restarted risk actor re-runs: kept by the actors that produced them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cluster import ray_calls
from cluster.errors import DependencyDown
from cluster.wire import Bar, OrderUpdate, Signal, SignalBatch, Trade


@dataclass
class RerunInputs:
    marks: dict[int, tuple[list[Bar | Trade], bool]]
    signals: dict[int, list[Signal]]
    reports: dict[int, list[OrderUpdate]]
    settled: int
    later_marks: dict[int, tuple[list[Bar | Trade], bool]]
    later_signals: list[SignalBatch]

    def batch(self, k: int) -> tuple[list[Bar | Trade], bool, list[Signal], list[OrderUpdate]]:
        marks, final = self.marks.get(k, ([], False))
        return marks, final, self.signals.get(k, []), self.reports.get(k, [])


def rerun_inputs(namespace: str, groups: list[str], upto: int, timeout_s: float = 30.0) -> RerunInputs:
    from actors.signal.actor import signal_actor_name

    md = ray_calls.get_actor("market_data", namespace)
    execution = ray_calls.get_actor("execution", namespace)
    if md is None or execution is None:
        raise DependencyDown("risk recovery needs the market-data and execution actors")
    history, _ = ray_calls.call(md, "history", None, 0)
    all_marks = {k: ([m for m in items if isinstance(m, Bar | Trade)], final) for k, items, final in history}
    marks = {k: v for k, v in all_marks.items() if k <= upto}
    later_marks = {k: v for k, v in all_marks.items() if k > upto}
    signals: dict[int, list[Signal]] = {}
    later_signals: list[SignalBatch] = []
    for g in groups:
        actor = ray_calls.get_actor(signal_actor_name(g), namespace)
        if actor is None:
            raise DependencyDown(f"risk recovery needs signal group {g}")
        batches: list[SignalBatch] = ray_calls.call(actor, "signal_history", None)
        for sb in batches:
            if sb.batch <= upto:
                signals.setdefault(sb.batch, []).extend(sb.signals)
            else:
                later_signals.append(sb)
    # Execution settles `upto` soon after it received the order batch: wait for it.
    deadline = time.monotonic() + timeout_s
    while True:
        reports, settled = ray_calls.call(execution, "reports", upto)
        if settled >= upto or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if settled < upto:
        raise DependencyDown(f"execution has not settled batch {upto} within {timeout_s:.0f}s")
    return RerunInputs(marks, signals, reports, settled, later_marks, later_signals)
