"""The control API's bearer token when none is configured: made once, kept in the state directory.

The file is created with mode 0600 (owner only) and never rewritten while it holds a token, so
the CLI on the same machine reads the token the running cluster uses. A file that others may
read is refused: its token may have leaked.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from pydantic import SecretStr

from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import ControlApiSettings

TOKEN_FILE_NAME = "control_api.token"
TOKEN_BYTES = 32


def token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILE_NAME


def read_token(path: Path) -> SecretStr | None:
    """The stored token, or None when there is no file (yet). ConfigError if others may read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by other users (mode {stat.filemode(mode)}): delete it "
                          "and restart to get a new token, or chmod 600 it if it never left this machine")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the control API token file {path}: {exc}") from None
    return SecretStr(text) if text else None


def load_or_create_token(path: Path) -> SecretStr:
    """The token in `path`; a new random one is written there (0600) when there is none."""
    existing = read_token(path)
    if existing is not None:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot create the control API token file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(token + "\n")
    return SecretStr(token)


def with_token(control: ControlApiSettings, state_dir: Path) -> ControlApiSettings:
    """`control` itself when it has a token; otherwise a copy holding the stored (or a new) one."""
    if control.token is not None:
        return control
    return control.model_copy(update={"token": load_or_create_token(token_path(state_dir))})
