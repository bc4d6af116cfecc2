"""Training-side features over a whole bar history of one symbol, vectorised.

RSI, MACD and the Bollinger mid come from pandas-ta itself (talib=False, so installing TA-Lib
cannot silently change them). The Bollinger width and the other rolling deviations use an exact
two-pass window computation instead of pandas' rolling var, which drifts by up to ~5e-8 on our
minute bars and would break the 1e-9 agreement with StreamingFeatures (see indicators.py).
Every column at row t depends only on rows <= t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas_ta as ta
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from models.features.spec import FEATURE_NAMES, PARAMS, FeatureParams

REQUIRED_COLUMNS = ("open", "high", "low", "close", "volume")


def rolling_mean_std(values: NDArray[np.float64], window: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact rolling mean and sample std (ddof=1); NaN until the window is full or holds a NaN.

    A window of equal values has std exactly 0, as in RollingStats.
    """
    n = len(values)
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    if n < window:
        return mean, std
    windows = sliding_window_view(values, window)
    mean[window - 1:] = windows.mean(axis=1)
    deviations = windows - mean[window - 1:, None]
    std[window - 1:] = np.sqrt((deviations * deviations).sum(axis=1) / (window - 1))
    flat = windows.max(axis=1) == windows.min(axis=1)
    std[window - 1:][flat] = 0.0
    return mean, std


def _column(result: pd.DataFrame | pd.Series | None, position: int, index: pd.Index) -> pd.Series:
    """pandas-ta returns None when the series is shorter than the indicator needs: all NaN then."""
    if result is None:
        return pd.Series(np.nan, index=index)
    if isinstance(result, pd.DataFrame):
        return result.iloc[:, position]
    return result


def compute_features(bars: pd.DataFrame, params: FeatureParams = PARAMS) -> pd.DataFrame:
    """FEATURE_NAMES columns for time-ordered bars of one symbol (same index as `bars`).

    Optional `bid`/`ask` columns hold the latest quote known at each bar; gaps (NaN) carry the
    previous quote forward, like StreamingFeatures.update_quote.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lack columns {missing}")
    index = bars.index
    close = bars["close"].astype("float64")
    close_values = close.to_numpy()
    out: dict[str, NDArray[np.float64]] = {}

    out["rsi_14"] = _column(ta.rsi(close, length=params.rsi_length, talib=False), 0, index).to_numpy()
    macd = ta.macd(close, fast=params.macd_fast, slow=params.macd_slow, signal=params.macd_signal, talib=False)
    out["macd_line"] = _column(macd, 0, index).to_numpy()
    out["macd_hist"] = _column(macd, 1, index).to_numpy()
    out["macd_signal"] = _column(macd, 2, index).to_numpy()

    mid = _column(ta.sma(close, length=params.bb_length, talib=False), 0, index).to_numpy()
    _, close_std = rolling_mean_std(close_values, params.bb_length)
    lower = mid - params.bb_std * close_std
    upper = mid + params.bb_std * close_std
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        out["bb_pctb"] = np.where(width == 0.0, 0.5, (close_values - lower) / width)
        out["bb_bandwidth"] = np.where(width == 0.0, 0.0, 100.0 * width / mid)

    for lag in params.return_lags:
        out[f"ret_{lag}"] = np.log(close / close.shift(lag)).to_numpy()
    one_bar = np.log(close / close.shift(1)).to_numpy()
    _, out["volatility_20"] = rolling_mean_std(one_bar, params.volatility_window)

    volume = bars["volume"].astype("float64").to_numpy()
    volume_mean, volume_std = rolling_mean_std(volume, params.volume_window)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["volume_z_20"] = np.where(volume_std == 0.0, 0.0, (volume - volume_mean) / volume_std)

    out["spread_bps"] = _spread_bps(bars)
    return pd.DataFrame({name: out[name] for name in FEATURE_NAMES}, index=index)


def _spread_bps(bars: pd.DataFrame) -> NDArray[np.float64]:
    if "bid" not in bars.columns or "ask" not in bars.columns:
        return np.full(len(bars), np.nan)
    quotes = bars[["bid", "ask"]].astype("float64")
    known = quotes.notna().all(axis=1)
    quotes = quotes.where(known).ffill()
    bid = quotes["bid"].to_numpy()
    ask = quotes["ask"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = 10_000.0 * (ask - bid) / ((bid + ask) / 2.0)
    return np.where((bid > 0.0) & (ask > 0.0), spread, np.nan)
