"""Keeps the test suite on this machine: any connection (or name lookup) to anything but loopback fails loudly.

The connectors' defaults point at the real marketplaces; every test points them at local stand-ins. If one is
forgotten, this turns the call into an immediate ``ConnectionRefusedError`` naming the address instead of
traffic leaving the machine. Installed in the test process by ``tests/conftest.py`` and, through this module's
name (Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``), in every process the tests start
(``alephee serve``, CLI commands), while ``ALEPHEE_TEST_NETWORK_GUARD`` is set.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", ""})


def is_loopback(host: Any) -> bool:
    """Whether ``host`` (an address, a name, or a Unix socket path) stays on this machine."""
    if not isinstance(host, str):
        return isinstance(host, bytes)  # Unix socket paths as bytes
    name = host.strip("[]").split("%", 1)[0].lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refuse(what: Any) -> None:
    raise ConnectionRefusedError(f"test network guard: {what!r} is not loopback; tests never leave the machine")


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
        _refuse(address)


def _connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    else:
        return True
    try:
        socket.inet_aton(host)  # the old numeric spellings too: 2130706433, 0x7f000001, 127.1
    except OSError:
        return False
    return True


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # An address literal is translated locally (no lookup leaves the machine; ``connect`` guards its use); a
    # name is looked up only when it is this machine's.
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_address(name) and not is_loopback(name):
        _refuse(host)
    return _real_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    """Refuse non-loopback connections and name lookups in this process."""
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo


if os.environ.get("ALEPHEE_TEST_NETWORK_GUARD"):
    install()
