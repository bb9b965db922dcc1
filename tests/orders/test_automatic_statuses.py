"""Who moves an order's status (CF-21.8.3): the marketplace ("automatic", PUT /v2/orders refused with 412) or
the seller ("manual"), for every rules family of the catalogue × every logistic type."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from fastapi.testclient import TestClient

from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

# CF-21.8.3, row by row: the logistic types a family's marketplace drives ("ALL" = every order).
ALL = frozenset(ship.LOGISTIC_TYPES) | {None}
AUTOMATIC_BY_FAMILY: dict[str, frozenset[int | None]] = {
    # ME2 (drop_off, xd_drop_off), Collection (cross_docking), Fulfillment; Agreement, Pickup, ME1, Flex and
    # Custom are manual.
    "mercadolibre": frozenset({ship.ME2, ship.DROP_OFF, ship.XD_DROP_OFF, ship.CROSS_DOCKING, ship.FULFILLMENT}),
    # Only Amazon's own Courier and Fulfillment: a seller shipping it himself (custom) updates the status.
    "amazon": frozenset({ship.COURIER, ship.FULFILLMENT}),
    "b2w": ALL,
    "garbarino": ALL,
    "pedidosya": ALL,
    "rappi": ALL,
    "ecomm": frozenset(),
    # The store owner ships Tiendanube/Nuvemshop orders himself: always manual.
    "tiendanube": frozenset(),
    # Not in the table: no marketplace drives them.
    "shopee": frozenset(),
    "other": frozenset(),
    "b2b": frozenset(),
}
LOGISTICS = [None, *sorted(ship.LOGISTIC_TYPES)]


def test_the_table_covers_every_family_of_the_catalogue() -> None:
    catalogue = json.loads(resources.files("alephee.data").joinpath("marketplaces.json").read_text("utf-8"))
    assert {m["family"] for m in catalogue} <= set(AUTOMATIC_BY_FAMILY)


@pytest.mark.parametrize("family", sorted(AUTOMATIC_BY_FAMILY))
@pytest.mark.parametrize("logistic", LOGISTICS)
def test_automatic_or_manual_by_family_and_logistic_type(family: str, logistic: int | None) -> None:
    expected = logistic in AUTOMATIC_BY_FAMILY[family]
    for method in (None, ship.METHOD_SELLER, ship.METHOD_PICKUP, ship.METHOD_TO_BE_AGREED):
        found = st.updates_automatically(
            family=family, logistic_type=logistic, shipping_method=method, api_created=False
        )
        assert found is expected, (family, ship.logistic_name(logistic), method)
    # A shipment the marketplace ships (MarketplaceShipping) is always automatic...
    assert st.updates_automatically(
        family=family, logistic_type=logistic, shipping_method=ship.METHOD_MARKETPLACE, api_created=False
    )
    # ...and an order the hub owns (POST /v2/orders, B2B portal) never is.
    for method in (None, ship.METHOD_MARKETPLACE):
        assert not st.updates_automatically(
            family=family, logistic_type=logistic, shipping_method=method, api_created=True
        )


@pytest.mark.parametrize(
    ("logistic", "code"),
    [(ship.CUSTOM, 200), (ship.ME2, 200), (ship.FLEX, 200), (ship.COURIER, 412), (ship.FULFILLMENT, 412)],
)
def test_amazon_orders_over_http(
    client: TestClient, seller: Tenant, add_order: AddOrder, logistic: int, code: int
) -> None:
    order_id = add_order(seller, marketplace_id=20, logistic_type=logistic)
    [result] = client.put("/v2/orders", params=seller.q(), json=[{"OrderId": order_id, "Status": 20}]).json()["Results"]
    assert result["Status"] == code, result
    [order] = client.get("/v2/orders", params=seller.q(idFrom=order_id, idTo=order_id)).json()["Results"]
    assert order["Status"]["Key"] == (20 if code == 200 else 10)
