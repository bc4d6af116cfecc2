"""Write base/prometheusrule.yaml from infra/prometheus/alerts.yml (the one source of the alert rules).

    python infra/k8s/gen_prometheusrule.py          # rewrite the manifest
    python infra/k8s/gen_prometheusrule.py --check  # exit 1 when the manifest is out of date

tests/infra/test_k8s_manifests.py fails when the committed manifest and alerts.yml disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ALERTS = HERE.parent / "prometheus" / "alerts.yml"
TARGET = HERE / "base" / "prometheusrule.yaml"
HEADER = (
    "# GENERATED from infra/prometheus/alerts.yml by infra/k8s/gen_prometheusrule.py: do not edit.\n"
    "# Prometheus Operator PrometheusRule; the label `release: prometheus` matches kube-prometheus-stack's\n"
    "# default ruleSelector (the same label as podmonitor.yaml).\n"
)


def render(alerts_text: str) -> str:
    groups = yaml.safe_load(alerts_text)["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "trading-alerts",
            "labels": {"app.kubernetes.io/name": "trading-cluster", "release": "prometheus"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=110, allow_unicode=True)


def main(argv: list[str]) -> int:
    wanted = render(ALERTS.read_text())
    if "--check" in argv:
        if TARGET.read_text() != wanted:
            print(f"{TARGET} is out of date: run python {Path(__file__).relative_to(Path.cwd())}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
