"""docs/operations.md as written: the paths, Secrets, make target and object count it names are real."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.infra.k8s_docs import K8S, OVERLAYS, REPO_ROOT, kubectl, render, source_docs

DOC = (REPO_ROOT / "docs" / "operations.md").read_text()


def test_operations_doc_when_naming_repository_paths_then_each_exists() -> None:
    paths = set(re.findall(r"`((?:infra|docs|config|cluster|tests|data)/[\w./-]+)`", DOC)) - {"cluster/_shipped/"}  # in the wheel
    assert paths
    assert sorted(p for p in paths if not (REPO_ROOT / p).exists()) == []


def test_operations_doc_when_creating_secrets_then_creates_exactly_the_documented_ones() -> None:
    created = set(re.findall(r"kubectl -n trading create secret generic ([\w-]+)", DOC))
    assert created == {d["metadata"]["name"] for d in source_docs(K8S / "secrets.example.yaml")}


def test_operations_doc_when_building_the_image_then_make_prints_the_documented_command() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make not on PATH")
    documented = re.search(r"make image IMAGE=(\S+) TAG=(\S+)", DOC)
    assert documented is not None
    printed = subprocess.run([make, "-s", "-n", "image", f"IMAGE={documented[1]}", f"TAG={documented[2]}"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    assert printed == f"docker build -t {documented[1]}:{documented[2]} ."
    assert f"`{printed}`" in DOC and f"docker push {documented[1]}:{documented[2]}" in DOC


@pytest.mark.skipif(kubectl() is None, reason="kubectl not on PATH")
def test_operations_doc_when_counting_what_apply_creates_then_matches_the_rendering() -> None:
    count = re.search(r"The default rendering has (\d+) objects", DOC)
    assert count is not None and int(count[1]) == len(render(OVERLAYS["default"]))
    for doc in render(OVERLAYS["default"]):
        if doc["kind"] != "NetworkPolicy":
            assert f"`{doc['metadata']['name']}`" in DOC, doc["metadata"]["name"]
