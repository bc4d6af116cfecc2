"""Operators against a running cluster: the CLI over the control API, the breaker, the kill switch."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from integration_support import cluster_settings
from pydantic import SecretStr

from cluster.app.api_host import control_api
from cluster.app.cli import main as cli
from cluster.app.supervisor import Supervisor
from cluster.foundation.runtime import ray_calls

pytestmark = pytest.mark.integration

PACED_DAY = {"start": "2013-10-07", "end": "2013-10-07", "batch_bars": 32, "speed": 3000.0}
TOKEN = "test-token-7f3a"


def _cli(capsys, api, *argv, token=TOKEN):
    code = cli([*argv, "--api", api, "--json", "--operator", "alice", *(["--token", token] if token else [])])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip().startswith(("{", "[")) else out)


def _settings(tmp_path):
    # replay time runs 3000x faster than the wall clock: a long cooldown keeps the breaker OPEN meanwhile
    s = cluster_settings(tmp_path, market_data=PACED_DAY, risk={"breaker_cooldown_minutes": 100_000})
    return s.model_copy(update={"control_api": s.control_api.model_copy(update={"token": SecretStr(TOKEN)})})


def test_operator_when_tripping_killing_and_restarting_then_breaker_holds_and_everything_is_audited(
    ray_cluster, tmp_path, capsys
):
    settings = _settings(tmp_path)
    sup = Supervisor(settings)
    sup.start()
    try:
        with control_api(sup, settings, port=0) as api:
            sup.start_feed()
            # Arrange: let it trade a little
            while ray_calls.call(sup.handles["risk"], "snapshot")["next_batch"] < 20:
                time.sleep(0.05)
            # no token -> refused, nothing changes
            code, _ = _cli(capsys, api.url, "breaker", "trip", "--reason", "test", token=None)
            assert code == 2
            # Act: trip through the CLI
            code, moved = _cli(capsys, api.url, "breaker", "trip", "--reason", "operator drill")
            assert code == 0 and isinstance(moved, dict) and moved["to"] == "open", moved
            code, status = _cli(capsys, api.url, "status")
            assert code == 0 and status["risk"]["breaker"]["state"] == "open"
            # kill -9 the risk actor: Ray restarts it, and it comes back OPEN (from storage)
            pid = ray_calls.actor_states("trading", ["risk"])["risk"]["pid"]
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    snap = ray_calls.call(sup.handles["risk"], "snapshot", timeout_s=5)
                    if snap.get("restarted"):
                        break
                except ray_calls.ActorCallError:
                    pass
                time.sleep(0.2)
            assert snap["restarted"] and snap["breaker"]["state"] == "open"
            # every new signal is rejected while open
            rejected_before = snap["rejections"].get("breaker_gate", 0) + snap["rejections"].get("breaker_open", 0)
            # kill switch with flatten, twice: the second changes nothing more
            code, first = _cli(capsys, api.url, "kill", "--flatten", "--reason", "drill")
            assert code == 0
            code, second = _cli(capsys, api.url, "kill", "--flatten", "--reason", "drill again")
            assert code == 0 and second["flatten_orders"] == 0
            stats = sup.run_until_done(120)
            assert stats["risk"]["open_positions"] == 0 or first["flatten_orders"] > 0
            assert sum(stats["risk"]["rejections"].values()) >= rejected_before
            # reset needs a reason and a token, and goes to closed
            code, reset = _cli(capsys, api.url, "breaker", "reset", "--reason", "drill over")
            assert code == 0 and reset["to"] == "closed"
            code, events = _cli(capsys, api.url, "events")
            assert code == 0 and any(e["event_type"].startswith("breaker") for e in events)
    finally:
        sup.shutdown()
    # the audit log holds every action with the caller and the reason
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path}/trading.db")
    with engine.connect() as conn:
        rows = conn.execute(text("select action, caller, reason, details from audit_log")).all()
    actions = {(a, c, r, str(d)) for a, c, r, d in rows}
    # the caller is the authenticated principal; the X-Operator name is kept as what was claimed
    assert any(a.startswith("breaker") and c == "token" and r == "operator drill" and "alice" in d
               for a, c, r, d in actions)
    assert any(a.startswith("kill") and r == "drill" for a, _, r, _ in actions)


def test_cluster_when_restarted_on_the_same_database_then_breaker_is_still_open(ray_cluster, tmp_path):
    settings = _settings(tmp_path)
    sup = Supervisor(settings)
    sup.start()
    try:
        ray_calls.call(sup.handles["risk"], "trip", "alice", "end of day drill")
    finally:
        sup.shutdown()
    again = Supervisor(settings)
    again.start()
    try:
        snap = ray_calls.call(again.handles["risk"], "snapshot")
        assert snap["breaker"]["state"] == "open"
        assert snap["breaker"]["reason"] == "end of day drill"
    finally:
        again.shutdown()
