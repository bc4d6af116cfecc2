"""`trading-cluster retrain`: train a new candidate as a Ray Job on the running cluster.

    trading-cluster retrain [--address http://127.0.0.1:8265] [--wait] [--timeout S] [-- TRAIN ARGS]

is the same as `ray job submit --address http://127.0.0.1:8265 -- python -m models.train TRAIN ARGS
--registry-url <database> --model-dir <model_dir> --no-progress`, with the auth token chosen from
settings.ray.auth_mode. A database URL with a password is passed as `env:TRADING_DATABASE__URL`:
the job reads it from the cluster's environment, and neither the job nor this command shows it. The new version is registered as a candidate; promote it with
`trading-cluster models promote VERSION`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from cluster.foundation.domain.settings import load_settings


def cmd_retrain(args: argparse.Namespace) -> int:
    from cluster.app.models_control import resolve_auth_token, retrain
    from models.jobs import job_logs

    settings = load_settings()
    train_args = list(args.train_args)
    if train_args[:1] == ["--"]:
        train_args = train_args[1:]
    result = retrain(settings, train_args, address=args.address, wait=args.wait, timeout_s=args.timeout)
    if args.wait and not args.json:
        token = resolve_auth_token(settings.ray, os.environ, Path.home())
        print(job_logs(result["address"], result["job_id"], token), file=sys.stderr)
    print(json.dumps(result, indent=2))
    return 0 if result["status"] in ("SUBMITTED", "SUCCEEDED") else 1


def add_model_commands(subparsers: Any) -> None:
    """Adds `retrain` (model list/promote/rollback go through the control API: cli_control)."""
    retrain = subparsers.add_parser("retrain", help="train a candidate model as a Ray Job on the running cluster")
    retrain.add_argument("--address", help="Ray dashboard / job server URL (default: settings.ray dashboard)")
    retrain.add_argument("--wait", action="store_true", help="wait for the job and print its logs")
    retrain.add_argument("--timeout", type=float, default=600.0, help="seconds to wait with --wait")
    retrain.add_argument("--json", action="store_true", help="print only the JSON result")
    retrain.add_argument("train_args", nargs=argparse.REMAINDER, help="arguments for python -m models.train, after --")
    retrain.set_defaults(func=cmd_retrain)
