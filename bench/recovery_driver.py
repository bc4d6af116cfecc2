"""Driver of one recovery measurement, run on the head node of a network-namespace cluster.

Replays one real day at high speed, waits until the pipeline is well under way, kills the victim
(the market-data actor's process, or every process of a node's namespace), and records when the
risk actor decides batches. Writes {"kill_at": t, "decisions": [[t, next_batch], ...], ...} as JSON.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from cluster.app.supervisor import Supervisor
from cluster.foundation.domain.settings import load_settings
from cluster.foundation.runtime import ray_calls

KILL_AT_BATCH = 40


def main(head: str, victim: str, workdir: str) -> None:
    base = load_settings()
    work = Path(workdir)
    settings = base.model_copy(update={
        "state_dir": str(work / "state"),
        "database": base.database.model_copy(update={"url": SecretStr(f"sqlite:///{work}/recovery-{victim}.db")}),
        "market_data": base.market_data.model_copy(update={
            "source": "replay", "start": "2013-10-07", "end": "2013-10-07", "speed": 300.0, "batch_bars": 8}),
        "execution": base.execution.model_copy(update={"broker": "sim"}),
        "signal": base.signal.model_copy(update={"group_size": 1}),
    })
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sup = Supervisor(settings, head)
    sup.start()
    decisions: list[list[float]] = []
    state: dict[str, Any] = {"kill_at": None}

    def tick(stats: dict[str, Any]) -> None:
        risk = stats.get("risk", {})
        if "next_batch" in risk and (not decisions or decisions[-1][1] != risk["next_batch"]):
            decisions.append([time.time(), risk["next_batch"]])
        if state["kill_at"] is None and risk.get("next_batch", 0) >= KILL_AT_BATCH:
            state["kill_at"] = time.time()
            _kill(victim)
            (work / f"killed-{victim}").write_text(str(state["kill_at"]))

    (work / f"started-{victim}").write_text("started")  # every actor is placed now
    try:
        sup.start_feed()
        sup.run_until_done(600, on_tick=tick, tick_s=0.02)
    finally:
        sup.shutdown()
    (work / f"recovery-{victim}.json").write_text(json.dumps({"victim": victim, **state, "decisions": decisions}))


def _kill(victim: str) -> None:
    if victim == "market_data":
        os.kill(ray_calls.actor_states("trading", [victim])[victim]["pid"], signal.SIGKILL)
        return
    pids = subprocess.run(["ip", "netns", "pids", victim], capture_output=True, text=True).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


if __name__ == "__main__":
    main(*sys.argv[1:4])
