"""``alephee channel``: connect prints the authorization URL, status lists, disconnect forgets the tokens; a
marketplace of another connector or one the account is not linked to is refused with a clear message."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from alephee.channels.models import CONNECTED, ChannelConnection
from alephee.clock import utcnow
from alephee.http.context import AppContext
from alephee.webhooks.crypto import encrypt_secret


@pytest.fixture(autouse=True)
def _application(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEPHEE_MERCADOLIBRE_CLIENT_ID", "1620218256833906")
    monkeypatch.setenv("ALEPHEE_MERCADOLIBRE_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("ALEPHEE_PUBLIC_URL", "https://hub.example")
    monkeypatch.setenv("ALEPHEE_SECRET_KEY", Fernet.generate_key().decode())


def test_connect_prints_the_authorization_url(cli: Callable[..., Any], make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(2,))
    out = cli("channel", "connect", "--account", str(tenant.account_id), "--marketplace", "2")
    url = urlsplit(out["AuthorizationUrl"])
    assert (url.scheme, url.netloc, url.path) == ("https", "auth.mercadolivre.com.br", "/authorization")
    query = parse_qs(url.query)
    assert query["redirect_uri"] == ["https://hub.example/channels/mercadolibre/callback"]
    assert query["client_id"] == ["1620218256833906"] and len(query["state"][0]) >= 32


def test_connect_refusals(cli: Callable[..., Any], make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(20,))
    other = cli("channel", "connect", "--account", str(tenant.account_id), "--marketplace", "20", ok=False)
    assert "(connector 'amazon') has no authorization to start" in json.loads(other.stderr)["Message"]
    unlinked = cli("channel", "connect", "--account", str(tenant.account_id), "--marketplace", "1", ok=False)
    assert "is not linked to marketplace 1" in json.loads(unlinked.stderr)["Message"]


def test_connect_refused_without_credentials(
    cli: Callable[..., Any], make_tenant: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALEPHEE_MERCADOLIBRE_CLIENT_SECRET")
    tenant = make_tenant(marketplaces=(1,))
    result = cli("channel", "connect", "--account", str(tenant.account_id), "--marketplace", "1", ok=False)
    assert "ALEPHEE_MERCADOLIBRE_CLIENT_SECRET" in json.loads(result.stderr)["Message"]


def test_status_and_disconnect(cli: Callable[..., Any], ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    assert cli("channel", "status", "--account", str(tenant.account_id)) == []
    with ctx.db.writing() as session:
        now = utcnow()
        session.add(
            ChannelConnection(
                account_id=tenant.account_id,
                marketplace_id=1,
                connector="mercadolibre",
                seller_id=8035443,
                nickname="SELLER",
                site_id="MLA",
                access_token=encrypt_secret(ctx.settings, "APP_USR-1"),
                refresh_token=encrypt_secret(ctx.settings, "TG-1"),
                token_expires_at=now,
                status=CONNECTED,
                created_at=now,
                updated_at=now,
            )
        )
    [row] = cli("channel", "status", "--account", str(tenant.account_id))
    assert set(row) == {
        "AccountId",
        "MarketplaceId",
        "Connector",
        "Connected",
        "Status",
        "SellerId",
        "Nickname",
        "TokenExpiresAt",
        "LastSyncAt",
        "LastError",
        "Locations",
        "StockLocation",
        "WebhooksCheckedAt",
        "PostSaleCheckedAt",
        "UnansweredQuestions",
        "OpenClaims",
    }
    assert (row["Connected"], row["SellerId"], row["Nickname"]) == (True, 8035443, "SELLER")
    assert (row["UnansweredQuestions"], row["OpenClaims"], row["PostSaleCheckedAt"]) == (0, 0, None)
    gone = cli("channel", "disconnect", "--account", str(tenant.account_id), "--marketplace", "1")
    assert (gone["Connected"], gone["SellerId"], gone["TokenExpiresAt"]) == (False, 8035443, None)
    with ctx.db.reading() as session:
        stored = session.scalars(
            select(ChannelConnection).where(ChannelConnection.account_id == tenant.account_id)
        ).one()
        assert stored.access_token is None and stored.refresh_token is None


def test_connect_a_tiendanube_store(
    cli: Callable[..., Any], make_tenant: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALEPHEE_TIENDANUBE_APP_ID", "4321")
    monkeypatch.setenv("ALEPHEE_TIENDANUBE_CLIENT_SECRET", "tn-s3cret")
    tenant = make_tenant(marketplaces=(40,))
    out = cli("channel", "connect", "--account", str(tenant.account_id), "--marketplace", "40")
    url = urlsplit(out["AuthorizationUrl"])
    assert (url.scheme, url.netloc, url.path) == ("https", "www.tiendanube.com", "/apps/4321/authorize")
    assert set(parse_qs(url.query)) == {"state"} and len(parse_qs(url.query)["state"][0]) >= 32
    monkeypatch.delenv("ALEPHEE_TIENDANUBE_CLIENT_SECRET")
    refused = cli("channel", "connect", "--account", str(tenant.account_id), "--marketplace", "40", ok=False)
    assert "ALEPHEE_TIENDANUBE_CLIENT_SECRET" in json.loads(refused.stderr)["Message"]


def test_location_shows_and_chooses_where_the_stock_goes(
    cli: Callable[..., Any], ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    tenant = make_tenant(marketplaces=(40,))
    account = str(tenant.account_id)
    known = [
        {"id": "01GQ2ZHK064BQRHGDB7CCV0Y6N", "name": "Depósito principal", "default": True},
        {"id": "01GQ2ZHK064BQRHGDB7CCV0Y7P", "name": "Depósito Norte", "default": False},
    ]
    with ctx.db.writing() as session:
        now = utcnow()
        session.add(
            ChannelConnection(
                account_id=tenant.account_id,
                marketplace_id=40,
                connector="tiendanube",
                seller_id=1234567,
                status=CONNECTED,
                locations=known,
                created_at=now,
                updated_at=now,
            )
        )
    base = ("channel", "location", "--account", account, "--marketplace", "40")

    assert cli(*base) == {"Locations": known, "StockLocation": known[0]["id"]}  # the store's default
    assert cli(*base, "--use", "depósito norte")["StockLocation"] == known[1]["id"]
    [row] = cli("channel", "status", "--account", account)
    assert (row["Locations"], row["StockLocation"]) == (known, known[1]["id"])
    assert cli(*base, "--use", "default")["StockLocation"] == known[0]["id"]
    refused = cli(*base, "--use", "Depósito Sur", ok=False)
    assert "no location 'Depósito Sur'" in json.loads(refused.stderr)["Message"]
    other = cli("channel", "location", "--account", account, "--marketplace", "1", ok=False)
    assert other.exit_code != 0
