"""XgbModel: scores in [-1, 1] from one inplace_predict, NaN-safe, refuses foreign or broken artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from actors.signal.core import SignalCore
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.wire import Bar
from models.dataset import Dataset, Segment
from models.features.spec import FEATURE_NAMES, WARMUP_BARS, spec_hash
from models.train import TrainResult
from models.xgb_model import FEATURE_HASH_ATTR, XgbModel, stamp_booster


class _CountingBooster:
    """Wraps a booster and counts inplace_predict calls (a hand-written spy, no mocks)."""

    def __init__(self, booster: xgb.Booster) -> None:
        self._booster = booster
        self.calls = 0

    def inplace_predict(self, rows: np.ndarray, **kwargs: object) -> np.ndarray:
        self.calls += 1
        return self._booster.inplace_predict(rows, **kwargs)  # type: ignore[arg-type]


def test_predict_when_given_real_rows_then_scores_are_two_p_minus_one_from_a_dmatrix_prediction(
    artifact: Path, dataset: Dataset
) -> None:
    # Arrange
    model = XgbModel.from_file(artifact, "v-test")
    rows = dataset.features[:500]
    reference = xgb.Booster()
    reference.load_model(str(artifact))
    expected = 2.0 * reference.predict(xgb.DMatrix(rows, missing=np.nan, feature_names=list(FEATURE_NAMES))) - 1.0
    # Act
    scores = model.predict(rows)
    # Assert
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-6)
    assert scores.min() >= -1.0 and scores.max() <= 1.0
    assert model.feature_names == FEATURE_NAMES and model.spec_hash == spec_hash()


def test_predict_when_features_are_nan_then_scores_are_finite(artifact: Path, dataset: Dataset) -> None:
    # Arrange: real rows with the spread unknown (no quote yet) and one row entirely missing
    rows = dataset.features[:20].copy()
    rows[:, FEATURE_NAMES.index("spread_bps")] = np.nan
    rows[0, :] = np.nan
    # Act
    scores = XgbModel.from_file(artifact, "v-test").predict(rows)
    # Assert
    assert np.isfinite(scores).all()


def test_predict_when_called_with_a_batch_then_the_booster_is_called_once(
    trained: TrainResult, dataset: Dataset
) -> None:
    # Arrange
    model = XgbModel(trained.booster, "v-test")
    spy = _CountingBooster(trained.booster)
    model._booster = spy  # type: ignore[assignment]
    # Act
    model.predict(dataset.features[:1000])
    # Assert
    assert spy.calls == 1


def test_predict_when_rows_have_the_wrong_width_then_value_error() -> None:
    booster = xgb.train({"nthread": 1}, xgb.DMatrix(np.zeros((4, len(FEATURE_NAMES))), label=[0, 1, 0, 1]), 1)
    stamp_booster(booster)
    with pytest.raises(ValueError, match="shape"):
        XgbModel(booster, "v").predict(np.zeros((3, 5)))


def test_load_when_feature_hash_differs_then_config_error_names_version_and_both_hashes(
    trained: TrainResult, tmp_path: Path
) -> None:
    # Arrange: the same model stamped with another spec's hash
    booster = trained.booster.copy()
    booster.set_attr(**{FEATURE_HASH_ATTR: "0123456789abcdef"})
    path = tmp_path / "foreign.ubj"
    booster.save_model(str(path))
    # Act / Assert
    with pytest.raises(ConfigError, match=r"model v-foreign: feature hash '0123456789abcdef' does not match") as info:
        XgbModel.from_file(path, "v-foreign")
    assert spec_hash() in str(info.value)


def test_load_when_artifact_is_missing_then_config_error_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model v-gone: artifact .*nothing\.ubj does not exist"):
        XgbModel.from_file(tmp_path / "nothing.ubj", "v-gone")


def test_load_when_artifact_is_corrupt_then_config_error_says_xgboost_cannot_load_it(
    artifact: Path,
) -> None:
    # Arrange: cut the file in half
    data = artifact.read_bytes()
    artifact.write_bytes(data[: len(data) // 2])
    # Act / Assert
    with pytest.raises(ConfigError, match="model v-cut: XGBoost cannot load artifact"):
        XgbModel.from_file(artifact, "v-cut")


def test_signal_core_when_serving_an_xgb_model_then_scores_real_bars_and_swaps_models(
    artifact: Path, segments: tuple[Segment, ...]
) -> None:
    # Arrange: real IBM minute bars through the live path
    ibm = max((s for s in segments if s.symbol == "IBM"), key=lambda s: len(s.bars)).bars
    model = XgbModel.from_file(artifact, "v-a")
    core = SignalCore("g0", ["IBM"], model, allow_short=True, threshold=0.05)
    # Act
    for batch, row in enumerate(ibm.head(300).itertuples(index=False)):
        core.on_bar(Bar("IBM", int(row.ts_ns), row.open, row.high, row.low, row.close, row.volume), batch)
        core.end_batch(batch)
    core.swap_model(XgbModel.from_file(artifact, "v-b"))
    # Assert: every warm bar was scored, and the new version serves from now on
    assert core.stats()["rows_predicted"] == 300 - (WARMUP_BARS - 1)
    assert core.model_version == "v-b"
