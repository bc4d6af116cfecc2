"""The feature spec: names, order and parameters shared by the streaming and batch implementations.

A trained model stores spec_hash(); a model whose hash differs from the running code's is
refused, because its columns would mean something else.

Definitions (bar t, closes c, volumes v):
* rsi_14, macd_line/macd_signal/macd_hist (12, 26, 9): pandas-ta's RSI and MACD.
* bb_pctb, bb_bandwidth: Bollinger(20, 2 std, ddof=1) %B and 100 * width / mid (pandas-ta formulas).
* ret_N: LOG return over N bars, ln(c_t / c_{t-N}), for N in 1, 5, 15.
* volatility_20: sample std (ddof=1) of the last 20 one-bar log returns.
* volume_z_20: (v_t - mean) / std (ddof=1) over the last 20 volumes including v_t; 0 if std is 0.
* spread_bps: 10_000 * (ask - bid) / mid of the last quote; NaN until a valid quote arrives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

SPEC_VERSION = "features-1"


@dataclass(frozen=True, slots=True)
class FeatureParams:
    """Every parameter that changes a feature's value; all of them enter spec_hash()."""

    rsi_length: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bb_length: int = 20
    bb_std: float = 2.0
    return_lags: tuple[int, ...] = (1, 5, 15)
    volatility_window: int = 20
    volume_window: int = 20

    def warmup_bars(self) -> int:
        """Bars until every bar-driven feature is defined (spread_bps depends on quotes instead)."""
        return max(
            self.rsi_length + 1,
            max(self.macd_fast, self.macd_slow) + self.macd_signal - 1,
            self.bb_length,
            max(self.return_lags) + 1,
            self.volatility_window + 1,
            self.volume_window,
        )


PARAMS = FeatureParams()

FEATURE_NAMES: tuple[str, ...] = (
    "rsi_14",
    "macd_line",
    "macd_signal",
    "macd_hist",
    "bb_pctb",
    "bb_bandwidth",
    "ret_1",
    "ret_5",
    "ret_15",
    "volatility_20",
    "volume_z_20",
    "spread_bps",
)

WARMUP_BARS: int = PARAMS.warmup_bars()


def spec_hash(params: FeatureParams = PARAMS, names: tuple[str, ...] = FEATURE_NAMES) -> str:
    """Stable 16-hex-digit digest of version, names (in order) and parameters."""
    payload = {"version": SPEC_VERSION, "names": list(names), "params": asdict(params)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
