"""The replay in one process: the actors' cores in their event order, no Ray, no sockets."""

from __future__ import annotations

import json
from decimal import Decimal

from pydantic import SecretStr

from cluster.app import cli
from cluster.app.backtest import InProcessReplay, slice_groups, with_final
from cluster.app.summary import build_summary
from cluster.app.supervisor import plan_groups
from cluster.foundation.domain.settings import Settings, load_settings
from cluster.foundation.domain.wire import OrderIntent
from cluster.foundation.storage.backtest_repo import RunIntentLog, is_new_database
from cluster.foundation.storage.db import upgrade
from cluster.foundation.storage.repository import InMemoryRepository

ONE_DAY = {"source": "replay", "start": "2013-10-07", "end": "2013-10-07", "batch_bars": 64}


def _settings(tmp_path, database: str = "memory://", **md: object) -> Settings:
    base = load_settings()
    return base.model_copy(update={
        "state_dir": str(tmp_path),
        "market_data": base.market_data.model_copy(update={**ONE_DAY, **md}),
        "execution": base.execution.model_copy(update={"broker": "sim"}),
        "risk": base.risk.model_copy(update={"check_invariants": True}),
        "database": base.database.model_copy(update={"url": SecretStr(database)}),
    })


def test_with_final_when_batches_then_only_the_last_is_final():
    assert list(with_final(iter([[1], [2], [3]]))) == [([1], False), ([2], False), ([3], True)]


def test_with_final_when_the_source_is_empty_then_one_empty_final_batch():
    assert list(with_final(iter([]))) == [([], True)]


def test_slice_groups_when_compared_with_the_supervisor_plan_then_equal():
    universe = [f"S{i}" for i in range(11)]
    for size in (1, 2, 3, 4, 11, 12):
        assert slice_groups(universe, size) == plan_groups(universe, size)


def test_in_process_replay_when_a_real_day_then_it_trades_and_every_fill_keeps_the_books_balanced(tmp_path):
    replay = InProcessReplay(_settings(tmp_path), signal_slots=4)
    summary = replay.run()
    assert summary["runner"] == "in_process"
    assert summary["bars"] > 0 and summary["orders"] > 0 and summary["fills"] > 0
    assert summary["sequence_gaps"] == 0 and summary["data_errors"] == 0
    assert summary["groups"] == {"g0": ["SPY", "IBM"], "g1": ["BAC", "AIG"]}
    assert Decimal(summary["exposure"]) <= Decimal(50_000)
    assert len(replay.ledger) == sum(summary["order_statuses"].values())


def test_in_process_replay_when_run_twice_then_the_same_ledger(tmp_path):
    first = InProcessReplay(_settings(tmp_path / "a"), signal_slots=4).run()
    second = InProcessReplay(_settings(tmp_path / "b"), signal_slots=4).run()
    assert first["orders"] > 0
    assert first["ledger_digest"] == second["ledger_digest"]


def test_in_process_replay_when_sqlite_then_the_same_ledger_as_in_memory(tmp_path):
    memory = InProcessReplay(_settings(tmp_path / "m"), signal_slots=4).run()
    sqlite = InProcessReplay(_settings(tmp_path / "s", f"sqlite:///{tmp_path}/s/trading.db"), signal_slots=4,
                             schema_cache=tmp_path / "cache").run()
    assert sqlite["ledger_digest"] == memory["ledger_digest"]
    assert sqlite["positions"] == memory["positions"]


def test_in_process_replay_when_a_new_sqlite_file_then_it_is_at_alembic_head_with_the_run_stored(tmp_path):
    from cluster.foundation.storage.db.commands import current
    from cluster.foundation.storage.factory import make_repository

    migrated = f"sqlite:///{tmp_path}/migrated.db"
    upgrade(migrated)
    for run in ("first", "second"):  # the second run copies the cached schema
        url = f"sqlite:///{tmp_path}/{run}.db"
        settings = _settings(tmp_path / run, url)
        summary = InProcessReplay(settings, signal_slots=4, schema_cache=tmp_path / "cache").run()
        assert current(url) == current(migrated)
        repo = make_repository(settings, "check")
        try:
            stored = {p.symbol: str(p.quantity) for p in repo.load_positions() if p.quantity != 0}
        finally:
            repo.close()
        assert stored == {p["symbol"]: p["quantity"] for p in summary["positions"]}
    assert len(list((tmp_path / "cache").glob("sqlite-schema-*.db"))) == 1


