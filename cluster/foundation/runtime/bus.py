"""ZeroMQ data plane: batched msgpack envelopes, per-topic sequence numbers, counted gaps and drops.

One-to-many channels (market data, orders, reports) are XPUB -> SUB; the many-to-one signals
channel is PUSH -> PULL (each signal actor connects, the risk actor binds: every signal is
delivered, in order per sender, and none is ever dropped to a slow joiner). XPUB (rather than
PUB) gives us two things plain PUB hides:
* XPUB_NODROP: a send to a full peer either blocks (lossless replay) or fails and is *counted*
  as a drop (live feeds), never silently discarded;
* subscription frames: a publisher can wait until its expected subscribers are connected, so no
  message is lost to the slow-joiner effect at start-up.

Channels and topics are named in cluster/foundation/domain/topics.py (re-exported here). Sequence
numbers grow by one per envelope *per topic*, so a subscriber that filters topics still sees a
contiguous sequence on each and can detect gaps.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import zmq

from cluster.foundation.domain.errors import ConfigError, WireError
from cluster.foundation.domain.topics import CONTROL as CONTROL
from cluster.foundation.domain.topics import MARKET_DATA as MARKET_DATA
from cluster.foundation.domain.topics import MARKET_DATA_SHARDS as MARKET_DATA_SHARDS
from cluster.foundation.domain.topics import ORDERS as ORDERS
from cluster.foundation.domain.topics import REPORTS as REPORTS
from cluster.foundation.domain.topics import SIGNALS as SIGNALS
from cluster.foundation.domain.topics import channel_prefix as channel_prefix
from cluster.foundation.domain.topics import shard_topic as shard_topic
from cluster.foundation.domain.topics import topic as topic
from cluster.foundation.domain.wire import Envelope, Message, decode, encode
from cluster.foundation.runtime.bus_curve import BusSecurity, require_keys
from cluster.foundation.runtime.loop_io import LoopIO

log = logging.getLogger("trading.bus")

# ZeroMQ drops (and disconnects) a peer whose message is larger: no peer can make us buffer gigabytes.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def endpoint(host: str, port: int) -> str:
    return f"tcp://{host}:{port}"


WILDCARD_HOSTS = frozenset({"", "*", "0.0.0.0", "::"})


def bind_socket(sock: zmq.Socket[bytes], host: str, port: int, advertise: str | None = None) -> str:
    """Bind on host:port (port 0: a free port picked by the OS) and return the endpoint peers connect
    to: tcp://<advertise or host>:<port actually bound>. A wildcard host needs an address to advertise."""
    public = advertise or host
    if public in WILDCARD_HOSTS:
        raise ConfigError(f"socket bound on wildcard {host!r} needs an address to advertise")
    bind_host = "*" if host in WILDCARD_HOSTS else host
    if port == 0:
        port = sock.bind_to_random_port(f"tcp://{bind_host}")
    else:
        sock.bind(f"tcp://{bind_host}:{port}")
    return endpoint(public, port)


def new_session() -> int:
    """A publisher session id: differs between starts, so a restart is not mistaken for a gap."""
    return (time.time_ns() ^ (os.getpid() << 20) ^ random.getrandbits(30)) & 0x7FFF_FFFF_FFFF_FFFF


class _BusEnd:
    """One end of a bus channel: its socket, the address it is bound or connected to, and whether
    CURVE secures it. `security` decides which ends are CURVE (bus_curve); without it only loopback
    is allowed."""

    sock: zmq.Socket[bytes]
    address: str | None

    def __init__(self, sock: zmq.Socket[bytes], address: str | None, bind: bool, advertise: str | None,
                 security: BusSecurity | None) -> None:
        """Take `sock`, then bind it to `address` or connect it there (None: connect later)."""
        self.security = security
        self.curve = False
        self.sock = sock
        self.address = None
        if bind:
            assert address is not None
            self.address = self._bind(address, advertise)
        elif address is not None:
            self.connect(address)

    def connect(self, address: str) -> bool:
        """Connect to `address`, leaving the previous peer first; False when it is already the peer."""
        if self.address == address:
            return False
        require_keys(self.security, address)
        if self.address is not None:
            with contextlib.suppress(zmq.ZMQError):  # never connected (the old peer was unreachable)
                self.sock.disconnect(self.address)
        was_curve, self.curve = self.curve, self.security is not None and self.security.required(address)
        if self.curve:
            assert self.security is not None
            self.security.dial(self.sock, address)
        elif was_curve:  # the peer moved onto loopback, where its server is plain: back to the NULL mechanism
            self.sock.setsockopt(zmq.PLAIN_SERVER, 0)
        self.sock.connect(address)
        self.address = address
        return True

    def _bind(self, address: str, advertise: str | None) -> str:
        """Bind (a CURVE server first when the security asks for it; off loopback without keys: ConfigError)."""
        host, _, port = address.removeprefix("tcp://").rpartition(":")
        host = host.strip("[]")
        public = endpoint(advertise or host, int(port))
        for where in {address, public}:  # the interface bound and the address peers are given
            require_keys(self.security, where)
        if self.security is not None and (self.security.required(address) or self.security.required(public)):
            self.security.serve(self.sock, address)
            self.curve = True
        return bind_socket(self.sock, host, int(port), advertise)


