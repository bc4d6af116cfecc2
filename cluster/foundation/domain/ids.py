"""Deterministic identifiers: the same decision always yields the same client_order_id."""

from __future__ import annotations

import hashlib
from typing import Literal

MAX_CLIENT_ORDER_ID = 48  # Alpaca's limit; the simulator rejects longer ids
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_TARGETS = {-1: "s", 0: "f", 1: "l"}  # short, flat, long
_TARGET_OF = {v: k for k, v in _TARGETS.items()}
Origin = Literal["s", "k"]  # s: a strategy signal, k: an operator's kill switch
_MAX_STEP = 36**6


def _b36(n: int) -> str:
    if n < 0:
        raise ValueError(f"identifier field must be >= 0, got {n}")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def _symbol_tag(symbol: str) -> str:
    """The symbol itself when it is short and alphanumeric, else a readable head plus a hash of it."""
    if symbol.isascii() and symbol.isalnum() and len(symbol) <= 10:
        return symbol
    head = "".join(ch for ch in symbol if ch.isascii() and ch.isalnum())[:3]
    return f"{head}_{hashlib.blake2b(symbol.encode(), digest_size=3).hexdigest()}"


def client_order_id(prefix: str, symbol: str, ts_ns: int, target: int, step: int = 0, origin: Origin = "s") -> str:
    """<prefix>-<symbol>-<ts_ns base 36>-<origin><target><step>: at most 48 chars, stable across runs.

    One decision is one order: `origin` and `ts_ns` name what set the target (a strategy signal and
    its bar time, or an operator's kill and its request time), `target` the position aimed at, and
    `step` counts the orders sent toward that target (a close cut by the fat-finger cap goes out in
    steps). Every field is encoded, not hashed, so two different decisions never share an id (only
    a symbol that is not short and alphanumeric is hashed); the same decision processed twice
    (after a restart, or by two groups during a faulty re-partition) maps to the order already in
    the intent log. The symbol group is deliberately not an input.
    """
    if target not in _TARGETS:
        raise ValueError(f"target must be -1, 0 or 1, got {target}")
    if not 0 <= step < _MAX_STEP:
        raise ValueError(f"step must be in [0, {_MAX_STEP}), got {step}")
    coid = f"{prefix}-{_symbol_tag(symbol)}-{_b36(ts_ns)}-{origin}{_TARGETS[target]}{_b36(step)}"
    if len(coid) > MAX_CLIENT_ORDER_ID:
        raise ValueError(f"client_order_id {coid!r} is longer than {MAX_CLIENT_ORDER_ID} chars")
    return coid


def parse_client_order_id(coid: str) -> tuple[str, int, int, int] | None:
    """(origin, ts_ns, target, step) of an id made by client_order_id(), or None for any other id."""
    parts = coid.split("-")
    if len(parts) != 4 or len(parts[3]) < 3:
        return None
    ts_text, tag = parts[2], parts[3]
    origin, target_char, step_text = tag[0], tag[1], tag[2:]
    if origin not in ("s", "k") or target_char not in _TARGET_OF:
        return None
    if not all(ch in _B36 for ch in ts_text + step_text) or not ts_text:
        return None
    return origin, int(ts_text, 36), _TARGET_OF[target_char], int(step_text, 36)


def correlation_id(symbol: str, ts_ns: int) -> str:
    """Ties a tick to its signal, order and fills in logs: symbol and bar time."""
    return f"{symbol}@{ts_ns}"
