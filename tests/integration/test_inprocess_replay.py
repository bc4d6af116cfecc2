"""The replay in one process and the replay on the Ray cluster trade the same orders on the same data."""

from __future__ import annotations

import pytest
from integration_support import cluster_settings, run_once

from cluster.app.backtest import InProcessReplay

pytestmark = pytest.mark.integration

ONE_DAY = {"start": "2013-10-07", "end": "2013-10-07", "batch_bars": 64}
SMALL_SYNTHETIC = {"source": "synthetic", "synthetic_symbols": 12, "synthetic_events_per_s": 20,
                   "synthetic_seconds": 600, "synthetic_seed": 11, "batch_bars": 64}
# Everything but how long it took and where it ran must be equal.
RUN_SPECIFIC = {"wall_seconds", "bars_per_s", "events_per_s", "dashboard_url", "runner", "cpu_s"}


def _compare(tmp_path, market_data: dict) -> tuple[dict, dict]:
    cluster, _ = run_once(cluster_settings(tmp_path / "cluster", market_data=market_data))
    local = InProcessReplay(cluster_settings(tmp_path / "local", market_data=market_data)).run()
    return cluster, local


def test_replay_when_a_shipped_day_then_in_process_and_cluster_give_the_same_ledger(ray_cluster, tmp_path):
    cluster, local = _compare(tmp_path, ONE_DAY)
    assert cluster["runner"] == "ray" and local["runner"] == "in_process"
    assert set(cluster["cpu_s"]) == {"market_data", "risk", "execution", "signal-g0", "signal-g1"}
    assert all(s > 0 for s in cluster["cpu_s"].values()) and local["cpu_s"]["replay"] > 0
    assert cluster["orders"] > 0 and cluster["fills"] > 0
    assert local["ledger_digest"] == cluster["ledger_digest"]
    assert local.keys() == cluster.keys()
    assert {k: v for k, v in local.items() if k not in RUN_SPECIFIC} == \
        {k: v for k, v in cluster.items() if k not in RUN_SPECIFIC}


def test_replay_when_a_small_synthetic_universe_then_in_process_and_cluster_give_the_same_ledger(
    ray_cluster, tmp_path
):
    cluster, local = _compare(tmp_path, SMALL_SYNTHETIC)
    assert cluster["orders"] > 0 and cluster["group_plan"]["groups"] > 1
    assert local["ledger_digest"] == cluster["ledger_digest"]
    assert {k: v for k, v in local.items() if k not in RUN_SPECIFIC} == \
        {k: v for k, v in cluster.items() if k not in RUN_SPECIFIC}
