"""The control CLI against a running ApiServer with the fake plane: output, --json, exit codes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane, session_bars

from cluster.app.api import ApiServer
from cluster.app.cli_control import EXIT_OK, EXIT_REFUSED, EXIT_UNAVAILABLE, main
from cluster.foundation.domain.errors import ConfigError, DependencyDown


def _cli(server: ApiServer, *argv: str, token: str = TOKEN) -> int:
    return main([*argv, "--api", server.url, "--token", token])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connections are refused, nobody else can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_status_when_cluster_runs_then_prints_a_table_with_breaker_and_pnl(
        server: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    # Act
    code = _cli(server, "status")
    # Assert
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "cluster status" in out
    assert "breaker.state" in out and "closed" in out
    assert "pnl.unrealized" in out


def test_status_when_json_flag_then_prints_the_api_json_with_exact_decimals(
        server: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    spy, bac = session_bars()["SPY"], session_bars()["BAC"]
    expected = (spy[-1].close - spy[0].close) * 30 + (bac[-1].close - bac[0].close) * -200
    code = _cli(server, "status", "--json")
    data = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert Decimal(data["pnl"]["unrealized"]) == expected
    assert data["breaker"] == {"state": "closed"}


def test_breaker_reset_when_reason_and_operator_given_then_plane_is_called_and_result_printed(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, capsys: pytest.CaptureFixture[str]) -> None:
    code = _cli(server, "breaker", "reset", "--reason", "loss reviewed", "--operator", "alice")
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert plane.calls == [("reset_breaker", {"by": "alice", "reason": "loss reviewed"})]
    assert "reducing" in out
    assert [(r.caller, r.details["claimed_operator"]) for r in audit_log.records] == [("token", "alice")] * 2


def test_breaker_reset_when_json_flag_then_prints_the_plane_result(
        server: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = _cli(server, "breaker", "reset", "--reason", "drill", "--json")
    assert code == EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"breaker": "reducing", "changed_by": "token", "reduced_size": True}


def test_positions_when_called_then_table_lists_symbols_and_real_prices(
        server: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = _cli(server, "positions")
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "SPY" in out and "BAC" in out
    assert str(session_bars()["SPY"][0].close) in out


def test_kill_scale_and_models_commands_when_valid_then_reach_the_plane_with_their_arguments(
        server: ApiServer, plane: FakeControlPlane) -> None:
    assert _cli(server, "kill", "--flatten", "--reason", "drill") == EXIT_OK
    assert _cli(server, "scale", "--groups", "3", "--reason", "more") == EXIT_OK
    assert _cli(server, "models", "promote", "xgb-20131004", "--reason", "auc") == EXIT_OK
    assert _cli(server, "models", "rollback", "--reason", "drift") == EXIT_OK
    assert _cli(server, "orders", "--status", "filled", "--limit", "2") == EXIT_OK
    assert plane.calls == [
        ("kill", {"by": "token", "reason": "drill", "flatten": True}),
        ("scale_groups", {"groups": 3, "by": "token", "reason": "more"}),
        ("promote_model", {"version": "xgb-20131004", "by": "token", "reason": "auc"}),
        ("rollback_model", {"by": "token", "reason": "drift"}),
        ("orders", {"status": "filled", "limit": 2}),
    ]


def test_any_command_when_api_unreachable_then_one_clear_line_and_exit_3(
        closed_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    code = main(["status", "--api", url, "--token", TOKEN])
    captured = capsys.readouterr()
    assert code == EXIT_UNAVAILABLE
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert f"cannot reach the control API at {url}" in lines[0]
    assert "trading-cluster run" in lines[0]


def test_status_when_token_is_wrong_then_exit_2_with_a_hint(
        server: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = _cli(server, "status", token="wrong")
    err = capsys.readouterr().err
    assert code == EXIT_REFUSED
    assert "HTTP 401" in err and "--token" in err


def test_breaker_trip_when_plane_refuses_then_exit_2_with_its_message(
        server: ApiServer, plane: FakeControlPlane, capsys: pytest.CaptureFixture[str]) -> None:
    plane.fail_with["trip_breaker"] = ConfigError("breaker is already open")
    code = _cli(server, "breaker", "trip", "--reason", "drill")
    assert code == EXIT_REFUSED
    assert "breaker is already open" in capsys.readouterr().err


def test_scale_when_groups_out_of_range_then_exit_2_naming_the_field(
        server: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = _cli(server, "scale", "--groups", "100", "--reason", "too many")
    assert code == EXIT_REFUSED
    assert "'groups'" in capsys.readouterr().err


def test_status_when_plane_is_down_then_exit_3(
        server: ApiServer, plane: FakeControlPlane, capsys: pytest.CaptureFixture[str]) -> None:
    plane.fail_with["status"] = DependencyDown("supervisor not answering")
    assert _cli(server, "status") == EXIT_UNAVAILABLE
    assert "HTTP 503" in capsys.readouterr().err


def test_breaker_when_reason_missing_then_usage_error_exit_2(server: ApiServer) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _cli(server, "breaker", "trip")
    assert exit_info.value.code == 2


def test_events_when_printed_for_humans_then_ns_times_read_as_utc(
        server: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    bar = session_bars()["AIG"][10]
    code = _cli(server, "events")
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert bar.timestamp[:10] in out and bar.timestamp[11:19] in out
    assert str(bar.ts_ns) not in out
