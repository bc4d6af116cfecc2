"""Models in a running cluster, end to end with real Ray: retrain as a Ray Job, promote through the
gate (forced when it refuses), hot swap in every signal actor without a gap in the batches,
rollback, and a corrupt artifact refused while the actors keep their model.

Ray Jobs need the dashboard, so the cluster runs in its own process (models_live_driver.py,
RAY_AUTH_MODE=disabled on loopback) that this test drives over stdin/stdout and ends by pid.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from integration_support import free_ports

pytestmark = pytest.mark.integration

DRIVER = Path(__file__).with_name("models_live_driver.py")
REPLY_PREFIX = "@@reply "
SPEED = 250.0  # one real day (08:00-24:00 UTC) in about four minutes: room for a slow job start


class Driver:
    def __init__(self, state_dir: Path) -> None:
        (dashboard_port,) = free_ports(1)
        self.stderr = (state_dir / "driver.err").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(state_dir), str(dashboard_port), str(SPEED)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, bufsize=1,
            cwd=DRIVER.parents[2], env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"},
        )
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(REPLY_PREFIX):
                self.replies.put(json.loads(line[len(REPLY_PREFIX):]))

    def next_reply(self, timeout_s: float) -> dict[str, Any]:
        try:
            return self.replies.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"driver silent for {timeout_s}s (exit code {self.proc.poll()})") from None

    def ask(self, timeout_s: float = 30.0, **command: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer = self.next_reply(timeout_s)
        assert answer["ok"], answer
        return answer["result"]

    def ask_refused(self, **command: Any) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer = self.next_reply(30.0)
        assert not answer["ok"], answer
        return str(answer["error"])

    def stop(self) -> None:
        try:
            if self.proc.poll() is None and self.proc.stdin is not None:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
        except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
            pass
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)  # only the driver we started, by its pid
            self.proc.wait(timeout=10)
        self.stderr.close()


@pytest.fixture
def driver(tmp_path: Path) -> Any:
    started = Driver(tmp_path)
    yield started
    started.stop()


def _wait_for_progress(driver: Driver, past: int, timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        groups = driver.ask(cmd="groups")
        if all(g["batches"] and g["batches"][-1] > past for g in groups.values()):
            return groups
        assert time.monotonic() < deadline, f"signal batches did not pass {past}: {groups}"
        time.sleep(0.5)


def _assert_contiguous(groups: dict[str, Any]) -> None:
    for name, group in groups.items():
        assert group["batches"] == list(range(1, len(group["batches"]) + 1)), f"{name} skipped or repeated a batch"


@pytest.mark.own_cluster
@pytest.mark.timeout(480)
def test_models_when_retrained_promoted_rolled_back_and_corrupted_then_actors_swap_without_gaps(
    driver: Driver, tmp_path: Path
) -> None:
    ready = driver.next_reply(90.0)
    first = ready["live"]
    assert ready["event"] == "ready" and ready["dashboard"].startswith("http://127.0.0.1:")
    groups = _wait_for_progress(driver, past=0)
    assert {g["version"] for g in groups.values()} == {first} and len(groups) == 2

    # Retrain as a Ray Job on the running cluster: a new candidate appears in the registry.
    job = driver.ask(cmd="retrain", timeout_s=300.0)  # includes waiting for a loaded cluster's job agent
    assert job["status"] == "SUCCEEDED", job
    assert job["entrypoint"].startswith("python -m models.train ")
    candidates = [m for m in driver.ask(cmd="models") if m["status"] == "candidate"]
    assert len(candidates) == 1
    second = candidates[0]["version"]
    assert second != first

    # The gate refuses (a margin no model can pass) and records why; a forced promotion goes through.
    refusal = driver.ask_refused(cmd="promote", version=second, margin=1.0)
    assert "not better by the margin" in refusal
    recorded = {m["version"]: m for m in driver.ask(cmd="models")}
    assert recorded[second]["status"] == "candidate" and "not better by the margin" in recorded[second]["reason"]
    before_swap = max(g["batches"][-1] for g in driver.ask(cmd="groups").values())
    promoted = driver.ask(cmd="promote", version=second, force=True, reason="retrained")
    assert "FORCED" in promoted["reason"] and promoted["replaced"] == first
    assert promoted["serving"] == {name: {"ok": True, "version": second} for name in groups}
    groups = _wait_for_progress(driver, past=before_swap)
    assert {g["version"] for g in groups.values()} == {second}
    _assert_contiguous(groups)

    # Rollback restores the first model in every actor.
    back = driver.ask(cmd="rollback")
    assert (back["retired"], back["restored"]) == (second, first)
    assert {s["version"] for s in back["serving"].values()} == {first}

    # A corrupt artifact is refused by every actor, which keeps serving the model it had.
    artifact = tmp_path / "models" / recorded[second]["artifact"]
    artifact.write_bytes(b"not a booster" + artifact.read_bytes()[13:])
    refused = driver.ask(cmd="serve", version=second)
    assert all(not r["ok"] and "altered" in r["error"] for r in refused.values()) and len(refused) == 2
    last = max(g["batches"][-1] for g in driver.ask(cmd="groups").values())
    groups = _wait_for_progress(driver, past=last)
    assert {g["version"] for g in groups.values()} == {first}
    _assert_contiguous(groups)
    for group in groups.values():
        assert set(group["signal_versions"]) <= {first, second}
