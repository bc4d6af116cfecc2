"""The trained model as SignalCore sees it: an XGBoost booster behind models.protocol.Model.

The booster file carries the feature spec it was trained on (booster attributes written by
stamp_booster), so a file alone can be checked against the running code: a model whose
feature hash or column list differs is refused, because its columns would mean something else.
Artifacts are XGBoost's own format (.ubj or .json), never pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xgboost as xgb
from numpy.typing import NDArray

from cluster.foundation.domain.errors import ConfigError
from models.features.spec import FEATURE_NAMES, spec_hash

FEATURE_HASH_ATTR = "feature_hash"
FEATURE_NAMES_ATTR = "feature_names_json"


def stamp_booster(booster: xgb.Booster, feature_hash: str | None = None) -> None:
    """Record the feature spec in the booster, so it travels with the saved file."""
    booster.feature_names = list(FEATURE_NAMES)
    booster.set_attr(**{FEATURE_HASH_ATTR: feature_hash or spec_hash(), FEATURE_NAMES_ATTR: json.dumps(FEATURE_NAMES)})


class XgbModel:
    """Scores in [-1, 1]: 2 * P(up) - 1. NaN features are XGBoost's `missing` (learned default branch)."""

    def __init__(self, booster: xgb.Booster, version: str, serving_hash: str | None = None) -> None:
        serving_hash = serving_hash or spec_hash()
        model_hash = booster.attr(FEATURE_HASH_ATTR)
        if model_hash != serving_hash:
            raise ConfigError(
                f"model {version}: feature hash {model_hash!r} does not match the serving spec_hash {serving_hash!r}; "
                "retrain it with the current feature code"
            )
        names = booster.attr(FEATURE_NAMES_ATTR)
        if names is None or tuple(json.loads(names)) != FEATURE_NAMES:
            raise ConfigError(f"model {version}: feature columns {names} are not {FEATURE_NAMES}")
        if booster.num_features() != len(FEATURE_NAMES):
            raise ConfigError(f"model {version}: expects {booster.num_features()} features, not {len(FEATURE_NAMES)}")
        self.version = version
        self.feature_names: tuple[str, ...] = FEATURE_NAMES
        self.spec_hash = model_hash
        self._booster = booster

    @classmethod
    def from_file(cls, path: str | Path, version: str, serving_hash: str | None = None) -> XgbModel:
        """Load an artifact; ConfigError names the version and the problem when it cannot be used."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"model {version}: artifact {path} does not exist")
        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except xgb.core.XGBoostError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"model {version}: XGBoost cannot load artifact {path}: {first_line}") from None
        return cls(booster, version, serving_hash)

    @property
    def booster(self) -> xgb.Booster:
        return self._booster

    def predict(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """One inplace_predict per batch (no DMatrix); rows (n, len(FEATURE_NAMES)) float64."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"expected rows of shape (n, {len(FEATURE_NAMES)}), got {rows.shape}")
        if rows.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        probability = self._booster.inplace_predict(rows, missing=np.nan, validate_features=False)
        return 2.0 * np.asarray(probability, dtype=np.float64).reshape(-1) - 1.0
