"""What a signal actor needs of a model: a version and a batched predict over feature rows."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Model(Protocol):
    version: str
    feature_names: tuple[str, ...]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """rows: float64 array (n, len(feature_names)); returns n scores in [-1, 1] (> 0 long, < 0 short)."""
        ...