@dataclass
class PublisherStats:
    envelopes: int = 0
    messages: int = 0
    drops: int = 0
    dropped_messages: int = 0
    subscribe_frames: int = 0  # every subscribe seen (a peer that (re)subscribes adds one)


class Publisher(_BusEnd):
    """Sends batches of messages as one envelope per topic. Binds or connects an XPUB socket."""

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        address: str | None,
        *,
        source: str,
        bind: bool,
        hwm: int = 10_000,
        when_full: str = "block",
        send_timeout_ms: int = -1,
        fan_in: bool = False,
        advertise: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        security: BusSecurity | None = None,
    ) -> None:
        """fan_in=True makes a PUSH socket (many senders, one receiver) instead of an XPUB.

        bind=True: `address` is tcp://host:port (port 0 picks a free one); `self.address` is then
        the endpoint peers connect to. bind=False: `address` may be None and given later to connect()."""
        self.source = source
        self.session = new_session()
        self.when_full = when_full
        self.stats = PublisherStats()
        self._seq: dict[bytes, int] = {}
        self._subscriptions: dict[bytes, int] = {}
        sock = ctx.socket(zmq.PUSH if fan_in else zmq.XPUB)
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)  # bounds the subscription frames it reads
        if not fan_in:
            sock.setsockopt(zmq.XPUB_NODROP, 1)
            sock.setsockopt(zmq.XPUB_VERBOSER, 1)  # see every (un)subscribe, duplicates included
        sock.setsockopt(zmq.LINGER, 2000)
        sock.setsockopt(zmq.SNDTIMEO, send_timeout_ms)
        super().__init__(sock, address, bind, advertise, security)

    def send(self, topic_bytes: bytes, items: Sequence[Message]) -> bool:
        """Send one envelope. Returns False (and counts a drop) only in 'drop' mode when a peer is full."""
        seq = self._seq.get(topic_bytes, 0) + 1
        payload = encode(Envelope(self.source, self.session, seq, list(items)))
        flags = zmq.NOBLOCK if self.when_full == "drop" else 0
        try:
            self.sock.send_multipart((topic_bytes, payload), flags=flags, copy=False)
        except zmq.Again:
            self.stats.drops += 1
            self.stats.dropped_messages += len(items)
            # The sequence number is consumed: subscribers see the gap and count it too.
            self._seq[topic_bytes] = seq
            return False
        self._seq[topic_bytes] = seq
        self.stats.envelopes += 1
        self.stats.messages += len(items)
        return True

    def poll_subscriptions(self, timeout_ms: int = 0) -> dict[bytes, int]:
        """Read pending (un)subscribe frames; returns live subscription counts per topic prefix."""
        while self.sock.poll(timeout_ms, zmq.POLLIN):
            frame = self.sock.recv()
            if frame:
                prefix = frame[1:]
                delta = 1 if frame[0] == 1 else -1
                self.stats.subscribe_frames += delta > 0
                self._subscriptions[prefix] = max(0, self._subscriptions.get(prefix, 0) + delta)
            timeout_ms = 0
        return dict(self._subscriptions)

    def wait_for_subscribers(self, prefix: bytes, count: int, timeout_s: float,
                             idle: Callable[[float], object] | None = None) -> bool:
        """Block until `count` subscriptions to `prefix` (or a prefix of it) are live. With `idle`, the wait
        is spent in idle(seconds) slices instead (an actor that must keep a connection running meanwhile)."""
        deadline = time.monotonic() + timeout_s
        while True:
            subs = self.poll_subscriptions(0 if idle else 50)
            n = sum(c for p, c in subs.items() if prefix.startswith(p))
            if n >= count:
                return True
            if time.monotonic() >= deadline:
                return False
            if idle is not None:
                idle(min(0.05, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        self.sock.close(linger=2000)


@dataclass
class SubscriberStats:
    envelopes: int = 0
    messages: int = 0
    gaps: int = 0  # number of gap events
    missing: int = 0  # envelopes known to be missing
    duplicates: int = 0
    restarts: int = 0  # publisher sessions that changed
    bad_messages: int = 0
    last_errors: list[str] = field(default_factory=list)


class Subscriber(_BusEnd):
    """Receives envelopes on chosen topics, checks sequence numbers, and counts what went wrong.

    connect() leaves the previous publisher first and keeps the subscriptions; the sequence check
    sees the new publisher as a restart, not a gap."""

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        address: str | None,
        *,
        topics: Iterable[bytes],
        bind: bool,
        hwm: int = 10_000,
        fan_in: bool = False,
        advertise: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        security: BusSecurity | None = None,
    ) -> None:
        """fan_in=True makes a PULL socket (the receiving end of a PUSH channel; topics unused)."""
        sock = ctx.socket(zmq.PULL if fan_in else zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, hwm)
        sock.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)
        sock.setsockopt(zmq.LINGER, 0)
        if not fan_in:
            for t in topics:
                sock.setsockopt(zmq.SUBSCRIBE, t)
        self.stats = SubscriberStats()
        self._last: dict[tuple[str, bytes], tuple[int, int]] = {}
        super().__init__(sock, address, bind, advertise, security)

    def subscribe(self, t: bytes) -> None:
        self.sock.setsockopt(zmq.SUBSCRIBE, t)

    def unsubscribe(self, t: bytes) -> None:
        self.sock.setsockopt(zmq.UNSUBSCRIBE, t)

    def recv(self, timeout_ms: int = 0, max_envelopes: int = 1000) -> list[tuple[bytes, Envelope]]:
        """Envelopes received within the timeout, in arrival order; duplicates are filtered out.

        A payload that cannot be used is counted in stats.bad_messages and never raised: the good
        envelopes read in the same call are still returned."""
        out: list[tuple[bytes, Envelope]] = []
        if not self.sock.poll(timeout_ms, zmq.POLLIN):
            return out
        while len(out) < max_envelopes:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            env = self._check(frames)
            if env is not None:
                out.append((frames[0], env))
        return out

    def _check(self, frames: list[bytes]) -> Envelope | None:
        if len(frames) != 2:
            self._bad(f"expected 2 frames (topic, payload), got {len(frames)}")
            return None
        t, payload = frames
        try:
            env = decode(payload)
        except WireError as exc:
            self._bad(f"topic {t[:64]!r}: {exc}")
            return None
        except Exception as exc:  # anything else a hostile payload provokes in the decoder
            self._bad(f"topic {t[:64]!r}: undecodable payload ({type(exc).__name__}: {str(exc)[:200]})")
            return None
        key = (env.source, t)
        last = self._last.get(key)
        if last is not None:
            session, seq = last
            if session != env.session:
                self.stats.restarts += 1
                log.warning("publisher %s restarted (topic %r)", env.source, t)
            elif env.seq <= seq:
                self.stats.duplicates += 1
                return None
            elif env.seq != seq + 1:
                self.stats.gaps += 1
                self.stats.missing += env.seq - seq - 1
                log.warning("sequence gap on %r from %s: %d -> %d", t, env.source, seq, env.seq)
        self._last[key] = (env.session, env.seq)
        self.stats.envelopes += 1
        self.stats.messages += len(env.items)
        return env

    def _bad(self, reason: str) -> None:
        self.stats.bad_messages += 1
        self.stats.last_errors = (self.stats.last_errors + [reason])[-10:]
        log.error("bad bus message: %s", reason)

    def close(self) -> None:
        self.sock.close(linger=0)


def stats_dict(stats: PublisherStats | SubscriberStats) -> dict[str, object]:
    return dict(stats.__dict__)


class Waiter:
    """Blocks until any of several subscribers has input (or the timeout passes): an idle actor loop
    sleeps in zmq_poll instead of spinning, and wakes the moment a message arrives. With `io`, the
    wait drives that asyncio loop instead (cluster/foundation/runtime/loop_io.py), so its tasks run
    on this thread while it waits, and it also wakes when one of them delivers something."""

    def __init__(self, *subscribers: Subscriber, io: LoopIO | None = None) -> None:
        self._io = io
        self._sockets = [sub.sock for sub in subscribers]
        self._poller = zmq.Poller()
        for sock in self._sockets:
            self._poller.register(sock, zmq.POLLIN)

    def wait(self, timeout_ms: int) -> bool:
        if self._io is not None:
            return self._io.wait(self._sockets, timeout_ms / 1000)
        return bool(self._poller.poll(timeout_ms))
