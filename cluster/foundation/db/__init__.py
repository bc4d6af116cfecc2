"""Persistence: one code path for SQLite and PostgreSQL, Alembic schema, write-behind with a journal."""

from cluster.foundation.db.commands import downgrade, upgrade
from cluster.foundation.db.partitions import PartitionReport, maintain_partitions
from cluster.foundation.db.repository import SqlRepository

__all__ = ["PartitionReport", "SqlRepository", "downgrade", "maintain_partitions", "upgrade"]
