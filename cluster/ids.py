"""Deterministic identifiers: the same signal always yields the same client_order_id."""

from __future__ import annotations

import hashlib


def client_order_id(prefix: str, symbol: str, ts_ns: int, target: int) -> str:
    """<prefix>-<symbol>-<ts_ns>-<hash>: at most 48 chars, stable across runs, restarts and re-partitions.

    The hash covers every input, so two signals that differ in any field never share an id, and
    a signal processed twice (after a restart, or by two groups during a faulty re-partition) maps
    to the order already in the intent log. The symbol group is deliberately not an input: which
    actor computed a signal must not change the order it leads to.
    """
    sym = "".join(ch for ch in symbol if ch.isalnum())[:10]
    digest = hashlib.blake2b(f"{prefix}|{symbol}|{ts_ns}|{target}".encode(), digest_size=5).hexdigest()
    return f"{prefix}-{sym}-{ts_ns}-{digest}"


def correlation_id(symbol: str, ts_ns: int) -> str:
    """Ties a tick to its signal, order and fills in logs: symbol and bar time."""
    return f"{symbol}@{ts_ns}"
