"""Contract tests of CF-30 (orders shipping) over HTTP: every route and alias of CF-30.7 with status, headers and
exact property names; the packaging round trip through GET /v2/orders; body shapes; 401/404/413/415 paths."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from tests.fixtures.errors import assert_error, assert_rate_headers
from tests.fixtures.orders import AddOrder
from tests.fixtures.shipping import PACK, PACK_OUT, order_of
from tests.fixtures.tenants import Tenant

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

PACKINFO_KEYS = {"UnitType", "Quantity", "Dimensions", "Weight"}
DIMENSION_KEYS = {"MeasureType", "Height", "Width", "Depth"}
WEIGHT_KEYS = {"MeasureType", "Gross", "Liquid"}
SCHEDULING_KEYS = {"Id", "SellerAccount", "Marketplace", "Shipping"}
SELLER_KEYS = {"Id", "OwnCode", "Name", "BusinessName"}
MARKETPLACE_KEYS = {"Key", "Value", "Channel"}
SCHEDULING_SHIPPING_KEYS = {"Status", "LogisticType", "Schedule", "Handling", "Delivery", "Delivered"}
SCHEDULE_KEYS = {"Created", "Updated", "FirstPrinted", "Schedule", "Expiration"}
HANDLING_KEYS = {"Approved", "Limit"}
DELIVERY_KEYS = {"Estimated", "Limit", "Shipped", "FirstVisit"}
DELIVERED_KEYS = {"Date", "NotDelivered", "Returned"}
TRANSPORTATION_KEYS = {"OrderId", "ExternalOrderId", "Transport"}
TRANSPORT_KEYS = {"Mode", "Container"}

# (path template, whether orderId goes in the query string)
PACKAGING_PATHS = [
    ("/v2/orders/{id}/shipping/packaging", False),
    ("/v2/orders/{id}/shipping/packinfo", False),
    ("/v2/orders/{id}/packinfo", False),
    ("/v2/orders/packinfo", True),
    ("/v2/orders/shipping/packinfo", True),
    ("/v2/orders/shipping/packaging", True),
]
SCHEDULING_PATHS = [
    ("/v2/orders/{id}/shipping/scheduling", False),
    ("/v2/orders/{id}/scheduling", False),
    ("/v2/orders/scheduling", True),
    ("/v2/orders/shipping/scheduling", True),
]
TRANSPORTATION_PATHS = [
    ("/v2/orders/{id}/shipping/transportation", False),
    ("/v2/orders/{id}/transportation", False),
    ("/v2/orders/transportation", True),
    ("/v2/orders/shipping/transportation", True),
]


def _url(template: str, by_query: bool, tenant: Tenant, order_id: int | str) -> tuple[str, dict[str, Any]]:
    if by_query:
        return template, tenant.q(orderId=order_id)
    return template.replace("{id}", str(order_id)), tenant.q()


def assert_json_ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert_rate_headers(response)
    assert response.headers["x-ratelimit-retryafter"] == "-1"
    return response.json()


def assert_pack_info(body: dict[str, Any]) -> None:
    assert set(body) == PACKINFO_KEYS
    assert body["Dimensions"] is None or set(body["Dimensions"]) == DIMENSION_KEYS
    assert body["Weight"] is None or set(body["Weight"]) == WEIGHT_KEYS


# --- packaging -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "by_query"), PACKAGING_PATHS)
def test_packaging_get_and_post_on_every_alias(
    client: TestClient, seller: Tenant, add_order: AddOrder, template: str, by_query: bool
) -> None:
    order_id = add_order(seller)
    url, params = _url(template, by_query, seller, order_id)
    empty = assert_json_ok(client.get(url, params=params))
    assert empty == {"UnitType": None, "Quantity": None, "Dimensions": None, "Weight": None}
    echoed = assert_json_ok(client.post(url, params=params, json=PACK))
    assert_pack_info(echoed)
    assert echoed == PACK_OUT
    assert assert_json_ok(client.get(url, params=params)) == PACK_OUT
    again = dict(PACK, Quantity=5)
    assert assert_json_ok(client.put(url, params=params, json=again))["Quantity"] == 5  # PUT = POST
    assert client.get(url, params=params).json()["Quantity"] == 5


def test_packaging_round_trip_to_the_order(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    before = order_of(client, seller, order_id)
    assert before["Shipping"]["PackageInfo"] is None
    client.post(f"/v2/orders/{order_id}/shipping/packaging", params=seller.q(), json=PACK)
    got = client.get(f"/v2/orders/{order_id}/packinfo", params=seller.q()).json()
    after = order_of(client, seller, order_id)
    assert after["Shipping"]["PackageInfo"] == got == PACK_OUT
    assert TIMESTAMP.match(after["Shipping"]["LastUpdated"]) and TIMESTAMP.match(after["LastUpdated"])
    # Only packaging changed: the rest of the order is as it was.
    for key in ("Items", "Payments", "Buyer", "Status", "MarketPlace"):
        assert after[key] == before[key]
    # The embedded copy is also what the cart endpoint shows.
    packs = client.get("/v2/orders/shipping/packinfo", params=seller.q(orderId=order_id)).json()
    assert packs == PACK_OUT


def test_packaging_body_shapes(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    url = f"/v2/orders/{order_id}/shipping/packaging"
    lower = {
        "unittype": 2,
        "QUANTITY": 3,
        "dimensions": {"measuretype": 1, "height": 100, "width": 200, "depth": 300},
        "weight": {"measureType": 3, "gross": 1500, "liquid": 1200},
    }
    assert client.post(url, params=seller.q(), json=lower).json()["Dimensions"]["Depth"] == 300.0
    wrapped = {"OrderId": order_id, "PackInfo": dict(PACK, Quantity=4)}
    assert client.post(url, params=seller.q(), json=wrapped).json()["Quantity"] == 4
    assert client.post(url, params=seller.q(), json=[dict(PACK, Quantity=6)]).json()["Quantity"] == 6
    assert client.post(url, params=seller.q(), json=[wrapped]).json()["Quantity"] == 4
    # The order may come only in the body on the paths without {orderId}.
    only_body = client.post("/v2/orders/packinfo", params=seller.q(), json={"OrderId": order_id, "PackInfo": PACK})
    assert only_body.status_code == 200 and client.get(url, params=seller.q()).json() == PACK_OUT
    # No dimensions or weight known: only the count.
    bare = client.post(url, params=seller.q(), json={"UnitType": 3, "Quantity": 1})
    assert bare.json() == {"UnitType": 3, "Quantity": 1, "Dimensions": None, "Weight": None}


def test_packaging_body_errors(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    url = f"/v2/orders/{order_id}/shipping/packaging"
    assert_error(client.post(url, params=seller.q(), json=[PACK, PACK]), 413)  # one order per call
    assert_error(client.post(url, params=seller.q(), json=[]), 400)
    assert_error(client.post(url, params=seller.q(), json={"OrderId": order_id + 1, "PackInfo": PACK}), 400)
    assert_error(client.post("/v2/orders/packinfo", params=seller.q(), json=PACK), 400)  # no order at all
    assert_error(client.post(url, params=seller.q(), content=b"{not json", headers=_JSON), 400)
    assert_error(client.post(url, params=seller.q(), content=b"", headers=_JSON), 400)
    assert_error(client.post(url, params=seller.q(), content=b"a", headers={"content-type": "text/plain"}), 415)
    assert_error(client.post(url, params=seller.q(), json="PACK"), 400)
    assert client.get(url, params=seller.q()).json()["UnitType"] is None  # nothing was stored


_JSON = {"content-type": "application/json"}


# --- scheduling ------------------------------------------------------------------------------------------------


def assert_scheduling(body: dict[str, Any]) -> None:
    assert set(body) == SCHEDULING_KEYS
    assert isinstance(body["Id"], str) and body["Id"].isdigit()
    assert set(body["SellerAccount"]) == SELLER_KEYS
    assert set(body["Marketplace"]) == MARKETPLACE_KEYS
    shipping = body["Shipping"]
    assert set(shipping) == SCHEDULING_SHIPPING_KEYS
    assert set(shipping["Status"]) == {"Key", "Value"} and set(shipping["LogisticType"]) == {"Key", "Value"}
    for group, keys in (
        ("Schedule", SCHEDULE_KEYS),
        ("Handling", HANDLING_KEYS),
        ("Delivery", DELIVERY_KEYS),
        ("Delivered", DELIVERED_KEYS),
    ):
        assert set(shipping[group]) == keys, group
        for value in shipping[group].values():
            assert value is None or TIMESTAMP.match(value), (group, value)


@pytest.mark.parametrize(("template", "by_query"), SCHEDULING_PATHS)
def test_scheduling_on_every_alias(
    client: TestClient, seller: Tenant, add_order: AddOrder, template: str, by_query: bool
) -> None:
    order_id = add_order(seller, logistic_type=ship.CROSS_DOCKING)
    url, params = _url(template, by_query, seller, order_id)
    body = assert_json_ok(client.get(url, params=params))
    assert_scheduling(body)
    order = order_of(client, seller, order_id)
    assert body["Id"] == str(order_id)
    assert body["SellerAccount"] == order["SellerAccount"]
    assert body["Marketplace"] == order["MarketPlace"]
    assert body["Shipping"]["Status"] == order["Shipping"]["Status"]
    assert body["Shipping"]["LogisticType"] == {"Key": 8, "Value": "cross_docking"}
    assert body["Shipping"]["Schedule"]["Created"] == order["Shipping"]["DateCreated"]
    assert body["Shipping"]["Delivery"]["Estimated"] == order["Shipping"]["EstimatedDeliveryDate"]


@pytest.mark.parametrize("path", ["/v2/orders/scheduling", "/v2/orders/shipping/scheduling"])
def test_scheduling_list_without_order_id(
    client: TestClient, seller: Tenant, add_order: AddOrder, make_tenant: Callable[..., Tenant], path: str
) -> None:
    mine = [add_order(seller) for _ in range(3)]
    add_order(seller, status=st.DELETED)
    add_order(make_tenant(marketplaces=(100,)))
    body = assert_json_ok(client.get(path, params=seller.q()))
    assert set(body) == {"Total", "Paging", "SortBy", "AvailableSorts", "Results"}
    assert body["Total"] == 3 and body["Paging"] == {"Limit": 100, "Offset": 0, "Total": 3}
    assert [r["Id"] for r in body["Results"]] == [str(i) for i in mine]
    for result in body["Results"]:
        assert_scheduling(result)
    page = assert_json_ok(client.get(path, params=seller.q(offset=1, limit=1)))
    assert [r["Id"] for r in page["Results"]] == [str(mine[1])] and page["Total"] == 3
    capped = assert_json_ok(client.get(path, params=seller.q(limit=500)), 206)
    assert capped["Paging"]["Limit"] == 100
    assert_error(client.get(path, params=seller.q(offset=-1)), 416)
    assert_error(client.get(path, params=seller.q(sort="nope")), 400)


# --- transportation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "by_query"), TRANSPORTATION_PATHS)
def test_transportation_on_every_alias(
    client: TestClient, seller: Tenant, add_order: AddOrder, template: str, by_query: bool
) -> None:
    order_id = add_order(seller)
    external = order_of(client, seller, order_id)["ExternalOrderId"]
    url, params = _url(template, by_query, seller, order_id)
    empty = assert_json_ok(client.get(url, params=params))
    assert empty == {"OrderId": order_id, "ExternalOrderId": external, "Transport": None}
    body = {"Transport": {"Mode": {"Id": 3, "Name": "maritime"}, "Container": 4521}}
    echoed = assert_json_ok(client.post(url, params=params, json=body))
    assert set(echoed) == TRANSPORTATION_KEYS and set(echoed["Transport"]) == TRANSPORT_KEYS
    assert echoed == {"OrderId": order_id, "ExternalOrderId": external, "Transport": body["Transport"]}
    assert assert_json_ok(client.get(url, params=params)) == echoed
    cleared = assert_json_ok(client.put(url, params=params, json={"Transport": None}))
    assert cleared["Transport"] is None and client.get(url, params=params).json()["Transport"] is None


def test_transportation_without_order_id_is_400(client: TestClient, seller: Tenant) -> None:
    for path in ("/v2/orders/transportation", "/v2/orders/shipping/transportation", "/v2/orders/packinfo"):
        assert_error(client.get(path, params=seller.q()), 400)
    assert_error(client.get("/v2/orders/transportation", params=seller.q(orderId="abc")), 400)


# --- 401 / 404 on every endpoint ---------------------------------------------------------------------------------

ALL_GETS = [p for p, _ in PACKAGING_PATHS + SCHEDULING_PATHS + TRANSPORTATION_PATHS]
ALL_WRITES = [p for p, _ in PACKAGING_PATHS + TRANSPORTATION_PATHS]
WRITE_BODY = {"/packinfo": PACK, "/packaging": PACK, "/transportation": {"Transport": {"Mode": 1}}}


def _body_for(path: str) -> dict[str, Any]:
    return next(body for suffix, body in WRITE_BODY.items() if path.endswith(suffix))


ENDPOINTS = [("GET", p) for p in ALL_GETS] + [("POST", p) for p in ALL_WRITES] + [("PUT", p) for p in ALL_WRITES]


def test_401_without_valid_key_or_account(
    client: TestClient, seller: Tenant, add_order: AddOrder, make_tenant: Callable[..., Tenant]
) -> None:
    order_id = add_order(seller)
    other = make_tenant()
    for method, path in ENDPOINTS:
        url = path.replace("{id}", str(order_id))
        body = _body_for(path) if method != "GET" else None
        for params in (
            {"accountId": seller.account_id, "orderId": order_id},
            {"API_KEY": "00000000-0000-0000-0000-000000000000", "accountId": seller.account_id, "orderId": order_id},
            {"API_KEY": seller.api_key, "orderId": order_id},
            {"API_KEY": other.api_key, "accountId": seller.account_id, "orderId": order_id},
        ):
            response = client.request(method, url, params=params, json=body)
            assert response.status_code == 401, (method, url, params, response.text)
            assert_error(response, 401)
    assert client.get(f"/v2/orders/{order_id}/packinfo", params=seller.q()).json()["UnitType"] is None


def test_404_for_unknown_foreign_and_deleted_orders(
    client: TestClient, seller: Tenant, add_order: AddOrder, make_tenant: Callable[..., Tenant]
) -> None:
    foreign = add_order(make_tenant(marketplaces=(100,)))
    deleted = add_order(seller, status=st.DELETED)
    mine = add_order(seller)
    for method, path in ENDPOINTS:
        body = _body_for(path) if method != "GET" else None
        for order_id in (foreign, deleted, mine + 1000, 0, -5, 99999999999999999999):
            url = path.replace("{id}", str(order_id))
            response = client.request(method, url, params=seller.q(orderId=order_id), json=body)
            assert response.status_code == 404, (method, url, response.text)
            assert_error(response, 404)
        # Case-insensitive names, as real clients send them.
        ok = client.request(
            method,
            path.replace("{id}", str(mine)),
            params={"api_key": seller.api_key, "accountID": seller.account_id, "ORDERID": mine},
            json=body,
        )
        assert ok.status_code == 200, (method, path, ok.text)


def test_non_integer_order_id_is_400(client: TestClient, seller: Tenant) -> None:
    for method, path in ENDPOINTS:
        body = _body_for(path) if method != "GET" else None
        for bad in ("abc", "1.5", "1e3", "0x10"):
            response = client.request(method, path.replace("{id}", bad), params=seller.q(orderId=bad), json=body)
            assert response.status_code == 400, (method, path, bad, response.text)
            assert_error(response, 400)
