"""`run` through the simulator across nodes, and what moves when a node is lost mid-run."""

from __future__ import annotations

import json
import socket
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from conftest import CLI, CORE, SIGNALS_A, SIGNALS_B

pytestmark = pytest.mark.multinode
PYTHON = str(Path(sys.executable))
PLACEMENT_PROBE = """
import json, sys, ray
from cluster.foundation.runtime import ray_calls
ray.init(address=sys.argv[1], namespace="trading", logging_level="ERROR")
nodes = ray_calls.node_addresses()
states = ray_calls.actor_states("trading")
print(json.dumps({name: nodes.get(row["node_id"], "?") for name, row in states.items() if row["state"] == "ALIVE"}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _placement(cluster) -> dict[str, str]:
    done = cluster.run(1, [PYTHON, "-c", PLACEMENT_PROBE, cluster.head_address], timeout_s=60)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _run_env(tmp_path: Path) -> dict[str, str]:
    return {"TRADING_ALPACA__SIM_RUN_SECONDS": "50", "TRADING_MARKET_DATA__START": "2013-10-07",
            "TRADING_MARKET_DATA__END": "2013-10-07", "TRADING_SIGNAL__GROUP_SIZE": "1",
            "TRADING_STATE_DIR": str(tmp_path / "state"), "TRADING_CONTROL_API__PORT": str(_free_port())}


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _finish(proc, cluster, log_name: str, timeout_s: float = 400) -> dict:
    proc.wait(timeout_s)
    text = (cluster.work / log_name).read_text()
    assert proc.returncode == 0, text[-4000:]
    return _summary(text)


def _summary(text: str) -> dict:
    """The run's JSON summary: the last object that starts a line (log lines may follow it)."""
    start = text.rindex("\n{") + 1 if "\n{" in text else text.index("{")
    summary, _ = json.JSONDecoder().raw_decode(text, start)
    return summary


def _intents(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*), count(distinct client_order_id) from order_intents").fetchone()


def test_run_when_a_signals_node_is_lost_mid_run_then_its_groups_move_and_no_order_is_doubled(netns_cluster, tmp_path):
    # Arrange: a live run against the simulator, driven from the head; four groups over the signals nodes
    env = _run_env(tmp_path)
    db = tmp_path / "run.db"
    proc = netns_cluster.spawn(1, [CLI, "run", "--address", netns_cluster.head_address, "--json", "--no-api",
                                   "--database", f"sqlite:///{db}"], "run-signals.log", env=env)
    placed = _wait_for(lambda: (p := _placement(netns_cluster)) and sum(k.startswith("signal-") for k in p) == 4
                       and p, 120, "four signal groups placed")
    by_node = {addr: [n for n, a in placed.items() if a == addr and n.startswith("signal-")]
               for addr in (netns_cluster.node(3).address, netns_cluster.node(4).address)}
    lost = 3 if by_node[netns_cluster.node(3).address] else 4
    moved = by_node[netns_cluster.node(lost).address]
    time.sleep(15)  # well into the run
    # Act: every process of that signals node is killed
    netns_cluster.kill_node(lost)
    survivor = netns_cluster.node(7 - lost).address
    _wait_for(lambda: all(_placement(netns_cluster).get(g) == survivor for g in moved), 120,
              f"groups {moved} to move to {survivor}")
    summary = _finish(proc, netns_cluster, "run-signals.log")
    # Assert: the run completed with trades; the broker holds each order once, as the intent log does,
    # and exactly the positions the risk actor booked
    assert summary["fills"] > 0
    broker = summary["broker"]
    assert broker["orders"] == broker["distinct_client_order_ids"] == _intents(db)[1] == _intents(db)[0]
    booked = {p["symbol"]: p["quantity"] for p in summary["positions"]}
    assert {s: float(q) for s, q in broker["positions"].items() if float(q)} == {
        s: float(q) for s, q in booked.items() if float(q)}
    # the lost node comes back as a fresh one, for the tests that follow
    netns_cluster.start_ray(5, head=False, resources=SIGNALS_A if lost == 3 else SIGNALS_B)
    netns_cluster.wait_nodes(4)


def test_run_when_the_core_node_is_lost_and_a_fresh_one_joins_then_singletons_come_back_and_books_equal_the_broker(
        netns_cluster, tmp_path):
    # Arrange
    env = _run_env(tmp_path)
    db = tmp_path / "core.db"
    proc = netns_cluster.spawn(1, [CLI, "run", "--address", netns_cluster.head_address, "--json", "--no-api",
                                   "--database", f"sqlite:///{db}"], "run-core.log", env=env)
    core = netns_cluster.node(2).address
    _wait_for(lambda: (p := _placement(netns_cluster)) and p.get("risk") == core and p.get("market_data") == core,
              120, "the singletons on the core node")
    time.sleep(15)
    # Act: the core node's processes are killed; a fresh core node joins
    netns_cluster.kill_node(2)
    netns_cluster.start_ray(6, head=False, resources=CORE)
    fresh = netns_cluster.node(6).address
    _wait_for(lambda: all(_placement(netns_cluster).get(n) == fresh for n in ("risk", "execution", "market_data")),
              180, "the singletons on the fresh core node")
    summary = _finish(proc, netns_cluster, "run-core.log", timeout_s=600)
    # Assert: trading resumed and finished; no order twice; the books equal the broker's positions
    assert summary["restarts"].get("risk") and summary["restarts"].get("market_data")
    broker = summary["broker"]
    intents = _intents(db)
    assert broker["orders"] == broker["distinct_client_order_ids"] == intents[1] == intents[0]
    booked = {p["symbol"]: float(p["quantity"]) for p in summary["positions"] if float(p["quantity"])}
    assert {s: float(q) for s, q in broker["positions"].items() if float(q)} == booked
