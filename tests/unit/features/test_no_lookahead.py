"""No feature at bar t may depend on anything after t (training-side leakage check, real bars)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.features.batch import compute_features


@pytest.mark.parametrize("cut_fraction", [0.1, 0.5, 0.9])
def test_compute_features_when_bars_after_t_change_then_rows_up_to_t_are_identical(
    symbol_bars: pd.DataFrame, cut_fraction: float
) -> None:
    # Arrange: real bars, and a copy whose future after t is scrambled (prices, volume, quotes)
    t = int(len(symbol_bars) * cut_fraction)
    before = compute_features(symbol_bars)
    altered = symbol_bars.copy()
    future = altered.index > t
    rng = np.random.default_rng(t)
    scale = rng.uniform(0.5, 1.5, size=future.sum())
    for column in ("open", "high", "low", "close", "bid", "ask"):
        altered.loc[future, column] = altered.loc[future, column].to_numpy() * scale
    altered.loc[future, "volume"] = altered.loc[future, "volume"].to_numpy()[::-1]
    # Act
    after = compute_features(altered)
    # Assert: the past is bit-identical, and the edit did reach the future
    np.testing.assert_array_equal(before.loc[:t].to_numpy(), after.loc[:t].to_numpy())
    assert not np.allclose(before.loc[t + 1 :].to_numpy(), after.loc[t + 1 :].to_numpy(), equal_nan=True)


def test_compute_features_when_future_bars_are_dropped_then_past_rows_are_identical(symbol_bars: pd.DataFrame) -> None:
    t = len(symbol_bars) // 3
    full = compute_features(symbol_bars)
    truncated = compute_features(symbol_bars.loc[:t])
    np.testing.assert_array_equal(full.loc[:t].to_numpy(), truncated.to_numpy())
