"""The suite cannot reach anything beyond loopback, in its own process or in the processes it starts."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest


@pytest.mark.parametrize("address", [("192.0.2.1", 80), ("8.8.8.8", 53), ("2001:db8::1", 443)])
def test_connections_beyond_loopback_are_refused(address: tuple[str, int]) -> None:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(ConnectionRefusedError, match="not loopback"):
        sock.connect(address)


def test_name_lookups_beyond_loopback_are_refused() -> None:
    with pytest.raises(ConnectionRefusedError, match="not loopback"):
        socket.getaddrinfo("api.mercadolibre.com", 443)
    with pytest.raises(httpx.ConnectError):
        httpx.get("https://api.tiendanube.com/v1/1/store", timeout=2)


def test_loopback_stays_open() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    assert socket.getaddrinfo("localhost", 80)


def test_started_processes_are_guarded_too() -> None:
    code = "import socket; socket.create_connection(('192.0.2.1', 80), timeout=2)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0 and "not loopback" in done.stderr
