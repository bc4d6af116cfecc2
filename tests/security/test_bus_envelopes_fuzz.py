"""Bus envelopes from a hostile peer: Subscriber.recv() never raises and returns only envelopes."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import byte_mutations, tree_mutations

from cluster.bus import Publisher, Subscriber, channel_prefix, topic
from cluster.wire import Bar, BatchEnd, Envelope, Quote, Trade, encode

FUZZ = settings.get_profile("fuzz")
TOPIC = topic("md", "SPY")
VALID_PAYLOADS = [
    encode(Envelope("md", 7, 1, [Bar("SPY", 1_381_152_660_000_000_000, 167.1, 167.4, 167.0, 167.3, 1200.0)])),
    encode(Envelope("md", 7, 2, [Quote("IBM", 1, 183.4, 3.0, 183.5, 5.0, "V", "Q"),
                                 Trade("IBM", 2, 183.41, 100.0, "V")])),
    encode(Envelope("md", 7, 3, [BatchEnd(1, 3)])),
]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Publisher, Subscriber]]:
    ctx = zmq.Context()
    pub = Publisher(ctx, "inproc://fuzz-bus", source="md", bind=True)
    sub = Subscriber(ctx, "inproc://fuzz-bus", topics=[channel_prefix("md")], bind=False)
    assert pub.wait_for_subscribers(channel_prefix("md"), 1, timeout_s=5)
    yield pub, sub
    pub.close()
    sub.close()
    ctx.destroy(linger=0)


def _deliver(pair: tuple[Publisher, Subscriber], frames: list[bytes]) -> None:
    pub, sub = pair
    bad_before = sub.stats.bad_messages
    pub.sock.send_multipart(frames)
    pub.send(TOPIC, [BatchEnd(0, 0)])  # a good envelope behind the hostile one
    got = sub.recv(timeout_ms=5000)
    assert all(isinstance(env, Envelope) for _, env in got)
    assert any(env.items == [BatchEnd(0, 0)] for _, env in got)
    assert sub.stats.bad_messages - bad_before <= 1


@FUZZ
@given(payload=st.binary(max_size=2048))
def test_recv_when_payload_is_arbitrary_bytes_then_never_raises(pair: tuple[Publisher, Subscriber],
                                                                payload: bytes) -> None:
    _deliver(pair, [TOPIC, payload])


@FUZZ
@given(data=st.data())
def test_recv_when_a_valid_envelope_is_byte_mutated_then_never_raises(pair: tuple[Publisher, Subscriber],
                                                                     data: st.DataObject) -> None:
    _deliver(pair, [TOPIC, data.draw(byte_mutations(data.draw(st.sampled_from(VALID_PAYLOADS))))])


@FUZZ
@given(data=st.data())
def test_recv_when_a_valid_envelope_is_structurally_mutated_then_never_raises(
        pair: tuple[Publisher, Subscriber], data: st.DataObject) -> None:
    tree = msgspec.msgpack.decode(data.draw(st.sampled_from(VALID_PAYLOADS)))
    mutated = data.draw(tree_mutations(tree))
    try:
        payload = msgspec.msgpack.encode(mutated)
    except OverflowError:
        payload = b"\xcf" + b"\xff" * 9  # an integer msgpack cannot hold, sent as raw bytes instead
    _deliver(pair, [TOPIC, payload])


@FUZZ
@given(frames=st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_recv_when_frame_count_is_wrong_then_never_raises(pair: tuple[Publisher, Subscriber],
                                                          frames: list[bytes]) -> None:
    _deliver(pair, [TOPIC, *frames] if len(frames) != 1 else [TOPIC, frames[0], b"extra"])
