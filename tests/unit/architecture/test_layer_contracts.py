"""The layer contracts in pyproject.toml ([tool.importlinter]) hold for the tree and fire when broken.

Each rule is shown to fire on a throw-away copy of the package skeleton: every module the contracts
name exists (empty), the real contracts are checked against it with `lint-imports`, and one import is
added that breaks one rule. The skeleton without that import passes, so a failure is the rule's.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYER_SEPARATOR = re.compile(r"[:|]")


def _config() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        config: dict[str, Any] = tomllib.load(fh)["tool"]["importlinter"]
    return config


def _contract(contract_id: str) -> dict[str, Any]:
    return next(c for c in _config()["contracts"] if c["id"] == contract_id)


def _layers(contract_id: str = "layers") -> list[set[str]]:
    return [{name.strip() for name in LAYER_SEPARATOR.split(layer)} for layer in _contract(contract_id)["layers"]]


def _write_module(tree: Path, dotted: str, source: str = "") -> None:
    """Create a module and the packages above it; a name that is already a package gets its __init__."""
    parts = dotted.split(".")
    for i in range(1, len(parts)):
        package = tree.joinpath(*parts[:i])
        package.mkdir(exist_ok=True)
        (package / "__init__.py").touch()
    as_package = tree.joinpath(*parts)
    path = as_package / "__init__.py" if as_package.is_dir() else as_package.with_suffix(".py")
    path.write_text(path.read_text() + source if path.exists() else source)


# The imports of the real tree that the contracts allow, as (module, source), written into the skeleton.
ALLOWED_IMPORTS: tuple[tuple[str, str], ...] = (
    ("cluster.foundation.runtime.ray_calls", "import ray\n"),
    ("cluster.foundation.runtime.bus", "import zmq\nfrom cluster.foundation.domain import wire\n"),
    ("cluster.foundation.storage.db.engine", "import sqlalchemy\n"),
    ("cluster.foundation.storage.state_store", "from cluster.foundation.storage.db import engine\n"),
    ("cluster.foundation.storage.market_files", "from cluster.foundation.domain import errors\n"),
    ("cluster.foundation.storage.repository", "from cluster.foundation.domain import wire\n"),
    ("models.dataset", "from cluster.foundation.storage import market_files\n"),
    ("actors.signal.core", "from models import dataset\nfrom cluster.foundation.domain import wire\n"),
    ("actors.execution.alpaca_rest", "import aiohttp\n"),
    ("actors.risk.actor", "from actors.risk import core\nfrom cluster.foundation.runtime import bus\n"),
    ("cluster.app.supervisor", "from actors.signal import core\nfrom cluster.foundation.runtime import ray_calls\n"),
    ("alpaca_sim.data", "from cluster.foundation.domain import errors\n"),
)


def _skeleton(tree: Path) -> None:
    """Every module the contracts name, plus the imports the real tree has that the contracts allow."""
    for package in ("actors", "models", "alpaca_sim", "cluster", "cluster.foundation.storage.db"):
        (tree.joinpath(*package.split("."))).mkdir(parents=True, exist_ok=True)
        _write_module(tree, package)
    for layer in _layers() + _layers("foundation"):
        for name in layer:
            _write_module(tree, name)
    for name in _contract("cores")["source_modules"]:
        _write_module(tree, name)
    for module, source in ALLOWED_IMPORTS:
        _write_module(tree, module, source)
    (tree / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--config", str(tree / "pyproject.toml")],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=120,
    )


def _broken(result: subprocess.CompletedProcess[str]) -> set[str]:
    """Names of the contracts lint-imports reports as BROKEN."""
    out = " ".join(result.stdout.split())
    return {c["name"] for c in _config()["contracts"] if f"{' '.join(c['name'].split())} BROKEN" in out}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _skeleton(tmp_path)
    return tmp_path


def test_contracts_when_skeleton_has_only_allowed_imports_then_lint_passes(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("cluster.foundation.domain.wire", "actors.signal.core"),  # foundation -> actors
        ("cluster.foundation.domain.errors", "models.labels"),  # foundation -> models
        ("cluster.foundation.runtime.bus", "cluster.app.supervisor"),  # foundation -> application
        ("models.labels", "actors.signal.core"),  # models -> actors
        ("models.labels", "cluster.app.cli"),  # models -> application
        ("actors.risk.core", "cluster.app.control_plane"),  # actors -> application
        ("alpaca_sim.data", "actors.signal.core"),  # the simulator and the actors stay independent
    ],
)
def test_layers_when_a_module_imports_upward_then_lint_fails(tree: Path, importer: str, imported: str) -> None:
    _write_module(tree, importer, f"import {imported}\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = _broken(result)
    assert _contract("layers")["name"] in broken
    # an upward import between the two cluster packages is also a cycle (the application imports the foundation),
    # and one from the domain may reach storage or the runtime through the layer it imports
    assert broken <= {_contract("layers")["name"], _contract("acyclic")["name"], _contract("foundation")["name"],
                      _contract("cores")["name"]}


def test_layers_when_the_upward_import_is_inside_a_function_then_lint_still_fails(tree: Path) -> None:
    _write_module(tree, "cluster.foundation.storage.factory", "def later() -> None:\n    from actors.signal import core\n")
    result = _lint(tree)
    assert result.returncode == 1
    assert _contract("layers")["name"] in _broken(result)


def test_acyclic_when_two_actor_packages_import_each_other_then_lint_fails(tree: Path) -> None:
    _write_module(tree, "actors.risk.core", "from actors.signal import core\n")
    _write_module(tree, "actors.signal.strategy", "from actors.risk import core\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _broken(result) == {_contract("acyclic")["name"]}


def test_acyclic_when_two_models_modules_import_each_other_then_lint_fails(tree: Path) -> None:
    _write_module(tree, "models.registry", "from models import train\n")
    _write_module(tree, "models.train", "def register() -> None:\n    from models import registry\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _broken(result) == {_contract("acyclic")["name"]}


def test_acyclic_when_two_foundation_modules_import_each_other_then_lint_fails(tree: Path) -> None:
    _write_module(tree, "cluster.foundation.domain.wire", "from cluster.foundation.domain import orders\n")
    _write_module(tree, "cluster.foundation.domain.orders", "from cluster.foundation.domain import wire\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _broken(result) == {_contract("acyclic")["name"]}


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("cluster.foundation.runtime.metrics", "def recorder() -> None:\n    from ray.util import metrics\n"),
        ("models.jobs", "from ray.job_submission import JobSubmissionClient\n"),
        ("actors.signal.core", "import ray\n"),
        ("cluster.app.supervisor", "import ray._private.state\n"),
    ],
)
def test_ray_when_imported_outside_the_ray_call_module_then_lint_fails(tree: Path, module: str, source: str) -> None:
    _write_module(tree, module, source)
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = _broken(result)
    assert _contract("ray")["name"] in broken
    assert broken <= {_contract("ray")["name"], _contract("cores")["name"]}  # a pure core importing Ray breaks both


def test_contracts_when_checked_on_the_real_tree_then_all_are_kept() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_layers_when_listing_cluster_then_it_holds_only_the_two_layer_packages() -> None:
    """cluster/ is the foundation and the application, each a package in one layer: no module sits
    beside them, so a new module cannot escape the contract by its place."""
    layered = {name for layer in _layers() for name in layer if name.startswith("cluster.")}
    modules = {p.stem for p in (ROOT / "cluster").glob("*.py") if p.stem != "__init__"}
    packages = {f"cluster.{p.name}" for p in (ROOT / "cluster").iterdir() if (p / "__init__.py").exists()}
    assert modules == set()
    assert packages == layered == {"cluster.foundation", "cluster.app"}


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("cluster.foundation.storage.repository", "cluster.foundation.runtime.bus"),  # storage -> the bus
        ("cluster.foundation.storage.state_store", "cluster.foundation.runtime.ray_calls"),  # storage -> Ray
        ("cluster.foundation.runtime.actor_base", "cluster.foundation.storage.repository"),  # runtime -> storage
        ("cluster.foundation.domain.wire", "cluster.foundation.runtime.bus"),  # the domain -> I/O
        ("cluster.foundation.domain.settings", "cluster.foundation.storage.db"),
    ],
)
def test_foundation_when_a_sub_layer_imports_across_or_upward_then_lint_fails(
        tree: Path, importer: str, imported: str) -> None:
    _write_module(tree, importer, f"import {imported}\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = _broken(result)
    assert _contract("foundation")["name"] in broken
    # a domain module reaching I/O also takes it into every pure core that imports the domain
    assert broken <= {_contract("foundation")["name"], _contract("acyclic")["name"], _contract("cores")["name"]}


def test_foundation_when_listing_it_then_it_holds_only_the_three_sub_layer_packages() -> None:
    """cluster/foundation is the domain, storage and the runtime: a module put beside them would escape
    the foundation contract."""
    layered = {name for layer in _layers("foundation") for name in layer}
    base = ROOT / "cluster" / "foundation"
    modules = {p.stem for p in base.glob("*.py") if p.stem != "__init__"}
    packages = {f"cluster.foundation.{p.name}" for p in base.iterdir() if (p / "__init__.py").exists()}
    assert modules == set()
    assert packages == layered == {"cluster.foundation.domain", "cluster.foundation.storage", "cluster.foundation.runtime"}


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("actors.risk.core", "import zmq\n"),  # a socket in the risk core
        ("actors.execution.core", "from cluster.foundation.storage.db import engine\n"),  # the database itself
        ("actors.execution.order_fsm", "def later() -> None:\n    import aiohttp\n"),  # HTTP, inside a function
        ("actors.signal.core", "from cluster.foundation.runtime import bus\n"),  # the bus
        ("actors.risk.rules", "from actors.risk import actor\n"),  # the shell, and through it the bus
    ],
)
def test_cores_when_a_pure_core_reaches_io_then_lint_fails(tree: Path, module: str, source: str) -> None:
    _write_module(tree, module, source)
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _contract("cores")["name"] in _broken(result)
    assert _broken(result) <= {_contract("cores")["name"], _contract("acyclic")["name"]}
