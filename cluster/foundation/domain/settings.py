"""One frozen settings tree: config/default.toml, then config/risk_limits.toml, then TRADING_* env.

Nested keys use `__` in the environment: TRADING_RISK__MAX_DAILY_LOSS_USD=2500. Secrets are
SecretStr and are never printed. An invalid value stops start-up with one ConfigError that names
the key and the reason.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cluster.foundation.domain.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parents[2]  # cluster/
# An installed wheel carries config/, data/ and the Alembic migrations here (see setup.py).
SHIPPED_DIR = _PACKAGE_DIR / "_shipped"


def _project_root() -> Path:
    """The checkout when running from source (editable install), else the wheel's shipped tree.

    Relative paths in the settings (data files, state_dir, a SQLite URL) are taken relative to it.
    """
    checkout = _PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() or not SHIPPED_DIR.is_dir():
        return checkout
    return SHIPPED_DIR


REPO_ROOT = _project_root()
DEFAULT_CONFIG_DIR = REPO_ROOT / "config"


WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*", "[::]"})


def is_wildcard_host(host: str) -> bool:
    """A bind address that means every interface ("" included: servers bind it to all of them)."""
    return host.strip() in WILDCARD_HOSTS


def is_loopback_host(host: str) -> bool:
    """True only for names that reach this machine alone; a wildcard or an empty host is not loopback."""
    host = host.strip()
    if is_wildcard_host(host):
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


Z85_KEY = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")


def is_z85_key(text: str) -> bool:
    """A 32-byte CURVE key in Z85 (ZeroMQ RFC 32): 40 characters of its alphabet."""
    return Z85_KEY.fullmatch(text) is not None


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RaySettings(_Section):
    address: str = Field("local", description="'local' starts a cluster in-process; 'auto' or host:port joins one")
    namespace: str = Field("trading", min_length=1)
    include_dashboard: bool = True
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(8265, ge=1, le=65535)
    auth_mode: Literal["disabled", "token"] = Field(
        "disabled", description="Ray 2.60 turns token auth on by default; we choose explicitly"
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local cluster; None = Ray's own count")
    actor_num_cpus: float = Field(0.25, gt=0, le=64, description="CPU reservation of each trading actor")
    metrics_report_interval_ms: int = Field(2000, ge=100)
    worker_niceness: int = Field(0, ge=0, le=19, description="nice value of a local cluster's workers (the trading "
                                 "actors); Ray's own default, 15, lets any other process on the machine go first")
    log_to_driver: bool = Field(False, description="echo actor logs in the driver's terminal (they are always in "
                                "the Ray dashboard and under the session's log directory)")

    @model_validator(mode="after")
    def _token_auth_off_loopback(self) -> RaySettings:
        if self.include_dashboard and self.auth_mode == "disabled" and not is_loopback_host(self.dashboard_host):
            raise ValueError("auth_mode 'disabled' is only allowed with a loopback dashboard_host")
        return self


class BusSettings(_Section):
    host: str | None = Field(
        None, description="override of the address binding sockets use and advertise; unset: each actor binds on "
        "its own node's address (a one-node local cluster uses 127.0.0.1) and peers find it through Ray")
    market_data_port: int = Field(0, ge=0, le=65535, description="0 = a free port, found by peers through Ray")
    signals_port: int = Field(0, ge=0, le=65535)
    orders_port: int = Field(0, ge=0, le=65535)
    reports_port: int = Field(0, ge=0, le=65535)
    connect_timeout_s: float = Field(60, gt=0, description="how long an actor waits for a peer's endpoint")
    send_hwm: int = Field(10_000, ge=1, description="envelopes queued per peer before a send would block or drop")
    recv_hwm: int = Field(10_000, ge=1)
    batch_max_items: int = Field(512, ge=1, le=100_000, description="messages per envelope at most")
    when_full: Literal["block", "drop"] = Field(
        "block", description="replay blocks (lossless); live feeds may drop, and count every drop"
    )
    window_batches: int = Field(4, ge=1, description="batches in flight before the feed waits for settlement")
    max_message_bytes: int = Field(64 * 1024 * 1024, ge=64 * 1024, description="ZeroMQ MAXMSGSIZE of every bus "
                                   "socket: a peer sending a larger message is disconnected")
    curve: Literal["off_loopback", "always"] = Field(
        "off_loopback", description="CURVE authentication and encryption of the bus: off_loopback = every socket "
        "whose address is not loopback (a one-node run stays plain); always = loopback too. There is no 'never'")
    curve_server_secret: SecretStr | None = Field(
        None, description="Z85 CURVE secret key of every binding socket (the public key is derived); unset: "
        "`run`/`replay` generate one per run and hand it to every actor")
    curve_client_secret: SecretStr | None = Field(
        None, description="Z85 CURVE secret key of every connecting socket; the only client key the bus admits")

    @model_validator(mode="after")
    def _distinct_ports(self) -> BusSettings:
        ports = [p for p in (self.market_data_port, self.signals_port, self.orders_port, self.reports_port) if p]
        if len(set(ports)) != len(ports):
            raise ValueError(f"bus ports must be distinct, got {ports}")
        return self

    @model_validator(mode="after")
    def _curve_keys(self) -> BusSettings:
        given = {name: getattr(self, name) for name in ("curve_server_secret", "curve_client_secret")}
        if sum(v is not None for v in given.values()) == 1:
            missing = next(name for name, v in given.items() if v is None)
            raise ValueError(f"the CURVE keys are set together: {missing} is missing")
        for name, secret in given.items():  # the message never repeats the value
            if secret is not None and not is_z85_key(secret.get_secret_value()):
                raise ValueError(f"{name} is not a Z85-encoded CURVE key (40 characters)")
        if given["curve_server_secret"] is not None and given["curve_server_secret"] == given["curve_client_secret"]:
            raise ValueError("curve_server_secret and curve_client_secret must differ")
        return self


class MarketDataSettings(_Section):
    source: Literal["replay", "synthetic", "alpaca"] = "replay"
    files: tuple[str, ...] = ("data/us_equity_minute_trade_bars.csv", "data/us_equity_minute_quote_bars.csv")
    start: str | None = Field(None, description="first UTC date (YYYY-MM-DD) to replay, inclusive")
    end: str | None = Field(None, description="last UTC date (YYYY-MM-DD) to replay, inclusive")
    speed: float = Field(0.0, ge=0, description="0 = as fast as possible; N = N x real time")
    batch_bars: int = Field(256, ge=1, description="replay events per batch (cut at timestamp boundaries)")
    live_batch_ms: int = Field(200, ge=1, description="live: a batch is cut at least this often (and at batch_bars)")
    synthetic_symbols: int = Field(100, ge=1)
    synthetic_events_per_s: float = Field(10_000, gt=0)
    synthetic_seconds: float = Field(10, gt=0)
    synthetic_seed: int = 7


class SignalSettings(_Section):
    universe: tuple[str, ...] = ("SPY", "IBM", "BAC", "AIG")
    group_size: int | None = Field(
        None, ge=1, description="symbols per signal actor (symbol group); None = sized by the cluster "
        "(cluster/foundation/runtime/grouping.py: the universe over the signal slots offered)"
    )
    strategy: Literal["rule_baseline", "model"] = "rule_baseline"
    model_dir: str = "var/models"
    rsi_buy_below: float = Field(30, gt=0, lt=100)
    rsi_sell_above: float = Field(70, gt=0, lt=100)
    allow_short: bool = False
    group_resources: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="extra Ray resources per group, e.g. {g0 = {heavy_node = 1}} to pin it"
    )

    @model_validator(mode="after")
    def _rsi_band(self) -> SignalSettings:
        if self.rsi_buy_below >= self.rsi_sell_above:
            raise ValueError("rsi_buy_below must be below rsi_sell_above")
        if len(set(self.universe)) != len(self.universe):
            raise ValueError("universe lists a symbol twice")
        return self


class RiskSettings(_Section):
    """Seed limits; the values in force come from config/risk_limits.toml."""

    max_position_usd: Decimal = Field(Decimal(10_000), gt=0, description="max |position| notional per symbol")
    max_total_exposure_usd: Decimal = Field(Decimal(50_000), gt=0, description="sum of |position| notionals")
    max_open_positions: int = Field(5, ge=1)
    max_daily_loss_usd: Decimal = Field(Decimal(5_000), gt=0, description="realized + unrealized loss that trips the breaker")
    breaker_cooldown_minutes: float = Field(60, gt=0)
    order_notional_usd: Decimal = Field(Decimal(5_000), gt=0, description="notional the sizer aims for per entry")
    max_order_notional_usd: Decimal = Field(Decimal(10_000), gt=0, description="fat-finger cap per order")
    price_band_pct: Decimal = Field(Decimal(5), gt=0, description="max distance of an order price from the last price")
    max_orders_per_minute: int = Field(200, ge=1, description="approved orders per rolling minute (spec: 200)")
    stale_data_seconds: float = Field(300, gt=0, description="no price for a held symbol this long blocks orders in it")
    max_consecutive_order_failures: int = Field(5, ge=1)
    reduced_size_factor: Decimal = Field(Decimal("0.5"), gt=0, le=1, description="limits scale after a breaker reset")
    trading_day_tz: str = "America/New_York"
    initial_cash: Decimal = Field(Decimal(100_000), gt=0)
    check_invariants: bool = Field(False, description="verify the accounting invariants after every fill (tests)")
    pipeline_depth: int = Field(2, ge=1, le=8, description="risk decides batch k once batch k - depth is settled: "
                                "2 decides k + 1 while execution works on k, 1 is lockstep")

    @model_validator(mode="after")
    def _total_exposure_ge_symbol_limit(self) -> RiskSettings:
        if self.max_total_exposure_usd < self.max_position_usd:
            raise ValueError("max_total_exposure_usd must be >= max_position_usd")
        return self


class ExecutionSettings(_Section):
    broker: Literal["sim", "alpaca"] = "sim"
    slippage_bps: Decimal = Field(Decimal(1), ge=0, le=1000)
    commission_per_share: Decimal = Field(Decimal("0.005"), ge=0)
    commission_min: Decimal = Field(Decimal(0), ge=0)
    client_order_prefix: str = Field("tc", pattern=r"^[a-z0-9]{1,8}$")


class DatabaseSettings(_Section):
    url: SecretStr = Field(SecretStr("sqlite:///var/trading.db"), description="SQLAlchemy URL")
    echo: bool = False
    queue_max: int = Field(10_000, ge=10, description="rows buffered in memory before spilling to the journal")
    write_linger_ms: float = Field(50, ge=0, le=1_000, description="the writer lets rows gather this long before "
                                   "a commit (one commit for many); intents and flushes never wait for it")
    retention_years: int = Field(10, ge=1, description="monthly partitions older than this are dropped")
    partition_months_ahead: int = Field(3, ge=1, le=24)


class AlpacaSettings(_Section):
    key_id: SecretStr | None = None
    secret_key: SecretStr | None = None
    trading_url: str = "http://127.0.0.1:8190"
    data_url: str = "ws://127.0.0.1:8190"
    feed: Literal["iex", "sip"] = "iex"
    simulator: Literal["auto", "off"] = Field(
        "auto", description="auto: `run` starts the bundled simulator when both URLs are loopback and no keys are set"
    )
    sim_run_seconds: float = Field(90, gt=0, description="wall time the simulator spreads the configured dates over")
    simulated: bool = Field(False, description="set when the data is a replay: the cores then run on event time")


class ControlApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8180, ge=1, le=65535)
    token: SecretStr | None = Field(None, description="bearer token; unset: generated once into "
                                    "<state_dir>/control_api.token (mode 0600), which the CLI reads")
    allowed_hosts: tuple[str, ...] = Field((), description="extra Host names (name or name:port) callers may "
                                           "use, e.g. a Kubernetes Service name; loopback names are always allowed")

    @model_validator(mode="after")
    def _token_off_loopback(self) -> ControlApiSettings:
        if not is_loopback_host(self.host) and self.token is None:
            shown = repr(self.host) if self.host.strip() else "'' (every interface)"
            raise ValueError(f"a token is required to serve the control API on non-loopback host {shown}")
        return self


class MetricsSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535, description="0 = off")


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", env_prefix="TRADING_", env_nested_delimiter="__", nested_model_default_partial_update=True
    )

    state_dir: str = Field("var", description="runtime files: SQLite, journals, models")
    ray: RaySettings = RaySettings()
    bus: BusSettings = BusSettings()
    market_data: MarketDataSettings = MarketDataSettings()
    signal: SignalSettings = SignalSettings()
    risk: RiskSettings = RiskSettings()
    execution: ExecutionSettings = ExecutionSettings()
    database: DatabaseSettings = DatabaseSettings()
    alpaca: AlpacaSettings = AlpacaSettings()
    control_api: ControlApiSettings = ControlApiSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFiles(settings_cls))

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the repository root unless absolute."""
        p = Path(path)
        return p if p.is_absolute() else REPO_ROOT / p


