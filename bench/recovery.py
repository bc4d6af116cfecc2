"""Time to recover, kill -> first batch the risk actor decides after the outage, for three losses:
the market-data actor's process, a whole signals node, and the whole core node (a fresh core node
joins at once). Each on its own Ray cluster of network namespaces (needs root and iproute2).

Recovery is read from the risk actor's decisions: the pipeline decides a batch every few tens of
milliseconds, so the outage is the longest gap between two decisions after the kill; the figure is
the time from the kill to the first decision after that gap.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "multinode"))

from netns_cluster import NetnsCluster  # noqa: E402

HEAD = {"trading_head": 1}
CORE = {"trading_core": 1}
SIGNALS = {"trading_signals": 4}


def recovery_seconds(kill_at: float, decisions: list[list[float]]) -> float:
    """Kill -> first decision after the longest gap that follows the kill."""
    after = [t for t, _ in decisions if t > kill_at]
    if not after:
        raise ValueError("no batch was decided after the kill")
    times = [kill_at, *after]
    gaps = [(times[i + 1] - times[i], i + 1) for i in range(len(times) - 1)]
    _, end = max(gaps)
    return times[end] - kill_at


def _measure(scenario: str) -> dict[str, Any]:
    cluster = NetnsCluster(6).up()
    try:
        cluster.start_ray(1, head=True, num_cpus=1, resources=HEAD)
        cluster.start_ray(2, head=False, resources=CORE)
        cluster.start_ray(3, head=False, resources=SIGNALS)
        if scenario != "signals_node":
            cluster.start_ray(4, head=False, resources=SIGNALS)
        cluster.wait_nodes(4 if scenario != "signals_node" else 3)
        victim = {"market_data": "market_data", "signals_node": cluster.node(3).namespace,
                  "core_node": cluster.node(2).namespace}[scenario]
        driver = cluster.spawn(1, [sys.executable, str(REPO / "bench" / "recovery_driver.py"), cluster.head_address,
                                   victim, str(cluster.work)], f"driver-{scenario}.log",
                               env={"PYTHONPATH": str(REPO)})
        if scenario == "signals_node":  # every group is on node 3 now; node 4 is where they can move
            _wait_file(cluster.work / f"started-{victim}", driver)
            cluster.start_ray(4, head=False, resources=SIGNALS)
        if scenario == "core_node":
            _wait_file(cluster.work / f"killed-{victim}", driver)
            cluster.start_ray(5, head=False, resources=CORE)  # a fresh core node joins right away
        driver.wait(900)
        result = json.loads((cluster.work / f"recovery-{victim}.json").read_text())
        return {"scenario": scenario, "recovery_s": round(recovery_seconds(result["kill_at"], result["decisions"]), 2),
                "batches_decided": result["decisions"][-1][1] - 1}
    finally:
        cluster.down()


def _wait_file(marker: Path, driver: Any, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not marker.exists() and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.05)


def run(scenarios: tuple[str, ...] = ("market_data", "signals_node", "core_node")) -> list[dict[str, Any]]:
    out = []
    for scenario in scenarios:
        try:
            out.append(_measure(scenario))
        except Exception as exc:  # one failed measurement is reported, not hidden
            out.append({"scenario": scenario, "error": f"{type(exc).__name__}: {exc}"})
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| loss | kill -> first batch decided after it | batches decided in the run |", "|---|---|---|"]
    names = {"market_data": "market-data actor (kill -9 of its process)",
             "signals_node": "a signals node holding every group (every process of its namespace)",
             "core_node": "the core node (every process; a fresh core node joins at once)"}
    for r in results:
        if "error" in r:
            lines.append(f"| {names[r['scenario']]} | not measured: {r['error']} | |")
        else:
            lines.append(f"| {names[r['scenario']]} | {r['recovery_s']:.2f} s | {r['batches_decided']} |")
    return "\n".join(lines)


def section(results: list[dict[str, Any]]) -> str:
    """The BENCHMARKS.md section."""
    return "\n".join([
        "## Time to recover (`bench/recovery.py`)", "",
        "Each loss on its own Ray cluster of Linux network namespaces (head, core node, two signals nodes; "
        "one real day replayed at 300x real time (no overnight pause in the paced feed), 8 events per batch, one symbol per group). The clock runs "
        "from the kill to the first batch the risk actor decides after the longest gap that follows it "
        "(node-loss detection by Ray, restart, endpoint refresh, recovery). The "
        "machine is shared and loaded, so read the figures as orders of magnitude.", "",
        markdown(results), ""])


if __name__ == "__main__":
    as_json = "--json" in sys.argv[1:]
    chosen = tuple(a for a in sys.argv[1:] if a != "--json") or ("market_data", "signals_node", "core_node")
    res = run(chosen)
    print(json.dumps(res, indent=2) if as_json else section(res))
