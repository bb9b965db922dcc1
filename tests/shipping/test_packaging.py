"""Packaging over HTTP on both databases: one store shared by a cart's shipment, what reaches the outbox, what
an unchanged repeat does, and hostile bodies (never a 500, never a partial write)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee import clock
from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage
from alephee.orders import shipping_rules as ship
from alephee.orders.models import Order
from alephee.shipping.packaging import PACKAGING_TOPIC
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import AddOrder, utc
from tests.fixtures.shipping import PACK, PACK_OUT, order_of
from tests.fixtures.tenants import Tenant


def post(client: TestClient, tenant: Tenant, order_id: int, body: Any) -> Any:
    return client.post(f"/v2/orders/{order_id}/shipping/packaging", params=tenant.q(), json=body)


def outbox(ctx: AppContext) -> list[OutboxMessage]:
    with ctx.db.reading() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return rows


def test_a_cart_shipment_shares_one_packaging(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    first = add_order(seller, pack_id="2000001", pack_size=2, external_shipping_id=41000001)
    second = add_order(seller, pack_id="2000001", pack_size=2, external_shipping_id=41000001)
    split_off = add_order(seller, pack_id="2000001", pack_size=2, external_shipping_id=41000002)
    alone = add_order(seller)
    assert post(client, seller, second, PACK).status_code == 200
    for order_id in (first, second):
        assert order_of(client, seller, order_id)["Shipping"]["PackageInfo"] == PACK_OUT
        assert client.get(f"/v2/orders/{order_id}/packinfo", params=seller.q()).json() == PACK_OUT
    for order_id in (split_off, alone):
        assert order_of(client, seller, order_id)["Shipping"]["PackageInfo"] is None
    pack = client.get("/v2/orders/packs/2000001", params=seller.q()).json()
    assert [o["Shipping"]["PackageInfo"] for o in pack["Orders"]] == [PACK_OUT, PACK_OUT, None]
    [message] = outbox(ctx)
    assert message.topic == PACKAGING_TOPIC and message.aggregate_type == "order"
    assert message.aggregate_id == first  # the shipment's first order keeps its changes in order
    assert message.payload == {
        "order_id": second,
        "order_ids": [first, second],
        "external_order_id": order_of(client, seller, second)["ExternalOrderId"],
        "external_shipping_id": 41000001,
        "package_info": PACK_OUT,
    }
    assert message.marketplace_id == 100 and message.account_id == seller.account_id


def test_unchanged_repeat_is_a_no_op_and_a_change_moves_last_updated(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    with clock.frozen(utc(2026, 3, 1, 12)):
        order_id = add_order(seller)
    with ctx.db.reading() as session:
        created = session.scalar(select(Order.version).where(Order.id == order_id))
    with clock.frozen(utc(2026, 3, 2, 9)):
        post(client, seller, order_id, PACK)
    with clock.frozen(utc(2026, 3, 3, 9)):
        assert post(client, seller, order_id, [PACK]).json() == PACK_OUT  # same data again
    order = order_of(client, seller, order_id)
    assert order["LastUpdated"] == "2026-03-02T09:00:00Z"
    assert order["Shipping"]["LastUpdated"] == "2026-03-02T09:00:00Z"
    assert len(outbox(ctx)) == 1
    with clock.frozen(utc(2026, 3, 4, 9)):
        post(client, seller, order_id, dict(PACK, UnitType=3))
    assert order_of(client, seller, order_id)["LastUpdated"] == "2026-03-04T09:00:00Z"
    assert [m.payload["package_info"]["UnitType"] for m in outbox(ctx)] == [1, 3]
    with ctx.db.reading() as session:
        version = session.scalar(select(Order.version).where(Order.id == order_id))
    assert version == created + 2  # two real changes; the repeat wrote nothing


@pytest.mark.parametrize(
    ("fields", "forwarded"),
    [
        ({}, True),
        ({"logistic_type": ship.FLEX_TURBO}, True),
        ({"logistic_type": ship.FULFILLMENT}, False),  # the marketplace packs
        ({"shipment_status": ship.SHIPPED}, False),  # already on its way: kept, not forwarded
        ({"shipment_status": ship.CANCELLED}, False),
        ({"origin": "api"}, False),  # no marketplace behind the order
        ({"origin": "b2b", "marketplace_id": 30}, False),
    ],
)
def test_what_reaches_the_marketplace(
    client: TestClient,
    ctx: AppContext,
    seller: Tenant,
    add_order: AddOrder,
    fields: dict[str, Any],
    forwarded: bool,
) -> None:
    order_id = add_order(seller, **fields)
    assert post(client, seller, order_id, PACK).json() == PACK_OUT
    assert order_of(client, seller, order_id)["Shipping"]["PackageInfo"] == PACK_OUT
    assert len(outbox(ctx)) == (1 if forwarded else 0)


HOSTILE: list[Any] = [
    {},
    {"UnitType": 1},
    {"UnitType": 9, "Quantity": 1},
    {"UnitType": 1, "Quantity": -1},
    {"UnitType": 1, "Quantity": 1e300},
    {"UnitType": 1, "Quantity": 10**40},
    {"UnitType": 1, "Quantity": "NaN"},
    {"UnitType": True, "Quantity": 1},
    {"UnitType": 1, "Quantity": 1, "Dimensions": "big"},
    {"UnitType": 1, "Quantity": 1, "Dimensions": []},
    {"UnitType": 1, "Quantity": 1, "Dimensions": {"MeasureType": 6, "Height": 1, "Width": 1, "Depth": 1}},
    {"UnitType": 1, "Quantity": 1, "Dimensions": {"MeasureType": 1, "Height": 1e308, "Width": 1, "Depth": 1}},
    {"UnitType": 1, "Quantity": 1, "Dimensions": {"MeasureType": 1, "Height": -5, "Width": 1, "Depth": 1}},
    {"UnitType": 1, "Quantity": 1, "Dimensions": {"MeasureType": 1, "Height": "NaN", "Width": 1, "Depth": 1}},
    {"UnitType": 1, "Quantity": 1, "Dimensions": {"MeasureType": 1, "Height": "Infinity", "Width": 1, "Depth": 1}},
    {"UnitType": 1, "Quantity": 1, "Dimensions": {"MeasureType": 1, "Height": "1e999999", "Width": 1, "Depth": 1}},
    {"UnitType": 1, "Quantity": 1, "Dimensions": {"MeasureType": 1, "Height": {"a": 1}, "Width": 1, "Depth": 1}},
    {"UnitType": 1, "Quantity": 1, "Weight": {"MeasureType": 4, "Gross": 1, "Liquid": 1}},
    {"UnitType": 1, "Quantity": 1, "Weight": {"MeasureType": 1, "Gross": 1, "Liquid": 2}},
    {"UnitType": 1, "Quantity": 1, "Weight": {"MeasureType": 1, "Gross": 0, "Liquid": 0}},
    {"UnitType": "\x00", "Quantity": 1},
    {"OrderId": "abc", "PackInfo": PACK},
    {"OrderId": 10**30, "PackInfo": PACK},
    {"PackInfo": "x"},
    {"PackInfo": PACK, "OrderId": True},
    [None],
    ["x"],
    123,
    None,
]


def test_hostile_bodies_get_a_400_and_change_nothing(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller)
    for body in HOSTILE:
        response = post(client, seller, order_id, body)
        assert response.status_code == 400, (body, response.text)
        assert_error(response, 400)
    raw_bodies = [b'{"UnitType": NaN, "Quantity": 1}', b'{"UnitType": 1, "Quantity": 1e400}', b"[" * 10000, b"\xff"]
    for raw in raw_bodies:
        response = client.post(
            f"/v2/orders/{order_id}/packinfo",
            params=seller.q(),
            content=raw,
            headers={"content-type": "application/json"},
        )
        assert_error(response, 400)
    assert order_of(client, seller, order_id)["Shipping"]["PackageInfo"] is None
    assert outbox(ctx) == []


def test_hostile_order_ids_and_query_values(
    client: TestClient, seller: Tenant, add_order: AddOrder, make_tenant: Callable[..., Tenant]
) -> None:
    order_id = add_order(seller)
    for raw in ("9" * 19, "9" * 25, "-" + "9" * 19, "%00", "1 OR 1=1", "1;DROP TABLE orders"):
        response = client.get("/v2/orders/packinfo", params=seller.q(orderId=raw))
        assert response.status_code in (400, 404), (raw, response.text)
        assert_error(response, response.status_code)
    assert client.get(f"/v2/orders/{order_id}/packinfo", params=seller.q()).status_code == 200
