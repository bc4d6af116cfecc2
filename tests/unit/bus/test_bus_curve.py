"""CURVE on the bus, over real ZeroMQ sockets on loopback with CURVE forced on (as off loopback):
the cluster's peers get through, a peer without the keys or with other keys gets nothing, and every
refused handshake is counted."""

from __future__ import annotations

import time

import pytest
import zmq

from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.wire import Bar
from cluster.foundation.runtime.bus import Publisher, Subscriber, channel_prefix, topic
from cluster.foundation.runtime.bus_curve import (
    REASON_BAD_SERVER_KEY,
    REASON_NO_CURVE,
    REASON_UNKNOWN_CLIENT_KEY,
    BusSecurity,
    CurveGuard,
    CurveKeys,
)

DEADLINE_S = 1.5  # how long a peer that must get nothing is listened to


def _keys() -> CurveKeys:
    return CurveKeys.from_secrets(zmq.curve_keypair()[1].decode(), zmq.curve_keypair()[1].decode())


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    CurveGuard.stop_for(c)
    c.destroy(linger=0)


@pytest.fixture
def refusals():
    return []


@pytest.fixture
def cluster(refusals) -> BusSecurity:
    return BusSecurity(_keys(), everywhere=True, on_refused=lambda where, reason: refusals.append((where, reason)))


def _bar(i: int) -> Bar:
    return Bar("SPY", i, 1.0, 1.0, 1.0, 1.0, 1.0)


def _received(sub: Subscriber, timeout_s: float, want: int | None = None) -> int:
    n = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (want is None or n < want):
        n += sum(len(env.items) for _t, env in sub.recv(timeout_ms=50))
    return n


def _heard(subs: dict[str, Subscriber], timeout_s: float) -> dict[str, int]:
    """Items each subscriber receives while they are all listened to for `timeout_s`."""
    heard = dict.fromkeys(subs, 0)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, sub in subs.items():
            heard[name] += sum(len(env.items) for _t, env in sub.recv(timeout_ms=10))
    return heard


