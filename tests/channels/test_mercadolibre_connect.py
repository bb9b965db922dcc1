"""Linking a Mercado Libre seller end to end against the local stand-in served by the hub itself: connect,
authorize, callback, status; encrypted tokens; spent or expired states; refresh-token rotation and loss."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee import clock
from alephee.app import create_app
from alephee.channels import connections
from alephee.channels.mercadolibre import auth
from alephee.channels.mercadolibre.client import MercadoLibreClient
from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn
from alephee.channels.mercadolibre.standin.auth import INVALID_GRANT
from alephee.channels.models import ChannelConnection
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.http.ratelimit import RateLimiter
from alephee.webhooks.crypto import decrypt_secret, encrypt_secret
from alephee.webhooks.models import WebhookEvent
from tests.fixtures.database import make_settings

HUB = "http://hub.example"
STANDIN = f"{HUB}/_standin/mercadolibre"
AUTHORIZE_LINK = re.compile(r'id="authorize" href="([^"]+)"')


@dataclass
class Hub:
    settings: Settings
    browser: TestClient
    connector: MercadoLibreClient
    standin: MercadoLibreStandIn
    http: TestClient


@pytest.fixture
def hub(ctx: AppContext, tmp_path: Path) -> Iterator[Hub]:
    settings = make_settings(
        ctx.settings.database_url,
        public_url=HUB,
        mercadolibre_api_url=STANDIN,
        mercadolibre_auth_url=STANDIN,
        mercadolibre_client_id="5387223166827464",
        mercadolibre_client_secret="s3cret",
        mercadolibre_standin=True,
        mercadolibre_standin_path=str(tmp_path / "ml.sqlite3"),
        secret_key=Fernet.generate_key().decode(),
    )
    app = create_app(context=AppContext(settings=settings, db=ctx.db, limiter=RateLimiter(settings)))
    # The connector reaches the stand-in through its own client on the same application (no socket).
    http = TestClient(app, base_url=HUB)
    app.state.mercadolibre_http = http
    with TestClient(app, base_url=HUB, raise_server_exceptions=False) as browser:
        yield Hub(settings, browser, MercadoLibreClient(settings, http), app.state.mercadolibre_standin, http)
    http.close()
    app.state.mercadolibre_standin.close()


def authorize(
    hub: Hub, ctx: AppContext, account_id: int, marketplace_id: int = 1, *, return_to: str | None = None
) -> str:
    """Start a connection and press Authorize on the stand-in's page; the callback URL it redirects to."""
    with ctx.db.writing() as session:
        url = auth.start(session, hub.settings, account_id, marketplace_id, return_to=return_to)
    page = hub.browser.get(url)
    assert page.status_code == 200, page.text
    match = AUTHORIZE_LINK.search(page.text)
    assert match is not None, page.text
    approved = hub.browser.get(urljoin(url, html.unescape(match.group(1))), follow_redirects=False)
    assert approved.status_code == 302
    location = approved.headers["location"]
    assert location.startswith(f"{HUB}/channels/mercadolibre/callback?code=TG-")
    return location


def row_of(ctx: AppContext, account_id: int) -> ChannelConnection | None:
    with ctx.db.reading() as session:
        return session.scalars(select(ChannelConnection).where(ChannelConnection.account_id == account_id)).first()


def status_of(ctx: AppContext, account_id: int) -> list[dict[str, Any]]:
    with ctx.db.reading() as session:
        return connections.status(session, account_id)


