"""One local Ray cluster for the whole session (ray.init takes seconds: start it once)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    os.environ["RAY_AUTH_MODE"] = "disabled"
    import ray

    ray.init(address="local", num_cpus=4, include_dashboard=False, namespace="trading",
             log_to_driver=False)
    yield
    ray.shutdown()
