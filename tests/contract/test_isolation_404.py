"""Tenant isolation, the 404 half, generated from the route table: an id of another account's order, cart,
webhook, price list, listing, product, document or notification, used with a valid key on the caller's own
account, finds nothing (404, or "not found" per element in batch bodies) and changes nothing in the database.
The same call by the owner does find the resource, so the 404 is about ownership and not a malformed call.

Every path parameter and every query parameter named ``...Id`` of every /v2 operation needs an entry in
``RESOURCE_IDS`` (how to get tenant B's id) or in ``NOT_RESOURCE_IDS`` (why it names nothing an account owns);
every operation with a request body needs an entry in ``BODY_CASES`` or ``NO_FOREIGN_IDS_IN_BODY``. A new
route with an unknown id parameter or body fails here until it gets one.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from alephee import clock
from alephee.accounts import service as accounts
from alephee.accounts.models import Account
from alephee.app import api_operations, create_app
from alephee.config import Settings
from alephee.db import Database
from alephee.http.context import AppContext
from alephee.registry import metadata
from tests.fixtures.seed import Seeded, seed_tenant
from tests.fixtures.tenants import Tenant

OPERATIONS = api_operations()
DOCUMENT = create_app(Settings(_env_file=None, database_url="sqlite://")).openapi()  # type: ignore[call-arg]

# Tables a refused call may legitimately write: the audit log records every write attempt.
UNTRACKED_TABLES = {"audit_log"}

RESOURCE_IDS: dict[str, Callable[[Seeded], str]] = {
    "orderId": lambda b: str(b.order_ids[0]),
    "packId": lambda b: b.pack_ids[0],
    "webhookId": lambda b: str(b.webhook_ids[0]),
    "priceListId": lambda b: str(b.price_list_ids[0]),
}
# Per route, an id of the kind the route needs for the owner's call to succeed.
ROUTE_IDS: dict[tuple[str, str], Callable[[Seeded], str]] = {
    ("orders.documents.get", "orderId"): lambda b: str(b.document_order_ids[0]),
    ("orders.shippinglabel", "orderId"): lambda b: str(b.label_order_ids[0]),
    ("orders.split", "orderId"): lambda b: str(b.order_ids[-1]),  # in a cart of two
}
NOT_RESOURCE_IDS = {
    "accountId": "the account itself: a foreign one is a 401 (tests/contract/test_isolation.py)",
    "marketplaceId": "a marketplace of the shared catalogue",
    "splitReasonId": "an enum code",
    "externalID": "a search filter (test_foreign_listing_ids_find_nothing)",
}

PACK = {
    "UnitType": 1,
    "Quantity": 1,
    "Dimensions": {"MeasureType": 2, "Height": 10, "Width": 10, "Depth": 10},
    "Weight": {"MeasureType": 1, "Gross": 1, "Liquid": 1},
}
TRANSPORT = {"Transport": {"Mode": {"Id": 1}, "Container": 17}}


def _pdf() -> str:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    return base64.b64encode(bytes(pdf.output())).decode()


# Valid bodies and query parameters of the id routes, so the call reaches the lookup.
ROUTE_BODIES: dict[str, Callable[[], Any]] = {
    "shipping.packaging.post": lambda: PACK,
    "shipping.transportation.post": lambda: TRANSPORT,
    "orders.documents.post": lambda: {"fileBase64": _pdf(), "documentExtension": "pdf", "documentName": "f"},
    "products.update": lambda: [{"SKU": "NOT-MINE", "Stock": {"Quantity": 1}}],
}
ROUTE_QUERY: dict[str, dict[str, str]] = {
    "orders.documents.get": {"documentType": "0"},
    "orders.shippinglabel": {"format": "PDF"},
    "orders.messages": {"messageOptions": "4", "message": "Hola"},
    "orders.split": {"splitReasonId": "1"},
    "orders.documents.post": {"documentType": "0"},
}


def _operation(method: str, path: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method.lower()]


def _id_parameters(method: str, path: str) -> list[tuple[str, str]]:
    """``(name, "path"|"query")`` of every parameter that may name a resource."""
    found = [(name, "path") for name in re.findall(r"\{(\w+)\}", path) if name != "accountId"]
    for parameter in _operation(method, path).get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "query" and re.search(r"ids?$", name, re.IGNORECASE) and name != "accountId":
            found.append((name, "query"))
    return found


CASES = [
    pytest.param(method, path, name, param, where, id=f"{method} {path} {where}:{param}")
    for method, path, name in OPERATIONS
    for param, where in _id_parameters(method, path)
    if param not in NOT_RESOURCE_IDS or where == "path"
]


def snapshot(db: Database) -> dict[str, list[str]]:
    """Every row of every table (but the audit log), as sorted strings."""
    with db.read_engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            for table in metadata.sorted_tables
            if table.name not in UNTRACKED_TABLES
        }


def _call(client: TestClient, method: str, path: str, name: str, ids: dict[str, str], query: dict[str, Any]) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
    body = ROUTE_BODIES.get(name)
    operation = _operation(method, path)
    if body is None and operation.get("requestBody", {}).get("required"):
        pytest.fail(f"{method} {path} ({name}) needs a body: add a valid one to ROUTE_BODIES")
    return client.request(method, url, params={**ROUTE_QUERY.get(name, {}), **query}, json=body() if body else None)


@pytest.mark.parametrize(("method", "path", "name", "param", "where"), CASES)
def test_foreign_id_is_404_and_changes_nothing(
    client: TestClient,
    ctx: AppContext,
    make_tenant: Callable[..., Tenant],
    method: str,
    path: str,
    name: str,
    param: str,
    where: str,
) -> None:
    if param not in RESOURCE_IDS:
        pytest.fail(
            f"{method} {path}: unknown id parameter {param!r} ({where}). Add a factory to RESOURCE_IDS "
            "(tenant B's id of that resource) or, if it names nothing an account owns, a reason to NOT_RESOURCE_IDS"
        )
    owner = seed_tenant(ctx.db, ctx.settings, seed=7)
    intruder = make_tenant(marketplaces=(100, 1, 20, 30))
    path_ids: dict[str, str] = {}
    for other in re.findall(r"\{(\w+)\}", path):
        if other == "accountId":
            continue
        if other not in RESOURCE_IDS:
            pytest.fail(f"{method} {path}: unknown path parameter {other!r}: add a factory to RESOURCE_IDS")
        path_ids[other] = (ROUTE_IDS.get((name, other)) or RESOURCE_IDS[other])(owner)
    foreign = (ROUTE_IDS.get((name, param)) or RESOURCE_IDS[param])(owner)
    query_id = {param: foreign} if where == "query" else {}

    before = snapshot(ctx.db)
    response = _call(
        client, method, path, name, {**path_ids, "accountId": str(intruder.account_id)}, {**intruder.q(), **query_id}
    )
    assert response.status_code == 404, (method, path, param, response.status_code, response.text)
    assert set(response.json()) == {"Status", "Message"}
    assert snapshot(ctx.db) == before, "a refused call changed the database"

    response = _call(
        client, method, path, name, {**path_ids, "accountId": str(owner.account_id)}, {**owner.q(), **query_id}
    )
    assert response.status_code not in (401, 404), ("the owner's call should find it", response.text)


def test_the_matrix_covers_every_id_route() -> None:
    """Every operation with an id in its path is in the matrix (generated, never hand-listed)."""
    covered = {(c.values[0], c.values[1]) for c in CASES}
    with_path_ids = {(m, p) for m, p, _ in OPERATIONS if set(re.findall(r"\{(\w+)\}", p)) - {"accountId"}}
    assert with_path_ids and with_path_ids <= covered


# --- ids inside request bodies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyCase:
    """A batch call naming tenant B's resources in its body, and what the per-element result must say."""

    method: str
    path: str
    body: Callable[[Seeded], Any]
    refused: Callable[[Any], bool]
    query: Callable[[Seeded], dict[str, Any]] = lambda _b: {}


