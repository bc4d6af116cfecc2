"""The simulator as a child process of `trading-cluster run`, paced to finish in a given wall time.

Reads one JSON object on stdin (so the keys never appear on a command line):
  {"host": "127.0.0.1", "port": 0, "key_id": ..., "secret_key": ..., "files": [...],
   "start": "YYYY-MM-DD" | null, "end": "YYYY-MM-DD" | null, "seconds": 90}
and prints one line `port <n>` once it listens. Instead of moving the replay clock continuously
(nights and weekends would be minutes of silence), it releases the data's publish times one after
another, evenly spread over `seconds`, from the moment a market-data client has subscribed to
bars. /admin/state reports `remaining` = 0 when all is out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from alpaca_sim.__main__ import is_loopback, is_wildcard
from alpaca_sim.config import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, SimConfig
from alpaca_sim.data import MarketEvent, load_timeline
from alpaca_sim.rest import CORE
from alpaca_sim.server import create_app
from alpaca_sim.timefmt import parse_rfc3339_ns


@dataclass(frozen=True, slots=True)
class PacedPlan:
    files: tuple[str, ...]
    start: str | None
    end: str | None
    seconds: float


def select_events(events: list[MarketEvent], start: str | None, end: str | None) -> list[MarketEvent]:
    """Events whose bar/tick time falls on the UTC dates start..end (inclusive)."""
    lo = parse_rfc3339_ns(start) if start else None
    hi = parse_rfc3339_ns((date.fromisoformat(end) + timedelta(days=1)).isoformat()) if end else None
    return [e for e in events if (lo is None or e.ts_ns >= lo) and (hi is None or e.ts_ns < hi)]


def step_interval_s(events: list[MarketEvent], seconds: float) -> float:
    groups = len({e.publish_ns for e in events})
    return seconds / groups if groups else 0.0


async def _pace(app: web.Application, interval_s: float) -> None:
    core = app[CORE]
    while not any(peer.subs["bars"] for peer in core.market_data.hub.peers):
        await asyncio.sleep(0.05)  # nothing is released before a feed has subscribed
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while core.replay.remaining:
        next_at += interval_s
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        core.step(1)


async def serve(spec: dict[str, Any]) -> None:
    plan = PacedPlan(tuple(spec["files"]), spec.get("start"), spec.get("end"), float(spec["seconds"]))
    events = select_events(load_timeline(Path(f) for f in plan.files), plan.start, plan.end)
    config = SimConfig(key_id=spec["key_id"], secret_key=spec["secret_key"], speed=0.0,
                       initial_cash=Decimal(str(spec.get("cash", "100000"))), rate_limit=10_000)
    host = str(spec.get("host", "127.0.0.1"))
    if is_wildcard(host) or (not is_loopback(host) and (config.key_id == DEFAULT_KEY_ID
                                                         or config.secret_key == DEFAULT_SECRET_KEY)):
        raise SystemExit(f"refusing to listen on {host!r}: one interface, and off loopback only with own keys")
    sim_app = create_app(config, events)
    runner = web.AppRunner(sim_app)
    await runner.setup()
    site = web.TCPSite(runner, host, int(spec.get("port", 0)))
    await site.start()
    print(f"port {runner.addresses[0][1]}", flush=True)
    pacer = asyncio.get_running_loop().create_task(_pace(sim_app, step_interval_s(events, plan.seconds)))
    try:
        await asyncio.Event().wait()  # until the parent ends this process
    finally:
        pacer.cancel()
        await runner.cleanup()


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(spec))


if __name__ == "__main__":
    main()
