"""The bus over real ZeroMQ sockets on loopback (inproc would hide TCP behaviour)."""

from __future__ import annotations

import socket
import time

import pytest
import zmq

from cluster.foundation.domain.wire import Bar, BatchEnd, Envelope, encode
from cluster.foundation.runtime.bus import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Publisher,
    Subscriber,
    channel_prefix,
    endpoint,
    topic,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def _pair(ctx, topics, **pub_kw):
    addr = endpoint("127.0.0.1", _free_port())
    pub = Publisher(ctx, addr, source="md", bind=True, **pub_kw)
    sub = Subscriber(ctx, addr, topics=topics, bind=False)
    assert pub.wait_for_subscribers(topics[0], 1, timeout_s=5)
    return pub, sub


def _drain(sub, want, timeout_s=5.0):
    got = []
    for _ in range(int(timeout_s * 20)):
        got += sub.recv(timeout_ms=50)
        if len(got) >= want:
            break
    return got


def _bar(sym="SPY", ts=1):
    return Bar(sym, ts, 1.0, 1.0, 1.0, 1.0, 1.0)


def test_subscriber_when_topic_filtered_then_sees_only_its_symbols_with_contiguous_sequence(ctx):
    # Arrange
    pub, sub = _pair(ctx, [topic("md", "SPY")])
    # Act
    for i in range(5):
        pub.send(topic("md", "SPY"), [_bar("SPY", i)])
        pub.send(topic("md", "SPYX"), [_bar("SPYX", i)])
    got = _drain(sub, 5)
    # Assert
    assert [env.items[0].symbol for _, env in got] == ["SPY"] * 5
    assert [env.seq for _, env in got] == [1, 2, 3, 4, 5]
    assert sub.stats.gaps == 0
    pub.close()
    sub.close()


def test_subscriber_when_sequence_skips_then_counts_gap_and_missing(ctx):
    # Arrange
    pub, sub = _pair(ctx, [channel_prefix("md")])
    t = topic("md", "SPY")
    # Act: send 1, 2, then skip 3 and 4 by advancing the publisher's counter, then 5
    pub.send(t, [_bar()])
    pub.send(t, [_bar()])
    pub._seq[t] += 2
    pub.send(t, [_bar()])
    got = _drain(sub, 3)
    # Assert
    assert [env.seq for _, env in got] == [1, 2, 5]
    assert sub.stats.gaps == 1
    assert sub.stats.missing == 2
    pub.close()
    sub.close()


def test_subscriber_when_envelope_repeated_then_drops_duplicate_and_counts_it(ctx):
    pub, sub = _pair(ctx, [channel_prefix("md")])
    t = topic("md", "SPY")
    payload = encode(Envelope("md", pub.session, 1, [_bar()]))
    pub.sock.send_multipart((t, payload))
    pub.sock.send_multipart((t, payload))
    pub.send(t, [_bar()])  # seq 1 again from the publisher's own counter -> duplicate too
    pub.send(t, [BatchEnd(1, 1)])
    got = _drain(sub, 2)
    assert [env.seq for _, env in got] == [1, 2]
    assert sub.stats.duplicates == 2
    pub.close()
    sub.close()


def test_subscriber_when_message_is_garbage_then_names_it_and_keeps_the_rest(ctx):
    pub, sub = _pair(ctx, [channel_prefix("md")])
    t = topic("md", "SPY")
    pub.send(t, [_bar(ts=1)])
    pub.sock.send_multipart((t, b"\x93not-msgpack"))
    pub.sock.send_multipart((t, b"one-frame-only"[:0] + b"x", b"y", b"z"))
    pub.send(t, [_bar(ts=2)])
    got = _drain(sub, 2)
    assert [env.items[0].ts_ns for _, env in got] == [1, 2]
    assert sub.stats.bad_messages == 2
    assert "undecodable bus message" in sub.stats.last_errors[0]
    assert "expected 2 frames" in sub.stats.last_errors[1]
    pub.close()
    sub.close()


def test_fan_in_sender_when_restarted_then_receiver_counts_restart_not_gap(ctx):
    addr = endpoint("127.0.0.1", _free_port())
    sub = Subscriber(ctx, addr, topics=[], bind=True, fan_in=True)
    pub1 = Publisher(ctx, addr, source="sig-g0", bind=False, fan_in=True)
    t = topic("md", "SPY")
    pub1.send(t, [_bar()])
    pub1.send(t, [_bar()])
    assert len(_drain(sub, 2)) == 2
    pub1.close()
    pub2 = Publisher(ctx, addr, source="sig-g0", bind=False, fan_in=True)
    pub2.send(t, [_bar()])
    got = _drain(sub, 1)
    assert [env.seq for _, env in got] == [1]
    assert sub.stats.restarts == 1 and sub.stats.gaps == 0
    pub2.close()
    sub.close()


def test_publisher_when_peer_full_in_drop_mode_then_counts_every_drop(ctx):
    # Arrange: a tiny high-water mark and a subscriber that never reads
    addr = endpoint("127.0.0.1", _free_port())
    pub = Publisher(ctx, addr, source="md", bind=True, hwm=10, when_full="drop")
    sub = Subscriber(ctx, addr, topics=[channel_prefix("md")], bind=False, hwm=10)
    assert pub.wait_for_subscribers(channel_prefix("md"), 1, 5)
    t = topic("md", "SPY")
    # Act
    sent = sum(pub.send(t, [_bar()] * 100) for _ in range(20_000))
    # Assert: every envelope is either sent or counted as dropped
    assert pub.stats.drops > 0
    assert sent + pub.stats.drops == 20_000
    assert pub.stats.dropped_messages == pub.stats.drops * 100
    got = _drain(sub, sent, timeout_s=10)
    assert len(got) == sent
    assert sub.stats.missing == pub.stats.drops - (20_000 - got[-1][1].seq)
    pub.close()
    sub.close()


