"""Packaging hook: the wheel carries the files the code reads at run time, under cluster/_shipped/.

pyproject.toml holds the metadata. Package data can only come from inside a package, and the
configuration, the real market data and the Alembic migrations live at the top of the repository,
so `build_py` copies them into `cluster/_shipped/` of the build tree. An installed wheel then finds
them there (cluster.foundation.domain.settings.REPO_ROOT); an editable install reads the checkout itself, so nothing is
copied for it. A file listed here that is missing stops the build instead of shipping an incomplete
wheel.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED_DIR = "cluster/_shipped"
# Globs relative to the repository root; each must match at least one file.
SHIPPED = (
    "config/default.toml",
    "config/risk_limits.toml",
    "data/*.csv",
    "data/README.md",
    "data/NOTICE",
    "alembic.ini",
    "alembic/env.py",
    "alembic/script.py.mako",
    "alembic/versions/*.py",
)


def shipped_files(root: Path = HERE) -> list[Path]:
    files: list[Path] = []
    for pattern in SHIPPED:
        matched = sorted(p for p in root.glob(pattern) if p.is_file())
        if not matched:
            raise SystemExit(f"cannot build trading-cluster: {pattern} matches no file under {root}")
        files.extend(matched)
    return files


class BuildPyWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / SHIPPED_DIR
        for source in shipped_files():
            dest = target / source.relative_to(HERE)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / SHIPPED_DIR
            outputs += [str(target / p.relative_to(HERE)) for p in shipped_files()]
        return outputs


setup(cmdclass={"build_py": BuildPyWithShippedFiles})
