"""What every actor shell shares: one ZeroMQ context, one loop thread, and honest status."""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import zmq

from cluster.logs import configure_logging
from cluster.settings import Settings


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


class ActorShell:
    """Base of the actor shells: a loop thread that runs `step()` until stopped or failed."""

    name = "actor"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure_logging(settings.logging)  # each actor is its own process: JSON lines when logging.json_format
        self.log = logging.getLogger(f"trading.{self.name}")
        self.ctx: zmq.Context = zmq.Context.instance()
        self._stop = threading.Event()
        self._commands: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failure: str | None = None
        self.started_at = time.time()

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
            while not self._stop.is_set():
                self._run_commands()
                self.step()
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            self.log.error("loop failed: %s\n%s", self.failure, traceback.format_exc())

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

    def ping(self) -> dict[str, Any]:
        import os

        return {"name": self.name, "pid": os.getpid(), "running": self.running, "failure": self.failure}
