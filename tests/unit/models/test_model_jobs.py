"""Retrain jobs: entrypoint, auth header and polling, against a hand-written job client (no Ray)."""

from __future__ import annotations

from typing import Any

import pytest

from cluster.foundation.domain.errors import DependencyDown, TemporaryError
from models.jobs import job_logs, submit_retrain, wait_for_job
from tests.kit.clock import SecondsClock


class FakeJobClient:
    def __init__(self, statuses: list[str]) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.statuses = statuses
        self.address = ""
        self.headers: dict[str, str] | None = None

    def submit_job(self, **kwargs: Any) -> str:
        self.submitted.append(kwargs)
        return "raysubmit_1"

    def get_job_status(self, job_id: str) -> str:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def get_job_logs(self, job_id: str) -> str:
        return f"logs of {job_id}"


def _factory(client: FakeJobClient):  # type: ignore[no-untyped-def]
    def make(address: str, headers: dict[str, str] | None) -> FakeJobClient:
        client.address, client.headers = address, headers
        return client

    return make


def test_submit_retrain_when_token_given_then_bearer_header_and_train_entrypoint_without_runtime_env() -> None:
    client = FakeJobClient(["PENDING"])
    job_id = submit_retrain("127.0.0.1:8265", ["--horizon", "10", "--seed", "3"], "s3cret",
                            client_factory=_factory(client))
    assert job_id == "raysubmit_1"
    assert client.address == "http://127.0.0.1:8265"
    assert client.headers == {"Authorization": "Bearer s3cret"}
    assert client.submitted[0]["entrypoint"] == "python -m models.train --horizon 10 --seed 3"
    assert client.submitted[0]["runtime_env"] is None


def test_submit_retrain_when_no_token_then_no_auth_header_and_arguments_are_shell_quoted() -> None:
    client = FakeJobClient(["PENDING"])
    submit_retrain("http://head:8265", ["--data", "my file.csv"], None, client_factory=_factory(client))
    assert client.headers is None and client.address == "http://head:8265"
    assert client.submitted[0]["entrypoint"] == "python -m models.train --data 'my file.csv'"


def test_submit_retrain_when_dashboard_is_down_then_dependency_down_names_the_address() -> None:
    def refuse(address: str, headers: dict[str, str] | None) -> FakeJobClient:
        raise ConnectionError("Failed to connect to Ray")

    with pytest.raises(DependencyDown, match="http://127.0.0.1:8265 unreachable"):
        submit_retrain("127.0.0.1:8265", [], None, client_factory=refuse)


def test_wait_for_job_when_job_runs_then_succeeds_then_returns_the_final_status() -> None:
    client, fake = FakeJobClient(["PENDING", "RUNNING", "SUCCEEDED"]), SecondsClock()
    status = wait_for_job("x:1", "raysubmit_1", client_factory=_factory(client), clock=fake, sleep=fake.sleep)
    assert status == "SUCCEEDED" and fake.now == 2.0


def test_wait_for_job_when_still_running_at_the_deadline_then_temporary_error() -> None:
    client, fake = FakeJobClient(["RUNNING"]), SecondsClock()
    with pytest.raises(TemporaryError, match="raysubmit_1 still RUNNING after 5 s"):
        wait_for_job("x:1", "raysubmit_1", timeout_s=5, client_factory=_factory(client), clock=fake,
                     sleep=fake.sleep)


def test_job_logs_when_asked_then_returns_the_servers_text() -> None:
    assert job_logs("x:1", "raysubmit_9", client_factory=_factory(FakeJobClient(["SUCCEEDED"]))) == "logs of raysubmit_9"
