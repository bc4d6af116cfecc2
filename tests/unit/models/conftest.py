"""Real minute bars (trade + quote files) as segments, a dataset over them, and a small trained model."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from models.dataset import Dataset, Segment, build_dataset, load_segments, resolve_paths
from models.train import TrainConfig, TrainResult, train_walk_forward

HORIZON = 5
SMALL = TrainConfig(horizon=HORIZON, num_boost_round=40, early_stopping_rounds=10, n_splits=2)


@cache
def minute_segments() -> tuple[Segment, ...]:
    return tuple(load_segments(resolve_paths(["minute"])))


@cache
def minute_dataset(horizon: int = HORIZON) -> Dataset:
    return build_dataset(minute_segments(), horizon)


@cache
def small_training() -> TrainResult:
    return train_walk_forward(minute_dataset(), SMALL)


@pytest.fixture
def segments() -> tuple[Segment, ...]:
    return minute_segments()


@pytest.fixture
def dataset() -> Dataset:
    return minute_dataset()


@pytest.fixture
def trained() -> TrainResult:
    return small_training()


@pytest.fixture
def artifact(tmp_path: Path, trained: TrainResult) -> Path:
    path = tmp_path / "model.ubj"
    trained.booster.save_model(str(path))
    return path
