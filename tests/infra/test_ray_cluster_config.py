"""ray_cluster.yaml: valid for Ray's own schema and prepare/validate, never on 6379, roles match placement."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml

from cluster import placement


def _config(repo_root: Path) -> dict[str, Any]:
    return yaml.safe_load((repo_root / "ray_cluster.yaml").read_text())


def _ray_schema() -> dict[str, Any]:
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def _ray_prepare_and_validate(config: dict[str, Any]) -> dict[str, Any]:
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def test_ray_cluster_config_when_checked_against_rays_schema_then_valid(repo_root: Path) -> None:
    jsonschema.validate(_config(repo_root), _ray_schema())


def test_ray_cluster_config_when_prepared_by_ray_then_validates_with_all_workers(repo_root: Path) -> None:
    prepared = _ray_prepare_and_validate(_config(repo_root))
    [node_type] = prepared["available_node_types"].values()
    assert node_type["min_workers"] == node_type["max_workers"] == len(prepared["provider"]["worker_ips"])


def test_ray_cluster_config_when_an_unknown_key_is_added_then_schema_and_ray_reject_it(repo_root: Path) -> None:
    broken = {**_config(repo_root), "zmq_port": 5555}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, _ray_schema())
    with pytest.raises((jsonschema.ValidationError, click.ClickException, ValueError)):
        _ray_prepare_and_validate(broken)


def test_ray_cluster_config_when_starting_gcs_then_never_uses_port_6379(repo_root: Path) -> None:
    text = (repo_root / "ray_cluster.yaml").read_text()
    head = " ".join(_config(repo_root)["head_start_ray_commands"])
    assert "--port=6380" in head
    assert "6379" not in text


def test_ray_cluster_config_when_starting_nodes_then_head_takes_no_work_and_exports_metrics_on_8080(repo_root: Path) -> None:
    config = _config(repo_root)
    head = " ".join(config["head_start_ray_commands"])
    workers = " ".join(config["worker_start_ray_commands"])
    assert "--num-cpus=0" in head and "--dashboard-host=0.0.0.0" in head
    assert "--metrics-export-port=8080" in head and "--metrics-export-port=8080" in workers
    assert "ray stop" not in head + workers


def test_ray_cluster_config_when_assigning_roles_then_offers_exactly_the_placement_resources(repo_root: Path) -> None:
    workers = " ".join(_config(repo_root)["worker_start_ray_commands"])
    offered = [json.loads(raw) for raw in re.findall(r"RES='(\{[^']*\})'", workers)]
    expected = [{g.resource: g.units_per_node} for g in placement.WORKER_GROUPS]
    assert sorted(offered, key=str) == sorted(expected, key=str)


def test_ray_cluster_config_when_listing_ips_then_uses_documentation_addresses_only(repo_root: Path) -> None:
    provider = _config(repo_root)["provider"]
    assert all(ip.startswith("192.0.2.") for ip in [provider["head_ip"], *provider["worker_ips"]])


def test_dockerfile_when_read_then_builds_from_python_312_slim_with_the_clusters_ray_version(repo_root: Path) -> None:
    dockerfile = (repo_root / "Dockerfile").read_text()
    raycluster = yaml.safe_load((repo_root / "infra/k8s/base/raycluster.yaml").read_text())
    assert re.search(r"^FROM python:3\.12-slim\b", dockerfile, re.MULTILINE)
    assert f'ray[default]=={raycluster["spec"]["rayVersion"]}' in dockerfile
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE):
        if copied not in {"pyproject.toml"}:
            assert (repo_root / copied).exists(), copied
