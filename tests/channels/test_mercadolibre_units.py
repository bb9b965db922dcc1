"""Mercado Libre connector rules without HTTP: authorization URLs per site, state rules, target checks and the
API's error body shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from alephee import clock
from alephee.accounts.service import UnknownAccount, UnknownMarketplace
from alephee.channels import connections
from alephee.channels.mercadolibre import auth
from alephee.channels.mercadolibre.client import MercadoLibreError, error_from
from alephee.http.context import AppContext
from tests.fixtures.database import make_settings

pytestmark = pytest.mark.usefixtures("ctx")


def settings_for(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "public_url": "https://hub.example/",
        "mercadolibre_client_id": "1620218256833906",
        "mercadolibre_client_secret": "s3cret",
    }
    return make_settings("sqlite://", **(values | overrides))


@pytest.mark.parametrize(
    ("site", "host"),
    [
        ("MLA", "https://auth.mercadolibre.com.ar"),
        ("MLB", "https://auth.mercadolivre.com.br"),
        ("MLM", "https://auth.mercadolibre.com.mx"),
        ("MLC", "https://auth.mercadolibre.cl"),
        ("MCO", "https://auth.mercadolibre.com.co"),
        ("MLU", "https://auth.mercadolibre.com.uy"),
    ],
)
def test_authorization_url_uses_the_site_host(site: str, host: str) -> None:
    url = auth.authorization_url(settings_for(), site, "st4te")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{host}/authorization"
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["1620218256833906"],
        "redirect_uri": ["https://hub.example/channels/mercadolibre/callback"],
        "state": ["st4te"],
    }


def test_authorization_url_override_and_pkce() -> None:
    settings = settings_for(mercadolibre_auth_url="http://127.0.0.1:9/_standin/mercadolibre/")
    url = auth.authorization_url(settings, "MLA", "s", code_verifier="v" * 50)
    assert url.startswith("http://127.0.0.1:9/_standin/mercadolibre/authorization?")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [auth.pkce_challenge("v" * 50)]


def test_authorization_refused_without_credentials_or_site() -> None:
    with pytest.raises(auth.NotConfigured):
        auth.authorization_url(settings_for(mercadolibre_client_secret=None), "MLA", "s")
    with pytest.raises(auth.UnknownSite):
        auth.authorization_url(settings_for(), "XXX", "s")


def test_target_checks(ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(1, 20))
    with ctx.db.writing() as session:
        assert connections.check_target(session, tenant.account_id, 1, "mercadolibre").site_id == "MLA"
        with pytest.raises(connections.WrongConnector, match="served by the connector 'amazon'"):
            connections.check_target(session, tenant.account_id, 20, "mercadolibre")
        with pytest.raises(connections.AccountNotLinked, match="alephee marketplace add"):
            connections.check_target(session, tenant.account_id, 2, "mercadolibre")
        with pytest.raises(UnknownMarketplace):
            connections.check_target(session, tenant.account_id, 99999, "mercadolibre")
        with pytest.raises(UnknownAccount):
            connections.check_target(session, 99999, 1, "mercadolibre")


def test_state_is_single_use_and_expires(ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    now = clock.utcnow()
    with ctx.db.writing() as session:
        target = connections.check_target(session, tenant.account_id, 1, "mercadolibre")
        fresh = connections.new_state(session, target, now=now, ttl_seconds=600, code_verifier=None)
        stale = connections.new_state(session, target, now=now, ttl_seconds=600, code_verifier=None)
    with ctx.db.writing() as session:
        assert connections.consume_state(session, fresh, "mercadolibre", now=now).account_id == tenant.account_id
    for state, connector, at in (
        (fresh, "mercadolibre", now),  # reused
        (stale, "tiendanube", now),  # another connector's callback
        (stale, "mercadolibre", now + timedelta(seconds=601)),  # expired
        ("unknown", "mercadolibre", now),
        ("", "mercadolibre", now),
    ):
        with ctx.db.writing() as session, pytest.raises(connections.InvalidState):
            connections.consume_state(session, state, connector, now=at)


@pytest.mark.parametrize(
    ("status", "body", "error", "description", "transient"),
    [
        (
            400,
            {"message": "body.invalid_fields", "error": "bad", "status": 400, "cause": []},
            "bad",
            "body.invalid_fields",
            False,
        ),
        (
            400,
            {"error_description": "expired", "error": "invalid_grant", "status": 400, "cause": []},
            "invalid_grant",
            "expired",
            False,
        ),
        (403, {"status_code": 403, "code": "forbidden", "message": "no"}, "forbidden", "no", False),
        (
            429,
            {"message": "Too Many Requests", "error": "too_many_requests", "status": 429, "cause": []},
            "too_many_requests",
            "Too Many Requests",
            True,
        ),
        (502, "<html>bad gateway</html>", "http_502", "Bad Gateway", True),
    ],
)
def test_error_bodies(status: int, body: Any, error: str, description: str, transient: bool) -> None:
    response = httpx.Response(status, text=body) if isinstance(body, str) else httpx.Response(status, json=body)
    exc = error_from(response)
    assert (exc.status, exc.error, exc.description, exc.transient) == (status, error, description, transient)
    assert MercadoLibreError(0, "network_error").transient
