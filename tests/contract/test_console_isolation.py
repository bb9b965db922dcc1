"""Tenant isolation of the operator console, generated from its route table: an operator granted one account
addresses another account (in the query, a form or an object id) and gets 404 — the console does not tell
whether the object exists — and nothing changes. Every console route must be classified here, so a new page is
covered (or consciously public) before it ships."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from alephee.channels.models import ChannelOAuthState
from alephee.config import Settings
from alephee.console.routes import console_operations
from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage
from alephee.webhooks import service as webhooks
from alephee.webhooks.models import WebhookSubscription
from tests.fixtures.console import ConsoleOperator, console_login
from tests.fixtures.listings import build_shop
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

# Routes any browser may reach (the sign-in form, the language switch) or that end a session.
PUBLIC = {
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("POST", "/console/logout"),
    ("GET", "/console/language"),
    ("GET", "/console/{rest:path}"),
}
# Pages and forms naming an account (``account`` in the query or the form).
BY_ACCOUNT = {
    ("GET", "/console/keys"),
    ("GET", "/console/webhooks"),
    ("GET", "/console/audit"),
    ("POST", "/console/keys/create"),
    ("POST", "/console/webhooks/create"),
    ("GET", "/console/overview"),
    ("GET", "/console/channels"),
    ("GET", "/console/listings"),
    ("GET", "/console/orders"),
    ("GET", "/console/deliveries"),
    ("GET", "/console/deliveries/inbox"),
    ("POST", "/console/channels/connect"),
    ("POST", "/console/channels/disconnect"),
    ("POST", "/console/channels/sync"),
    ("POST", "/console/deliveries/retry-failed"),
    ("GET", "/console/channels/questions"),
    ("POST", "/console/channels/questions/answer"),
}
# Routes naming an object by id: which kind of object.
BY_OBJECT = {
    ("POST", "/console/keys/{key_id}/revoke"): "key",
    ("POST", "/console/keys/{key_id}/rotate"): "key",
    ("GET", "/console/webhooks/{webhook_id}"): "webhook",
    ("POST", "/console/webhooks/{webhook_id}/edit"): "webhook",
    ("POST", "/console/webhooks/{webhook_id}/delete"): "webhook",
    ("POST", "/console/webhooks/{webhook_id}/test"): "webhook",
    ("GET", "/console/listings/{listing_id}"): "listing",
    ("POST", "/console/listings/{listing_id}/retry"): "listing",
    ("GET", "/console/orders/{order_id}"): "order",
    ("GET", "/console/orders/{order_id}/label"): "order",
    ("POST", "/console/deliveries/{message_id}/retry"): "delivery",
}


FOREIGN_URL = "http://127.0.0.1:9/hook"


def _loopback_allowed(ctx: AppContext) -> Settings:
    return ctx.settings.model_copy(update={"webhook_allow_private_targets": True})


@dataclass
class Foreign:
    """The other account's objects."""

    tenant: Tenant
    webhook_id: int
    listing_id: int
    order_id: int
    message_id: int

    def object_id(self, kind: str) -> int:
        """The id of the other account's object of this kind."""
        ids = {"key": self.tenant.key_id, "webhook": self.webhook_id, "listing": self.listing_id}
        ids.update(order=self.order_id, delivery=self.message_id)
        return ids[kind]


@pytest.fixture
def setting(
    ctx: AppContext,
    client: TestClient,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
    add_order: AddOrder,
) -> tuple[TestClient, str, Tenant, Foreign]:
    mine, shop = make_tenant(), build_shop(ctx, make_tenant)
    other = shop.tenant
    listing_id = shop.listings[("MKNJ-122", 1)]
    with ctx.db.writing() as session:
        row, _ = webhooks.create_subscription(
            session, _loopback_allowed(ctx), other.account_id, url=FOREIGN_URL, event_types=["*"]
        )
        # A failed delivery of the other account's listing: what a retry would change.
        message_id = session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.aggregate_type == "listing", OutboxMessage.aggregate_id == listing_id)
            .values(status="failed", attempts=5, last_error="refused")
            .returning(OutboxMessage.id)
        ).first()
    assert message_id is not None
    order_id = add_order(other, marketplace_id=100)
    csrf = console_login(client, make_operator([mine.account_id]))
    return client, csrf, mine, Foreign(other, row.id, listing_id, order_id, message_id)


