"""Helpers shared by the integration tests."""

from __future__ import annotations

import socket
from typing import Any

from pydantic import SecretStr

from cluster.app.supervisor import Supervisor
from cluster.foundation.domain.settings import Settings, load_settings


def free_ports(n: int) -> list[int]:
    """Free loopback ports for servers that need a port known in advance (the Ray dashboard)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def cluster_settings(tmp_path: Any, **sections: dict[str, Any]) -> Settings:
    """Embedded defaults (the bus binds OS-chosen ports, found through Ray) with a private SQLite
    database, plus overrides per section."""
    base = load_settings()
    updates: dict[str, Any] = {
        "state_dir": str(tmp_path),
        "database": base.database.model_copy(update={"url": SecretStr(f"sqlite:///{tmp_path}/trading.db")}),
        "risk": base.risk.model_copy(update={"check_invariants": True}),
        # the in-process replay path unless a test asks for the live one
        "market_data": base.market_data.model_copy(update={"source": "replay"}),
        "execution": base.execution.model_copy(update={"broker": "sim"}),
    }
    for section, values in sections.items():
        current = updates.get(section, getattr(base, section))
        updates[section] = current.model_copy(update=values)
    return base.model_copy(update=updates)


def run_once(settings: Settings, timeout_s: float = 120.0, during: Any = None) -> tuple[dict, dict]:
    """Start a supervisor in the session's Ray cluster, replay, return (summary, final stats)."""
    sup = Supervisor(settings)
    sup.start()
    try:
        sup.start_feed()
        if during is not None:
            during(sup)
        stats = sup.run_until_done(timeout_s)
        return sup.summary(stats), stats
    finally:
        sup.shutdown()
