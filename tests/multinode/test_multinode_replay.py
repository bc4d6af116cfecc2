"""A replay across a head, a core node and two signals nodes, each with its own network stack."""

from __future__ import annotations

import json

import pytest
from conftest import cli_json, local_cli_json

pytestmark = pytest.mark.multinode

DAY = ["--data", "data/us_equity_minute_trade_bars.csv", "data/us_equity_minute_quote_bars.csv",
       "--start", "2013-10-07", "--end", "2013-10-07"]
# four groups, two pinned to each signals node, so the data crosses every node boundary
GROUPS = {"TRADING_SIGNAL__GROUP_SIZE": "1", "TRADING_SIGNAL__GROUP_RESOURCES": json.dumps(
    {"g0": {"signals_a": 1}, "g1": {"signals_a": 1}, "g2": {"signals_b": 1}, "g3": {"signals_b": 1}})}


def test_replay_when_actors_span_nodes_and_no_bus_address_is_given_then_same_ledger_as_one_node(
        netns_cluster, tmp_path):
    # Arrange
    env = {**GROUPS, "TRADING_STATE_DIR": str(tmp_path / "state")}
    # Act
    spread = cli_json(netns_cluster, ["replay", *DAY, "--address", netns_cluster.head_address,
                                      "--database", f"sqlite:///{tmp_path}/multi.db"], env=env)
    one = local_cli_json(["replay", *DAY, "--address", "local", "--database", f"sqlite:///{tmp_path}/one.db"],
                         env={"TRADING_SIGNAL__GROUP_SIZE": "1", "TRADING_STATE_DIR": str(tmp_path / "one")})
    # Assert
    assert spread["orders"] > 0 and spread["fills"] > 0
    assert spread["sequence_gaps"] == 0
    assert spread["ledger_digest"] == one["ledger_digest"]
    assert spread["bars"] == one["bars"]
