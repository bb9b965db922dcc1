"""Languages of the pages: both catalogs translate every msgid the code uses (same placeholders), and are in
step with the code; the console speaks the switch cookie's language, else Accept-Language's, else Spanish; the
portal stays Spanish unless the switch says otherwise."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from alephee.http import i18n
from tests.fixtures.console import ConsoleOperator, console_login
from tests.fixtures.tenants import Tenant

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(language: str) -> list[tuple[str, list[str]]]:
    with i18n.catalog_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    out = []
    for message in catalog:
        if not message.id:
            continue
        ids = list(message.id) if isinstance(message.id, tuple) else [message.id]
        strings = list(message.string) if isinstance(message.string, tuple) else [message.string]
        out.append((ids[-1], strings))
        assert not message.fuzzy, (language, message.id)
        for text in strings:
            assert text, f"{language}: no translation for {message.id!r}"
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(ids[0])), (language, message.id)
    return out


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_msgid_is_translated(language: str) -> None:
    assert len(_catalog(language)) > 50


def test_both_catalogs_hold_the_same_msgids() -> None:
    assert [msgid for msgid, _ in _catalog("es")] == [msgid for msgid, _ in _catalog("en")]


def test_the_catalogs_are_in_step_with_the_code() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "catalogs.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        (None, None, "es"),
        ("en-US,en;q=0.9", None, "en"),
        ("fr-FR, en;q=0.5", None, "en"),
        ("de, fr", None, "es"),
        ("en;q=0, es;q=0.1", None, "es"),
        ("es-AR", "en", "en"),
        ("en", "es", "es"),
        ("en", "xx", "en"),
        ("q=;;,,,", None, "es"),
    ],
)
def test_the_language_of_a_console_page(
    client: TestClient, header: str | None, cookie: str | None, expected: str
) -> None:
    if cookie:
        client.cookies.set(i18n.COOKIE, cookie)
    headers = {"accept-language": header} if header else {}
    page = client.get("/console/login", headers=headers)
    assert f'<html lang="{expected}">' in page.text
    assert ("Sign in" if expected == "en" else "Iniciar sesión") in page.text


def test_the_switch_remembers_the_language_for_the_whole_site(
    client: TestClient, make_tenant: Callable[..., Tenant], make_operator: Callable[..., ConsoleOperator]
) -> None:
    console_login(client, make_operator([make_tenant().account_id]))
    response = client.get(
        "/console/language", params={"lang": "en", "next": "/audit?security=on"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/console/audit?security=on"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{i18n.COOKIE}=en") and "Path=/" in cookie and "HttpOnly" in cookie
    assert "Security events only" in client.get("/console/audit").text
    assert (
        client.get(
            "/console/language", params={"lang": "es", "next": "//evil.example"}, follow_redirects=False
        ).headers["location"]
        == "/console/overview"
    )
    assert "Solo eventos de seguridad" in client.get("/console/audit").text
    unknown = client.get("/console/language", params={"lang": "xx"}, follow_redirects=False)
    assert "set-cookie" not in unknown.headers


def test_an_operator_error_is_shown_in_the_page_language(
    client: TestClient, make_tenant: Callable[..., Tenant], make_operator: Callable[..., ConsoleOperator]
) -> None:
    console_login(client, make_operator([make_tenant().account_id]))
    client.cookies.set(i18n.COOKIE, "en")
    assert "This page does not exist" in client.get("/console/nowhere").text
    client.cookies.set(i18n.COOKIE, "es")
    assert "La página no existe" in client.get("/console/nowhere").text


def test_the_portal_stays_spanish_unless_switched(client: TestClient) -> None:
    page = client.get("/b2b/", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="es">' in page.text and "Ingresá desde el sistema de tu proveedor" in page.text
    client.cookies.set(i18n.COOKIE, "en")
    page = client.get("/b2b/", headers={"accept-language": "es-AR"})
    assert '<html lang="en">' in page.text and "Sign in from your supplier" in page.text
