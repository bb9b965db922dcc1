"""Which URLs and IP addresses a webhook may reach (the SSRF rule, in one place): ``check_url`` for what a
subscription may name, ``resolve`` for the addresses a delivery connects to.

An address is public when it is globally routable and not multicast. IPv6 can carry an IPv4 address, and a
network that routes those forms delivers to the IPv4 address inside, so such an address is judged by what it
carries too: mapped ``::ffff:a.b.c.d``, SIIT ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d`` and 6to4
``2002:AABB:CCDD::`` are public only when the IPv4 address inside is. Some ranges are refused whatever they
carry: IPv4-compatible ``::a.b.c.d`` (deprecated), Teredo ``2001::/32`` (a tunnel whose client address is
obfuscated), site-local ``fec0::/10`` (deprecated but still routed inside some networks) and the local-use
NAT64 prefix ``64:ff9b:1::/48`` (translates into the operator's own network). Python's ``is_global`` varies
between releases for several of these, so they are listed here explicitly.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

from alephee.config import Settings

ERR_URL_SCHEME = "Url must start with http:// or https://"
ERR_URL_LENGTH = "Url must be at most {max} characters long"
ERR_URL_HOST = "Url must name a host"
ERR_URL_CHARACTERS = "Url must not contain spaces or control characters"
ERR_URL_CREDENTIALS = "Url must not contain a user name or password (use the signature to authenticate)"
ERR_URL_PORT = "Url has an invalid port"
ERR_URL_INVALID = "Url is not a valid URL"
ERR_URL_PRIVATE = "Url points to a private, loopback, link-local or reserved address; webhooks only reach public hosts"
ERR_URL_RESOLVE = "The host name of Url could not be resolved"


class TargetRefused(Exception):
    """The URL is malformed or points where webhooks must not go; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# IANA's special-purpose IPv4 ranges that are not globally reachable, spelled out because the table behind
# ``is_global`` differs between Python releases (3.11.7 misses most of 192.0.0.0/24, for instance).
_NOT_PUBLIC_V4 = tuple(
    IPv4Network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
)  # fmt: skip

# The IPv4 address sits in the low 32 bits.
_LOW32_EMBEDDING = (
    IPv6Network("::ffff:0:0/96"),  # IPv4-mapped (RFC 4291)
    IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated, SIIT (RFC 2765)
    IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052)
)
_REFUSED = (
    IPv6Network("::/96"),  # IPv4-compatible (RFC 4291, deprecated); also :: and ::1
    IPv6Network("2001::/32"),  # Teredo (RFC 4380)
    IPv6Network("fec0::/10"),  # site-local (RFC 3879, deprecated)
    IPv6Network("64:ff9b:1::/48"),  # NAT64 local-use prefix (RFC 8215)
)


def _public_v4(ip: IPv4Address) -> bool:
    return ip.is_global and not any(ip in network for network in _NOT_PUBLIC_V4)


def embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address of a translating form carries (mapped, SIIT, NAT64, 6to4), if any."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    for network in _LOW32_EMBEDDING:
        if ip in network:
            return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """Whether a webhook may connect to ``address`` (an IPv4 or IPv6 literal, an IPv6 zone id is ignored)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, IPv4Address):
        return _public_v4(ip)
    if any(ip in network for network in _REFUSED):
        return False
    inner = embedded_ipv4(ip)
    if inner is not None:
        # Judged by the IPv4 address alone: ``::ffff:0:0/96`` is not "global" as IPv6, yet ::ffff:8.8.8.8 is.
        return _public_v4(inner)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed webhook URL."""

    scheme: str
    host: str
    port: int
    path: str


def parse_target(url: str, max_length: int) -> Target:
    """Check the URL's form: http/https, a host, no credentials, no blanks, at most ``max_length`` chars."""
    if len(url) > max_length:
        raise TargetRefused(ERR_URL_LENGTH.format(max=max_length))
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise TargetRefused(ERR_URL_CHARACTERS)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TargetRefused(ERR_URL_INVALID) from None
    try:
        port = parts.port
    except ValueError:
        raise TargetRefused(ERR_URL_PORT) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused(ERR_URL_SCHEME)
    if parts.username is not None or parts.password is not None:
        raise TargetRefused(ERR_URL_CREDENTIALS)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused(ERR_URL_HOST)
    if port == 0:
        raise TargetRefused(ERR_URL_PORT)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path)


def resolve(target: Target, *, allow_private: bool) -> list[str]:
    """The addresses to connect to: every address the host resolves to must be public unless
    ``allow_private``. Connecting to exactly these addresses (not resolving again) defeats DNS rebinding."""
    host = target.host
    if not allow_private and (host.lower() == "localhost" or host.lower().endswith(".localhost")):
        raise TargetRefused(ERR_URL_PRIVATE)
    try:
        infos = socket.getaddrinfo(host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused(ERR_URL_RESOLVE) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise TargetRefused(ERR_URL_RESOLVE)
    if not allow_private and not all(is_public(a) for a in addresses):
        raise TargetRefused(ERR_URL_PRIVATE)
    return addresses


def check_url(url: str, settings: Settings) -> Target:
    """What ``POST /v2/webhooks`` and ``alephee webhook add`` accept (``TargetRefused`` otherwise)."""
    target = parse_target(url, settings.webhook_max_url_length)
    resolve(target, allow_private=settings.webhook_allow_private_targets)
    return target
