"""Retraining as a Ray Job: `python -m models.train ...` run by the cluster's job server.

Jobs go through the dashboard's REST API (it must be running: docs ray-notes section 3). With
token auth (Ray 2.60's default) the token travels as an `Authorization: Bearer` header. The
workers already have the project installed in the same venv, so no runtime_env is sent unless a
working_dir is asked for explicitly. The job's `python` is the one on the node's PATH.
Connection failures become DependencyDown; a job that does not finish in time, TemporaryError.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from cluster import ray_calls
from cluster.errors import DependencyDown, TemporaryError

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


class JobClient(Protocol):
    """The part of ray.job_submission.JobSubmissionClient used here."""

    def submit_job(self, *, entrypoint: str, runtime_env: dict[str, Any] | None = None,
                   metadata: dict[str, str] | None = None, entrypoint_num_cpus: float | None = None) -> str: ...

    def get_job_status(self, job_id: str) -> Any: ...

    def get_job_logs(self, job_id: str) -> str: ...


ClientFactory = Callable[[str, dict[str, str] | None], JobClient]


def dashboard_address(dashboard_url: str) -> str:
    """ray.init's dashboard_url has no scheme ('127.0.0.1:8265'); the client needs one."""
    return dashboard_url if "://" in dashboard_url else f"http://{dashboard_url}"


def auth_headers(auth_token: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {auth_token}"} if auth_token else None


def _ray_client(address: str, headers: dict[str, str] | None) -> JobClient:
    client: JobClient = ray_calls.job_submission_client(address, headers)
    return client


def _connect(dashboard_url: str, auth_token: str | None, factory: ClientFactory) -> JobClient:
    address = dashboard_address(dashboard_url)
    try:
        return factory(address, auth_headers(auth_token))
    except ConnectionError as exc:
        raise DependencyDown(f"Ray job server at {address} unreachable (is the dashboard running?): {exc}") from exc


def retrain_entrypoint(args: Sequence[str]) -> str:
    return shlex.join(["python", "-m", "models.train", *args])


def submit_retrain(
    dashboard_url: str,
    args: list[str],
    auth_token: str | None,
    *,
    working_dir: str | None = None,
    num_cpus: float = 1.0,
    client_factory: ClientFactory = _ray_client,
    agent_wait_s: float = 120.0,
) -> str:
    """Submit one training run; returns the job (submission) id."""
    client = _connect(dashboard_url, auth_token, client_factory)
    runtime_env = {"working_dir": working_dir} if working_dir else None
    deadline = time.monotonic() + agent_wait_s
    while True:
        try:
            return client.submit_job(
                entrypoint=retrain_entrypoint(args),
                runtime_env=runtime_env,
                metadata={"kind": "retrain"},
                entrypoint_num_cpus=num_cpus,
            )
        except ConnectionError as exc:
            raise DependencyDown(f"submitting the retrain job to {dashboard_url} failed: {exc}") from exc
        except RuntimeError as exc:
            # A cluster that has just started answers 500 until its job agent is up: wait for it.
            if "No available agent" not in str(exc) or time.monotonic() > deadline:
                raise DependencyDown(f"submitting the retrain job to {dashboard_url} failed: {exc}") from exc
            time.sleep(0.5)


def wait_for_job(
    dashboard_url: str,
    job_id: str,
    auth_token: str | None = None,
    *,
    timeout_s: float = 600.0,
    poll_s: float = 1.0,
    client_factory: ClientFactory = _ray_client,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Poll until the job is SUCCEEDED, FAILED or STOPPED and return that status."""
    client = _connect(dashboard_url, auth_token, client_factory)
    deadline = clock() + timeout_s
    while True:
        reported = client.get_job_status(job_id)
        status = str(getattr(reported, "value", reported))
        if status in TERMINAL_STATUSES:
            return status
        if clock() >= deadline:
            raise TemporaryError(f"job {job_id} still {status} after {timeout_s:.0f} s")
        sleep(poll_s)


def job_logs(
    dashboard_url: str, job_id: str, auth_token: str | None = None, *, client_factory: ClientFactory = _ray_client
) -> str:
    return _connect(dashboard_url, auth_token, client_factory).get_job_logs(job_id)
