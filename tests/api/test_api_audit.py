"""Every state-changing call is audited before the plane is asked, and again with its outcome."""

from __future__ import annotations

from typing import Any

import pytest
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane, call
from pydantic import SecretStr

from cluster.app.api import ApiServer
from cluster.foundation.domain.errors import ConfigError, DependencyDown
from cluster.foundation.domain.records import AuditRecord
from cluster.foundation.domain.settings import ControlApiSettings

ACTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    ("/breaker/trip", {}, "breaker.trip", "trip_breaker"),
    ("/breaker/reset", {}, "breaker.reset", "reset_breaker"),
    ("/kill", {"flatten": True}, "kill", "kill"),
    ("/groups/scale", {"groups": 3}, "groups.scale", "scale_groups"),
    ("/models/promote", {"version": "xgb-20131004"}, "models.promote", "promote_model"),
    ("/models/rollback", {}, "models.rollback", "rollback_model"),
]


@pytest.mark.parametrize(("path", "extra", "action", "plane_method"), ACTIONS)
def test_post_when_it_succeeds_then_requested_is_audited_before_the_plane_and_ok_after(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, path: str, extra: dict[str, Any],
        action: str, plane_method: str) -> None:
    # Act
    reply = call(server.url, "POST", path, {"reason": "drill 42", **extra}, token=TOKEN,
                 headers={"X-Operator": "alice@desk"})
    # Assert
    assert reply.status == 200
    assert plane.calls[0][0] == plane_method
    assert plane.calls[0][1]["by"] == "alice@desk"
    assert plane.audit_count_at_call == [1]
    requested, outcome = audit_log.records
    assert (requested.action, requested.caller, requested.reason) == (action, "token", "drill 42")
    assert requested.details["claimed_operator"] == "alice@desk"
    assert requested.details["outcome"] == "requested"
    assert requested.details["arguments"] == extra
    assert requested.details["peer"] == "127.0.0.1"
    assert outcome.details["outcome"] == "ok"
    assert outcome.details["result"] == reply.body
    assert outcome.details["request_id"] == requested.details["request_id"]
    assert requested.occurred_at_ns < outcome.occurred_at_ns


@pytest.mark.parametrize(("path", "extra", "action", "plane_method"), ACTIONS)
def test_post_when_the_plane_fails_then_the_failure_is_audited_too(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, path: str, extra: dict[str, Any],
        action: str, plane_method: str) -> None:
    plane.fail_with[plane_method] = ConfigError("not allowed while the breaker is open")
    reply = call(server.url, "POST", path, {"reason": "drill", **extra}, token=TOKEN)
    assert reply.status == 409
    assert [r.details["outcome"] for r in audit_log.records] == ["requested", "error"]
    failed = audit_log.records[1]
    assert (failed.action, failed.caller, failed.reason) == (action, "token", "drill")
    assert failed.details["status"] == 409
    assert failed.details["error"] == "not allowed while the breaker is open"


def test_post_when_the_plane_crashes_then_the_audit_keeps_the_generic_message_only(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog) -> None:
    plane.fail_with["kill"] = RuntimeError("postgres://admin:hunter2@db")
    call(server.url, "POST", "/kill", {"reason": "drill", "flatten": False}, token=TOKEN)
    assert audit_log.records[1].details["error_code"] == "internal"
    assert "hunter2" not in str(audit_log.records[1].details)


def test_post_when_operator_header_claims_a_name_then_audit_caller_is_the_principal_and_the_name_a_claim(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog) -> None:
    # Act: anyone holding the token can write any name into X-Operator
    call(server.url, "POST", "/breaker/trip", {"reason": "test"}, token=TOKEN, headers={"X-Operator": "ceo"})
    # Assert: the audit says who authenticated, and that "ceo" was only claimed
    assert {r.caller for r in audit_log.records} == {"token"}
    assert {r.details["claimed_operator"] for r in audit_log.records} == {"ceo"}


def test_post_when_no_operator_header_and_token_used_then_caller_is_token(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog) -> None:
    call(server.url, "POST", "/breaker/reset", {"reason": "after review"}, token=TOKEN)
    assert {r.caller for r in audit_log.records} == {"token"}
    assert {r.details["claimed_operator"] for r in audit_log.records} == {None}
    assert plane.calls == [("reset_breaker", {"by": "token", "reason": "after review"})]


class FailingAudit:
    def __init__(self) -> None:
        self.attempts = 0

    def __call__(self, record: AuditRecord) -> None:
        self.attempts += 1
        raise DependencyDown("audit store unreachable")


def test_post_when_the_audit_cannot_be_written_then_the_plane_is_not_called(plane: FakeControlPlane) -> None:
    # Arrange: an ApiServer whose audit sink always fails
    audit = FailingAudit()
    server = ApiServer(plane, ControlApiSettings(token=SecretStr(TOKEN)), audit, port=0)
    server.start()
    try:
        # Act
        reply = call(server.url, "POST", "/kill", {"reason": "drill", "flatten": True}, token=TOKEN)
    finally:
        server.stop()
    # Assert
    assert reply.status == 503
    assert audit.attempts == 1
    assert plane.calls == []
