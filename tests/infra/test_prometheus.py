"""Prometheus config and alert rules: valid for promtool, unit-tested, and consistent with cluster.foundation.runtime.metrics."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cluster.foundation.runtime.metrics import RELABEL_REGEX, prometheus_series_names

SEED_ALERTS = {
    "AlpacaWebSocketDisconnected", "CircuitBreakerOpen", "PostgreSQLDown", "AlpacaApiErrorsRising", "MarketDataStale",
    "BusSequenceGaps", "RejectedOrdersSpike", "ActorRestarted",
}


def _prom_dir(repo_root: Path) -> Path:
    return repo_root / "infra" / "prometheus"


def _rules(repo_root: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load((_prom_dir(repo_root) / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _github_anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_alert_rules_when_checked_by_promtool_then_valid(promtool: str, run: Callable, repo_root: Path) -> None:
    result = run(promtool, "check", "rules", "alerts.yml", cwd=_prom_dir(repo_root))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_when_run_by_promtool_then_pass(promtool: str, run: Callable, repo_root: Path) -> None:
    result = run(promtool, "test", "rules", "alerts_test.yml", cwd=_prom_dir(repo_root))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_when_a_threshold_is_loosened_then_fail(
    promtool: str, run: Callable, repo_root: Path, tmp_path: Path
) -> None:
    # Arrange: the same tests against rules whose stale-data threshold is ten times looser
    rules = (_prom_dir(repo_root) / "alerts.yml").read_text()
    assert "> 300" in rules
    (tmp_path / "alerts.yml").write_text(rules.replace("> 300", "> 3000"))
    (tmp_path / "alerts_test.yml").write_text((_prom_dir(repo_root) / "alerts_test.yml").read_text())
    # Act
    result = run(promtool, "test", "rules", "alerts_test.yml", cwd=tmp_path)
    # Assert
    assert result.returncode != 0
    assert "MarketDataStale" in result.stdout + result.stderr


def test_prometheus_config_when_checked_by_promtool_then_valid(promtool: str, run: Callable, repo_root: Path) -> None:
    result = run(promtool, "check", "config", "prometheus.yml", cwd=_prom_dir(repo_root))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_when_relabelling_then_uses_the_regex_from_cluster_metrics(repo_root: Path) -> None:
    config = yaml.safe_load((_prom_dir(repo_root) / "prometheus.yml").read_text())
    ray_job = next(job for job in config["scrape_configs"] if job["job_name"] == "ray")
    [rule] = ray_job["metric_relabel_configs"]
    assert rule == {"source_labels": ["__name__"], "regex": RELABEL_REGEX, "target_label": "__name__", "replacement": "$1"}


def test_alert_rules_when_listed_then_cover_every_seed_alert(repo_root: Path) -> None:
    assert {rule["alert"] for rule in _rules(repo_root)} >= SEED_ALERTS


def test_every_alert_when_defined_then_has_severity_and_a_runbook_section_in_the_docs(repo_root: Path) -> None:
    docs = (repo_root / "docs" / "observability.md").read_text()
    anchors = {_github_anchor(line.lstrip("#")) for line in docs.splitlines() if line.startswith("#")}
    for rule in _rules(repo_root):
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        url = rule["annotations"]["runbook_url"]
        assert url == f"docs/observability.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in anchors, f"no runbook heading for {rule['alert']}"


def test_every_alert_when_unit_tested_then_has_a_firing_and_a_quiet_case(repo_root: Path) -> None:
    doc = yaml.safe_load((_prom_dir(repo_root) / "alerts_test.yml").read_text())
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in doc["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _rules(repo_root)}
    assert names - fired == set()
    assert names - quiet == set()


def test_alert_expressions_when_naming_our_metrics_then_name_series_we_export(
    repo_root: Path, our_metric_names_in: Callable[[str], set[str]]
) -> None:
    known = prometheus_series_names()
    used = set()
    for rule in _rules(repo_root):
        names = our_metric_names_in(rule["expr"])
        assert names, f"{rule['alert']} uses none of our metrics"
        assert names <= known, f"{rule['alert']} uses unknown series {names - known}"
        used |= names
    assert {"alpaca_websocket_connected", "circuit_breaker_status", "postgresql_up", "alpaca_api_errors_total"} <= used
