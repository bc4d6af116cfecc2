"""Model operations without Ray: live-model loading from settings, promote/rollback through the
registry, and the retrain job's address, token and arguments (hand-written job fakes)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cluster.app.models_control import (
    dashboard_url,
    list_models,
    promote,
    resolve_auth_token,
    retrain,
    rollback,
)
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import Settings, load_settings
from models.registry import load_live_model, registry_from_settings
from models.train import GATE_METRIC, TrainResult


def _settings(url: str, model_dir: Path, **ray: Any) -> Settings:
    base = load_settings()
    return base.model_copy(update={
        "database": base.database.model_copy(update={"url": SecretStr(url)}),
        "signal": base.signal.model_copy(update={"strategy": "model", "model_dir": str(model_dir)}),
        "ray": base.ray.model_copy(update=ray),
    })


def _register(settings: Settings, artifact: Path, trained: TrainResult, gate: float) -> str:
    metrics = copy.deepcopy(trained.metrics)
    metrics["aggregate"][GATE_METRIC] = gate
    registry = registry_from_settings(settings)
    try:
        return registry.register_candidate(artifact, trained.params, "2013-10-04..2013-10-11", metrics).version
    finally:
        registry.close()


@pytest.fixture
def settings(migrated_url: str, tmp_path: Path) -> Settings:
    return _settings(migrated_url, tmp_path / "models")


def test_load_live_model_when_nothing_is_live_then_config_error_says_train_promote_or_use_baseline(
    settings: Settings, artifact: Path, trained: TrainResult
) -> None:
    _register(settings, artifact, trained, 0.6)  # a candidate only
    with pytest.raises(ConfigError) as refused:
        load_live_model(settings)
    message = str(refused.value)
    assert "no live model" in message and "promote" in message and "rule_baseline" in message


def test_load_live_model_when_a_version_is_promoted_then_that_version_serves(
    settings: Settings, artifact: Path, trained: TrainResult
) -> None:
    version = _register(settings, artifact, trained, 0.6)
    result = promote(settings, version, "ops", "first model")
    model = load_live_model(settings)
    assert result["promoted"] and result["serving"] == {}  # no cluster connected: nothing to tell
    assert model.version == version


def test_promote_when_gate_refuses_then_config_error_and_reason_recorded_in_registry(
    settings: Settings, artifact: Path, trained: TrainResult, tmp_path: Path
) -> None:
    first = _register(settings, artifact, trained, 0.60)
    promote(settings, first, "ops", "first model")
    second_artifact = tmp_path / "second.json"  # same trees, other bytes: another version
    trained.booster.save_model(str(second_artifact))
    second = _register(settings, second_artifact, trained, 0.605)  # not better by the 0.01 margin
    with pytest.raises(ConfigError, match="not better by the margin"):
        promote(settings, second, "ops", "try")
    rows = {row["version"]: row for row in list_models(settings)}
    assert rows[second]["status"] == "candidate" and "not better by the margin" in rows[second]["reason"]
    forced = promote(settings, second, "ops", "override", force=True)
    assert forced["promoted"] and "FORCED" in forced["reason"] and forced["replaced"] == first


def test_rollback_when_second_model_live_then_first_serves_again(
    settings: Settings, artifact: Path, trained: TrainResult, tmp_path: Path
) -> None:
    first = _register(settings, artifact, trained, 0.60)
    promote(settings, first, "ops", "first")
    second_artifact = tmp_path / "second.json"  # same trees, other bytes: another version
    trained.booster.save_model(str(second_artifact))
    second = _register(settings, second_artifact, trained, 0.70)
    promote(settings, second, "ops", "better")
    result = rollback(settings, "ops", "worse live")
    assert (result["retired"], result["restored"]) == (second, first)
    assert load_live_model(settings).version == first


def test_resolve_auth_token_when_disabled_then_none_even_with_a_token_around(tmp_path: Path) -> None:
    ray = load_settings().ray.model_copy(update={"auth_mode": "disabled"})
    assert resolve_auth_token(ray, {"RAY_AUTH_TOKEN": "abc"}, tmp_path) is None


def test_resolve_auth_token_when_token_mode_then_env_then_path_env_then_home_file(tmp_path: Path) -> None:
    ray = load_settings().ray.model_copy(update={"auth_mode": "token"})
    custom = tmp_path / "custom_token"
    custom.write_text("from-path\n")
    home_file = tmp_path / ".ray" / "auth_token"
    home_file.parent.mkdir()
    home_file.write_text("from-home")
    assert resolve_auth_token(ray, {"RAY_AUTH_TOKEN": "from-env", "RAY_AUTH_TOKEN_PATH": str(custom)}, tmp_path) == "from-env"
    assert resolve_auth_token(ray, {"RAY_AUTH_TOKEN_PATH": str(custom)}, tmp_path) == "from-path"
    assert resolve_auth_token(ray, {}, tmp_path) == "from-home"


def test_resolve_auth_token_when_token_mode_and_no_token_anywhere_then_config_error(tmp_path: Path) -> None:
    ray = load_settings().ray.model_copy(update={"auth_mode": "token"})
    with pytest.raises(ConfigError, match="RAY_AUTH_TOKEN"):
        resolve_auth_token(ray, {}, tmp_path)


def test_dashboard_url_when_no_address_then_settings_dashboard_with_scheme() -> None:
    ray = load_settings().ray.model_copy(update={"dashboard_host": "127.0.0.1", "dashboard_port": 8299})
    assert dashboard_url(ray) == "http://127.0.0.1:8299"
    assert dashboard_url(ray, "127.0.0.1:9000") == "http://127.0.0.1:9000"
    with pytest.raises(ConfigError, match="dashboard"):
        dashboard_url(ray.model_copy(update={"include_dashboard": False}))


class FakeJobs:
    def __init__(self, final_status: str) -> None:
        self.final_status = final_status
        self.submitted: list[tuple[str, list[str], str | None]] = []
        self.waited: list[tuple[str, str, str | None, float]] = []

    def submit(self, url: str, args: list[str], token: str | None) -> str:
        self.submitted.append((url, args, token))
        return "raysubmit_7"

    def wait(self, url: str, job_id: str, token: str | None, *, timeout_s: float) -> str:
        self.waited.append((url, job_id, token, timeout_s))
        return self.final_status


def test_retrain_when_token_mode_then_job_gets_token_and_the_clusters_registry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    settings = _settings(url, tmp_path / "models", auth_mode="token", dashboard_port=8301)
    jobs = FakeJobs("SUCCEEDED")
    result = retrain(settings, ["--rounds", "20"], wait=True, timeout_s=42.0, environ={"RAY_AUTH_TOKEN": "t0k"},
                     home=tmp_path, submit=jobs.submit, wait_for=jobs.wait)
    address, args, token = jobs.submitted[0]
    assert (address, token) == ("http://127.0.0.1:8301", "t0k")
    assert args == ["--rounds", "20", "--registry-url", url, "--model-dir", str(tmp_path / "models"), "--no-progress"]
    assert jobs.waited == [("http://127.0.0.1:8301", "raysubmit_7", "t0k", 42.0)]
    assert result["status"] == "SUCCEEDED" and result["job_id"] == "raysubmit_7"
    assert result["entrypoint"].startswith("python -m models.train --rounds 20 --registry-url ")


def test_retrain_when_caller_names_registry_then_not_overridden_and_no_wait_means_submitted(tmp_path: Path) -> None:
    settings = _settings(f"sqlite:///{tmp_path / 'reg.db'}", tmp_path / "models")
    jobs = FakeJobs("FAILED")
    result = retrain(settings, ["--registry-url", "none", "--model-dir", "/x"], address="127.0.0.1:8265",
                     environ={}, home=tmp_path, submit=jobs.submit, wait_for=jobs.wait)
    assert jobs.submitted[0] == ("http://127.0.0.1:8265", ["--registry-url", "none", "--model-dir", "/x",
                                                           "--no-progress"], None)
    assert jobs.waited == [] and result["status"] == "SUBMITTED"

