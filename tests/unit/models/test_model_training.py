"""Training: metrics computed right, early stopping on validation, same seed -> same bytes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.dataset import Dataset
from models.features.spec import spec_hash
from models.train import GATE_METRIC, TrainConfig, TrainResult, auc, main, replay, train_walk_forward

SMALL = TrainConfig(horizon=5, num_boost_round=40, early_stopping_rounds=10, n_splits=2)  # as in conftest.py


def test_auc_when_computed_on_a_small_case_then_equals_the_share_of_correctly_ordered_pairs() -> None:
    # Arrange: 2 positives, 3 negatives; pairs (pos > neg) counted by hand: 0.9 beats all 3, 0.4 beats 0.1
    # and ties 0.4 (half): (3 + 1 + 0.5) / 6
    labels = np.array([1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.4, 0.4, 0.1, 0.5])
    # Act / Assert
    assert auc(labels, scores) == pytest.approx((3 + 1 + 0.5) / 6)
    assert np.isnan(auc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_replay_when_positions_flip_then_pnl_is_returns_times_sign_minus_costs_per_unit_change() -> None:
    # Arrange: one segment; long, long, short, flat -> changes 1 + 0 + 2 + 1, then closing 0
    scores = np.array([0.3, 0.8, -0.2, 0.0])
    next_return = np.array([0.01, -0.02, -0.03, 0.05])
    # Act
    result = replay(scores, next_return, np.zeros(4, dtype=int), cost_bps=10.0)
    # Assert: 0.01 - 0.02 + 0.03 + 0 - 4 * 0.001
    assert result.pnl == pytest.approx(0.01 - 0.02 + 0.03 - 4 * 0.001)
    assert result.turnover == 4.0
    assert result.positions_taken == 3
    assert result.hit_rate == pytest.approx(2 / 3)


def test_train_when_run_twice_with_one_seed_then_model_bytes_and_metrics_are_identical(
    dataset: Dataset, tmp_path: Path
) -> None:
    # Act
    first = train_walk_forward(dataset, SMALL)
    second = train_walk_forward(dataset, SMALL)
    # Assert
    assert bytes(first.booster.save_raw("ubj")) == bytes(second.booster.save_raw("ubj"))
    assert first.metrics == second.metrics


def test_train_when_seed_changes_then_the_model_changes(dataset: Dataset, trained: TrainResult) -> None:
    other = train_walk_forward(dataset, replace(SMALL, seed=SMALL.seed + 1))
    assert bytes(other.booster.save_raw("ubj")) != bytes(trained.booster.save_raw("ubj"))


def test_train_when_finished_then_every_fold_reports_auc_hit_rate_and_replay_pnl(trained: TrainResult) -> None:
    folds = trained.metrics["splits"]
    assert len(folds) == SMALL.n_splits
    for fold in folds:
        assert 0.0 <= fold["test_auc"] <= 1.0
        assert 0.0 <= fold["hit_rate"] <= 1.0
        assert isinstance(fold["replay_pnl"], float)
        assert fold["best_iteration"] < SMALL.num_boost_round
    expected = float(np.mean([f["test_auc"] for f in folds]))
    assert trained.metrics["aggregate"][GATE_METRIC] == pytest.approx(expected)
    assert trained.metrics["gate_metric"] == GATE_METRIC


def test_train_when_validation_stops_improving_then_the_model_keeps_only_the_best_rounds(dataset: Dataset) -> None:
    # Arrange: many rounds allowed, a short patience
    config = TrainConfig(num_boost_round=400, early_stopping_rounds=5, n_splits=1)
    # Act
    result = train_walk_forward(dataset, config)
    # Assert: the saved booster holds best_iteration + 1 trees, fewer than allowed
    best = result.metrics["splits"][0]["best_iteration"]
    assert best + 1 < config.num_boost_round
    assert result.booster.num_boosted_rounds() == best + 1


def test_main_when_registry_is_none_then_writes_artifact_and_metrics(tmp_path: Path) -> None:
    # Act
    code = main(["--registry-url", "none", "--out", str(tmp_path), "--rounds", "20", "--splits", "1",
                 "--no-progress"])
    # Assert
    assert code == 0
    assert (tmp_path / "model.ubj").stat().st_size > 0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert len(saved["metrics"]["splits"]) == 1
    assert saved["params"]["feature_hash"] == spec_hash()
