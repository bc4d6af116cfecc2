"""CURVE authentication and encryption of the bus (ZeroMQ RFC 26 CurveZMQ, RFC 27 ZAP).

Keys: one keypair for every binding socket (the CURVE servers) and one for every connecting socket
(the CURVE clients). A client checks the server's key, so nothing off the cluster can pose as a
publisher; the server's ZAP handler admits the cluster's client key and nothing else, so nothing
off the cluster can subscribe, inject signals or read the order flow. Both keypairs are made once
where a run starts (`with_curve_keys`) and reach every actor inside its frozen settings (SecretStr),
so an actor or a detached supervisor that Ray restarts keeps them. Per-actor keys would add nothing
against the threat we guard (a machine on the network that is not part of the cluster): every actor
already trusts the settings it is constructed with, and those travel through Ray's control plane.

Policy: a socket whose address is loopback stays plain unless `bus.curve = "always"`; any other
socket is CURVE, and a bind or connect off loopback without keys is a ConfigError, never plain.

Refusals: each context that serves CURVE runs one guard thread. It answers ZAP requests (a denied
client key is logged with the peer's address) and reads the handshake-failure events of every
CURVE server socket (a peer without keys, with another server key, with another client key), counts
them by reason and reports them to `on_refused` (the actors export a metric).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import zmq
from pydantic import SecretStr
from zmq.utils import z85
from zmq.utils.monitor import recv_monitor_message

from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import BusSettings, Settings, is_loopback_host

log = logging.getLogger("trading.bus.curve")

ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # fixed by RFC 27: one ZAP handler per context
ZAP_DOMAIN = b"trading-bus"
LOG_EVERY_S = 60.0  # a refusal is logged at once, then at most once a minute per endpoint and reason
_POLL_MS = 100
_HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                     | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_MONITOR_STOPPED)

REASON_NO_CURVE = "no_curve"  # the peer speaks plain ZMTP: it holds no keys
REASON_BAD_SERVER_KEY = "bad_server_key"  # the peer's handshake does not decrypt: it has another server key
REASON_UNKNOWN_CLIENT_KEY = "unknown_client_key"  # the ZAP handler refused the peer's client key
REASON_PROTOCOL = "protocol_error"
REASON_OTHER = "handshake_failed"

MISSING_KEYS = ("bus.curve_server_secret and bus.curve_client_secret are not set (`trading-cluster run` and "
                "`replay` generate them for the run; an operator may pin them with TRADING_BUS__CURVE_SERVER_SECRET "
                "and TRADING_BUS__CURVE_CLIENT_SECRET)")


@dataclass(frozen=True, repr=False)
class CurveKeys:
    """The cluster's two keypairs, Z85-encoded. The repr shows the public keys' first characters only."""

    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes

    @classmethod
    def from_secrets(cls, server_secret: str, client_secret: str) -> CurveKeys:
        s, c = server_secret.encode(), client_secret.encode()
        return cls(zmq.curve_public(s), s, zmq.curve_public(c), c)

    @classmethod
    def from_settings(cls, bus: BusSettings) -> CurveKeys | None:
        if bus.curve_server_secret is None or bus.curve_client_secret is None:
            return None
        return cls.from_secrets(bus.curve_server_secret.get_secret_value(), bus.curve_client_secret.get_secret_value())

    def __repr__(self) -> str:
        return f"CurveKeys(server={self.server_public[:8].decode()}…, client={self.client_public[:8].decode()}…)"


def new_secret() -> SecretStr:
    """A fresh CURVE secret key (Z85), from libsodium's random source."""
    return SecretStr(zmq.curve_keypair()[1].decode())


def with_curve_keys(settings: Settings) -> Settings:
    """The settings with the bus keys of this run: kept when configured (both), else made now. Call it
    once where a run starts, before any actor (or the detached supervisor) is given the settings."""
    bus = settings.bus
    if bus.curve_server_secret is not None and bus.curve_client_secret is not None:
        return settings
    keyed = bus.model_copy(update={"curve_server_secret": new_secret(), "curve_client_secret": new_secret()})
    return settings.model_copy(update={"bus": keyed})


def host_of(address: str) -> str | None:
    """The host of a tcp:// endpoint; None for a transport that never leaves the process or machine."""
    if not address.startswith("tcp://"):
        return None
    host, _, _port = address.removeprefix("tcp://").rpartition(":")
    return host.strip("[]")


