"""How the rendered manifests fit together: references, secrets, shared storage, jobs, network, alerts."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from cluster.foundation.runtime import placement
from tests.infra.k8s_docs import (
    K8S,
    OVERLAYS,
    REPO_ROOT,
    containers,
    kubectl,
    one,
    ray_groups,
    render,
    source_docs,
)

pytestmark = pytest.mark.skipif(kubectl() is None, reason="kubectl not on PATH; `kubectl kustomize` renders the overlays")

# Made by someone else, so no manifest here defines them.
EXTERNAL_SERVICES = {"trading-head-svc": "the KubeRay operator's head Service for RayCluster trading"}
DOCUMENTED_SECRETS = {d["metadata"]["name"] for d in source_docs(K8S / "secrets.example.yaml")}


def _pod_specs(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind, spec = doc["kind"], doc.get("spec") or {}
    if kind == "RayCluster":
        yield from (g["template"]["spec"] for g in ray_groups(doc))
    elif kind in ("StatefulSet", "Deployment", "Job"):
        yield spec["template"]["spec"]
    elif kind == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]


def _references(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, name) of every Secret, ConfigMap, PVC, ServiceAccount and Service the document uses."""
    if doc["kind"] == "RayCluster" and doc["spec"].get("authOptions", {}).get("secretName"):
        yield "Secret", doc["spec"]["authOptions"]["secretName"]
    for pod in _pod_specs(doc):
        if pod.get("serviceAccountName"):
            yield "ServiceAccount", pod["serviceAccountName"]
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
            if "secret" in volume:
                yield "Secret", volume["secret"]["secretName"]
            if "configMap" in volume:
                yield "ConfigMap", volume["configMap"]["name"]
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    if key in source:
                        yield kind, source[key]["name"]
            for env in container.get("env", []):
                ref = env.get("valueFrom", {})
                for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if key in ref:
                        yield kind, ref[key]["name"]
            text = " ".join([*container.get("command", []), *container.get("args", [])])
            for host in re.findall(r"https?://([a-z0-9-]+)(?:[.:/]|$)", text):
                yield "Service", host


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_rendered_manifests_when_referring_to_an_object_then_it_is_defined_or_documented_as_external(overlay: str) -> None:
    docs = render(OVERLAYS[overlay])
    defined = {(d["kind"], d["metadata"]["name"]) for d in docs}
    missing = []
    for doc in docs:
        for kind, name in _references(doc):
            known = (kind, name) in defined or (kind == "Secret" and name in DOCUMENTED_SECRETS) or (
                kind == "Service" and name in EXTERNAL_SERVICES)
            if not known:
                missing.append(f"{doc['kind']}/{doc['metadata']['name']} -> {kind}/{name}")
    assert missing == []


