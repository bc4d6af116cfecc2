"""The pure signal core: bars in, one batched model call per market-data batch, signals out.

No Ray, no I/O. The actor around it feeds bars and quotes, calls end_batch on every BatchEnd
and publishes the returned SignalBatch (which doubles as the group's watermark).

Scores map to targets with a dead band, so a model with continuous scores does not flip on
noise: score >= threshold -> +1; score <= -threshold -> -1 (0 when shorting is not allowed);
anything in between (or NaN) keeps the current target. A Signal is emitted only on a change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from cluster.foundation.errors import BadInput
from cluster.foundation.ids import correlation_id
from cluster.foundation.wire import Bar, Quote, Signal, SignalBatch
from models.features.spec import FEATURE_NAMES
from models.features.streaming import StreamingFeatures
from models.protocol import Model


class _QueuedRow(NamedTuple):
    """A warm bar waiting for its batch's predict (a tuple: built once per bar, on the hot path)."""

    symbol: str
    ts_ns: int
    price: float
    batch: int
    features: tuple[float, ...]


def _require_spec(model: Model) -> None:
    if tuple(model.feature_names) != FEATURE_NAMES:
        raise ValueError(
            f"model {model.version!r} expects features {tuple(model.feature_names)}, this build computes {FEATURE_NAMES}"
        )


class SignalCore:
    """Features and target positions of one symbol group."""

    def __init__(
        self, group: str, symbols: Iterable[str], model: Model, allow_short: bool, threshold: float = 0.5
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        _require_spec(model)
        self.group = group
        self.allow_short = allow_short
        self.threshold = threshold
        self._model = model
        self._features = {symbol: StreamingFeatures() for symbol in symbols}
        self._targets = dict.fromkeys(self._features, 0)
        self._queue: list[_QueuedRow] = []
        self._bars = 0
        self._rows_predicted = 0
        self._signals = 0
        self._ignored = 0

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._features)

    @property
    def model_version(self) -> str:
        return self._model.version

    def target(self, symbol: str) -> int:
        return self._targets[symbol]

    def feature_values(self, symbol: str) -> tuple[float, ...]:
        return self._features[symbol].values()

    def on_bar(self, bar: Bar, batch: int) -> None:
        """Advance the symbol's features; once they are warm, queue the row for end_batch."""
        features = self._features.get(bar.symbol)
        if features is None:
            self._ignored += 1
            return
        self._bars += 1
        features.update_bar(bar.close, bar.high, bar.low, bar.volume)
        if features.ready:
            self._queue.append(_QueuedRow(bar.symbol, bar.ts_ns, bar.close, batch, features.values()))

    def on_quote(self, quote: Quote) -> None:
        """Update the spread input; rows already queued keep the spread they were taken with."""
        features = self._features.get(quote.symbol)
        if features is None:
            self._ignored += 1
            return
        features.update_quote(quote.bid, quote.ask)

    def end_batch(self, batch: int, final: bool = False) -> SignalBatch:
        """Score every row queued since the last call in ONE predict; return this batch's signals."""
        late = [row.batch for row in self._queue if row.batch > batch]
        if late:
            raise BadInput(f"group {self.group}: end_batch({batch}) would close bars of later batch {max(late)}")
        signals = [
            Signal(
                symbol=row.symbol,
                ts_ns=row.ts_ns,
                group=self.group,
                batch=batch,
                target=target,
                strength=score,
                price=row.price,
                model_version=self._model.version,
                correlation_id=correlation_id(row.symbol, row.ts_ns),
            )
            for row, target, score in self._drain()
        ]
        self._signals += len(signals)
        return SignalBatch(group=self.group, batch=batch, signals=signals, final=final)

    def warm(self, history: Iterable[Bar | Quote]) -> None:
        """Replay history through the live path (features and targets) and drop its signals.

        Afterwards the core is in the state of one that processed `history` live. Call it
        before the first live bar: rows still waiting for end_batch would be mixed in.
        """
        if self._queue:
            raise ValueError(f"group {self.group}: warm() with {len(self._queue)} live rows pending")
        for item in history:
            if isinstance(item, Bar):
                self.on_bar(item, batch=-1)
            else:
                self.on_quote(item)
        for _ in self._drain():
            pass

    def swap_model(self, model: Model) -> None:
        """Serve the next batch with `model`; refused mid-batch or when its features differ."""
        _require_spec(model)
        if self._queue:
            raise ValueError(f"group {self.group}: swap_model with {len(self._queue)} rows pending")
        self._model = model

    def stats(self) -> dict[str, int | str]:
        return {
            "bars": self._bars,
            "rows_predicted": self._rows_predicted,
            "signals": self._signals,
            "ignored": self._ignored,
            "pending_rows": len(self._queue),
            "model_version": self._model.version,
        }

    def _drain(self) -> list[tuple[_QueuedRow, int, float]]:
        """Predict the queue, apply the targets in arrival order, return the changes."""
        queue, self._queue = self._queue, []
        if not queue:
            return []
        rows = np.array([row.features for row in queue], dtype=np.float64)
        scores = np.asarray(self._model.predict(rows), dtype=np.float64).reshape(-1)
        if scores.shape[0] != len(queue):
            raise ValueError(f"model {self._model.version!r} returned {scores.shape[0]} scores for {len(queue)} rows")
        self._rows_predicted += len(queue)
        changes: list[tuple[_QueuedRow, int, float]] = []
        for row, score in zip(queue, scores.tolist(), strict=True):
            current = self._targets[row.symbol]
            target = self._target_for(score, current)
            if target != current:
                self._targets[row.symbol] = target
                changes.append((row, target, score))
        return changes

    def _target_for(self, score: float, current: int) -> int:
        if math.isnan(score):
            return current
        if score >= self.threshold:
            return 1
        if score <= -self.threshold:
            return -1 if self.allow_short else 0
        return current
