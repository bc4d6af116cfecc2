"""The OpenAPI document lists exactly the routes the app serves and has a valid OpenAPI 3 shape."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane, call
from pydantic import SecretStr

from cluster.app.api import ApiServer, create_app
from cluster.app.api_openapi import openapi_document
from cluster.foundation.domain.settings import ControlApiSettings

_RESPONSES = {"type": "object", "minProperties": 1,
              "patternProperties": {"^([1-5][0-9]{2}|default)$": {"type": "object", "required": ["description"]}},
              "additionalProperties": False}
_OPERATION = {"type": "object", "required": ["responses"],
              "properties": {"summary": {"type": "string"}, "responses": _RESPONSES,
                             "parameters": {"type": "array", "items": {
                                 "type": "object", "required": ["name", "in"],
                                 "properties": {"in": {"enum": ["query", "header", "path", "cookie"]}}}},
                             "requestBody": {"type": "object", "required": ["content"]}}}
MINIMAL_OPENAPI_3 = {
    "type": "object",
    "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.[0-9]+\.[0-9]+$"},
        "info": {"type": "object", "required": ["title", "version"]},
        "paths": {"type": "object", "additionalProperties": False, "patternProperties": {
            "^/": {"type": "object", "minProperties": 1, "additionalProperties": False,
                   "patternProperties": {"^(get|put|post|delete|patch|head|options)$": _OPERATION}}}},
        "components": {"type": "object"},
    },
}


def _routes_of_app() -> set[tuple[str, str]]:
    app = create_app(FakeControlPlane(), ControlApiSettings(token=SecretStr(TOKEN)), AuditLog())
    return {(route.method, route.resource.canonical) for route in app.router.routes()
            if route.resource is not None and route.method != "HEAD"}


def _routes_of_document(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def _resolve(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_document_when_compared_with_the_router_then_lists_exactly_the_served_routes() -> None:
    assert _routes_of_document(openapi_document()) == _routes_of_app()


def test_document_when_checked_against_a_minimal_openapi_3_schema_then_valid() -> None:
    jsonschema.validate(openapi_document(), MINIMAL_OPENAPI_3)


def test_document_when_refs_followed_then_each_resolves_to_a_component() -> None:
    doc = openapi_document()
    refs = _refs(doc)
    assert refs
    for ref in refs:
        assert isinstance(_resolve(doc, ref), dict), ref


def test_document_when_served_then_equals_the_module_document_without_auth(
        start_server: Any) -> None:
    server: ApiServer = start_server()
    reply = call(server.url, "GET", "/openapi.json")
    assert reply.status == 200
    assert reply.body == openapi_document()


@pytest.mark.parametrize(("path", "body", "server_accepts"), [
    ("/groups/scale", {"groups": 64, "reason": "r"}, True),
    ("/groups/scale", {"groups": 65, "reason": "r"}, False),
    ("/kill", {"reason": "r"}, False),
    ("/kill", {"reason": "r", "flatten": True}, True),
    ("/breaker/trip", {"reason": "r", "extra": 1}, False),
    ("/models/promote", {"version": "xgb-1", "reason": "r"}, True),
])
def test_document_request_schema_when_given_a_body_then_agrees_with_the_server(
        start_server: Any, path: str, body: dict[str, Any], server_accepts: bool) -> None:
    # Arrange
    doc = openapi_document()
    schema = _resolve(doc, doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    server: ApiServer = start_server()
    # Act
    document_accepts = jsonschema.Draft7Validator(schema).is_valid(body)
    reply = call(server.url, "POST", path, body, token=TOKEN)
    # Assert
    assert document_accepts is server_accepts
    assert (reply.status == 200) is server_accepts
