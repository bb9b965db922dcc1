"""The SSRF guard sees through IPv6 addresses that carry an IPv4 address (mapped, compatible, SIIT, NAT64,
6to4, Teredo) and refuses the deprecated or tunnelling ranges (site-local, Teredo), whether the address is
written in the URL or is what a host name resolves to, at registration and at send time."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from alephee.webhooks import sender
from alephee.webhooks.addresses import TargetRefused, check_url, is_public
from tests.fixtures.database import make_settings
from tests.fixtures.tenants import Tenant

STRICT = make_settings("sqlite://")

# IPv4 ranges that must never be reached (loopback, RFC 1918, CGNAT, link-local/metadata, benchmarking,
# multicast, reserved, "this network").
PRIVATE_V4 = [
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
PUBLIC_V4 = [ipaddress.IPv4Network(n) for n in ("8.8.8.0/24", "93.184.216.0/24", "1.1.1.0/24", "151.101.0.0/16")]


def _in(networks: list[ipaddress.IPv4Network]) -> st.SearchStrategy[ipaddress.IPv4Address]:
    return st.sampled_from(networks).flatmap(
        lambda net: st.integers(0, net.num_addresses - 1).map(lambda i: net[i])  # type: ignore[misc]
    )


def _v6(value: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(value)


Embed = Callable[[ipaddress.IPv4Address, int], ipaddress.IPv6Address]

# Every way an IPv6 address can carry an IPv4 one; ``noise`` fills the bits the form leaves free.
EMBEDDINGS: dict[str, Embed] = {
    "mapped ::ffff:a.b.c.d": lambda v4, noise: _v6(0xFFFF << 32 | int(v4)),
    "compatible ::a.b.c.d": lambda v4, noise: _v6(int(v4)),
    "SIIT ::ffff:0:a.b.c.d": lambda v4, noise: _v6(0xFFFF << 48 | int(v4)),
    "NAT64 64:ff9b::/96": lambda v4, noise: _v6(0x0064FF9B << 96 | int(v4)),
    "6to4 2002::/16": lambda v4, noise: _v6(0x2002 << 112 | int(v4) << 80 | (noise & ((1 << 80) - 1))),
    "Teredo server": lambda v4, noise: _v6(0x20010000 << 96 | int(v4) << 64 | (noise & ((1 << 64) - 1))),
    "Teredo client": lambda v4, noise: _v6(
        0x20010000 << 96 | (noise & 0xFFFFFFFF) << 64 | (noise >> 32 & 0xFFFFFFFF) << 32 | (int(v4) ^ 0xFFFFFFFF)
    ),
}
# Forms that translate to the embedded IPv4 address: with a public one inside, they are public.
TRANSLATING = ("mapped ::ffff:a.b.c.d", "SIIT ::ffff:0:a.b.c.d", "NAT64 64:ff9b::/96", "6to4 2002::/16")


@contextmanager
def _dns(answers: dict[str, list[str]]) -> Iterator[None]:
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) for a in answers[host]]

    with mock.patch.object(sender.socket, "getaddrinfo", getaddrinfo):
        yield


def _refused_everywhere(address: ipaddress.IPv6Address) -> None:
    """Refused written in the URL, and refused as a DNS answer at registration and at send time."""
    with pytest.raises(TargetRefused, match="private"):
        check_url(f"http://[{address}]/hooks", STRICT)
    with _dns({"hooks.example": ["2606:4700::1111", str(address)]}):
        with pytest.raises(TargetRefused, match="private"):
            check_url("https://hooks.example/in", STRICT)
        with pytest.raises(TargetRefused, match="private"):
            sender.post("https://hooks.example/in", b"{}", {}, STRICT)


@given(v4=_in(PRIVATE_V4))
def test_a_private_ipv4_address_is_refused(v4: ipaddress.IPv4Address) -> None:
    with pytest.raises(TargetRefused, match="private"):
        check_url(f"http://{v4}:8080/hooks", STRICT)


@given(v4=_in(PRIVATE_V4), form=st.sampled_from(sorted(EMBEDDINGS)), noise=st.integers(0, (1 << 80) - 1))
def test_a_private_ipv4_address_embedded_in_ipv6_is_refused(v4: ipaddress.IPv4Address, form: str, noise: int) -> None:
    _refused_everywhere(EMBEDDINGS[form](v4, noise))


@given(v4=_in(PUBLIC_V4), form=st.sampled_from(sorted(EMBEDDINGS)), noise=st.integers(0, (1 << 80) - 1))
def test_a_public_ipv4_address_is_reachable_only_through_translating_forms(
    v4: ipaddress.IPv4Address, form: str, noise: int
) -> None:
    address = EMBEDDINGS[form](v4, noise)
    assert is_public(str(address)) is (form in TRANSLATING), address


@given(
    prefix=st.sampled_from(["fec0::/10", "2001::/32", "::/96", "64:ff9b:1::/48"]),
    low=st.integers(0, (1 << 128) - 1),
)
def test_deprecated_and_tunnelling_ranges_are_refused_whatever_they_carry(prefix: str, low: int) -> None:
    net = ipaddress.IPv6Network(prefix)
    address = net[low % net.num_addresses]
    _refused_everywhere(address)


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:7f00:1",
        "::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "fec0::1",
        "2001::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "::ffff:0:7f00:1",
        "::ffff:0:a9fe:a9fe",
        "64:ff9b:1::a9fe:a9fe",
    ],
)
def test_reported_addresses_are_refused(address: str) -> None:
    _refused_everywhere(ipaddress.IPv6Address(address))


def test_plain_public_addresses_still_pass() -> None:
    for address in ("93.184.216.34", "2606:4700::1111", "2a00:1450:4001:82b::200e", "::ffff:93.184.216.34"):
        assert is_public(address), address
    assert check_url("https://[2002:5db8:d822::1]/in", STRICT).port == 443  # 6to4 of 93.184.216.34
    assert check_url("https://[64:ff9b::5db8:d822]/in", STRICT).host == "64:ff9b::5db8:d822"


def test_registration_over_http_refuses_an_embedded_loopback(client: TestClient, tenant: Tenant) -> None:
    body = {"Url": "http://[2002:7f00:1::1]:8080/in", "EventTypes": ["order.created"]}
    response = client.post("/v2/webhooks", params=tenant.q(), json=body)
    assert response.status_code == 400, response.text
    assert "private" in response.json()["Message"]
