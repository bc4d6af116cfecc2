"""CLI commands that operate a running cluster through its control API (HTTP, synchronous).

Mounted by cluster/app/cli.py with `add_control_commands(subparsers)`; `main(argv)` runs them alone.
Exit codes: 0 ok, 2 usage / auth / request refused (4xx), 3 API unreachable or failing (5xx).
Human output is rich tables; --json prints the API's JSON for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from rich.console import Console
from rich.table import Table

from cluster.foundation.domain.errors import ConfigError

EXIT_OK = 0
EXIT_REFUSED = 2
EXIT_UNAVAILABLE = 3
TOKEN_ENV = "TRADING_CONTROL_API__TOKEN"
REQUEST_TIMEOUT_S = 15.0


class CliFailure(Exception):
    """One line for the operator and the exit code that goes with it."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ControlClient:
    """Minimal JSON-over-HTTP client of the control API; never goes through an HTTP proxy."""

    def __init__(self, base_url: str, token: str | None = None, operator: str | None = None,
                 timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._operator = operator
        self._timeout_s = timeout_s
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self, path: str, query: dict[str, str | int] | None = None) -> Any:
        return self._send("GET", path + (f"?{urlencode(query)}" if query else ""), None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._operator:
            headers["X-Operator"] = self._operator
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise _refusal(method, path, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliFailure(f"cannot reach the control API at {self.base_url}: is the cluster running "
                             f"(trading-cluster run)? ({reason})", EXIT_UNAVAILABLE) from None
        except json.JSONDecodeError:
            raise CliFailure(f"the control API at {self.base_url} answered {method} {path} with non-JSON",
                             EXIT_UNAVAILABLE) from None


def _refusal(method: str, path: str, exc: urllib.error.HTTPError) -> CliFailure:
    try:
        message = json.loads(exc.read())["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = exc.reason
    if exc.code == 401:
        message = (f"{message}; pass --token, set {TOKEN_ENV}, or run where the cluster keeps "
                   "<state_dir>/control_api.token")
    verb = "failed" if exc.code >= 500 else "refused"
    code = EXIT_UNAVAILABLE if exc.code >= 500 else EXIT_REFUSED
    return CliFailure(f"control API {verb} {method} {path.split('?')[0]} (HTTP {exc.code}): {message}", code)


# --- connection defaults ------------------------------------------------------------------------


def _settings() -> Any:
    from cluster.foundation.domain.settings import settings

    try:
        return settings()
    except ConfigError as exc:
        raise CliFailure(str(exc), EXIT_REFUSED) from None


def _stored_token(tree: Any) -> str | None:
    from cluster.app.api_token import read_token, token_path

    try:
        token = read_token(token_path(tree.resolve(tree.state_dir)))
    except ConfigError as exc:
        raise CliFailure(str(exc), EXIT_REFUSED) from None
    return None if token is None else token.get_secret_value()


def client_from_args(args: argparse.Namespace) -> ControlClient:
    """--api/--token/--operator, else the settings tree (config/*.toml, then TRADING_* env), else the
    token the running cluster keeps in <state_dir>/control_api.token."""
    from cluster.foundation.domain.settings import is_wildcard_host

    api = args.api
    token = args.token
    if api is None or token is None:
        tree = _settings()
        control = tree.control_api
        if api is None:
            host = "127.0.0.1" if is_wildcard_host(control.host) else control.host.strip()
            api = f"http://{f'[{host}]' if ':' in host else host}:{control.port}"
        if token is None:
            token = control.token.get_secret_value() if control.token is not None else _stored_token(tree)
    return ControlClient(api, token=token or None, operator=args.operator)


# --- output -------------------------------------------------------------------------------------


def _cell(value: Any, key: str = "") -> str:
    """Table text; *_ns integers read as UTC times, since humans do not count nanoseconds."""
    if value is None or value == [] or value == ():
        return "-"
    if key.endswith("_ns") and isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            items.extend(_flatten(value, f"{name}."))
        else:
            items.append((name, value))
    return items


def print_mapping(title: str, data: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in _flatten(data):
        table.add_row(key, _cell(value, key))
    Console().print(table)


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        Console().print(f"no {title}")
        return
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c), c) for c in columns))
    Console().print(table)


# --- commands -----------------------------------------------------------------------------------

Fetch = Callable[[ControlClient, argparse.Namespace], Any]
Render = Callable[[str, Any], None]


def _run(args: argparse.Namespace, title: str, fetch: Fetch, render: Render) -> int:
    try:
        data = fetch(client_from_args(args), args)
    except CliFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        render(title, data)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    return _run(args, "cluster status", lambda c, a: c.get("/status"), print_mapping)


def cmd_positions(args: argparse.Namespace) -> int:
    return _run(args, "positions", lambda c, a: c.get("/positions"), print_rows)


