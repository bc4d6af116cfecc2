"""LoopIO: the asyncio loop an actor's own thread drives, beside its ZeroMQ sockets."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import zmq

from cluster.foundation.domain.errors import TemporaryError
from cluster.foundation.runtime import bus
from cluster.foundation.runtime.loop_io import LoopIO


@pytest.fixture
def io() -> Iterator[LoopIO]:
    loop_io = LoopIO("test-io")
    yield loop_io
    loop_io.close()


@pytest.fixture
def pair() -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    yield push, pull
    push.close(0)
    pull.close(0)
    ctx.term()


def test_wait_when_a_message_arrives_while_waiting_then_returns_true_and_it_is_readable(
        io: LoopIO, pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]) -> None:
    push, pull = pair
    io.loop.call_later(0.05, push.send, b"tick")  # sent from the loop, while wait drives it
    assert io.wait([pull], timeout_s=30) is True
    assert pull.recv(zmq.NOBLOCK) == b"tick"


def test_wait_when_a_message_is_already_queued_then_returns_at_once(
        io: LoopIO, pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]) -> None:
    push, pull = pair
    push.send(b"early")
    assert pull.poll(5000)  # it is in the socket, and zmq has processed the arrival
    assert io.wait([pull], timeout_s=30) is True
    assert pull.recv(zmq.NOBLOCK) == b"early"


def test_wait_when_nothing_arrives_then_false_after_the_timeout(
        io: LoopIO, pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]) -> None:
    _, pull = pair
    assert io.wait([pull], timeout_s=0.05) is False


def test_wait_when_a_task_delivers_and_wakes_then_returns_true_with_the_task_run_on_this_thread(
        io: LoopIO, pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]) -> None:
    _, pull = pair
    delivered: list[str] = []

    async def reader() -> None:
        await asyncio.sleep(0.05)
        delivered.append(threading.current_thread().name)
        io.wake()

    io.loop.create_task(reader())
    assert io.wait([pull], timeout_s=30) is True
    assert delivered == [threading.current_thread().name]


def test_wake_when_it_happens_during_run_then_the_next_wait_returns_at_once(io: LoopIO) -> None:
    async def call_that_also_delivers() -> int:
        io.wake()
        return 7

    assert io.run(call_that_also_delivers(), 5, "a call") == 7
    assert io.wait([], timeout_s=30) is True
    assert io.wait([], timeout_s=0.01) is False  # taken once


def test_run_when_the_coroutine_overruns_then_cancelled_and_temporary_error_names_loop_and_call(io: LoopIO) -> None:
    cancelled: list[bool] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(TemporaryError, match=r"test-io: POST /v2/orders did not finish within 0.05s"):
        io.run(slow(), 0.05, "POST /v2/orders")
    assert cancelled == [True]


def test_run_when_called_from_inside_the_loop_then_runtime_error_not_a_deadlock(io: LoopIO) -> None:
    async def reenter() -> None:
        inner = asyncio.sleep(0)
        try:
            io.run(inner, 1, "inner")
        finally:
            inner.close()

    with pytest.raises(RuntimeError, match="test-io: the event loop is already driven by this thread"):
        io.run(reenter(), 5, "outer")


def _hold_in(io: LoopIO, name: str) -> tuple[threading.Thread, threading.Event, threading.Event]:
    """A thread named `name` that drives the loop until released."""
    inside, release = threading.Event(), threading.Event()

    async def hold() -> None:
        inside.set()
        while not release.is_set():
            await asyncio.sleep(0.01)

    driver = threading.Thread(target=io.run, args=(hold(), 30, "hold"), name=name)
    driver.start()
    assert inside.wait(10)
    return driver, inside, release


def test_run_when_another_thread_drives_the_loop_then_waits_its_turn_and_runs(io: LoopIO) -> None:
    driver, _, release = _hold_in(io, "owner-loop")
    threading.Timer(0.1, release.set).start()
    ran_on: list[str] = []

    async def mine() -> str:
        ran_on.append(threading.current_thread().name)
        return "mine"

    assert io.run(mine(), 10, "control call") == "mine"
    driver.join(10)
    assert ran_on == [threading.current_thread().name]


def test_run_when_the_loop_stays_taken_past_the_deadline_then_temporary_error_names_the_holder(io: LoopIO) -> None:
    driver, _, release = _hold_in(io, "owner-loop")
    try:
        with pytest.raises(TemporaryError, match=r"test-io: snapshot waited 0.05s for the event loop, "
                                                 r"driven by thread owner-loop"):
            io.run(asyncio.sleep(0), 0.05, "snapshot")
        assert io.wait([], 0.05) is False and io.service() is None  # the idle passes just skip their turn
    finally:
        release.set()
        driver.join(10)


def test_close_when_tasks_are_pending_then_each_is_cancelled_and_cleans_up() -> None:
    io = LoopIO("closing")
    cleaned: list[str] = []

    async def stream() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append("stream")

    io.loop.create_task(stream())
    io.service()
    io.close()
    assert cleaned == ["stream"] and io.closed
    io.close()  # twice is fine


def test_waiter_when_given_a_loop_then_waits_on_the_subscribers_through_it(io: LoopIO) -> None:
    ctx = zmq.Context()
    try:
        pub = bus.Publisher(ctx, "tcp://127.0.0.1:0", source="t", bind=True)
        sub = bus.Subscriber(ctx, pub.address, topics=[b"t."], bind=False)
        assert pub.wait_for_subscribers(b"t.", 1, timeout_s=10)
        waiter = bus.Waiter(sub, io=io)
        assert waiter.wait(10) is False
        io.loop.call_later(0.05, pub.send, b"t.x", [])
        assert waiter.wait(30_000) is True
        assert [t for t, _ in sub.recv(timeout_ms=1000)] == [b"t.x"]
        sub.close()
        pub.close()
    finally:
        ctx.term()
