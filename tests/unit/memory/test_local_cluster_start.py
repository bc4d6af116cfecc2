"""A local cluster's processes inherit MALLOC_ARENA_MAX from the process that starts it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from cluster.foundation.domain.settings import RaySettings
from cluster.foundation.runtime import ray_calls


class FakeRay:
    def __init__(self) -> None:
        self.init_calls: list[dict[str, Any]] = []

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs: Any) -> SimpleNamespace:
        import os

        self.init_calls.append({**kwargs, "arena_at_init": os.environ.get("MALLOC_ARENA_MAX")})
        return SimpleNamespace(dashboard_url="", address_info={"gcs_address": "127.0.0.1:1"})


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> FakeRay:
    fake = FakeRay()
    monkeypatch.setattr(ray_calls, "_ray", lambda: fake)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "")  # records the original, so the teardown restores it
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # init_cluster sets it; monkeypatch restores it
    return fake


def test_local_cluster_when_started_then_its_processes_get_few_malloc_arenas(fake_ray: FakeRay) -> None:
    ray_calls.init_cluster(RaySettings(address="local", include_dashboard=False))
    assert fake_ray.init_calls[0]["arena_at_init"] == str(ray_calls.LOCAL_MALLOC_ARENA_MAX)


def test_local_cluster_when_the_user_set_arenas_then_that_wins(fake_ray: FakeRay,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    ray_calls.init_cluster(RaySettings(address="local", include_dashboard=False))
    assert fake_ray.init_calls[0]["arena_at_init"] == "8"


def test_joining_a_cluster_when_started_then_the_environment_is_left_alone(fake_ray: FakeRay) -> None:
    ray_calls.init_cluster(RaySettings(address="10.0.0.1:6380", include_dashboard=False))
    assert fake_ray.init_calls[0]["arena_at_init"] is None


def test_local_cluster_when_started_then_workers_run_at_the_configured_niceness(fake_ray: FakeRay) -> None:
    ray_calls.init_cluster(RaySettings(address="local", include_dashboard=False))
    assert fake_ray.init_calls[0]["_system_config"]["worker_niceness"] == 0  # Ray's own default is 15
    ray_calls.init_cluster(RaySettings(address="local", include_dashboard=False, worker_niceness=10))
    assert fake_ray.init_calls[1]["_system_config"]["worker_niceness"] == 10
