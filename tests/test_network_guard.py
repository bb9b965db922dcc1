"""The suite cannot reach anything beyond loopback, in its own process or in the processes it starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from alephee.channels.mercadolibre.auth import AUTH_HOSTS
from alephee.channels.mercadolibre.client import MercadoLibreClient, MercadoLibreError
from alephee.channels.tiendanube.client import StoreAuth, TiendanubeClient, TiendanubeError
from alephee.config import Settings


@pytest.mark.parametrize("address", [("192.0.2.1", 80), ("8.8.8.8", 53), ("2001:db8::1", 443)])
def test_connections_beyond_loopback_are_refused(address: tuple[str, int]) -> None:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(ConnectionRefusedError, match="not loopback"):
        sock.connect(address)


def test_name_lookups_beyond_loopback_are_refused() -> None:
    with pytest.raises(ConnectionRefusedError, match="not loopback"):
        socket.getaddrinfo("api.mercadolibre.com", 443)
    # Through an HTTP client too: the refusal is the guard's, not a lookup that happened to fail.
    with pytest.raises(httpx.ConnectError) as refused:
        httpx.get("https://api.tiendanube.com/v1/1/store", timeout=2)
    assert any("not loopback" in message for message in _causes(refused.value))


@pytest.mark.parametrize(
    "lookup",
    [
        lambda host: socket.getaddrinfo(host, 443),
        socket.gethostbyname,
        socket.gethostbyname_ex,
        lambda host: socket.create_connection((host, 443), timeout=2),
    ],
    ids=["getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"],
)
@pytest.mark.parametrize("host", ["api.mercadolibre.com", "api.tiendanube.com", "auth.mercadolivre.com.br"])
def test_every_way_of_reaching_a_marketplace_host_is_refused(lookup: Any, host: str) -> None:
    """The marketplaces' real hosts, which tests name only to show they are out of reach, cannot be looked up or
    connected to by any of the socket module's ways of doing it."""
    with pytest.raises(ConnectionRefusedError, match="not loopback"):
        lookup(host)


def test_datagrams_and_reverse_lookups_beyond_loopback_are_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for send in (lambda: sock.sendto(b"x", ("192.0.2.1", 53)), lambda: sock.sendto(b"x", 0, ("8.8.8.8", 53))):
            with pytest.raises(ConnectionRefusedError, match="not loopback"):
                send()
        with pytest.raises(ConnectionRefusedError, match="not loopback"):
            sock.sendmsg([b"x"], [], 0, ("192.0.2.1", 53))
    for reverse in (lambda: socket.gethostbyaddr("8.8.8.8"), lambda: socket.getnameinfo(("8.8.8.8", 53), 0)):
        with pytest.raises(ConnectionRefusedError, match="not loopback"):
            reverse()


def test_loopback_stays_open() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    assert socket.getaddrinfo("localhost", 80)
    assert socket.gethostbyname("localhost").startswith("127.")
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind(("127.0.0.1", 0))
        assert sender.sendto(b"x", receiver.getsockname()) == 1


def test_started_processes_are_guarded_too() -> None:
    code = "import socket; socket.create_connection(('192.0.2.1', 80), timeout=2)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0 and "not loopback" in done.stderr


def _causes(exc: BaseException | None) -> list[str]:
    """The messages of an exception and everything it was raised from or while handling."""
    seen: list[str] = []
    while exc is not None and len(seen) < 20:
        seen.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return seen


@pytest.mark.parametrize("site", sorted(AUTH_HOSTS))
def test_the_real_mercado_libre_hosts_are_out_of_reach(site: str) -> None:
    """The hosts the connector defaults to (its API base and every site's authorization page) cannot be
    resolved from the tests: a test that forgot to point the connector at the stand-in fails here."""
    for url in (Settings.model_fields["mercadolibre_api_url"].default, AUTH_HOSTS[site]):
        with pytest.raises(ConnectionRefusedError, match="not loopback"):
            socket.getaddrinfo(urlsplit(url).hostname, 443)


def test_the_connector_with_its_defaults_is_stopped_by_the_guard() -> None:
    """The Mercado Libre client built from default settings (the real API) fails before any byte leaves."""
    settings = Settings(database_url="sqlite://", mercadolibre_client_id="1", mercadolibre_client_secret="s")
    assert urlsplit(settings.mercadolibre_api_url).hostname == "api.mercadolibre.com"
    with MercadoLibreClient(settings) as client, pytest.raises(MercadoLibreError) as refused:
        client.users_me("APP_USR-not-a-token")
    assert refused.value.status == 0 and refused.value.transient
    assert any("not loopback" in message for message in _causes(refused.value))


def test_the_real_tiendanube_hosts_are_out_of_reach() -> None:
    """The Tiendanube connector's defaults (the API and the install/token host) and Nuvemshop's install host
    cannot be resolved from the tests."""
    defaults = [Settings.model_fields[name].default for name in ("tiendanube_api_url", "tiendanube_auth_url")]
    for url in (*defaults, "https://www.nuvemshop.com.br"):
        with pytest.raises(ConnectionRefusedError, match="not loopback"):
            socket.getaddrinfo(urlsplit(url).hostname, 443)


def test_the_tiendanube_client_with_its_defaults_is_stopped_by_the_guard() -> None:
    """The Tiendanube client built from default settings (the real platform) fails before any byte leaves,
    for the token exchange and for a store call alike."""
    settings = Settings(database_url="sqlite://", tiendanube_app_id="1", tiendanube_client_secret="s")
    assert urlsplit(settings.tiendanube_api_url).hostname == "api.tiendanube.com"
    store = StoreAuth(1, "not-a-token", settings.tiendanube_api_version, settings.tiendanube_api_url)
    with TiendanubeClient(settings) as client:
        for call in (lambda: client.token("1", "s", "code"), lambda: client.store(store)):
            with pytest.raises(TiendanubeError) as refused:
                call()
            assert refused.value.status == 0 and refused.value.transient
            assert any("not loopback" in message for message in _causes(refused.value))