def test_in_process_replay_when_synthetic_source_then_one_group_per_slot(tmp_path):
    settings = _settings(tmp_path, source="synthetic", synthetic_symbols=40, synthetic_events_per_s=400,
                         synthetic_seconds=30, batch_bars=100)
    summary = InProcessReplay(settings, signal_slots=4).run()
    assert summary["group_plan"] == {"groups": 4, "symbols": 40, "largest_group": 10}
    assert summary["events"] == 12_000


def test_summary_when_in_process_then_the_same_keys_as_the_cluster_summary(tmp_path):
    ours = InProcessReplay(_settings(tmp_path), signal_slots=4).run()
    cluster_keys = build_summary({}, [], 1.0, {}, None).keys()
    assert ours.keys() == cluster_keys


def test_cli_replay_when_no_cluster_flag_then_it_runs_in_this_process(tmp_path, capsys, monkeypatch):
    # Arrange: any attempt to start or join Ray, or to create an actor, fails the test (whether or not
    # another test of this process has a Ray cluster up)
    from cluster.foundation.runtime import ray_calls

    def no_ray(*_args, **_kwargs):
        raise AssertionError("the one-process replay must not use Ray")

    monkeypatch.setattr(ray_calls, "init_cluster", no_ray)
    monkeypatch.setattr(ray_calls, "start_actor", no_ray)
    monkeypatch.setenv("TRADING_STATE_DIR", str(tmp_path))
    # Act
    code = cli.main(["replay", "--start", "2013-10-07", "--end", "2013-10-07", "--json", "--database", "memory://"])
    # Assert
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["runner"] == "in_process" and summary["orders"] > 0


def test_is_new_database_when_memory_or_a_missing_sqlite_file_then_true(tmp_path):
    existing = tmp_path / "old.db"
    existing.write_bytes(b"")
    assert is_new_database("memory://")
    assert is_new_database(f"sqlite:///{tmp_path}/new.db")
    assert not is_new_database(f"sqlite:///{existing}")
    assert not is_new_database("postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def test_run_intent_log_when_an_intent_is_recorded_then_it_is_known_and_stored():
    inner = InMemoryRepository()
    repo = RunIntentLog(inner)
    intent = OrderIntent(client_order_id="tc-1", symbol="SPY", side="buy", qty=Decimal(1), order_type="market",
                         time_in_force="day", ts_ns=1, batch=1, correlation_id="c")
    assert not repo.has_intent("tc-1")
    repo.record_intent(intent)
    assert repo.has_intent("tc-1") and inner.has_intent("tc-1")


def test_in_process_replay_when_lockstep_or_pipelined_then_both_trade_within_limits_deterministically(tmp_path):
    """risk.pipeline_depth 1 decides k after k - 1 is settled (lockstep); the default 2 decides k + 1 while k
    executes. Each schedule is deterministic and keeps every accounting invariant (check_invariants)."""
    from cluster.foundation.domain.batch_gate import PIPELINE_DEPTH

    def run(depth: int, where: str) -> dict:
        s = _settings(tmp_path / where)
        s = s.model_copy(update={"risk": s.risk.model_copy(update={"pipeline_depth": depth})})
        return InProcessReplay(s, signal_slots=4).run()

    assert load_settings().risk.pipeline_depth == PIPELINE_DEPTH
    lockstep, pipelined = run(1, "a"), run(2, "b")
    assert lockstep["orders"] > 0 and pipelined["orders"] > 0
    assert run(1, "c")["ledger_digest"] == lockstep["ledger_digest"]
    assert Decimal(lockstep["exposure"]) <= Decimal(50_000) and Decimal(pipelined["exposure"]) <= Decimal(50_000)