def cmd_orders(args: argparse.Namespace) -> int:
    def fetch(c: ControlClient, a: argparse.Namespace) -> Any:
        query: dict[str, str | int] = {"limit": a.limit}
        if a.status:
            query["status"] = a.status
        return c.get("/orders", query)

    return _run(args, "orders", fetch, print_rows)


def cmd_events(args: argparse.Namespace) -> int:
    return _run(args, "risk events", lambda c, a: c.get("/risk/events", {"limit": a.limit}), print_rows)


def cmd_groups(args: argparse.Namespace) -> int:
    return _run(args, "symbol groups", lambda c, a: c.get("/groups"), print_rows)


def cmd_breaker(args: argparse.Namespace) -> int:
    return _run(args, f"breaker {args.action}",
                lambda c, a: c.post(f"/breaker/{a.action}", {"reason": a.reason}), print_mapping)


def cmd_kill(args: argparse.Namespace) -> int:
    return _run(args, "kill", lambda c, a: c.post("/kill", {"reason": a.reason, "flatten": a.flatten}),
                print_mapping)


def cmd_scale(args: argparse.Namespace) -> int:
    return _run(args, "scale", lambda c, a: c.post("/groups/scale", {"groups": a.groups, "reason": a.reason}),
                print_mapping)


def cmd_models_list(args: argparse.Namespace) -> int:
    return _run(args, "models", lambda c, a: c.get("/models"), print_rows)


def cmd_models_promote(args: argparse.Namespace) -> int:
    return _run(args, f"promote {args.version}",
                lambda c, a: c.post("/models/promote", {"version": a.version, "reason": a.reason}), print_mapping)


def cmd_models_rollback(args: argparse.Namespace) -> int:
    return _run(args, "rollback", lambda c, a: c.post("/models/rollback", {"reason": a.reason}), print_mapping)


# --- parser -------------------------------------------------------------------------------------


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("control API")
    group.add_argument("--api", default=None, help="base URL (default: from settings, http://127.0.0.1:8180)")
    group.add_argument("--token", default=None, help=f"bearer token (default: {TOKEN_ENV}; prefer the env var)")
    group.add_argument("--operator", default=None, help="your name for the audit log ([A-Za-z0-9._@-], <= 64)")
    group.add_argument("--json", action="store_true", help="print the raw JSON instead of tables")
    return common


def _reason(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", required=True, help="why; stored in the audit log (<= 500 chars)")


def add_control_commands(subparsers: Any) -> None:
    """Adds status, positions, orders, events, groups, breaker, kill, scale and models."""
    common = [_connection_options()]

    def add(name: str, help_text: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, parents=common)
        parser.set_defaults(func=handler)
        return parser

    add("status", "throughput, orders, fills, P&L, breaker and database status", cmd_status)
    add("positions", "open positions", cmd_positions)
    orders = add("orders", "recent orders", cmd_orders)
    orders.add_argument("--status", default=None, help="only orders in this status, e.g. filled")
    orders.add_argument("--limit", type=int, default=100)
    events = add("events", "recent risk events", cmd_events)
    events.add_argument("--limit", type=int, default=100)
    add("groups", "symbol groups and their actors", cmd_groups)

    breaker = add("breaker", "trip or reset the circuit breaker", cmd_breaker)
    breaker.add_argument("action", choices=("trip", "reset"))
    _reason(breaker)
    kill = add("kill", "stop trading now", cmd_kill)
    kill.add_argument("--flatten", action="store_true", help="also close every open position")
    _reason(kill)
    scale = add("scale", "set the number of symbol groups", cmd_scale)
    scale.add_argument("--groups", type=int, required=True, help="desired number of groups (1..64)")
    _reason(scale)

    models = subparsers.add_parser("models", help="list, promote or roll back signal models")
    model_commands = models.add_subparsers(dest="models_command", required=True, metavar="{list,promote,rollback}")
    listing = model_commands.add_parser("list", help="registered model versions", parents=common)
    listing.set_defaults(func=cmd_models_list)
    promote = model_commands.add_parser("promote", help="serve a registered version", parents=common)
    promote.add_argument("version")
    _reason(promote)
    promote.set_defaults(func=cmd_models_promote)
    rollback = model_commands.add_parser("rollback", help="serve the previous version", parents=common)
    _reason(rollback)
    rollback.set_defaults(func=cmd_models_rollback)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trading-cluster", description="Operate a running trading cluster.")
    add_control_commands(parser.add_subparsers(dest="command", metavar="command"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one control command; returns the exit code (argparse itself exits 2 on bad usage)."""
    args = build_parser().parse_args(argv)
    handler = getattr(args, "func", None)
    if handler is None:
        build_parser().print_help(sys.stderr)
        return EXIT_REFUSED
    return int(handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
