"""When `run` starts the simulator, and when it tells the feed that the data has ended."""

from __future__ import annotations

from pydantic import SecretStr

from cluster.app.runner import EndOfData, wants_simulator
from cluster.foundation.domain.settings import load_settings
from tests.kit.clock import SecondsClock


def test_wants_simulator_when_loopback_urls_and_no_keys_then_true_and_with_keys_false() -> None:
    base = load_settings()
    local = base.model_copy(update={"alpaca": base.alpaca.model_copy(update={
        "trading_url": "http://127.0.0.1:8190", "data_url": "ws://127.0.0.1:8190", "key_id": None, "secret_key": None})})
    keyed = local.model_copy(update={"alpaca": local.alpaca.model_copy(update={
        "key_id": SecretStr("k"), "secret_key": SecretStr("s"), "trading_url": "https://paper-api.alpaca.markets"})})
    assert wants_simulator(local)
    assert not wants_simulator(keyed)


def test_end_of_data_when_remaining_zero_for_grace_then_finish_called_once() -> None:
    remaining = [5]
    clock = SecondsClock()
    calls: list[int] = []
    end = EndOfData(lambda: remaining[0], lambda: calls.append(1), clock=clock, grace_s=2.0)
    end({})
    remaining[0] = 0
    end({})
    clock.now = 1.0
    end({})
    assert calls == []
    clock.now = 2.5
    end({})
    end({})
    assert calls == [1]
