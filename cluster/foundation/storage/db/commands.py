"""Programmatic Alembic: the only way the schema is created or changed."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from cluster.foundation.domain.settings import REPO_ROOT


def alembic_config(url: str) -> Config:
    """Config of alembic.ini with the URL passed as an attribute (no ini %-interpolation of secrets)."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, rev: str) -> None:
    command.downgrade(alembic_config(url), rev)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from cluster.foundation.storage.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
