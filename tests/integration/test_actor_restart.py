"""kill -9 of an actor's process mid-replay: Ray restarts it and the replay finishes as if nothing happened."""

from __future__ import annotations

import os
import signal
import time

import pytest
from integration_support import cluster_settings, run_once

from cluster.foundation.runtime import ray_calls

pytestmark = pytest.mark.integration

# One real day at 5000x real time: about 9 s, so there is time to kill an actor in the middle.
PACED_DAY = {"start": "2013-10-07", "end": "2013-10-07", "batch_bars": 32, "speed": 5000.0}


def _kill_when_halfway(name: str):
    def during(sup):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = ray_calls.call(sup.handles["market_data"], "stats")
            if stats["batch"] >= 40:
                break
            time.sleep(0.05)
        states = ray_calls.actor_states("trading", [name])
        pid = states[name]["pid"]
        os.kill(pid, signal.SIGKILL)
        during.killed_pid = pid
    return during


@pytest.mark.parametrize("victim", ["signal-g0", "risk", "market_data"])
def test_actor_when_killed_mid_replay_then_restarted_and_summary_equals_uninterrupted_run(
    ray_cluster, tmp_path, victim
):
    # Arrange
    baseline, _ = run_once(cluster_settings(tmp_path / "base", market_data=PACED_DAY))
    kill = _kill_when_halfway(victim)
    # Act
    summary, stats = run_once(cluster_settings(tmp_path / "killed", market_data=PACED_DAY), during=kill)
    # Assert
    assert stats[victim].get("restarted") is True
    for key in ("bars", "signals", "orders", "fills", "realized_pnl", "total_pnl", "positions", "ledger_digest"):
        assert summary[key] == baseline[key], key


def test_execution_when_killed_mid_replay_then_resumes_the_lockstep_and_the_replay_finishes(ray_cluster, tmp_path):
    """The simulated broker lives in the execution process, so its resting orders die with it: the
    restarted actor re-sends each open intent once (same client_order_id) and resumes at the first
    unsettled batch. The outcome may differ from an uninterrupted run; nothing may stall or double."""
    kill = _kill_when_halfway("execution")
    summary, stats = run_once(cluster_settings(tmp_path, market_data=PACED_DAY), during=kill)
    assert stats["execution"]["restarted"] is True
    assert stats["risk"]["done"] is True and summary["sequence_gaps"] == 0
    # every approved order is in the intent log exactly once, and the books balanced after every fill
    from sqlalchemy import create_engine, text

    with create_engine(f"sqlite:///{tmp_path}/trading.db").connect() as conn:
        intents = conn.execute(text("select count(*), count(distinct client_order_id) from order_intents")).one()
    assert intents[0] == intents[1] == stats["risk"]["orders_sent"]
    assert stats["risk"]["invariant_checks"] == stats["risk"]["fills"]
