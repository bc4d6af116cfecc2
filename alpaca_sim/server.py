"""The aiohttp application: REST, streams, admin endpoints, and the middleware that plays
Alpaca's gatekeeper (auth 401, rate limit 429 with X-RateLimit-* headers, injected faults).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from alpaca_sim import account_extras, admin, assets, history, marketdata, portfolio, rest, watchlists
from alpaca_sim.admin import FAULTS, HITS, LIMITER
from alpaca_sim.assets import ASSETS
from alpaca_sim.config import SimConfig
from alpaca_sim.core import SimCore
from alpaca_sim.data import MarketEvent
from alpaca_sim.faults import FaultPlan, FixedWindowRateLimit
from alpaca_sim.models import SimRejection
from alpaca_sim.rest import CORE, json_response

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_UNAUTHORIZED = {"code": 40110000, "message": "request is not authorized"}
_RATE_LIMITED = {"code": 42910000, "message": "rate limit exceeded"}
MAX_BODY_BYTES = 256 * 1024
# Alpaca's codes are the HTTP status followed by five digits
_HTTP_MESSAGES = {404: "endpoint not found", 405: "method not allowed", 413: "request body too large"}


def create_app(config: SimConfig, events: list[MarketEvent] | None = None) -> web.Application:
    """Build the simulator; `events` replaces config.data_files (tests pass a slice of real data)."""
    app = web.Application(middlewares=[_gatekeeper], client_max_size=MAX_BODY_BYTES)
    core = SimCore(config, events)
    faults = FaultPlan(time.time)
    for spec in config.faults:
        faults.configure(spec)
    core.reject_auth = faults.reject_auth
    app[CORE] = core
    app[ASSETS] = core.assets
    app[account_extras.CONFIGURATIONS] = account_extras.Configurations()
    app[watchlists.WATCHLISTS] = watchlists.Watchlists()
    app[FAULTS] = faults
    app[LIMITER] = FixedWindowRateLimit(config.rate_limit, config.rate_window_s, time.time)
    app[HITS] = Counter()
    app.add_routes(rest.routes() + assets.routes() + account_extras.routes() + history.routes()
                   + marketdata.routes() + watchlists.routes() + portfolio.routes() + admin.routes())
    app.add_routes([
        web.get("/stream", core.trade_updates.handle),
        web.get(r"/v2/{feed:(iex|sip|delayed_sip|test)}", core.market_data.handle),
        web.get(r"/v1beta3/crypto/{loc:(us|us-1|eu-1)}", core.market_data.handle),
    ])
    app.cleanup_ctx.append(_ticker)
    return app


def _is_api(request: web.Request) -> bool:
    websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    return not websocket and request.path.startswith(("/v2/", "/v1beta3/"))


@web.middleware
async def _gatekeeper(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    faults = app[FAULTS]
    if faults.latency_s and not request.path.startswith("/admin/"):
        await asyncio.sleep(faults.latency_s)
    key = request.headers.get("APCA-API-KEY-ID")
    secret = request.headers.get("APCA-API-SECRET-KEY")
    if request.path.startswith("/admin/"):
        # the operator's endpoints need the keys too, even while reject_auth locks the API out
        if key is None or secret is None or not app[CORE].keys_match(key, secret):
            return json_response(_UNAUTHORIZED, status=401)
        return await _answer(request, handler)
    if not _is_api(request):
        return await _answer(request, handler)
    if key is None or secret is None or not app[CORE].keys_valid(key, secret):
        return json_response(_UNAUTHORIZED, status=401)
    verdict = app[LIMITER].check(key)
    headers = {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(math.ceil(verdict.reset_s)),
    }
    if not verdict.allowed:
        return _with_headers(json_response(_RATE_LIMITED, status=429), headers)
    app[HITS][f"{request.method} {request.path}"] += 1
    fault = faults.take(request.method, request.path)
    if fault is not None and not fault.after_handler:
        return _with_headers(_fault_response(fault.status), _fault_headers(fault.status, fault.reset_s, headers))
    response = await _answer(request, handler)
    if fault is not None:
        return _with_headers(_fault_response(fault.status), _fault_headers(fault.status, fault.reset_s, headers))
    return _with_headers(response, headers)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer is JSON with Alpaca's {"code", "message"}, including the router's 404 and 405."""
    try:
        return await handler(request)
    except SimRejection as exc:
        return json_response(exc.body, status=exc.http_status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = _HTTP_MESSAGES.get(exc.status, exc.reason.lower())
        response = json_response({"code": exc.status * 100_000 + 10_000, "message": message}, status=exc.status)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:  # a bug must still answer like Alpaca does, and be logged with its traceback
        log.exception("internal error on %s %s", request.method, request.path)
        return json_response({"code": 50010000, "message": "internal server error"}, status=500)


def _fault_response(status: int) -> web.Response:
    if status == 429:
        return json_response(_RATE_LIMITED, status=429)
    if status == 401:
        return json_response(_UNAUTHORIZED, status=401)
    return json_response({"code": status * 100_000, "message": "injected fault"}, status=status)


def _fault_headers(status: int, reset_s: float, headers: dict[str, str]) -> dict[str, str]:
    if status != 429:
        return headers
    return {**headers, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(math.ceil(reset_s))}


def _with_headers(response: web.StreamResponse, headers: dict[str, str]) -> web.StreamResponse:
    response.headers.update(headers)
    return response


async def _ticker(app: web.Application) -> AsyncIterator[None]:
    """With speed > 0, move the replay clock `speed` replayed seconds per wall second."""
    core = app[CORE]
    task = None
    if core.config.speed > 0:
        task = asyncio.get_running_loop().create_task(_tick_forever(core))
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _tick_forever(core: SimCore) -> None:
    last = time.monotonic()
    while core.replay.remaining:
        await asyncio.sleep(core.config.tick_interval_s)
        now = time.monotonic()
        core.advance_to(core.replay.now_ns + int((now - last) * core.config.speed * 1e9))
        last = now
