"""The Tiendanube privacy (LGPD) webhooks on the hub's orders, posted signed to the webhook route as the platform
sends them: a customer's data redacted on their orders only, a data request told to the integrators, a store's
redaction erasing every order's buyer data and forgetting the store — the sales themselves stay."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.app import create_app
from alephee.channels import connections
from alephee.channels.models import DISCONNECTED, ChannelConnection
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.http.ratelimit import RateLimiter
from alephee.orders.models import Order
from alephee.orders.rendering import detail_of
from alephee.webhooks.models import WebhookEvent
from tests.fixtures.database import make_settings
from tests.fixtures.orders import AddOrder

SECRET = "privacy-s3cret"
STORE = 5_000_000_001
MARKETPLACE = 40


@pytest.fixture
def hub(ctx: AppContext, tmp_path: Path) -> Iterator[tuple[Settings, TestClient]]:
    settings = make_settings(
        ctx.settings.database_url,
        public_url="http://hub.example",
        tiendanube_app_id="4321",
        tiendanube_client_secret=SECRET,
        secret_key=Fernet.generate_key().decode(),
    )
    app = create_app(context=AppContext(settings=settings, db=ctx.db, limiter=RateLimiter(settings)))
    with TestClient(app, base_url="http://hub.example") as client:
        yield settings, client


def post(client: TestClient, body: dict[str, Any]) -> int:
    raw = orjson.dumps(body)
    signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-linkedstore-hmac-sha256": signature}
    return client.post("/channels/tiendanube/webhooks", content=raw, headers=headers).status_code


def connect(ctx: AppContext, settings: Settings, account_id: int) -> None:
    with ctx.db.writing() as session:
        connections.store_grant(
            session,
            settings,
            connections.Grant(
                account_id=account_id,
                marketplace_id=MARKETPLACE,
                connector="tiendanube",
                access_token="tok",
                refresh_token=None,
                expires_in=None,
                seller_id=STORE,
                nickname="Mi Tienda",
            ),
        )


def buyer_of(ctx: AppContext, order_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    with ctx.db.reading() as session:
        order = session.get(Order, order_id)
        assert order is not None
        detail = detail_of(order.detail)
        return detail["Buyer"], detail["Shipping"]


def test_customer_redaction_and_data_request(
    hub: tuple[Settings, TestClient],
    ctx: AppContext,
    make_tenant: Callable[..., Any],
    add_order: AddOrder,
) -> None:
    settings, client = hub
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    connect(ctx, settings, tenant.account_id)
    first = add_order(tenant, marketplace_id=MARKETPLACE, external_order_id="871254203")
    second = add_order(tenant, marketplace_id=MARKETPLACE, external_order_id="871254204")
    buyer, _ = buyer_of(ctx, first)
    assert buyer["Name"] and buyer["Email"]
    version = _version(ctx, first)

    request = {
        "store_id": STORE,
        "customer": {"id": 1, "email": buyer["Email"], "phone": "+55", "identification": "x"},
        "orders_requested": [871254203],
        "checkouts_requested": [],
        "drafts_orders_requested": [],
        "data_request": {"id": 456},
    }
    assert post(client, request) == 200
    with ctx.db.reading() as session:
        told = session.execute(
            select(WebhookEvent.data).where(
                WebhookEvent.account_id == tenant.account_id, WebhookEvent.type == "channel.data_request"
            )
        ).scalar_one()
    assert told["DataRequestId"] == 456 and told["SellerId"] == STORE and first in told["OrderIds"]
    assert "871254203" in told["ExternalOrderIds"]

    redact = {"store_id": STORE, "customer": {"id": 1, "email": "nobody@x.example"}, "orders_to_redact": [871254203]}
    assert post(client, redact) == 200
    buyer, shipping = buyer_of(ctx, first)
    assert all(buyer[k] is None for k in ("Name", "Email", "Phone", "DocNumber", "Address", "BillingInfo"))
    assert shipping["ReceiverAddress"] is None and set(shipping["Receiver"].values()) == {None}
    assert _version(ctx, first) > version
    # The other order is untouched, and the sale itself stays.
    assert buyer_of(ctx, second)[0]["Name"]
    with ctx.db.reading() as session:
        order = session.get(Order, first)
        assert order is not None and detail_of(order.detail)["Items"] and order.external_order_id == "871254203"
    # Again: nothing more to change.
    assert post(client, redact) == 200


def test_store_redaction_erases_every_order_and_forgets_the_store(
    hub: tuple[Settings, TestClient],
    ctx: AppContext,
    make_tenant: Callable[..., Any],
    add_order: AddOrder,
) -> None:
    settings, client = hub
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    connect(ctx, settings, tenant.account_id)
    orders = [add_order(tenant, marketplace_id=MARKETPLACE) for _ in range(3)]
    elsewhere = add_order(tenant, marketplace_id=100)
    assert post(client, {"store_id": STORE, "event": "app/uninstalled", "id": 4321}) == 200
    assert post(client, {"store_id": str(STORE)}) == 200  # store/redact carries only the store
    for order_id in orders:
        assert buyer_of(ctx, order_id)[0]["Name"] is None
    assert buyer_of(ctx, elsewhere)[0]["Name"]
    with ctx.db.reading() as session:
        row = session.scalars(select(ChannelConnection).where(ChannelConnection.account_id == tenant.account_id)).one()
        assert (row.status, row.seller_id, row.nickname, row.access_token) == (DISCONNECTED, None, None, None)
    # A store nobody is connected to any more: ignored, still 200 (the platform would retry anything else).
    assert post(client, {"store_id": STORE, "customer": {"id": 1}, "orders_to_redact": [1]}) == 200


def _version(ctx: AppContext, order_id: int) -> int:
    with ctx.db.reading() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.version
