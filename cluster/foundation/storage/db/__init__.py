"""Persistence: one code path for SQLite and PostgreSQL, Alembic schema, write-behind with a journal.

The names below are loaded on first use (PEP 562): an actor that only writes through SqlRepository
never imports Alembic (commands) or the partition maintenance, which the supervisor and the CLI use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cluster.foundation.storage.db.commands import downgrade, upgrade
    from cluster.foundation.storage.db.partitions import PartitionReport, maintain_partitions
    from cluster.foundation.storage.db.repository import SqlRepository
    from cluster.foundation.storage.db.writer import WriterOptions

__all__ = ["PartitionReport", "SqlRepository", "WriterOptions", "downgrade", "maintain_partitions", "upgrade"]

_HOME = {
    "downgrade": "commands", "upgrade": "commands",
    "PartitionReport": "partitions", "maintain_partitions": "partitions",
    "SqlRepository": "repository", "WriterOptions": "writer",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
