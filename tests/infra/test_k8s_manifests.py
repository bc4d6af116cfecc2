"""KubeRay manifests: every overlay renders and validates, and the cluster agrees with cluster/foundation/runtime/placement.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster.foundation.runtime import placement
from cluster.foundation.runtime.metrics import RELABEL_REGEX
from tests.infra.k8s_docs import (
    CRD_FILES,
    K8S,
    OVERLAYS,
    containers,
    kubectl,
    kuberay_errors,
    one,
    ray_groups,
    ray_resources,
    render,
    source_docs,
    validation_errors,
)

needs_kubectl = pytest.mark.skipif(kubectl() is None, reason="kubectl not on PATH; `kubectl kustomize` renders the overlays")


def _cluster() -> dict[str, Any]:
    return one(source_docs(K8S / "base" / "raycluster.yaml"), "RayCluster", "trading")


@needs_kubectl
@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_when_rendered_then_every_document_validates_against_its_schema(overlay: str) -> None:
    docs = render(OVERLAYS[overlay])
    assert docs[0]["kind"] == "Namespace" and docs[0]["metadata"]["name"] == "trading"
    problems = {f"{d['kind']}/{d['metadata']['name']}": validation_errors(d) for d in docs}
    assert {k: v for k, v in problems.items() if v} == {}
    assert all(d["metadata"].get("namespace") == "trading" for d in docs if d["kind"] != "Namespace")
    assert {"RayCluster", "RayJob", "Service", "NetworkPolicy", "PersistentVolumeClaim", "PrometheusRule"} <= {
        d["kind"] for d in docs}


@needs_kubectl
@pytest.mark.parametrize(("overlay", "kinds"), [("default", {"CronJob"}), ("trial", {"CronJob"}), ("raycronjob", {"RayCronJob"})])
def test_overlay_when_rendered_then_schedules_exactly_one_retrain(overlay: str, kinds: set[str]) -> None:
    assert {d["kind"] for d in render(OVERLAYS[overlay])} & {"CronJob", "RayCronJob"} == kinds


@needs_kubectl
def test_core_schema_when_a_field_is_unknown_or_mistyped_then_validation_fails() -> None:
    service = copy.deepcopy(one(render(OVERLAYS["default"]), "Service", "trading-control-api"))
    service["spec"]["portz"] = service["spec"].pop("ports")
    assert any("portz" in e for e in validation_errors(service))
    pvc = copy.deepcopy(one(render(OVERLAYS["default"]), "PersistentVolumeClaim", "trading-shared"))
    pvc["spec"]["accessModes"] = "ReadWriteMany"
    assert validation_errors(pvc)


def test_secrets_example_when_validated_then_every_documented_secret_is_a_valid_secret() -> None:
    docs = source_docs(K8S / "secrets.example.yaml")
    assert {d["kind"] for d in docs} == {"Secret"}
    assert {f"{d['metadata']['name']}": validation_errors(d) for d in docs if validation_errors(d)} == {}
    broken = copy.deepcopy(docs[0])
    broken["stringdata"] = broken.pop("stringData")
    assert any("stringdata" in e for e in validation_errors(broken))


def test_raycluster_when_a_field_has_the_wrong_type_then_validation_fails() -> None:
    broken = copy.deepcopy(_cluster())
    broken["spec"]["workerGroupSpecs"][0]["minReplicas"] = "1"
    broken["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 1
    errors = kuberay_errors(broken)
    assert any("minReplicas" in e for e in errors) and any("num-cpus" in e for e in errors)


def test_rayjob_when_a_field_is_misspelled_then_strict_validation_fails() -> None:
    broken = copy.deepcopy(one(source_docs(K8S / "jobs" / "rayjob-retrain.yaml"), "RayJob"))
    broken["spec"]["entrypointResource"] = broken["spec"].pop("entrypointResources")
    assert any("entrypointResource" in e for e in kuberay_errors(broken))


@pytest.mark.parametrize("path", [K8S / "jobs" / "rayjob-retrain.yaml", K8S / "components" / "raycronjob" / "raycronjob-retrain.yaml"])
def test_kuberay_manifest_outside_the_base_when_validated_then_has_no_errors(path: Path) -> None:
    for doc in source_docs(path):
        assert doc["kind"] in CRD_FILES and kuberay_errors(doc) == []


def test_raycluster_when_compared_with_placement_then_groups_and_resources_agree() -> None:
    spec = _cluster()["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {g.name for g in placement.WORKER_GROUPS}
    for wanted in placement.WORKER_GROUPS:
        group = groups[wanted.name]
        assert ray_resources(group) == {wanted.resource: wanted.units_per_node}
        assert (group["minReplicas"], group["maxReplicas"]) == (wanted.min_nodes, wanted.max_nodes)
    assert groups[placement.CORE_GROUP]["replicas"] == 1


def test_raycluster_head_when_started_then_offers_the_supervisor_resource_and_serves_the_control_api() -> None:
    head = _cluster()["spec"]["headGroupSpec"]
    assert ray_resources(head) == {placement.HEAD_NODE.resource: placement.HEAD_NODE.units_per_node}
    assert head["rayStartParams"]["num-cpus"] == "1"  # the job driver and the supervisor; actors go to workers
    assert placement.supervisor_resources() == {placement.HEAD_RESOURCE: placement.SUPERVISOR_DEMAND}
    assert placement.HEAD_NODE.units_per_node >= placement.SUPERVISOR_DEMAND
    ports = {p["name"]: p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
    assert ports["dashboard"] == 8265 and ports["metrics"] == 8080 and ports["control-api"] == 8180


def test_raycluster_when_dashboard_listens_beyond_loopback_then_token_auth_reads_a_secret() -> None:
    spec = _cluster()["spec"]
    assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert spec["authOptions"] == {"mode": "token", "secretName": "trading-ray-auth"}
    documented = {d["metadata"]["name"]: d for d in source_docs(K8S / "secrets.example.yaml")}
    assert "auth_token" in documented["trading-ray-auth"]["stringData"]  # the key KubeRay reads


def test_every_ray_container_when_listing_ports_then_metrics_is_8080_and_nothing_else_uses_it() -> None:
    for group in ray_groups(_cluster()):
        assert group["rayStartParams"]["metrics-export-port"] == "8080"
        for container in group["template"]["spec"]["containers"]:
            assert [p["name"] for p in container["ports"] if p["containerPort"] == 8080] == ["metrics"]


def test_ray_containers_when_counted_then_every_group_runs_the_project_image() -> None:
    assert {c["image"] for c in containers(_cluster())} == {"trading-cluster:0.1.0"}
    images = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["images"]
    assert [i["name"] for i in images] == ["trading-cluster"]


def test_podmonitor_when_scraping_then_uses_metrics_port_and_the_relabel_regex_from_cluster_metrics() -> None:
    monitor = one(source_docs(K8S / "base" / "podmonitor.yaml"), "PodMonitor")["spec"]
    [main] = [e for e in monitor["podMetricsEndpoints"] if e["port"] == "metrics"]
    [rule] = main["metricRelabelings"]
    assert (rule["sourceLabels"], rule["regex"], rule["targetLabel"], rule["replacement"]) == (
        ["__name__"], RELABEL_REGEX, "__name__", "$1")


def _kustomization_entries(folder: Path) -> list[str]:
    doc = yaml.safe_load((folder / "kustomization.yaml").read_text())
    return [*doc.get("resources", []), *doc.get("components", [])]


@pytest.mark.parametrize("folder", sorted({*OVERLAYS.values(), K8S / "base", *(K8S / "components").iterdir()}))
def test_kustomization_when_listing_resources_then_every_entry_exists(folder: Path) -> None:
    entries = _kustomization_entries(folder)
    assert entries
    for entry in entries:
        target = (folder / entry).resolve()
        assert target.is_file() or (target / "kustomization.yaml").is_file(), f"{folder}: {entry}"


def test_base_kustomization_when_listing_files_then_covers_every_manifest_in_base_and_namespace_first() -> None:
    listed = _kustomization_entries(K8S / "base")
    present = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed) == present and listed[0] == "namespace.yaml"
    assert "secrets.example.yaml" not in listed
