"""ControlPlane errors map to statuses by required action; unknown ones never leak their text."""

from __future__ import annotations

import pytest
from control_api_fakes import TOKEN, FakeControlPlane, call

from cluster.app.api import ApiServer
from cluster.app.control import INTERNAL_ERROR_MESSAGE
from cluster.foundation.domain.errors import BadInput, ConfigError, DependencyDown, RateLimited

CASES = [
    (BadInput("symbol 'ZZZ' is not in the universe"), 400, "bad_request", "symbol 'ZZZ' is not in the universe"),
    (ConfigError("breaker is already open"), 409, "conflict", "breaker is already open"),
    (DependencyDown("ray cluster unreachable"), 503, "unavailable", "ray cluster unreachable"),
    (RateLimited("slow down", retry_after_s=1.0), 500, "internal", INTERNAL_ERROR_MESSAGE),
    (KeyError("password=hunter2"), 500, "internal", INTERNAL_ERROR_MESSAGE),
]


@pytest.mark.parametrize(("error", "status", "code", "message"), CASES)
def test_get_when_plane_raises_then_mapped_status_and_json_error(
        server: ApiServer, plane: FakeControlPlane, error: Exception, status: int, code: str, message: str) -> None:
    plane.fail_with["status"] = error
    reply = call(server.url, "GET", "/status", token=TOKEN)
    assert reply.status == status
    assert reply.body == {"error": {"code": code, "message": message}}


@pytest.mark.parametrize(("error", "status", "code", "message"), CASES)
def test_post_when_plane_raises_then_mapped_status_and_json_error(
        server: ApiServer, plane: FakeControlPlane, error: Exception, status: int, code: str, message: str) -> None:
    plane.fail_with["trip_breaker"] = error
    reply = call(server.url, "POST", "/breaker/trip", {"reason": "drill"}, token=TOKEN)
    assert reply.status == status
    assert reply.body == {"error": {"code": code, "message": message}}


def test_health_when_plane_is_unreachable_then_503(server: ApiServer, plane: FakeControlPlane) -> None:
    plane.fail_with["health"] = DependencyDown("supervisor not answering")
    reply = call(server.url, "GET", "/health")
    assert reply.status == 503
    assert reply.body["error"]["code"] == "unavailable"
