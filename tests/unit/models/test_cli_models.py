"""`trading-cluster retrain`: arguments after -- reach the training job unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cluster.app import models_control
from cluster.app.cli import build_parser, main


class FakeRetrain:
    def __init__(self, status: str) -> None:
        self.status = status
        self.calls: list[dict[str, Any]] = []

    def __call__(self, settings: Any, args: list[str], **kw: Any) -> dict[str, Any]:
        self.calls.append({"args": args, **kw})
        return {"job_id": "raysubmit_9", "address": kw["address"] or "http://127.0.0.1:8265", "entrypoint": "",
                "status": self.status}


def test_retrain_parser_when_train_args_after_double_dash_then_kept_in_order() -> None:
    args = build_parser().parse_args(["retrain", "--address", "http://127.0.0.1:8266", "--", "--rounds", "5"])
    assert args.address == "http://127.0.0.1:8266" and not args.wait
    assert args.train_args[-2:] == ["--rounds", "5"]


def test_retrain_command_when_submitted_then_json_result_and_exit_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeRetrain("SUBMITTED")
    monkeypatch.setattr(models_control, "retrain", fake)
    code = main(["retrain", "--json", "--address", "127.0.0.1:8270", "--", "--seed", "3"])
    assert code == 0
    assert fake.calls == [{"args": ["--seed", "3"], "address": "127.0.0.1:8270", "wait": False, "timeout_s": 600.0}]
    assert json.loads(capsys.readouterr().out)["job_id"] == "raysubmit_9"


def test_retrain_command_when_job_failed_then_exit_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models_control, "retrain", FakeRetrain("FAILED"))
    assert main(["retrain", "--json", "--wait", "--address", "127.0.0.1:8270"]) == 1
