"""AlpacaFeed: the live market-data websocket (stocks v2 iex/sip, crypto v1beta3) behind a polled facade.

The market-data actor's loop is synchronous, aiohttp is not: like AlpacaBroker, the session and the
socket live on an asyncio loop that the owner's thread drives (cluster/foundation/runtime/loop_io.py), in
poll(), wait() and the other facade calls. The connection task parses and orders each frame (the pure
FeedParser and FeedSequencer) and appends the wire messages to a deque on that same thread, then wakes
the owner's wait; poll() drains the deque. No thread hands anything to another.

A connection counts as lost on a close, a missed pong (aiohttp heartbeat: ping every
ping_interval_s, lost when no pong within half of it) or silence for idle_timeout_s. The client
then waits reconnect_delay_s, reconnects, re-authenticates, re-subscribes and backfills the gap
from the REST historical bars before any further live message is released. After
down_after_failures failed attempts in a row it reports a critical "feed_down" event and keeps
trying with a capped, doubling delay. Bad input is counted and reported, never fatal; should the
connection task die all the same, it is reported, counted (task_restarts) and started again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec

from actors.market_data.alpaca_feed_config import AlpacaFeedConfig
from actors.market_data.alpaca_feed_history import fetch_bars
from actors.market_data.alpaca_feed_parse import Control, FeedItem, FeedParser, FrameProblem
from actors.market_data.alpaca_feed_sequence import FeedSequencer, Released
from cluster.foundation.domain.errors import DependencyDown, TemporaryError
from cluster.foundation.domain.records import RiskEvent, Severity
from cluster.foundation.runtime.loop_io import LoopIO

__all__ = ["AlpacaFeed", "AlpacaFeedConfig"]
log = logging.getLogger(__name__)
OnEvent = Callable[[RiskEvent], None]
_AUTH_REFUSED = (401, 402, 404, 406, 409, 411)  # refusals of the handshake by error code


class _HandshakeFailed(Exception):
    """The server answered the handshake with something other than success."""


class AlpacaFeed:
    def __init__(self, config: AlpacaFeedConfig, *, on_event: OnEvent | None = None,
                 clock: Callable[[], int] = time.time_ns, sequencer: FeedSequencer | None = None,
                 io: LoopIO | None = None) -> None:
        self.config = config
        self._on_event = on_event
        self._clock = clock
        self._queue: deque[FeedItem] = deque()
        self._events: deque[RiskEvent] = deque(maxlen=10_000)
        self._parser = FeedParser(msgpack=config.encoding == "msgpack", book_depth=config.book_depth)
        self._sequencer = sequencer or FeedSequencer()
        self._counts: Counter[str] = Counter()
        self.io = io or LoopIO("alpaca-feed")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._connected = False
        self._established = False
        self._ever_connected = False
        self._failures = 0
        self._down = False
        self._last_message_mono: float | None = None
        self._lost_at_ns: int | None = None
        self._last_error = ""

    # ---- facade (the owner's thread; status() from any) ------------------------------------------
    def start(self) -> AlpacaFeed:
        self._task = self.io.run(self._spawn(), 10, "starting the feed")
        return self

    def resume_after(self, last_bar_ts: dict[str, int]) -> None:
        """Before start(): bars up to these times were delivered by an earlier feed. The first connection
        backfills from just after the oldest of them, and nothing at or before them is delivered again."""
        self._sequencer.seed_bars(last_bar_ts)
        if last_bar_ts:
            self._lost_at_ns = min(last_bar_ts.values()) + 1

    def wait_connected(self, timeout_s: float) -> bool:
        """Drive the loop until the feed is connected and subscribed, or timeout_s passes."""
        deadline = time.monotonic() + timeout_s
        while not self._connected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.io.wait([], remaining)
        return True

    def wait(self, timeout_s: float) -> bool:
        """Drive the loop until something is delivered (items or events) or timeout_s passes."""
        return bool(self._queue) or self.io.wait([], timeout_s)

    def poll(self, max_items: int = 10_000) -> list[FeedItem]:
        if not self.io.closed:
            self.io.service()  # frames already in the socket are read and parsed first
        out: list[FeedItem] = []
        queue = self._queue
        while queue and len(out) < max_items:
            out.append(queue.popleft())
        return out

    def take_events(self) -> list[RiskEvent]:
        out: list[RiskEvent] = []
        while self._events:
            out.append(self._events.popleft())
        return out

    def stop(self) -> None:
        self._stopping = True
        if self.io.closed:
            return
        try:
            if self._task is not None:
                self.io.run(self._cancel_current(), 10, "stopping the feed")
        finally:
            self.io.close()
            self._connected = False

    def status(self) -> dict[str, Any]:
        """Health for the actor and metrics: `connected` drives alpaca_websocket_connected."""
        seq = self._sequencer
        last = self._last_message_mono
        task = self._task
        running = task is not None and not task.done()
        return {
            "connected": running and self._connected,
            "task_alive": running,
            "task_restarts": self._counts["task_restarts"],
            "connects": self._counts["connects"],
            "reconnects": self._counts["reconnects"],
            "consecutive_failures": self._failures,
            "feed_down": self._down,
            "last_message_age_s": None if last is None else time.monotonic() - last,
            "delivered": self._counts["delivered"],
            "queued": len(self._queue),
            "backfilled": seq.backfilled,
            "backfill_overlap": seq.backfill_overlap,
            "backfill_failures": self._counts["backfill_failures"],
            "duplicates": seq.duplicates,
            "out_of_order": seq.out_of_order,
            "bad_frames": self._counts["bad_frame"],
            "bad_messages": self._counts["bad_message"],
            "unknown_messages": self._counts["unknown_type"],
            "ignored_messages": self._counts["ignored"],
            "server_errors": self._counts["server_errors"],
            "auth_failures": self._counts["auth_failures"],
            "idle_timeouts": self._counts["idle_timeouts"],
            "holding_for_backfill": seq.holding,
            "last_error": self._last_error,
        }

    # ---- connection loop (tasks on the loop) --------------------------------------------------------
    async def _spawn(self) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._run_forever())
        task.add_done_callback(self._on_task_done)
        self._task = task
        return task

    async def _cancel_current(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """The connection loop only ends when stopped; if anything else ends it, say so and restart it."""
        if self._stopping or task.cancelled():
            return
        self._connected = False
        exc = task.exception()
        self._counts["task_restarts"] += 1
        self._last_error = f"feed task died: {type(exc).__name__}: {exc}" if exc else "feed task ended"
        log.error("alpaca feed: %s", self._last_error, exc_info=exc)
        self._emit("feed_task_died", "critical", f"market-data feed {self.config.url}: {self._last_error}; "
                   "restarting it", url=self.config.url)
        if self._lost_at_ns is None:
            self._lost_at_ns = self._clock()
        self.io.loop.call_later(self.config.reconnect_delay_s, self._restart)

    def _restart(self) -> None:
        if not self._stopping:
            asyncio.ensure_future(self._spawn(), loop=self.io.loop)

    async def _run_forever(self) -> None:
        timeout = aiohttp.ClientTimeout(sock_connect=self.config.handshake_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                self._established = False
                try:
                    await self._connect_once(session)
                    self._last_error = "connection closed by the server"
                except _HandshakeFailed as exc:
                    self._last_error = str(exc)
                except (aiohttp.ClientError, TimeoutError, ConnectionError, OSError) as exc:
                    self._last_error = f"{type(exc).__name__}: {exc}"
                self._connected = False
                if self._lost_at_ns is None:
                    self._lost_at_ns = self._clock()
                await asyncio.sleep(self._after_attempt())

    def _after_attempt(self) -> float:
        """Count the attempt, report an outage once, and return how long to wait before the next."""
        cfg = self.config
        if self._established:
            self._failures = 0
            log.warning("alpaca feed lost: %s; reconnecting in %.1fs", self._last_error, cfg.reconnect_delay_s)
            return cfg.reconnect_delay_s
        self._failures += 1
        self._counts["failed_attempts"] += 1
        if self._failures >= cfg.down_after_failures and not self._down:
            self._down = True
            self._emit("feed_down", "critical",
                       f"market-data feed {cfg.url} down: {self._failures} failed connects in a row "
                       f"({self._last_error})", url=cfg.url, failures=self._failures)
        return min(cfg.reconnect_max_s, cfg.reconnect_delay_s * 2 ** (self._failures - 1))

    async def _connect_once(self, session: aiohttp.ClientSession) -> None:
        cfg = self.config
        headers = {"Content-Type": "application/msgpack"} if cfg.encoding == "msgpack" else None
        async with session.ws_connect(cfg.url, heartbeat=cfg.ping_interval_s, headers=headers) as ws:
            await self._expect(ws, "success", "connected")
            await self._send(ws, {"action": "auth", "key": cfg.key_id.get_secret_value(),
                                  "secret": cfg.secret_key.get_secret_value()})
            await self._expect(ws, "success", "authenticated")
            await self._send(ws, cfg.subscription())
            await self._expect(ws, "subscription", "")
            self._on_established()
            backfill = self._start_backfill(session) if self._lost_at_ns is not None else None
            self._lost_at_ns = None
            try:
                await self._read(ws)
            finally:
                if backfill is not None and not backfill.done():
                    backfill.cancel()  # live messages stay held; the next connection backfills them

    def _on_established(self) -> None:
        self._established = True
        self._failures = 0
        self._counts["connects"] += 1
        if self._ever_connected:
            self._counts["reconnects"] += 1
        self._ever_connected = True
        self._last_message_mono = time.monotonic()
        self._connected = True
        self.io.wake()
        if self._down:
            self._down = False
            self._emit("feed_restored", "info", f"market-data feed {self.config.url} connected again")

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
        if self.config.encoding == "msgpack":
            await ws.send_bytes(msgspec.msgpack.encode(message))
        else:
            await ws.send_str(msgspec.json.encode(message).decode())

    async def _expect(self, ws: aiohttp.ClientWebSocketResponse, kind: str, msg: str) -> None:
        """Read until a control arrives; anything but the expected one fails the handshake."""
        while True:
            frame = await ws.receive(timeout=self.config.handshake_timeout_s)
            if frame.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                raise _HandshakeFailed(f"socket closed during the handshake, waiting for {kind} {msg!r}")
            parsed = self._parser.parse(frame.data)
            self._report_problems(parsed.problems)
            for control in parsed.controls:
                if control.kind == kind and (not msg or control.msg == msg):
                    return
                self._handshake_refused(control, kind, msg)

    def _handshake_refused(self, control: Control, kind: str, msg: str) -> None:
        if control.kind == "error" and control.code in _AUTH_REFUSED:
            self._counts["auth_failures"] += 1
            self._emit("feed_auth_failed", "critical",
                       f"market-data feed refused the handshake: error {control.code} {control.msg!r}",
                       code=control.code, url=self.config.url)
        raise _HandshakeFailed(f"expected {kind} {msg!r}, got {control.kind} {control.code} {control.msg!r}")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        idle = self.config.idle_timeout_s
        while True:
            try:
                frame = await ws.receive(timeout=idle)
            except TimeoutError:
                self._counts["idle_timeouts"] += 1
                raise ConnectionError(f"no message for {idle}s") from None
            if frame.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                self._last_message_mono = time.monotonic()
                self._on_frame(frame.data)
            elif frame.type == aiohttp.WSMsgType.ERROR:
                raise ConnectionError(f"websocket error: {ws.exception()!r}")
            elif frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return

    def _on_frame(self, data: bytes | str) -> None:
        try:
            parsed = self._parser.parse(data)
        except Exception as exc:  # the parser promises not to raise; a frame must never stop the feed
            self._report_problems([FrameProblem("bad_frame", f"unparseable frame ({type(exc).__name__}: "
                                                             f"{str(exc)[:200]}): {data[:80]!r}")])
            return
        self._counts["ignored"] += parsed.ignored
        self._report_problems(parsed.problems)
        for control in parsed.controls:
            if control.kind == "error":
                self._counts["server_errors"] += 1
                self._emit("feed_server_error", "warning", f"feed error {control.code}: {control.msg}",
                           code=control.code)
        if parsed.items:
            self._deliver(self._sequencer.live(parsed.items))

    def _deliver(self, released: Released) -> None:
        self._queue.extend(released.delivered)
        self._counts["delivered"] += len(released.delivered)
        if released.delivered:
            self.io.wake()
        for late in released.out_of_order:
            self._emit("feed_out_of_order", "warning",
                       f"{late.kind} {late.symbol} stamped {late.ts_ns} after {late.last_ts_ns}: dropped",
                       symbol=late.symbol, kind=late.kind, ts_ns=late.ts_ns, last_ts_ns=late.last_ts_ns)

    def _report_problems(self, problems: list[Any]) -> None:
        for problem in problems:
            self._counts[problem.kind] += 1
            self._emit(f"feed_{problem.kind}", "warning", problem.detail)

    # ---- backfill ---------------------------------------------------------------------------------
    def _start_backfill(self, session: aiohttp.ClientSession) -> asyncio.Task[None] | None:
        if not self.config.backfill:
            return None
        self._sequencer.hold()
        return asyncio.get_running_loop().create_task(self._backfill(session, self._lost_at_ns))

    async def _backfill(self, session: aiohttp.ClientSession, lost_at_ns: int | None) -> None:
        cfg = self.config
        symbols = sorted({s for s in cfg.bars if s != "*"} | set(self._sequencer.bar_symbols()))
        start = self._sequencer.backfill_start_ns() or lost_at_ns
        bars = []
        if symbols and start is not None:
            headers = cfg.auth_headers()
            try:
                bars = await fetch_bars(
                    session, cfg.history_url, headers, symbols=symbols, start_ns=start, end_ns=self._clock(),
                    crypto=cfg.asset_class == "crypto", crypto_location=cfg.crypto_location, feed=cfg.feed,
                )
            except (TemporaryError, DependencyDown) as exc:
                self._counts["backfill_failures"] += 1
                self._emit("feed_backfill_failed", "warning", f"backfill after reconnect failed: {exc}")
        self._deliver(self._sequencer.release(bars))

    def _emit(self, event_type: str, severity: Severity, message: str, **metadata: Any) -> None:
        event = RiskEvent(event_type=event_type, severity=severity, message=message,
                          occurred_at_ns=self._clock(), metadata=metadata)
        (log.error if severity != "info" else log.info)("alpaca feed: %s", message)
        self._events.append(event)
        self.io.wake()
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a failing consumer callback must not stop the feed
                log.exception("alpaca feed event callback failed")