def test_connect_authorize_callback_status(hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    callback = authorize(hub, ctx, tenant.account_id)
    page = hub.browser.get(callback)
    assert page.status_code == 200, page.text
    assert "TESTSELLER" in page.text and "241461054" in page.text and f"<b>{tenant.account_id}</b>" in page.text

    [status] = status_of(ctx, tenant.account_id)
    assert status["Connected"] is True
    assert (status["SellerId"], status["Nickname"], status["Connector"]) == (241461054, "TESTSELLER", "mercadolibre")
    expires = datetime.strptime(status["TokenExpiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert expires > clock.utcnow() + timedelta(hours=5)
    assert status["LastError"] is None and status["LastSyncAt"] is None

    # Tokens are stored encrypted: the raw columns are ciphertext that decrypts to what the stand-in issued.
    row = row_of(ctx, tenant.account_id)
    assert row is not None and row.access_token and row.refresh_token
    assert row.access_token.startswith("enc:v1:") and row.refresh_token.startswith("enc:v1:")
    access = decrypt_secret(hub.settings, row.access_token)
    assert access.startswith("APP_USR-") and access not in row.access_token
    assert decrypt_secret(hub.settings, row.refresh_token).startswith("TG-")

    # The same callback again: the state is spent, nothing changes.
    again = hub.browser.get(callback)
    assert again.status_code == 400 and "already used" in again.text
    assert row_of(ctx, tenant.account_id).access_token == row.access_token  # type: ignore[union-attr]


def test_a_connection_started_from_the_console_goes_back_there(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    callback = authorize(hub, ctx, tenant.account_id, return_to="/console/channels?account=7")
    back = hub.browser.get(callback, follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == f"/console/channels?account=7&connected={tenant.account_id}-1"
    assert status_of(ctx, tenant.account_id)[0]["Connected"] is True
    with ctx.db.writing() as session, pytest.raises(connections.BadReturnPath):
        auth.start(session, hub.settings, tenant.account_id, 1, return_to="https://evil.example/")


def test_expired_or_forged_state_connects_nothing(hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    callback = authorize(hub, ctx, tenant.account_id)
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    assert hub.browser.get(forged).status_code == 400
    clock.advance(timedelta(seconds=hub.settings.channel_oauth_state_ttl_seconds + 1))
    late = hub.browser.get(callback)
    assert late.status_code == 400 and "expired" in late.text
    assert row_of(ctx, tenant.account_id) is None
    assert hub.standin.token_calls == 0  # refused before any call to Mercado Libre


def test_refresh_rotates_and_a_stale_refresh_token_disconnects(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    assert hub.browser.get(authorize(hub, ctx, tenant.account_id)).status_code == 200
    first = row_of(ctx, tenant.account_id)
    assert first is not None and first.refresh_token
    old_refresh = decrypt_secret(hub.settings, first.refresh_token)

    # Not near expiry: the stored access token is used as it is, no call.
    calls = hub.standin.token_calls
    token = auth.access_token(ctx.db, hub.settings, tenant.account_id, 1, hub.connector)
    assert token == decrypt_secret(hub.settings, first.access_token or "") and hub.standin.token_calls == calls

    # Near expiry: refreshed, and the new refresh token is the one stored.
    clock.advance(timedelta(hours=6))
    fresh = auth.access_token(ctx.db, hub.settings, tenant.account_id, 1, hub.connector)
    second = row_of(ctx, tenant.account_id)
    assert second is not None and second.refresh_token
    new_refresh = decrypt_secret(hub.settings, second.refresh_token)
    assert fresh != token and new_refresh != old_refresh
    assert second.token_expires_at is not None and second.token_expires_at > clock.utcnow() + timedelta(hours=5)

    # Only the newest refresh token is valid (the stand-in answers the documented body).
    stale = hub.http.post(
        f"{STANDIN}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "5387223166827464",
            "client_secret": "s3cret",
            "refresh_token": old_refresh,
        },
        headers={"accept": "application/json"},
    )
    assert (stale.status_code, stale.json()) == (400, INVALID_GRANT)

    # A connection left holding a spent refresh token loses its grant: disconnected, with the reason.
    with ctx.db.writing() as session:
        row = connections.connection_of(session, tenant.account_id, 1)
        row.refresh_token = encrypt_secret(hub.settings, old_refresh)
    with pytest.raises(auth.Disconnected, match="invalid_grant"):
        auth.refresh(ctx.db, hub.settings, tenant.account_id, 1, hub.connector, force=True)
    [status] = status_of(ctx, tenant.account_id)
    assert status["Connected"] is False and "invalid_grant" in status["LastError"]
    lost = row_of(ctx, tenant.account_id)
    assert lost is not None and lost.access_token is None and lost.refresh_token is None
    with pytest.raises(auth.Disconnected):
        auth.access_token(ctx.db, hub.settings, tenant.account_id, 1, hub.connector)
    # The integrators heard of both ends of the connection (the account's webhook feed).
    with ctx.db.reading() as session:
        told = session.execute(
            select(WebhookEvent.type, WebhookEvent.data)
            .where(WebhookEvent.account_id == tenant.account_id, WebhookEvent.type.startswith("channel."))
            .order_by(WebhookEvent.id)
        ).all()
    assert [kind for kind, _ in told] == ["channel.connected", "channel.disconnected"]
    assert told[1][1]["MarketplaceId"] == 1 and "invalid_grant" in told[1][1]["Reason"]
    # ... and the scrape counts it.
    scrape = hub.browser.get("/metrics").text
    assert 'alephee_channel_connections{connector="mercadolibre",status="disconnected"} 1.0' in scrape


def test_two_authorizations_completing_at_once_keep_one_connection(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    first, second = authorize(hub, ctx, tenant.account_id), authorize(hub, ctx, tenant.account_id)
    assert hub.browser.get(first).status_code == 200
    stored = row_of(ctx, tenant.account_id)
    # The second completes as if the first had not been stored yet when it looked: its insert meets the unique
    # pair, and it stores its grant on the row the first one wrote.
    real = connections.find_connection
    lookups: list[int] = []

    def late_lookup(session: Any, account_id: int, marketplace_id: int, **kwargs: Any) -> ChannelConnection | None:
        lookups.append(account_id)
        return None if len(lookups) == 1 else real(session, account_id, marketplace_id, **kwargs)

    monkeypatch.setattr(connections, "find_connection", late_lookup)
    page = hub.browser.get(second)
    assert page.status_code == 200, page.text
    with ctx.db.reading() as session:
        rows = session.scalars(select(ChannelConnection).where(ChannelConnection.account_id == tenant.account_id)).all()
    assert len(lookups) == 2  # the insert met the pair, the retry found the row
    assert len(rows) == 1 and stored is not None
    assert rows[0].id == stored.id and rows[0].access_token != stored.access_token
    [status] = status_of(ctx, tenant.account_id)
    assert status["Connected"] is True


def test_a_refresh_in_progress_elsewhere_is_waited_for_not_repeated(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    assert hub.browser.get(authorize(hub, ctx, tenant.account_id)).status_code == 200
    clock.advance(timedelta(hours=6))  # the access token is due for a refresh
    # Another process took the lease and is talking to Mercado Libre: no transaction is open meanwhile.
    with ctx.db.writing() as session:
        row = connections.connection_of(session, tenant.account_id, 1)
        row.refreshing_until = clock.utcnow() + timedelta(seconds=30)

    def other_process_finishes() -> None:
        time.sleep(0.3)
        with ctx.db.writing() as session:
            row = connections.connection_of(session, tenant.account_id, 1, lock=True)
            row.access_token = encrypt_secret(hub.settings, "APP_USR-from-the-other-process")
            row.token_expires_at = clock.utcnow() + timedelta(hours=6)
            row.refreshing_until = None

    calls = hub.standin.token_calls
    other = threading.Thread(target=other_process_finishes)
    other.start()
    try:
        token = auth.access_token(ctx.db, hub.settings, tenant.account_id, 1, hub.connector)
    finally:
        other.join()
    assert token == "APP_USR-from-the-other-process"
    assert hub.standin.token_calls == calls  # the single-use refresh token was not spent a second time
    row = row_of(ctx, tenant.account_id)
    assert row is not None and row.refreshing_until is None
