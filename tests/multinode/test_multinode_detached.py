"""Detached mode: the CLI that started the cluster exits and trading goes on; another CLI process sees
it in `status` and ends it with `stop`."""

from __future__ import annotations

import json
import socket
import time

import pytest
from conftest import CLI

pytestmark = pytest.mark.multinode


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(cluster, env) -> dict:
    done = cluster.run(1, [CLI, "status", "--json"], env=env, timeout_s=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _supervisor_alive(cluster) -> bool:
    probe = ("import ray,sys; ray.init(address=sys.argv[1], namespace='trading', logging_level='ERROR')\n"
             "try:\n ray.get_actor('supervisor'); print('alive')\nexcept ValueError:\n print('gone')")
    done = cluster.run(1, [str(CLI).replace("trading-cluster", "python"), "-c", probe, cluster.head_address])
    return done.stdout.strip().endswith("alive")


def test_detached_when_the_cli_exits_then_trading_goes_on_and_another_cli_sees_and_stops_it(netns_cluster, tmp_path):
    # Arrange: one real day at 300x real time (about 80 s of trading)
    env = {"TRADING_MARKET_DATA__SOURCE": "replay", "TRADING_EXECUTION__BROKER": "sim",
           "TRADING_MARKET_DATA__SPEED": "300", "TRADING_MARKET_DATA__START": "2013-10-07",
           "TRADING_MARKET_DATA__END": "2013-10-07", "TRADING_MARKET_DATA__BATCH_BARS": "16",
           "TRADING_STATE_DIR": str(tmp_path / "state"), "TRADING_CONTROL_API__PORT": str(_free_port()),
           "TRADING_DATABASE__URL": f"sqlite:///{tmp_path}/detached.db"}
    head = netns_cluster.head_address
    # Act: start detached; the CLI process returns
    started = netns_cluster.run(1, [CLI, "run", "--detach", "--address", head], env=env, timeout_s=300)
    try:
        _check_running_then_stop(netns_cluster, env, head, started)
    finally:  # never leave a detached cluster behind for the next test
        if _supervisor_alive(netns_cluster):
            netns_cluster.run(1, [CLI, "stop", "--address", head], env=env, timeout_s=180)


def _check_running_then_stop(netns_cluster, env, head, started) -> None:
    assert started.returncode == 0, started.stderr[-3000:]
    # Assert: trading goes on without it, seen from a new CLI process
    first = _status(netns_cluster, env)
    time.sleep(4)
    later = _status(netns_cluster, env)
    assert later["feed"]["batch"] > first["feed"]["batch"] > 0
    # a second start says so in one line
    again = netns_cluster.run(1, [CLI, "run", "--detach", "--address", head], env=env, timeout_s=120)
    assert again.returncode == 1
    assert "already running" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    # stop from yet another process ends it and prints the summary
    stopped = netns_cluster.run(1, [CLI, "stop", "--address", head, "--json"], env=env, timeout_s=180)
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    summary = json.loads(stopped.stdout[stopped.stdout.index("{"):])
    assert summary["bars"] > 0 and summary["batches"] >= later["feed"]["batch"]
    assert not _supervisor_alive(netns_cluster)
