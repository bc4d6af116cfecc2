"""What an actor process loads: heavy libraries only where they are used.

Each check runs in a fresh interpreter (a subprocess), because this test process has imported
everything already. An actor's module, and the storage an actor opens, must not pull in Alembic (schema
migrations run in the supervisor), psycopg2 (a SQLite URL), pandas, scikit-learn, SciPy, XGBoost,
pandas-ta or the API server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("alembic", "psycopg2", "pandas", "sklearn", "scipy", "xgboost", "pandas_ta", "fastapi", "uvicorn",
         "backtrader", "ray")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return {name.split(".")[0] for name in json.loads(out.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize("module", ["actors.market_data.actor", "actors.signal.actor", "actors.risk.actor",
                                    "actors.execution.actor"])
def test_actor_module_when_imported_then_no_heavy_library_is_loaded(module: str) -> None:
    loaded = _loaded_after(f"import {module}")
    assert module.split(".")[0] in loaded  # the probe did import it
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_sql_repository_when_opened_on_sqlite_then_neither_alembic_nor_psycopg2_is_loaded(tmp_path: Path) -> None:
    code = (
        "from cluster.foundation.storage.db import SqlRepository\n"
        f"repo = SqlRepository('sqlite:///{tmp_path}/t.db', __import__('pathlib').Path('{tmp_path}/j'), __import__('cluster.foundation.storage.db', fromlist=['WriterOptions']).WriterOptions(queue_max=10))\n"
        "repo.close()"
    )
    loaded = _loaded_after(code)
    assert "sqlalchemy" in loaded
    assert loaded.isdisjoint({"alembic", "psycopg2"}), sorted(loaded & {"alembic", "psycopg2"})


def test_db_package_when_a_name_is_asked_for_then_it_is_loaded_on_demand() -> None:
    loaded = _loaded_after("import cluster.foundation.storage.db as db\nassert callable(db.upgrade)")
    assert "alembic" in loaded
    with pytest.raises(AttributeError):
        import cluster.foundation.storage.db as db

        db.no_such_name  # noqa: B018
