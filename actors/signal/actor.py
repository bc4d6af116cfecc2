"""SignalActor: one per symbol group. Subscribes to its symbols only, runs SignalCore per batch.

Market data of a batch is buffered until its BatchEnd, then applied and answered with exactly one
SignalBatch (possibly empty: it is the group's watermark for that batch). Batches are numbered, so
a batch seen twice is ignored and a batch missed (a restart, a drop) is fetched from the market-data
actor's history before the next one is processed: the risk actor sees every batch exactly once.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from typing import Any

from actors.signal.core import SignalCore
from actors.signal.model_slot import ModelSlot
from actors.signal.strategy import RuleBasedBaseline
from cluster.foundation.domain.batches import BatchAssembler
from cluster.foundation.domain.settings import Settings
from cluster.foundation.domain.wire import Bar, BatchEnd, Quote, SignalBatch
from cluster.foundation.runtime import bus, ray_calls
from cluster.foundation.runtime.actor_base import ActorShell
from cluster.foundation.runtime.metrics import (
    EVENTS_IN,
    EVENTS_OUT,
    FEATURE_UPDATE_SECONDS,
    INFERENCE_SECONDS,
    MODEL_VERSION_INFO,
    PREDICTIONS,
    SIGNALS,
    Metrics,
)
from models.protocol import Model

SENT_HISTORY_BATCHES = 100_000
RESEND_BATCHES = 64  # sent again when risk moves: more than a replay window can hold undecided
MODEL_SWAP_TIMEOUT_S = 10.0


def load_model(settings: Settings) -> Model:
    if settings.signal.strategy == "rule_baseline":
        return RuleBasedBaseline(settings.signal)
    from models.registry import load_live_model  # the registry decides which version is live

    return load_live_model(settings)


def signal_actor_name(group: str) -> str:
    return f"signal-{group}"


class SignalActor(ActorShell):
    name = "signal"

    def __init__(
        self, settings: Settings, group: str, symbols: list[str], takes_over_after: int | None = None
    ) -> None:
        """takes_over_after=L: a group created while trading answers batches > L only, after warming its
        features and targets on the feed's history up to L."""
        super().__init__(settings)
        self.name = signal_actor_name(group)
        self.group = group
        self.symbols = list(symbols)
        self.core = SignalCore(group, self.symbols, load_model(settings), settings.signal.allow_short)
        b = settings.bus
        self._own = frozenset(self.symbols)  # a shard also carries other groups' symbols
        topics = sorted({bus.shard_topic(bus.MARKET_DATA, s) for s in self.symbols}) + [bus.topic(bus.MARKET_DATA, bus.CONTROL)]
        self.sub = self.peer_channel(bus.MARKET_DATA, bus.Subscriber(self.ctx, None, topics=topics, bind=False, max_message_bytes=b.max_message_bytes,
                                                                     hwm=b.recv_hwm))
        self.pub = self.peer_channel(bus.SIGNALS, bus.Publisher(self.ctx, None, source=self.name, bind=False, max_message_bytes=b.max_message_bytes,
                                                                hwm=b.send_hwm, fan_in=True))
        self.metrics = Metrics()
        self.last_batch = 0
        self.md_batches = BatchAssembler(accept=(Bar, Quote), symbols=self._own)
        self.bars_by_symbol: Counter[str] = Counter()
        self.sent: deque[SignalBatch] = deque(maxlen=SENT_HISTORY_BATCHES)
        self.signals_sent = 0
        self.recovered_batches = 0
        self.restarted = ray_calls.was_reconstructed()
        self.takes_over_after = takes_over_after
        self._distrust_live = self.restarted or takes_over_after is not None
        self.metrics.set(MODEL_VERSION_INFO, 1, version=self.core.model_version)
        self.model_slot = ModelSlot()
        self.start_loop()

    def recover(self) -> None:
        if self.restarted:
            self.log.warning("%s restarted by Ray: rebuilding state from market-data history", self.name,
                             extra={"actor": self.name, "group": self.group, "correlation_id": "restart"})
            self._recover()
        elif self.takes_over_after is not None:
            self._recover(awaiting=self.takes_over_after + 1)

    # ---- control plane -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "group": self.group, "symbols": self.symbols, "last_batch": self.last_batch,
            "signals": self.signals_sent, "restarted": self.restarted, "recovered_batches": self.recovered_batches,
            "subscriber": bus.stats_dict(self.sub.stats), "batches": dict(vars(self.md_batches.stats)),
            "bars_by_symbol": dict(self.bars_by_symbol),
            "core": self.core.stats(), "failure": self.failure, **self.shell_stats(),
        }

    def signal_history(self, upto: int | None = None) -> list[SignalBatch]:
        """The SignalBatches already sent (for batches <= upto): a restarted risk actor re-runs them."""
        return [sb for sb in list(self.sent) if upto is None or sb.batch <= upto]

    def swap_model(self, model: Model, timeout_s: float = MODEL_SWAP_TIMEOUT_S) -> str:
        """Serve `model` from the next batch on; the loop thread applies it between batches."""
        if not self.running:  # no loop owns the core: apply here
            self._apply_model(model)
            return self.core.model_version
        return self.model_slot.wait(self.model_slot.offer(model), timeout_s)

    def use_model(self, version: str | None = None, timeout_s: float = MODEL_SWAP_TIMEOUT_S) -> str:
        """Load `version` (None: the registry's live one) here and serve it from the next batch.

        A missing, altered or unloadable artifact raises ConfigError/BadInput before anything
        changes, so the actor keeps the model it had."""
        from models.registry import load_live_model

        model = load_live_model(self.settings, version)
        if model.version == self.core.model_version:
            return model.version
        applied = self.swap_model(model, timeout_s)
        self.log.warning("%s serves model %s", self.name, applied)
        return applied

    def model_version(self) -> str:
        return self.core.model_version

    def _apply_model(self, model: Model) -> None:
        old = self.core.model_version
        self.core.swap_model(model)
        self.metrics.set(MODEL_VERSION_INFO, 0, version=old)
        self.metrics.set(MODEL_VERSION_INFO, 1, version=self.core.model_version)

    def close(self) -> None:
        self.stop()
        self.sub.close()
        self.pub.close()

    # ---- data plane ----------------------------------------------------------------------------

    def step(self) -> None:
        self.model_slot.apply_pending(self._apply_model)  # between batches: the core holds no rows now
        events_in = 0
        for _, env in self.sub.recv(timeout_ms=50):
            events_in += len(env.items)
            for end, items in self.md_batches.add(env):  # this group's symbols only
                self._on_batch_end(end, items)
        if events_in:  # counted once per step, not per envelope (a batch is many envelopes)
            self.metrics.inc(EVENTS_IN, events_in, actor="signal")

    def _on_batch_end(self, end: BatchEnd, items: list[Bar | Quote]) -> None:
        if end.batch <= self.last_batch:
            return  # seen already (a feed that resumed, or our own recovery)
        if self._distrust_live:
            # The first live batch after a (re)subscription may be partial: take it from history.
            self._distrust_live = False
            self._fill_gap(end.batch)
            return
        if end.batch > self.last_batch + 1:
            self._fill_gap(end.batch - 1)
        self._process(end.batch, items, end.final)

    def _process(self, batch: int, items: list[Bar | Quote], final: bool) -> None:
        t0 = time.perf_counter()
        self.bars_by_symbol.update(item.symbol for item in items if isinstance(item, Bar))
        self.core.on_items(items, batch)
        t1 = time.perf_counter()
        rows = self.core.pending_rows
        sb = self.core.end_batch(batch, final)
        t2 = time.perf_counter()
        self.pub.send(bus.topic(bus.SIGNALS, self.group), [sb])
        self.sent.append(sb)
        self.last_batch = batch
        self.signals_sent += len(sb.signals)
        self.metrics.observe(FEATURE_UPDATE_SECONDS, t1 - t0)
        if rows:
            self.metrics.observe(INFERENCE_SECONDS, t2 - t1)
            self.metrics.inc(PREDICTIONS, float(rows), model_version=self.core.model_version)
        for sig in sb.signals:
            self.metrics.inc(SIGNALS, side="long" if sig.target > 0 else "short" if sig.target < 0 else "flat")
        self.metrics.inc(EVENTS_OUT, 1, actor="signal")

    def peer_moved(self, channel: str) -> None:
        """The risk actor restarted on a new endpoint: signal batches pushed towards the old one since it
        died were dropped when the socket followed. Send the recent ones again (risk keeps the first copy
        of a group's batch and ignores batches it has decided already)."""
        if channel == bus.SIGNALS and self.sent:
            oldest = self.last_batch - RESEND_BATCHES
            tail = list(itertools.takewhile(lambda sb: sb.batch > oldest, reversed(self.sent)))[::-1]
            for sb in tail:
                self.pub.send(bus.topic(bus.SIGNALS, self.group), [sb])
            self.log.warning("%s sent its last %d signal batches again to the new risk endpoint", self.name, len(tail))

    def _fill_gap(self, upto: int) -> None:
        """Batches last_batch+1 .. upto were missed: take them from the feed's history."""
        md = ray_calls.get_actor("market_data", self.settings.ray.namespace)
        if md is None:
            raise RuntimeError(f"{self.name}: batches {self.last_batch + 1}..{upto} missed and no feed to ask")
        batches, _ = ray_calls.call(md, "history", self.symbols, self.last_batch)
        for k, items, final in batches:
            if self.last_batch < k <= upto:
                self._process(k, items, final)
                self.recovered_batches += 1

    def _recover(self, awaiting: int | None = None) -> None:
        """Warm features and targets on the batches before `awaiting` (after a restart: what the risk
        actor has already decided), then answer every later batch the feed has published."""
        ns = self.settings.ray.namespace
        md = ray_calls.get_actor("market_data", ns)
        risk = ray_calls.get_actor("risk", ns)
        if md is None or risk is None:
            return
        if awaiting is None:
            awaiting = int(ray_calls.call(risk, "awaiting_batch"))
            if self.takes_over_after is not None:
                awaiting = max(awaiting, self.takes_over_after + 1)
        batches, _ = ray_calls.call(md, "history", self.symbols, 0)
        warm = [m for k, items, _ in batches if k < awaiting for m in items]
        self.core.warm(warm)
        self.last_batch = max(0, awaiting - 1)
        for k, items, final in batches:  # answer what the feed published while we were down
            if k > self.last_batch:
                self._process(k, items, final)
                self.recovered_batches += 1
        self.log.warning("%s warmed on %d events; re-answered batches %d..%d", self.name, len(warm), awaiting,
                         self.last_batch)
