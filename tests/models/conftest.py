"""Registry tests run on SQLite and on the real PostgreSQL, with the fixtures of tests/db, and a
small model trained on the shipped minute bars."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import xgboost as xgb

from models.dataset import build_dataset, load_segments, resolve_paths
from models.train import TrainConfig, TrainResult, train_walk_forward
from tests.db.conftest import db_url, fresh_postgres_url, migrated_url  # noqa: F401 - fixtures


@cache
def _trained() -> TrainResult:
    dataset = build_dataset(load_segments(resolve_paths(["minute"])), horizon=5)
    return train_walk_forward(dataset, TrainConfig(num_boost_round=30, early_stopping_rounds=10, n_splits=2))


@pytest.fixture
def trained() -> TrainResult:
    return _trained()


@pytest.fixture
def artifact(tmp_path: Path, trained: TrainResult) -> Path:
    path = tmp_path / "staging" / "model.ubj"
    path.parent.mkdir()
    trained.booster.save_model(str(path))
    return path


def save_booster(booster: xgb.Booster, path: Path) -> Path:
    booster.save_model(str(path))
    return path
