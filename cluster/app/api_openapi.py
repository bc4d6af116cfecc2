"""OpenAPI 3 description of the control API, served at GET /openapi.json.

Written as data next to the code rather than generated, so it says what callers may rely on
(bounds, required fields, error shape); a test compares its paths with the app's router.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from cluster.app.control import (
    DEFAULT_LIST_LIMIT,
    MAX_GROUPS,
    MAX_LIST_LIMIT,
    MAX_REASON_CHARS,
    MIN_GROUPS,
    OPERATOR_PATTERN,
    ORDER_STATUS_PATTERN,
    VERSION_PATTERN,
)

_REF = "#/components/schemas/"
_REASON = {"type": "string", "minLength": 1, "maxLength": MAX_REASON_CHARS,
           "description": "why the operator acts; stored in the audit log (no control or bidi characters)"}
_ROW = {"type": "object", "additionalProperties": True}
_ROWS = {"type": "array", "items": _ROW}
_LIMIT = {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": DEFAULT_LIST_LIMIT}}
_OPERATOR = {"name": "X-Operator", "in": "header", "required": False,
             "description": "who claims to act; recorded as a claim next to the authenticated principal",
             "schema": {"type": "string", "pattern": OPERATOR_PATTERN.pattern}}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "Health": {
        "type": "object", "required": ["status"], "additionalProperties": True,
        "properties": {"status": {"type": "string", "enum": ["ok", "degraded", "down"]},
                       "components": {"type": "object", "additionalProperties": True}},
    },
    "Status": {"type": "object", "additionalProperties": True,
               "description": "events/s, signals, orders, fills, P&L, breaker, database status"},
    "Group": {"type": "object", "additionalProperties": True, "properties": {
        "group": {"type": "string"}, "symbols": {"type": "array", "items": {"type": "string"}},
        "actor": {"type": "string"}, "state": {"type": "string"}, "node": {"type": "string"}}},
    "ActionResult": {"type": "object", "additionalProperties": True},
    "ReasonBody": {"type": "object", "required": ["reason"], "additionalProperties": False,
                   "properties": {"reason": _REASON}},
    "KillBody": {"type": "object", "required": ["reason", "flatten"], "additionalProperties": False,
                 "properties": {"reason": _REASON, "flatten": {
                     "type": "boolean", "description": "also close every open position"}}},
    "ScaleBody": {"type": "object", "required": ["groups", "reason"], "additionalProperties": False,
                  "properties": {"groups": {"type": "integer", "minimum": MIN_GROUPS, "maximum": MAX_GROUPS},
                                 "reason": _REASON}},
    "PromoteBody": {"type": "object", "required": ["version", "reason"], "additionalProperties": False,
                    "properties": {"version": {"type": "string", "pattern": VERSION_PATTERN.pattern},
                                   "reason": _REASON}},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}}}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_COMMON_ERRORS = {
    "400": _error("malformed request: header, query or body (named in the message)"),
    "401": _error("missing or wrong bearer token"),
    "403": _error("Host is not a name of this server, or the request comes from another origin"),
    "409": _error("not allowed in the cluster's current state"),
    "500": _error("unexpected error; details are in the cluster log"),
    "503": _error("the cluster or a dependency cannot be reached, or did not answer in time"),
}


def _read(summary: str, schema: dict[str, Any], params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": _ok(schema), **_COMMON_ERRORS}}
    if params:
        op["parameters"] = params
    return op


def _action(summary: str, body: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": "Audited before the cluster is asked, and again with the outcome.",
        "parameters": [_OPERATOR],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": _REF + body}}}},
        "responses": {"200": _ok({"$ref": _REF + "ActionResult"}), **_COMMON_ERRORS,
                      "400": _error("invalid JSON, field or header (named in the message)"),
                      "415": _error("the body is not declared as application/json")},
    }


_PATHS: dict[str, dict[str, Any]] = {
    "/health": {"get": {
        "summary": "Liveness and component health, for probes (no auth)", "security": [],
        "responses": {"200": _ok({"$ref": _REF + "Health"}, "ok or degraded"),
                      "503": _ok({"$ref": _REF + "Health"}, "down, or the cluster cannot be reached")}}},
    "/status": {"get": _read("Throughput, counts, P&L, breaker and database status", {"$ref": _REF + "Status"})},
    "/positions": {"get": _read("Open positions (money as decimal strings)", _ROWS)},
    "/orders": {"get": _read("Recent orders, newest first", _ROWS, [
        {"name": "status", "in": "query", "required": False,
         "schema": {"type": "string", "pattern": ORDER_STATUS_PATTERN.pattern}}, _LIMIT])},
    "/risk/events": {"get": _read("Recent risk events, newest first", _ROWS, [_LIMIT])},
    "/groups": {"get": _read("Symbol groups and the actors serving them",
                             {"type": "array", "items": {"$ref": _REF + "Group"}})},
    "/groups/scale": {"post": _action("Set the number of symbol groups", "ScaleBody")},
    "/models": {"get": _read("Registered model versions and which one serves", _ROWS)},
    "/models/promote": {"post": _action("Serve a registered model version", "PromoteBody")},
    "/models/rollback": {"post": _action("Serve the previously promoted model version", "ReasonBody")},
    "/breaker/trip": {"post": _action("Open the circuit breaker: no new risk", "ReasonBody")},
    "/breaker/reset": {"post": _action("Close the circuit breaker (reduced size for the day)", "ReasonBody")},
    "/kill": {"post": _action("Stop trading now; optionally flatten every position", "KillBody")},
    "/openapi.json": {"get": {"summary": "This document (no auth)", "security": [],
                              "responses": {"200": _ok({"type": "object"})}}},
}


def openapi_document() -> dict[str, Any]:
    """A fresh copy, so a caller cannot change what the next request is served."""
    return deepcopy({
        "openapi": "3.0.3",
        "info": {"title": "trading-cluster control API", "version": "1",
                 "description": "Operate a running cluster: status, breaker, kill switch, scaling, models."},
        "servers": [{"url": "http://127.0.0.1:8180"}],
        "security": [{"bearerAuth": []}],
        "paths": _PATHS,
        "components": {"schemas": _SCHEMAS,
                       "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    })
