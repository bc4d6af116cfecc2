"""Persistence: one code path for SQLite and PostgreSQL, Alembic schema, write-behind with a journal."""

from cluster.db.commands import downgrade, upgrade
from cluster.db.partitions import PartitionReport, maintain_partitions
from cluster.db.repository import SqlRepository

__all__ = ["PartitionReport", "SqlRepository", "downgrade", "maintain_partitions", "upgrade"]
