"""Hypothesis strategies for hostile input: arbitrary bytes, byte-level and structural mutations."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# JSON-like values, including the awkward ones: huge ints, NaN-free floats, odd strings, nesting.
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
)
JSON_VALUES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)


@st.composite
def byte_mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` with a few bytes flipped, inserted, deleted, or cut short."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("flip", "insert", "delete", "truncate", "duplicate")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at:at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[at:]
        elif op == "duplicate" and data:
            data[at:at] = data[at:at + draw(st.integers(1, 16))]
    return bytes(data)


@st.composite
def tree_mutations(draw: st.DrawFn, seed: Any) -> Any:
    """`seed` (decoded JSON/msgpack) with one node replaced, removed, retyped, or buried deep."""
    def mutate(node: Any, depth: int) -> Any:
        if isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node, key=str)))
            changed = dict(node)
            action = draw(st.sampled_from(("replace", "drop", "descend", "rename")))
            if action == "replace":
                changed[key] = draw(JSON_VALUES)
            elif action == "drop":
                del changed[key]
            elif action == "rename":
                changed[draw(st.text(max_size=4))] = changed.pop(key)
            else:
                changed[key] = mutate(changed[key], depth + 1)
            return changed
        if isinstance(node, list) and node and draw(st.booleans()):
            at = draw(st.integers(0, len(node) - 1))
            changed_list = list(node)
            changed_list[at] = mutate(changed_list[at], depth + 1)
            return changed_list
        action = draw(st.sampled_from(("value", "wrap", "deep")))
        if action == "value":
            return draw(JSON_VALUES)
        if action == "wrap":
            return [node] if draw(st.booleans()) else {"T": node}
        levels = draw(st.integers(50, 400))  # deeper still: deep_nesting() at the byte level
        deep: Any = node
        for _ in range(levels):
            deep = [deep]
        return deep

    return mutate(seed, 0)


@st.composite
def deep_nesting(draw: st.DrawFn, seed: bytes, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    """`seed` buried 1,000 to 12,000 levels deep, closed or left open."""
    levels = draw(st.integers(1000, 12_000))
    return opener * levels + seed + (closer * levels if draw(st.booleans()) else b"")
