"""What every actor shell shares: one ZeroMQ context, one loop thread, peers found through Ray, a
lifecycle, and honest status.

The constructor only builds the core and binds the sockets this actor owns, so it returns at once
and `endpoints()` answers while peers are still starting. The loop thread then connects to the
peers (their endpoints looked up through Ray, with a deadline), recovers (subclass hook: state
after a restart), and runs `step()` until stopped. A loop that fails records why, lets a status
poll see it for a moment, and ends the process so that Ray restarts the actor.
"""

from __future__ import annotations

import cProfile
import logging
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import zmq

from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import Settings
from cluster.foundation.runtime import bus, ray_calls
from cluster.foundation.runtime.bus_curve import BusSecurity
from cluster.foundation.runtime.endpoints import PeerResolver, bind_address
from cluster.foundation.runtime.lifecycle import Lifecycle
from cluster.foundation.runtime.logs import configure_logging
from cluster.foundation.runtime.metrics import BUS_HANDSHAKES_REFUSED, Metrics

FAILURE_EXIT_DELAY_S = 2.0  # time for a status poll to read the failure before Ray restarts the actor


class EventClock:
    """`now` of the trading cores. In replay it is the latest event time seen (so a 2013 replay is
    not 'stale' against the wall clock); live it is the wall clock."""

    def __init__(self, replay: bool) -> None:
        self.replay = replay
        self._now = 0

    def advance(self, ts_ns: int) -> None:
        if ts_ns > self._now:
            self._now = ts_ns

    def __call__(self) -> int:
        return self._now if self.replay else time.time_ns()


Endpoint = bus.Publisher | bus.Subscriber


PROFILE_DIR_ENV = "TRADING_PROFILE_DIR"  # set: each actor's running loop is profiled (cProfile) into it


def _loop_profile() -> cProfile.Profile | None:
    """A started profiler of the calling thread when PROFILE_DIR_ENV is set (for benchmarks), else None."""
    if not os.environ.get(PROFILE_DIR_ENV):
        return None
    profile = cProfile.Profile()
    profile.enable()
    return profile


