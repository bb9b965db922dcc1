"""A claim on a payment (``resource`` ``payment``) is linked to the hub's order holding that payment id: the open
claim shows in the order's ``ActiveClaims`` (GET /v2/orders), on the console's order page and in ``alephee
channel claims``; closed with the money refunded, the refund is recorded as for the other resources. A payment
id of another channel or account, or one no order holds, leaves the claim unlinked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.channels import post_sale
from alephee.channels.post_sale_models import MarketplaceClaim
from alephee.http.context import AppContext
from alephee.orders import rendering
from alephee.orders import statuses as st
from alephee.orders.models import Order
from tests.fixtures.console import ConsoleOperator, console_login
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def payment_of(ctx: AppContext, order_id: int) -> str:
    with ctx.db.reading() as session:
        order = session.get(Order, order_id)
        assert order is not None
        [payment] = rendering.detail_of(order.detail)["Payments"]
        return str(payment["ExternalPaymentId"])


def claim(
    ctx: AppContext, account_id: int, payment_id: str, *, marketplace_id: int = 1, **values: Any
) -> MarketplaceClaim:
    """Store a claim on ``payment_id`` as a notification or the backstop's search does."""
    data = post_sale.ClaimData(
        external_id=str(values.pop("external_id", "5200000001")),
        status=values.pop("status", "opened"),
        date_created=WHEN,
        resource="payment",
        resource_id=payment_id,
        type="mediations",
        reason_id="PDD9549",
        **values,
    )
    with ctx.db.writing() as session:
        row = post_sale.store_claim(session, account_id, marketplace_id, data)
        assert row is not None
        session.expunge(row)
        return row


def listed(client: TestClient, tenant: Tenant, order_id: int) -> dict[str, Any]:
    """The order as GET /v2/orders lists it with its open claims."""
    response = client.get("/v2/orders", params=tenant.q(additionalInfo="ActiveClaims"))
    assert response.status_code in (200, 206), response.text
    [order] = [o for o in response.json()["Results"] if o["Id"] == order_id]
    return order  # type: ignore[no-any-return]


def test_a_payment_claim_marks_its_order_and_its_refund_is_recorded(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, marketplace_id=1, status=st.DELIVERED)
    payment = payment_of(ctx, order_id)
    opened = claim(ctx, seller.account_id, payment)
    assert (opened.order_id, opened.resource, opened.resource_id) == (order_id, "payment", payment)
    [active] = listed(client, seller, order_id)["ActiveClaims"]
    assert active["ExternalClaimId"] == 5200000001

    closed = claim(
        ctx, seller.account_id, payment, status="closed", resolution_reason="payment_refunded", last_updated=WHEN
    )
    assert closed.refund_recorded is True and closed.order_id == order_id
    order = listed(client, seller, order_id)
    assert order["ActiveClaims"] == [] and order["Status"]["Key"] == st.REFUNDED


def test_a_payment_no_order_of_the_channel_holds_leaves_the_claim_unlinked(
    ctx: AppContext, seller: Tenant, make_tenant: Callable[..., Tenant], add_order: AddOrder
) -> None:
    order_id = add_order(seller, marketplace_id=1)
    payment = payment_of(ctx, order_id)
    assert claim(ctx, seller.account_id, "999999", external_id=1).order_id is None
    assert claim(ctx, seller.account_id, payment, marketplace_id=100, external_id=2).order_id is None
    other = make_tenant(marketplaces=(1,))
    assert claim(ctx, other.account_id, payment, external_id=3).order_id is None
    with ctx.db.reading() as session:
        order = session.get(Order, order_id)
        assert order is not None and rendering.detail_of(order.detail)["ActiveClaims"] == []


def test_the_console_and_the_cli_show_a_payment_claim_on_its_order(
    ctx: AppContext,
    make_client: Callable[..., TestClient],
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
    add_order: AddOrder,
    cli: Callable[..., Any],
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    order_id = add_order(tenant, marketplace_id=1)
    claim(ctx, tenant.account_id, payment_of(ctx, order_id), external_id="5200000077")
    web = make_client()
    web.headers["Accept-Language"] = "en"
    console_login(web, make_operator([tenant.account_id]))
    page = web.get(f"/console/channels/questions?account={tenant.account_id}&marketplace=1").text
    assert 'data-claim="5200000077"' in page and f'href="/console/orders/{order_id}"' in page
    order_page = web.get(f"/console/orders/{order_id}").text
    assert 'id="order-claims"' in order_page and "5200000077" in order_page
    [listed] = cli("channel", "claims", "--account", str(tenant.account_id), "--status", "opened")
    assert (listed["ExternalClaimId"], listed["OrderId"], listed["Resource"]) == ("5200000077", order_id, "payment")
    with ctx.db.reading() as session:
        stored = session.scalar(select(MarketplaceClaim.order_id).where(MarketplaceClaim.external_id == "5200000077"))
    assert stored == order_id
