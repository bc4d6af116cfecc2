"""kill -9 of an actor's process mid-replay: Ray restarts it and the replay finishes as if nothing happened."""

from __future__ import annotations

import os
import signal
import time

import pytest
from integration_support import cluster_settings, run_once

from cluster import ray_calls

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


@pytest.mark.parametrize("victim", ["signal-g0", "risk"])
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
