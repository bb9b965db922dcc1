"""Where a webhook may point: URL form and the SSRF guard (private, loopback, link-local, reserved addresses,
names that resolve to them), and delivery pinned to the address that was checked."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from alephee.webhooks import sender
from alephee.webhooks.addresses import TargetRefused, check_url, parse_target, resolve
from tests.fixtures.database import make_settings
from tests.fixtures.webhooks import Receiver

STRICT = make_settings("sqlite://")
LOOSE = make_settings("sqlite://", webhook_allow_private_targets=True)


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        if not answers[host]:
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(sender.socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example/x", "http:// or https://"),
        ("hooks.example/x", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("http:///no-host", "name a host"),
        ("https://user:pw@hooks.example/", "user name or password"),
        ("https://hooks.example:99999/", "invalid port"),
        ("https://hooks.example:0/", "invalid port"),
        ("http://[not-an-address/", "not a valid URL"),
        ("http://ñandú-" + "x" * 70 + ".example/", "could not be resolved"),
        ("https://hooks.example/a b", "spaces or control"),
        ("https://hooks.example/\r\nX-Injected: 1", "spaces or control"),
        ("https://hooks.example/" + "a" * 2000, "at most 2000"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(TargetRefused, match=message):
        check_url(url, LOOSE)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://127.1/",
        "http://localhost/",
        "http://api.localhost/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://224.0.0.1/",
    ],
)
def test_private_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetRefused, match="private, loopback"):
        check_url(url, STRICT)


def test_public_targets_pass() -> None:
    target = check_url("https://93.184.216.34/hooks/alephee?token=1", STRICT)
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "93.184.216.34",
        443,
        "/hooks/alephee?token=1",
    )
    assert check_url("HTTP://[2606:4700::1111]:8443", STRICT).port == 8443
    assert check_url("http://127.0.0.1:8080/hooks", LOOSE).host == "127.0.0.1"


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(
        monkeypatch,
        {"rebind.example": ["93.184.216.34", "127.0.0.1"], "public.example": ["93.184.216.34"], "void.example": []},
    )
    with pytest.raises(TargetRefused, match="private"):
        check_url("https://rebind.example/", STRICT)
    assert resolve(parse_target("https://public.example/", 2000), allow_private=False) == ["93.184.216.34"]
    with pytest.raises(TargetRefused, match="could not be resolved"):
        check_url("https://void.example/", STRICT)


def test_delivery_connects_to_the_checked_address_with_the_original_host(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    port = int(receiver.url.split(":")[2].split("/")[0])
    _fake_dns(monkeypatch, {"hooks.example": ["127.0.0.1"]})
    answer = sender.post(f"http://hooks.example:{port}/in?x=1", b"{}", {"Content-Type": "application/json"}, LOOSE)
    assert answer.ok and answer.status == 200
    [request] = receiver.requests
    assert request.path == "/in?x=1"
    assert request.headers["Host"] == f"hooks.example:{port}"
    with pytest.raises(TargetRefused):
        sender.post(f"http://hooks.example:{port}/in", b"{}", {}, STRICT)
    assert len(receiver.requests) == 1
