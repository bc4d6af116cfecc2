"""The model registry on SQLite and PostgreSQL: candidates, the promotion gate, rollback, safe loading."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cluster.foundation.domain.errors import BadInput, ConfigError, InvalidTransition
from cluster.foundation.storage.db.engine import make_engine
from cluster.foundation.storage.db.models import AuditLogRow
from models.features.spec import spec_hash
from models.registry import NO_LIVE_BASELINE, ModelRegistry, file_sha256
from models.train import GATE_METRIC, TrainResult
from models.xgb_model import XgbModel
from tests.kit.clock import FakeClock

START_NS = 1_767_323_045 * 10**9  # 2026-01-02T03:04:05Z; the clock moves one second per reading


@pytest.fixture
def registry(migrated_url: str, tmp_path: Path) -> ModelRegistry:
    reg = ModelRegistry(migrated_url, tmp_path / "models", clock=FakeClock(START_NS, tick_ns=10**9))
    yield reg  # type: ignore[misc]
    reg.close()


def _with_gate(trained: TrainResult, value: float) -> dict[str, Any]:
    metrics = copy.deepcopy(trained.metrics)
    metrics["aggregate"][GATE_METRIC] = value
    return metrics


def _register(registry: ModelRegistry, artifact: Path, trained: TrainResult, gate: float, **kw: Any) -> str:
    record = registry.register_candidate(artifact, trained.params, "2013-10-04..2013-10-11", _with_gate(trained, gate), **kw)
    return record.version


def test_register_when_artifact_given_then_copied_hashed_and_listed_as_candidate(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    # Act
    record = registry.register_candidate(artifact, trained.params, "2013-10-04..2013-10-11", trained.metrics)
    # Assert
    stored = registry.artifact_file(record)
    assert stored.parent == registry.model_dir and stored.read_bytes() == artifact.read_bytes()
    assert record.artifact_sha256 == file_sha256(artifact)
    assert record.version == f"xgb-20260102030406-{record.artifact_sha256[:8]}"
    listed = registry.list_versions()
    assert [r.version for r in listed] == [record.version]
    assert listed[0].status == "candidate" and listed[0].feature_hash == spec_hash()
    assert listed[0].metrics == trained.metrics and listed[0].params == trained.params
    assert registry.live_version() is None


def test_promote_when_nothing_is_live_and_auc_beats_a_coin_flip_by_the_margin_then_live(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    version = _register(registry, artifact, trained, NO_LIVE_BASELINE + 0.02)
    result = registry.promote(version, by="ops", reason="first model", margin=0.01)
    assert result.promoted and result.status == "live" and result.replaced is None
    assert registry.live_version().version == version  # type: ignore[union-attr]
    assert isinstance(registry.load_live(), XgbModel)


def test_promote_when_candidate_does_not_beat_live_by_the_margin_then_stays_candidate_with_reason(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    # Arrange
    live = _register(registry, artifact, trained, 0.55)
    registry.promote(live, by="ops", reason="first", margin=0.01)
    weaker = _register(registry, artifact, trained, 0.555)
    # Act
    result = registry.promote(weaker, by="ops", reason="try", margin=0.01)
    # Assert
    assert not result.promoted and result.status == "candidate"
    assert "not better by the margin" in result.reason
    assert registry.get(weaker).status == "candidate" and "promotion refused" in registry.get(weaker).reason
    assert registry.live_version().version == live  # type: ignore[union-attr]


def test_promote_when_candidate_beats_live_then_live_is_retired_and_replaced(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    old = _register(registry, artifact, trained, 0.55)
    registry.promote(old, by="ops", reason="first")
    new = _register(registry, artifact, trained, 0.57)
    result = registry.promote(new, by="ops", reason="better", margin=0.01)
    assert result.promoted and result.replaced == old
    assert registry.get(old).status == "retired" and registry.get(new).previous_live == old


def test_promote_when_forced_past_the_gate_then_live_and_the_override_is_audited(
    registry: ModelRegistry, artifact: Path, trained: TrainResult, migrated_url: str
) -> None:
    version = _register(registry, artifact, trained, 0.40)
    result = registry.promote(version, by="alice", reason="incident 42", force=True)
    assert result.promoted and "FORCED past the gate" in result.reason
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as conn:
            audit = conn.execute(select(AuditLogRow.__table__)).mappings().all()
    finally:
        engine.dispose()
    assert [(row["action"], row["caller"]) for row in audit] == [("model_promoted", "alice")]
    assert "FORCED" in audit[0]["reason"] and audit[0]["details"]["version"] == version


def test_promote_when_feature_hash_differs_then_refused_even_when_forced(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    version = _register(registry, artifact, trained, 0.9, feature_hash="0123456789abcdef")
    result = registry.promote(version, by="ops", reason="try", force=True)
    assert not result.promoted and "feature hash 0123456789abcdef != serving" in result.reason
    assert registry.live_version() is None


def test_rollback_when_two_promotions_happened_then_each_rollback_restores_the_one_before(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    # Arrange: v1 -> v2 -> v3 live in turn
    v1 = _register(registry, artifact, trained, 0.55)
    registry.promote(v1, by="ops", reason="1")
    v2 = _register(registry, artifact, trained, 0.57)
    registry.promote(v2, by="ops", reason="2")
    v3 = _register(registry, artifact, trained, 0.59)
    registry.promote(v3, by="ops", reason="3")
    # Act / Assert
    first = registry.rollback(by="bob", reason="v3 misbehaves")
    assert (first.retired, first.restored) == (v3, v2)
    second = registry.rollback(by="bob", reason="v2 too")
    assert (second.retired, second.restored) == (v2, v1)
    assert {r.version: r.status for r in registry.list_versions()} == {v1: "live", v2: "retired", v3: "retired"}
    with pytest.raises(BadInput, match=f"live model {v1} replaced no earlier live model"):
        registry.rollback(by="bob", reason="again")


def test_promote_when_version_is_already_live_then_invalid_transition(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    version = _register(registry, artifact, trained, 0.6)
    registry.promote(version, by="ops", reason="1")
    with pytest.raises(InvalidTransition, match=f"model {version}: live -> promote"):
        registry.promote(version, by="ops", reason="again")


def test_load_model_when_artifact_was_altered_then_config_error_names_version_and_sha256(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    version = _register(registry, artifact, trained, 0.6)
    stored = registry.artifact_file(registry.get(version))
    stored.write_bytes(stored.read_bytes() + b"\0")
    with pytest.raises(ConfigError, match=f"model {version}: artifact .* sha256 .* differs from the registered"):
        registry.load_model(version)
    result = registry.promote(version, by="ops", reason="try")
    assert not result.promoted and "artifact unusable" in result.reason


def test_load_model_when_artifact_is_missing_then_config_error(
    registry: ModelRegistry, artifact: Path, trained: TrainResult
) -> None:
    version = _register(registry, artifact, trained, 0.6)
    registry.artifact_file(registry.get(version)).unlink()
    with pytest.raises(ConfigError, match=f"model {version}: artifact .* does not exist"):
        registry.load_model(version)


def test_load_model_when_version_is_unknown_then_bad_input(registry: ModelRegistry) -> None:
    with pytest.raises(BadInput, match="unknown model version 'xgb-nope'"):
        registry.load_model("xgb-nope")


def test_registry_when_schema_is_not_migrated_then_config_error_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run the Alembic upgrade"):
        ModelRegistry(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "models")
