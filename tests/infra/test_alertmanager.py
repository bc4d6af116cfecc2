"""Alertmanager config: valid for amtool, routes as intended, and no secret written inline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

INLINE_SECRET_KEYS = {"api_url", "routing_key", "service_key", "auth_password", "bot_token", "api_key", "url"}


def _config(repo_root: Path) -> Path:
    return repo_root / "infra" / "alertmanager" / "alertmanager.yml"


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_alertmanager_config_when_checked_by_amtool_then_valid(amtool: str, run: Callable, repo_root: Path) -> None:
    result = run(amtool, "check-config", _config(repo_root))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_when_a_field_is_misspelled_then_amtool_rejects_it(
    amtool: str, run: Callable, repo_root: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(_config(repo_root).read_text().replace("repeat_interval: 30m", "repeat_intervall: 30m"))
    result = run(amtool, "check-config", broken)
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=CircuitBreakerOpen", "severity=critical"], "on-call"),
        (["alertname=MarketDataStale", "feed=iex", "severity=critical"], "on-call"),
        (["alertname=BusDrops", "topic=orders", "severity=warning"], "team-channel"),
        (["alertname=RiskRejectionsSpike", "reason=max_position", "severity=info"], "null"),
    ],
)
def test_routes_when_alert_has_labels_then_reaches_the_expected_receiver(
    amtool: str, run: Callable, repo_root: Path, labels: list[str], receiver: str
) -> None:
    result = run(
        amtool, "config", "routes", "test", f"--config.file={_config(repo_root)}", f"--verify.receivers={receiver}", *labels
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_when_read_then_holds_no_inline_secret(repo_root: Path) -> None:
    config = yaml.safe_load(_config(repo_root).read_text())
    assert set(_keys(config)) & INLINE_SECRET_KEYS == set()
    assert {"api_url_file", "routing_key_file"} <= set(_keys(config))
