"""TransportationInfo on both databases: the POST body shapes (ours), the shipment sharing one transport,
ExternalOrderId per origin, and 400s that change nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant


def url(order_id: int) -> str:
    return f"/v2/orders/{order_id}/shipping/transportation"


def post(client: TestClient, tenant: Tenant, order_id: int, body: Any) -> Any:
    return client.post(url(order_id), params=tenant.q(), json=body)


def test_body_shapes(client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    land, air, sea = ({"Id": 1, "Name": "terrestrial"}, {"Id": 2, "Name": "aerial"}, {"Id": 3, "Name": "maritime"})
    cases: list[tuple[Any, dict[str, Any] | None]] = [
        ({"Transport": {"Mode": {"Id": 1}, "Container": 17}}, {"Mode": land, "Container": 17}),
        ({"transport": {"mode": {"name": "Aerial"}}}, {"Mode": air, "Container": None}),
        ({"Transport": {"Mode": "maritime", "Container": "99"}}, {"Mode": sea, "Container": 99}),
        ({"Mode": 2, "Container": 5}, {"Mode": air, "Container": 5}),  # a bare TransportInfo
        ({"Container": 7}, {"Mode": None, "Container": 7}),
        ([{"OrderId": order_id, "Transport": {"Mode": 1}}], {"Mode": land, "Container": None}),
        ({"Transport": {}}, None),
        ({"Transport": None}, None),
    ]  # fmt: skip
    for body, transport in cases:
        response = post(client, seller, order_id, body)
        assert response.status_code == 200, (body, response.text)
        assert response.json()["Transport"] == transport, body
        assert client.get(url(order_id), params=seller.q()).json()["Transport"] == transport
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # internal data only


def test_the_shipment_shares_its_transport(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    first = add_order(seller, pack_id="4000001", pack_size=2, external_shipping_id=45000001)
    second = add_order(seller, pack_id="4000001", pack_size=2, external_shipping_id=45000001)
    alone = add_order(seller)
    post(client, seller, first, {"Transport": {"Mode": 3, "Container": 4521}})
    for order_id, expected in ((first, 4521), (second, 4521), (alone, None)):
        transport = client.get(f"/v2/orders/{order_id}/transportation", params=seller.q()).json()["Transport"]
        assert (transport and transport["Container"]) == expected


def test_external_order_id_by_origin(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    marketplace = add_order(seller, external_order_id="2000003508553677")
    b2b = add_order(seller, origin="b2b", marketplace_id=30)
    api = add_order(seller, origin="api", external_order_id="ERP-1")
    got = {o: client.get(url(o), params=seller.q()).json()["ExternalOrderId"] for o in (marketplace, b2b, api)}
    assert got == {marketplace: "2000003508553677", b2b: None, api: "ERP-1"}


def test_bad_bodies_are_400_and_change_nothing(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    post(client, seller, order_id, {"Transport": {"Mode": 1, "Container": 1}})
    bad: list[Any] = [
        {},
        {"OrderId": order_id},
        {"Transport": "air"},
        {"Transport": {"Mode": 4}},
        {"Transport": {"Mode": {"Id": 1, "Name": "aerial"}}},
        {"Transport": {"Mode": {"Id": "x"}}},
        {"Transport": {"Mode": True}},
        {"Transport": {"Mode": 1, "Container": 0}},
        {"Transport": {"Mode": 1, "Container": 2**31}},
        {"Transport": {"Mode": 1, "Container": 1e300}},
        {"Transport": {"Mode": 1, "Container": "NaN"}},
        {"OrderId": order_id + 1, "Transport": {"Mode": 1}},
        "terrestrial",
    ]
    for body in bad:
        response = post(client, seller, order_id, body)
        assert response.status_code == 400, (body, response.text)
        assert_error(response, 400)
    assert_error(post(client, seller, order_id, [{"Mode": 1}, {"Mode": 2}]), 413)
    expected = {"Mode": {"Id": 1, "Name": "terrestrial"}, "Container": 1}
    assert client.get(url(order_id), params=seller.q()).json()["Transport"] == expected
    message = post(client, seller, order_id, {"Transport": {"Mode": 9}}).json()["Message"]
    assert message == "Invalid Transport.Mode 9: use 1 (terrestrial), 2 (aerial), 3 (maritime)"