def test_fan_in_when_several_senders_then_each_has_its_own_contiguous_sequence(ctx):
    addr = endpoint("127.0.0.1", _free_port())
    sub = Subscriber(ctx, addr, topics=[], bind=True, fan_in=True)
    senders = [Publisher(ctx, addr, source=f"sig-g{i}", bind=False, fan_in=True) for i in range(3)]
    t = topic("sig", "all")
    for n in range(10):
        for s in senders:
            s.send(t, [_bar(ts=n)])
    got = _drain(sub, 30)
    by_source: dict[str, list[int]] = {}
    for _, env in got:
        by_source.setdefault(env.source, []).append(env.seq)
    assert by_source == {f"sig-g{i}": list(range(1, 11)) for i in range(3)}
    assert sub.stats.gaps == 0
    for s in senders:
        s.close()
    sub.close()


def test_bus_when_bound_on_port_zero_then_endpoint_names_the_picked_port_and_a_peer_reaches_it():
    import zmq

    from cluster.foundation.runtime import bus as b

    ctx = zmq.Context.instance()
    pub = b.Publisher(ctx, "tcp://127.0.0.1:0", source="t", bind=True)
    sub = b.Subscriber(ctx, None, topics=[b.topic("md", "X")], bind=False)
    try:
        assert pub.address is not None and pub.address.startswith("tcp://127.0.0.1:") and not pub.address.endswith(":0")
        assert sub.connect(pub.address) is True
        assert sub.connect(pub.address) is False  # already the peer
        assert pub.wait_for_subscribers(b.topic("md", "X"), 1, timeout_s=5)
        pub.send(b.topic("md", "X"), [BatchEnd(1, 0)])
        got = sub.recv(timeout_ms=2000)
        assert [env.items for _, env in got] == [[BatchEnd(1, 0)]]
    finally:
        pub.close()
        sub.close()


def test_bus_when_bound_on_a_wildcard_without_an_address_to_advertise_then_config_error():
    import zmq

    from cluster.foundation.domain.errors import ConfigError
    from cluster.foundation.runtime import bus as b

    sock = zmq.Context.instance().socket(zmq.XPUB)
    try:
        with pytest.raises(ConfigError, match="advertise"):
            b.bind_socket(sock, "0.0.0.0", 0)
        assert b.bind_socket(sock, "0.0.0.0", 0, advertise="10.1.2.3").startswith("tcp://10.1.2.3:")
    finally:
        sock.close(linger=0)


def test_subscriber_when_a_string_is_invalid_utf8_then_counts_a_bad_message_and_returns_the_good_ones(ctx):
    # Arrange: a raw peer on inproc (delivered at send time), so one recv() call sees all three envelopes
    peer = ctx.socket(zmq.XPUB)
    peer.bind("inproc://bad-utf8")
    sub = Subscriber(ctx, "inproc://bad-utf8", topics=[channel_prefix("md")], bind=False)
    assert peer.poll(5000) and peer.recv()  # the subscription has arrived
    t = topic("md", "SPY")
    bad = encode(Envelope("md", 7, 2, [_bar()])).replace(b"\xa3SPY", b"\xa3\xff\xfe\xfd")
    peer.send_multipart((t, encode(Envelope("md", 7, 1, [_bar(ts=1)]))))
    peer.send_multipart((t, bad))
    peer.send_multipart((t, encode(Envelope("md", 7, 3, [_bar(ts=2)]))))
    # Act
    got = sub.recv(timeout_ms=5000)
    # Assert
    assert [env.items[0].ts_ns for _, env in got] == [1, 2]
    assert sub.stats.bad_messages == 1
    assert "UnicodeDecodeError" in sub.stats.last_errors[0]
    peer.close(linger=0)
    sub.close()


def test_sockets_when_created_then_max_message_size_is_bounded(ctx):
    addr = endpoint("127.0.0.1", _free_port())
    pub = Publisher(ctx, addr, source="md", bind=True)
    sub = Subscriber(ctx, addr, topics=[channel_prefix("md")], bind=False, max_message_bytes=1 << 20)
    assert pub.sock.getsockopt(zmq.MAXMSGSIZE) == DEFAULT_MAX_MESSAGE_BYTES == 64 * 1024 * 1024
    assert sub.sock.getsockopt(zmq.MAXMSGSIZE) == 1 << 20
    pub.close()
    sub.close()


def test_wait_for_subscribers_when_given_idle_then_the_wait_is_spent_in_it_and_still_ends_on_the_subscriber(ctx):
    addr = endpoint("127.0.0.1", _free_port())
    pub = Publisher(ctx, addr, source="md", bind=True)
    slices: list[float] = []
    # nobody subscribes: the whole wait goes to idle, in slices of at most 50 ms, and it gives up in time
    assert pub.wait_for_subscribers(channel_prefix("md"), 1, timeout_s=0.2, idle=slices.append) is False
    assert slices and all(0 <= s <= 0.05 for s in slices)
    # a subscriber that connects while the owner idles is seen
    sub = Subscriber(ctx, addr, topics=[channel_prefix("md")], bind=False)
    assert pub.wait_for_subscribers(channel_prefix("md"), 1, timeout_s=10, idle=time.sleep) is True
    pub.close()
    sub.close()
