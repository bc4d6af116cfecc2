"""Streaming indicators against pandas-ta itself (and an exact oracle) on real minute closes."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pandas_ta as ta
from hypothesis import given, settings
from hypothesis import strategies as st

from models.features.indicators import BollingerBands, Ema, Macd, Rma, RollingStats, Rsi
from models.features.spec import WARMUP_BARS

TOLERANCE = 1e-9
# pandas' rolling var (used by ta.bbands) drifts from the exact value by up to ~7e-8 on these
# bars; our bands are exact, so against raw pandas-ta they can only agree to this looser bound.
PANDAS_ROLLING_DRIFT = 2e-7


def _stream(indicator: object, closes: pd.Series, *attributes: str) -> list[np.ndarray]:
    out: list[list[float]] = [[] for _ in attributes]
    for close in closes.to_numpy(dtype=float):
        indicator.update(float(close))  # type: ignore[attr-defined]
        for column, attribute in zip(out, attributes, strict=True):
            column.append(getattr(indicator, attribute))
    return [np.array(column) for column in out]


def _assert_close_after_warmup(actual: np.ndarray, expected: np.ndarray, tolerance: float) -> None:
    actual, expected = actual[WARMUP_BARS:], np.asarray(expected, dtype=float)[WARMUP_BARS:]
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance, equal_nan=True)


def test_ema_when_fed_real_closes_then_equals_pandas_ta_sma_seeded_ema(symbol_bars: pd.DataFrame) -> None:
    # Arrange
    closes = symbol_bars["close"]
    # Act
    (values,) = _stream(Ema(26), closes, "value")
    # Assert: pandas-ta also leaves the first 25 undefined
    expected = ta.ema(closes, length=26, talib=False).to_numpy()
    assert np.isnan(values[:25]).all() and not np.isnan(values[25])
    _assert_close_after_warmup(values, expected, TOLERANCE)


def test_rma_when_fed_real_closes_then_equals_pandas_ta_from_the_first_bar(symbol_bars: pd.DataFrame) -> None:
    closes = symbol_bars["close"]
    (values,) = _stream(Rma(14), closes, "value")
    np.testing.assert_allclose(values, ta.rma(closes, length=14).to_numpy(), rtol=0, atol=TOLERANCE)


def test_rsi_when_fed_real_closes_then_equals_pandas_ta_within_1e9(symbol_bars: pd.DataFrame) -> None:
    closes = symbol_bars["close"]
    (values,) = _stream(Rsi(14), closes, "value")
    expected = ta.rsi(closes, length=14, talib=False).to_numpy()
    _assert_close_after_warmup(values, expected, TOLERANCE)
    assert np.nanmin(values) < 30 < 70 < np.nanmax(values)  # the data exercise both extremes


def test_macd_when_fed_real_closes_then_line_signal_histogram_equal_pandas_ta(symbol_bars: pd.DataFrame) -> None:
    closes = symbol_bars["close"]
    line, signal, histogram = _stream(Macd(12, 26, 9), closes, "value", "signal", "histogram")
    expected = ta.macd(closes, fast=12, slow=26, signal=9, talib=False)
    _assert_close_after_warmup(line, expected["MACD_12_26_9"].to_numpy(), TOLERANCE)
    _assert_close_after_warmup(signal, expected["MACDs_12_26_9"].to_numpy(), TOLERANCE)
    _assert_close_after_warmup(histogram, expected["MACDh_12_26_9"].to_numpy(), TOLERANCE)


def test_bollinger_when_fed_real_closes_then_mid_equals_pandas_ta_and_bands_within_its_rolling_drift(
    symbol_bars: pd.DataFrame,
) -> None:
    closes = symbol_bars["close"]
    columns = _stream(BollingerBands(20, 2.0, 2.0), closes, "lower", "mid", "upper", "bandwidth", "percent_b")
    expected = ta.bbands(closes, length=20, lower_std=2.0, upper_std=2.0, talib=False).to_numpy().T
    lower, mid, upper, bandwidth, percent_b = columns
    _assert_close_after_warmup(mid, expected[1], TOLERANCE)
    # ddof, band width and the %B/bandwidth formulas: a ddof=0 band would be ~2.5% narrower
    non_degenerate = (upper - lower) > 1e-6
    for ours, theirs in zip((lower, upper, bandwidth, percent_b), expected[[0, 2, 3, 4]], strict=True):
        mask = non_degenerate[WARMUP_BARS:]
        np.testing.assert_allclose(ours[WARMUP_BARS:][mask], theirs[WARMUP_BARS:][mask], rtol=0, atol=PANDAS_ROLLING_DRIFT)


def _exact_std(window: np.ndarray) -> float:
    """statistics.stdev works in exact fractions: an oracle independent of float cancellation."""
    return statistics.stdev(float(x) for x in window)


def test_bollinger_when_compared_to_exact_arithmetic_on_real_closes_then_within_1e9(bars_of) -> None:  # type: ignore[no-untyped-def]
    # Arrange: BAC holds a 20-bar window of one repeated price; SPY trades near 167 (cancellation-prone)
    for symbol in ("BAC", "SPY"):
        closes = bars_of(symbol)["close"].to_numpy(dtype=float)
        bands = BollingerBands(20, 2.0, 2.0)
        flat_windows = 0
        for i, close in enumerate(closes):
            # Act
            bands.update(float(close))
            if i < 19 or i % 5:
                continue
            window = closes[i - 19 : i + 1]
            std = _exact_std(window)
            mid = statistics.fmean(window)
            # Assert
            assert abs(bands.mid - mid) <= TOLERANCE
            assert abs(bands.upper - (mid + 2.0 * std)) <= TOLERANCE
            assert abs(bands.lower - (mid - 2.0 * std)) <= TOLERANCE
            if std == 0.0:
                flat_windows += 1
                assert (bands.bandwidth, bands.percent_b) == (0.0, 0.5)
            else:
                assert abs(bands.percent_b - (close - (mid - 2.0 * std)) / (4.0 * std)) <= 1e-7
        assert symbol != "BAC" or flat_windows >= 1


def test_rolling_stats_when_window_is_constant_then_std_is_exactly_zero() -> None:
    stats = RollingStats(20)
    for _ in range(25):
        stats.update(14.07)  # sum/20 of 14.07 is not exactly 14.07 in floats
    assert stats.std == 0.0


def test_rolling_stats_when_not_full_then_not_initialized_and_nan() -> None:
    stats = RollingStats(5)
    for value in (1.0, 2.0, 3.0, 4.0):
        stats.update(value)
    assert not stats.initialized and np.isnan(stats.std)
    stats.update(5.0)
    assert stats.initialized and stats.std == statistics.stdev([1.0, 2.0, 3.0, 4.0, 5.0])


@settings(max_examples=200, deadline=None)
@given(
    base=st.floats(min_value=1.0, max_value=5000.0),
    moves=st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=20, max_size=60),
)
def test_rolling_stats_when_prices_sit_far_from_zero_then_std_matches_exact_arithmetic(
    base: float, moves: list[float]
) -> None:
    stats = RollingStats(20)
    prices = [base + move for move in moves]
    for price in prices:
        stats.update(price)
    exact = statistics.stdev(prices[-20:])
    assert abs(stats.std - exact) <= TOLERANCE


def test_indicators_when_reset_then_repeat_their_first_run(symbol_bars: pd.DataFrame) -> None:
    closes = symbol_bars["close"].head(80)
    for indicator, attribute in ((Rsi(14), "value"), (Macd(), "histogram"), (BollingerBands(), "percent_b")):
        (first,) = _stream(indicator, closes, attribute)
        indicator.reset()  # type: ignore[attr-defined]
        assert not indicator.initialized  # type: ignore[attr-defined]
        (second,) = _stream(indicator, closes, attribute)
        np.testing.assert_array_equal(first, second)
