"""A real Prometheus scrapes a running cluster replaying one real trading day (2013-10-07).

Proves the chain code -> Ray export port (ray_ prefix) -> relabelling -> the names alerts and
Grafana use, that every Grafana expression parses against a real server, that the core panels
have data, and that the Ray dashboard lists our named actors.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.observability.conftest import Prometheus, RunningCluster

pytestmark = [pytest.mark.observability, pytest.mark.timeout(240)]

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
SEED_METRICS = ("circuit_breaker_status", "postgresql_up", "alpaca_websocket_connected", "alpaca_api_errors_total")
CORE_PANELS = (
    "Circuit breaker", "Daily P&L", "Exposure", "Orders by status", "Messages in by actor", "Messages out by actor",
    "Feature update (per batch)", "Inference (per batch)", "Risk check (per batch)", "Order ack (broker)",
    "Tick to order", "Tick to decision",
)


def grafana_panels() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expression with Grafana macros replaced)."""
    out = []
    for path in sorted((REPO_ROOT / "infra/grafana/dashboards").glob("*.json")):
        for panel in json.loads(path.read_text()).get("panels", []):
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                for macro, value in GRAFANA_MACROS.items():
                    expr = expr.replace(macro, value)
                if expr:
                    out.append((path.name, panel.get("title", ""), expr))
    return out


def test_seed_metrics_when_cluster_replays_then_prometheus_has_them_under_unprefixed_names(
    prometheus: Prometheus,
) -> None:
    for name in SEED_METRICS:
        rows = prometheus.wait_for(name, timeout_s=60)
        assert rows, f"{name} never appeared in Prometheus"
        assert not prometheus.series(f"ray_{name}"), f"ray_{name} was not relabelled"
    connected = prometheus.series("alpaca_websocket_connected")
    assert {r["metric"].get("feed") for r in connected} == {"none"}
    assert all(float(r["value"][1]) == 0 for r in connected)
    assert prometheus.series('alpaca_api_errors_total{status="none",code="none"}')
    assert float(prometheus.series("max(postgresql_up)")[0]["value"][1]) == 1.0  # the SQLite store is writable
    assert float(prometheus.series("max(circuit_breaker_status)")[0]["value"][1]) == 0.0


def test_grafana_expressions_when_sent_to_prometheus_then_every_one_parses(prometheus: Prometheus) -> None:
    panels = grafana_panels()
    assert len(panels) > 20
    failures = []
    for dashboard, title, expr in panels:
        status, body = prometheus.query(expr)
        if status != 200:
            failures.append(f"{dashboard} / {title}: HTTP {status} {body.get('error')}")
    assert not failures, "\n".join(failures)


def test_core_panels_when_the_replayed_day_has_traded_then_return_data(prometheus: Prometheus) -> None:
    assert prometheus.wait_for("sum(trading_fills_total)", timeout_s=120), "no fill reached Prometheus"
    deadline = time.monotonic() + 30  # rate() needs two scrapes after a series first appears
    empty = []
    by_title: dict[str, list[str]] = {}
    for _dashboard, title, expr in grafana_panels():
        by_title.setdefault(title, []).append(expr)
    for title in CORE_PANELS:
        assert title in by_title, f"panel {title!r} is not in the dashboards any more"
        for expr in by_title[title]:
            if not prometheus.wait_for(expr, timeout_s=max(0.0, deadline - time.monotonic())):
                empty.append(f"{title}: {expr}")
    assert not empty, "panels without data:\n" + "\n".join(empty)
    statuses = {r["metric"]["status"] for r in prometheus.series("sum by (status) (trading_orders_total)")}
    assert {"new", "filled"} <= statuses


def test_dashboard_when_cluster_runs_then_lists_named_actors_in_trading_namespace(
    running_cluster: RunningCluster,
) -> None:
    url = f"{running_cluster.dashboard_url}/api/v0/actors?limit=1000"
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.loads(resp.read())
    rows = body["data"]["result"]["result"]
    alive = {r["name"] for r in rows if r.get("ray_namespace") == "trading" and r.get("state") == "ALIVE"}
    assert {"market_data", "risk", "execution"} <= alive
    assert any(name.startswith("signal-g") for name in alive)
