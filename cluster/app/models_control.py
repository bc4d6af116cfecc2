"""Operating the models of a running cluster: list, promote, roll back, serve, retrain.

The registry (models/registry.py) decides which version is live; after a promotion or a rollback
every signal actor is told to load the live version itself (SignalActor.use_model), which swaps it
between two batches. A signal actor that Ray restarts later loads the live version on its own.
Retraining runs `python -m models.train` as a Ray Job through the cluster's dashboard; the token
for Ray 2.60's token auth is chosen deliberately from settings.ray.auth_mode (ray-notes 3b):
'disabled' sends none, 'token' sends RAY_AUTH_TOKEN, else the file RAY_AUTH_TOKEN_PATH, else
~/.ray/auth_token, and refuses to guess when none exists.

These functions are what the ControlPlane's models()/promote_model()/rollback_model() call; the
ones that reach actors must run in a process connected to the cluster (the supervisor's driver).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import RaySettings, Settings, is_wildcard_host
from cluster.foundation.runtime import ray_calls
from models.registry import DEFAULT_PROMOTION_MARGIN, ModelRecord, registry_from_settings

SIGNAL_PREFIX = "signal-"
SERVE_TIMEOUT_S = 30.0
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"

Submit = Callable[..., str]
Wait = Callable[..., str]


def model_row(record: ModelRecord) -> dict[str, Any]:
    """A registry record as the control API shows it (metrics reduced to the gate's aggregate)."""
    return {
        "version": record.version, "status": record.status, "created_at_ns": record.created_at_ns,
        "gate_metric": record.gate_value(), "reason": record.reason, "previous_live": record.previous_live,
        "data_range": record.data_range, "feature_hash": record.feature_hash, "artifact": record.artifact_path,
    }


def list_models(settings: Settings) -> list[dict[str, Any]]:
    registry = registry_from_settings(settings)
    try:
        return [model_row(r) for r in registry.list_versions()]
    finally:
        registry.close()


def promote(
    settings: Settings, version: str, by: str, reason: str, *, force: bool = False,
    margin: float = DEFAULT_PROMOTION_MARGIN,
) -> dict[str, Any]:
    """Promote through the gate, then make every signal actor serve the new live version.

    A refusal is recorded in the registry (reason and audit row) and raised as ConfigError."""
    registry = registry_from_settings(settings)
    try:
        result = registry.promote(version, by, reason, margin=margin, force=force)
    finally:
        registry.close()
    if not result.promoted:
        raise ConfigError(result.reason)
    return {**asdict(result), "serving": serve(settings, None)}


def rollback(settings: Settings, by: str, reason: str) -> dict[str, Any]:
    """Retire the live version, restore the one it replaced, and serve that one everywhere."""
    registry = registry_from_settings(settings)
    try:
        result = registry.rollback(by, reason)
    finally:
        registry.close()
    return {**asdict(result), "serving": serve(settings, None)}


def signal_actor_names(namespace: str) -> list[str]:
    states = ray_calls.actor_states(namespace)
    return sorted(n for n, row in states.items() if n.startswith(SIGNAL_PREFIX) and row.get("state") == "ALIVE")


def serve(settings: Settings, version: str | None, timeout_s: float = SERVE_TIMEOUT_S) -> dict[str, dict[str, Any]]:
    """Tell every live signal actor to serve `version` (None: the registry's live one).

    Per actor {"ok": True, "version": v} or {"ok": False, "error": why}; an actor that refuses
    (missing or altered artifact) keeps its model. Without a cluster connection: {}."""
    if not ray_calls.is_initialized():
        return {}
    ns = settings.ray.namespace
    refs: dict[str, Any] = {}
    for name in signal_actor_names(ns):
        handle = ray_calls.get_actor(name, ns)
        if handle is not None:
            refs[name] = ray_calls.submit(handle, "use_model", version)
    outcome: dict[str, dict[str, Any]] = {}
    for name, ref in refs.items():
        try:
            outcome[name] = {"ok": True, "version": ray_calls.wait(ref, timeout_s)}
        except ray_calls.ActorCallError as exc:
            outcome[name] = {"ok": False, "error": str(exc)}
    return outcome


# ---- retraining as a Ray Job ------------------------------------------------------------------


def dashboard_url(ray: RaySettings, address: str | None = None) -> str:
    """The job server: an explicit address wins, else the dashboard the cluster was started with."""
    if address:
        return address if "://" in address else f"http://{address}"
    if not ray.include_dashboard:
        raise ConfigError("ray.include_dashboard is false: Ray Jobs need the dashboard; pass --address of one")
    host = "127.0.0.1" if is_wildcard_host(ray.dashboard_host) else ray.dashboard_host.strip()
    return f"http://{f'[{host}]' if ':' in host else host}:{ray.dashboard_port}"


def resolve_auth_token(ray: RaySettings, environ: Mapping[str, str], home: Path) -> str | None:
    if ray.auth_mode == "disabled":
        return None
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = Path(environ[TOKEN_PATH_ENV]) if environ.get(TOKEN_PATH_ENV) else home / ".ray" / "auth_token"
    if path.is_file() and (text := path.read_text().strip()):
        return text
    raise ConfigError(f"ray.auth_mode is 'token' but no token was found: set {TOKEN_ENV}, or {TOKEN_PATH_ENV} to the "
                      f"token file, or run where the cluster wrote {path} (ray get-auth-token)")


DATABASE_URL_ENV = "TRADING_DATABASE__URL"


def retrain_args(settings: Settings, args: Sequence[str]) -> list[str]:
    """Training arguments, completed so the job registers into the cluster's own registry."""
    from cluster.foundation.storage.factory import database_url
    from models.jobs import has_password, secret_ref

    out = list(args)
    if "--registry-url" not in out:
        url = database_url(settings)
        # A password must not reach the job's entrypoint (the dashboard shows it): the job reads the
        # URL from the cluster's own environment instead.
        out += ["--registry-url", secret_ref(DATABASE_URL_ENV) if has_password(url) else url]
    if "--model-dir" not in out:
        out += ["--model-dir", str(settings.resolve(settings.signal.model_dir))]
    if "--no-progress" not in out:
        out.append("--no-progress")  # job logs are files, not terminals
    return out


def retrain(
    settings: Settings,
    args: Sequence[str],
    *,
    address: str | None = None,
    wait: bool = False,
    timeout_s: float = 600.0,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    submit: Submit | None = None,
    wait_for: Wait | None = None,
) -> dict[str, Any]:
    """Submit a training run to the cluster's job server; with wait=True, poll it to the end.

    Returns {"job_id", "address", "entrypoint", "status"}; status is "SUBMITTED" without wait."""
    from models import jobs

    url = dashboard_url(settings.ray, address)
    token = resolve_auth_token(settings.ray, os.environ if environ is None else environ, home or Path.home())
    train_args = retrain_args(settings, args)
    job_id = (submit or jobs.submit_retrain)(url, train_args, token)
    status = "SUBMITTED"
    if wait:
        status = (wait_for or jobs.wait_for_job)(url, job_id, token, timeout_s=timeout_s)
    return {"job_id": job_id, "address": url, "entrypoint": jobs.retrain_entrypoint(train_args), "status": status}
