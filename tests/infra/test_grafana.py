"""Grafana dashboards: every panel expression parses in promtool and names only series that exist."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster.foundation.runtime.metrics import prometheus_series_names

EXPECTED_DASHBOARDS = {"overview", "latency", "data_feed", "models", "ray"}
# Grafana macros are not PromQL; promtool sees a representative value instead.
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def _dashboards(repo_root: Path) -> dict[str, dict[str, Any]]:
    folder = repo_root / "infra" / "grafana" / "dashboards"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def _expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def _as_promql(expr: str) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    return expr


def _check_with_promtool(promtool: str, run: Callable, exprs: list[str], folder: Path) -> Any:
    rules = {"groups": [{"name": "panels", "rules": [{"record": f"panel:expr_{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    path = folder / "panel_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return run(promtool, "check", "rules", path)


def test_dashboards_when_listed_then_the_five_expected_exist_with_unique_uids(repo_root: Path) -> None:
    dashboards = _dashboards(repo_root)
    assert set(dashboards) == EXPECTED_DASHBOARDS
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", sorted(EXPECTED_DASHBOARDS))
def test_dashboard_panels_when_checked_by_promtool_then_every_expression_parses(
    name: str, promtool: str, run: Callable, repo_root: Path, tmp_path: Path
) -> None:
    exprs = [_as_promql(e) for _, e in _expressions(_dashboards(repo_root)[name])]
    assert exprs
    result = _check_with_promtool(promtool, run, exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(exprs)} rules found" in result.stdout


def test_panel_check_when_an_expression_is_broken_then_promtool_fails(
    promtool: str, run: Callable, tmp_path: Path
) -> None:
    result = _check_with_promtool(promtool, run, ["sum by (le) (rate(trading_inference_seconds_bucket[1m])"], tmp_path)
    assert result.returncode != 0


def test_dashboard_panels_when_naming_our_metrics_then_name_series_we_export(
    repo_root: Path, our_metric_names_in: Callable[[str], set[str]]
) -> None:
    known = prometheus_series_names()
    for name, dashboard in _dashboards(repo_root).items():
        for title, expr in _expressions(dashboard):
            unknown = our_metric_names_in(expr) - known
            assert not unknown, f"{name}/{title}: unknown series {unknown}"


def test_dashboards_when_provisioned_then_use_the_provisioned_datasource_uid(repo_root: Path) -> None:
    provisioning = yaml.safe_load((repo_root / "infra/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = provisioning["datasources"][0]["uid"]
    for dashboard in _dashboards(repo_root).values():
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == uid
            assert all(t["datasource"]["uid"] == uid for t in panel["targets"])


def test_dashboards_when_covering_the_pipeline_then_show_the_metrics_they_promise(repo_root: Path) -> None:
    exprs = {name: " ".join(e for _, e in _expressions(d)) for name, d in _dashboards(repo_root).items()}
    assert all(m in exprs["overview"] for m in ("circuit_breaker_status", "trading_daily_pnl_usd", "trading_exposure_usd", "trading_orders_total"))
    assert all(f"{stage}_bucket" in exprs["latency"] for stage in (
        "trading_feature_update_seconds", "trading_inference_seconds", "trading_risk_check_seconds",
        "trading_order_ack_seconds", "trading_tick_to_order_seconds"))
    assert "trading_bus_sequence_gaps_total" in exprs["data_feed"] and "alpaca_websocket_connected" in exprs["data_feed"]
    assert "trading_model_version_info" in exprs["models"] and "trading_predictions_total" in exprs["models"]
    assert "trading_actor_restarts_total" in exprs["ray"]
