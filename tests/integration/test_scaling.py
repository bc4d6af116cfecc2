"""Re-partitioning symbol groups while the cluster trades: 2 -> 4 -> 1 groups mid-replay."""

from __future__ import annotations

import time

import pytest
from integration_support import cluster_settings, run_once

from cluster.foundation.runtime import ray_calls

pytestmark = pytest.mark.integration

PACED_DAY = {"start": "2013-10-07", "end": "2013-10-07", "batch_bars": 32, "speed": 5000.0}


def _scale_during_replay(steps: list[tuple[int, int]], seen: list[dict]):
    def during(sup):
        for at_batch, groups in steps:
            while ray_calls.call(sup.handles["market_data"], "stats")["batch"] < at_batch:
                time.sleep(0.02)
            seen.append(sup.scale_groups(groups))
    return during


def test_scale_when_groups_change_mid_replay_then_orders_equal_an_unscaled_run(ray_cluster, tmp_path):
    # Arrange
    baseline, _ = run_once(cluster_settings(tmp_path / "base", market_data=PACED_DAY))
    seen: list[dict] = []
    # Act
    summary, stats = run_once(cluster_settings(tmp_path / "scaled", market_data=PACED_DAY),
                              during=_scale_during_replay([(30, 4), (60, 1)], seen))
    # Assert: the partitions happened where asked, with every symbol in exactly one group
    assert [len(s["to_groups"]) for s in seen] == [4, 1]
    for step in seen:
        symbols = [sym for syms in step["to_groups"].values() for sym in syms]
        assert sorted(symbols) == ["AIG", "BAC", "IBM", "SPY"]
    assert seen[0]["effective_batch"] < seen[1]["effective_batch"]
    # only the last generation is alive at the end, and the pipeline never lost a batch
    assert {n for n in stats if n.startswith("signal-")} == {f"signal-{g}" for g in seen[-1]["to_groups"]}
    assert summary["sequence_gaps"] == 0
    # signals continued through both switches and the trading outcome is the unscaled one
    for key in ("bars", "signals", "orders", "fills", "realized_pnl", "total_pnl", "positions", "ledger_digest"):
        assert summary[key] == baseline[key], key


def test_risk_when_killed_after_a_repartition_then_takes_the_current_groups_and_the_replay_finishes(
        ray_cluster, tmp_path):
    """A restarted risk actor must wait for the groups that answer now, not those it was created with."""
    import os
    import signal

    seen: list[dict] = []
    scale = _scale_during_replay([(30, 4)], seen)

    def during(sup):
        scale(sup)
        while ray_calls.call(sup.handles["market_data"], "stats")["batch"] < 60:
            time.sleep(0.02)
        os.kill(ray_calls.actor_states("trading", ["risk"])["risk"]["pid"], signal.SIGKILL)

    # Act
    summary, stats = run_once(cluster_settings(tmp_path, market_data=PACED_DAY), during=during, timeout_s=180)
    # Assert: the run finished after the restart, with every order in the intent log once
    assert stats["risk"]["restarted"] is True and stats["risk"]["done"] is True
    assert sorted(stats["risk"]["groups"]) == sorted(seen[0]["to_groups"])
    from sqlalchemy import create_engine, text

    with create_engine(f"sqlite:///{tmp_path}/trading.db").connect() as conn:
        total, distinct = conn.execute(text("select count(*), count(distinct client_order_id) from order_intents")).one()
    assert total == distinct
