"""KubeRay manifests: valid against the CRD schemas, kustomizations complete, placement names agree."""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from cluster import placement
from cluster.metrics import RELABEL_REGEX

K8S = Path(__file__).resolve().parents[2] / "infra" / "k8s"
CRD_FILES = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml", "RayCronJob": "ray.io_raycronjobs.yaml"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _to_json_schema(node: Any, strict: bool) -> Any:
    """CRD OpenAPI v3 -> JSON Schema behaving like the API server (see schemas/README.md)."""
    if isinstance(node, list):
        return [_to_json_schema(v, strict) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _to_json_schema(sub, strict) for name, sub in value.items()}
        elif not key.startswith("x-kubernetes-"):
            out[key] = _to_json_schema(value, strict)
    if "required" in out and "properties" in out:
        out["required"] = [r for r in out["required"] if "default" not in out["properties"].get(r, {})]
        if not out["required"]:
            del out["required"]
    if strict and "properties" in out and "additionalProperties" not in out and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@cache
def _validator(kind: str) -> Draft7Validator:
    crd = yaml.load((K8S / "schemas" / CRD_FILES[kind]).read_text(), Loader=_LOADER)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1" and v["served"])
    return Draft7Validator(_to_json_schema(version["schema"]["openAPIV3Schema"], strict=True))


def _drop_nulls(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_nulls(v) for v in x]
    return x


def validation_errors(doc: dict[str, Any]) -> list[str]:
    assert doc["apiVersion"] == "ray.io/v1", doc["apiVersion"]
    errors = _validator(doc["kind"]).iter_errors(_drop_nulls(doc))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def _manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.rglob("*.yaml")):
        if "schemas" in path.parts or path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict):
                yield path, doc


def _kuberay_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p, d in _manifests() if d.get("kind") in CRD_FILES]


def _one(kind: str) -> dict[str, Any]:
    [doc] = [d for _, d in _manifests() if d["kind"] == kind and d["metadata"]["name"].startswith("trading")]
    return doc


def _ray_resources(group: dict[str, Any]) -> dict[str, float]:
    """KubeRay pastes the value into `ray start --resources=<value>` in a shell, so unquote like a shell."""
    raw = group["rayStartParams"].get("resources")
    return json.loads(shlex.split(raw)[0]) if raw else {}


def test_kuberay_manifests_when_found_then_include_cluster_job_and_cronjob() -> None:
    assert sorted(d["kind"] for _, d in _kuberay_docs()) == ["RayCluster", "RayCronJob", "RayJob"]


@pytest.mark.parametrize(("path", "doc"), _kuberay_docs(), ids=lambda v: getattr(v, "name", ""))
def test_kuberay_manifest_when_validated_against_its_crd_then_has_no_errors(path: Path, doc: dict[str, Any]) -> None:
    assert validation_errors(doc) == [], path


