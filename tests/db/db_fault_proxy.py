"""A TCP proxy between the repository and PostgreSQL that can cut every connection and refuse
new ones (an outage as the client sees it), then heal. Threads, loopback only."""

from __future__ import annotations

import contextlib
import socket
import threading


class FaultProxy:
    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting = threading.Event()
        self._closed = False
        self.port = self._listen(0)
        self.connections_accepted = 0

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._accepting.set()
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()
        return listener.getsockname()[1]

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._accepting.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
                self.connections_accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()
        listener.close()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._drop(src)
            self._drop(dst)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()

    def cut(self) -> None:
        """Refuse new connections (the port is closed) and break every open one."""
        self._accepting.clear()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            self._drop(sock)

    def heal(self) -> None:
        """Accept connections on the same port again."""
        if self._listener is None and not self._closed:
            self._listen(self.port)

    def close(self) -> None:
        self._closed = True
        self.cut()
