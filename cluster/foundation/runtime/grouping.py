"""How many signal actors a universe gets when `signal.group_size` is left to the cluster.

One signal actor per symbol group. Too many actors cost a process, a socket and a batch watermark
each (a universe of 1,000 symbols at 2 per group would ask for 500); too few leave signal slots
idle. So by default the universe is spread over the signal slots the cluster offers (the
`trading_signals` resource, SIGNALS_SLOTS_PER_NODE per signals node), never fewer than
MIN_SYMBOLS_PER_GROUP symbols per group. A local cluster started by this process (a laptop) offers
one slot per CPU core it may use beyond the LOCAL_PIPELINE_CORES that the feed and the risk actor keep
busy, at least one and up to one signals node's worth: signal actors are CPU-bound, and more of them
than free cores only add processes that compete with the feed and risk (on 2 cores, the 1,000-symbol
day replays faster with one signal actor than with two; BENCHMARKS.md). An explicit
`signal.group_size` always wins.

Pure: the caller says how many slots there are (`offered_signal_slots` reads them from a running
Ray cluster when there is one).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cluster.foundation.domain.errors import BadInput, ConfigError
from cluster.foundation.runtime.placement import SIGNALS_RESOURCE, SIGNALS_SLOTS_PER_NODE

MIN_SYMBOLS_PER_GROUP = 2
LOCAL_PIPELINE_CORES = 2  # the feed and the risk actor: one busy core each in a local cluster


@dataclass(frozen=True, slots=True)
class GroupChoice:
    """The group size used, how many groups it makes, and why."""

    symbols: int
    group_size: int
    groups: int
    signal_slots: int
    how: Literal["explicit", "auto"]

    def describe(self) -> str:
        why = ("signal.group_size set explicitly" if self.how == "explicit"
               else f"auto: {self.signal_slots} signal slots, at least {MIN_SYMBOLS_PER_GROUP} symbols per group")
        return (f"{self.symbols} symbols in {self.groups} signal group(s) of up to {self.group_size} symbols "
                f"({why})")

    def as_dict(self) -> dict[str, object]:
        return {"symbols": self.symbols, "group_size": self.group_size, "groups": self.groups,
                "signal_slots": self.signal_slots, "how": self.how}


def choose_groups(n_symbols: int, group_size: int | None, signal_slots: int) -> GroupChoice:
    """The group size for `n_symbols` symbols: `group_size` when given, else spread over the slots."""
    if n_symbols < 0:
        raise ValueError(f"n_symbols must be >= 0, got {n_symbols}")
    slots = max(1, signal_slots)
    if group_size is not None:
        if group_size < 1:
            raise ConfigError("signal.group_size must be >= 1")
        return GroupChoice(n_symbols, group_size, _count(n_symbols, group_size), slots, "explicit")
    wanted = max(1, min(slots, math.ceil(n_symbols / MIN_SYMBOLS_PER_GROUP)))
    size = max(1, math.ceil(n_symbols / wanted))
    return GroupChoice(n_symbols, size, _count(n_symbols, size), slots, "auto")


def signal_slots_from(resources: Mapping[str, float] | None) -> int:
    """The signal slots in a cluster's resources; one signals node's worth when it names none."""
    offered = int((resources or {}).get(SIGNALS_RESOURCE, 0))
    return offered if offered >= 1 else SIGNALS_SLOTS_PER_NODE


def local_signal_slots(cpus: int | None = None) -> int:
    """Signal slots of a local cluster: one per usable CPU core the feed and risk leave, at least one,
    at most one signals node's worth."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(SIGNALS_SLOTS_PER_NODE, cpus - LOCAL_PIPELINE_CORES))


def offered_signal_slots() -> int:
    """Signal slots of the Ray cluster this process is connected to; before it connects (a local
    cluster started by the supervisor), the local cluster's slots."""
    import sys

    if "ray" not in sys.modules:  # never import Ray just to ask: a replay in one process has none
        return local_signal_slots()
    from cluster.foundation.runtime import ray_calls

    if not ray_calls.is_initialized():
        return local_signal_slots()
    return signal_slots_from(ray_calls.cluster_resources())


def _count(n_symbols: int, group_size: int) -> int:
    return math.ceil(n_symbols / group_size) if n_symbols else 0


def plan_groups(universe: tuple[str, ...] | list[str], group_size: int) -> dict[str, list[str]]:
    """g0, g1, ...: consecutive slices of the universe, `group_size` symbols each."""
    if group_size < 1:
        raise ConfigError("signal.group_size must be >= 1")
    symbols = list(universe)
    return {f"g{i // group_size}": symbols[i:i + group_size] for i in range(0, len(symbols), group_size)}


def partition(universe: list[str], n_groups: int, generation: int) -> dict[str, list[str]]:
    """The universe over n groups, as even as possible; names carry the generation (g0r2, g1r2, ...)."""
    if not 1 <= n_groups <= len(universe):
        raise BadInput(f"groups must be between 1 and the universe size {len(universe)}, got {n_groups}")
    size, extra = divmod(len(universe), n_groups)
    out: dict[str, list[str]] = {}
    start = 0
    for i in range(n_groups):
        end = start + size + (1 if i < extra else 0)
        out[f"g{i}" if generation == 0 else f"g{i}r{generation}"] = universe[start:end]
        start = end
    return out
