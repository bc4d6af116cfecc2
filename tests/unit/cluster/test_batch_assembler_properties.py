"""BatchAssembler against a reference that looks at every item one by one: whatever mix of items, boundaries,
repeated batches and publisher restarts arrives, the same batches come out, each once, with the same items."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.foundation.domain.batches import BatchAssembler
from cluster.foundation.domain.wire import Bar, BatchEnd, Envelope, Quote, Trade

SYMBOLS = ("SPY", "IBM", "BAC")


def reference(envelopes: list[Envelope], accept: tuple[type, ...], symbols: frozenset[str] | None) -> list[Any]:
    """Item by item: keep accepted items (of `symbols`), hand a batch out at its first BatchEnd."""
    out: list[Any] = []
    pending: list[Any] = []
    session, after = None, 0
    for env in envelopes:
        if env.session != session:
            pending, session = [], env.session
        for item in env.items:
            if isinstance(item, BatchEnd):
                batch, pending = pending, []
                if item.batch > after:
                    after = item.batch
                    out.append((item, batch))
            elif isinstance(item, accept) and (symbols is None or item.symbol in symbols):
                pending.append(item)
    return out


_item = st.one_of(
    st.builds(lambda s, t: Bar(SYMBOLS[s], t, 1.0, 1.0, 1.0, 1.0, 1.0), st.integers(0, 2), st.integers(0, 9)),
    st.builds(lambda s, t: Quote(SYMBOLS[s], t, 1.0, 1.0, 1.1, 1.0), st.integers(0, 2), st.integers(0, 9)),
    st.builds(lambda s, t: Trade(SYMBOLS[s], t, 1.0, 1.0), st.integers(0, 2), st.integers(0, 9)),
    st.builds(lambda k: BatchEnd(k, 0), st.integers(1, 6)),
)
_envelope = st.tuples(st.sampled_from((1, 1, 1, 2)), st.lists(_item, max_size=8))


@settings(max_examples=400, deadline=None)
@given(st.lists(_envelope, max_size=12), st.sampled_from(((Bar,), (Bar, Quote), (Bar, Quote, Trade), (Bar, Trade))),
       st.sampled_from((None, frozenset({"SPY"}), frozenset({"IBM", "BAC"}))))
def test_batch_assembler_when_any_envelopes_arrive_then_the_batches_of_the_item_by_item_reference(
    specs: list[tuple[int, list[Any]]], accept: tuple[type, ...], symbols: frozenset[str] | None,
) -> None:
    # Arrange
    envelopes = [Envelope("md", session, seq, items) for seq, (session, items) in enumerate(specs, start=1)]
    asm = BatchAssembler(accept=accept, symbols=symbols)

    # Act
    got = [done for env in envelopes for done in asm.add(env)]

    # Assert
    assert got == reference(envelopes, accept, symbols)
