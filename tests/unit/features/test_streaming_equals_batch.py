"""Serving features (StreamingFeatures) equal training features (compute_features) on real bars."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.features.batch import compute_features
from models.features.spec import FEATURE_NAMES, WARMUP_BARS
from models.features.streaming import StreamingFeatures

BAR_FEATURES = [name for name in FEATURE_NAMES if name != "spread_bps"]


def _stream_rows(bars: pd.DataFrame) -> np.ndarray:
    features = StreamingFeatures()
    rows = []
    for bar in bars.itertuples(index=False):
        if not (math.isnan(bar.bid) or math.isnan(bar.ask)):
            features.update_quote(bar.bid, bar.ask)
        features.update_bar(bar.close, bar.high, bar.low, bar.volume)
        rows.append(features.values())
    return np.array(rows)


def test_streaming_vector_when_replaying_real_bars_then_equals_compute_features_within_1e9(
    symbol_bars: pd.DataFrame,
) -> None:
    # Arrange / Act
    streamed = _stream_rows(symbol_bars)[WARMUP_BARS - 1 :]
    batch = compute_features(symbol_bars).to_numpy()[WARMUP_BARS - 1 :]
    # Assert
    assert streamed.shape == batch.shape == (len(symbol_bars) - WARMUP_BARS + 1, len(FEATURE_NAMES))
    assert np.array_equal(np.isnan(streamed), np.isnan(batch))
    np.testing.assert_allclose(streamed, batch, rtol=0, atol=1e-9)


def test_bar_features_when_warmup_bars_have_arrived_then_all_defined_and_not_one_bar_earlier(
    symbol_bars: pd.DataFrame,
) -> None:
    frame = compute_features(symbol_bars)[BAR_FEATURES]
    assert frame.iloc[WARMUP_BARS - 2].isna().any()
    assert not frame.iloc[WARMUP_BARS - 1 :].isna().any().any()


def test_ready_when_warmup_bars_have_arrived_then_flips_exactly_then(bars_of) -> None:  # type: ignore[no-untyped-def]
    bars = bars_of("IBM").head(WARMUP_BARS)
    features = StreamingFeatures()
    readiness = []
    for bar in bars.itertuples(index=False):
        features.update_bar(bar.close, bar.high, bar.low, bar.volume)
        readiness.append(features.ready)
    assert readiness == [False] * (WARMUP_BARS - 1) + [True]


def test_spread_when_no_quote_yet_then_nan_and_after_quote_then_bps_of_mid() -> None:
    features = StreamingFeatures()
    features.update_bar(167.44, 167.52, 167.41, 816_453.0)
    assert math.isnan(features.values()[FEATURE_NAMES.index("spread_bps")])
    features.update_quote(167.43, 167.45)  # SPY 2013-10-07 13:30Z quote bar close
    spread = features.values()[FEATURE_NAMES.index("spread_bps")]
    assert spread == pytest.approx(10_000 * 0.02 / 167.44, rel=1e-9)


def test_compute_features_when_bars_shorter_than_indicators_then_all_nan_not_error(bars_of) -> None:  # type: ignore[no-untyped-def]
    frame = compute_features(bars_of("AIG").head(5).drop(columns=["bid", "ask"]))
    assert list(frame.columns) == list(FEATURE_NAMES)
    assert frame[["rsi_14", "macd_hist", "bb_pctb", "volatility_20", "spread_bps"]].isna().all().all()


def test_compute_features_when_a_column_is_missing_then_value_error(bars_of) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="volume"):
        compute_features(bars_of("AIG").drop(columns=["volume"]))
