"""Hosts the control API next to a running supervisor (the `run` command's operator interface)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from cluster.app.api import ApiServer
from cluster.app.api_token import with_token
from cluster.app.control_plane import SupervisorControlPlane
from cluster.app.supervisor import Supervisor
from cluster.foundation.domain.settings import Settings
from cluster.foundation.storage.factory import make_repository

log = logging.getLogger("trading.api")


@contextmanager
def control_api(sup: Supervisor, settings: Settings, port: int | None = None) -> Iterator[ApiServer]:
    """Serve the control API while the block runs; every action is audited in the database.

    Without a configured token one is kept in <state_dir>/control_api.token (0600) for the CLI."""
    control = with_token(settings.control_api, settings.resolve(settings.state_dir))
    repo = make_repository(settings, "control")
    server = ApiServer(SupervisorControlPlane(sup, settings), control, repo.record_audit, port=port)
    server.start()
    log.info("control API on %s", server.url)
    try:
        yield server
    finally:
        server.stop()
        repo.flush()
        repo.close()
