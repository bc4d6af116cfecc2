"""StatusCalls: one status call per actor at a time, and every call's outcome taken."""

from __future__ import annotations

from typing import Any

from cluster.app.status_calls import StatusCalls
from cluster.foundation.runtime.ray_calls import ActorCallError, CallOutcome


class FakeCalls:
    """Calls are numbered; `answers[n]` is what call n gives each time it is awaited (a list, in turn)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []
        self.answers: dict[int, list[Any]] = {}

    def submit(self, handle: Any, method: str) -> int:
        self.made.append((handle, method))
        return len(self.made) - 1

    def wait(self, ref: int, timeout_s: float) -> Any:
        answer = self.answers[ref].pop(0)
        if isinstance(answer, CallOutcome):
            raise ActorCallError(answer, "test")
        return answer


def _status(fake: FakeCalls) -> StatusCalls:
    return StatusCalls({"risk": "snapshot"}, submit=fake.submit, wait=fake.wait)


def test_round_when_an_actor_is_busy_then_the_next_round_waits_on_the_same_call_not_a_new_one() -> None:
    fake = FakeCalls()
    fake.answers = {0: [CallOutcome.TIMEOUT, CallOutcome.TIMEOUT, {"next_batch": 7}], 1: [{"batch": 3}],
                    2: [{"batch": 4}], 3: [{"batch": 5}]}
    status = _status(fake)
    first = status.round({"risk": "h-risk", "market_data": "h-md"}, 1.0)
    second = status.round({"risk": "h-risk", "market_data": "h-md"}, 1.0)
    third = status.round({"risk": "h-risk", "market_data": "h-md"}, 1.0)
    assert first["risk"] == {"unavailable": "timeout: test"} and second["risk"] == {"unavailable": "timeout: test"}
    assert third["risk"] == {"next_batch": 7}
    assert [m for m in fake.made if m[0] == "h-risk"] == [("h-risk", "snapshot")]  # one call in three rounds
    assert [m for m in fake.made if m[0] == "h-md"] == [("h-md", "stats")] * 3
    assert status.pending == []


def test_round_when_a_call_fails_then_its_error_is_taken_and_the_next_round_calls_again() -> None:
    fake = FakeCalls()
    fake.answers = {0: [CallOutcome.UNAVAILABLE], 1: [{"ok": True}]}
    status = _status(fake)
    assert status.round({"execution": "h-ex"}, 1.0) == {"execution": {"unavailable": "unavailable: test"}}
    assert status.round({"execution": "h-ex"}, 1.0) == {"execution": {"ok": True}}
    assert fake.made == [("h-ex", "stats"), ("h-ex", "stats")]


def test_round_when_the_handle_changes_or_the_actor_goes_then_the_old_call_is_dropped() -> None:
    fake = FakeCalls()
    fake.answers = {0: [CallOutcome.TIMEOUT], 1: [{"fresh": True}], 2: [CallOutcome.TIMEOUT]}
    status = _status(fake)
    status.round({"risk": "old"}, 1.0)
    assert status.round({"risk": "new"}, 1.0) == {"risk": {"fresh": True}}
    status.round({"signal-g0": "h-sig"}, 1.0)
    assert status.pending == ["signal-g0"]
    status.round({}, 1.0)
    assert status.pending == []