def test_trial_overlay_when_rendered_then_runs_postgresql_with_its_own_volume_and_documented_secrets() -> None:
    docs = render(OVERLAYS["trial"])
    postgres = one(docs, "StatefulSet", "trading-postgres")
    [claim] = postgres["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert one(docs, "Service", "trading-postgres")["spec"]["ports"][0]["port"] == 5432
    assert {"trading-postgres", "trading-database"} <= DOCUMENTED_SECRETS
    assert not any(d["kind"] == "StatefulSet" for d in render(OVERLAYS["default"]))


def _env_names(container: dict[str, Any], settings: dict[str, str]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    if any("configMapRef" in s for s in container.get("envFrom", [])):
        names |= set(settings)
    return names


def test_settings_when_built_by_the_head_driver_then_secrets_sit_on_the_head_and_train_pods_only() -> None:
    docs = render(OVERLAYS["default"])
    cluster = one(docs, "RayCluster", "trading")
    settings = one(docs, "ConfigMap", "trading-settings")["data"]
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {"TRADING_ALPACA__KEY_ID", "TRADING_ALPACA__SECRET_KEY", "TRADING_DATABASE__URL", "TRADING_CONTROL_API__TOKEN",
            "TRADING_EXECUTION__BROKER", "TRADING_MARKET_DATA__SOURCE", "TRADING_RAY__ADDRESS"} <= _env_names(head, settings)
    workers = {g["groupName"]: g["template"]["spec"]["containers"][0] for g in cluster["spec"]["workerGroupSpecs"]}
    for name in (placement.CORE_GROUP, placement.SIGNALS_GROUP):
        assert not {n for n in _env_names(workers[name], settings) if n.startswith("TRADING_")}, name
    assert "TRADING_DATABASE__URL" in _env_names(workers[placement.TRAIN_GROUP], settings)
    for container in containers(cluster):
        assert all("valueFrom" in e or not re.search(r"KEY|TOKEN|URL", e["name"]) or e["name"].startswith("RAY_")
                   for e in container.get("env", []) if e["name"].startswith("TRADING_"))
    assert (settings["TRADING_CONTROL_API__HOST"], settings["TRADING_RAY__AUTH_MODE"]) == ("0.0.0.0", "token")


def test_model_dir_when_set_then_lies_on_one_rwx_volume_mounted_at_the_same_path_on_every_ray_pod() -> None:
    docs = render(OVERLAYS["default"])
    cluster = one(docs, "RayCluster", "trading")
    settings = one(docs, "ConfigMap", "trading-settings")["data"]
    claims = {v["persistentVolumeClaim"]["claimName"] for g in ray_groups(cluster)
              for v in g["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v}
    [claim] = claims
    assert one(docs, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteMany"]
    mounts = {m["mountPath"] for c in containers(cluster) for m in c.get("volumeMounts", [])}
    [mount] = mounts
    assert settings["TRADING_SIGNAL__MODEL_DIR"].startswith(mount + "/")
    assert settings["TRADING_STATE_DIR"].startswith(mount + "/")
    train = next(g for g in cluster["spec"]["workerGroupSpecs"] if g["groupName"] == placement.TRAIN_GROUP)
    assert not train["template"]["spec"]["containers"][0]["volumeMounts"][0].get("readOnly", False)


def test_trading_rayjob_when_applied_then_starts_the_detached_supervisor_on_the_running_cluster_and_keeps_it() -> None:
    docs = render(OVERLAYS["default"])
    job = one(docs, "RayJob", "trading-start")["spec"]
    assert job["clusterSelector"] == {"ray.io/cluster": "trading"}
    assert job["entrypoint"] == "trading-cluster run --detach --address auto"
    assert job["shutdownAfterJobFinishes"] is False
    assert "entrypointResources" not in job  # the driver runs on the head, which has the settings


def test_control_api_service_when_routing_then_reaches_port_8180_of_the_head_pod() -> None:
    docs = render(OVERLAYS["default"])
    service = one(docs, "Service", "trading-control-api")["spec"]
    assert service["selector"] == {"ray.io/cluster": "trading", "ray.io/node-type": "head"}
    assert service["ports"][0]["targetPort"] == "control-api"
    assert one(docs, "ConfigMap", "trading-settings")["data"]["TRADING_CONTROL_API__PORT"] == "8180"


def test_retrain_when_scheduled_then_runs_on_a_train_node_with_the_ray_token() -> None:
    docs = render(OVERLAYS["default"])
    cronjob = one(docs, "CronJob", "trading-retrain")["spec"]
    [container] = cronjob["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["args"])
    assert "ray job submit --address http://trading-head-svc:8265" in command
    assert json.loads(re.search(r"--entrypoint-resources '([^']+)'", command)[1]) == placement.train_task_resources()  # type: ignore[index]
    assert command.rstrip().endswith("-- python -m models.train --no-progress")
    env = {e["name"]: e for e in container["env"]}
    assert env["RAY_AUTH_MODE"]["value"] == "token"
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "trading-ray-auth", "key": "auth_token"}
    cron = one(render(OVERLAYS["raycronjob"]), "RayCronJob")["spec"]
    assert cron["schedule"] == cronjob["schedule"]
    assert json.loads(cron["jobTemplate"]["entrypointResources"]) == placement.train_task_resources()
    oneoff = one(source_docs(K8S / "jobs" / "rayjob-retrain.yaml"), "RayJob")["spec"]
    assert json.loads(oneoff["entrypointResources"]) == placement.train_task_resources()
    assert oneoff["entrypoint"] == cron["jobTemplate"]["entrypoint"] == "python -m models.train --no-progress"


def test_network_policies_when_rendered_then_deny_by_default_and_open_only_ray_peers_clients_and_scrapes() -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in render(OVERLAYS["default"]) if d["kind"] == "NetworkPolicy"}
    assert policies["trading-default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    head = policies["trading-head-clients"]
    assert head["podSelector"]["matchLabels"]["ray.io/node-type"] == "head"
    [rule] = head["ingress"]
    assert rule["from"] == [{"podSelector": {}}]  # this namespace only
    assert {p["port"] for p in rule["ports"]} == {8265, 8180}
    [scrape] = policies["trading-metrics-scrape"]["ingress"]
    assert scrape["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_prometheusrule", K8S / "gen_prometheusrule.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prometheusrule_when_compared_with_alerts_yml_then_carries_the_same_rules_and_is_up_to_date() -> None:
    alerts_text = (REPO_ROOT / "infra" / "prometheus" / "alerts.yml").read_text()
    committed = (K8S / "base" / "prometheusrule.yaml").read_text()
    assert committed == _generator().render(alerts_text), "run python infra/k8s/gen_prometheusrule.py"
    rule = one(render(OVERLAYS["default"]), "PrometheusRule", "trading-alerts")
    assert rule["spec"]["groups"] == yaml.safe_load(alerts_text)["groups"]
    assert rule["metadata"]["labels"]["release"] == one(render(OVERLAYS["default"]), "PodMonitor")["metadata"]["labels"]["release"]


def test_prometheusrule_generator_when_alerts_change_then_the_rendered_rule_changes() -> None:
    alerts = yaml.safe_load((REPO_ROOT / "infra" / "prometheus" / "alerts.yml").read_text())
    alerts["groups"][0]["rules"][0]["for"] = "7m"
    rendered = yaml.safe_load(_generator().render(yaml.safe_dump(alerts)))
    assert rendered["spec"]["groups"][0]["rules"][0]["for"] == "7m"
