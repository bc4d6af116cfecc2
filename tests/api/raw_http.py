"""Byte-level HTTP/1.1 for tests: whatever bytes a hostile client sends, and the status it gets back."""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RawReply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send_raw(port: int, request: bytes, timeout_s: float = 10.0) -> RawReply:
    """Sends `request` as is on a new loopback connection; reads until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        # the server may answer (413, 400) and close before it has read everything
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        return RawReply(0, b"")
    status_line, _, rest = data.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    parts = status_line.split(b" ")
    return RawReply(int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0, body)


def request_bytes(method: str, path: str, port: int, *, headers: dict[str, bytes] | None = None,
                  body: bytes = b"", host: bytes | None = None) -> bytes:
    """An HTTP/1.1 request with Connection: close and a correct Content-Length."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + (f"127.0.0.1:{port}".encode() if host is None else host),
             b"Connection: close", b"Content-Length: " + str(len(body)).encode()]
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
