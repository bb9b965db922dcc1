"""SchedulingInfo on both databases: every milestone from its source (the order as GET /v2/orders shows it,
the label's first print, the order history, stored marketplace dates, configured deadlines)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee import clock
from alephee.http.context import AppContext
from alephee.http.wire import format_utc
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.shipping import scheduling as scheduling_rules
from tests.fixtures.orders import AddOrder, utc
from tests.fixtures.shipping import order_of
from tests.fixtures.tenants import Tenant

SALE = utc(2026, 5, 4, 10)


def scheduling(client: TestClient, tenant: Tenant, order_id: int) -> dict[str, Any]:
    response = client.get(f"/v2/orders/{order_id}/shipping/scheduling", params=tenant.q())
    assert response.status_code == 200, response.text
    return response.json()["Shipping"]


def shifted(stamp: str, **delta: int) -> str:
    return format_utc(scheduling_rules._parse_wire_time(stamp) + timedelta(**delta))  # type: ignore[operator]


def test_milestones_of_a_new_marketplace_order(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    with clock.frozen(SALE):
        order_id = add_order(seller, sale_date=SALE)
    order = order_of(client, seller, order_id)
    got = scheduling(client, seller, order_id)
    approved = order["Payments"][0]["DateApproved"]
    assert got["Status"] == order["Shipping"]["Status"] == {"Key": 3, "Value": "ready_to_ship"}
    assert got["LogisticType"] == order["Shipping"]["LogisticType"] == {"Key": 3, "Value": "me2"}
    assert got["Schedule"] == {
        "Created": order["Shipping"]["DateCreated"],
        "Updated": order["Shipping"]["LastUpdated"],
        "FirstPrinted": None,
        "Schedule": None,
        "Expiration": shifted(order["Shipping"]["DateCreated"], days=30),
    }
    assert got["Handling"] == {"Approved": approved, "Limit": shifted(approved, hours=48)}
    assert got["Delivery"] == {
        "Estimated": order["Shipping"]["EstimatedDeliveryDate"],
        "Limit": None,
        "Shipped": None,
        "FirstVisit": None,
    }
    assert got["Delivered"] == {"Date": None, "NotDelivered": None, "Returned": None}


@pytest.mark.parametrize(
    ("fields", "limit", "approved", "expiration"),
    [
        ({"logistic_type": ship.FULFILLMENT}, False, True, True),  # the marketplace's warehouse handles it
        ({"logistic_type": ship.FLEX_TURBO}, True, True, True),
        ({"payment_pending": True}, False, False, True),  # not approved yet: no handling clock
        ({"origin": "api"}, True, True, False),  # no marketplace rating
    ],
)
def test_derived_deadlines_depend_on_the_order(
    client: TestClient,
    seller: Tenant,
    add_order: AddOrder,
    fields: dict[str, Any],
    limit: bool,
    approved: bool,
    expiration: bool,
) -> None:
    got = scheduling(client, seller, add_order(seller, **fields))
    assert (got["Handling"]["Limit"] is not None) is limit
    assert (got["Handling"]["Approved"] is not None) is approved
    assert (got["Schedule"]["Expiration"] is not None) is expiration


def test_deadlines_are_configurable(
    make_client: Callable[..., TestClient], seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller)
    quiet = make_client(shipping_handling_hours=0, shipping_feedback_days=0)
    got = scheduling(quiet, seller, order_id)
    assert got["Handling"]["Limit"] is None and got["Schedule"]["Expiration"] is None
    longer = scheduling(make_client(shipping_handling_hours=72), seller, order_id)
    assert longer["Handling"]["Limit"] == shifted(longer["Handling"]["Approved"], hours=72)


def test_first_print_and_status_history(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    # Flex on Mercado Libre: the seller moves the status (manual), the label comes from the marketplace.
    with clock.frozen(SALE):
        order_id = add_order(seller, logistic_type=ship.FLEX, external_shipping_id=43000001, sale_date=SALE)
    with clock.frozen(SALE + timedelta(hours=2)):
        label = client.get(f"/v2/orders/{order_id}/shippinglabel", params=seller.q(format="PDF"))
        assert label.status_code == 200, label.text
    with clock.frozen(SALE + timedelta(hours=3)):
        label = client.get(f"/v2/orders/{order_id}/shippinglabel", params=seller.q(format="PDF"))
    for hours, status in ((5, st.SHIPPED), (30, st.DELIVERED)):
        with clock.frozen(SALE + timedelta(hours=hours)):
            result = client.put("/v2/orders", params=seller.q(), json=[{"OrderId": order_id, "Status": status}])
            assert result.json()["Results"][0]["Status"] == 200, result.text
    got = scheduling(client, seller, order_id)
    assert got["Schedule"]["FirstPrinted"] == "2026-05-04T12:00:00Z"  # the first print, not the second
    assert got["Delivery"]["Shipped"] == "2026-05-04T15:00:00Z"
    assert got["Delivered"]["Date"] == "2026-05-05T16:00:00Z"
    assert got["Status"] == {"Key": 5, "Value": "delivered"}
    assert got["Schedule"]["Updated"] == "2026-05-05T16:00:00Z"


def test_delivered_orders_without_history_use_their_closing_date(
    client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, status=st.DELIVERED, status_date=utc(2026, 5, 8, 18))
    assert scheduling(client, seller, order_id)["Delivered"]["Date"] == "2026-05-08T18:00:00Z"


def test_marketplace_milestones_win_and_cover_the_cart(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    first = add_order(seller, pack_id="3000001", pack_size=2, external_shipping_id=44000001)
    second = add_order(seller, pack_id="3000001", pack_size=2, external_shipping_id=44000001)
    other = add_order(seller)
    dates = {
        "scheduled_at": utc(2026, 5, 5, 15),
        "expires_at": utc(2026, 6, 1),
        "handling_approved_at": utc(2026, 5, 4, 11),
        "handling_limit_at": utc(2026, 5, 5, 14),
        "delivery_estimated_at": utc(2026, 5, 8, 21),
        "delivery_limit_at": utc(2026, 5, 9, 21),
        "shipped_at": utc(2026, 5, 5, 16),
        "first_visit_at": utc(2026, 5, 7, 10),
        "delivered_at": utc(2026, 5, 7, 10, 30),
        "not_delivered_at": None,
        "returned_at": utc(2026, 5, 20),
    }
    assert set(dates) == scheduling_rules.MILESTONES
    with ctx.db.writing() as session:
        scheduling_rules.record_milestones(session, seller.account_id, second, **dates)
    expected = {
        "Schedule": {"Schedule": "2026-05-05T15:00:00Z", "Expiration": "2026-06-01T00:00:00Z"},
        "Handling": {"Approved": "2026-05-04T11:00:00Z", "Limit": "2026-05-05T14:00:00Z"},
        "Delivery": {
            "Estimated": "2026-05-08T21:00:00Z",
            "Limit": "2026-05-09T21:00:00Z",
            "Shipped": "2026-05-05T16:00:00Z",
            "FirstVisit": "2026-05-07T10:00:00Z",
        },
        "Delivered": {"Date": "2026-05-07T10:30:00Z", "NotDelivered": None, "Returned": "2026-05-20T00:00:00Z"},
    }
    for order_id in (first, second):
        got = scheduling(client, seller, order_id)
        for group, values in expected.items():
            for key, value in values.items():
                assert got[group][key] == value, (order_id, group, key)
    assert scheduling(client, seller, other)["Delivery"]["Shipped"] is None
    with ctx.db.writing() as session, pytest.raises(ValueError, match="Unknown shipping milestone"):
        scheduling_rules.record_milestones(session, seller.account_id, first, shipped=utc(2026, 5, 5))
