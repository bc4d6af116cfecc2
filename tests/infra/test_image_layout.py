"""The image, checked without a container engine: build context, stages, pins, entrypoint, state paths.

No Docker engine runs where these tests run, so the image is not built here; these tests check what
the Dockerfile would build from and install. tests/infra/test_wheel.py builds and runs the wheel the
image installs.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import json
import re
import shlex
import subprocess
import tomllib
from functools import cache

import pytest
import yaml

from tests.infra.k8s_docs import K8S, REPO_ROOT, one, source_docs

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def _args(instruction: str) -> list[str]:
    return [a for i, a in _instructions() if i == instruction]


@cache
def _context_files() -> frozenset[str]:
    """Tracked files that .dockerignore lets into the build context."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout
    patterns = [p.strip() for p in (REPO_ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        for pattern in patterns:
            if pattern.startswith("**/"):
                if any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts):
                    return True
            elif any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
                return True
        return False

    return frozenset(p for p in filter(None, listed.split("\0")) if (REPO_ROOT / p).is_file() and not ignored(p))


def _shipped_patterns() -> tuple[str, ...]:
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    [value] = [n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "SHIPPED"]
    return ast.literal_eval(value)


def test_dockerfile_when_read_then_both_stages_start_from_the_python_the_project_requires() -> None:
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    stages = _args("FROM")
    assert [s.split()[0] for s in stages] == ["python:3.12-slim", "python:3.12-slim"]
    assert requires == ">=3.12"


def test_build_context_when_filtered_by_dockerignore_then_holds_everything_the_wheel_stage_needs() -> None:
    context = _context_files()
    assert {"pyproject.toml", "setup.py", "README.md", "MANIFEST.in", "constraints.txt"} <= context
    for pattern in _shipped_patterns():
        assert any(fnmatch.fnmatchcase(name, pattern) for name in context), pattern
    for package in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert f"{package.rstrip('*')}/__init__.py" in context, package
    assert not any(name.startswith(("tests/", ".venv/", "var/", ".git/")) for name in context)
    assert ". ." in _args("COPY")  # the wheel stage takes the whole (filtered) context


def test_dockerfile_when_installing_then_pins_dependencies_with_constraints_and_rays_version_matches_the_cluster() -> None:
    runs = " ".join(_args("RUN"))
    assert re.search(r"pip install -c \S*constraints\.txt -r ", runs)
    assert re.search(r"pip install --no-deps \S*trading_cluster-\*\.whl", runs)
    pins = dict(line.split("==", 1) for line in (REPO_ROOT / "constraints.txt").read_text().split() if "==" in line)
    cluster = one(source_docs(K8S / "base" / "raycluster.yaml"), "RayCluster")
    assert pins["ray"] == cluster["spec"]["rayVersion"]


def test_image_entrypoint_when_resolved_then_tini_is_installed_and_the_cli_script_exists() -> None:
    [entrypoint] = _args("ENTRYPOINT")
    program, *rest = json.loads(entrypoint)
    assert program == "tini" and "tini" in shlex.split(" ".join(_args("RUN")))
    script = rest[rest.index("--") + 1]
    target = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"][script]
    module, _, func = target.partition(":")
    assert callable(getattr(importlib.import_module(module), func))
    assert f"{script} --help" in " ".join(_args("RUN"))  # the build runs the installed script once


@pytest.mark.parametrize("key", ["TRADING_STATE_DIR", "TRADING_SIGNAL__MODEL_DIR"])
def test_image_state_paths_when_set_then_lie_under_the_shared_mount_owned_by_the_runtime_user(key: str) -> None:
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(_args("ENV"))))
    settings = one(source_docs(K8S / "base" / "settings-configmap.yaml"), "ConfigMap")["data"]
    assert env[key] == settings[key]
    mounts = {m["mountPath"] for m in yaml.safe_load((K8S / "base" / "raycluster.yaml").read_text())["spec"]
              ["headGroupSpec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    [mount] = mounts
    assert env[key].startswith(mount + "/")
    assert f"chown ray:ray {mount}" in " ".join(_args("RUN"))
    assert _args("USER") == ["ray"]