def _wait_counted(security: BusSecurity, ctx, reasons: set[str], timeout_s: float = 5.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = security.refused(ctx)
        if all(counts.get(r, 0) >= 1 for r in reasons):
            return counts
        time.sleep(0.05)
    return security.refused(ctx)


def test_pubsub_when_curve_forced_then_only_the_keyed_subscriber_receives_and_refusals_are_counted(
        ctx, cluster, refusals):
    # Arrange: a CURVE publisher; subscribers with the keys, without keys, with another client key
    # (it knows the server key), and with another cluster's keys altogether
    t = topic("md", "SPY")
    pub = Publisher(ctx, "tcp://127.0.0.1:0", source="md", bind=True, security=cluster)
    keyed = Subscriber(ctx, pub.address, topics=[t], bind=False, security=cluster)
    other = _keys()
    stranger = BusSecurity(CurveKeys(cluster.keys.server_public, b"", other.client_public, other.client_secret),
                           everywhere=True)
    intruders = {
        "plain": Subscriber(ctx, pub.address, topics=[channel_prefix("md")], bind=False),
        "other client key": Subscriber(ctx, pub.address, topics=[channel_prefix("md")], bind=False,
                                       security=stranger),
        "other keys": Subscriber(ctx, pub.address, topics=[channel_prefix("md")], bind=False,
                                 security=BusSecurity(other, everywhere=True)),
    }
    assert pub.curve and keyed.curve and not intruders["plain"].curve
    assert pub.wait_for_subscribers(t, 1, timeout_s=5)
    # Act
    for i in range(20):
        pub.send(t, [_bar(i)])
    # Assert
    assert _received(keyed, 5.0, want=20) == 20
    assert _heard(intruders, DEADLINE_S) == {"plain": 0, "other client key": 0, "other keys": 0}
    assert sum(pub.poll_subscriptions().values()) == 1  # no intruder's subscription ever reached the publisher
    counts = _wait_counted(cluster, ctx, {REASON_NO_CURVE, REASON_UNKNOWN_CLIENT_KEY, REASON_BAD_SERVER_KEY})
    assert counts.get(REASON_NO_CURVE, 0) >= 1
    assert counts.get(REASON_UNKNOWN_CLIENT_KEY, 0) >= 1
    assert counts.get(REASON_BAD_SERVER_KEY, 0) >= 1
    assert {reason for _where, reason in refusals} >= {REASON_NO_CURVE, REASON_UNKNOWN_CLIENT_KEY}
    assert all(where.startswith("tcp://127.0.0.1:") for where, _reason in refusals)


def test_pushpull_when_curve_forced_then_only_the_keyed_sender_is_heard_and_refusals_are_counted(ctx, cluster):
    # Arrange: the risk side of the signals channel (PULL binds), a keyed sender and two intruders
    pull = Subscriber(ctx, "tcp://127.0.0.1:0", topics=[], bind=True, fan_in=True, security=cluster)
    keyed = Publisher(ctx, pull.address, source="sig-g0", bind=False, fan_in=True, security=cluster)
    plain = Publisher(ctx, pull.address, source="sig-evil", bind=False, fan_in=True, when_full="drop")
    other = Publisher(ctx, pull.address, source="sig-other", bind=False, fan_in=True, when_full="drop",
                      security=BusSecurity(_keys(), everywhere=True))
    signal = _bar(1)  # the bus carries any message
    # Act
    for sender in (plain, other):
        for _ in range(5):
            sender.send(topic("sig", "g9"), [signal])
    for _ in range(5):
        keyed.send(topic("sig", "g0"), [signal])
    # Assert: the five keyed signals, and nothing else within the deadline
    got = []
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and len(got) < 5:
        got += pull.recv(timeout_ms=50)
    more = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        more += pull.recv(timeout_ms=50)
    assert [env.source for _t, env in got] == ["sig-g0"] * 5
    assert more == []
    counts = _wait_counted(cluster, ctx, {REASON_NO_CURVE, REASON_BAD_SERVER_KEY})
    assert counts.get(REASON_NO_CURVE, 0) >= 1 and counts.get(REASON_BAD_SERVER_KEY, 0) >= 1
    for sender in (plain, other):  # their envelopes can never be delivered: do not linger on them
        sender.sock.close(linger=0)


def test_curve_server_when_its_zap_handler_is_gone_then_even_the_keyed_client_is_refused(ctx, cluster):
    # Arrange: fail closed: a CURVE server with no ZAP handler answering admits nobody
    t = topic("md", "SPY")
    pub = Publisher(ctx, "tcp://127.0.0.1:0", source="md", bind=True, security=cluster)
    CurveGuard.stop_for(ctx)
    keyed = Subscriber(ctx, pub.address, topics=[t], bind=False, security=cluster)
    # Act
    subscribed = pub.wait_for_subscribers(t, 1, timeout_s=DEADLINE_S)
    pub.send(t, [_bar(1)])
    # Assert
    assert not subscribed
    assert _received(keyed, DEADLINE_S) == 0


def test_bind_when_off_loopback_without_keys_then_config_error_naming_the_keys(ctx):
    # a wildcard bind is not loopback: today it would bind plain on every interface
    for security in (None, BusSecurity(None)):
        with pytest.raises(ConfigError, match="bus.curve_server_secret and bus.curve_client_secret"):
            Publisher(ctx, "tcp://0.0.0.0:0", source="md", bind=True, advertise="10.1.2.3", security=security)
        with pytest.raises(ConfigError, match="not on loopback"):
            Subscriber(ctx, "tcp://0.0.0.0:0", topics=[], bind=True, fan_in=True, advertise="10.1.2.3",
                       security=security)


def test_connect_when_off_loopback_without_keys_then_config_error(ctx):
    sub = Subscriber(ctx, None, topics=[channel_prefix("md")], bind=False)
    with pytest.raises(ConfigError, match="CURVE"):
        sub.connect("tcp://10.1.2.3:5555")
    assert sub.address is None


def test_bind_when_curve_is_always_and_no_keys_then_config_error_even_on_loopback(ctx):
    with pytest.raises(ConfigError, match="'always'"):
        Publisher(ctx, "tcp://127.0.0.1:0", source="md", bind=True, security=BusSecurity(None, everywhere=True))


def test_bind_when_off_loopback_with_keys_then_curve_server(ctx, cluster):
    # the advertised address is what peers see: off loopback, so the socket is CURVE
    relaxed = BusSecurity(cluster.keys, everywhere=False)
    pub = Publisher(ctx, "tcp://0.0.0.0:0", source="md", bind=True, advertise="10.1.2.3", security=relaxed)
    assert pub.curve and pub.address.startswith("tcp://10.1.2.3:")
    assert pub.sock.getsockopt(zmq.MECHANISM) == zmq.CURVE
    pub.close()


def test_policy_when_loopback_then_plain_unless_forced_and_never_for_other_hosts():
    relaxed, forced = BusSecurity(_keys()), BusSecurity(_keys(), everywhere=True)
    assert not relaxed.required("tcp://127.0.0.1:5555")
    assert not relaxed.required("tcp://[::1]:5555")
    assert not relaxed.required("tcp://localhost:5555")
    assert relaxed.required("tcp://10.0.0.7:5555")
    assert relaxed.required("tcp://0.0.0.0:5555")
    assert relaxed.required("tcp://md.trading.svc:5555")  # a name could be anywhere
    assert forced.required("tcp://127.0.0.1:5555")
    assert not forced.required("inproc://bus")


def test_loopback_when_not_forced_then_plain_and_delivers(ctx):
    relaxed = BusSecurity(_keys())
    t = topic("md", "SPY")
    pub = Publisher(ctx, "tcp://127.0.0.1:0", source="md", bind=True, security=relaxed)
    sub = Subscriber(ctx, pub.address, topics=[t], bind=False, security=relaxed)
    assert not pub.curve and not sub.curve
    assert pub.wait_for_subscribers(t, 1, timeout_s=5)
    pub.send(t, [_bar(1)])
    assert _received(sub, 5.0, want=1) == 1


def test_keys_when_shown_then_no_secret_in_the_repr():
    keys = _keys()
    shown = repr(keys) + repr(BusSecurity(keys))
    assert keys.server_secret.decode() not in shown and keys.client_secret.decode() not in shown
    assert keys.server_public[:8].decode() in shown
