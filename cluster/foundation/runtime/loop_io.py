"""LoopIO: an asyncio event loop driven by its owner's thread, not by a thread of its own.

An adapter whose client library is asyncio (aiohttp: Alpaca's REST calls and websockets) runs its
coroutines with `run`, on the calling thread. Its background tasks (a websocket reader) make progress
whenever the owner drives the loop: during `run`, during `wait` (the owner's idle wait, which also
watches the owner's ZeroMQ sockets) and during `service` (a short non-blocking pass). So on the data
path nothing is handed from one thread to another: what a task delivers is appended to a deque on the
same thread, and the task calls `wake` so that a waiting owner returns at once.

One thread drives the loop at a time. Another thread (a control call, while the owner is busy
elsewhere, e.g. recovering after a restart) takes its turn: `run` waits for the loop up to its own
deadline and then raises TemporaryError naming the thread that holds it; `wait` and `service` skip
their pass if the loop is taken (its holder drives the tasks meanwhile). A coroutine that calls back
into `run` gets a RuntimeError, never a deadlock.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import zmq

from cluster.foundation.domain.errors import TemporaryError

T = TypeVar("T")
SERVICE_ROUNDS = 4  # loop iterations per service(): enough for a socket read to reach its reader task
CLOSE_WAIT_S = 10.0


class LoopIO:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._driving = threading.Lock()
        self._driver: threading.Thread | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._woken = False

    @property
    def closed(self) -> bool:
        return self.loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float, what: str) -> T:
        """Drive the loop until `coro` is done; after timeout_s it is cancelled and TemporaryError names it."""
        if not self._enter(timeout_s):
            coro.close()
            raise TemporaryError(f"{self.name}: {what} waited {timeout_s}s for the event loop, driven by "
                                 f"thread {self._holder()}")
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, timeout_s))
        except TimeoutError:
            raise TemporaryError(f"{self.name}: {what} did not finish within {timeout_s}s") from None
        finally:
            self._leave()

    def wait(self, sockets: Sequence[zmq.Socket[bytes]], timeout_s: float) -> bool:
        """Drive the loop until one of `sockets` has a message to read, `wake` is called, or timeout_s
        passes: True if a message or a wake came, False if the time ran out."""
        if self._take_wake() or any(_readable(s) for s in sockets):
            return True
        started = time.monotonic()
        if not self._enter(timeout_s):  # another thread drives the loop (and its tasks) meanwhile
            return self._take_wake()
        try:
            remaining = timeout_s - (time.monotonic() - started)
            return self.loop.run_until_complete(self._wait(sockets, remaining))
        finally:
            self._leave()

    def service(self) -> None:
        """A short pass without blocking: tasks whose input is already there get to run."""
        if not self._enter(0):
            return  # another thread is driving them right now
        try:
            self.loop.run_until_complete(_rounds(SERVICE_ROUNDS))
        finally:
            self._leave()

    def wake(self) -> None:
        """From a task on this loop: something was delivered, the owner's `wait` returns now."""
        self._woken = True
        self._poke()

    def close(self) -> None:
        """Cancel the tasks still running (each gets to clean up) and close the loop."""
        if self.closed:
            return
        if not self._enter(CLOSE_WAIT_S):
            raise TemporaryError(f"{self.name}: could not close, the loop is driven by thread {self._holder()}")
        try:
            self.loop.run_until_complete(_cancel_all(asyncio.all_tasks(self.loop)))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self._leave()
            self.loop.close()

    def _take_wake(self) -> bool:
        woken, self._woken = self._woken, False
        return woken

    def _enter(self, timeout_s: float) -> bool:
        """Take the loop within timeout_s (False if another thread keeps it); re-entry is an error."""
        me = threading.current_thread()
        if self._driver is me:
            raise RuntimeError(f"{self.name}: the event loop is already driven by this thread, from inside the loop")
        if not self._driving.acquire(timeout=max(0.0, timeout_s)):
            return False
        self._driver = me
        return True

    def _holder(self) -> str:
        driver = self._driver
        return driver.name if driver is not None else "?"

    def _leave(self) -> None:
        self._driver = None
        self._driving.release()

    async def _wait(self, sockets: Sequence[zmq.Socket[bytes]], timeout_s: float) -> bool:
        deadline = self.loop.time() + timeout_s
        fds = [int(s.getsockopt(zmq.FD)) for s in sockets]
        for fd in fds:
            self.loop.add_reader(fd, self._poke)
        try:
            while (remaining := deadline - self.loop.time()) > 0:
                self._waiter = self.loop.create_future()
                try:
                    await asyncio.wait_for(self._waiter, remaining)
                except TimeoutError:
                    return False
                # a socket's FD also stirs for zmq's own commands (a peer connecting): only a message counts
                if self._take_wake() or any(_readable(s) for s in sockets):
                    return True
            return False
        finally:
            self._waiter = None
            for fd in fds:
                self.loop.remove_reader(fd)

    def _poke(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _readable(sock: zmq.Socket[bytes]) -> bool:
    """Also processes the socket's pending commands: its FD is then quiet until something new arrives."""
    return bool(int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN)


async def _cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _rounds(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)
