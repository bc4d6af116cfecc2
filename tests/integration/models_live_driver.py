"""Driver process of test_models_live.py: its own local Ray cluster WITH the dashboard (Ray Jobs need it).

    python tests/integration/models_live_driver.py STATE_DIR DASHBOARD_PORT SPEED

Trains and promotes a first model into a registry under STATE_DIR, starts the supervisor with
strategy "model" over one real day paced at SPEED x real time, then answers JSON commands read
from stdin, one per line, with one JSON line on stdout prefixed by REPLY_PREFIX (Ray writes its
own lines to the same streams). Commands: groups, models, retrain, promote, rollback, serve, quit.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
os.environ["RAY_AUTH_MODE"] = "disabled"  # loopback-only test cluster; the token path has unit tests
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # the job's python

from integration_support import cluster_settings  # noqa: E402

from cluster.app import models_control  # noqa: E402
from cluster.app.supervisor import Supervisor  # noqa: E402
from cluster.foundation.domain.errors import TradingError  # noqa: E402
from cluster.foundation.domain.settings import Settings  # noqa: E402
from cluster.foundation.runtime import ray_calls  # noqa: E402
from cluster.foundation.storage.factory import migrate  # noqa: E402
from models.dataset import build_dataset, load_segments, resolve_paths  # noqa: E402
from models.registry import registry_from_settings  # noqa: E402
from models.train import TrainConfig, save_artifact, train_walk_forward  # noqa: E402

REPLY_PREFIX = "@@reply "
TRAIN_ARGS = ["--rounds", "30", "--splits", "2", "--seed", "11", "--nthread", "1"]


def first_model(settings: Settings, state_dir: Path) -> str:
    """Train on the shipped minute bars, register, promote (no live model yet: the gate's baseline)."""
    dataset = build_dataset(load_segments(resolve_paths(["minute"])), horizon=5)
    result = train_walk_forward(dataset, TrainConfig(num_boost_round=30, n_splits=2, nthread=1))
    artifact = save_artifact(result.booster, state_dir / "first")
    registry = registry_from_settings(settings)
    try:
        version = registry.register_candidate(artifact, result.params, dataset.data_range(), result.metrics).version
    finally:
        registry.close()
    models_control.promote(settings, version, "test", "initial model", force=True)
    return version


def groups(settings: Settings, sup: Supervisor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in models_control.signal_actor_names(settings.ray.namespace):
        handle = sup.handles.get(name) or ray_calls.get_actor(name, settings.ray.namespace)
        batches = [sb.batch for sb in ray_calls.call(handle, "signal_history")]
        signals = [s.model_version for sb in ray_calls.call(handle, "signal_history") for s in sb.signals]
        out[name] = {"version": ray_calls.call(handle, "model_version"), "batches": batches,
                     "signal_versions": sorted(set(signals))}
    return out


def handle(command: dict[str, Any], settings: Settings, sup: Supervisor, state_dir: Path) -> Any:
    cmd = command["cmd"]
    if cmd == "groups":
        return groups(settings, sup)
    if cmd == "models":
        return models_control.list_models(settings)
    if cmd == "retrain":
        args = [*TRAIN_ARGS, "--out", str(state_dir / "retrain")]
        result = models_control.retrain(settings, args, wait=True, timeout_s=90)
        if result["status"] != "SUCCEEDED":
            from models.jobs import job_logs

            result["logs"] = job_logs(result["address"], result["job_id"])[-3000:]
        return result
    if cmd == "promote":
        return models_control.promote(settings, command["version"], "test", command.get("reason", "test"),
                                      force=command.get("force", False), margin=command.get("margin", 0.01))
    if cmd == "rollback":
        return models_control.rollback(settings, "test", "back to the earlier model")
    if cmd == "serve":
        return models_control.serve(settings, command["version"])
    raise ValueError(f"unknown command {cmd!r}")


def reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(REPLY_PREFIX + json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def main(state_dir: Path, dashboard_port: int, speed: float) -> int:
    settings = cluster_settings(
        state_dir,
        ray={"address": "local", "include_dashboard": True, "dashboard_port": dashboard_port, "num_cpus": 4},
        signal={"strategy": "model", "model_dir": str(state_dir / "models"), "group_size": 2},  # two actors swap
        market_data={"start": "2013-10-07", "end": "2013-10-07", "speed": speed, "batch_bars": 32},
    )
    migrate(settings)
    version = first_model(settings, state_dir)
    sup = Supervisor(settings)
    info = sup.start()
    try:
        sup.start_feed()
        reply({"event": "ready", "live": version, "dashboard": info.dashboard_url})
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "quit":
                break
            try:
                reply({"ok": True, "result": handle(command, settings, sup, state_dir)})
            except TradingError as exc:
                reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            except Exception as exc:
                reply({"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})
    finally:
        sup.shutdown()
    reply({"event": "stopped"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
