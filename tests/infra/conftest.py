"""Shared fixtures for the infrastructure tests: repository paths and external tools.

promtool and amtool come from the Debian packages `prometheus` and `prometheus-alertmanager`.
When CI=true a missing tool fails the test (CI must install it); elsewhere the test is skipped
with the reason, so a laptop without the packages can still run the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
OUR_METRIC_PATTERN = re.compile(r"\b(?:trading_[a-z0-9_]+|alpaca_[a-z0-9_]+|circuit_breaker_status|postgresql_up)\b")


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found on PATH (install the Debian package `{package}`)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def promtool() -> str:
    return _tool("promtool", "prometheus")


@pytest.fixture(scope="session")
def amtool() -> str:
    return _tool("amtool", "prometheus-alertmanager")


@pytest.fixture(scope="session")
def run() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a command with a timeout and captured text output (never raises on a non-zero exit)."""

    def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)

    return _run


@pytest.fixture(scope="session")
def our_metric_names_in() -> Callable[[str], set[str]]:
    """Names of our own series (trading_*, alpaca_*, the seed gauges) used in a PromQL expression."""

    def _names(expr: str) -> set[str]:
        return set(OUR_METRIC_PATTERN.findall(expr))

    return _names
