"""Operator endpoints (/admin/faults, /admin/step, /admin/state), behind the same keys as the API.

Bodies are read with the simulator's strict JSON reader and checked field by field, so no
input can raise past the handler: a bad body is a 422 with Alpaca's validation code.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from aiohttp import web

from alpaca_sim.faults import FaultPlan, FixedWindowRateLimit
from alpaca_sim.models import CODE_VALIDATION, SimRejection
from alpaca_sim.rest import CORE, json_response, read_json
from alpaca_sim.timefmt import format_utc, parse_rfc3339_ns

FAULTS: web.AppKey[FaultPlan] = web.AppKey("faults", FaultPlan)
LIMITER: web.AppKey[FixedWindowRateLimit] = web.AppKey("limiter", FixedWindowRateLimit)
HITS: web.AppKey[Counter[str]] = web.AppKey("hits", Counter[str])
MAX_STEPS = 10_000_000


def routes() -> list[web.RouteDef]:
    return [
        web.post("/admin/faults", admin_faults),
        web.post("/admin/step", admin_step),
        web.get("/admin/state", admin_state),
    ]


async def _object(request: web.Request, empty_ok: bool) -> dict[str, Any]:
    body = await read_json(request, empty_ok=empty_ok)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise SimRejection(422, CODE_VALIDATION, "request body must be a JSON object")
    return body


async def admin_faults(request: web.Request) -> web.Response:
    spec = await _object(request, empty_ok=False)
    try:
        drop = request.app[FAULTS].configure(spec)
    except (ValueError, TypeError, OverflowError) as exc:
        raise SimRejection(422, CODE_VALIDATION, str(exc)) from None
    core = request.app[CORE]
    core.reject_auth = request.app[FAULTS].reject_auth
    if drop:
        await core.trade_updates.hub.drop_all()
        await core.market_data.hub.drop_all()
    return json_response({"ok": True})


async def admin_step(request: web.Request) -> web.Response:
    """{"steps": n} releases the next n publish times; {"until": "<RFC-3339>"} everything up to then."""
    core = request.app[CORE]
    spec = await _object(request, empty_ok=True)
    if "until" in spec:
        until = spec["until"]
        if not isinstance(until, str):
            raise SimRejection(422, CODE_VALIDATION, "until must be an RFC-3339 string")
        try:
            until_ns = parse_rfc3339_ns(until)
        except ValueError as exc:
            raise SimRejection(422, CODE_VALIDATION, str(exc)) from None
        released = core.advance_to(until_ns)
    else:
        steps = spec.get("steps", 1)
        if isinstance(steps, float) and math.isfinite(steps) and steps.is_integer():
            steps = int(steps)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
            raise SimRejection(422, CODE_VALIDATION, f"steps must be an integer from 0 to {MAX_STEPS}")
        released = core.step(steps)
    return json_response({"released": released, "now": format_utc(core.replay.now_ns),
                          "remaining": core.replay.remaining})


async def admin_state(request: web.Request) -> web.Response:
    core = request.app[CORE]
    hits: Counter[str] = request.app[HITS]
    return json_response({
        "now": format_utc(core.replay.now_ns), "remaining": core.replay.remaining,
        "orders": len(core.engine.orders), "rate_limited": request.app[LIMITER].rejected,
        "hits": dict(hits),
        "stream_clients": len(core.trade_updates.hub.peers), "data_clients": len(core.market_data.hub.peers),
    })
