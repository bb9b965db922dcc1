"""What real clients send and the service being replaced accepted: a UTF-8 BOM before a JSON body, `text/json`,
paths in any letter case, one trailing slash; and the headers every response carries (`nosniff`)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.errors import assert_error
from tests.fixtures.orders import PDF, AddOrder
from tests.fixtures.tenants import Tenant

BOM = b"\xef\xbb\xbf"


def _integrate_body(order_id: int) -> bytes:
    return b'[{"OrderId": %d, "OwnOrderId": "erp-1", "Integrated": true}]' % order_id


def test_json_body_with_a_utf8_bom_is_accepted(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    response = client.put(
        "/v2/orders/integrate",
        params=seller.q(),
        content=BOM + _integrate_body(order_id),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["Results"][0]["Message"] == "Ok"
    order = client.get("/v2/orders", params=seller.q(idFrom=order_id, idTo=order_id)).json()["Results"][0]
    assert order["Integrated"] is True and order["IntegratedOrderId"] == "erp-1"


def test_base64_upload_with_a_utf8_bom_is_accepted(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    body = b'{"fileBase64": "%s", "documentName": "factura", "documentExtension": "pdf"}' % base64.b64encode(PDF)
    response = client.post(
        f"/v2/orders/{order_id}/documents",
        params=seller.q(documentType=0),
        content=BOM + body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["Fullfilename"] == "factura.pdf"


def test_a_bom_alone_is_still_an_empty_body(client: TestClient, seller: Tenant) -> None:
    response = client.put("/v2/orders/integrate", params=seller.q(), content=BOM, headers={"Content-Type": "text/json"})
    assert_error(response, 400)
    assert response.json()["Message"] == "A JSON request body is required"


@pytest.mark.parametrize(
    "content_type",
    ["text/json", "Text/JSON; charset=utf-8", "application/json", "application/vnd.alephee+json", None],
)
def test_json_media_types_are_accepted(
    client: TestClient, seller: Tenant, add_order: AddOrder, content_type: str | None
) -> None:
    order_id = add_order(seller)
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.put("/v2/orders/integrate", params=seller.q(), content=_integrate_body(order_id), headers=headers)
    assert response.status_code == 200, (content_type, response.text)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "text/jsonx", "application/x-www-form-urlencoded"]
)
def test_other_media_types_get_415(client: TestClient, seller: Tenant, content_type: str) -> None:
    response = client.put(
        "/v2/orders/integrate", params=seller.q(), content=b"[]", headers={"Content-Type": content_type}
    )
    assert_error(response, 415)


def test_text_json_upload_is_accepted(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    body = b'{"fileBase64": "%s", "documentExtension": "pdf"}' % base64.b64encode(PDF)
    response = client.post(
        f"/v2/orders/{order_id}/documents",
        params=seller.q(documentType=0),
        content=body,
        headers={"Content-Type": "text/json"},
    )
    assert response.status_code == 200, response.text


# --- paths: any letter case, one trailing slash, never a redirect ----------------------------------------------


def test_paths_match_in_any_letter_case(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, shipment_status="ready_to_ship", shipment_substatus="ready_to_print")
    expected = client.get("/v2/orders", params=seller.q()).json()
    for path in ("/v2/Orders", "/V2/ORDERS", "/v2/oRdErS"):
        response = client.get(path, params=seller.q())
        assert response.status_code == 200, (path, response.text)
        assert response.json() == expected
    search = client.get("/v2/ProductListings/Search", params=seller.q())
    assert search.status_code == client.get("/v2/productlistings/search", params=seller.q()).status_code == 200
    label = client.get(f"/v2/orders/{order_id}/ShippingLabel", params=seller.q(format="PDF"))
    assert label.status_code == 200, label.text
    assert label.headers["content-type"] == "application/pdf" and label.content.startswith(b"%PDF-")
    # Literal segments that a path parameter could also take are matched as the literal.
    put = client.put("/v2/Orders/Integrate", params=seller.q(), json=[{"OrderId": order_id, "Integrated": True}])
    assert put.status_code == 200 and put.json()["Results"][0]["Message"] == "Ok"


def test_path_parameter_values_keep_their_case(client: TestClient, seller: Tenant) -> None:
    from alephee.http.routing import PathCanonicalizer

    paths = PathCanonicalizer(["/v2/orders/packs/{packId}", "/v2/orders/{orderId}/shippinglabel", "/v2/orders"])
    assert paths.canonical("/V2/Orders/Packs/AbC") == "/v2/orders/packs/AbC"
    assert paths.canonical("/v2/orders/PaCkS/shippingLABEL") == "/v2/orders/packs/shippingLABEL"
    assert paths.canonical("/v2/orders/XyZ/ShippingLabel/") == "/v2/orders/XyZ/shippinglabel"
    assert paths.canonical("/v2/orders") == "/v2/orders"
    # Unknown paths are left as they are (a 404 follows), but for one trailing slash.
    assert paths.canonical("/v2/Nope/") == "/v2/Nope"
    assert paths.canonical("/") == "/"
    # Over HTTP: an unknown cart id comes back in the 404 as it was sent (no lower-casing of values).
    response = client.get("/v2/ORDERS/PACKS/AbC-9", params=seller.q())
    assert_error(response, 404)


@pytest.mark.parametrize("path", ["/v2/orders/", "/v2/Orders/", "/v2/productlistings/search/"])
def test_a_trailing_slash_is_served_never_redirected(client: TestClient, seller: Tenant, path: str) -> None:
    response = client.get(
        path,
        params=seller.q(),
        headers={"Host": "evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 200, response.text
    assert "location" not in response.headers


def test_trailing_slash_on_writes_and_other_pages(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    put = client.put(
        "/v2/orders/integrate/",
        params=seller.q(),
        json=[{"OrderId": order_id, "Integrated": True}],
        follow_redirects=False,
    )
    assert put.status_code == 200, put.text
    for path in ("/health/", "/swagger/docs/v2/"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 200, path
    # Only one slash is forgiven; an unknown route stays a 404 in the documented shape, not a redirect.
    assert_error(client.get("/v2/orders//", params=seller.q(), follow_redirects=False), 404)
    assert_error(client.get("/v2/nothing/", params=seller.q(), follow_redirects=False), 404)


# --- nosniff on every response -----------------------------------------------------------------------------


def test_nosniff_on_every_response(
    client: TestClient, make_client: Callable[..., TestClient], seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller)
    client.post(f"/v2/orders/{order_id}/documents", params=seller.q(documentType=0), files={"file": ("f.pdf", PDF)})
    responses = {
        "api": client.get("/v2/orders", params=seller.q()),
        "401": client.get("/v2/orders"),
        "404": client.get("/v2/no/such/route"),
        "405": client.delete("/v2/productlistings/search", params=seller.q()),
        "400": client.put("/v2/orders/integrate", params=seller.q(), content=b"{bad"),
        "document": client.get(f"/v2/orders/{order_id}/documents", params=seller.q(documentType=0)),
        "swagger": client.get("/swagger/ui/index"),
        "openapi": client.get("/swagger/docs/v2"),
        "static": client.get("/swagger/static/swagger-ui.css"),
        "portal": client.get("/b2b/login"),
        "health": client.get("/health"),
    }
    big = make_client(max_body_bytes=10)
    responses["413"] = big.put("/v2/orders/integrate", params=seller.q(), content=b"[" + b" " * 100 + b"]")
    for name, response in responses.items():
        assert response.headers.get("x-content-type-options") == "nosniff", name
