"""Streaming O(1) indicators that reproduce pandas-ta 0.4.71b0 (no TA-Lib) value for value.

All share one interface: update(value) -> None, .value, .initialized, .reset(). Before they
have a value, .value is NaN. Where pandas-ta has a quirk we copy it on purpose, so that the
serving side (these classes) and the training side (pandas-ta) agree:

* EMA seeds with the SMA of the first `length` inputs, then runs pandas' ewm(adjust=False).
* RMA (Wilder) has no SMA seed: ewm(alpha=1/length, adjust=False) from the first input.
* RSI is defined from the second input on (its RMAs start at the first difference); 0/0 is NaN.
* Bollinger uses ddof=1 (pandas-ta's code default, although its docstring says 0).

One deliberate difference: rolling standard deviations are computed exactly (two passes over
the fixed window), whereas pandas' rolling var drifts (up to ~5e-8 on our minute bars, and it
never returns 0 for a constant window). Exact values do not depend on how much history came
before the window, which is what keeps training and serving features equal.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

NAN = math.nan


def _pandas_alpha_from_span(span: float) -> float:
    """alpha exactly as pandas derives it from span (via the centre of mass), bit for bit."""
    com = (span - 1) / 2.0
    return 1.0 / (1.0 + com)


def _pandas_alpha_from_alpha(alpha: float) -> float:
    """pandas turns a given alpha into a centre of mass and back; the round trip can move an ulp."""
    com = 1.0 / alpha - 1.0
    return 1.0 / (1.0 + com)


class _EwmAdjustFalse:
    """pandas' ewm(adjust=False).mean() recursion, including its float operation order."""

    __slots__ = ("_alpha", "_keep", "_norm", "value", "count")

    def __init__(self, alpha: float) -> None:
        self._alpha = alpha
        self._keep = 1.0 - alpha
        self._norm = self._keep + alpha  # pandas divides by (old_wt + new_wt), which may be 1 - ulp
        self.value = NAN
        self.count = 0

    def update(self, x: float) -> None:
        self.count += 1
        if self.count == 1:
            self.value = x
        elif self.value != x:
            self.value = (self._keep * self.value + self._alpha * x) / self._norm

    def reset(self) -> None:
        self.value = NAN
        self.count = 0


class _OnEwm:
    """An average over one pandas ewm(adjust=False) recursion: `length` inputs, `value` the ewm's."""

    __slots__ = ("length", "_ewm")

    def __init__(self, name: str, length: int, alpha_of: Callable[[int], float]) -> None:
        if length < 1:
            raise ValueError(f"{name} length must be >= 1, got {length}")
        self.length = length
        self._ewm = _EwmAdjustFalse(alpha_of(length))

    @property
    def value(self) -> float:
        return self._ewm.value


class Ema(_OnEwm):
    """Exponential moving average, pandas-ta style: SMA of the first `length` inputs as seed."""

    __slots__ = ("_seed_sum", "_seen")

    def __init__(self, length: int) -> None:
        super().__init__("EMA", length, _pandas_alpha_from_span)
        self._seed_sum = 0.0
        self._seen = 0

    def update(self, value: float) -> None:
        self._seen += 1
        if self._seen < self.length:
            self._seed_sum += value
        elif self._seen == self.length:
            self._ewm.update((self._seed_sum + value) / self.length)
        else:
            self._ewm.update(value)

    @property
    def initialized(self) -> bool:
        return self._seen >= self.length

    def reset(self) -> None:
        self._ewm.reset()
        self._seed_sum = 0.0
        self._seen = 0


class Rma(_OnEwm):
    """Wilder's moving average as pandas-ta computes it: ewm(alpha=1/length, adjust=False), no seed."""

    __slots__ = ()

    def __init__(self, length: int) -> None:
        super().__init__("RMA", length, lambda n: _pandas_alpha_from_alpha(1.0 / n))

    def update(self, value: float) -> None:
        self._ewm.update(value)

    @property
    def initialized(self) -> bool:
        return self._ewm.count >= self.length

    def reset(self) -> None:
        self._ewm.reset()


class Rsi:
    """Relative strength index on RMAs of gains and losses (pandas-ta, scalar 100, drift 1)."""

    __slots__ = ("length", "_gain", "_loss", "_previous", "value", "_seen")

    def __init__(self, length: int = 14) -> None:
        self.length = length
        self._gain = Rma(length)
        self._loss = Rma(length)
        self._previous = NAN
        self.value = NAN
        self._seen = 0

    def update(self, value: float) -> None:
        self._seen += 1
        if self._seen > 1:
            change = value - self._previous
            self._gain.update(change if change > 0.0 else 0.0)
            self._loss.update(change if change < 0.0 else 0.0)
            up = self._gain.value
            total = up + abs(self._loss.value)
            self.value = 100.0 * up / total if total != 0.0 else NAN
        self._previous = value

    @property
    def initialized(self) -> bool:
        return self._seen > self.length

    def reset(self) -> None:
        self._gain.reset()
        self._loss.reset()
        self._previous = NAN
        self.value = NAN
        self._seen = 0


