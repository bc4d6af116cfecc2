"""Each endpoint's JSON shape over real HTTP; money stays exact as decimal strings."""

from __future__ import annotations

from decimal import Decimal

from control_api_fakes import TOKEN, FakeControlPlane, call, session_bars

from cluster.app.api import ApiServer


def test_health_when_plane_is_ok_then_200_with_status_and_components(server: ApiServer) -> None:
    reply = call(server.url, "GET", "/health")
    assert reply.status == 200
    assert reply.body["status"] == "ok"
    assert set(reply.body["components"]) == {"database", "broker"}


def test_health_when_plane_reports_down_then_503_so_probes_fail(server: ApiServer, plane: FakeControlPlane) -> None:
    plane.health_status = "down"
    reply = call(server.url, "GET", "/health")
    assert reply.status == 503
    assert reply.body["status"] == "down"


def test_health_when_plane_reports_degraded_then_200(server: ApiServer, plane: FakeControlPlane) -> None:
    plane.health_status = "degraded"
    assert call(server.url, "GET", "/health").status == 200


def test_status_when_called_then_nested_sections_and_pnl_as_exact_decimal_string(server: ApiServer) -> None:
    # Arrange: SPY +30 and BAC -200 from the first to the last regular-session bar of 2013-10-07
    spy, bac = session_bars()["SPY"], session_bars()["BAC"]
    expected = (spy[-1].close - spy[0].close) * 30 + (bac[-1].close - bac[0].close) * -200
    # Act
    reply = call(server.url, "GET", "/status", token=TOKEN)
    # Assert
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert {"events_per_s", "signals", "orders", "fills", "pnl", "breaker", "database"} <= set(reply.body)
    assert isinstance(reply.body["pnl"]["unrealized"], str)
    assert Decimal(reply.body["pnl"]["unrealized"]) == expected
    assert reply.body["breaker"]["state"] == "closed"


def test_positions_when_called_then_one_row_per_symbol_with_decimal_strings(server: ApiServer) -> None:
    reply = call(server.url, "GET", "/positions", token=TOKEN)
    assert reply.status == 200
    rows = {row["symbol"]: row for row in reply.body}
    assert set(rows) == {"SPY", "BAC"}
    assert rows["SPY"]["quantity"] == "30"
    assert Decimal(rows["SPY"]["entry_price"]) == session_bars()["SPY"][0].close
    assert Decimal(rows["BAC"]["current_price"]) == session_bars()["BAC"][-1].close


def test_orders_when_status_and_limit_given_then_passed_to_plane(server: ApiServer, plane: FakeControlPlane) -> None:
    reply = call(server.url, "GET", "/orders?status=filled&limit=5", token=TOKEN)
    assert reply.status == 200
    assert plane.calls == [("orders", {"status": "filled", "limit": 5})]
    assert [row["status"] for row in reply.body] == ["filled"]
    assert Decimal(reply.body[0]["limit_price"]) == session_bars()["IBM"][0].close


def test_orders_when_no_query_then_defaults_to_all_statuses_and_100(server: ApiServer, plane: FakeControlPlane) -> None:
    reply = call(server.url, "GET", "/orders", token=TOKEN)
    assert len(reply.body) == 3
    assert plane.calls == [("orders", {"status": None, "limit": 100})]


def test_risk_events_when_limit_given_then_list_of_events(server: ApiServer, plane: FakeControlPlane) -> None:
    reply = call(server.url, "GET", "/risk/events?limit=7", token=TOKEN)
    assert reply.status == 200
    assert plane.calls == [("risk_events", {"limit": 7})]
    assert {"event_type", "severity", "occurred_at_ns", "message"} <= set(reply.body[0])


def test_groups_when_called_then_each_group_names_symbols_actor_state_and_node(server: ApiServer) -> None:
    reply = call(server.url, "GET", "/groups", token=TOKEN)
    assert [g["group"] for g in reply.body] == ["g0", "g1"]
    assert reply.body[0]["symbols"] == ["SPY", "IBM"]
    assert {"actor", "state", "node"} <= set(reply.body[1])


def test_models_when_called_then_versions_with_serving_flag(server: ApiServer) -> None:
    reply = call(server.url, "GET", "/models", token=TOKEN)
    assert [m["serving"] for m in reply.body].count(True) == 1


def test_kill_when_flatten_true_then_plane_gets_flatten_and_result_is_returned(
        server: ApiServer, plane: FakeControlPlane) -> None:
    reply = call(server.url, "POST", "/kill", {"reason": "runaway fills", "flatten": True}, token=TOKEN)
    assert reply.status == 200
    assert reply.body == {"killed": True, "flattened": ["SPY", "BAC"]}
    assert plane.calls == [("kill", {"by": "token", "reason": "runaway fills", "flatten": True})]


def test_scale_then_promote_then_rollback_when_valid_then_each_reaches_the_plane(
        server: ApiServer, plane: FakeControlPlane) -> None:
    call(server.url, "POST", "/groups/scale", {"groups": 4, "reason": "more symbols"}, token=TOKEN)
    call(server.url, "POST", "/models/promote", {"version": "xgb-20131004", "reason": "better AUC"}, token=TOKEN)
    call(server.url, "POST", "/models/rollback", {"reason": "drift"}, token=TOKEN)
    assert [name for name, _ in plane.calls] == ["scale_groups", "promote_model", "rollback_model"]
    assert plane.group_count == 4


def test_unknown_path_when_authenticated_then_404_json(server: ApiServer) -> None:
    reply = call(server.url, "GET", "/nope", token=TOKEN)
    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"
    assert "/nope" in reply.body["error"]["message"]


def test_get_on_a_post_route_when_authenticated_then_405_json_with_allow_header(server: ApiServer) -> None:
    reply = call(server.url, "GET", "/breaker/trip", token=TOKEN)
    assert reply.status == 405
    assert reply.body["error"]["code"] == "method_not_allowed"
    assert reply.headers["Allow"] == "POST"


def test_post_when_body_exceeds_64_kib_then_413_json(server: ApiServer, plane: FakeControlPlane) -> None:
    reply = call(server.url, "POST", "/breaker/trip", {"reason": "x" * 70_000}, token=TOKEN)
    assert reply.status == 413
    assert reply.body["error"]["code"] == "body_too_large"
    assert plane.calls == []
