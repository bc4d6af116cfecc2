"""Each test gets its own empty database: a SQLite file, or a fresh PostgreSQL database that is
dropped afterwards. PostgreSQL tests run unless TRADING_TEST_POSTGRES_URL is "off"."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

DEFAULT_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return os.environ.get("TRADING_TEST_POSTGRES_URL", DEFAULT_PG_URL)


def postgres_disabled() -> bool:
    return postgres_base_url().strip().lower() == "off"


@pytest.fixture
def fresh_postgres_url() -> Iterator[URL]:
    """CREATE DATABASE test_<random>; yields its URL; DROP DATABASE ... WITH (FORCE) afterwards."""
    if postgres_disabled():
        pytest.skip("PostgreSQL tests disabled: TRADING_TEST_POSTGRES_URL=off")
    base = make_url(postgres_base_url())
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL (string, password included) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trading.db'}"
    url: URL = request.getfixturevalue("fresh_postgres_url")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def migrated_url(db_url: str) -> str:
    from cluster.foundation.storage.db import upgrade

    upgrade(db_url)
    return db_url
