"""Where trading work may run: Ray custom resources and the node groups that offer them.

The KubeRay manifest (infra/k8s/base/raycluster.yaml), the VM launcher config (ray_cluster.yaml) and the
supervisor all read these names, and tests/infra checks that the manifests agree with them, so a
rename here that is not made there fails a test instead of leaving actors pending forever.
"""

from __future__ import annotations

from dataclasses import dataclass

HEAD_RESOURCE = "trading_head"
CORE_RESOURCE = "trading_core"
SIGNALS_RESOURCE = "trading_signals"
TRAIN_RESOURCE = "trading_train"

HEAD_GROUP = "head"
CORE_GROUP = "core"
SIGNALS_GROUP = "signals"
TRAIN_GROUP = "train"

# Each core singleton (market data, risk, execution) asks for a sliver of the one core unit, so
# all of them fit on the single core node and nothing else can land there by accident.
CORE_SINGLETON_DEMAND = 0.01
SIGNALS_SLOTS_PER_NODE = 4
# The supervisor (and the control API it serves) asks for a sliver of the head's one unit, so it runs
# in the head pod, behind the head Service. A cluster that does not offer the resource (a laptop's
# local Ray) places it anywhere.
SUPERVISOR_DEMAND = 0.01


@dataclass(frozen=True, slots=True)
class WorkerGroup:
    """A node group: the custom resource it offers, how much per node, and its scaling bounds."""

    name: str
    resource: str
    units_per_node: int
    min_nodes: int
    max_nodes: int


# The head node: one CPU for the trading driver and the supervisor (the trading actors ask for the
# custom resources of the worker groups), and one unit of HEAD_RESOURCE for the supervisor.
HEAD_NODE = WorkerGroup(HEAD_GROUP, HEAD_RESOURCE, units_per_node=1, min_nodes=1, max_nodes=1)

WORKER_GROUPS: tuple[WorkerGroup, ...] = (
    WorkerGroup(CORE_GROUP, CORE_RESOURCE, units_per_node=1, min_nodes=1, max_nodes=1),
    WorkerGroup(SIGNALS_GROUP, SIGNALS_RESOURCE, units_per_node=SIGNALS_SLOTS_PER_NODE, min_nodes=1, max_nodes=8),
    WorkerGroup(TRAIN_GROUP, TRAIN_RESOURCE, units_per_node=1, min_nodes=0, max_nodes=2),
)


def group_named(name: str) -> WorkerGroup:
    for group in WORKER_GROUPS:
        if group.name == name:
            return group
    raise KeyError(f"no worker group named {name!r}; known: {[g.name for g in WORKER_GROUPS]}")


def supervisor_resources() -> dict[str, float]:
    """`resources=` for the detached supervisor actor when the cluster offers HEAD_RESOURCE."""
    return {HEAD_RESOURCE: SUPERVISOR_DEMAND}


def core_singleton_resources() -> dict[str, float]:
    """`resources=` for a market-data, risk or execution actor."""
    return {CORE_RESOURCE: CORE_SINGLETON_DEMAND}


def signal_actor_resources() -> dict[str, float]:
    """`resources=` for one signal actor: one of the slots a signals node offers."""
    return {SIGNALS_RESOURCE: 1.0}


def train_task_resources() -> dict[str, float]:
    """`resources=` for a training task: a whole train node, which the autoscaler starts from zero."""
    return {TRAIN_RESOURCE: 1.0}
