"""The whole pipeline with CURVE forced on every bus socket (as off loopback): the ledger of the replay
in one process."""

from __future__ import annotations

import os
import signal
import time

import pytest
from integration_support import cluster_settings, run_once

from cluster.app.backtest import InProcessReplay
from cluster.foundation.runtime import ray_calls

pytestmark = pytest.mark.integration

ONE_DAY = {"start": "2013-10-07", "end": "2013-10-07", "batch_bars": 64}


def test_replay_when_every_bus_socket_is_curve_then_same_ledger_as_plain_and_nothing_refused(ray_cluster, tmp_path):
    # Arrange: no keys configured: the supervisor makes them for the run, as `run` and `replay` do
    curve = cluster_settings(tmp_path / "curve", market_data=ONE_DAY, bus={"curve": "always"})
    assert curve.bus.curve_server_secret is None
    seen: dict[str, dict] = {}

    def look(sup):
        for name in ("market_data", "risk", "execution"):
            seen[name] = ray_calls.call(sup.handles[name], "ping", timeout_s=10)

    # Act
    secured, _ = run_once(curve, during=look)
    reference = InProcessReplay(cluster_settings(tmp_path / "local", market_data=ONE_DAY)).run()
    # Assert: every bound channel was a CURVE server, the data went through, nothing was refused
    assert {name: ping["bus_curve"] for name, ping in seen.items()} == {
        "market_data": ["md"], "risk": ["ord", "sig"], "execution": ["rep"]}
    assert secured["orders"] > 0 and secured["sequence_gaps"] == 0
    assert secured["ledger_digest"] == reference["ledger_digest"]
    assert {name: ping["bus_refused"] for name, ping in seen.items()} == {
        "market_data": {}, "risk": {}, "execution": {}}


def test_risk_when_killed_mid_replay_with_curve_then_restarted_with_the_same_keys_and_same_ledger(
        ray_cluster, tmp_path):
    # Arrange: the risk actor binds two CURVE channels; Ray re-runs its constructor with the run's keys
    paced = {"start": "2013-10-07", "end": "2013-10-07", "batch_bars": 32, "speed": 5000.0}
    settings = cluster_settings(tmp_path / "curve", market_data=paced, bus={"curve": "always"})

    def kill_risk_halfway(sup):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ray_calls.call(sup.handles["market_data"], "stats")["batch"] < 40:
            time.sleep(0.05)
        os.kill(ray_calls.actor_states("trading", ["risk"])["risk"]["pid"], signal.SIGKILL)

    # Act
    summary, stats = run_once(settings, during=kill_risk_halfway)
    reference = InProcessReplay(cluster_settings(tmp_path / "local", market_data=paced)).run()
    # Assert: its peers' CURVE clients were admitted again, and nothing was lost or doubled
    assert stats["risk"].get("restarted") is True
    assert summary["ledger_digest"] == reference["ledger_digest"]