Refused = Callable[[str, str], None]  # (bound endpoint, reason)


class BusSecurity:
    """Which bus sockets are CURVE and with what keys: the policy every Publisher and Subscriber follows."""

    def __init__(self, keys: CurveKeys | None, everywhere: bool = False, on_refused: Refused | None = None) -> None:
        self.keys = keys
        self.everywhere = everywhere
        self.on_refused = on_refused

    @classmethod
    def from_settings(cls, bus: BusSettings, on_refused: Refused | None = None) -> BusSecurity:
        return cls(CurveKeys.from_settings(bus), bus.curve == "always", on_refused)

    def __repr__(self) -> str:
        return f"BusSecurity({self.keys!r}, everywhere={self.everywhere})"

    def required(self, address: str) -> bool:
        """True when a socket at this endpoint must be CURVE (both ends decide alike from the address)."""
        host = host_of(address)
        return host is not None and (self.everywhere or not is_loopback_host(host))

    def serve(self, sock: zmq.Socket[bytes], address: str) -> None:
        """Make `sock` a CURVE server admitting only the cluster's client key. Call before bind."""
        keys = _keys_for(self, address)
        guard = CurveGuard.of(sock.context, keys.client_public, self.on_refused)
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, keys.server_secret)
        sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)  # no ZAP handler answering: refuse, never admit
        guard.watch(sock)

    def dial(self, sock: zmq.Socket[bytes], address: str) -> None:
        """Make `sock` a CURVE client of the cluster's server key. Call before connect."""
        keys = _keys_for(self, address)
        sock.setsockopt(zmq.CURVE_SERVERKEY, keys.server_public)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.client_public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, keys.client_secret)

    def refused(self, ctx: zmq.Context[zmq.Socket[bytes]]) -> dict[str, int]:
        """Refused handshakes so far on the CURVE server sockets of `ctx`, by reason."""
        guard = CurveGuard.existing(ctx)
        return {} if guard is None else guard.counts()


def require_keys(security: BusSecurity | None, address: str) -> None:
    """ConfigError unless `address` may stay plain or keys are there: never silently plain off loopback."""
    host = host_of(address)
    curve = host is not None and not is_loopback_host(host) or security is not None and security.required(address)
    if curve and (security is None or security.keys is None):
        raise ConfigError(f"bus socket at {address} must be CURVE-authenticated (it is not on loopback, or "
                          f"bus.curve is 'always'), but {MISSING_KEYS}")


def _keys_for(security: BusSecurity, address: str) -> CurveKeys:
    require_keys(security, address)
    assert security.keys is not None
    return security.keys


