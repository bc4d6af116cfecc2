"""The model hand-over between a control thread and the loop thread that owns the SignalCore."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from actors.signal.model_slot import ModelSlot
from cluster.foundation.domain.errors import TemporaryError
from models.features.spec import FEATURE_NAMES


class FakeModel:
    def __init__(self, version: str) -> None:
        self.version = version
        self.feature_names = FEATURE_NAMES

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.zeros(len(rows))


class FakeLoop:
    """Stands for the signal loop: applies offers on its own thread, records where and what."""

    def __init__(self, slot: ModelSlot, refuse: str | None = None) -> None:
        self.slot = slot
        self.refuse = refuse
        self.serving = "m0"
        self.applied_on: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="fake-loop")

    def _apply(self, model: FakeModel) -> None:
        if model.version == self.refuse:
            raise ValueError("features differ")
        self.serving = model.version
        self.applied_on.append(threading.current_thread().name)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.slot.apply_pending(self._apply)
            self._stop.wait(0.005)

    def __enter__(self) -> FakeLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()


def test_offer_when_loop_running_then_applied_on_loop_thread_and_version_returned() -> None:
    slot = ModelSlot()
    with FakeLoop(slot) as loop:
        applied = slot.wait(slot.offer(FakeModel("m1")), timeout_s=2.0)
    assert applied == "m1" and loop.serving == "m1"
    assert loop.applied_on == ["fake-loop"]


def test_offer_when_loop_refuses_model_then_value_error_and_old_model_kept() -> None:
    slot = ModelSlot()
    with FakeLoop(slot, refuse="bad") as loop, pytest.raises(ValueError, match="bad refused: features differ"):
        slot.wait(slot.offer(FakeModel("bad")), timeout_s=2.0)
    assert loop.serving == "m0"


def test_offer_when_no_loop_applies_in_time_then_withdrawn_and_never_applied_later() -> None:
    slot = ModelSlot()
    offer = slot.offer(FakeModel("late"))
    with pytest.raises(TemporaryError, match="not applied"):
        slot.wait(offer, timeout_s=0.05)
    seen: list[str] = []
    assert slot.apply_pending(lambda m: seen.append(m.version)) is None
    assert seen == [] and not slot.pending


def test_offer_when_second_offer_before_apply_then_first_superseded_and_second_applied() -> None:
    slot = ModelSlot()
    first = slot.offer(FakeModel("m1"))
    second = slot.offer(FakeModel("m2"))
    seen: list[str] = []
    slot.apply_pending(lambda m: seen.append(m.version))
    with pytest.raises(ValueError, match="superseded by model m2"):
        slot.wait(first, timeout_s=0.1)
    assert slot.wait(second, timeout_s=0.1) == "m2" and seen == ["m2"]
