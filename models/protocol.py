"""What a signal actor needs of a model: a version and a batched predict over feature rows."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray


class Model(Protocol):
    version: str
    feature_names: tuple[str, ...]

    def predict(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """rows: float64 array (n, len(feature_names)); returns n scores in [-1, 1] (> 0 long, < 0 short)."""
        ...
