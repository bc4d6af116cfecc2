"""Memory of a process tree, read from /proc: RSS and PSS per process, and what each process is.

RSS counts every page a process has mapped in, so pages shared by several processes (the Python
interpreter, shared libraries, Ray's plasma store mapped by every worker) are counted once per
process: summed over a tree it overstates what the tree costs the machine. PSS divides each shared
page by the number of processes mapping it, so summed over the tree every page counts once.
Both are reported; the memory goal is stated on RSS.

`role` names a process from its command line: Ray's own daemons (gcs_server, raylet, dashboard,
dashboard agents, log monitor, ...), Ray workers (by the actor they host, from the process title Ray
sets: "ray::MarketDataActor" ...; "ray::IDLE" for a worker that hosts nothing) and everything else.

Run: .venv/bin/python bench/proc_memory.py PID   (prints the tree of PID, largest first)
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass

_RAY_DAEMONS = (
    ("gcs_server", "ray: gcs_server"), ("raylet", "ray: raylet"), ("dashboard/agent.py", "ray: dashboard agent"),
    ("runtime_env/agent/main.py", "ray: runtime env agent"), ("dashboard/dashboard.py", "ray: dashboard"),
    ("log_monitor.py", "ray: log monitor"), ("monitor.py", "ray: autoscaler monitor"),
    ("ray_client_server", "ray: client server"), ("default_worker.py", "ray: worker"),
)


@dataclass(frozen=True, slots=True)
class ProcMemory:
    pid: int
    role: str
    rss_bytes: int
    pss_bytes: int


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree_pids(root: int) -> list[int]:
    kids = children_map()
    todo, out = [root], []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def parse_rollup(text: str) -> tuple[int, int]:
    """(Rss, Pss) in bytes from the text of /proc/PID/smaps_rollup."""
    rss = pss = 0
    for line in text.splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("Pss:"):
            pss = int(line.split()[1]) * 1024
    return rss, pss


def role_of(cmdline: str) -> str:
    """What a process is, from its command line (NUL-separated argv joined with spaces)."""
    if cmdline.startswith("ray::"):  # a Ray worker retitles itself ray::<Actor> or ray::IDLE
        return "ray worker: " + cmdline.split()[0].removeprefix("ray::")
    for marker, role in _RAY_DAEMONS:
        if marker in cmdline:
            return role
    return (cmdline.split() or ["?"])[0].rsplit("/", 1)[-1] or "?"


def read_process(pid: int) -> ProcMemory | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            rss, pss = parse_rollup(fh.read())
        with open(f"/proc/{pid}/cmdline", "rb") as fb:
            cmd = fb.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:  # gone, or not ours to read
        return None
    return ProcMemory(pid, role_of(cmd), rss, pss)


def tree_memory(root: int) -> list[ProcMemory]:
    """Every process of the tree under `root` (root included) that could be read."""
    return [m for m in (read_process(pid) for pid in tree_pids(root)) if m is not None]


def totals(procs: list[ProcMemory]) -> dict[str, int]:
    return {"rss_bytes": sum(p.rss_bytes for p in procs), "pss_bytes": sum(p.pss_bytes for p in procs),
            "processes": len(procs)}


class PeakTracker:
    """Keeps the sample with the largest summed RSS and, separately, the largest summed PSS."""

    def __init__(self) -> None:
        self.peak_rss: list[ProcMemory] = []
        self.peak_pss: list[ProcMemory] = []

    def add(self, procs: list[ProcMemory]) -> None:
        if sum(p.rss_bytes for p in procs) > sum(p.rss_bytes for p in self.peak_rss):
            self.peak_rss = procs
        if sum(p.pss_bytes for p in procs) > sum(p.pss_bytes for p in self.peak_pss):
            self.peak_pss = procs

    def report(self) -> dict[str, object]:
        """Peak totals in MB and the per-process breakdown at the RSS peak, largest first."""
        rss, pss = totals(self.peak_rss), totals(self.peak_pss)
        return {
            "peak_rss_mb": _mb(rss["rss_bytes"]), "processes_at_rss_peak": rss["processes"],
            "pss_mb_at_rss_peak": _mb(rss["pss_bytes"]),
            "peak_pss_mb": _mb(pss["pss_bytes"]), "processes_at_pss_peak": pss["processes"],
            "by_process_at_rss_peak": [
                {"role": p.role, "rss_mb": _mb(p.rss_bytes), "pss_mb": _mb(p.pss_bytes)}
                for p in sorted(self.peak_rss, key=lambda p: p.rss_bytes, reverse=True)],
        }


def _mb(n: int) -> float:
    return round(n / 2**20, 1)


def main() -> int:
    procs = tree_memory(int(sys.argv[1]))
    print(json.dumps({**{k: v for k, v in totals(procs).items()},
                      "by_process": [asdict(p) for p in sorted(procs, key=lambda p: p.rss_bytes, reverse=True)]},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
