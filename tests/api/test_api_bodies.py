"""400 on bad bodies, headers and query parameters, naming the field; nothing audited or changed."""

from __future__ import annotations

from typing import Any

import pytest
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane, call

from cluster.app.api import ApiServer
from cluster.app.control import MAX_REASON_CHARS

REASON_CASES: list[tuple[Any, str]] = [
    ({}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": 42}, "reason"),
    ({"reason": "x" * (MAX_REASON_CHARS + 1)}, "reason"),
    ({"reason": "ok", "extra": 1}, "extra"),
]
VALID_EXTRAS = {
    "/breaker/trip": {}, "/breaker/reset": {}, "/models/rollback": {},
    "/kill": {"flatten": False}, "/groups/scale": {"groups": 3}, "/models/promote": {"version": "xgb-20131004"},
}
FIELD_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("/kill", {"reason": "r"}, "flatten"),
    ("/kill", {"reason": "r", "flatten": "yes"}, "flatten"),
    ("/kill", {"reason": "r", "flatten": 1}, "flatten"),
    ("/groups/scale", {"reason": "r"}, "groups"),
    ("/groups/scale", {"reason": "r", "groups": 0}, "groups"),
    ("/groups/scale", {"reason": "r", "groups": 65}, "groups"),
    ("/groups/scale", {"reason": "r", "groups": "3"}, "groups"),
    ("/groups/scale", {"reason": "r", "groups": True}, "groups"),
    ("/groups/scale", {"reason": "r", "groups": 2.5}, "groups"),
    ("/models/promote", {"reason": "r"}, "version"),
    ("/models/promote", {"reason": "r", "version": "v 1; drop"}, "version"),
]


def _assert_refused(reply: Any, field: str, plane: FakeControlPlane, audit_log: AuditLog) -> None:
    assert reply.status == 400, reply.body
    assert reply.body["error"]["code"] == "bad_request"
    assert f"'{field}'" in reply.body["error"]["message"]
    assert plane.calls == []
    assert audit_log.records == []


@pytest.mark.parametrize("path", sorted(VALID_EXTRAS))
@pytest.mark.parametrize(("reason_part", "field"), REASON_CASES)
def test_post_when_reason_is_bad_then_400_naming_the_field(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, path: str, reason_part: dict[str, Any],
        field: str) -> None:
    body = {**VALID_EXTRAS[path], **reason_part}
    _assert_refused(call(server.url, "POST", path, body, token=TOKEN), field, plane, audit_log)


@pytest.mark.parametrize(("path", "body", "field"), FIELD_CASES)
def test_post_when_a_specific_field_is_bad_then_400_naming_it(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, path: str, body: dict[str, Any],
        field: str) -> None:
    _assert_refused(call(server.url, "POST", path, body, token=TOKEN), field, plane, audit_log)


@pytest.mark.parametrize("path", sorted(VALID_EXTRAS))
@pytest.mark.parametrize(("raw", "words"), [(b"{not json", "not valid JSON"), (b"", "JSON object"),
                                            (b"[1, 2]", "JSON object"), (b'"reason"', "JSON object")])
def test_post_when_body_is_not_a_json_object_then_400(
        server: ApiServer, plane: FakeControlPlane, path: str, raw: bytes, words: str) -> None:
    reply = call(server.url, "POST", path, raw=raw, token=TOKEN, headers={"Content-Type": "application/json"})
    assert reply.status == 400
    assert words in reply.body["error"]["message"]
    assert plane.calls == []


@pytest.mark.parametrize(("extra", "expected_groups"), [({"groups": 1}, 1), ({"groups": 64}, 64)])
def test_scale_when_groups_on_the_bounds_then_accepted(
        server: ApiServer, plane: FakeControlPlane, extra: dict[str, int], expected_groups: int) -> None:
    reply = call(server.url, "POST", "/groups/scale", {"reason": "bounds", **extra}, token=TOKEN)
    assert reply.status == 200
    assert plane.calls[-1][1]["groups"] == expected_groups


def test_trip_when_reason_has_exactly_the_maximum_length_then_accepted(
        server: ApiServer, plane: FakeControlPlane) -> None:
    reason = "r" * MAX_REASON_CHARS
    reply = call(server.url, "POST", "/breaker/trip", {"reason": reason}, token=TOKEN)
    assert reply.status == 200
    assert plane.calls == [("trip_breaker", {"by": "token", "reason": reason})]


@pytest.mark.parametrize("operator", ["", "a b", "x" * 65, "robert'); --"])
def test_post_when_operator_header_is_invalid_then_400_naming_it(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, operator: str) -> None:
    reply = call(server.url, "POST", "/breaker/trip", {"reason": "r"}, token=TOKEN, headers={"X-Operator": operator})
    _assert_refused(reply, "X-Operator", plane, audit_log)


@pytest.mark.parametrize(("query", "field"), [("limit=abc", "limit"), ("limit=0", "limit"), ("limit=1001", "limit"),
                                              ("status=FILLED;", "status")])
def test_orders_when_query_parameter_is_invalid_then_400_naming_it(
        server: ApiServer, plane: FakeControlPlane, query: str, field: str) -> None:
    reply = call(server.url, "GET", f"/orders?{query}", token=TOKEN)
    assert reply.status == 400
    assert f"'{field}'" in reply.body["error"]["message"]
    assert plane.calls == []


def test_risk_events_when_limit_is_negative_then_400(server: ApiServer) -> None:
    reply = call(server.url, "GET", "/risk/events?limit=-5", token=TOKEN)
    assert reply.status == 400
    assert "'limit'" in reply.body["error"]["message"]
