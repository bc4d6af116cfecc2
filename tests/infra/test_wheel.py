"""The wheel is the deployable artifact: it carries the config, the shipped data and the migrations,
and an installation outside the repository trades on them, or says which file is missing.

The wheel is built from a copy of the tracked files (a stale build/ cannot leak into it) and installed
with --no-deps into a fresh virtual environment under the temporary directory; the project venv's
site-packages are added with a .pth file, so the dependencies are not installed again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from models.dataset import PRESETS
from tests.infra.k8s_docs import REPO_ROOT

SHIPPED = "cluster/_shipped"


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout to copy the tracked files from")
    source = tmp_path_factory.mktemp("source")
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO_ROOT).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, source, cwd=source, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    [whl] = out.glob("trading_cluster-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    assert REPO_ROOT not in root.parents
    made = _run(sys.executable, "-m", "venv", "--without-pip", root, cwd=root)
    assert made.returncode == 0, made.stderr
    python = root / "bin" / "python"
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout.strip()
    Path(purelib, "_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel, cwd=root)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root


def _site_packages(venv: Path) -> Path:
    [path] = venv.glob("lib/python3*/site-packages")
    return path


def _replay_env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADING_", "PYTHON", "RAY_ADDRESS"))}
    env.update({
        "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "TRADING_STATE_DIR": str(state),
        "TRADING_RAY__INCLUDE_DASHBOARD": "false", "TRADING_RAY__NUM_CPUS": "2", "TRADING_METRICS__PORT": "0",
    })
    return env


def _replay(venv: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(venv / "bin" / "trading-cluster", "replay", "--json", "--start", "2013-10-07", "--end", "2013-10-07",
                cwd=cwd, env=_replay_env(cwd / "state"))


def test_wheel_when_listed_then_carries_the_config_the_data_it_reads_and_every_migration(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    config = tomllib.loads((REPO_ROOT / "config" / "default.toml").read_text())
    wanted = {"config/default.toml", "config/risk_limits.toml", "alembic.ini", "alembic/env.py", "data/NOTICE",
              *config["market_data"]["files"], *(f for files in PRESETS.values() for f in files),
              *(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "alembic" / "versions").glob("*.py"))}
    assert {f"{SHIPPED}/{name}" for name in wanted} - names == set()
    assert "trading_cluster-0.1.0.dist-info/entry_points.txt" in names
    assert not any(n.startswith(("tests/", "bench/", "var/")) or "/var/" in n for n in names)


@pytest.mark.own_cluster
def test_installed_wheel_when_replaying_outside_the_repository_then_trades_on_the_packaged_data(
    venv: Path, tmp_path: Path
) -> None:
    root = _run(venv / "bin" / "python", "-c", "import cluster.foundation.domain.settings as s; print(s.REPO_ROOT)", cwd=tmp_path)
    assert Path(root.stdout.strip()) == _site_packages(venv) / SHIPPED, root.stderr
    result = _replay(venv, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["bars"] > 0 and summary["orders"] > 0 and summary["data_errors"] == 0
    assert list((tmp_path / "state" / "runs").glob("*/trading.db"))


@pytest.mark.own_cluster
def test_installed_wheel_when_a_data_file_is_missing_then_replay_fails_naming_it(venv: Path, tmp_path: Path) -> None:
    data = _site_packages(venv) / SHIPPED / "data" / "us_equity_minute_quote_bars.csv"
    data.rename(tmp_path / data.name)
    try:
        result = _replay(venv, tmp_path)
    finally:
        (tmp_path / data.name).rename(data)
    assert result.returncode != 0
    assert str(data) in result.stderr


def test_installed_wheel_when_default_toml_is_missing_then_refuses_to_load_settings(venv: Path, tmp_path: Path) -> None:
    default = _site_packages(venv) / SHIPPED / "config" / "default.toml"
    default.rename(tmp_path / "default.toml")
    script = "from cluster.foundation.domain.settings import load_settings; print(load_settings().market_data.source)"
    try:
        missing = _run(venv / "bin" / "python", "-c", script, cwd=tmp_path, env=_replay_env(tmp_path))
        explicit = _run(venv / "bin" / "python", "-c", script, cwd=tmp_path,
                        env={**_replay_env(tmp_path), "TRADING_CONFIG_DIR": str(tmp_path)})
    finally:
        (tmp_path / "default.toml").rename(default)
    assert missing.returncode != 0
    assert "ConfigError" in missing.stderr and str(default) in missing.stderr
    assert (explicit.returncode, explicit.stdout.strip()) == (0, "alpaca")  # read from TRADING_CONFIG_DIR


def test_config_dir_when_the_projects_default_toml_is_missing_then_config_error_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cluster.foundation.domain import settings
    from cluster.foundation.domain.errors import ConfigError

    monkeypatch.setattr(settings, "DEFAULT_CONFIG_DIR", tmp_path / "config")
    with pytest.raises(ConfigError, match="default.toml is missing"):
        settings.read_config_dir(None)
    with pytest.raises(ConfigError, match="is not a directory"):
        settings.read_config_dir(str(tmp_path / "nowhere"))
    assert settings.read_config_dir(str(tmp_path)) == {}  # an explicit directory may hold no default.toml


def test_installed_wheel_when_migrating_a_new_database_then_uses_the_shipped_alembic_scripts(venv: Path, tmp_path: Path) -> None:
    env = {**_replay_env(tmp_path / "state"), "TRADING_DATABASE__URL": f"sqlite:///{tmp_path}/trading.db"}
    result = _run(venv / "bin" / "trading-cluster", "db", "upgrade", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "database schema is at head" in result.stdout
    heads = sorted(p.name for p in (REPO_ROOT / "alembic" / "versions").glob("*.py"))
    assert sorted(p.name for p in (_site_packages(venv) / SHIPPED / "alembic" / "versions").glob("*.py")) == heads
    trainer = _run(venv / "bin" / "python", "-m", "models.train", "--help", cwd=tmp_path, env=env)
    assert trainer.returncode == 0 and "--model-dir" in trainer.stdout
