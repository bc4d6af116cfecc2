"""Where each bus channel is bound, found through Ray instead of configured.

Every channel has exactly one binding actor. It binds on its own node — on `bus.host` when that is
set (an explicit override; a one-node local cluster sets 127.0.0.1), else on its node's address —
on the configured port, or on a free one when the port is 0, and answers `endpoints()` with
tcp://<address>:<port>. An actor that connects looks the endpoint up by the owner's actor name,
and looks again when a restarted owner announces itself (ActorShell._announce_endpoints) or the
supervisor reports that a peer was (re)started: the peer may now be on
another node, on another port. Nothing assumes a shared loopback.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.settings import BusSettings
from cluster.foundation.runtime import bus, ray_calls

CHANNEL_OWNERS: dict[str, str] = {
    bus.MARKET_DATA: "market_data",
    bus.SIGNALS: "risk",
    bus.ORDERS: "risk",
    bus.REPORTS: "execution",
}


def bind_host(settings: BusSettings) -> str:
    """The address this node's binding sockets use: the override, else the node's own address."""
    return settings.host or ray_calls.node_ip()


def bind_address(settings: BusSettings, channel: str) -> str:
    port = {
        bus.MARKET_DATA: settings.market_data_port, bus.SIGNALS: settings.signals_port,
        bus.ORDERS: settings.orders_port, bus.REPORTS: settings.reports_port,
    }[channel]
    return bus.endpoint(bind_host(settings), port)


class PeerResolver:
    """Looks up the endpoint of a channel from its owner actor, waiting up to a deadline."""

    def __init__(self, namespace: str, who: str, keep_waiting: Callable[[], bool] = lambda: True) -> None:
        self.namespace = namespace
        self.who = who
        self._keep_waiting = keep_waiting

    def lookup(self, channel: str, call_timeout_s: float = 5.0) -> str | None:
        """One attempt: the endpoint, or None when the owner is not there (yet) or not bound."""
        owner = CHANNEL_OWNERS[channel]
        handle = ray_calls.get_actor(owner, self.namespace)
        if handle is None:
            return None
        try:
            found = ray_calls.call(handle, "endpoints", timeout_s=call_timeout_s)
        except ray_calls.ActorCallError:
            return None
        address = found.get(channel) if isinstance(found, dict) else None
        return str(address) if address else None

    def resolve(self, channel: str, timeout_s: float) -> str:
        """The endpoint of `channel`; DependencyDown naming who waited for what when it never comes."""
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            address = self.lookup(channel)
            if address is not None:
                return address
            if time.monotonic() >= deadline or not self._keep_waiting():
                raise DependencyDown(
                    f"{self.who} on node {ray_calls.node_ip()} waited {timeout_s:.0f}s for the endpoint of bus "
                    f"channel '{channel}' from the {CHANNEL_OWNERS[channel]} actor, which did not answer"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
