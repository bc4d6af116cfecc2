"""What the control API needs of the cluster, and the validated values it passes across.

The HTTP layer (cluster/app/api.py) and the CLI never touch Ray: they talk to a ControlPlane. The
supervisor implements it with Ray calls that block, so the API runs every call in a thread.
Request bodies are parsed here into frozen values that validate themselves, so a bad field is
refused with a message naming it before anything is audited or changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

from cluster.foundation.domain.errors import BadInput, ConfigError, DependencyDown
from cluster.foundation.domain.settings import ControlApiSettings, is_loopback_host

MAX_REASON_CHARS = 500
MIN_GROUPS = 1
MAX_GROUPS = 64
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 100
OPERATOR_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9._:+-]{1,128}$")
ORDER_STATUS_PATTERN = re.compile(r"^[a-z_]{1,32}$")
# Characters that reorder or hide text when an audit row is displayed (Trojan Source and friends).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@runtime_checkable
class ControlPlane(Protocol):
    """Synchronous control surface of a running cluster; implementations may block on Ray calls.

    Errors: BadInput (the request makes no sense), ConfigError (not allowed in the current
    state), DependencyDown (the cluster or a dependency cannot be reached).
    """

    def health(self) -> dict[str, Any]: ...
    def status(self) -> dict[str, Any]: ...
    def positions(self) -> list[dict[str, Any]]: ...
    def orders(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]: ...
    def risk_events(self, limit: int = 100) -> list[dict[str, Any]]: ...
    def groups(self) -> list[dict[str, Any]]: ...
    def trip_breaker(self, by: str, reason: str) -> dict[str, Any]: ...
    def reset_breaker(self, by: str, reason: str) -> dict[str, Any]: ...
    def kill(self, by: str, reason: str, flatten: bool) -> dict[str, Any]: ...
    def scale_groups(self, groups: int, by: str, reason: str) -> dict[str, Any]: ...
    def models(self) -> list[dict[str, Any]]: ...
    def promote_model(self, version: str, by: str, reason: str) -> dict[str, Any]: ...
    def rollback_model(self, by: str, reason: str) -> dict[str, Any]: ...


# --- serving rules ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaneTimeouts:
    """How long a request waits for the plane. A timed-out call keeps its thread until Ray returns."""

    read_s: float = 10.0
    action_s: float = 60.0


DEFAULT_TIMEOUTS = PlaneTimeouts()


def ensure_safe_bind(settings: ControlApiSettings) -> None:
    """Checked again here: settings built with model_construct skip the validator."""
    if not is_loopback_host(settings.host) and settings.token is None:
        raise ConfigError(
            f"refusing to serve the control API on non-loopback host {settings.host} without a token "
            "(set TRADING_CONTROL_API__TOKEN)"
        )


# --- request bodies -------------------------------------------------------------------------


def _as_object(body: object, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadInput("request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadInput(f"field '{unknown[0]}' is not allowed here (allowed: {', '.join(sorted(allowed))})")
    return body


def _field(body: dict[str, Any], name: str, valid: Callable[[Any], bool], must: str) -> Any:
    """The value of field `name`, which `valid` accepts; else BadInput "field 'name' <must>"."""
    value = body.get(name)
    if not valid(value):
        raise BadInput(f"field '{name}' {must}")
    return value


def _reason(body: dict[str, Any]) -> str:
    value = body.get("reason")
    if value is None:
        raise BadInput("field 'reason' is required")
    if not isinstance(value, str):
        raise BadInput("field 'reason' must be a string")
    value = value.strip()
    if not value:
        raise BadInput("field 'reason' must not be empty")
    if len(value) > MAX_REASON_CHARS:
        raise BadInput(f"field 'reason' must be at most {MAX_REASON_CHARS} characters, got {len(value)}")
    for position, char in enumerate(value):
        if char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            raise BadInput(f"field 'reason' must not contain control or bidi characters "
                           f"(U+{ord(char):04X} at {position})")
    return value


@dataclass(frozen=True, slots=True)
class ReasonRequest:
    """Body of /breaker/trip, /breaker/reset and /models/rollback: why a human acts."""

    reason: str

    @classmethod
    def parse(cls, body: object) -> Self:
        return cls(reason=_reason(_as_object(body, frozenset({"reason"}))))


@dataclass(frozen=True, slots=True)
class KillRequest:
    """Body of /kill. `flatten` is required: closing every position must never be implied."""

    reason: str
    flatten: bool

    @classmethod
    def parse(cls, body: object) -> Self:
        obj = _as_object(body, frozenset({"reason", "flatten"}))
        flatten = _field(obj, "flatten", lambda v: isinstance(v, bool), "is required and must be true or false")
        return cls(reason=_reason(obj), flatten=flatten)


@dataclass(frozen=True, slots=True)
class ScaleRequest:
    """Body of /groups/scale: the desired number of symbol groups."""

    groups: int
    reason: str

    @classmethod
    def parse(cls, body: object) -> Self:
        obj = _as_object(body, frozenset({"groups", "reason"}))
        groups = _field(obj, "groups", lambda v: type(v) is int, "is required and must be an integer")
        if not MIN_GROUPS <= groups <= MAX_GROUPS:
            raise BadInput(f"field 'groups' must be between {MIN_GROUPS} and {MAX_GROUPS}, got {groups}")
        return cls(groups=groups, reason=_reason(obj))


@dataclass(frozen=True, slots=True)
class PromoteRequest:
    """Body of /models/promote: which registered model version to serve."""

    version: str
    reason: str

    @classmethod
    def parse(cls, body: object) -> Self:
        obj = _as_object(body, frozenset({"version", "reason"}))
        version = _field(obj, "version", lambda v: isinstance(v, str) and bool(VERSION_PATTERN.fullmatch(v)),
                         f"is required and must match {VERSION_PATTERN.pattern}")
        return cls(version=version, reason=_reason(obj))


# --- query parameters -----------------------------------------------------------------------


def parse_limit(raw: str | None) -> int:
    """?limit= as an int in 1..MAX_LIST_LIMIT; absent means DEFAULT_LIST_LIMIT."""
    if raw is None or raw == "":
        return DEFAULT_LIST_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"query parameter 'limit' must be an integer, got {raw[:32]!r}") from None
    if not 1 <= value <= MAX_LIST_LIMIT:
        raise BadInput(f"query parameter 'limit' must be between 1 and {MAX_LIST_LIMIT}, got {value}")
    return value


def parse_order_status(raw: str | None) -> str | None:
    """?status= as a lower-case order status word; the plane decides which words it knows."""
    if raw is None or raw == "":
        return None
    if not ORDER_STATUS_PATTERN.fullmatch(raw):
        raise BadInput(f"query parameter 'status' must match {ORDER_STATUS_PATTERN.pattern}")
    return raw


# --- caller identity ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asked: the authenticated principal, the name claimed in X-Operator (if any), the peer.

    Only `principal` is proven; `claimed` is whatever the caller wrote and is recorded as a claim.
    """

    principal: str
    claimed: str | None
    peer: str

    @property
    def name(self) -> str:
        """The name actions are done 'by': the claimed operator, else the principal."""
        return self.claimed or self.principal

    @classmethod
    def identify(cls, operator_header: str | None, principal: str | None, peer: str | None) -> Self:
        if operator_header is not None and not OPERATOR_PATTERN.fullmatch(operator_header):
            raise BadInput(f"header 'X-Operator' must match {OPERATOR_PATTERN.pattern}")
        return cls(principal=principal or "anonymous", claimed=operator_header, peer=peer or "unknown")


# --- errors -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """HTTP status and body for an error; `message` is safe to show a caller."""

    status: int
    code: str
    message: str

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


INTERNAL_ERROR_MESSAGE = "internal error in the control plane; see the cluster log"


def error_reply(exc: BaseException) -> ErrorReply:
    """Maps a ControlPlane error to a reply. Unknown errors get a generic message (never leak)."""
    if isinstance(exc, BadInput):
        return ErrorReply(400, "bad_request", str(exc))
    if isinstance(exc, ConfigError):
        return ErrorReply(409, "conflict", str(exc))
    if isinstance(exc, DependencyDown):
        return ErrorReply(503, "unavailable", str(exc))
    return ErrorReply(500, "internal", INTERNAL_ERROR_MESSAGE)
