"""The bus's channels and topic names: which topic carries what, so that a pure core can name a shard
without the bus (cluster/foundation/runtime/bus.py sends on these).

Topics are `<channel>.<name>` followed by a NUL byte, so that subscribing to `md.SPY` does not also
match `md.SPYX`.
"""

from __future__ import annotations

import zlib

MARKET_DATA = "md"
SIGNALS = "sig"
ORDERS = "ord"
REPORTS = "rep"
CONTROL = "~ctl"  # name of each channel's broadcast topic (batch punctuation and similar)
# A market-data batch goes out as one envelope per shard of symbols (not one per symbol): a consumer
# subscribes to the shards of its symbols and keeps its own; a 1,000-symbol batch is 17 messages, not 1,001.
MARKET_DATA_SHARDS = 16


def topic(channel: str, name: str) -> bytes:
    return f"{channel}.{name}".encode() + b"\0"


def shard_topic(channel: str, symbol: str, shards: int = MARKET_DATA_SHARDS) -> bytes:
    """The topic of the shard that carries `symbol` (stable across processes and restarts)."""
    return topic(channel, f"s{zlib.crc32(symbol.encode()) % shards}")


def channel_prefix(channel: str) -> bytes:
    """Subscribe to every topic of a channel."""
    return f"{channel}.".encode()
