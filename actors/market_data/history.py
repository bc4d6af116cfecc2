"""The batches a feed has published, kept packed (msgpack bytes), for consumers that restart.

A replay or synthetic run keeps every batch (a restarted risk actor re-runs them all from batch 1);
kept as Python objects that is a few hundred bytes an event (600,000 events: about 150 MB in the
market-data process). Packed, an event takes the bytes of its wire form, and a batch is unpacked only
when a consumer asks for history, which happens after restarts. Pure: no I/O, no Ray.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import msgspec

from cluster.foundation.domain.wire import Bar, Quote, Trade

MarketItem = Bar | Quote | Trade
Entry = tuple[int, list[MarketItem], bool]

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[MarketItem])


class BatchHistory:
    """Append-only (batch, items, final) rows; at most `maxlen` of the newest (None: all)."""

    def __init__(self, maxlen: int | None = None) -> None:
        self._rows: deque[tuple[int, bytes, bool]] = deque(maxlen=maxlen)

    def __len__(self) -> int:
        return len(self._rows)

    def append(self, batch: int, items: list[MarketItem], final: bool) -> None:
        self._rows.append((batch, _encoder.encode(items), final))

    def extend(self, entries: Iterable[Entry]) -> None:
        for batch, items, final in entries:
            self.append(batch, items, final)

    def after(self, after_batch: int) -> list[Entry]:
        """The rows of batches after `after_batch`, unpacked, oldest first. Safe to call from another
        thread than the one appending (it reads a copy)."""
        return [(k, _decoder.decode(packed), final) for k, packed, final in list(self._rows) if k > after_batch]

    def packed_bytes(self) -> int:
        return sum(len(packed) for _, packed, _ in list(self._rows))
