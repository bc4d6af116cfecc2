"""What every control API request passes before a handler sees it, and how its body is read.

* Host must name this server (loopback names, the configured host, the address the request
  arrived on, or control_api.allowed_hosts): a DNS-rebinding page, whose Host is its own
  domain, cannot reach it.
* Origin, when present, must be this server's own origin; "null" and any other site are refused,
  so a web page the operator opens cannot drive the API with a simple (preflight-free) request.
* Every route but the public ones needs the bearer token (compared in constant time).
* Mutating routes accept only `Content-Type: application/json` (415 otherwise).
* Bodies must be UTF-8 JSON nested at most MAX_JSON_DEPTH deep; anything else is BadInput (400).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import msgspec
from aiohttp import web

from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.settings import ControlApiSettings, is_wildcard_host

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MAX_JSON_DEPTH = 32
TOKEN_PRINCIPAL = "token"
PRINCIPAL = web.RequestKey("principal", str)


class Forbidden(web.HTTPForbidden):
    """A request from a place the API does not serve (foreign Host or Origin)."""


def _url_host(host: str) -> str:
    host = host.strip().lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def host_name(host_header: str) -> str:
    """The name part of a Host header ('[::1]:8180' -> '[::1]', 'example:80' -> 'example'), lower case."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    name, _, port = value.rpartition(":")
    return name if name and port.isdigit() else value


def allowed_host_names(settings: ControlApiSettings, local_address: str | None) -> frozenset[str]:
    """Names (without port) a Host header may carry: loopback, the bound host, the address the
    request arrived on, and control_api.allowed_hosts. None of them can be rebound by a foreign
    DNS name, so any port is fine (a port-forward may use another one)."""
    names = set(LOOPBACK_NAMES)
    if not is_wildcard_host(settings.host):
        names.add(_url_host(settings.host))
    if local_address:
        names.add(_url_host(local_address.split("%")[0]))
    names.update(host_name(_url_host(extra) if extra.count(":") > 1 else extra) for extra in settings.allowed_hosts)
    return frozenset(names)


def _local_address(request: web.Request) -> str | None:
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if isinstance(sockname, tuple) and sockname:
        return str(sockname[0])
    return None


def host_and_origin_guard(settings: ControlApiSettings) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if host_name(host) not in allowed_host_names(settings, _local_address(request)):
            raise Forbidden(text=f"Host {_shown(host)} is not a name of this server "
                                 "(add it to control_api.allowed_hosts if it should be)")
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, host):
            raise Forbidden(text=f"cross-origin request from {_shown(origin)} refused")
        return await handler(request)

    return check


def _same_origin(origin: str, host: str) -> bool:
    origin = origin.strip().lower()
    host = host.strip().lower()
    return origin in (f"http://{host}", f"https://{host}")


def _shown(value: str) -> str:
    """A header value safe to echo in a message: printable ASCII, at most 80 characters."""
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in value[:80])
    return repr(cleaned)


def bearer_auth(token: str, public_paths: Collection[str] = PUBLIC_PATHS) -> Middleware:
    expected = token.encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in public_paths:
            header = request.headers.get("Authorization", "")
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                raise web.HTTPUnauthorized(text="missing bearer token", headers={"WWW-Authenticate": "Bearer"})
            try:
                presented_bytes = presented.strip().encode("utf-8")
            except UnicodeEncodeError:
                raise BadInput("header 'Authorization' is not valid UTF-8") from None
            if not hmac.compare_digest(presented_bytes, expected):
                raise web.HTTPUnauthorized(text="invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
            request[PRINCIPAL] = TOKEN_PRINCIPAL
        return await handler(request)

    return check


class UnsupportedMediaType(web.HTTPUnsupportedMediaType):
    """A mutating request whose body is not declared as application/json."""


@web.middleware
async def json_bodies_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    routed = request.match_info.http_exception is None
    if routed and request.method not in SAFE_METHODS and request.content_type != "application/json":
        raise UnsupportedMediaType(text=f"Content-Type must be application/json, got {_shown(request.content_type)}")
    return await handler(request)


def _nesting_depth(raw: bytes, limit: int) -> int:
    """Deepest [ / { nesting of a JSON text (strings skipped), stopping early past `limit`."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def decode_json_body(raw: bytes) -> Any:
    """A request body as JSON; BadInput (never anything else) names what is wrong with it."""
    if not raw.strip():
        raise BadInput("request body must be a JSON object")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"request body is not valid UTF-8 (byte {exc.start})") from None
    if _nesting_depth(raw, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise BadInput(f"request body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"request body is not valid JSON: {exc}") from None
