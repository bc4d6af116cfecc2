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

from cluster.foundation.runtime import placement


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


def test_ray_cluster_config_when_starting_nodes_then_head_offers_only_the_supervisor_resource_and_exports_metrics(
    repo_root: Path,
) -> None:
    config = _config(repo_root)
    head = " ".join(config["head_start_ray_commands"])
    workers = " ".join(config["worker_start_ray_commands"])
    [raw] = re.findall(r"--resources='(\{[^']*\})'", head)
    assert json.loads(raw) == {placement.HEAD_NODE.resource: placement.HEAD_NODE.units_per_node}
    assert "--num-cpus=1" in head and "--dashboard-host=0.0.0.0" in head
    assert "--metrics-export-port=8080" in head and "--metrics-export-port=8080" in workers
    assert "ray stop" not in head + workers


def test_ray_cluster_config_when_dashboard_leaves_loopback_then_every_node_starts_with_token_auth(repo_root: Path) -> None:
    config = _config(repo_root)
    for command in [*config["head_start_ray_commands"], *config["worker_start_ray_commands"]]:
        assert "RAY_AUTH_MODE=token" in command and "RAY_AUTH_TOKEN_PATH=$HOME/trading/ray_auth_token" in command
    assert config["file_mounts"] == {"~/trading": "./var/deploy"}
    assert "chmod 600 ~/trading/ray_auth_token ~/trading/trading.env" in " ".join(config["setup_commands"])


def test_ray_cluster_config_when_installing_then_uses_the_shipped_wheel_with_constraints_and_checks_python(
    repo_root: Path,
) -> None:
    setup = " ".join(_config(repo_root)["setup_commands"])
    assert "pip install -q -c ~/trading/constraints.txt ~/trading/trading_cluster-*.whl" in setup
    assert "sys.version_info < (3, 12)" in setup
    assert "git+" not in setup and "python3.12 -m venv" not in setup


def test_ray_cluster_config_when_the_head_is_up_then_starts_the_detached_trading_driver(repo_root: Path) -> None:
    config = _config(repo_root)
    driver = config["head_start_ray_commands"][-1]
    assert "ray start" in config["head_start_ray_commands"][0]
    assert ". ~/trading/trading.env" in driver
    assert "trading-cluster run --detach --address auto" in driver


def test_vm_env_example_when_loaded_as_settings_then_every_key_is_valid_and_the_api_needs_its_token(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cluster.foundation.domain.settings import Settings, load_settings

    lines = (repo_root / "infra" / "vm" / "trading.env.example").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    # nested typos fail in load_settings (extra="forbid"); a wrong top-level name would be ignored
    assert {k.removeprefix("TRADING_").split("__")[0].lower() for k in env} <= set(Settings.model_fields)
    for key, value in env.items():
        monkeypatch.setenv(key, value.strip("'"))
    tree = load_settings()
    assert (tree.ray.address, tree.ray.auth_mode, tree.control_api.host) == ("auto", "token", "0.0.0.0")
    assert tree.resolve(tree.signal.model_dir).is_absolute() and tree.resolve(tree.state_dir).is_absolute()


def test_ray_cluster_config_when_assigning_roles_then_offers_exactly_the_placement_resources(repo_root: Path) -> None:
    workers = " ".join(_config(repo_root)["worker_start_ray_commands"])
    offered = [json.loads(raw) for raw in re.findall(r"RES='(\{[^']*\})'", workers)]
    expected = [{g.resource: g.units_per_node} for g in placement.WORKER_GROUPS]
    assert sorted(offered, key=str) == sorted(expected, key=str)


def test_ray_cluster_config_when_listing_ips_then_uses_documentation_addresses_only(repo_root: Path) -> None:
    provider = _config(repo_root)["provider"]
    assert all(ip.startswith("192.0.2.") for ip in [provider["head_ip"], *provider["worker_ips"]])


def test_ray_cluster_config_when_parsed_by_bash_then_every_command_is_valid_shell(repo_root: Path) -> None:
    import shutil
    import subprocess

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not on PATH")
    config = _config(repo_root)
    keys = ("setup_commands", "head_setup_commands", "worker_setup_commands", "head_start_ray_commands",
            "worker_start_ray_commands")
    for command in (c for key in keys for c in config[key]):
        checked = subprocess.run([bash, "-n", "-c", command], capture_output=True, text=True, timeout=10, check=False)
        assert checked.returncode == 0, (command, checked.stderr)
    assert subprocess.run([bash, "-n", "-c", "case x in"], capture_output=True, timeout=10, check=False).returncode != 0