def _unchanged(ctx: AppContext, client: TestClient, foreign: Foreign) -> None:
    assert client.get("/v2/accounts", params={"API_KEY": foreign.tenant.api_key}).status_code == 200
    with ctx.db.reading() as session:
        row = session.get(WebhookSubscription, foreign.webhook_id)
        assert row is not None and row.url == FOREIGN_URL and row.active
        message = session.get(OutboxMessage, foreign.message_id)
        assert message is not None and message.status == "failed"  # not queued again
        assert session.scalar(select(ChannelOAuthState.state)) is None  # no authorization started


def test_the_matrix_covers_every_console_route() -> None:
    classified = PUBLIC | BY_ACCOUNT | set(BY_OBJECT)
    assert sorted(set(console_operations()) - classified) == [], "classify the new console routes in this file"
    assert sorted(classified - set(console_operations())) == [], "routes in this file the console no longer serves"


@pytest.mark.parametrize(("method", "path"), sorted(BY_ACCOUNT))
def test_another_account_is_404(
    ctx: AppContext, setting: tuple[TestClient, str, Tenant, Foreign], method: str, path: str
) -> None:
    client, csrf, _, foreign = setting
    account = foreign.tenant.account_id
    data = {"csrf": csrf, "account": str(account), "url": "https://erp.example/new", "types": "*", "label": "x"}
    data.update(marketplace="1", kind="marketplace")
    if method == "GET":
        response = client.get(path, params={"account": account}, follow_redirects=False)
    else:
        response = client.post(path, data=data, follow_redirects=False)
    assert response.status_code == 404, response.text
    _unchanged(ctx, client, foreign)
    with ctx.db.reading() as session:
        assert len(session.scalars(select(WebhookSubscription.id)).all()) == 1


@pytest.mark.parametrize(("method", "path"), sorted(BY_OBJECT))
def test_another_accounts_object_is_404(
    ctx: AppContext, setting: tuple[TestClient, str, Tenant, Foreign], method: str, path: str
) -> None:
    client, csrf, mine, foreign = setting
    object_id = foreign.object_id(BY_OBJECT[(method, path)])
    url = path
    for name in ("key_id", "webhook_id", "listing_id", "order_id", "message_id"):
        url = url.replace("{" + name + "}", str(object_id))
    data = {"csrf": csrf, "account": str(mine.account_id), "url": "https://erp.example/changed", "types": "*"}
    for target in (url, url.replace(str(object_id), "999999", 1)):  # another account's, and none at all
        if method == "GET":
            response = client.get(target, follow_redirects=False)
        else:
            response = client.post(target, data=data, follow_redirects=False)
        assert response.status_code == 404, (target, response.text)
    _unchanged(ctx, client, foreign)


def test_a_key_shared_with_an_unseen_account_is_neither_listed_nor_revocable(
    ctx: AppContext, setting: tuple[TestClient, str, Tenant, Foreign]
) -> None:
    from alephee.accounts import service as accounts

    client, csrf, mine, foreign = setting
    with ctx.db.writing() as session:
        key, secret = accounts.create_key(session, [mine.account_id, foreign.tenant.account_id], label="shared")
    assert "shared" not in client.get(f"/console/keys?account={mine.account_id}").text
    data = {"csrf": csrf, "account": str(mine.account_id)}
    assert client.post(f"/console/keys/{key.id}/revoke", data=data, follow_redirects=False).status_code == 404
    assert client.get("/v2/accounts", params={"API_KEY": secret}).status_code == 200


def test_an_admin_sees_every_account(
    ctx: AppContext,
    client: TestClient,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
) -> None:
    first, second = make_tenant(), make_tenant()
    csrf = console_login(client, make_operator(admin=True))
    for tenant in (first, second):
        assert client.get(f"/console/keys?account={tenant.account_id}").status_code == 200
    data = {"csrf": csrf, "account": str(second.account_id)}
    response = client.post(f"/console/keys/{second.key_id}/revoke", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/v2/accounts", params={"API_KEY": second.api_key}).status_code == 401
