"""The bus keys in the settings: secret, checked, made once per run, and required off loopback."""

from __future__ import annotations

import pytest
import zmq
from pydantic import SecretStr

from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import Settings, load_settings
from cluster.foundation.runtime import bus
from cluster.foundation.runtime.actor_base import ActorShell
from cluster.foundation.runtime.bus_curve import CurveGuard, CurveKeys, with_curve_keys

SERVER = zmq.curve_keypair()[1].decode()
CLIENT = zmq.curve_keypair()[1].decode()


def _with_bus(**bus_values) -> Settings:
    base = load_settings()
    return base.model_copy(update={"bus": base.bus.model_copy(update=bus_values)})


def test_keys_when_pinned_in_the_environment_then_secret_and_never_in_a_repr(monkeypatch):
    # Arrange
    monkeypatch.setenv("TRADING_BUS__CURVE_SERVER_SECRET", SERVER)
    monkeypatch.setenv("TRADING_BUS__CURVE_CLIENT_SECRET", CLIENT)
    # Act
    settings = load_settings()
    # Assert
    assert isinstance(settings.bus.curve_server_secret, SecretStr)
    assert isinstance(settings.bus.curve_client_secret, SecretStr)
    shown = repr(settings) + str(settings) + repr(settings.bus) + settings.model_dump_json()
    assert SERVER not in shown and CLIENT not in shown
    assert with_curve_keys(settings) is settings  # pinned keys are kept


def test_keys_when_a_run_starts_then_made_once_secret_and_kept_by_a_second_call():
    # Arrange
    plain = _with_bus(curve_server_secret=None, curve_client_secret=None)
    # Act
    keyed = with_curve_keys(plain)
    again = with_curve_keys(keyed)
    # Assert
    server, client = keyed.bus.curve_server_secret, keyed.bus.curve_client_secret
    assert isinstance(server, SecretStr) and isinstance(client, SecretStr)
    assert server != client
    assert again.bus.curve_server_secret == server and again.bus.curve_client_secret == client
    assert server.get_secret_value() not in repr(keyed)
    keys = CurveKeys.from_settings(keyed.bus)
    assert keys is not None and keys.server_public == zmq.curve_public(server.get_secret_value().encode())


@pytest.mark.parametrize(("values", "message"), [
    ({"curve_server_secret": SERVER}, "curve_client_secret is missing"),
    ({"curve_client_secret": CLIENT}, "curve_server_secret is missing"),
    ({"curve_server_secret": "x" * 39 + "~", "curve_client_secret": CLIENT}, "curve_server_secret is not a Z85"),
    ({"curve_server_secret": SERVER, "curve_client_secret": SERVER}, "must differ"),
    ({"curve": "never"}, "bus.curve"),
])
def test_settings_when_bus_keys_are_wrong_then_config_error_that_never_shows_a_key(monkeypatch, values, message):
    for key, value in values.items():
        monkeypatch.setenv(f"TRADING_BUS__{key.upper()}", value)
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings()
    assert SERVER not in str(raised.value) and CLIENT not in str(raised.value)


class _Shell(ActorShell):
    name = "market_data"


@pytest.fixture
def shells():
    made: list[ActorShell] = []
    yield made
    CurveGuard.stop_for(zmq.Context.instance())  # the shells share the process's context


def test_actor_bind_when_off_loopback_without_keys_then_config_error_naming_them(shells):
    # Arrange: an actor whose node address is not loopback, in a run that has no keys
    shell = _Shell(_with_bus(host="10.1.2.3", curve_server_secret=None, curve_client_secret=None))
    shells.append(shell)
    # Act / Assert
    with pytest.raises(ConfigError, match="bus.curve_server_secret and bus.curve_client_secret are not set"):
        shell.bind_channel(bus.MARKET_DATA, lambda addr: bus.Publisher(
            shell.ctx, addr, source="md", bind=True, security=shell.bus_security))


def test_actor_bind_when_curve_is_required_then_a_socket_without_the_bus_security_is_refused(shells):
    settings = with_curve_keys(_with_bus(host="127.0.0.1", curve="always"))
    shell = _Shell(settings)
    shells.append(shell)
    with pytest.raises(ConfigError, match="must be CURVE"):
        shell.bind_channel(bus.MARKET_DATA, lambda addr: bus.Publisher(shell.ctx, addr, source="md", bind=True))
    secured = shell.bind_channel(bus.MARKET_DATA, lambda addr: bus.Publisher(
        shell.ctx, addr, source="md", bind=True, security=shell.bus_security))
    peer = shell.peer_channel(bus.REPORTS, bus.Subscriber(shell.ctx, None, topics=[], bind=False))
    assert secured.curve and peer.security is shell.bus_security
    peer.close()
    secured.sock.close(linger=0)
