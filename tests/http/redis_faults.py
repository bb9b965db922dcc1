"""Loopback stand-ins for a Redis that is gone, hangs, or comes back (for the rate-limiter tests)."""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType

from tests.conftest import free_port


def closed_port_url() -> str:
    """A Redis URL on a loopback port nobody listens on (connections are refused at once)."""
    return f"redis://127.0.0.1:{free_port()}/0"


class HangingServer:
    """Accepts connections on loopback and never answers (a Redis that hangs); counts the connections."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        """The Redis URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if ready:
                conn, _ = self._sock.accept()
                self._held.append(conn)
                self.accepted += 1

    def __enter__(self) -> HangingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()


class Forwarder:
    """A TCP relay from a loopback port to another loopback address; until ``start()`` nothing listens on
    the port (Redis gone), after it every connection reaches the target (Redis back)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The Redis URL through the relay."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Begin listening and relaying."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self._sock = sock
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            client, _ = self._sock.accept()
            upstream = socket.create_connection(self.target, timeout=5)
            thread = threading.Thread(target=self._pipe, args=(client, upstream), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        with a, b:
            while not self._stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)

    def __enter__(self) -> Forwarder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
