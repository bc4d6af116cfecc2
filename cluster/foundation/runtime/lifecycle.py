"""An actor's life as a transition table: starting -> recovering -> running -> draining -> stopped.

Pure: no Ray, no threads. The actor shell triggers the events; a trigger the table does not have
raises InvalidTransition naming the state and the trigger, so a shell can never drift into a state
its status would misreport.
"""

from __future__ import annotations

from typing import Literal

from cluster.foundation.domain.errors import InvalidTransition

Phase = Literal["starting", "recovering", "running", "draining", "stopped", "failed"]
Trigger = Literal["connected", "recovered", "stop", "drained", "fail"]

TRANSITIONS: dict[tuple[Phase, Trigger], Phase] = {
    ("starting", "connected"): "recovering",
    ("recovering", "recovered"): "running",
    ("starting", "stop"): "stopped",
    ("recovering", "stop"): "stopped",
    ("running", "stop"): "draining",
    ("draining", "drained"): "stopped",
    ("starting", "fail"): "failed",
    ("recovering", "fail"): "failed",
    ("running", "fail"): "failed",
    ("draining", "fail"): "failed",
}


class Lifecycle:
    def __init__(self) -> None:
        self.phase: Phase = "starting"
        self.history: list[Phase] = ["starting"]

    def trigger(self, event: Trigger) -> Phase:
        after = TRANSITIONS.get((self.phase, event))
        if after is None:
            raise InvalidTransition(f"actor lifecycle: {self.phase} -> {event}")
        self.phase = after
        self.history.append(after)
        return after

    @property
    def accepting_work(self) -> bool:
        return self.phase == "running"
