"""Every module of the project imports: a renamed or moved name breaks this test, not a user's run."""

import importlib
import pkgutil

import pytest

PACKAGES = ("cluster", "actors", "models", "alpaca_sim")


def _modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        module = importlib.import_module(pkg)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, pkg + ".") if not m.name.endswith("__main__")]
    return names


@pytest.mark.parametrize("name", _modules())
def test_module_when_imported_then_no_error(name):
    importlib.import_module(name)
