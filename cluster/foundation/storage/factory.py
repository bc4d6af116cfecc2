"""Builds the repository an actor writes to, from the settings (one place decides the backend)."""

from __future__ import annotations

from cluster.foundation.domain.settings import Settings
from cluster.foundation.storage.repository import InMemoryRepository, Repository
from cluster.foundation.storage.state_store import MemoryStateStore, SqlStateStore, StateStore

MEMORY_URL = "memory://"


def database_url(settings: Settings) -> str:
    url = settings.database.url.get_secret_value()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        # relative SQLite paths are relative to the repository root, not to the worker's cwd
        rel = url.removeprefix("sqlite:///")
        path = settings.resolve(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    return url


def migrate(settings: Settings) -> None:
    """Bring the schema to head (Alembic is the only source of schema)."""
    url = database_url(settings)
    if url == MEMORY_URL:
        return
    from cluster.foundation.storage.db import upgrade

    upgrade(url)


def make_repository(settings: Settings, actor_name: str) -> Repository:
    url = database_url(settings)
    if url == MEMORY_URL:
        return InMemoryRepository()
    from cluster.foundation.storage.db import SqlRepository, WriterOptions

    journal = settings.resolve(settings.state_dir) / "journal" / actor_name
    db = settings.database
    return SqlRepository(url, journal, WriterOptions(queue_max=db.queue_max, linger_s=db.write_linger_ms / 1000))


def make_state_store(settings: Settings) -> StateStore:
    """The feed journal and the supervisor's desired state, in the trading database."""
    url = database_url(settings)
    if url == MEMORY_URL:
        return MemoryStateStore()
    return SqlStateStore(url)
