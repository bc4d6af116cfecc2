"""A repository fake: the in-memory repository plus the health probe and an outage switch."""

from __future__ import annotations

from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.wire import OrderIntent
from cluster.foundation.storage.repository import InMemoryRepository


class FakeRepository(InMemoryRepository):
    """InMemoryRepository whose `health()` a test turns down (`up = 0`) and counts (`calls`), and whose
    intent log raises DependencyDown while `down` is set, as the SQL repository does in an outage."""

    def __init__(self) -> None:
        super().__init__()
        self.up = 1
        self.calls = 0
        self.down = False

    def health(self) -> dict[str, int | str]:
        self.calls += 1
        return {"status": "ok" if self.up else "degraded", "database_up": self.up, "postgresql_up": 0}

    def record_intent(self, intent: OrderIntent) -> None:
        if self.down:
            raise DependencyDown("database unreachable")
        super().record_intent(intent)