class Macd:
    """MACD line (EMA fast - EMA slow), signal (EMA of the line, seeded by its first SMA), histogram."""

    __slots__ = ("_fast", "_slow", "_signal", "value", "signal", "histogram")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        if slow < fast:
            fast, slow = slow, fast  # pandas-ta swaps them too
        self._fast = Ema(fast)
        self._slow = Ema(slow)
        self._signal = Ema(signal)
        self.value = NAN
        self.signal = NAN
        self.histogram = NAN

    def update(self, value: float) -> None:
        self._fast.update(value)
        self._slow.update(value)
        if not self._slow.initialized:
            return
        self.value = self._fast.value - self._slow.value
        self._signal.update(self.value)
        if self._signal.initialized:
            self.signal = self._signal.value
            self.histogram = self.value - self.signal

    @property
    def initialized(self) -> bool:
        return self._signal.initialized

    def reset(self) -> None:
        for ema in (self._fast, self._slow, self._signal):
            ema.reset()
        self.value = self.signal = self.histogram = NAN


class RollingStats:
    """Mean and sample standard deviation over the last `window` inputs, exact to rounding.

    Two passes over the fixed window (O(window), constant per input) instead of running sums of
    squares, which cancel catastrophically on prices like 167.xx. A window of equal inputs has a
    standard deviation of exactly 0 (tracked by a run counter), never a rounding residue.
    """

    __slots__ = ("window", "ddof", "_buffer", "_same_run", "mean", "std")

    def __init__(self, window: int, ddof: int = 1) -> None:
        if window <= ddof:
            raise ValueError(f"window {window} must exceed ddof {ddof}")
        self.window = window
        self.ddof = ddof
        self._buffer: deque[float] = deque(maxlen=window)
        self._same_run = 0
        self.mean = NAN
        self.std = NAN

    def update(self, value: float) -> None:
        buffer = self._buffer
        self._same_run = self._same_run + 1 if buffer and buffer[-1] == value else 1
        buffer.append(value)
        if len(buffer) < self.window:
            return
        mean = sum(buffer) / self.window
        self.mean = mean
        if self._same_run >= self.window:
            self.std = 0.0
            return
        deviations = [x - mean for x in buffer]
        self.std = math.sqrt(math.sumprod(deviations, deviations) / (self.window - self.ddof))

    @property
    def value(self) -> float:
        return self.std

    @property
    def initialized(self) -> bool:
        return len(self._buffer) == self.window

    def reset(self) -> None:
        self._buffer.clear()
        self._same_run = 0
        self.mean = self.std = NAN


class BollingerBands:
    """Bollinger bands with pandas-ta's formulas: mid = SMA, bands = mid -/+ k * std (ddof=1),
    bandwidth = 100 * (upper - lower) / mid, %B = (close - lower) / (upper - lower).

    A zero-width band (a constant window) gives bandwidth 0 and %B 0.5: the close sits on the mid.
    """

    __slots__ = ("_stats", "lower_std", "upper_std", "lower", "upper", "bandwidth", "percent_b")

    def __init__(self, length: int = 20, lower_std: float = 2.0, upper_std: float = 2.0) -> None:
        self._stats = RollingStats(length, ddof=1)
        self.lower_std = lower_std
        self.upper_std = upper_std
        self.lower = self.upper = self.bandwidth = self.percent_b = NAN

    def update(self, value: float) -> None:
        stats = self._stats
        stats.update(value)
        if not stats.initialized:
            return
        mid = stats.mean
        self.lower = mid - self.lower_std * stats.std
        self.upper = mid + self.upper_std * stats.std
        width = self.upper - self.lower
        if width == 0.0:
            self.bandwidth, self.percent_b = 0.0, 0.5
        else:
            self.bandwidth = 100.0 * width / mid
            self.percent_b = (value - self.lower) / width

    @property
    def value(self) -> float:
        return self._stats.mean

    @property
    def mid(self) -> float:
        return self._stats.mean

    @property
    def initialized(self) -> bool:
        return self._stats.initialized

    def reset(self) -> None:
        self._stats.reset()
        self.lower = self.upper = self.bandwidth = self.percent_b = NAN
