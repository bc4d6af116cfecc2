"""The whole pipeline with CURVE forced on every bus socket (as off loopback): the ledger of the replay
in one process."""

from __future__ import annotations

import pytest
from integration_support import cluster_settings, run_once

from cluster.app.backtest import InProcessReplay
from cluster.foundation import ray_calls

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
