"""One running cluster (subprocess, with dashboard and metrics agent) and one real Prometheus
scraping it, shared by the observability tests. Both are ended by pid in the fixtures' finally."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("cluster_runner.py")
START_TIMEOUT_S = 90.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "observability: real Prometheus / Ray dashboard against a running cluster")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class RunningCluster:
    metrics_export_port: int
    dashboard_url: str
    namespace: str


@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, expr: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of an instant query; a PromQL parse error is a 400."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def series(self, expr: str) -> list[dict[str, Any]]:
        status, body = self.query(expr)
        assert status == 200, f"{expr}: HTTP {status} {body}"
        return list(body["data"]["result"])

    def wait_for(self, expr: str, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.series(expr)
            if rows or time.monotonic() > deadline:
                return rows
            time.sleep(1.0)


def _stop(proc: subprocess.Popen[str], grace_s: float) -> None:
    if proc.poll() is not None:
        return
    if proc.stdin is not None:
        proc.stdin.close()  # the runner shuts its cluster down in order when stdin closes
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait(10)


@pytest.fixture(scope="session")
def running_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    state = tmp_path_factory.mktemp("observed-cluster")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    log = (state / "runner.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), "--state-dir", str(state), "--dashboard-port", str(free_port())],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=REPO_ROOT,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        ready: dict[str, Any] = {}
        while time.monotonic() < deadline and not ready:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                msg = json.loads(line)
                ready = msg if msg.get("event") == "ready" else {}
        if not ready:
            log.flush()
            pytest.fail(f"cluster runner did not get ready; log tail:\n{(state / 'runner.log').read_text()[-3000:]}")
        yield RunningCluster(int(ready["metrics_export_port"]), ready["dashboard_url"], ready["namespace"])
    finally:
        _stop(proc, grace_s=30.0)
        log.close()


def _prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path:
        return path
    message = "prometheus not found on PATH (install the Debian package `prometheus`)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


def scrape_config(metrics_port: int) -> dict[str, Any]:
    """A static target on the Ray export port, with the relabelling of infra/prometheus/prometheus.yml."""
    shipped = yaml.safe_load((REPO_ROOT / "infra/prometheus/prometheus.yml").read_text())
    ray_job = next(job for job in shipped["scrape_configs"] if job["job_name"] == "ray")
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "ray",
            "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            "metric_relabel_configs": ray_job["metric_relabel_configs"],
        }],
    }


@pytest.fixture(scope="session")
def prometheus(running_cluster: RunningCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = _prometheus_binary()
    work = tmp_path_factory.mktemp("prometheus")
    config = work / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(running_cluster.metrics_export_port)))
    port = free_port()
    log = (work / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        prom = Prometheus(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"prometheus did not start:\n{(work / 'prometheus.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield prom
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
