"""Retraining as a Ray Job: `python -m models.train ...` run by the cluster's job server.

Jobs go through the dashboard's REST API (it must be running: docs ray-notes section 3). With
token auth (Ray 2.60's default) the token travels as an `Authorization: Bearer` header. The
workers already have the project installed in the same venv, so no runtime_env is sent unless a
working_dir is asked for explicitly. The job's `python` is the one on the node's PATH.
Connection failures become DependencyDown; a job that does not finish in time, TemporaryError.

Secrets never travel in a job: the entrypoint and runtime_env are shown by the dashboard and
`ray job list`. A secret is passed by reference, `env:NAME`, and the job reads it from its own
environment (the cluster's, e.g. filled from a Kubernetes Secret); submit_retrain refuses an
entrypoint that holds a URL with a password.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from cluster.foundation.domain.errors import ConfigError, DependencyDown, TemporaryError
from cluster.foundation.runtime import ray_calls

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


SECRET_REF_PREFIX = "env:"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def secret_ref(env_name: str) -> str:
    """A reference a job resolves with resolve_secret_ref: the variable's name, never its value."""
    if not _ENV_NAME.fullmatch(env_name):
        raise ConfigError(f"{env_name!r} is not an environment variable name")
    return SECRET_REF_PREFIX + env_name


def resolve_secret_ref(value: str, environ: Mapping[str, str] | None = None) -> str:
    """`env:NAME` -> the value of NAME in the (job's) environment; anything else is returned as is."""
    if not value.startswith(SECRET_REF_PREFIX):
        return value
    name = value.removeprefix(SECRET_REF_PREFIX)
    resolved = (os.environ if environ is None else environ).get(name) if _ENV_NAME.fullmatch(name) else None
    if not resolved:
        raise ConfigError(f"{name} is not set in this job's environment: set it where the Ray cluster runs "
                          "(on Kubernetes, from the database Secret)")
    return resolved


def has_password(url: str) -> bool:
    """Whether a URL carries a password in its userinfo (scheme://user:password@host/...)."""
    try:
        parts = urlsplit(url)
        return parts.password is not None and parts.password != ""
    except ValueError:
        return "@" in url and ":" in url.split("@", 1)[0].split("://", 1)[-1]


def ensure_no_secrets(args: Sequence[str]) -> None:
    """ConfigError if an argument is a URL with a password: it would be shown with the job."""
    for arg in args:
        if "://" in arg and has_password(arg):
            scheme = arg.split("://", 1)[0]
            raise ConfigError(f"a {scheme}:// URL with a password would be shown in the job's entrypoint: "
                              f"pass it by reference, e.g. --registry-url {secret_ref('TRADING_DATABASE__URL')}")


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
    """Submit one training run; returns the job (submission) id. Secrets only by reference (env:NAME)."""
    ensure_no_secrets(args)
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
