"""Bearer-token auth: every route but /health and /openapi.json needs the configured token."""

from __future__ import annotations

import pytest
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane, call

from cluster.app.api import PUBLIC_PATHS, ROUTES, ApiServer

PROTECTED = [(method, path) for method, path, _ in ROUTES if path not in PUBLIC_PATHS]
VALID_BODY = {"reason": "auth check", "flatten": False}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_route_when_no_token_sent_then_401_and_plane_untouched(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, method: str, path: str) -> None:
    # Act
    reply = call(server.url, method, path, VALID_BODY if method == "POST" else None)
    # Assert
    assert reply.status == 401
    assert reply.body["error"]["code"] == "unauthorized"
    assert reply.headers.get("WWW-Authenticate") == "Bearer"
    assert plane.calls == []
    assert audit_log.records == []


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_route_when_wrong_token_sent_then_401(
        server: ApiServer, plane: FakeControlPlane, method: str, path: str) -> None:
    reply = call(server.url, method, path, VALID_BODY if method == "POST" else None, token=TOKEN + "x")
    assert reply.status == 401
    assert "invalid" in reply.body["error"]["message"]
    assert plane.calls == []


def test_status_when_token_sent_with_basic_scheme_then_401(server: ApiServer) -> None:
    reply = call(server.url, "GET", "/status", headers={"Authorization": f"Basic {TOKEN}"})
    assert reply.status == 401


def test_status_when_right_token_sent_then_200(server: ApiServer, plane: FakeControlPlane) -> None:
    reply = call(server.url, "GET", "/status", token=TOKEN)
    assert reply.status == 200
    assert [name for name, _ in plane.calls] == ["status"]


@pytest.mark.parametrize("path", sorted(PUBLIC_PATHS))
def test_public_route_when_no_token_sent_then_200(server: ApiServer, path: str) -> None:
    assert call(server.url, "GET", path).status == 200


def test_unknown_path_when_no_token_sent_then_401_so_routes_are_not_probed(server: ApiServer) -> None:
    assert call(server.url, "GET", "/admin").status == 401
