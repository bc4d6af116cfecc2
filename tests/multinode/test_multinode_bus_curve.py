"""Off loopback the bus is CURVE: from another machine (network namespace) a subscriber with the
cluster's keys receives market data, one without keys or with its own client key receives nothing,
and the market-data actor counts every refused handshake."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
import zmq
from conftest import CLI

pytestmark = pytest.mark.multinode
PYTHON = str(Path(sys.executable))
SERVER_SECRET = zmq.curve_keypair()[1].decode()  # pinned by the operator (env), so this test knows them
CLIENT_SECRET = zmq.curve_keypair()[1].decode()
LISTEN_S = 8.0

PING = """
import json, sys, ray
ray.init(address=sys.argv[1], namespace="trading", logging_level="ERROR")
print(json.dumps(ray.get(ray.get_actor("market_data").ping.remote(), timeout=30)))
"""

# Three subscribers in one process on another node, listened to together.
LISTEN = """
import json, os, sys, time, zmq
endpoint, seconds = sys.argv[1], float(sys.argv[2])
server_public = zmq.curve_public(os.environ["SERVER_SECRET"].encode())
own = zmq.curve_keypair()[1]
keys = {"keyed": os.environ["CLIENT_SECRET"].encode(), "own client key": own, "plain": None}
ctx = zmq.Context()
subs = {}
for name, secret in keys.items():
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"md.")
    if secret is not None:
        s.curve_serverkey = server_public
        s.curve_secretkey = secret
        s.curve_publickey = zmq.curve_public(secret)
    s.connect(endpoint)
    subs[name] = s
heard = dict.fromkeys(subs, 0)
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    for name, s in subs.items():
        while s.poll(0):
            s.recv_multipart()
            heard[name] += 1
    time.sleep(0.05)
print(json.dumps(heard))
ctx.destroy(linger=0)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _last_json(text: str) -> dict:
    return json.loads([ln for ln in text.splitlines() if ln.startswith("{")][-1])


def _ping(cluster) -> dict:
    done = cluster.run(1, [PYTHON, "-c", PING, cluster.head_address], timeout_s=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return _last_json(done.stdout)


def test_bus_when_a_node_without_the_key_connects_then_it_receives_nothing_and_is_counted(netns_cluster, tmp_path):
    # Arrange: a detached cluster trading one day at 300x, its bus keys pinned by the operator
    env = {"TRADING_MARKET_DATA__SOURCE": "replay", "TRADING_EXECUTION__BROKER": "sim",
           "TRADING_MARKET_DATA__SPEED": "300", "TRADING_MARKET_DATA__START": "2013-10-07",
           "TRADING_MARKET_DATA__END": "2013-10-07", "TRADING_MARKET_DATA__BATCH_BARS": "16",
           "TRADING_STATE_DIR": str(tmp_path / "state"), "TRADING_CONTROL_API__PORT": str(_free_port()),
           "TRADING_DATABASE__URL": f"sqlite:///{tmp_path}/curve.db",
           "TRADING_BUS__CURVE_SERVER_SECRET": SERVER_SECRET, "TRADING_BUS__CURVE_CLIENT_SECRET": CLIENT_SECRET}
    head = netns_cluster.head_address
    started = netns_cluster.run(1, [CLI, "run", "--detach", "--address", head], env=env, timeout_s=300)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        before = _ping(netns_cluster)
        endpoint = before["endpoints"]["md"]
        # Act: subscribe from a fifth machine, which runs no part of the cluster
        listened = netns_cluster.run(5, [PYTHON, "-c", LISTEN, endpoint, str(LISTEN_S)], timeout_s=120,
                                     env={"SERVER_SECRET": SERVER_SECRET, "CLIENT_SECRET": CLIENT_SECRET})
        after = _ping(netns_cluster)
    finally:
        netns_cluster.run(1, [CLI, "stop", "--address", head], env=env, timeout_s=180)
    # Assert: the endpoint is off loopback and CURVE; the keyed subscriber proves it was reachable
    assert listened.returncode == 0, listened.stderr[-2000:]
    heard = _last_json(listened.stdout)
    assert not endpoint.startswith("tcp://127.") and before["bus_curve"] == ["md"]
    assert heard["keyed"] > 0
    assert heard["plain"] == 0 and heard["own client key"] == 0
    # the plain peer: libzmq reports the mechanism mismatch as a protocol error or with no detail, by timing
    assert after["bus_refused"].get("no_curve", 0) + after["bus_refused"].get("handshake_failed", 0) >= 1
    assert after["bus_refused"].get("unknown_client_key", 0) >= 1