def test_raycluster_when_a_field_has_the_wrong_type_then_validation_fails() -> None:
    broken = yaml.safe_load(yaml.safe_dump(_one("RayCluster")))
    broken["spec"]["workerGroupSpecs"][0]["minReplicas"] = "1"
    broken["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0
    errors = validation_errors(broken)
    assert any("minReplicas" in e for e in errors) and any("num-cpus" in e for e in errors)


def test_rayjob_when_a_field_is_misspelled_then_strict_validation_fails() -> None:
    broken = yaml.safe_load(yaml.safe_dump(_one("RayJob")))
    broken["spec"]["entrypointResource"] = broken["spec"].pop("entrypointResources")
    assert any("entrypointResource" in e for e in validation_errors(broken))


def test_raycluster_when_compared_with_placement_then_groups_and_resources_agree() -> None:
    spec = _one("RayCluster")["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {g.name for g in placement.WORKER_GROUPS}
    for wanted in placement.WORKER_GROUPS:
        group = groups[wanted.name]
        assert _ray_resources(group) == {wanted.resource: wanted.units_per_node}
        assert (group["minReplicas"], group["maxReplicas"]) == (wanted.min_nodes, wanted.max_nodes)
    assert groups[placement.CORE_GROUP]["replicas"] == 1
    assert groups[placement.TRAIN_GROUP]["minReplicas"] == 0


def test_raycluster_head_when_started_then_takes_no_work_and_serves_dashboard_on_all_interfaces() -> None:
    head = _one("RayCluster")["spec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert _ray_resources(head) == {}
    ports = {p["name"]: p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
    assert ports["dashboard"] == 8265 and ports["metrics"] == 8080 and ports["control-api"] == 8180


def test_every_ray_container_when_listing_ports_then_metrics_is_8080_and_nothing_else_uses_it() -> None:
    spec = _one("RayCluster")["spec"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    for group in groups:
        assert group["rayStartParams"]["metrics-export-port"] == "8080"
        for container in group["template"]["spec"]["containers"]:
            ports = container["ports"]
            assert [p["name"] for p in ports if p["containerPort"] == 8080] == ["metrics"]


def test_manifests_when_needing_secrets_then_reference_them_by_name_and_never_inline() -> None:
    text = "\n".join(p.read_text() for p in (K8S / "base").glob("*.yaml"))
    refs = {(d["valueFrom"]["secretKeyRef"]["name"]) for d in _env_entries(_one("RayCluster")) if "valueFrom" in d}
    assert refs == {"trading-alpaca", "trading-database", "trading-control-api"}
    assert all(e.get("value") is None or "secret" not in e["name"].lower() for e in _env_entries(_one("RayCluster")))
    assert "kind: Secret" not in text


def _env_entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]
    return [
        env for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
        for c in group["template"]["spec"]["containers"] for env in c.get("env", [])
    ]


def test_retrain_jobs_when_submitted_then_target_the_running_cluster_and_a_train_node() -> None:
    rayjob = _one("RayJob")["spec"]
    assert rayjob["clusterSelector"] == {"ray.io/cluster": _one("RayCluster")["metadata"]["name"]}
    assert json.loads(rayjob["entrypointResources"]) == placement.train_task_resources()
    cronjob = _one("CronJob")["spec"]
    [container] = cronjob["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["args"])
    assert "ray job submit --address http://trading-head-svc:8265" in command
    assert command.rstrip().endswith("-- python -m models.train")
    assert _one("RayCronJob")["spec"]["schedule"] == cronjob["schedule"]


def test_podmonitor_when_scraping_then_uses_metrics_port_and_the_relabel_regex_from_cluster_metrics() -> None:
    monitor = _one("PodMonitor")["spec"]
    [main] = [e for e in monitor["podMetricsEndpoints"] if e["port"] == "metrics"]
    [rule] = main["metricRelabelings"]
    assert (rule["sourceLabels"], rule["regex"], rule["targetLabel"], rule["replacement"]) == (
        ["__name__"], RELABEL_REGEX, "__name__", "$1")


def _kustomization_entries(folder: Path) -> list[str]:
    doc = yaml.safe_load((folder / "kustomization.yaml").read_text())
    return [*doc.get("resources", []), *doc.get("components", [])]


@pytest.mark.parametrize("folder", [K8S, K8S / "base", K8S / "components" / "raycronjob", K8S / "overlays" / "raycronjob"])
def test_kustomization_when_listing_resources_then_every_entry_exists(folder: Path) -> None:
    entries = _kustomization_entries(folder)
    assert entries
    for entry in entries:
        target = (folder / entry).resolve()
        assert target.is_file() or (target / "kustomization.yaml").is_file(), f"{folder}: {entry}"


def test_base_kustomization_when_listing_files_then_covers_every_manifest_in_base() -> None:
    listed = set(_kustomization_entries(K8S / "base"))
    present = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert "secrets.example.yaml" not in listed


@pytest.mark.parametrize(("overlay", "kinds"), [
    ("", {"CronJob"}),
    ("overlays/raycronjob", {"RayCronJob"}),
])
def test_kustomize_build_when_run_then_renders_exactly_one_retrain_schedule(
    overlay: str, kinds: set[str], run: Callable
) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not on PATH; `kubectl kustomize` renders the overlays")
    result = run(kubectl, "kustomize", K8S / overlay)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert {d["kind"] for d in docs} & {"CronJob", "RayCronJob"} == kinds
    assert all(d["metadata"].get("namespace") == "trading" for d in docs if d["kind"] != "Namespace")
    for doc in docs:
        if doc["kind"] in CRD_FILES:
            assert validation_errors(doc) == [], doc["kind"]
