"""Connecting a Tiendanube store end to end against the local stand-in served by the hub itself (install page,
callback, token encrypted, store id and name, the webhooks registered and reconciled), and what the webhooks
that come back do: HMAC verified over the raw body before anything else, resource events into the shared inbox
(deduplicated), the app uninstalled / suspended / resumed, the API's own 401 and 402."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee import clock
from alephee.app import create_app
from alephee.channels import connections
from alephee.channels.models import CONNECTED, DISCONNECTED, PAUSED, ChannelConnection
from alephee.channels.tiendanube import auth
from alephee.channels.tiendanube.calls import Api
from alephee.channels.tiendanube.client import StoreAuth, TiendanubeClient
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn
from alephee.channels.tiendanube.webhooks import schedule_resync
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.http.ratelimit import RateLimiter
from alephee.marketplaces.contract import (
    ChannelContext,
    ConnectionHeld,
    MarketplaceRef,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alephee.marketplaces.models import ChannelNotification, PullCursor
from alephee.webhooks.crypto import decrypt_secret
from alephee.webhooks.models import WebhookEvent
from tests.fixtures.database import make_settings

HUB = "http://hub.example"
STANDIN = f"{HUB}/_standin/tiendanube"
APP_ID = "4321"
SECRET = "app-s3cret"
MARKETPLACE = 40
HOOK = f"{HUB}/channels/tiendanube/webhooks"


@dataclass
class Hub:
    settings: Settings
    browser: TestClient
    standin: TiendanubeStandIn
    client: TiendanubeClient


@pytest.fixture
def hub(ctx: AppContext, tmp_path: Path) -> Iterator[Hub]:
    settings = make_settings(
        ctx.settings.database_url,
        public_url=HUB,
        tiendanube_api_url=STANDIN,
        tiendanube_auth_url=STANDIN,
        tiendanube_app_id=APP_ID,
        tiendanube_client_secret=SECRET,
        tiendanube_standin=True,
        tiendanube_standin_path=str(tmp_path / "tn.sqlite3"),
        secret_key=Fernet.generate_key().decode(),
    )
    app = create_app(context=AppContext(settings=settings, db=ctx.db, limiter=RateLimiter(settings)))
    # The connector reaches the stand-in through a client on the same application (no socket).
    http = TestClient(app, base_url=HUB)
    app.state.tiendanube_http = http
    with TestClient(app, base_url=HUB, raise_server_exceptions=False) as browser:
        yield Hub(settings, browser, app.state.tiendanube_standin, TiendanubeClient(settings, http))
    http.close()


def install(hub: Hub, ctx: AppContext, account_id: int, store_id: int, return_to: str | None = None) -> str:
    """Start the connection and accept the install on the stand-in's page; the callback URL it redirects to."""
    with ctx.db.writing() as session:
        url = connections.start_authorization(session, hub.settings, account_id, MARKETPLACE, return_to=return_to)
    assert url.startswith(f"{STANDIN}/apps/{APP_ID}/authorize?state=")
    state = parse_qs(urlsplit(url).query)["state"][0]
    page = hub.browser.get(url)
    assert page.status_code == 200 and "Accept and install" in page.text
    approved = hub.browser.post(
        url.split("?")[0],
        content=f"state={state}&store_id={store_id}",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert approved.status_code == 302, approved.text
    location = approved.headers["location"]
    assert location.startswith(f"{HUB}/channels/tiendanube/callback?code=")
    return location


def connected(hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any], name: str = "Mi Tienda") -> tuple[int, int]:
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    shop = hub.standin.create_store(name=name)
    page = hub.browser.get(install(hub, ctx, tenant.account_id, shop["id"]))
    assert page.status_code == 200, page.text
    return tenant.account_id, int(shop["id"])


def row_of(ctx: AppContext, account_id: int) -> ChannelConnection:
    with ctx.db.reading() as session:
        row = session.scalars(select(ChannelConnection).where(ChannelConnection.account_id == account_id)).one()
        session.expunge(row)
        return row


def signed(body: dict[str, Any] | bytes, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "x-linkedstore-hmac-sha256": digest}


def post_hook(hub: Hub, body: dict[str, Any] | bytes, secret: str = SECRET) -> int:
    raw, headers = signed(body, secret)
    return hub.browser.post("/channels/tiendanube/webhooks", content=raw, headers=headers).status_code