class CurveGuard:
    """One per ZeroMQ context: the ZAP handler and the reader of the CURVE servers' handshake failures."""

    _guards: weakref.WeakKeyDictionary[zmq.Context[zmq.Socket[bytes]], CurveGuard] = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], client_public: bytes, on_refused: Refused | None) -> None:
        self.client_public = client_public
        self.on_refused = on_refused
        self._zap = ctx.socket(zmq.REP)
        self._zap.setsockopt(zmq.LINGER, 0)
        try:
            self._zap.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            self._zap.close()
            raise ConfigError(f"another ZAP handler is already bound in this process's ZeroMQ context: {exc}") from exc
        self._pending: queue.Queue[zmq.Socket[bytes]] = queue.Queue()
        self._counts: dict[str, int] = {}
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}  # (endpoint, reason): last log, since
        self._counts_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bus-curve-guard", daemon=True)
        self._thread.start()

    @classmethod
    def of(cls, ctx: zmq.Context[zmq.Socket[bytes]], client_public: bytes, on_refused: Refused | None) -> CurveGuard:
        with cls._lock:
            guard = cls._guards.get(ctx)
            if guard is None:
                guard = cls._guards[ctx] = cls(ctx, client_public, on_refused)
            elif guard.client_public != client_public:
                raise ConfigError("one ZeroMQ context serves the bus with two different client keys")
            return guard

    @classmethod
    def existing(cls, ctx: zmq.Context[zmq.Socket[bytes]]) -> CurveGuard | None:
        with cls._lock:
            return cls._guards.get(ctx)

    @classmethod
    def stop_for(cls, ctx: zmq.Context[zmq.Socket[bytes]], timeout_s: float = 2.0) -> None:
        """End the guard of `ctx` (its thread closes its sockets), so that the context can terminate."""
        with cls._lock:
            guard = cls._guards.pop(ctx, None)
        if guard is not None:
            guard._stop.set()
            guard._thread.join(timeout_s)

    def watch(self, sock: zmq.Socket[bytes]) -> None:
        """Count the handshake failures of a CURVE server socket (call before it binds)."""
        self._pending.put(sock.get_monitor_socket(_HANDSHAKE_EVENTS))

    def counts(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(self._counts)

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._zap, zmq.POLLIN)
        monitors: set[zmq.Socket[bytes]] = set()
        try:
            while not self._stop.is_set():
                while not self._pending.empty():
                    mon = self._pending.get_nowait()
                    monitors.add(mon)
                    poller.register(mon, zmq.POLLIN)
                for sock, _ in poller.poll(_POLL_MS):
                    if sock is self._zap:
                        self._zap.send_multipart(self._answer(self._zap.recv_multipart()))
                    elif not self._event(sock):
                        poller.unregister(sock)
                        monitors.discard(sock)
                        sock.close(linger=0)
        except zmq.ContextTerminated:
            pass
        finally:
            for sock in [*monitors, self._zap]:
                sock.close(linger=0)
            while not self._pending.empty():
                self._pending.get_nowait().close(linger=0)

    def _answer(self, request: list[bytes]) -> list[bytes]:
        """RFC 27: admit a CURVE client whose key is the cluster's, refuse anything else."""
        if len(request) < 6:
            log.error("malformed ZAP request (%d frames)", len(request))
            return [b"1.0", b"", b"500", b"malformed request", b"", b""]
        version, request_id, domain, address, _identity, mechanism, *credentials = request
        key = credentials[0] if mechanism == b"CURVE" and credentials else b""
        if version == b"1.0" and domain == ZAP_DOMAIN and len(key) == 32 and z85.encode(key) == self.client_public:
            return [version, request_id, b"200", b"OK", b"bus", b""]
        shown = z85.encode(key)[:8].decode() if len(key) == 32 else "-"
        log.warning("bus refused a CURVE client from %s: client key %s… is not the cluster's (mechanism %s)",
                    address.decode(errors="replace"), shown, mechanism.decode(errors="replace"))
        return [b"1.0", request_id, b"400", b"client key not admitted", b"", b""]

    def _event(self, mon: zmq.Socket[bytes]) -> bool:
        """Count one handshake failure; False once the watched socket is closed."""
        event = recv_monitor_message(mon)
        kind, value = int(event["event"]), int(event["value"])
        if kind == zmq.EVENT_MONITOR_STOPPED:
            return False
        reason = _reason(kind, value)
        raw = event.get("endpoint", b"")
        where = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        with self._counts_lock:
            self._counts[reason] = self._counts.get(reason, 0) + 1
        self._log(where, reason)
        if self.on_refused is not None:
            try:
                self.on_refused(where, reason)
            except Exception:  # a failing exporter must not end the ZAP handler
                log.exception("recording a refused bus handshake failed")
        return True

    def _log(self, where: str, reason: str) -> None:
        now = time.monotonic()
        last, since = self._logged.get((where, reason), (-LOG_EVERY_S, 0))
        since += 1
        if now - last >= LOG_EVERY_S:
            log.warning("bus endpoint %s refused %d handshake(s): %s", where, since, _SAID[reason])
            last, since = now, 0
        self._logged[(where, reason)] = (last, since)


_SAID = {
    REASON_NO_CURVE: "a peer without the cluster's keys (plain ZMTP)",
    REASON_BAD_SERVER_KEY: "a peer that does not hold the cluster's server key",
    REASON_UNKNOWN_CLIENT_KEY: "a peer whose client key is not the cluster's (its address is logged above)",
    REASON_PROTOCOL: "a peer that broke the handshake protocol",
    REASON_OTHER: "a handshake that failed without detail",
}


def _reason(kind: int, value: int) -> str:
    if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return REASON_UNKNOWN_CLIENT_KEY
    if kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        if value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            return REASON_NO_CURVE
        if value == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
            return REASON_BAD_SERVER_KEY
        return REASON_PROTOCOL
    return REASON_OTHER
