"""The run of a cluster driven from this process (`run`, `replay --cluster`); on the live code path
(Alpaca feed + Alpaca broker) against the bundled simulator unless real keys are configured.

When both Alpaca URLs point at loopback and no keys are set (and alpaca.simulator is "auto"), the
simulator is started as a child process on a free loopback port, serving the configured dates of
the shipped data spread over alpaca.sim_run_seconds; fresh random keys are made for it and handed
to it on stdin (never on a command line, never printed). The run ends by itself once the
simulator reports that all its data is out: the feed is then told to finish, its final batch
flows through the pipeline and the summary is printed. With TRADING_ALPACA__KEY_ID/SECRET_KEY and
the paper URLs the same code talks to Alpaca paper and runs until Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any
from urllib.parse import urlparse

from pydantic import SecretStr

from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.settings import REPO_ROOT, Settings, is_loopback_host
from cluster.foundation.runtime import ray_calls

log = logging.getLogger("trading.live")
END_GRACE_S = 2.0  # after the last release, time for the frames in flight to reach the feed


def wants_simulator(settings: Settings) -> bool:
    a = settings.alpaca
    loopback = all(is_loopback_host(urlparse(u).hostname or "") for u in (a.trading_url, a.data_url))
    return a.simulator == "auto" and loopback and a.key_id is None and a.secret_key is None


class SimulatorProcess:
    """The paced simulator in a child process; ended by its pid."""

    def __init__(self, settings: Settings, seconds: float | None = None, start_timeout_s: float = 60.0,
                 host: str = "127.0.0.1") -> None:
        """host: the address to serve on; a cluster that spans nodes needs this node's address."""
        self.key_id = "sim-" + secrets.token_hex(8)
        self.secret_key = secrets.token_hex(24)
        self.host = host
        md = settings.market_data
        spec = {"host": host, "port": 0, "key_id": self.key_id, "secret_key": self.secret_key,
                "files": [str(settings.resolve(f)) for f in md.files], "start": md.start, "end": md.end,
                "seconds": seconds if seconds is not None else settings.alpaca.sim_run_seconds,
                "cash": str(settings.risk.initial_cash)}
        self.proc = subprocess.Popen([sys.executable, "-m", "alpaca_sim.paced"], cwd=REPO_ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        line = self._read_port_line(start_timeout_s)
        self.port = int(line.split()[1])
        self.url = f"http://{host}:{self.port}"

    def _read_port_line(self, timeout_s: float) -> str:
        import selectors

        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            self.stop()
            raise DependencyDown(f"the simulator did not start within {timeout_s:.0f}s")
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.stop()
            raise DependencyDown(f"the simulator failed to start (exit code {self.proc.poll()})")
        return line

    def configure(self, settings: Settings) -> Settings:
        """The settings pointed at this simulator, with its keys, on event time."""
        alpaca = settings.alpaca.model_copy(update={
            "trading_url": self.url, "data_url": f"ws://{self.host}:{self.port}", "key_id": SecretStr(self.key_id),
            "secret_key": SecretStr(self.secret_key), "simulated": True})
        return settings.model_copy(update={"alpaca": alpaca})

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return dict(self._request(path, body))

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                         headers={"APCA-API-KEY-ID": self.key_id,
                                                  "APCA-API-SECRET-KEY": self.secret_key})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def broker_view(self) -> dict[str, Any]:
        """What the broker itself holds at the end: every order (a client_order_id at most once) and the
        positions, to compare with what the cluster booked."""
        orders = self._request("/v2/orders?status=all&limit=500&direction=asc")
        positions = self._request("/v2/positions")
        ids = [str(o["client_order_id"]) for o in orders]
        return {"orders": len(ids), "distinct_client_order_ids": len(set(ids)),
                "positions": {str(p["symbol"]): str(p["qty"]) for p in positions}}

    def state(self) -> dict[str, Any]:
        return self.admin("/admin/state")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class EndOfData:
    """on_tick hook: when the simulator has released everything, tell the feed to finish (once)."""

    def __init__(self, remaining: Callable[[], int], finish: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic, grace_s: float = END_GRACE_S) -> None:
        self._remaining = remaining
        self._finish = finish
        self._clock = clock
        self._grace_s = grace_s
        self._empty_since: float | None = None
        self.finished = False

    def __call__(self, _stats: dict[str, Any]) -> None:
        if self.finished:
            return
        try:
            left = self._remaining()
        except OSError as exc:
            log.warning("simulator state unavailable: %s", exc)
            return
        if left > 0:
            self._empty_since = None
            return
        now = self._clock()
        if self._empty_since is None:
            self._empty_since = now
        elif now - self._empty_since >= self._grace_s:
            try:
                self._finish()
            except ray_calls.ActorCallError as exc:  # the feed is restarting: tell it on a later tick
                log.warning("could not tell the feed to finish yet: %s", exc)
                return
            self.finished = True