def forward_deliveries(hub: Hub, store_id: int, event: str) -> list[int]:
    """Post to the hub what the stand-in sent for ``event`` (its raw body, signed by the stand-in's app)."""
    bodies = [d["body"].encode() for d in hub.standin.deliveries(store_id) if d["event"] == event]
    assert bodies, f"the stand-in sent no {event}"
    return [post_hook(hub, raw) for raw in bodies]


def notices(ctx: AppContext) -> list[ChannelNotification]:
    with ctx.db.reading() as session:
        rows = list(session.scalars(select(ChannelNotification).where(ChannelNotification.connector == "tiendanube")))
        for row in rows:
            session.expunge(row)
        return rows


def events(ctx: AppContext, account_id: int) -> list[str]:
    with ctx.db.reading() as session:
        return list(
            session.scalars(
                select(WebhookEvent.type).where(WebhookEvent.account_id == account_id).order_by(WebhookEvent.id)
            )
        )


def context(hub: Hub, ctx: AppContext, account_id: int) -> ChannelContext:
    ref = MarketplaceRef(id=MARKETPLACE, name="Tiendanube", family="tiendanube", connector="tiendanube")
    return ChannelContext(account_id=account_id, marketplace=ref, db=ctx.db, settings=hub.settings)


def test_install_callback_connects_the_store_and_registers_the_webhooks(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    shop = hub.standin.create_store(name="Remeras Lola", languages=("es", "pt"))
    callback = install(hub, ctx, tenant.account_id, shop["id"])
    page = hub.browser.get(callback)
    assert page.status_code == 200, page.text
    assert "Remeras Lola" in page.text and str(shop["id"]) in page.text and "warning" not in page.text

    row = row_of(ctx, tenant.account_id)
    assert (row.status, row.connector, row.seller_id, row.nickname) == (
        CONNECTED,
        "tiendanube",
        shop["id"],
        "Remeras Lola",
    )
    assert (row.api_version, row.token_expires_at, row.api_base) == ("v1", None, None)
    # The token is stored encrypted and works on the store's API.
    assert row.access_token is not None and row.access_token.startswith("enc:v1:")
    token = decrypt_secret(hub.settings, row.access_token)
    assert token not in row.access_token
    assert hub.client.store(StoreAuth(shop["id"], token, "v1", STANDIN))["id"] == shop["id"]
    assert events(ctx, tenant.account_id) == ["channel.connected"]

    hooks = hub.standin.registered_webhooks(shop["id"])
    assert sorted(h["event"] for h in hooks) == sorted(auth.WEBHOOK_EVENTS)
    assert {h["url"] for h in hooks} == {HOOK}

    # The same callback again: the state is spent, nothing changes.
    again = hub.browser.get(callback)
    assert again.status_code == 400 and "already used" in again.text
    assert row_of(ctx, tenant.account_id).access_token == row.access_token

    with ctx.db.reading() as session:
        [status] = connections.status(session, tenant.account_id)
    assert (status["Connected"], status["Status"], status["SellerId"]) == (True, "connected", shop["id"])


def test_an_install_started_from_the_console_comes_back_to_it(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    shop = hub.standin.create_store(name="Remeras Lola")
    callback = install(hub, ctx, tenant.account_id, shop["id"], return_to="/console/channels?account=7")
    answer = hub.browser.get(callback, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    expected = f"/console/channels?account=7&connected={tenant.account_id}-{MARKETPLACE}"
    assert answer.headers["location"] == expected
    assert row_of(ctx, tenant.account_id).status == CONNECTED
    with ctx.db.writing() as session, pytest.raises(connections.BadReturnPath):
        connections.start_authorization(
            session, hub.settings, tenant.account_id, MARKETPLACE, return_to="//evil.example"
        )


def test_a_forged_state_or_a_missing_code_connects_nothing(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    shop = hub.standin.create_store()
    callback = install(hub, ctx, tenant.account_id, shop["id"])
    forged = hub.browser.get(re.sub(r"state=[^&]+", "state=forged", callback))
    assert forged.status_code == 400 and "Tiendanube was not connected" in forged.text
    assert hub.browser.get("/channels/tiendanube/callback?state=x").status_code == 400
    with ctx.db.reading() as session:
        assert connections.find_connection(session, tenant.account_id, MARKETPLACE) is None
    assert hub.standin.registered_webhooks(shop["id"]) == []


def test_webhook_reconciliation_is_idempotent_and_fixes_wrong_urls(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    account_id, store_id = connected(hub, ctx, make_tenant)
    store = StoreAuth(store_id, decrypt_secret(hub.settings, row_of(ctx, account_id).access_token or ""), "v1", STANDIN)
    again = auth.ensure_webhooks(hub.client, store, HOOK)
    assert (again.created, again.fixed, set(again.kept)) == ((), (), set(auth.WEBHOOK_EVENTS))

    # The hub moved (another public URL), and one event was registered twice by hand.
    paid = next(h for h in hub.standin.registered_webhooks(store_id) if h["event"] == "order/paid")
    hub.client.put(store, f"/webhooks/{paid['id']}", {"event": "order/paid", "url": "http://old.example/hooks"})
    hub.client.post(store, "/webhooks", {"event": "order/created", "url": "http://old.example/hooks"})
    report = auth.ensure_webhooks(hub.client, store, HOOK)
    assert report.fixed == ("order/paid",) and len(report.removed) == 1 and report.created == ()
    hooks = hub.standin.registered_webhooks(store_id)
    assert len(hooks) == len(auth.WEBHOOK_EVENTS) and {h["url"] for h in hooks} == {HOOK}


def test_the_signature_is_checked_before_anything_else(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    account_id, store_id = connected(hub, ctx, make_tenant)
    body = orjson.dumps({"store_id": store_id, "event": "order/paid", "id": 871254203})
    raw, headers = signed(body)
    missing = hub.browser.post(
        "/channels/tiendanube/webhooks", content=raw, headers={"content-type": "application/json"}
    )
    assert missing.status_code == 401 and missing.json()["Status"] == 401
    assert post_hook(hub, body, secret="not-the-secret") == 401
    # A body changed after signing (one space) does not match its signature.
    tampered = hub.browser.post("/channels/tiendanube/webhooks", content=raw + b" ", headers=headers)
    assert tampered.status_code == 401
    # The uninstall event is not obeyed without the signature either.
    uninstall = orjson.dumps({"store_id": store_id, "event": "app/uninstalled", "id": int(APP_ID)})
    assert hub.browser.post("/channels/tiendanube/webhooks", content=uninstall).status_code == 401
    assert notices(ctx) == [] and row_of(ctx, account_id).status == CONNECTED

    answer = hub.browser.post("/channels/tiendanube/webhooks", content=raw, headers=headers)
    assert answer.status_code == 200 and answer.json() == {}
    [notice] = notices(ctx)
    assert (notice.topic, notice.resource, notice.seller_id) == ("order/paid", "871254203", str(store_id))
    assert (notice.account_id, notice.marketplace_id) == (account_id, MARKETPLACE)
    # The upper-case hex of the same digest is accepted too (the platform documents lower case).
    headers["x-linkedstore-hmac-sha256"] = headers["x-linkedstore-hmac-sha256"].upper()
    assert hub.browser.post("/channels/tiendanube/webhooks", content=raw, headers=headers).status_code == 200


def test_duplicates_collapse_and_unknown_stores_are_ignored(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    _account_id, store_id = connected(hub, ctx, make_tenant)
    # The store id may come as a string; the same event and id twice is one inbox row read once.
    assert post_hook(hub, {"store_id": str(store_id), "event": "product/updated", "id": 2**40 + 1}) == 200
    assert post_hook(hub, {"store_id": store_id, "event": "product/updated", "id": 2**40 + 1}) == 200
    assert post_hook(hub, {"store_id": store_id, "event": "order/created", "id": 5}) == 200
    rows = {(n.topic, n.resource): n.received_count for n in notices(ctx)}
    assert rows == {("product/updated", str(2**40 + 1)): 2, ("order/created", "5"): 1}
    assert post_hook(hub, {"store_id": 999, "event": "order/created", "id": 6}) == 200
    assert post_hook(hub, {"event": "order/created", "id": 7}) == 400
    assert post_hook(hub, b"[1, 2]") == 400
    assert len(notices(ctx)) == 2


def test_uninstall_disconnects_and_holds(hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    account_id, store_id = connected(hub, ctx, make_tenant)
    hub.standin.uninstall(store_id)
    assert forward_deliveries(hub, store_id, "app/uninstalled") == [200]
    row = row_of(ctx, account_id)
    assert (row.status, row.access_token) == (DISCONNECTED, None)
    assert row.last_error is not None and "uninstalled" in row.last_error
    assert events(ctx, account_id) == ["channel.connected", "channel.disconnected"]
    with pytest.raises(ConnectionHeld), Api.open(context(hub, ctx, account_id), hub.client) as api:
        api.get("read the store", "/store")


def test_suspend_pauses_and_resume_schedules_a_resync(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    account_id, store_id = connected(hub, ctx, make_tenant)
    with ctx.db.writing() as session:
        session.add(PullCursor(account_id=account_id, marketplace_id=MARKETPLACE, cursor="2099-01-01T00:00:00+00:00"))
    hub.standin.suspend(store_id)
    assert forward_deliveries(hub, store_id, "app/suspended") == [200]
    row = row_of(ctx, account_id)
    assert row.status == PAUSED and row.access_token is not None and "unpaid" in (row.last_error or "")
    with pytest.raises(ConnectionHeld, match="paused"), Api.open(context(hub, ctx, account_id), hub.client) as api:
        api.get("read the store", "/store")

    hub.standin.resume(store_id)
    assert forward_deliveries(hub, store_id, "app/resumed") == [200]
    row = row_of(ctx, account_id)
    assert (row.status, row.last_error) == (CONNECTED, None)
    with ctx.db.reading() as session:
        cursor = session.get(PullCursor, (account_id, MARKETPLACE))
        assert cursor is not None and cursor.cursor is not None
        # Set back to before the pause (minus the overlap): the next pull reads what changed meanwhile.
        assert cursor.cursor.endswith("Z") and cursor.cursor < clock.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    with Api.open(context(hub, ctx, account_id), hub.client) as api:
        assert api.get("read the store", "/store")["id"] == store_id


def test_the_api_answering_402_pauses_and_401_disconnects(
    hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]
) -> None:
    account_id, store_id = connected(hub, ctx, make_tenant)
    hub.standin.suspend(store_id)  # its webhook is not forwarded: the API's 402 says it
    with pytest.raises(ConnectionHeld, match="402"), Api.open(context(hub, ctx, account_id), hub.client) as api:
        api.get("read the store", "/store")
    assert row_of(ctx, account_id).status == PAUSED
    with ctx.db.writing() as session:
        connections.resume(session, account_id, MARKETPLACE, now=clock.utcnow())
    hub.standin.resume(store_id)
    hub.standin.uninstall(store_id)
    with pytest.raises(ConnectionHeld, match="401"), Api.open(context(hub, ctx, account_id), hub.client) as api:
        api.get("read the store", "/store")
    row = row_of(ctx, account_id)
    assert (row.status, row.access_token) == (DISCONNECTED, None) and "401" in (row.last_error or "")


def test_a_429_is_transient_and_a_refusal_permanent(hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    account_id, store_id = connected(hub, ctx, make_tenant)
    hub.standin.add_fault(f"/v1/{store_id}/products", 429)
    with pytest.raises(TransientDeliveryError) as caught, Api.open(context(hub, ctx, account_id), hub.client) as api:
        api.get("read the products", "/products")
    assert not isinstance(caught.value, ConnectionHeld)
    refused = pytest.raises(PermanentDeliveryError, match="Tiendanube refused to read a product")
    with refused, Api.open(context(hub, ctx, account_id), hub.client) as api:
        api.get("read a product", "/products/1")
    assert row_of(ctx, account_id).status == CONNECTED


def test_connect_refused_without_the_app(hub: Hub, ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    bare = hub.settings.model_copy(update={"tiendanube_client_secret": None})
    with ctx.db.writing() as session, pytest.raises(auth.NotConfigured):
        connections.start_authorization(session, bare, tenant.account_id, MARKETPLACE)
    with ctx.db.writing() as session:
        url = connections.start_authorization(session, hub.settings, tenant.account_id, MARKETPLACE)
    assert url.startswith(f"{STANDIN}/apps/{APP_ID}/authorize?state=")


def test_the_resync_never_moves_an_earlier_cursor_forward(ctx: AppContext, make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    with ctx.db.writing() as session:
        session.add(PullCursor(account_id=tenant.account_id, marketplace_id=MARKETPLACE, cursor="2020-01-01T00:00:00Z"))
    with ctx.db.writing() as session:
        schedule_resync(session, tenant.account_id, MARKETPLACE, since=clock.utcnow() - timedelta(hours=1))
    with ctx.db.reading() as session:
        assert session.get(PullCursor, (tenant.account_id, MARKETPLACE)).cursor == "2020-01-01T00:00:00Z"  # type: ignore[union-attr]
