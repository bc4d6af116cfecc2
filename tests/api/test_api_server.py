"""ApiServer: refuses unsafe hosts and taken ports, serves from its own thread, never blocks on the plane."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane, call
from pydantic import SecretStr

from cluster.app.api import ApiServer, create_app, ensure_safe_bind
from cluster.app.control import PlaneTimeouts
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import ControlApiSettings


def _unvalidated(host: str, token: str | None) -> ControlApiSettings:
    """Settings that skipped the validator, as model_construct or a careless caller would make them."""
    return ControlApiSettings.model_construct(host=host, port=8180, token=SecretStr(token) if token else None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "trading.example.org"])
def test_start_when_host_is_not_loopback_and_no_token_then_config_error_naming_the_host(
        plane: FakeControlPlane, audit_log: AuditLog, host: str) -> None:
    server = ApiServer(plane, _unvalidated(host, None), audit_log, port=0)
    with pytest.raises(ConfigError, match="non-loopback host"):
        server.start()
    with pytest.raises(RuntimeError):
        _ = server.port  # nothing was bound


def test_create_app_when_host_is_not_loopback_and_no_token_then_config_error(
        plane: FakeControlPlane, audit_log: AuditLog) -> None:
    with pytest.raises(ConfigError, match="0.0.0.0"):
        create_app(plane, _unvalidated("0.0.0.0", None), audit_log)


@pytest.mark.parametrize(("host", "token"), [("0.0.0.0", TOKEN), ("127.0.0.1", None), ("::1", None),
                                             ("localhost", None)])
def test_ensure_safe_bind_when_loopback_or_token_present_then_accepted(host: str, token: str | None) -> None:
    ensure_safe_bind(_unvalidated(host, token))


def test_start_when_port_is_taken_then_config_error_naming_the_port(
        plane: FakeControlPlane, audit_log: AuditLog) -> None:
    # Arrange: a listening socket holds the port
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        server = ApiServer(plane, ControlApiSettings(port=port, token=SecretStr(TOKEN)), audit_log)
        # Act / Assert
        with pytest.raises(ConfigError, match=f"port {port} .*already in use"):
            server.start()
    finally:
        holder.close()


def test_stop_when_called_twice_then_port_is_released_and_reusable(
        plane: FakeControlPlane, audit_log: AuditLog) -> None:
    first = ApiServer(plane, ControlApiSettings(token=SecretStr(TOKEN)), audit_log, port=0)
    first.start()
    port = first.port
    first.stop()
    first.stop()
    with ApiServer(plane, ControlApiSettings(port=port, token=SecretStr(TOKEN)), audit_log) as second:
        assert call(second.url, "GET", "/health").status == 200


class SlowStatusPlane(FakeControlPlane):
    """status() blocks like a Ray call that waits on a busy actor."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def status(self) -> dict[str, Any]:
        self.entered.set()
        self.release.wait(10)
        return super().status()


def test_health_when_another_plane_call_is_blocked_then_still_answers(start_server: Any) -> None:
    # Arrange
    plane = SlowStatusPlane()
    server = start_server(plane_override=plane)
    replies: list[int] = []
    waiter = threading.Thread(target=lambda: replies.append(call(server.url, "GET", "/status", token=TOKEN).status))
    waiter.start()
    assert plane.entered.wait(5)
    # Act
    health = call(server.url, "GET", "/health")
    # Assert
    assert health.status == 200
    assert replies == []  # /status is still waiting on the plane
    plane.release.set()
    waiter.join(10)
    assert replies == [200]


def test_port_when_started_with_port_zero_then_a_real_port_is_reported(server: ApiServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


class SlowKillPlane(FakeControlPlane):
    """kill() outlasts the action timeout, as a supervisor stuck on an unreachable actor would."""

    def __init__(self, audit_seen: Any) -> None:
        super().__init__(audit_seen)
        self.release = threading.Event()

    def kill(self, by: str, reason: str, flatten: bool) -> dict[str, Any]:
        self.release.wait(10)
        return super().kill(by, reason, flatten)


def test_plane_calls_when_they_outlast_the_timeouts_then_503_and_the_action_audited_as_timeout(
        audit_log: AuditLog) -> None:
    # Arrange
    plane = SlowKillPlane(lambda: len(audit_log))
    slow_status = SlowStatusPlane()
    timeouts = PlaneTimeouts(read_s=0.2, action_s=0.2)
    settings = ControlApiSettings(token=SecretStr(TOKEN))
    kill_server = ApiServer(plane, settings, audit_log, port=0, timeouts=timeouts)
    status_server = ApiServer(slow_status, settings, AuditLog(), port=0, timeouts=timeouts)
    kill_server.start()
    status_server.start()
    try:
        # Act
        kill = call(kill_server.url, "POST", "/kill", {"reason": "drill", "flatten": False}, token=TOKEN)
        status = call(status_server.url, "GET", "/status", token=TOKEN)
    finally:
        plane.release.set()
        slow_status.release.set()
        kill_server.stop()
        status_server.stop()
    # Assert
    assert (kill.status, status.status) == (503, 503)
    assert "did not answer within 0.2 s" in status.body["error"]["message"]
    assert [r.details["outcome"] for r in audit_log.records] == ["requested", "timeout"]
