"""Logistic types over HTTP on both databases: the one table in ``orders.shipping_rules`` decides what the label
endpoint and the status endpoint allow (CF-30.E4, flex-turbo included) and what the shipping endpoints show."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

# logistic type: (label printable when ready_to_print, seller may set status 20 itself)
CASES = {
    ship.FLEX_TURBO: (True, True),
    ship.FLEX: (True, True),
    ship.ME2: (True, False),
    ship.CROSS_DOCKING: (True, False),
    ship.FULFILLMENT: (False, False),
    ship.PICKUP: (False, True),
}


@pytest.mark.parametrize("logistic", sorted(CASES), ids=[ship.LOGISTIC_TYPES[c] for c in sorted(CASES)])
def test_logistic_type_drives_label_and_status(
    client: TestClient, seller: Tenant, add_order: AddOrder, logistic: int
) -> None:
    label_ok, manual = CASES[logistic]
    order_id = add_order(
        seller,
        logistic_type=logistic,
        external_shipping_id=46000000 + logistic,
        shipment_status=ship.READY_TO_SHIP,
        shipment_substatus=ship.SUB_READY_TO_PRINT,
    )
    label = client.get(f"/v2/orders/{order_id}/shippinglabel", params=seller.q(format="TXT"))
    assert label.status_code == (200 if label_ok else 412), label.text
    scheduling = client.get(f"/v2/orders/{order_id}/scheduling", params=seller.q()).json()["Shipping"]
    assert scheduling["LogisticType"] == {"Key": logistic, "Value": ship.LOGISTIC_TYPES[logistic]}
    result = client.put("/v2/orders", params=seller.q(), json=[{"OrderId": order_id, "Status": st.SHIPPED}])
    assert result.json()["Results"][0]["Status"] == (200 if manual else 412), result.text
