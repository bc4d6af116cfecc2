"""The pure signal core: bars in, one batched model call per market-data batch, signals out.

No Ray, no I/O. The actor around it feeds a batch's bars and quotes (on_items), calls end_batch on
every BatchEnd and publishes the returned SignalBatch (which doubles as the group's watermark).

A group of at least VECTOR_FROM_SYMBOLS symbols keeps its features as numpy arrays indexed by
symbol slot (models/features/vector.py): a batch advances every symbol it holds at once, in rounds
of distinct symbols when a symbol has several bars in the batch. A narrower group keeps one
StreamingFeatures per symbol and advances it bar by bar: a round of a few symbols costs numpy's
fixed overhead per operation for little work, and a deep batch of a narrow group is many such
rounds. Either way the warm rows go to the model in one predict per batch, and the result equals
one StreamingFeatures per symbol fed bar by bar (tests/unit/signal/test_signal_core_batches.py).

Scores map to targets with a dead band, so a model with continuous scores does not flip on
noise: score >= threshold -> +1; score <= -threshold -> -1 (0 when shorting is not allowed);
anything in between (or NaN) keeps the current target. A Signal is emitted only on a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.ids import correlation_id
from cluster.foundation.domain.wire import Bar, Quote, Signal, SignalBatch
from models.features.spec import FEATURE_NAMES
from models.features.streaming import StreamingFeatures
from models.features.vector import VectorFeatures, rounds
from models.protocol import Model

VECTOR_FROM_SYMBOLS = 16  # groups this wide advance as arrays; narrower ones symbol by symbol


class _Rows(NamedTuple):
    """Warm rows of one round of a batch (distinct symbols), waiting for the batch's predict."""

    batch: int
    slots: NDArray[np.int64]
    seq: NDArray[np.int64]  # arrival order of the bars, across calls
    ts_ns: NDArray[np.int64]
    price: NDArray[np.float64]
    features: NDArray[np.float64]
    distinct: bool = True  # False: a symbol may repeat (rows in arrival order, targets applied one by one)


def _require_spec(model: Model) -> None:
    if tuple(model.feature_names) != FEATURE_NAMES:
        raise ValueError(
            f"model {model.version!r} expects features {tuple(model.feature_names)}, this build computes {FEATURE_NAMES}"
        )