def _results_status(wanted: Any) -> Callable[[Any], bool]:
    return lambda r: all(str(x["Status"]) == str(wanted) for x in r.json()["Results"])


def _action_result_errors(r: Any) -> bool:
    body = r.json()
    return body["Quantities"]["Ok"] == 0 and body["Quantities"]["Error"] == body["Quantities"]["Total"]


def _discount_window() -> dict[str, str]:
    now = clock.utcnow()
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {"StartDate": now.strftime(fmt), "FinishDate": (now + timedelta(days=2)).strftime(fmt)}


BODY_CASES: dict[str, BodyCase] = {
    "orders.integrate": BodyCase(
        "PUT",
        "/v2/orders/integrate",
        lambda b: [{"OrderId": b.order_ids[0], "OwnOrderId": "X-1"}],
        _results_status(400),
    ),
    "orders.status": BodyCase(
        "PUT", "/v2/orders", lambda b: [{"OrderId": b.order_ids[0], "Status": 20}], _results_status(404)
    ),
    "products.update": BodyCase(
        "POST", "/v2/products", lambda b: [{"SKU": b.skus[0], "Stock": {"Quantity": 99}}], _action_result_errors
    ),
    "products.fiscal.update": BodyCase(
        "PUT", "/v2/products/fiscal", lambda b: [{"SKU": b.skus[0], "TaxRate": 10.5}], _action_result_errors
    ),
    "listings.update": BodyCase(
        "PUT",
        "/v2/productlistings",
        lambda b: [{"ExternalPublications": [b.active_external_ids[0]], "Price": {"Price": 10}}],
        _action_result_errors,
    ),
    "listings.status": BodyCase(
        "PUT",
        "/v2/productlistings/update-status",
        lambda b: [{"ExternalPublications": [b.active_external_ids[0]], "Status": 2}],
        lambda r: r.status_code == 400 and all(x["Status"] == 404 for x in r.json()["Results"]),
    ),
    "listings.discounts": BodyCase(
        "POST",
        "/v2/productlistings/discounts",
        lambda b: [{"ExternalPublications": [b.active_external_ids[0]], "DiscountPercent": 10, **_discount_window()}],
        lambda r: r.status_code == 400 and all(x["Status"] == 404 for x in r.json()["Results"]),
    ),
    "shipping.packaging.post": BodyCase(
        "POST",
        "/v2/orders/shipping/packaging",
        lambda b: {"OrderId": b.order_ids[0], "PackInfo": PACK},
        lambda r: r.status_code == 404,
    ),
    "shipping.transportation.post": BodyCase(
        "POST",
        "/v2/orders/shipping/transportation",
        lambda b: {"OrderId": b.order_ids[0], **TRANSPORT},
        lambda r: r.status_code == 404,
    ),
    "notifications.ack": BodyCase(
        "POST", "/v2/notifications/ack", lambda b: [b.event_ids[0]], lambda r: "not found" in r.text.lower()
    ),
}
NO_FOREIGN_IDS_IN_BODY = {
    "accounts.fiscaltaxrules.put": "rules are keyed by Code inside the path's account (401 when foreign)",
    "orders.create": "creates an order in the caller's account",
    "webhooks.create": "creates a webhook in the caller's account",
    "orders.documents.post": "the order is the path's {orderId} (matrix above); the body is the file",
    "orders.messages": "the order is the path's {orderId} (matrix above); the body is an attachment",
    "products.prices.delete": "the price list in the body: test_foreign_price_list_in_delete_body",
}


