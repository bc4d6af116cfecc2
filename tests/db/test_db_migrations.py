"""Alembic is the only source of the schema: it upgrades, downgrades and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect

from cluster.foundation.storage.db import downgrade, upgrade
from cluster.foundation.storage.db.commands import current
from cluster.foundation.storage.db.engine import make_engine
from cluster.foundation.storage.db.models import Base

TABLES = {"positions", "orders", "trades", "risk_events", "daily_pnl", "order_intents", "breaker_state",
          "model_versions", "audit_log"}


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    from cluster.foundation.storage.db.models import PARTITIONED
    from cluster.foundation.storage.db.partitions import parse_partition_name

    parsed = parse_partition_name(name or "") if type_ == "table" else None
    return parsed is None or parsed[0] not in PARTITIONED


def _diff(url: str, metadata: MetaData) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _include_name})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_when_upgraded_downgraded_and_upgraded_again_then_schema_is_whole(db_url: str) -> None:
    # Act / Assert
    upgrade(db_url)
    assert _tables(db_url) >= TABLES
    downgrade(db_url, "base")
    assert _tables(db_url) == set()
    assert current(db_url) is None
    upgrade(db_url)
    assert _tables(db_url) >= TABLES
    assert current(db_url) == "0004"


def test_models_when_compared_with_migrated_database_then_no_difference(migrated_url: str) -> None:
    # Act
    diff = _diff(migrated_url, Base.metadata)

    # Assert
    assert diff == []


def test_models_when_a_column_is_missing_from_migrations_then_comparison_reports_it(migrated_url: str) -> None:
    # Arrange: the models plus one column no migration creates
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["positions"].append_column(Column("not_migrated", Integer))

    # Act
    diff = _diff(migrated_url, drifted)

    # Assert
    assert [d[0] for d in diff] == ["add_column"]  # type: ignore[index]
