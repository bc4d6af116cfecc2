"""Fixtures: a fake plane, an audit log, and ApiServers on an OS-chosen loopback port."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane, session_bars
from hypothesis import HealthCheck, settings
from pydantic import SecretStr

from cluster.app.api import ApiServer
from cluster.foundation.domain.settings import ControlApiSettings
from tests.kit.clock import FakeClock

# Property tests of this directory: HYPOTHESIS_PROFILE=slow runs 5,000 examples each, the default 200.
settings.register_profile(
    "fuzz",
    max_examples=5000 if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else 200,
    deadline=None,  # a hang is caught by pytest-timeout, not by a per-example clock
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture,
                           HealthCheck.filter_too_much],
)


@pytest.fixture
def audit_log() -> AuditLog:
    return AuditLog()


@pytest.fixture
def plane(audit_log: AuditLog) -> FakeControlPlane:
    return FakeControlPlane(audit_seen=lambda: len(audit_log))


@pytest.fixture
def clock() -> FakeClock:
    """Starts at a real bar time and moves 1 ms per reading, so record order is visible."""
    return FakeClock(session_bars()["SPY"][0].ts_ns, tick_ns=1_000_000)


@pytest.fixture
def start_server(plane: FakeControlPlane, audit_log: AuditLog,
                 clock: FakeClock) -> Iterator[Callable[..., ApiServer]]:
    servers: list[ApiServer] = []

    def start(token: str = TOKEN, plane_override: object | None = None) -> ApiServer:
        settings = ControlApiSettings(host="127.0.0.1", token=SecretStr(token))
        server = ApiServer(plane_override or plane, settings, audit_log, port=0, clock_ns=clock)  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., ApiServer]) -> ApiServer:
    """A server that requires TOKEN."""
    return start_server()