class SignalCore:
    """Features and target positions of one symbol group, a market-data batch at a time."""

    def __init__(
        self, group: str, symbols: Iterable[str], model: Model, allow_short: bool, threshold: float = 0.5,
        vector_from: int = VECTOR_FROM_SYMBOLS,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        _require_spec(model)
        self.group = group
        self.allow_short = allow_short
        self.threshold = threshold
        self._model = model
        self._slot_of = {symbol: i for i, symbol in enumerate(dict.fromkeys(symbols))}
        self._symbols = tuple(self._slot_of)
        vector = len(self._symbols) >= vector_from
        self._features = VectorFeatures(len(self._symbols) if vector else 0)
        self._streams = None if vector else [StreamingFeatures() for _ in self._symbols]
        self._targets: NDArray[np.int64] = np.zeros(len(self._symbols), dtype=np.int64)
        self._queue: list[_Rows] = []
        self._inbox: list[Bar | Quote] = []  # fed by on_bar/on_quote, not yet advanced
        self._inbox_batch = 0
        self._seq = 0
        self._bars = 0
        self._rows_predicted = 0
        self._signals = 0
        self._ignored = 0

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def model_version(self) -> str:
        return self._model.version

    @property
    def vectorized(self) -> bool:
        """True when the group's features advance as arrays (a wide group)."""
        return self._streams is None

    def target(self, symbol: str) -> int:
        self._flush()
        return int(self._targets[self._slot_of[symbol]])

    def feature_values(self, symbol: str) -> tuple[float, ...]:
        self._flush()
        slot = self._slot_of[symbol]
        if self._streams is not None:
            return self._streams[slot].values()
        values: list[float] = self._features.values[slot].tolist()
        return tuple(values)

    def on_bar(self, bar: Bar, batch: int) -> None:
        """One bar of `batch`; bars fed one by one are collected and advanced together (on_items)."""
        if self._inbox and batch != self._inbox_batch:
            self._flush()
        self._inbox_batch = batch
        self._inbox.append(bar)

    def on_quote(self, quote: Quote) -> None:
        """One quote (the spread input); rows already queued keep the spread they were taken with."""
        self._inbox.append(quote)

    def _flush(self) -> None:
        """Advance the features by what on_bar/on_quote collected (every reader of the state calls it)."""
        if self._inbox:
            items, self._inbox = self._inbox, []
            self._advance(items, self._inbox_batch)

    def on_items(self, items: Sequence[Bar | Quote], batch: int) -> None:
        """Bars and quotes of `batch` in arrival order: advance the features of every symbol at once,
        queue the warm bars' rows for end_batch. Equal to calling on_bar/on_quote item by item."""
        self._flush()
        self._advance(items, batch)

    def _advance(self, items: Sequence[Bar | Quote], batch: int) -> None:
        if not items:
            return
        if self._streams is not None:
            self._advance_streams(self._streams, items, batch)
            return
        slot_of = self._slot_of
        slots = np.array([slot_of.get(m.symbol, -1) for m in items], dtype=np.int64)
        ts = np.array([m.ts_ns for m in items], dtype=np.int64)
        is_bar = np.array([type(m) is Bar for m in items], dtype=np.bool_)
        if is_bar.all():
            a = np.array([m.close for m in items], dtype=np.float64)  # type: ignore[union-attr]
            b = np.array([m.volume for m in items], dtype=np.float64)  # type: ignore[union-attr]
        else:
            a = np.array([m.close if isinstance(m, Bar) else m.bid for m in items], dtype=np.float64)
            b = np.array([m.volume if isinstance(m, Bar) else m.ask for m in items], dtype=np.float64)
        known = slots >= 0
        if not known.all():
            self._ignored += int((~known).sum())
            slots, is_bar, a, b, ts = slots[known], is_bar[known], a[known], b[known], ts[known]
        if len(slots):
            self._advance_arrays(batch, slots, is_bar, a, b, ts)

    def _advance_streams(self, streams: list[StreamingFeatures], items: Sequence[Bar | Quote], batch: int) -> None:
        """The narrow-group path: each symbol's StreamingFeatures, bar by bar in arrival order."""
        slot_of = self._slot_of
        slots: list[int] = []
        seqs: list[int] = []
        stamps: list[int] = []
        prices: list[float] = []
        rows: list[tuple[float, ...]] = []
        seq = self._seq
        for m in items:
            slot = slot_of.get(m.symbol)
            if slot is None:
                self._ignored += 1
                continue
            f = streams[slot]
            if type(m) is Bar:
                f.update_bar(m.close, m.high, m.low, m.volume)
                if f.ready:
                    slots.append(slot)
                    seqs.append(seq)
                    stamps.append(m.ts_ns)
                    prices.append(m.close)
                    rows.append(f.values())
                seq += 1
            else:
                f.update_quote(m.bid, m.ask)  # type: ignore[union-attr]
        self._bars += seq - self._seq
        self._seq = seq
        if slots:
            self._queue.append(_Rows(batch, np.array(slots, dtype=np.int64), np.array(seqs, dtype=np.int64),
                                     np.array(stamps, dtype=np.int64), np.array(prices, dtype=np.float64),
                                     np.array(rows, dtype=np.float64), distinct=False))

    def _advance_arrays(self, batch: int, slots: NDArray[np.int64], is_bar: NDArray[np.bool_],
                        a: NDArray[np.float64], b: NDArray[np.float64], ts_ns: NDArray[np.int64]) -> None:
        """The wide-group path, in columns: slot (index into `symbols`), bar or quote, close/bid, volume/ask, time."""
        features = self._features
        bar_seq = self._seq + np.cumsum(is_bar) - 1
        bars = int(is_bar.sum())
        self._seq += bars
        self._bars += bars
        for part in rounds(slots):
            bar = is_bar[part]
            quote = ~bar
            if quote.any():
                q = part[quote]
                features.update_spread(slots[q], a[q], b[q])
            if not bar.any():
                continue
            p = part[bar]
            bar_slots = slots[p]
            features.update_bars(bar_slots, a[p], b[p])
            warm = features.ready(bar_slots)
            if warm.any():
                w = p[warm]
                self._queue.append(_Rows(batch, bar_slots[warm], bar_seq[w], ts_ns[w], a[w],
                                         features.values[bar_slots[warm]]))

    def end_batch(self, batch: int, final: bool = False) -> SignalBatch:
        """Score every row queued since the last call in ONE predict; return this batch's signals."""
        self._flush()
        late = [rows.batch for rows in self._queue if rows.batch > batch]
        if late:
            raise BadInput(f"group {self.group}: end_batch({batch}) would close bars of later batch {max(late)}")
        version = self._model.version
        signals = [
            Signal(symbol=symbol, ts_ns=ts, group=self.group, batch=batch, target=target, strength=score,
                   price=price, model_version=version, correlation_id=correlation_id(symbol, ts))
            for symbol, ts, price, target, score in self._drain()
        ]
        self._signals += len(signals)
        return SignalBatch(group=self.group, batch=batch, signals=signals, final=final)

    def warm(self, history: Iterable[Bar | Quote]) -> None:
        """Replay history through the live path (features and targets) and drop its signals.

        Afterwards the core is in the state of one that processed `history` live. Call it
        before the first live bar: rows still waiting for end_batch would be mixed in.
        """
        self._flush()
        if self._queue:
            raise ValueError(f"group {self.group}: warm() with {self.pending_rows} live rows pending")
        self.on_items(list(history), batch=-1)
        self._drain()

    def swap_model(self, model: Model) -> None:
        """Serve the next batch with `model`; refused mid-batch or when its features differ."""
        _require_spec(model)
        self._flush()
        if self._queue:
            raise ValueError(f"group {self.group}: swap_model with {self.pending_rows} rows pending")
        self._model = model

    @property
    def pending_rows(self) -> int:
        self._flush()
        return sum(len(rows.slots) for rows in self._queue)

    def stats(self) -> dict[str, int | str]:
        self._flush()
        return {
            "bars": self._bars,
            "rows_predicted": self._rows_predicted,
            "signals": self._signals,
            "ignored": self._ignored,
            "pending_rows": self.pending_rows,
            "model_version": self._model.version,
        }

    def _drain(self) -> list[tuple[str, int, float, int, float]]:
        """Predict the queue, apply the targets in arrival order, return the changes
        (symbol, ts_ns, price, target, score) in arrival order."""
        queue, self._queue = self._queue, []
        if not queue:
            return []
        rows = queue[0].features if len(queue) == 1 else np.concatenate([r.features for r in queue])
        scores = np.asarray(self._model.predict(rows), dtype=np.float64).reshape(-1)
        if scores.shape[0] != len(rows):
            raise ValueError(f"model {self._model.version!r} returned {scores.shape[0]} scores for {len(rows)} rows")
        self._rows_predicted += len(rows)
        changed: list[tuple[int, str, int, float, int, float]] = []
        start = 0
        for part in queue:  # a round holds each symbol once; a later round is later in time
            score = scores[start:start + len(part.slots)]
            start += len(part.slots)
            if not part.distinct:
                changed += self._apply_in_order(part, score)
                continue
            current = self._targets[part.slots]
            target = self._targets_for(score, current)
            moved = np.flatnonzero(target != current)
            if not len(moved):
                continue
            self._targets[part.slots[moved]] = target[moved]
            symbols = self._symbols
            changed += [(seq, symbols[slot], ts, price, t, s) for seq, slot, ts, price, t, s in zip(
                part.seq[moved].tolist(), part.slots[moved].tolist(), part.ts_ns[moved].tolist(),
                part.price[moved].tolist(), target[moved].tolist(), score[moved].tolist(), strict=True)]
        if len(queue) > 1:
            changed.sort()
        return [c[1:] for c in changed]

    def _apply_in_order(self, part: _Rows, score: NDArray[np.float64]) -> list[tuple[int, str, int, float, int, float]]:
        """Targets of rows in which a symbol may repeat, one row after the other."""
        threshold, short = self.threshold, (-1 if self.allow_short else 0)
        targets, symbols = self._targets, self._symbols
        changed: list[tuple[int, str, int, float, int, float]] = []
        for seq, slot, ts, price, s in zip(part.seq.tolist(), part.slots.tolist(), part.ts_ns.tolist(),
                                           part.price.tolist(), score.tolist(), strict=True):
            current = int(targets[slot])
            target = 1 if s >= threshold else short if s <= -threshold else current  # NaN keeps the current
            if target != current:
                targets[slot] = target
                changed.append((seq, symbols[slot], ts, price, target, s))
        return changed

    def _targets_for(self, score: NDArray[np.float64], current: NDArray[np.int64]) -> NDArray[np.int64]:
        """score >= threshold -> 1; <= -threshold -> -1 (0 long-only); otherwise (or NaN) the current."""
        short = -1 if self.allow_short else 0
        out: NDArray[np.int64] = np.where(score >= self.threshold, 1,
                                          np.where(score <= -self.threshold, short, current)).astype(np.int64)
        return out