def test_every_body_is_classified() -> None:
    with_body = {name for method, path, name in OPERATIONS if "requestBody" in _operation(method, path)}
    unknown = sorted(with_body - set(BODY_CASES) - set(NO_FOREIGN_IDS_IN_BODY))
    assert unknown == [], f"operations with a body to add to BODY_CASES or NO_FOREIGN_IDS_IN_BODY: {unknown}"


@pytest.mark.parametrize("name", sorted(BODY_CASES))
def test_foreign_ids_in_bodies_are_not_found(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant], name: str
) -> None:
    case = BODY_CASES[name]
    owner = seed_tenant(ctx.db, ctx.settings, seed=7)
    intruder = make_tenant(marketplaces=(100, 1, 20, 30))
    before = snapshot(ctx.db)
    response = client.request(case.method, case.path, params=intruder.q(**case.query(owner)), json=case.body(owner))
    assert response.status_code < 500 and case.refused(response), (name, response.status_code, response.text)
    assert snapshot(ctx.db) == before, "a refused call changed the database"
    response = client.request(case.method, case.path, params=owner.q(**case.query(owner)), json=case.body(owner))
    assert not case.refused(response), ("the owner's call should find it", response.status_code, response.text)


def test_foreign_listing_ids_find_nothing(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    owner = seed_tenant(ctx.db, ctx.settings, seed=7)
    intruder = make_tenant(marketplaces=(100, 1, 20, 30))
    for params in ({"externalID": owner.external_ids[0]}, {"sku": owner.skus[0]}):
        found = client.get("/v2/productlistings/search", params=intruder.q(**params)).json()
        assert found["Total"] == 0 and found["Results"] == []
        assert client.get("/v2/productlistings/search", params=owner.q(**params)).json()["Total"] >= 1
    for params in ({"SKU": owner.skus[0]}, {}):
        assert client.get("/v2/products", params=intruder.q(**params)).json()["Total"] == 0
    orders = client.get("/v2/orders", params=intruder.q(idFrom=owner.order_ids[0], idTo=owner.order_ids[-1]))
    assert orders.json()["Total"] == 0


def test_foreign_price_list_in_delete_body(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    owner = seed_tenant(ctx.db, ctx.settings, seed=7)
    intruder = make_tenant("brand")
    with ctx.db.writing() as session:
        session.execute(update(Account).where(Account.id == intruder.account_id).values(allow_pricelist_delete=True))
        own_list = accounts.create_price_list(session, intruder.account_id, "Own", currency="ARS", is_default=True).id
    before = snapshot(ctx.db)
    body = {"PriceListId": owner.price_list_ids[0], "Products": [{"SKU": owner.skus[0]}]}
    response = client.request("DELETE", "/v2/products/prices", params=intruder.q(confirmationToken="x"), json=body)
    assert response.status_code == 404 and set(response.json()) == {"Status", "Message"}, response.text
    assert snapshot(ctx.db) == before
    # On its own list the same call gets past the lookup (to the token check).
    body["PriceListId"] = own_list
    response = client.request("DELETE", "/v2/products/prices", params=intruder.q(confirmationToken="x"), json=body)
    assert response.status_code == 403, response.text
