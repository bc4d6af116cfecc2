"""One multi-node Ray cluster of network namespaces for the multi-node tests of this process.

Node 1 is the head (the drivers run there, as on a real head node); node 2 offers trading_core
(the market-data, risk and execution actors); nodes 3 and 4 offer trading_signals. A test that
loses a node starts a fresh one in a spare namespace (nodes 5 and 6).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from netns_cluster import NetnsCluster  # noqa: E402

HEAD = {"trading_head": 1}
CORE = {"trading_core": 1}
SIGNALS_A = {"trading_signals": 4, "signals_a": 8}
SIGNALS_B = {"trading_signals": 4, "signals_b": 8}
REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "trading-cluster")


@pytest.fixture(scope="session")
def netns_cluster() -> Iterator[NetnsCluster]:
    cluster = NetnsCluster(6).up()
    try:
        cluster.start_ray(1, head=True, num_cpus=1, resources=HEAD)
        cluster.start_ray(2, head=False, resources=CORE)
        cluster.start_ray(3, head=False, resources=SIGNALS_A)
        cluster.start_ray(4, head=False, resources=SIGNALS_B)
        cluster.wait_nodes(4)
        yield cluster
    finally:
        cluster.down()


def cli_json(cluster: NetnsCluster, args: list[str], env: dict[str, str] | None = None,
             timeout_s: float = 600.0) -> dict[str, Any]:
    """Run trading-cluster on the head node and parse its --json summary (the last JSON object printed)."""
    done = cluster.run(1, [CLI, *args, "--json"], timeout_s=timeout_s, env=env)
    if done.returncode != 0:
        raise AssertionError(f"trading-cluster {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout[done.stdout.index("{"):])


def local_cli_json(args: list[str], env: dict[str, str] | None = None, timeout_s: float = 600.0) -> dict[str, Any]:
    """The same command on one node: a local Ray cluster in this network namespace."""
    import os

    full_env = {**os.environ, "RAY_AUTH_MODE": "disabled", **(env or {})}
    done = subprocess.run([CLI, *args, "--json"], capture_output=True, text=True, timeout=timeout_s, env=full_env,
                          cwd=str(REPO))
    if done.returncode != 0:
        raise AssertionError(f"trading-cluster {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout[done.stdout.index("{"):])
