"""Keeps the test suite on this machine: any connection, datagram or name lookup to anything but loopback fails
loudly.

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
_real_sendto = socket.socket.sendto
_real_sendmsg = socket.socket.sendmsg
_real_getaddrinfo = socket.getaddrinfo
_real_gethostbyname = socket.gethostbyname
_real_gethostbyname_ex = socket.gethostbyname_ex
_real_gethostbyaddr = socket.gethostbyaddr
_real_getnameinfo = socket.getnameinfo
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


def _sendto(self: socket.socket, data: Any, *rest: Any) -> int:
    # sendto(data, address) or sendto(data, flags, address): a datagram needs no connect to leave.
    _check(self, rest[-1])
    return _real_sendto(self, data, *rest)


def _sendmsg(self: socket.socket, buffers: Any, *rest: Any) -> int:
    # sendmsg(buffers[, ancdata[, flags[, address]]]): only the four-argument form names where it goes.
    if len(rest) == 3 and rest[2] is not None:
        _check(self, rest[2])
    return _real_sendmsg(self, buffers, *rest)


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


def _check_name(host: Any) -> None:
    # An address literal is translated locally (no lookup leaves the machine; ``connect`` guards its use); a
    # name is looked up only when it is this machine's.
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_address(name) and not is_loopback(name):
        _refuse(host)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    _check_name(host)
    return _real_getaddrinfo(host, *args, **kwargs)


def _gethostbyname(host: Any) -> Any:
    _check_name(host)
    return _real_gethostbyname(host)


def _gethostbyname_ex(host: Any) -> Any:
    _check_name(host)
    return _real_gethostbyname_ex(host)


def _gethostbyaddr(host: Any) -> Any:
    # A reverse lookup of anything but loopback asks a name server.
    if not is_loopback(host):
        _refuse(host)
    return _real_gethostbyaddr(host)


def _getnameinfo(address: Any, flags: int) -> Any:
    if not is_loopback(address[0]):
        _refuse(address)
    return _real_getnameinfo(address, flags)


def install() -> None:
    """Refuse non-loopback connections, datagrams and name lookups (forward and reverse) in this process."""
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _sendto  # type: ignore[method-assign, assignment]
    socket.socket.sendmsg = _sendmsg  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo
    socket.gethostbyname = _gethostbyname
    socket.gethostbyname_ex = _gethostbyname_ex
    socket.gethostbyaddr = _gethostbyaddr
    socket.getnameinfo = _getnameinfo


if os.environ.get("ALEPHEE_TEST_NETWORK_GUARD"):
    install()
