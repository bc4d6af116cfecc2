"""MarketDataActor: reads a source, keeps order books, publishes batches on the market-data bus.

Each batch goes out as one envelope per shard of symbols (topic md.s<N>, bus.shard_topic) followed
by a BatchEnd on the control topic, which every consumer subscribes to: it tells them the batch is complete. In replay
the feed keeps at most `bus.window_batches` batches ahead of execution's settlement, so a fast feed
can never outrun the pipeline (lossless, deterministic); live it simply publishes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from actors.market_data.batcher import MarketDataShards, batches
from actors.market_data.book import BookKeeper
from actors.market_data.history import BatchHistory
from actors.market_data.journal import LiveJournal
from actors.market_data.synthetic import SyntheticSource
from cluster.foundation.domain.errors import DataError, DependencyDown
from cluster.foundation.domain.settings import Settings
from cluster.foundation.domain.wire import Bar, BatchEnd, Message, Quote, Settled, Trade
from cluster.foundation.runtime import bus, ray_calls
from cluster.foundation.runtime.actor_base import ActorShell
from cluster.foundation.runtime.metrics import EVENTS_OUT, MARKET_DATA_LAST_BATCH, Metrics
from cluster.foundation.runtime.observability import BusLossExporter, declare_no_alpaca_feed
from cluster.foundation.storage.factory import make_state_store
from cluster.foundation.storage.market_files import open_source

MarketItem = Bar | Quote | Trade
LIVE_HISTORY_BATCHES = 5_000
RESEND_MAX_BATCHES = 500  # a restarted feed sends at most this much of its journal again


class MarketDataActor(ActorShell):
    name = "market_data"

    def __init__(self, settings: Settings, expected_subscribers: int) -> None:
        super().__init__(settings)
        b = settings.bus
        self.expected_subscribers = expected_subscribers
        self.pub = self.bind_channel(bus.MARKET_DATA, lambda addr: bus.Publisher(
            self.ctx, addr, source=self.name, bind=True, max_message_bytes=b.max_message_bytes, hwm=b.send_hwm, when_full=b.when_full, security=self.bus_security))
        self.reports = self.peer_channel(bus.REPORTS, bus.Subscriber(
            self.ctx, None, topics=[bus.topic(bus.REPORTS, bus.CONTROL)], bind=False, max_message_bytes=b.max_message_bytes))
        self.shards = MarketDataShards()
        self.books = BookKeeper(on_anomaly=lambda a: self._count("book_anomalies"))
        self.replay = settings.market_data.source != "alpaca"
        self.retained = BatchHistory(maxlen=None if self.replay else LIVE_HISTORY_BATCHES)
        self.metrics = Metrics()
        self.bus_loss = BusLossExporter(self.metrics, self.log, self.name)
        if self.replay:
            declare_no_alpaca_feed(self.metrics)
        # The Alpaca source, once wired here, calls cluster.foundation.runtime.observability.export_feed_status(self.metrics,
        # feed, alpaca_feed.status()) once per published batch (alpaca_websocket_connected{feed}).
        self.batch = 0
        self.settled = 0
        self.events = 0
        self.bars = 0
        self.state = "idle"
        self.data_errors: list[str] = []
        self.counters: dict[str, int] = {}
        self.first_publish: float | None = None
        self.last_publish: float | None = None
        self._source: Iterator[list[MarketItem]] | None = None
        self._resume_after = 0
        self._lookahead: list[MarketItem] | None = None
        self._live: Any = None  # LiveFeedPump when source == "alpaca"
        self.repo: Any = None  # the live feed's risk events store
        self._paused = False
        self._publishing = False
        self._start_request: int | None = None
        self._finish_wanted = False
        self._waiting_since = 0.0
        self.journal: LiveJournal | None = None
        self._resume_bars: dict[str, int] = {}
        self._resend: list[tuple[int, list[MarketItem], bool]] = []
        self.restarted = ray_calls.was_reconstructed()
        self.start_loop()

    def recover(self) -> None:
        """A feed restarted by Ray resumes after the last batch the risk actor decided: replay
        regenerates the batches before it (the source is deterministic) without publishing them, so
        its history and numbering are what they were; the live feed resumes from its journal."""
        if not self.replay:
            self.journal = LiveJournal(make_state_store(self.settings))
        if not self.restarted:
            return
        if self.journal is not None:
            self._recover_live(self.journal)
            return
        risk = ray_calls.get_actor("risk", self.settings.ray.namespace)
        decided = int(ray_calls.call(risk, "awaiting_batch")) - 1 if risk is not None else 0
        self._resume_after = max(self._resume_after, decided)
        self.settled = max(self.settled, decided)
        self.log.warning("market data restarted: resumes after batch %d once the feed is started", decided,
                         extra={"actor": self.name, "correlation_id": "restart"})

    def _recover_live(self, journal: LiveJournal) -> None:
        """Numbering, history and per-symbol bar times from the journal; the batches execution may not have
        settled are sent again (consumers drop what they had), and the feed backfills after the journal."""
        tail, self._resume_bars = journal.restore(LIVE_HISTORY_BATCHES)
        self.retained.extend(tail)
        self.batch = tail[-1][0] if tail else 0
        self.events = sum(len(items) for _, items, _ in tail)  # published by the earlier process
        self.bars = sum(1 for _, items, _ in tail for m in items if isinstance(m, Bar))
        self._resume_after = self.batch
        execution = ray_calls.get_actor("execution", self.settings.ray.namespace)
        settled = int(ray_calls.call(execution, "last_order_batch")) if execution is not None else 0
        self.settled = settled
        self._resend = [entry for entry in tail if entry[0] > settled][-RESEND_MAX_BATCHES:]
        self.log.warning("live feed restarted after batch %d: sends %d journaled batches again, then backfills",
                         self.batch, len(self._resend), extra={"actor": self.name, "correlation_id": "restart"})

    # ---- control plane -------------------------------------------------------------------------

    def start_feed(self, resume_after_batch: int = 0) -> bool:
        """Begin publishing (batches <= resume_after_batch are skipped: a restarted feed resumes).
        Idempotent: False when the feed was already started."""
        if self._start_request is not None or self.state != "idle":
            return False
        self._start_request = resume_after_batch
        return True

    def pause(self, timeout_s: float = 10.0) -> int:
        """Stop after the batch being published; returns the last batch published (for re-partitioning)."""
        self._paused = True
        deadline = time.monotonic() + timeout_s
        while self._publishing and time.monotonic() < deadline:
            time.sleep(0.001)
        return self.batch

    def resume(self) -> None:
        self._paused = False

    def history(
        self, symbols: list[str] | None, after_batch: int = 0
    ) -> tuple[list[tuple[int, list[MarketItem], bool]], int]:
        """Batches after `after_batch`, filtered to `symbols` (None: all); empty batches are kept, they
        are watermarks."""
        rows = self.retained.after(after_batch)
        if symbols is None:
            return rows, self.batch
        wanted = set(symbols)
        out = [(k, [m for m in items if m.symbol in wanted], final) for k, items, final in rows]
        return out, self.batch

    def finish(self) -> None:
        """Live: publish what the feed delivered so far, then a final batch (the data has ended). A feed
        that is not open yet (restarting) finishes as soon as it is."""
        self._finish_wanted = True
        if self._live is not None:
            self._live.request_finish()

    def stats(self) -> dict[str, Any]:
        wall = (self.last_publish or 0) - (self.first_publish or 0)
        return {
            "state": self.state, "batch": self.batch, "settled": self.settled, "events": self.events, "bars": self.bars,
            "publish_seconds": wall, "first_publish": self.first_publish, "publisher": bus.stats_dict(self.pub.stats),
            "reports": bus.stats_dict(self.reports.stats), "data_errors": len(self.data_errors),
            "data_error_samples": self.data_errors[:5], "failure": self.failure, **self.counters,
            "alpaca": self._live.status() if self._live is not None else None,
            **self.shell_stats(), "restarted": self.restarted, "resumed_after": self._resume_after,
        }

    def book(self, symbol: str) -> dict[str, Any] | None:
        book = self.books.books.get(symbol)
        if book is None:
            return None
        snap = book.snapshot()
        return {"symbol": symbol, "bids": snap.bids, "asks": snap.asks, "ts_ns": snap.ts_ns}

    def close(self) -> None:
        self.stop()
        if self._live is not None:
            self._live.close()
        if self.repo is not None:
            self.repo.flush()
            self.repo.close()
        self.pub.close()
        self.reports.close()

    # ---- data plane ----------------------------------------------------------------------------

    def _open(self) -> Iterator[list[MarketItem]]:
        md = self.settings.market_data
        if md.source == "synthetic":
            stream: Any = SyntheticSource(md.synthetic_symbols, md.synthetic_events_per_s, md.synthetic_seconds,
                                          md.synthetic_seed)
        elif md.source == "replay":
            files = [self.settings.resolve(f) for f in md.files]
            stream = open_source(files, md.start, md.end, set(self.settings.signal.universe), on_error=self._data_error)
        else:
            from actors.market_data.live import open_alpaca_pump
            from cluster.foundation.storage.factory import make_repository

            self.repo = make_repository(self.settings, self.name)
            self._live = open_alpaca_pump(self.settings, self.repo.record_risk_event, self.metrics,
                                          resume_after=self._resume_bars)
            if self._finish_wanted:
                self._live.request_finish()
            return iter(())
        return batches(stream, md.batch_bars)

    def _data_error(self, err: DataError) -> None:
        self.data_errors.append(str(err))
        self.log.error("bad market data row: %s", err)

    def _count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def step(self) -> None:
        if self.state == "idle":
            if self._start_request is None:
                self._read_reports(timeout_ms=20)
                return
            self._resume_after = max(self._resume_after, self._start_request)
            self._source = self._open()
            self.state = "waiting_for_subscribers"
            self._waiting_since = time.monotonic()
        if self.state == "waiting_for_subscribers":
            ctl = bus.topic(bus.MARKET_DATA, bus.CONTROL)
            idle = self._live.wait if self._live is not None else None  # the feed's connection runs meanwhile
            if self.pub.wait_for_subscribers(ctl, self.expected_subscribers, timeout_s=0.2, idle=idle):
                self.state = "running"
                self.log.info("all %d subscribers connected; publishing", self.expected_subscribers)
                return
            if time.monotonic() - self._waiting_since > self.settings.bus.connect_timeout_s:
                have = sum(c for p, c in self.pub.poll_subscriptions().items() if ctl.startswith(p))
                raise DependencyDown(
                    f"{self.name} on node {self.node_address()} waited {self.settings.bus.connect_timeout_s:.0f}s "
                    f"for {self.expected_subscribers} subscribers on {self.pub.address}; {have} connected")
            return
        if self.state != "running" or self._paused:
            if self._live is not None:
                self._live.wait(0.005)  # paused: the feed's connection still runs (and keeps what arrives)
            else:
                time.sleep(0.005)
            return
        assert self._source is not None
        if self._live is not None:
            self._step_live()
            return
        window = self.settings.bus.window_batches
        if self.replay and self.batch - self.settled >= window:
            self._read_reports(timeout_ms=20)
            return
        self._read_reports(timeout_ms=0)
        self._publishing = True
        try:
            if not self._paused:
                self._publish_next()
        finally:
            self._publishing = False

    def _step_live(self) -> None:
        self._read_reports(timeout_ms=0)
        resend, self._resend = self._resend, []
        for k, items, final in resend:  # a restarted feed: the journal's tail again, identical
            self._send(k, items, final)
        due, final = self._live.take()
        for i, items in enumerate(due):
            self._publish(items, final=final and i == len(due) - 1)
        if final and not due:
            self._publish([], final=True)
        if not due:
            self._live.wait(0.002)  # drives the feed's connection; returns at once when it delivers

    def _read_reports(self, timeout_ms: int) -> None:
        for _, env in self.reports.recv(timeout_ms):
            for item in env.items:
                if isinstance(item, Settled):
                    self.settled = max(self.settled, item.batch)

    def _publish_next(self) -> None:
        assert self._source is not None
        items = self._lookahead if self._lookahead is not None else next(self._source, None)
        if items is None:
            self._publish([], final=True)  # an empty source still ends with a final watermark
            return
        # One batch of lookahead, so that the last real batch carries final=True.
        self._lookahead = next(self._source, None)
        if self.batch + 1 > self._resume_after:  # batches regenerated after a restart go out at once
            self._pace(items)
        self._publish(items, final=self._lookahead is None)

    def _publish(self, items: list[MarketItem], final: bool) -> None:
        k = self.batch + 1
        if self.journal is not None:
            self.journal.write(k, items, final)  # before sending: a restarted feed sends it again, identical
        self.retained.append(k, items, final)  # before sending: a consumer that saw k can fetch it
        for item in items:  # batches a restarted feed regenerates were published before: they count
            if isinstance(item, Quote):
                self.books.apply(item)
            elif isinstance(item, Bar):
                self.bars += 1
        self.events += len(items)
        if k > self._resume_after:
            self._send(k, items, final)
        self.batch = k
        if final:
            self.state = "done"

    def _send(self, k: int, items: list[MarketItem], final: bool) -> None:
        for shard, msgs in self.shards.split(items).items():
            self.pub.send(shard, msgs)
        end: list[Message] = [BatchEnd(k, items[-1].ts_ns if items else 0, final)]
        self.pub.send(bus.topic(bus.MARKET_DATA, bus.CONTROL), end)
        now = time.time()
        self.first_publish = self.first_publish or now
        self.last_publish = now
        self.metrics.inc(EVENTS_OUT, len(items) + 1, actor=self.name)
        self.bus_loss.export(publishers={"market_data": self.pub.stats})
        if items:
            self.metrics.set(MARKET_DATA_LAST_BATCH, items[-1].ts_ns / 1e9, feed=self.settings.market_data.source)

    def _pace(self, items: list[MarketItem]) -> None:
        speed = self.settings.market_data.speed
        if speed <= 0 or not items:
            return
        ts = items[0].ts_ns
        if not hasattr(self, "_t0"):
            self._t0 = (time.monotonic(), ts)
        wall0, ev0 = self._t0
        delay = wall0 + (ts - ev0) / 1e9 / speed - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, 5.0))