class ActorShell:
    """Base of the actor shells: a loop thread that connects, recovers, then runs `step()`."""

    name = "actor"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure_logging(settings.logging)  # each actor is its own process: JSON lines when logging.json_format
        self.log = logging.getLogger(f"trading.{self.name}")
        self.ctx: zmq.Context[Any] = zmq.Context.instance()
        self._stop = threading.Event()
        self._commands: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failure: str | None = None
        self._cpu_at_running: float | None = None  # process CPU time when the loop began running
        self.started_at = time.time()
        self.lifecycle = Lifecycle()
        self._bound: dict[str, Endpoint] = {}
        self._peers: dict[str, list[Endpoint]] = {}
        self.exit_on_failure = True
        # Which sockets are CURVE, with the run's keys (bus_curve): binders pass it to their sockets.
        self.bus_security = BusSecurity.from_settings(settings.bus, on_refused=self._handshake_refused)
        self._refusal_metrics: Metrics | None = None

    # ---- sockets -------------------------------------------------------------------------------

    def bind_channel(self, channel: str, end: Callable[[str], Endpoint]) -> Any:
        """Create the socket that owns `channel` (end(address) binds it, given security=self.bus_security)
        and register its endpoint."""
        sock = end(bind_address(self.settings.bus, channel))
        if self.bus_security.required(str(sock.address)) and not sock.curve:
            sock.close()
            raise ConfigError(f"{self.name} bound bus channel '{channel}' at {sock.address} without the bus "
                              "security: that endpoint must be CURVE")
        self._bound[channel] = sock
        return sock

    def peer_channel(self, channel: str, end: Endpoint) -> Any:
        """Register a socket that connects to `channel`; the loop connects it once the owner is found,
        as a CURVE client where the owner's endpoint asks for it."""
        if end.security is None:
            end.security = self.bus_security
        self._peers.setdefault(channel, []).append(end)
        return end

    def _handshake_refused(self, endpoint: str, reason: str) -> None:
        """A peer failed the CURVE handshake on one of our endpoints (called on the guard thread)."""
        if self._refusal_metrics is None:
            self._refusal_metrics = Metrics()
        self._refusal_metrics.inc(BUS_HANDSHAKES_REFUSED, actor=self.name, reason=reason)

    def endpoints(self) -> dict[str, str]:
        """Where this actor's channels are bound: tcp://<node address>:<port>."""
        return {ch: str(sock.address) for ch, sock in self._bound.items()}

    def refresh_peers(self, timeout_s: float = 5.0) -> dict[str, str]:
        """Look the peers' endpoints up again (a peer restarted, maybe on another node) and reconnect the
        sockets whose peer moved. Called by the supervisor from a control thread."""
        resolver = PeerResolver(self.settings.ray.namespace, self.name)
        found = {ch: resolver.lookup(ch, timeout_s) for ch in self._peers}

        def reconnect() -> None:
            for ch, addr in found.items():
                if addr is None:
                    continue
                moved = [end.connect(addr) for end in self._peers[ch]]
                if any(moved):
                    self.log.warning("%s follows channel %s to %s", self.name, ch, addr)
                    self.peer_moved(ch)

        if self.lifecycle.phase != "starting":  # a starting loop looks its peers up by itself
            try:  # between two steps; on return the sockets follow (what they send goes to the new peer)
                self.run_in_loop(reconnect, timeout_s)
            except TimeoutError:  # a paced or busy loop: it reconnects at its next step all the same
                self.log.info("%s reconnects at its next step (loop busy for %.0fs)", self.name, timeout_s)
        return {ch: addr or "" for ch, addr in found.items()}

    def peer_moved(self, channel: str) -> None:
        """Subclass hook, on the loop thread: the sockets of `channel` now reach a new peer endpoint."""

    def _announce_endpoints(self) -> dict[str, Any]:
        """A restarted actor that owns channels binds them anew (maybe on another node or port): it tells
        every other actor of the namespace to look its peers up again, so that the sockets connecting to
        it follow without waiting for the supervisor's next round. Once a peer has answered, what it
        sends goes to the new endpoint: whatever recovery then reads from that peer covers everything
        it sent to the old one (messages left queued for a dead endpoint are dropped when it follows).
        Returns the calls made, by actor name."""
        if not self._bound or not ray_calls.was_reconstructed():
            return {}
        ns = self.settings.ray.namespace
        refs: dict[str, Any] = {}
        for name in ray_calls.named_actors(ns):
            handle = None if name == self.name else ray_calls.get_actor(name, ns)
            if handle is not None and hasattr(handle, "refresh_peers"):
                refs[name] = ray_calls.submit(handle, "refresh_peers")
        return refs

    def _await_announced(self, refs: dict[str, Any], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        for name, ref in refs.items():
            try:
                ray_calls.wait(ref, max(0.1, deadline - time.monotonic()))
            except ray_calls.ActorCallError as exc:  # the supervisor's next round tells it again
                self.log.info("%s did not confirm the new endpoints of %s: %s", name, self.name, exc)

    def _connect_peers(self) -> None:
        resolver = PeerResolver(self.settings.ray.namespace, self.name, keep_waiting=lambda: not self._stop.is_set())
        for ch, ends in self._peers.items():
            address = resolver.resolve(ch, self.settings.bus.connect_timeout_s)
            for end in ends:
                end.connect(address)

    # ---- loop ----------------------------------------------------------------------------------

    def start_loop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-loop", daemon=True)
        self._thread.start()

    def run_in_loop(self, fn: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        """Run `fn` on the loop thread between two steps (it owns the sockets and the core) and return its
        result; runs it directly when no loop is running (during __init__ or after stop)."""
        if not self.running or threading.current_thread() is self._thread:
            return fn()
        future: Future[Any] = Future()
        self._commands.put((fn, future))
        return future.result(timeout=timeout_s)

    def in_loop_soon(self, fn: Callable[[], Any]) -> None:
        """Have the loop thread run `fn` between two steps, without waiting for it."""
        if not self.running:
            fn()
            return
        self._commands.put((fn, Future()))

    def _run_commands(self) -> None:
        while True:
            try:
                fn, future = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                future.set_result(fn())
            except Exception as exc:  # the caller gets the error; the loop goes on
                future.set_exception(exc)

    def _run(self) -> None:
        try:
            if self.lifecycle.phase == "starting":
                told = self._announce_endpoints()
                self._connect_peers()
                self._await_announced(told)
                self.lifecycle.trigger("connected")
                self.recover()
                self.lifecycle.trigger("recovered")
            self._cpu_at_running = time.process_time()
            profile = _loop_profile()
            while not self._stop.is_set():
                self._run_commands()
                self.step()
            self._run_commands()
            if profile is not None:
                profile.disable()
                profile.dump_stats(Path(os.environ[PROFILE_DIR_ENV]) / f"{self.name}-{os.getpid()}.prof")
            if self.lifecycle.phase == "running":
                self.lifecycle.trigger("stop")
                self.lifecycle.trigger("drained")
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            self.log.error("loop failed: %s\n%s", self.failure, traceback.format_exc())
            self.lifecycle.trigger("fail")
            if self.exit_on_failure and not self._stop.is_set():
                time.sleep(FAILURE_EXIT_DELAY_S)
                logging.shutdown()
                os._exit(70)  # Ray restarts the actor; the supervisor counts the restart

    def recover(self) -> None:
        """Subclass hook, on the loop thread once the peers are connected: rebuild state after a restart."""

    def step(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self, timeout_s: float = 5.0) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def shell_stats(self) -> dict[str, Any]:
        """Lifecycle phase and the CPU seconds the process (every thread) has used since its loop began running."""
        cpu = None if self._cpu_at_running is None else round(time.process_time() - self._cpu_at_running, 3)
        return {"phase": self.lifecycle.phase, "cpu_s": cpu}

    def ping(self) -> dict[str, Any]:
        return {"name": self.name, "pid": os.getpid(), "running": self.running, "failure": self.failure,
                "phase": self.lifecycle.phase, "node": self.node_address(), "endpoints": self.endpoints(),
                "bus_curve": sorted(ch for ch, sock in self._bound.items() if sock.curve),
                "bus_refused": self.bus_security.refused(self.ctx)}

    @staticmethod
    def node_address() -> str:
        return ray_calls.node_ip()
