"""Alembic environment: one engine factory for SQLite and PostgreSQL (cluster.foundation.storage.db.engine)."""

from __future__ import annotations

from typing import Any

from alembic import context
from cluster.foundation.storage.db.engine import make_engine, resolve_url
from cluster.foundation.storage.db.models import PARTITIONED, Base
from cluster.foundation.storage.db.partitions import parse_partition_name

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return str(url)
    from cluster.foundation.domain.settings import settings

    return settings().database.url.get_secret_value()


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Monthly partitions are created at run time, not by migrations: leave them out of comparisons."""
    if type_ == "table" and name is not None:
        parsed = parse_partition_name(name)
        return parsed is None or parsed[0] not in PARTITIONED
    return True


def run_migrations_offline() -> None:
    context.configure(url=resolve_url(_url()), target_metadata=target_metadata, literal_binds=True,
                      include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                include_name=include_name,
                compare_type=True,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