def run_cluster(settings: Settings, address: str | None, live_view: bool, timeout_s: float | None,
                serve_api: bool = False) -> dict[str, Any]:
    """The one run orchestration of a cluster driven from this process (`run` and `replay --cluster`):
    supervisor, control API, feed, status view. With the Alpaca source and no broker configured, the
    bundled simulator is started first; the run then ends when its data does."""
    if settings.market_data.source != "alpaca":
        return _run(settings, address, live_view, timeout_s, None, serve_api)
    host = "127.0.0.1"
    if wants_simulator(settings) and (address or settings.ray.address) != "local":
        # the cluster spans nodes: the simulator serves on this node's address, which the core node reaches
        ray_calls.init_cluster(settings.ray, address)
        host = ray_calls.node_ip()
    sim = SimulatorProcess(settings, host=host) if wants_simulator(settings) else None
    try:
        if sim is not None:
            settings = sim.configure(settings)
            print(f"Alpaca simulator on {host}:{sim.port} ({settings.alpaca.sim_run_seconds:.0f}s of data)",
                  file=sys.stderr)
        return _run(settings, address, live_view, timeout_s, sim, serve_api)
    finally:
        if sim is not None:
            sim.stop()


def _run(settings: Settings, address: str | None, live_view: bool, timeout_s: float | None,
         sim: SimulatorProcess | None, serve_api: bool) -> dict[str, Any]:
    from cluster.app.api_host import control_api
    from cluster.app.status_view import StatusView
    from cluster.app.supervisor import Supervisor

    sup = Supervisor(settings, address)
    try:
        info = sup.start()
        if info.dashboard_url and live_view:
            print(f"Ray dashboard: {info.dashboard_url}  (namespace '{settings.ray.namespace}')", file=sys.stderr)
        view = StatusView(enabled=live_view)
        with control_api(sup, settings) if serve_api else nullcontext() as api:
            if api is not None and live_view:
                print(f"control API: {api.url}  (trading-cluster status | breaker | kill | scale ...)",
                      file=sys.stderr)
            return _trade(sup, view, timeout_s, sim)
    finally:
        sup.shutdown()


def _trade(sup: Any, view: Any, timeout_s: float | None, sim: SimulatorProcess | None) -> dict[str, Any]:
    """Start the feed and run until done; against the simulator, finish when its data has ended."""
    sup.start_feed()
    hooks: list[Callable[[dict[str, Any]], None]] = [view.update]
    if sim is not None:
        md = sup.handles["market_data"]
        hooks.append(EndOfData(lambda: int(sim.state()["remaining"]), lambda: ray_calls.call(md, "finish")))
    with view:
        stats = sup.run_until_done(timeout_s, on_tick=lambda s: [hook(s) for hook in hooks])
    summary = sup.summary(stats)
    if sim is not None:
        try:
            summary["broker"] = sim.broker_view()
        except OSError as exc:
            summary["broker"] = {"unavailable": str(exc)}
    return summary
