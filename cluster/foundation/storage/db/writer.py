"""Write-behind writer: callers enqueue ops; one thread commits them in batches, in order.

Outage handling: a connection error turns the writer DEGRADED. It keeps accepting ops, retries
with capped exponential backoff, and when the bounded memory queue is full it moves the whole
queue, in order, to the append-only journal (one fsync per spill). The journal always holds
older ops than memory, so the writer drains the journal first, then memory, and commits ops in
the order they were enqueued. After reconnecting it returns to OK. Each transition is logged on
logger "trading.db" and kept in `transitions`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal

import msgspec
from sqlalchemy import Engine

from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.records import RiskEvent
from cluster.foundation.storage.db.engine import is_connection_error
from cluster.foundation.storage.db.journal import Journal
from cluster.foundation.storage.db.ops import Op, RiskOp
from cluster.foundation.storage.db.store import FactsCache, PartitionCache, apply_ops

log = logging.getLogger("trading.db")
Status = Literal["ok", "degraded"]


class Transition(msgspec.Struct, frozen=True):
    status: Status
    at_ns: int
    detail: str


@dataclass(frozen=True, slots=True)
class WriterOptions:
    """How the writer batches and retries (the repository passes them through)."""

    queue_max: int = 10_000  # ops held in memory before the queue is spilled to the journal
    batch_max: int = 2_000  # ops in one commit at most
    linger_s: float = 0.0  # how long a short batch waits for more ops (a flush or close never waits)
    retry_initial_s: float = 0.05  # first back-off after a connection error, doubled up to retry_max_s
    retry_max_s: float = 5.0

    def __post_init__(self) -> None:
        if self.queue_max < 1 or self.batch_max < 1:
            raise ValueError("queue_max and batch_max must be >= 1")
        if self.linger_s < 0:
            raise ValueError(f"linger_s must be >= 0, got {self.linger_s}")


DEFAULT_OPTIONS = WriterOptions()


class WriteBehindWriter:
    def __init__(
        self,
        engine: Engine,
        journal: Journal,
        options: WriterOptions = DEFAULT_OPTIONS,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        dead_letter_path: Path | None = None,
    ) -> None:
        self._engine = engine
        self._journal = journal
        self._queue_max, self._batch_max = options.queue_max, options.batch_max
        self._retry_initial_s, self._retry_max_s = options.retry_initial_s, options.retry_max_s
        self._linger_s = options.linger_s
        self._clock_ns = clock_ns
        self._dead_letter = Journal(dead_letter_path or journal.path.with_suffix(".rejected"))
        self._cond = threading.Condition()  # guards queue, journal, seq numbers and status
        self._queue: deque[Op] = deque()
        self._seq = journal.max_seq  # continue after a leftover journal, replayed first
        self._committed = 0
        self._status: Status = "ok"
        self._degraded_since_ns = 0
        self._journaled_in_outage = 0
        self._stopping = False
        self._flushing = 0  # callers waiting in flush(): the writer does not linger for them
        self._wake = threading.Event()
        self.facts = FactsCache()
        self._partitions = PartitionCache()
        self.transitions: list[Transition] = []
        self.counters = {"written": 0, "journaled": 0, "dead_lettered": 0, "batches": 0, "retries": 0}
        if journal.unread():
            log.info("journal %s holds %d ops from a previous run: replaying them first", journal.path, journal.frames)
        self._thread = threading.Thread(target=self._run, name="trading-db-writer", daemon=True)
        self._thread.start()

    # ----- caller side -----
    @property
    def status(self) -> Status:
        return self._status

    def enqueue(self, make_op: Callable[[int], Op]) -> None:
        """Hot path: append to memory; if memory is full, spill it to the journal first."""
        with self._cond:
            self._seq += 1
            idle = not self._queue
            self._queue.append(make_op(self._seq))
            if len(self._queue) >= self._queue_max:
                self._spill_locked(())
            if idle or not self._linger_s or len(self._queue) >= self._batch_max:
                self._cond.notify()  # a lingering writer is woken only by a full batch

    def journal_now(self, make_op: Callable[[int], Op]) -> None:
        """Durable now: memory then this op go to the journal with one fsync (order kept)."""
        with self._cond:
            self._seq += 1
            self._spill_locked((make_op(self._seq),))
            self._cond.notify()

    def report_outage(self, error: BaseException) -> None:
        with self._cond:
            self._set_degraded(error)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every op enqueued so far is committed; DependencyDown if not within timeout_s."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._seq
            self._flushing += 1
            try:
                while self._committed < target:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise DependencyDown(
                            f"database writer is {self._status}: {target - self._committed} ops not yet written"
                        )
                    self._cond.notify_all()
                    self._cond.wait(min(remaining, 0.1))
            finally:
                self._flushing -= 1

    def health(self) -> dict[str, int | str]:
        with self._cond:
            up = 1 if self._status == "ok" else 0
            return {
                "status": self._status,
                "postgresql_up": up if self._engine.dialect.name == "postgresql" else 0,
                "database_up": up,
                "backend": self._engine.dialect.name,
                "queued": len(self._queue),
                "journal_bytes": self._journal.size(),
                **self.counters,
            }

    def close(self, timeout_s: float = 10.0) -> None:
        """Drain what can be drained; whatever is left in memory goes to the journal, not lost."""
        try:
            self.flush(timeout_s)
        except DependencyDown as exc:
            log.warning("closing while degraded: %s; keeping them in the journal", exc)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._wake.set()
        self._thread.join(timeout=max(timeout_s, 1.0))
        with self._cond:
            self._spill_locked(())
            self._journal.close()
            self._dead_letter.close()

    # ----- writer thread -----
    def _spill_locked(self, extra: Sequence[Op]) -> None:
        ops = [*self._queue, *extra]
        if not ops:
            return
        self._journal.append(ops)
        self._queue.clear()
        self.counters["journaled"] += len(ops)
        self._journaled_in_outage += len(ops)

    def _next_batch_locked(self) -> tuple[list[Op], int | None]:
        while self._journal.unread():
            ops, offset = self._journal.read_next(self._batch_max)
            fresh = [op for op in ops if op.seq > self._committed]
            if fresh:
                return fresh, offset
            self._journal.consume(offset)  # already written before they were spilled
            if not ops:
                break
        return list(islice(self._queue, self._batch_max)), None

    def _run(self) -> None:
        backoff = self._retry_initial_s
        while True:
            with self._cond:
                batch, offset = self._next_batch_locked()
                if not batch:
                    if self._stopping:
                        return
                    self._cond.wait(0.2)
                    continue
                if offset is None and len(batch) < self._batch_max and self._linger_s:
                    self._linger_locked()
                    batch, offset = self._next_batch_locked()  # what arrived meanwhile (journal first)
            try:
                self._write(batch)
            except Exception as exc:  # noqa: BLE001 - sorted into outage vs bad data right here
                self._partitions.clear()
                if is_connection_error(exc):
                    with self._cond:
                        self._set_degraded(exc)
                        if self._stopping:
                            return
                    self.counters["retries"] += 1
                    self._wake.wait(backoff)
                    backoff = min(backoff * 2, self._retry_max_s)
                    continue
                log.exception("batch of %d ops failed on bad data; writing them one by one", len(batch))
                if not self._write_one_by_one(batch):
                    continue
            self._commit(batch, offset)
            backoff = self._retry_initial_s

    def _linger_locked(self) -> None:
        """Let more ops join a short batch: one commit for many (a commit costs far more than a row).
        A full batch, a flush() waiting or close() ends the wait at once."""
        deadline = time.monotonic() + self._linger_s
        while not self._stopping and not self._flushing and len(self._queue) < self._batch_max:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _write(self, batch: Sequence[Op]) -> None:
        with self._engine.begin() as conn:
            apply_ops(conn, batch, self.facts, self._partitions)

    def _write_one_by_one(self, batch: Sequence[Op]) -> bool:
        """Isolate the op that cannot be written; it goes to the dead-letter file. False on an outage."""
        for op in batch:
            try:
                self._write([op])
            except Exception as exc:  # noqa: BLE001
                self._partitions.clear()
                if is_connection_error(exc):
                    return False
                log.error("op %d (%s) cannot be written, moved to %s: %s", op.seq, type(op).__name__,
                          self._dead_letter.path, exc)
                self._dead_letter.append([op])
                self.counters["dead_lettered"] += 1
        return True

    def _commit(self, batch: Sequence[Op], offset: int | None) -> None:
        with self._cond:
            self._committed = max(self._committed, batch[-1].seq)
            if offset is not None:
                self._journal.consume(offset)
                if not self._journal.unread():
                    log.info("journal drained: every spilled op is in the database")
            while self._queue and self._queue[0].seq <= self._committed:
                self._queue.popleft()
            self.counters["written"] += len(batch)
            self.counters["batches"] += 1
            if self._status == "degraded":
                self._set_ok()
            self._cond.notify_all()

    def _set_degraded(self, error: BaseException) -> None:
        if self._status == "degraded":
            return
        self._status, self._degraded_since_ns, self._journaled_in_outage = "degraded", self._clock_ns(), 0
        detail = str(getattr(error, "orig", error)).strip().splitlines()[0] if str(error) else type(error).__name__
        self.transitions.append(Transition("degraded", self._degraded_since_ns, detail))
        log.error("database unreachable, writer DEGRADED (%s): buffering %d ops in memory, spilling to journal %s "
                  "when %d are queued", detail, len(self._queue), self._journal.path, self._queue_max)

    def _set_ok(self) -> None:
        now = self._clock_ns()
        seconds = (now - self._degraded_since_ns) / 1e9
        self._status = "ok"
        detail = f"reconnected after {seconds:.1f}s; {self._journaled_in_outage} ops went through the journal"
        self.transitions.append(Transition("ok", now, detail))
        log.warning("database reachable again, writer OK: %s", detail)
        event = RiskEvent(event_type="database_outage", severity="warning", message=detail, occurred_at_ns=now,
                          metadata={"degraded_at_ns": self._degraded_since_ns, "recovered_at_ns": now,
                                    "journaled_ops": self._journaled_in_outage})
        self._seq += 1
        self._queue.append(RiskOp(seq=self._seq, event=event))
