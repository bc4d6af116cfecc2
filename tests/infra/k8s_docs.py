"""Rendering and validating the Kubernetes manifests offline: kustomize, KubeRay CRDs, core schemas.

KubeRay kinds are checked against the CRDs vendored in infra/k8s/schemas (strict: unknown fields
fail, see its README). Core kinds are checked against the Kubernetes 1.30 JSON schemas vendored in
infra/k8s/schemas/core-v1.30-strict (strict as well). The Prometheus Operator kinds are external
CRDs and only get a structural check.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "infra" / "k8s"
CORE_SCHEMAS = K8S / "schemas" / "core-v1.30-strict"
CRD_FILES = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml", "RayCronJob": "ray.io_raycronjobs.yaml"}
OVERLAYS = {"default": K8S, "trial": K8S / "overlays" / "trial", "raycronjob": K8S / "overlays" / "raycronjob"}
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
def _kuberay_validator(kind: str) -> Draft7Validator:
    crd = yaml.load((K8S / "schemas" / CRD_FILES[kind]).read_text(), Loader=_LOADER)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1" and v["served"])
    return Draft7Validator(_to_json_schema(version["schema"]["openAPIV3Schema"], strict=True))


def _drop_nulls(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_nulls(v) for v in x]
    return x


def kuberay_errors(doc: dict[str, Any]) -> list[str]:
    assert doc["apiVersion"] == "ray.io/v1", doc["apiVersion"]
    errors = _kuberay_validator(doc["kind"]).iter_errors(_drop_nulls(doc))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


@cache
def _core_validator(kind: str, api_version: str) -> Draft202012Validator:
    group, _, version = api_version.rpartition("/")
    name = f"{kind.lower()}-{group.split('.')[0]}-{version}" if group else f"{kind.lower()}-{version}"
    path = CORE_SCHEMAS / f"{name}.json"
    assert path.is_file(), f"no vendored schema for {api_version} {kind}: add {path.name} (see its README)"
    definitions = json.loads((CORE_SCHEMAS / "_definitions.json").read_text())
    registry: Registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    return Draft202012Validator(json.loads(path.read_text()), registry=registry)


def core_errors(doc: dict[str, Any]) -> list[str]:
    errors = _core_validator(doc["kind"], doc["apiVersion"]).iter_errors(_drop_nulls(doc))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def prometheus_operator_errors(doc: dict[str, Any]) -> list[str]:
    """Structural check of the external monitoring.coreos.com kinds (their CRDs are not vendored)."""
    spec = doc.get("spec") or {}
    if doc["apiVersion"] != "monitoring.coreos.com/v1":
        return [f"apiVersion {doc['apiVersion']}"]
    if doc["kind"] == "PodMonitor":
        ok = isinstance(spec.get("selector"), dict) and all("port" in e for e in spec.get("podMetricsEndpoints", [None]))
        return [] if ok else ["PodMonitor needs selector and podMetricsEndpoints[].port"]
    if doc["kind"] == "PrometheusRule":
        groups = spec.get("groups") or []
        ok = bool(groups) and all(g.get("name") and all("expr" in r for r in g.get("rules", [])) for g in groups)
        return [] if ok else ["PrometheusRule needs groups[].name and rules[].expr"]
    return [f"unknown kind {doc['kind']}"]


def validation_errors(doc: dict[str, Any]) -> list[str]:
    if doc["kind"] in CRD_FILES:
        return kuberay_errors(doc)
    if doc["apiVersion"].startswith("monitoring.coreos.com/"):
        return prometheus_operator_errors(doc)
    return core_errors(doc)


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def render(folder: Path) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize <folder>` as parsed documents (kubectl must be on PATH)."""
    exe = kubectl()
    assert exe is not None
    result = subprocess.run([exe, "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def source_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def one(docs: tuple[dict[str, Any], ...] | list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"].get("name") == name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def ray_resources(group: dict[str, Any]) -> dict[str, float]:
    """KubeRay pastes the value into `ray start --resources=<value>` in a shell, so unquote like a shell."""
    raw = group["rayStartParams"].get("resources")
    return json.loads(shlex.split(raw)[0]) if raw else {}


def ray_groups(raycluster: dict[str, Any]) -> list[dict[str, Any]]:
    spec = raycluster["spec"]
    return [spec["headGroupSpec"], *spec["workerGroupSpecs"]]


def containers(raycluster: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for g in ray_groups(raycluster) for c in g["template"]["spec"]["containers"]]
