"""bench/proc_memory.py: RSS and PSS from smaps_rollup, what a process is, and the peak of a tree."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

_PATH = Path(__file__).resolve().parents[3] / "bench" / "proc_memory.py"


@pytest.fixture(scope="module")
def pm() -> ModuleType:
    spec = importlib.util.spec_from_file_location("proc_memory", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("proc_memory", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


ROLLUP = """55d0c0000000-7ffd1a9f2000 ---p 00000000 00:00 0                          [rollup]
Rss:              120000 kB
Pss:               70000 kB
Pss_Dirty:         50000 kB
Shared_Clean:      40000 kB
"""


def test_rollup_when_parsed_then_rss_and_pss_in_bytes(pm: ModuleType) -> None:
    assert pm.parse_rollup(ROLLUP) == (120000 * 1024, 70000 * 1024)


@pytest.mark.parametrize(("cmdline", "role"), [
    ("ray::SignalActor", "ray worker: SignalActor"),
    ("ray::IDLE", "ray worker: IDLE"),
    ("/venv/lib/python3.12/site-packages/ray/core/src/ray/raylet/raylet --raylet_socket_name=x", "ray: raylet"),
    ("/venv/lib/python3.12/site-packages/ray/core/src/ray/gcs/gcs_server --log_dir=x", "ray: gcs_server"),
    ("/venv/bin/python -u /venv/lib/python3.12/site-packages/ray/_private/log_monitor.py --x", "ray: log monitor"),
    ("/venv/bin/python -u /venv/lib/python3.12/site-packages/ray/autoscaler/_private/monitor.py", "ray: autoscaler monitor"),
    ("/venv/bin/python /venv/lib/python3.12/site-packages/ray/dashboard/dashboard.py --host=x", "ray: dashboard"),
    ("/venv/bin/python bench/live_latency.py --seconds 60", "python"),
])
def test_role_when_read_from_cmdline_then_names_the_process(pm: ModuleType, cmdline: str, role: str) -> None:
    assert pm.role_of(cmdline) == role


def test_peak_when_samples_added_then_rss_and_pss_peaks_kept_separately(pm: ModuleType) -> None:
    p = pm.ProcMemory
    tracker = pm.PeakTracker()
    tracker.add([p(1, "a", 100 * 2**20, 90 * 2**20)])
    tracker.add([p(1, "a", 150 * 2**20, 40 * 2**20), p(2, "b", 50 * 2**20, 30 * 2**20)])  # RSS peak
    tracker.add([p(1, "a", 80 * 2**20, 70 * 2**20)])
    report = tracker.report()
    assert report["peak_rss_mb"] == 200.0 and report["processes_at_rss_peak"] == 2
    assert report["pss_mb_at_rss_peak"] == 70.0
    assert report["peak_pss_mb"] == 90.0
    assert [r["role"] for r in report["by_process_at_rss_peak"]] == ["a", "b"]


def test_tree_when_read_for_this_process_then_it_is_there_with_pss_at_most_rss(pm: ModuleType) -> None:
    procs = pm.tree_memory(os.getpid())
    me = [m for m in procs if m.pid == os.getpid()]
    assert len(me) == 1 and 0 < me[0].pss_bytes <= me[0].rss_bytes
