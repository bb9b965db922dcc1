"""HTTP contract of the console's operation pages (Overview, Channels, Listings, Orders, Deliveries): a session is
required, each page shows the operator's accounts only (another account's object is a 404), every POST needs the
session's CSRF token, and the actions do what the CLI does."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from alephee.channels import connections
from alephee.channels.models import CONNECTED, DISCONNECTED, ChannelConnection, ChannelOAuthState
from alephee.console import channel_actions
from alephee.http.context import AppContext
from alephee.marketplaces.models import ChannelNotification, OutboxMessage
from alephee.orders import shipping_rules as ship
from tests.fixtures.console import ConsoleOperator, console_login
from tests.fixtures.listings import Shop, build_shop
from tests.fixtures.tenants import Tenant

PAGES = (
    "/console/overview",
    "/console/channels",
    "/console/listings",
    "/console/orders",
    "/console/deliveries",
    "/console/deliveries/inbox",
)
ML_SETTINGS = {
    "mercadolibre_client_id": "123456",
    "mercadolibre_client_secret": "s3cret",
    "mercadolibre_auth_url": "http://127.0.0.1:9/_standin/mercadolibre",
    "public_url": "http://127.0.0.1:9",
}


@pytest.fixture
def shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Shop:
    return build_shop(ctx, make_tenant)


@pytest.fixture
def web(make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client(**ML_SETTINGS)
    client.headers["Accept-Language"] = "en"
    return client


@pytest.fixture
def signed_in(
    web: TestClient, shop: Shop, make_operator: Callable[..., ConsoleOperator]
) -> tuple[TestClient, str, ConsoleOperator]:
    operator = make_operator([shop.tenant.account_id])
    csrf = console_login(web, operator)
    return web, csrf, operator


def _fail_listing(ctx: AppContext, listing_id: int, error: str) -> list[int]:
    with ctx.db.writing() as session:
        return list(
            session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.aggregate_type == "listing", OutboxMessage.aggregate_id == listing_id)
                .values(status="failed", attempts=5, last_error=error)
                .returning(OutboxMessage.id)
            )
        )


def _connect(ctx: AppContext, account_id: int) -> None:
    with ctx.db.writing() as session:
        connections.store_grant(
            session,
            ctx.settings,
            connections.Grant(
                account_id=account_id,
                marketplace_id=1,
                connector="mercadolibre",
                access_token="APP_USR-a",
                refresh_token="TG-r",
                expires_in=21600,
                seller_id=777,
                nickname="SELLER777",
            ),
        )


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_a_visitor_without_session_to_sign_in(web: TestClient, path: str) -> None:
    response = web.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")


@pytest.mark.parametrize("path", PAGES)
def test_pages_answer_with_the_console_headers(signed_in: tuple[TestClient, str, ConsoleOperator], path: str) -> None:
    client, _, _ = signed_in
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert "text/html" in response.headers["content-type"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/console/channels/connect",
        "/console/channels/disconnect",
        "/console/channels/sync",
        "/console/listings/1/retry",
        "/console/deliveries/1/retry",
        "/console/deliveries/retry-failed",
    ],
)
def test_posts_without_the_csrf_token_are_refused(
    ctx: AppContext, signed_in: tuple[TestClient, str, ConsoleOperator], shop: Shop, path: str
) -> None:
    client, _, _ = signed_in
    failed = _fail_listing(ctx, shop.listings[("MKNJ-122", 1)], "bad")
    response = client.post(path, data={"account": shop.tenant.account_id, "marketplace": 1, "kind": "marketplace"})
    assert response.status_code == 403
    with ctx.db.reading() as session:
        assert session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == failed[0])) == "failed"
        assert session.scalar(select(ChannelOAuthState.state)) is None


def test_overview_shows_the_operators_channels_and_charts(
    ctx: AppContext,
    signed_in: tuple[TestClient, str, ConsoleOperator],
    shop: Shop,
    make_tenant: Callable[..., Tenant],
    add_order: Callable[..., int],
) -> None:
    client, _, _ = signed_in
    stranger = make_tenant(name="Stranger Shop", marketplaces=(1,))
    add_order(shop.tenant, marketplace_id=100)
    _fail_listing(ctx, shop.listings[("MKNJ-122", 1)], "item.title.invalid")
    page = client.get("/console/overview").text
    assert "Sandbox Mercado Libre Argentina" in page and "Mercado Libre Argentina" in page
    assert "<svg" in page and ("<polyline" in page or "<circle" in page)
    assert "Stranger Shop" not in page and f"#{stranger.account_id}<" not in page
    assert "marketplace=1&amp;error=with" in page


def test_connect_starts_the_authorization_and_comes_back_to_the_console(
    ctx: AppContext, signed_in: tuple[TestClient, str, ConsoleOperator], shop: Shop
) -> None:
    client, csrf, _ = signed_in
    account = shop.tenant.account_id
    page = client.get(f"/console/channels?account={account}").text
    assert 'action="/console/channels/connect"' in page
    response = client.post("/console/channels/connect", data={"csrf": csrf, "account": account, "marketplace": 1})
    assert response.status_code == 200, response.text
    start = response.text.index('id="authorize" href="') + len('id="authorize" href="')
    url = response.text[start : response.text.index('"', start)].replace("&amp;", "&")
    assert url.startswith("http://127.0.0.1:9/_standin/mercadolibre/authorization?")
    state = parse_qs(urlsplit(url).query)["state"][0]
    with ctx.db.reading() as session:
        row = session.get(ChannelOAuthState, state)
        assert row is not None and row.return_to == f"/console/channels?account={account}"
    # Channels without an authorization flow are refused, and nothing is recorded.
    refused = client.post("/console/channels/connect", data={"csrf": csrf, "account": account, "marketplace": 100})
    assert refused.status_code == 200 and "not connected through an authorization" in refused.text
    shown = client.get(f"/console/channels?account={account}&connected={account}-1").text
    assert 'id="connected"' in shown


def test_disconnect_and_sync_now(
    ctx: AppContext,
    signed_in: tuple[TestClient, str, ConsoleOperator],
    shop: Shop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, csrf, _ = signed_in
    account = shop.tenant.account_id
    _connect(ctx, account)
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(channel_actions, "sync_later", lambda _db, _settings, a, m: calls.append((a, m)))
    synced = client.post(
        "/console/channels/sync", data={"csrf": csrf, "account": account, "marketplace": 1}, follow_redirects=False
    )
    assert synced.status_code == 303 and calls == [(account, 1)]
    gone = client.post("/console/channels/disconnect", data={"csrf": csrf, "account": account, "marketplace": 1})
    assert gone.status_code == 200 and "The channel was disconnected" in gone.text
    with ctx.db.reading() as session:
        assert session.scalar(select(ChannelConnection.status)) == DISCONNECTED
    again = client.post("/console/channels/sync", data={"csrf": csrf, "account": account, "marketplace": 1})
    assert "This channel is not connected" in again.text and calls == [(account, 1)]


def test_channel_actions_on_another_account_change_nothing(
    ctx: AppContext,
    signed_in: tuple[TestClient, str, ConsoleOperator],
    make_tenant: Callable[..., Tenant],
) -> None:
    client, csrf, _ = signed_in
    stranger = make_tenant(marketplaces=(1,))
    _connect(ctx, stranger.account_id)
    for path in ("/console/channels/disconnect", "/console/channels/connect", "/console/channels/sync"):
        response = client.post(path, data={"csrf": csrf, "account": stranger.account_id, "marketplace": 1})
        assert "Not found" in response.text
    assert client.get(f"/console/channels?account={stranger.account_id}").status_code == 404
    with ctx.db.reading() as session:
        assert session.scalar(select(ChannelConnection.status)) == CONNECTED
        assert session.scalar(select(ChannelOAuthState.state)) is None


def test_listings_show_the_pause_reason_and_retry(
    ctx: AppContext, signed_in: tuple[TestClient, str, ConsoleOperator], shop: Shop
) -> None:
    client, csrf, _ = signed_in
    refused = shop.listings[("MKNJ-122", 1)]
    failed = _fail_listing(ctx, refused, "item.price.invalid: price below the minimum")
    listing_page = client.get("/console/listings?status=paused").text
    assert "Stock at or below the minimum to publish" in listing_page
    with_errors = client.get("/console/listings?error=with").text
    assert f'/console/listings/{refused}"' in with_errors and "price below the minimum" in with_errors
    detail = client.get(f"/console/listings/{refused}").text
    assert "Refused by the marketplace" in detail and all(f'id="delivery-{i}"' in detail for i in failed)
    retried = client.post(f"/console/listings/{refused}/retry", data={"csrf": csrf})
    assert retried.status_code == 200 and "Failed deliveries queued again" in retried.text
    with ctx.db.reading() as session:
        assert set(session.scalars(select(OutboxMessage.status).where(OutboxMessage.id.in_(failed)))) == {"pending"}
    assert client.get("/console/listings?status=sold").status_code == 400


def test_listings_of_another_account_are_not_found(
    ctx: AppContext,
    web: TestClient,
    shop: Shop,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
) -> None:
    failed = _fail_listing(ctx, shop.listings[("MKNJ-122", 1)], "bad")
    console_login(web, make_operator([make_tenant().account_id]))
    csrf = web.get("/console/overview").text.split('name="csrf" value="')[1].split('"')[0]
    listing_id = shop.listings[("MKNJ-122", 1)]
    assert web.get(f"/console/listings/{listing_id}").status_code == 404
    assert "MKNJ-122" not in web.get("/console/listings").text
    assert web.get(f"/console/listings?account={shop.tenant.account_id}").status_code == 404
    web.post(f"/console/listings/{listing_id}/retry", data={"csrf": csrf})
    web.post(f"/console/deliveries/{failed[0]}/retry", data={"csrf": csrf})
    web.post("/console/deliveries/retry-failed", data={"csrf": csrf, "kind": "marketplace"})
    assert f'id="delivery-{failed[0]}"' not in web.get("/console/deliveries").text
    assert web.get(f"/console/orders?account={shop.tenant.account_id}").status_code == 404
    with ctx.db.reading() as session:
        assert set(session.scalars(select(OutboxMessage.status).where(OutboxMessage.id.in_(failed)))) == {"failed"}


def test_orders_filters_detail_label_and_isolation(
    ctx: AppContext,
    signed_in: tuple[TestClient, str, ConsoleOperator],
    shop: Shop,
    make_tenant: Callable[..., Tenant],
    add_order: Callable[..., int],
) -> None:
    client, _, _ = signed_in
    order_id = add_order(
        shop.tenant,
        marketplace_id=100,
        shipment_status=ship.READY_TO_SHIP,
        shipment_substatus=ship.SUB_READY_TO_PRINT,
        external_shipping_id=4_000_000_001,
    )
    integrated = add_order(shop.tenant, marketplace_id=100, integrated=True)
    foreign = add_order(make_tenant(marketplaces=(100,)), marketplace_id=100)
    listing = client.get("/console/orders").text
    assert f'/console/orders/{order_id}"' in listing and f'/console/orders/{integrated}"' not in listing
    both = client.get("/console/orders?Integrated=true").text
    assert f'/console/orders/{integrated}"' in both and f'/console/orders/{order_id}"' not in both
    assert client.get("/console/orders?statusType=7").status_code == 400
    detail = client.get(f"/console/orders/{order_id}").text
    assert 'id="timeline"' in detail and 'id="label-pdf"' in detail
    label = client.get(f"/console/orders/{order_id}/label")
    assert label.status_code == 200, label.text
    assert label.content.startswith(b"%PDF-") and "attachment" in label.headers["content-disposition"]
    assert client.get(f"/console/orders/{foreign}").status_code == 404
    assert client.get(f"/console/orders/{foreign}/label").status_code == 404


def test_deliveries_list_retry_and_inbox(
    ctx: AppContext, signed_in: tuple[TestClient, str, ConsoleOperator], shop: Shop
) -> None:
    client, csrf, _ = signed_in
    account = shop.tenant.account_id
    failed = _fail_listing(ctx, shop.listings[("MKNJ-122", 1)], "item.title.invalid")
    failed += _fail_listing(ctx, shop.listings[("H4", 100)], "sandbox refused")
    with ctx.db.writing() as session:
        session.add(
            ChannelNotification(
                connector="mercadolibre", topic="items", resource="/items/MLA99", account_id=account, marketplace_id=1
            )
        )
    page = client.get("/console/deliveries?status=failed").text
    assert all(f'id="delivery-{i}"' in page for i in failed) and "item.title.invalid" in page
    assert client.get("/console/deliveries?kind=webhook").status_code == 200
    assert client.get("/console/deliveries?kind=fax").status_code == 400
    one = client.post(f"/console/deliveries/{failed[0]}/retry", data={"csrf": csrf, "next": "/deliveries"})
    assert one.status_code == 200 and "The delivery was queued again" in one.text
    twice = client.post(f"/console/deliveries/{failed[0]}/retry", data={"csrf": csrf})
    assert "only failed messages can be retried" in twice.text
    rest = client.post("/console/deliveries/retry-failed", data={"csrf": csrf, "kind": "marketplace"})
    assert rest.status_code == 200 and "Failed deliveries queued again" in rest.text
    with ctx.db.reading() as session:
        assert set(session.scalars(select(OutboxMessage.status).where(OutboxMessage.id.in_(failed)))) == {"pending"}
    inbox = client.get("/console/deliveries/inbox").text
    assert "/items/MLA99" in inbox
