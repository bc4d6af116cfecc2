"""The control API: aiohttp over a ControlPlane, and a server a synchronous program can host.

Every ControlPlane call runs in a small thread pool, because real planes block on Ray calls.
Every state-changing call is audited before the plane is called and again with its outcome, so
an action that hangs or crashes is still on record. Errors leave as JSON
{"error": {"code", "message"}} whatever raised them; unexpected ones are logged, never leaked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
from aiohttp import web

from cluster.app.api_guards import (
    PRINCIPAL,
    PUBLIC_PATHS,
    Handler,
    bearer_auth,
    decode_json_body,
    host_and_origin_guard,
    json_bodies_only,
)
from cluster.app.api_openapi import openapi_document
from cluster.app.control import (
    DEFAULT_TIMEOUTS,
    Caller,
    ControlPlane,
    ErrorReply,
    KillRequest,
    PlaneTimeouts,
    PromoteRequest,
    ReasonRequest,
    ScaleRequest,
    ensure_safe_bind,
    error_reply,
    parse_limit,
    parse_order_status,
)
from cluster.foundation.domain.errors import ConfigError, DependencyDown
from cluster.foundation.domain.records import AuditRecord
from cluster.foundation.domain.settings import ControlApiSettings, is_wildcard_host

logger = logging.getLogger(__name__)

AuditSink = Callable[[AuditRecord], None]
ClockNs = Callable[[], int]
__all__ = ["PUBLIC_PATHS", "ApiServer", "PlaneTimeout", "create_app"]

MAX_BODY_BYTES = 64 * 1024
PLANE_THREADS = 4


class PlaneTimeout(DependencyDown):
    """The plane did not answer in time; an action may still complete afterwards."""


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type"}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=msgspec.json.encode(data), status=status, content_type="application/json",
                        headers=headers)


def _error(reply: ErrorReply, headers: dict[str, str] | None = None) -> web.Response:
    return _json(reply.body(), status=reply.status, headers=headers)


# --- middlewares ------------------------------------------------------------------------------


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
        message = _http_message(request, exc, headers)
        return _error(ErrorReply(exc.status, code, message), headers)
    except Exception as exc:  # every error leaves as JSON; unknown ones are logged, not shown
        reply = error_reply(exc)
        if reply.code == "internal":
            logger.exception("control API %s %s failed", request.method, request.path)
        elif reply.status == 503:
            logger.warning("control API %s %s: %s", request.method, request.path, reply.message)
        return _error(reply)


def _http_message(request: web.Request, exc: web.HTTPException, headers: dict[str, str]) -> str:
    if exc.status == 404:
        return f"no endpoint {request.path}; GET /openapi.json lists them"
    if exc.status == 405:
        return f"{request.method} is not allowed on {request.path}; allowed: {headers.get('Allow', '')}"
    if exc.status in (401, 403, 415) and exc.text:
        return exc.text
    return exc.reason


# --- handlers ---------------------------------------------------------------------------------


class _Endpoints:
    """One instance per app: the plane, the audit sink, the clock and the thread pool."""

    def __init__(self, plane: ControlPlane, audit: AuditSink, clock_ns: ClockNs,
                 executor: ThreadPoolExecutor, timeouts: PlaneTimeouts) -> None:
        self._timeouts = timeouts
        self._plane = plane
        self._audit = audit
        self._clock_ns = clock_ns
        self._executor = executor

    async def _blocking(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None = None,
                        **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        limit = self._timeouts.read_s if timeout_s is None else timeout_s
        future = loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise PlaneTimeout(f"the cluster did not answer within {limit:g} s") from None

    # reads

    async def health(self, request: web.Request) -> web.Response:
        report = await self._blocking(self._plane.health)
        return _json(report, status=503 if report.get("status") == "down" else 200)

    async def status(self, request: web.Request) -> web.Response:
        return _json(await self._blocking(self._plane.status))

    async def positions(self, request: web.Request) -> web.Response:
        return _json(await self._blocking(self._plane.positions))

    async def orders(self, request: web.Request) -> web.Response:
        status = parse_order_status(request.query.get("status"))
        limit = parse_limit(request.query.get("limit"))
        return _json(await self._blocking(self._plane.orders, status=status, limit=limit))

    async def risk_events(self, request: web.Request) -> web.Response:
        limit = parse_limit(request.query.get("limit"))
        return _json(await self._blocking(self._plane.risk_events, limit=limit))

    async def groups(self, request: web.Request) -> web.Response:
        return _json(await self._blocking(self._plane.groups))

    async def models(self, request: web.Request) -> web.Response:
        return _json(await self._blocking(self._plane.models))

    async def openapi(self, request: web.Request) -> web.Response:
        return _json(openapi_document())

    # actions

    async def trip_breaker(self, request: web.Request) -> web.Response:
        return await self._act(request, "breaker.trip", ReasonRequest.parse,
                               lambda r, by: self._plane.trip_breaker(by=by, reason=r.reason))

    async def reset_breaker(self, request: web.Request) -> web.Response:
        return await self._act(request, "breaker.reset", ReasonRequest.parse,
                               lambda r, by: self._plane.reset_breaker(by=by, reason=r.reason))

    async def kill(self, request: web.Request) -> web.Response:
        return await self._act(request, "kill", KillRequest.parse,
                               lambda r, by: self._plane.kill(by=by, reason=r.reason, flatten=r.flatten))

    async def scale_groups(self, request: web.Request) -> web.Response:
        return await self._act(request, "groups.scale", ScaleRequest.parse,
                               lambda r, by: self._plane.scale_groups(groups=r.groups, by=by, reason=r.reason))

    async def promote_model(self, request: web.Request) -> web.Response:
        return await self._act(request, "models.promote", PromoteRequest.parse,
                               lambda r, by: self._plane.promote_model(version=r.version, by=by, reason=r.reason))

    async def rollback_model(self, request: web.Request) -> web.Response:
        return await self._act(request, "models.rollback", ReasonRequest.parse,
                               lambda r, by: self._plane.rollback_model(by=by, reason=r.reason))

    async def _act(self, request: web.Request, action: str, parse: Callable[[object], Any],
                   invoke: Callable[[Any, str], dict[str, Any]]) -> web.Response:
        """Validate, audit 'requested', call the plane, audit 'ok'/'error'/'timeout'. No audit, no action."""
        caller = Caller.identify(request.headers.get("X-Operator"), request.get(PRINCIPAL), request.remote)
        parsed = parse(decode_json_body(await request.read()))
        request_id = uuid.uuid4().hex
        base = {"peer": caller.peer, "request_id": request_id, "claimed_operator": caller.claimed}
        arguments = {k: v for k, v in dataclasses.asdict(parsed).items() if k != "reason"}
        await self._blocking(self._audit, self._record(action, caller, parsed.reason,
                                                       {**base, "outcome": "requested", "arguments": arguments}))
        try:
            result = await self._blocking(invoke, parsed, caller.name, timeout_s=self._timeouts.action_s)
        except Exception as exc:
            reply = error_reply(exc)
            outcome = "timeout" if isinstance(exc, PlaneTimeout) else "error"
            await self._audit_outcome(self._record(action, caller, parsed.reason, {
                **base, "outcome": outcome, "status": reply.status, "error_code": reply.code,
                "error": reply.message}))
            raise
        await self._audit_outcome(self._record(action, caller, parsed.reason,
                                               {**base, "outcome": "ok", "result": msgspec.to_builtins(result)}))
        return _json(result)

    def _record(self, action: str, caller: Caller, reason: str, details: dict[str, Any]) -> AuditRecord:
        return AuditRecord(action=action, caller=caller.principal, reason=reason, occurred_at_ns=self._clock_ns(),
                           details=details)

    async def _audit_outcome(self, record: AuditRecord) -> None:
        """The action already happened: a failing outcome write is logged, not turned into an error."""
        try:
            await self._blocking(self._audit, record)
        except Exception:
            logger.exception("could not write the outcome audit record of %s", record.action)


ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/health", "health"),
    ("GET", "/status", "status"),
    ("GET", "/positions", "positions"),
    ("GET", "/orders", "orders"),
    ("GET", "/risk/events", "risk_events"),
    ("GET", "/groups", "groups"),
    ("GET", "/models", "models"),
    ("GET", "/openapi.json", "openapi"),
    ("POST", "/breaker/trip", "trip_breaker"),
    ("POST", "/breaker/reset", "reset_breaker"),
    ("POST", "/kill", "kill"),
    ("POST", "/groups/scale", "scale_groups"),
    ("POST", "/models/promote", "promote_model"),
    ("POST", "/models/rollback", "rollback_model"),
)


def create_app(plane: ControlPlane, settings: ControlApiSettings, audit: AuditSink,
               clock_ns: ClockNs = time.time_ns, timeouts: PlaneTimeouts = DEFAULT_TIMEOUTS) -> web.Application:
    """The aiohttp application; host it with ApiServer or any aiohttp runner.

    A token is required, on loopback too (cluster.app.api_token.with_token supplies a stored one)."""
    ensure_safe_bind(settings)
    if settings.token is None or not settings.token.get_secret_value().strip():
        raise ConfigError("the control API needs a token: set TRADING_CONTROL_API__TOKEN, or serve it "
                          "through cluster.app.api_host, which keeps one in <state_dir>/control_api.token")
    middlewares: list[Any] = [_errors_as_json, host_and_origin_guard(settings),
                              bearer_auth(settings.token.get_secret_value().strip()), json_bodies_only]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    executor = ThreadPoolExecutor(max_workers=PLANE_THREADS, thread_name_prefix="control-plane")
    endpoints = _Endpoints(plane, audit, clock_ns, executor, timeouts)
    for method, path, name in ROUTES:
        app.router.add_route(method, path, getattr(endpoints, name))

    async def _shutdown_pool(_: web.Application) -> None:
        executor.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(_shutdown_pool)
    return app


class ApiServer:
    """Runs the app on its own event loop in a daemon thread, for the synchronous supervisor.

    `port=None` uses settings.port; `port=0` lets the OS pick one (tests); read `.port` after start().
    """

    def __init__(self, plane: ControlPlane, settings: ControlApiSettings, audit: AuditSink, *,
                 port: int | None = None, clock_ns: ClockNs = time.time_ns, start_timeout_s: float = 10.0,
                 timeouts: PlaneTimeouts = DEFAULT_TIMEOUTS) -> None:
        self._timeouts = timeouts
        self._plane = plane
        self._settings = settings
        self._audit = audit
        self._clock_ns = clock_ns
        self._requested_port = settings.port if port is None else port
        self._start_timeout_s = start_timeout_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the control API server is not running")
        return self._bound_port

    @property
    def url(self) -> str:
        """Where a client on this machine reaches the server (loopback when bound to every interface)."""
        host = "127.0.0.1" if is_wildcard_host(self._settings.host) else self._settings.host.strip()
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    def start(self) -> None:
        """Binds and serves; raises ConfigError if the host is unsafe or the port is taken."""
        if self._thread is not None:
            raise RuntimeError("the control API server is already started")
        ensure_safe_bind(self._settings)
        app = create_app(self._plane, self._settings, self._audit, self._clock_ns, self._timeouts)
        self._thread = threading.Thread(target=self._serve, args=(app,), name="control-api", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout_s):
            raise ConfigError(f"control API did not start within {self._start_timeout_s} s")
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops serving and waits for the loop thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed on its own
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout_s)
        self._thread = None
        self._loop = None
        self._bound_port = None

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _serve(self, app: web.Application) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(app, shutdown_timeout=5.0)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self._settings.host, self._requested_port)
            try:
                loop.run_until_complete(site.start())
            except OSError as exc:
                self._startup_error = _bind_error(self._settings.host, self._requested_port, exc)
                return
            self._bound_port = int(runner.addresses[0][1])
            self._loop = loop
            self._ready.set()
            loop.run_forever()
        except BaseException as exc:  # surface anything that kills the loop before it is ready
            if not self._ready.is_set():
                self._startup_error = exc
            else:
                logger.exception("control API loop stopped on an error")
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()
            self._ready.set()


def _bind_error(host: str, port: int, exc: OSError) -> ConfigError:
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(f"control API port {port} on {host} is already in use "
                           "(another cluster running? set TRADING_CONTROL_API__PORT)")
    return ConfigError(f"cannot bind the control API to {host}:{port}: {exc.strerror or exc}")
