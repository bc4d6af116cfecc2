"""A Ray cluster whose nodes are Linux network namespaces on a bridge: each node has its own loopback
and its own address, so a socket bound to 127.0.0.1 on one node cannot be reached from another,
exactly as between two pods or two VMs (CPU, memory and files stay shared).

Needs root and iproute2. Every name carries a random token, so two runs never touch each other's
namespaces; every process is started here and ended here by pid (all pids of a node's namespace),
never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

GCS_PORT = 6390  # never Redis's 6379
VENV_BIN = Path(sys.executable).parent


class NetnsUnavailable(RuntimeError):
    """The machine cannot make network namespaces (not root, no iproute2): say so, never skip silently."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


@dataclass
class Node:
    index: int
    namespace: str
    address: str
    temp_dir: str
    process: subprocess.Popen[bytes] | None = None
    log_path: str = ""

    def pids(self) -> list[int]:
        out = _ip("netns", "pids", self.namespace, check=False).stdout.split()
        return [int(p) for p in out if p.isdigit()]


@dataclass
class NetnsCluster:
    size: int
    token: str = field(default_factory=lambda: secrets.token_hex(2))
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.subnet = f"10.{180 + int(self.token[:2], 16) % 60}.{int(self.token[2:], 16) % 250 + 1}"
        self.bridge = f"tcb{self.token}"
        self.host_address = f"{self.subnet}.1"
        self.work = Path(f"/tmp/tc-{self.token}")

    # ---- network -------------------------------------------------------------------------------

    def up(self) -> NetnsCluster:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise NetnsUnavailable("multi-node tests need root and iproute2 to create network namespaces")
        self.work.mkdir(parents=True, exist_ok=True)
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.host_address}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for i in range(1, self.size + 1):
                ns, veth = f"tcn{self.token}{i}", f"tcv{self.token}{i}"
                address = f"{self.subnet}.{i + 1}"
                _ip("netns", "add", ns)
                _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
                _ip("link", "set", veth, "master", self.bridge, "up")
                _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("-n", ns, "link", "set", "lo", "up")
                self.nodes.append(Node(i, ns, address, str(self.work / f"ray{i}")))
        except subprocess.CalledProcessError as exc:
            self.down()
            raise NetnsUnavailable(f"cannot create network namespaces: {exc.stderr.strip()}") from exc
        return self

    def down(self) -> None:
        for node in self.nodes:
            self.kill_node(node.index)
        for node in self.nodes:
            _ip("link", "del", f"tcv{self.token}{node.index}", check=False)
            _ip("netns", "del", node.namespace, check=False)
        _ip("link", "del", self.bridge, check=False)
        self.nodes.clear()

    def node(self, index: int) -> Node:
        return self.nodes[index - 1]

    # ---- processes -----------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "TRADING_BUS__"))}
        env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
                   PYTHONUNBUFFERED="1")
        return env

    def start_ray(self, index: int, *, head: bool, resources: dict[str, float] | None = None,
                  num_cpus: int = 2) -> Node:
        node = self.node(index)
        cmd = ["ip", "netns", "exec", node.namespace, str(VENV_BIN / "ray"), "start", "--block",
               "--node-ip-address", node.address, "--num-cpus", str(num_cpus), "--temp-dir", node.temp_dir,
               "--disable-usage-stats"]
        if head:
            cmd += ["--head", "--port", str(GCS_PORT), "--include-dashboard=false"]
        else:
            cmd += ["--address", f"{self.head_address}"]
        if resources:
            cmd += ["--resources", json.dumps(resources)]
        node.log_path = str(self.work / f"node{index}.log")
        with open(node.log_path, "wb") as log:
            node.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env(),
                                            start_new_session=True)
        return node

    @property
    def head_address(self) -> str:
        return f"{self.node(1).address}:{GCS_PORT}"

    def wait_nodes(self, count: int, timeout_s: float = 120.0) -> None:
        """Until `count` nodes are alive in the cluster (asked from inside the head's namespace)."""
        deadline = time.monotonic() + timeout_s
        probe = ("import ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "print(sum(1 for n in ray.nodes() if n['Alive']))")
        last = ""
        while time.monotonic() < deadline:
            done = self.run(1, [str(VENV_BIN / "python"), "-c", probe, self.head_address], timeout_s=60)
            last = (done.stdout or "").strip().splitlines()[-1:] and done.stdout.strip().splitlines()[-1]
            if done.returncode == 0 and last.isdigit() and int(last) >= count:
                return
            time.sleep(1.0)
        raise TimeoutError(f"the netns Ray cluster did not reach {count} nodes in {timeout_s:.0f}s (last: {last!r}); "
                           f"logs in {self.work}")

    def run(self, index: int, cmd: list[str], timeout_s: float = 300.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command on a node and wait for it."""
        full_env = {**self.env(), **(env or {})}
        return subprocess.run(["ip", "netns", "exec", self.node(index).namespace, *cmd], capture_output=True,
                              text=True, timeout=timeout_s, env=full_env, cwd=str(Path.cwd()))

    def spawn(self, index: int, cmd: list[str], log_name: str,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a command on a node in the background; its output goes to a log file."""
        full_env = {**self.env(), **(env or {})}
        with open(self.work / log_name, "wb") as log:
            return subprocess.Popen(["ip", "netns", "exec", self.node(index).namespace, *cmd], stdout=log,
                                    stderr=subprocess.STDOUT, env=full_env, start_new_session=True)

    def kill_node(self, index: int) -> list[int]:
        """Lose a node: SIGKILL every process in its namespace (all of them were started here)."""
        node = self.node(index)
        killed = []
        for _ in range(5):
            pids = node.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        if node.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(10)
        return killed
