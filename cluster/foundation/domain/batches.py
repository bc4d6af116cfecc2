"""Market-data batches as consumers see them: items collected until their BatchEnd, once per batch.

Pure: no sockets, no Ray. The feed sends a batch as one envelope per shard of symbols followed by a BatchEnd
on its control topic. A publisher that restarts (a new session id) may have died half-way through
a batch: the items of that unfinished batch are dropped (and counted), because the restarted
feed sends the whole batch again. A batch that was already completed is never handed out twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cluster.foundation.domain.wire import BatchEnd, Envelope


@dataclass
class AssemblerStats:
    """Batches handed out, batches seen again (a resumed feed), publisher restarts, items of unfinished
    batches dropped at a restart (the restarted feed sends those batches whole)."""

    batches: int = 0
    repeated_batches: int = 0
    publisher_restarts: int = 0
    dropped_partial_items: int = 0


@dataclass
class BatchAssembler:
    """Feed it envelopes of the market-data channel; it returns (BatchEnd, items) per completed batch.

    `accept`: the item types a consumer keeps (exact types, as decoded from the wire; e.g. only bars);
    `symbols`: when given, only items of these symbols are kept; `after` is the last batch already
    handled (batches <= after are skipped)."""

    accept: tuple[type, ...]
    after: int = 0
    symbols: frozenset[str] | None = None
    stats: AssemblerStats = field(default_factory=AssemblerStats)
    _session: int | None = None
    _pending: list[Any] = field(default_factory=list)
    _accept: frozenset[type] = field(init=False)

    def __post_init__(self) -> None:
        self._accept = frozenset(self.accept)

    def add(self, env: Envelope) -> list[tuple[BatchEnd, list[Any]]]:
        if env.session != self._session:
            if self._session is not None:
                self.stats.publisher_restarts += 1
                self.stats.dropped_partial_items += len(self._pending)
                self._pending = []
            self._session = env.session
        items = env.items
        kept = self._keep(items)
        if len(kept) == len(items) or BatchEnd not in map(type, items):  # a shard envelope: no boundary in it
            self._pending += kept
            return []
        done: list[tuple[BatchEnd, list[Any]]] = []
        start = 0
        for i, item in enumerate(items):
            if type(item) is BatchEnd:
                self._pending += self._keep(items[start:i])
                start = i + 1
                batch, self._pending = self._pending, []
                if item.batch <= self.after:
                    self.stats.repeated_batches += 1
                    continue
                self.after = item.batch
                self.stats.batches += 1
                done.append((item, batch))
        self._pending += self._keep(items[start:])
        return done

    def _keep(self, items: list[Any]) -> list[Any]:
        accept, symbols = self._accept, self.symbols
        if symbols is None:
            return [i for i in items if type(i) in accept]
        return [i for i in items if type(i) in accept and i.symbol in symbols]