class _TomlFiles(PydanticBaseSettingsSource):
    """default.toml for the whole tree, risk_limits.toml for the `risk` section."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return read_config_dir(os.environ.get("TRADING_CONFIG_DIR") or None)


def read_config_dir(explicit_dir: str | None) -> dict[str, Any]:
    """default.toml (+ risk_limits.toml) of TRADING_CONFIG_DIR, or of the project's own config/.

    The project's own default.toml must exist: an installation without it would otherwise run on
    the class defaults (another data source, broker and state directory) without a word. Only a
    directory named explicitly may leave it out.
    """
    config_dir = Path(explicit_dir) if explicit_dir else DEFAULT_CONFIG_DIR
    if explicit_dir is not None and not config_dir.is_dir():
        raise ConfigError(f"TRADING_CONFIG_DIR={explicit_dir} is not a directory")
    data: dict[str, Any] = {}
    default = config_dir / "default.toml"
    if default.is_file():
        data = _read_toml(default)
    elif explicit_dir is None:
        raise ConfigError(
            f"configuration file {default} is missing: this installation of trading-cluster is incomplete "
            "(a wheel carries it under cluster/_shipped/config); reinstall, or set TRADING_CONFIG_DIR to a "
            "directory holding default.toml"
        )
    limits = config_dir / "risk_limits.toml"
    if limits.is_file():
        data["risk"] = {**data.get("risk", {}), **_read_toml(limits)}
    return data


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc


def load_settings(**overrides: Any) -> Settings:
    """Build the settings tree or raise one ConfigError naming every bad key and why."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(root)"
            problems.append(f"config key '{key}': {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
