"""Bus envelopes from a hostile peer: Subscriber.recv() never raises and returns only envelopes."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import byte_mutations, tree_mutations

from cluster.foundation.domain.wire import Bar, BatchEnd, Envelope, Quote, Trade, encode
from cluster.foundation.runtime.bus import Subscriber, channel_prefix, topic

FUZZ = settings.get_profile("fuzz")
TOPIC = topic("md", "SPY")
VALID_PAYLOADS = [
    encode(Envelope("md", 7, 1, [Bar("SPY", 1_381_152_660_000_000_000, 167.1, 167.4, 167.0, 167.3, 1200.0)])),
    encode(Envelope("md", 7, 2, [Quote("IBM", 1, 183.4, 3.0, 183.5, 5.0, "V", "Q"),
                                 Trade("IBM", 2, 183.41, 100.0, "V")])),
    encode(Envelope("md", 7, 3, [BatchEnd(1, 3)])),
]


class HostilePeer:
    """A raw XPUB socket on inproc (delivery happens at send time) that sends whatever it is given."""

    def __init__(self, ctx: zmq.Context) -> None:
        self.sock = ctx.socket(zmq.XPUB)
        self.sock.bind("inproc://fuzz-bus")
        self.seq = 0

    def send_good(self) -> None:
        self.seq += 1
        self.sock.send_multipart((TOPIC, encode(Envelope("fuzz-peer", 1, self.seq, [BatchEnd(0, self.seq)]))))


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[HostilePeer, Subscriber]]:
    ctx = zmq.Context()
    peer = HostilePeer(ctx)
    sub = Subscriber(ctx, "inproc://fuzz-bus", topics=[channel_prefix("md")], bind=False)
    assert peer.sock.poll(5000) and peer.sock.recv()  # the subscription has arrived
    yield peer, sub
    peer.sock.close(linger=0)
    sub.close()
    ctx.destroy(linger=0)


def _deliver(pair: tuple[HostilePeer, Subscriber], frames: list[bytes]) -> None:
    peer, sub = pair
    bad_before = sub.stats.bad_messages
    peer.sock.send_multipart(frames)
    peer.send_good()  # a good envelope behind the hostile one, read by the same recv() call
    got = sub.recv(timeout_ms=5000)
    assert all(isinstance(env, Envelope) for _, env in got)
    assert [env.items for _, env in got if env.source == "fuzz-peer"] == [[BatchEnd(0, peer.seq)]]
    assert sub.stats.bad_messages - bad_before <= 1


@FUZZ
@given(payload=st.binary(max_size=2048))
def test_recv_when_payload_is_arbitrary_bytes_then_never_raises(pair: tuple[HostilePeer, Subscriber],
                                                                payload: bytes) -> None:
    _deliver(pair, [TOPIC, payload])


@FUZZ
@given(data=st.data())
def test_recv_when_a_valid_envelope_is_byte_mutated_then_never_raises(pair: tuple[HostilePeer, Subscriber],
                                                                     data: st.DataObject) -> None:
    _deliver(pair, [TOPIC, data.draw(byte_mutations(data.draw(st.sampled_from(VALID_PAYLOADS))))])


@FUZZ
@given(data=st.data())
def test_recv_when_a_valid_envelope_is_structurally_mutated_then_never_raises(
        pair: tuple[HostilePeer, Subscriber], data: st.DataObject) -> None:
    tree = msgspec.msgpack.decode(data.draw(st.sampled_from(VALID_PAYLOADS)))
    mutated = data.draw(tree_mutations(tree))
    try:
        payload = msgspec.msgpack.encode(mutated)
    except OverflowError:
        payload = b"\xcf" + b"\xff" * 9  # an integer msgpack cannot hold, sent as raw bytes instead
    _deliver(pair, [TOPIC, payload])


@FUZZ
@given(frames=st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_recv_when_frame_count_is_wrong_then_never_raises(pair: tuple[HostilePeer, Subscriber],
                                                          frames: list[bytes]) -> None:
    _deliver(pair, [TOPIC, *frames] if len(frames) != 1 else [TOPIC, frames[0], b"extra"])
