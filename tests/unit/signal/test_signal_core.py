"""SignalCore on real 2013 minute bars: batching, warm-up, determinism, one predict per batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from actors.signal.core import SignalCore
from actors.signal.strategy import RuleBasedBaseline
from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.settings import SignalSettings
from cluster.foundation.domain.wire import Bar, Quote, Signal
from models.features.spec import FEATURE_NAMES


class CountingModel:
    """Wraps a model and records the shape of every predict call."""

    def __init__(self, inner: RuleBasedBaseline) -> None:
        self.inner = inner
        self.version = inner.version
        self.feature_names = inner.feature_names
        self.calls: list[int] = []

    def predict(self, rows: np.ndarray) -> np.ndarray:
        self.calls.append(rows.shape[0])
        return self.inner.predict(rows)


class ConstantModel:
    """Scores every row the same: lets a test drive the score-to-target mapping directly."""

    def __init__(self, score: float, version: str = "constant-1", names: tuple[str, ...] = FEATURE_NAMES) -> None:
        self.score = score
        self.version = version
        self.feature_names = names

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.full(rows.shape[0], self.score)


def _core(settings: SignalSettings, symbols: Sequence[str] = ("SPY", "IBM", "BAC", "AIG"), allow_short: bool = False,
          model: object | None = None) -> SignalCore:
    return SignalCore("g0", symbols, model or RuleBasedBaseline(settings), allow_short=allow_short)  # type: ignore[arg-type]


def _run(core: SignalCore, events: Sequence[Bar | Quote], bars_per_batch: int, first_batch: int = 0) -> list[Signal]:
    """Feed events, closing a batch every `bars_per_batch` bars (and at the end)."""
    signals: list[Signal] = []
    batch, in_batch = first_batch, 0
    for event in events:
        if isinstance(event, Bar):
            core.on_bar(event, batch)
            in_batch += 1
        else:
            core.on_quote(event)
        if in_batch == bars_per_batch:
            signals += core.end_batch(batch).signals
            batch, in_batch = batch + 1, 0
    signals += core.end_batch(batch, final=True).signals
    return signals


def _identity(signals: Sequence[Signal]) -> list[tuple[object, ...]]:
    """Everything about a signal except the batch number, which depends on how bars were cut."""
    return [(s.symbol, s.ts_ns, s.target, s.strength, s.price, s.model_version, s.correlation_id) for s in signals]


def test_signals_when_same_real_bars_replayed_twice_then_identical(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    first = _run(_core(signal_settings), events, 256)
    second = _run(_core(signal_settings), events, 256)
    assert first == second
    assert len(first) > 10


@pytest.mark.parametrize("bars_per_batch", [1, 7, 500])
def test_signals_when_bars_cut_into_batches_of_1_7_500_then_identical(events, signal_settings, bars_per_batch) -> None:  # type: ignore[no-untyped-def]
    reference = _identity(_run(_core(signal_settings), events, 10_000_000))
    assert _identity(_run(_core(signal_settings), events, bars_per_batch)) == reference


def test_warmed_core_when_fed_the_rest_then_emits_the_same_signals_as_an_uninterrupted_one(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    # Arrange: cut the real history in the middle of the week
    cut = len(events) // 2
    uninterrupted = _core(signal_settings)
    _run(uninterrupted, events[:cut], 64)
    warmed = _core(signal_settings)
    # Act
    warmed.warm(events[:cut])
    # Assert: same state, then the same future
    for symbol in uninterrupted.symbols:
        assert warmed.target(symbol) == uninterrupted.target(symbol)
        np.testing.assert_array_equal(warmed.feature_values(symbol), uninterrupted.feature_values(symbol))
    later_live = _run(uninterrupted, events[cut:], 64, first_batch=1000)
    later_warmed = _run(warmed, events[cut:], 64, first_batch=1000)
    assert later_warmed == later_live
    assert len(later_live) > 5
    assert warmed.stats()["signals"] == len(later_warmed)  # warm-up signals were discarded


def test_end_batch_when_no_bars_arrived_then_empty_signal_batch_as_watermark(signal_settings) -> None:  # type: ignore[no-untyped-def]
    batch = _core(signal_settings).end_batch(42, final=True)
    assert (batch.group, batch.batch, batch.signals, batch.final) == ("g0", 42, [], True)


def test_end_batch_when_rows_of_many_symbols_queued_then_one_predict_call_over_all(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    model = CountingModel(RuleBasedBaseline(signal_settings))
    core = _core(signal_settings, model=model)
    bars = [e for e in events if isinstance(e, Bar)][:2000]
    for bar in bars:
        core.on_bar(bar, 0)
    core.end_batch(0)
    core.end_batch(1)
    assert model.calls == [core.stats()["rows_predicted"]]
    assert model.calls[0] > 1000


def test_signals_when_emitted_then_carry_bar_time_close_and_correlation_id(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    closes = {(e.symbol, e.ts_ns): e.close for e in events if isinstance(e, Bar)}
    signals = _run(_core(signal_settings), events, 256)
    for signal in signals:
        assert signal.price == closes[(signal.symbol, signal.ts_ns)]
        assert signal.correlation_id == f"{signal.symbol}@{signal.ts_ns}"
        assert (signal.group, signal.model_version) == ("g0", "rule_baseline-1")
        assert signal.strength in (-1.0, 1.0)


def test_targets_when_shorting_not_allowed_then_never_minus_one_and_alternate(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    signals = _run(_core(signal_settings, allow_short=False), events, 256)
    assert {s.target for s in signals} == {0, 1}
    for symbol in ("SPY", "IBM", "BAC", "AIG"):
        targets = [s.target for s in signals if s.symbol == symbol]
        assert targets == [1, 0] * (len(targets) // 2) + [1] * (len(targets) % 2)


def test_targets_when_shorting_allowed_then_sell_scores_go_short(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    signals = _run(_core(signal_settings, allow_short=True), events, 256)
    assert -1 in {s.target for s in signals}


@pytest.mark.parametrize(("score", "start", "expected"), [(0.49, 1, 1), (0.5, 0, 1), (-0.7, 1, 0), (float("nan"), 1, 1)])
def test_score_when_mapped_then_dead_band_keeps_target_and_threshold_moves_it(events, signal_settings, score, start, expected) -> None:  # type: ignore[no-untyped-def]
    # Arrange: reach `start` with a decisive model, then swap in one that always says `score`
    core = _core(signal_settings, symbols=("IBM",), model=ConstantModel(1.0 if start == 1 else -1.0))
    ibm = [e for e in events if isinstance(e, Bar) and e.symbol == "IBM"]
    for bar in ibm[:40]:
        core.on_bar(bar, 0)
    core.end_batch(0)
    core.swap_model(ConstantModel(score))
    # Act
    core.on_bar(ibm[40], 1)
    core.end_batch(1)
    # Assert
    assert core.target("IBM") == expected


def test_on_bar_when_symbol_outside_group_then_ignored_and_counted(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    core = _core(signal_settings, symbols=("IBM",))
    bars = [e for e in events if isinstance(e, Bar)][:500]
    for bar in bars:
        core.on_bar(bar, 0)
    stats = core.stats()
    assert stats["bars"] == sum(b.symbol == "IBM" for b in bars)
    assert stats["ignored"] == sum(b.symbol != "IBM" for b in bars)


def test_swap_model_when_feature_names_differ_then_value_error(signal_settings) -> None:  # type: ignore[no-untyped-def]
    core = _core(signal_settings)
    with pytest.raises(ValueError, match="expects features"):
        core.swap_model(ConstantModel(1.0, names=FEATURE_NAMES[:-1]))  # type: ignore[arg-type]
    assert core.model_version == "rule_baseline-1"


def test_swap_model_when_between_batches_then_next_signals_carry_new_version(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    core = _core(signal_settings, symbols=("BAC",))
    bac = [e for e in events if isinstance(e, Bar) and e.symbol == "BAC"][:60]
    for bar in bac[:50]:
        core.on_bar(bar, 0)
    core.end_batch(0)
    core.swap_model(ConstantModel(1.0, version="constant-2"))
    core.on_bar(bac[50], 1)
    signals = core.end_batch(1).signals
    assert [(s.target, s.model_version) for s in signals] == [(1, "constant-2")]


def test_swap_model_when_rows_pending_then_refused(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    core = _core(signal_settings, symbols=("BAC",))
    for bar in [e for e in events if isinstance(e, Bar) and e.symbol == "BAC"][:40]:
        core.on_bar(bar, 0)
    with pytest.raises(ValueError, match="pending"):
        core.swap_model(ConstantModel(1.0))


def test_end_batch_when_rows_belong_to_a_later_batch_then_bad_input(events, signal_settings) -> None:  # type: ignore[no-untyped-def]
    core = _core(signal_settings, symbols=("AIG",))
    for bar in [e for e in events if isinstance(e, Bar) and e.symbol == "AIG"][:40]:
        core.on_bar(bar, 5)
    with pytest.raises(BadInput, match="later batch 5"):
        core.end_batch(4)
