"""Text sent by clients, the same on SQLite and PostgreSQL (http/wire.py ``clean_text``/``clean_identifier``):
identifiers that differ only in Unicode normalisation are one identifier, and control characters (NUL,
which PostgreSQL cannot store, included) are a clear 400 or per-element error that stores nothing."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from alephee.http.context import AppContext
from alephee.http.routing import BAD_PATH_TEXT, BAD_QUERY_TEXT
from alephee.http.wire import CONTROL_IN_IDENTIFIER, CONTROL_IN_TEXT, clean_identifier, clean_text
from alephee.orders.schemas import BAD_FIELD
from alephee.products.importer import import_catalog
from alephee.products.models import Product
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import AddOrder, order_info
from tests.fixtures.products import quantity_of
from tests.fixtures.tenants import Tenant

NFC = unicodedata.normalize("NFC", "CAFÉ-1")
NFD = unicodedata.normalize("NFD", "CAFÉ-1")


def test_the_two_spellings_differ() -> None:
    assert NFC != NFD and len(NFD) == len(NFC) + 1


def test_rules() -> None:
    assert clean_text(NFD) == NFC == clean_identifier(NFD)
    assert clean_text("line one\nline two\tend\r\n") == "line one\nline two\tend\r\n"
    for text in ("a\x00b", "a\x1bb", "a\x7fb", "a\x85b"):
        with pytest.raises(ValueError, match=CONTROL_IN_TEXT):
            clean_text(text)
    for text in ("a\x00b", "a\tb", "a\nb", "a\u200bb", "a\u202eb", "\ufeffa"):
        with pytest.raises(ValueError, match=CONTROL_IN_IDENTIFIER):
            clean_identifier(text)


def _import(ctx: AppContext, tenant: Tenant, *skus: str) -> Any:
    rows = [
        (n, {"sku": sku, "brand": "Café Brand", "name": f"Producto {n}", "quantity": 3}) for n, sku in enumerate(skus)
    ]
    with ctx.db.writing() as session:
        return import_catalog(session, ctx.settings, tenant.account_id, rows)


def _products(ctx: AppContext, tenant: Tenant) -> list[tuple[int, str]]:
    with ctx.db.reading() as session:
        rows = session.execute(select(Product.id, Product.sku).where(Product.account_id == tenant.account_id))
        return [(row.id, row.sku) for row in rows]


def test_import_stores_one_product_for_both_spellings(ctx: AppContext, seller: Tenant) -> None:
    report = _import(ctx, seller, NFD)
    assert report.created == 1 and not report.errors
    assert _import(ctx, seller, NFC).updated == 1
    [(_, sku)] = _products(ctx, seller)
    assert sku == NFC


def test_import_refuses_control_characters(ctx: AppContext, seller: Tenant) -> None:
    report = _import(ctx, seller, "A\x00B", "A\tB", "OK-1")
    assert report.created == 1 and [e.row for e in report.errors] == [0, 1]
    assert [sku for _, sku in _products(ctx, seller)] == ["OK-1"]


def test_api_finds_the_product_whichever_spelling_is_sent(client: TestClient, ctx: AppContext, seller: Tenant) -> None:
    _import(ctx, seller, NFC)
    [(product_id, _)] = _products(ctx, seller)
    for spelling, quantity in ((NFD, 7), (NFC, 8)):
        response = client.post(
            "/v2/products", params=seller.q(), json=[{"SKU": spelling, "Stock": {"Quantity": quantity}}]
        )
        assert response.status_code == 200, response.text
        with ctx.db.reading() as session:
            assert quantity_of(session, product_id) == quantity
        listed = client.get("/v2/products", params=seller.q(SKU=spelling)).json()
        assert [p["Identification"]["Id"] for p in listed["Results"]] == [product_id]
    body = order_info("CAFE-ORDER", marketplace_id=100)
    body["Items"][0]["Product"] = {"Sku": NFD, "Brand": unicodedata.normalize("NFD", "Café Brand")}
    created = client.post("/v2/orders", params=seller.q(), json=body)
    assert created.status_code == 201, created.text
    assert created.json()["Items"][0]["Product"]["Id"] == product_id


def test_control_characters_in_a_batch_are_per_element_errors(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    _import(ctx, seller, "GOOD-1")
    body = [{"SKU": "GOOD-1", "Stock": {"Quantity": 9}}, {"SKU": "GOOD\x00-1", "Stock": {"Quantity": 1}}]
    response = client.post("/v2/products", params=seller.q(), json=body)
    assert response.status_code == 200, response.text
    [item] = response.json()["Items"]
    assert item["ItemNumber"] == 1 and CONTROL_IN_IDENTIFIER in item["Messages"][0]["Message"]

    order_id = add_order(seller)
    integrate = [{"OrderId": order_id, "ErpStatus": "done\x00"}, {"OrderId": order_id, "OwnOrderId": "ERP\t1"}]
    results = client.put("/v2/orders/integrate", params=seller.q(), json=integrate).json()["Results"]
    assert [r["Message"] for r in results] == [BAD_FIELD.format(name="ErpStatus"), BAD_FIELD.format(name="OwnOrderId")]
    [order] = client.get("/v2/orders", params=seller.q(idFrom=order_id, idTo=order_id)).json()["Results"]
    assert not order["ErpStatus"] and not order["IntegratedOrderId"] and not order["Integrated"]
    # Line breaks stay allowed in free text.
    note = client.put("/v2/orders/integrate", params=seller.q(), json=[{"OrderId": order_id, "ErpStatus": "a\nb"}])
    assert note.json()["Results"][0]["Status"] == "200"


@pytest.mark.parametrize("bad", ["A\x00B", "A\x1bB"])
def test_control_characters_in_single_bodies_are_400_and_store_nothing(
    client: TestClient, ctx: AppContext, seller: Tenant, bad: str
) -> None:
    body = order_info("NUL-ORDER", marketplace_id=100)
    body["Buyer"]["Name"] = bad
    response = client.post("/v2/orders", params=seller.q(), json=body)
    assert_error(response, 400)
    assert CONTROL_IN_TEXT in response.json()["Message"]
    assert client.get("/v2/orders", params=seller.q()).json()["Total"] == 0
    rule = client.put(
        f"/v2/accounts/{seller.account_id}/fiscaltaxrules",
        params=seller.key(),
        json=[{"Code": bad, "Name": "IVA", "Percentage": 21}],
    )
    assert rule.status_code == 412 and rule.json()["Quantities"]["Error"] == 1


@pytest.mark.parametrize(
    ("path", "name"), [("/v2/products", "SKU"), ("/v2/productlistings/search", "sku"), ("/v2/orders", "erpStatus")]
)
def test_control_characters_in_query_values_are_400(client: TestClient, seller: Tenant, path: str, name: str) -> None:
    response = client.get(path, params=seller.q(**{name: "A\x00B"}))
    assert_error(response, 400)
    assert response.json()["Message"] == BAD_QUERY_TEXT.format(name=name, problem=CONTROL_IN_TEXT)


def test_control_characters_in_path_values_are_400(client: TestClient, seller: Tenant) -> None:
    response = client.get("/v2/orders/pack/A%00B", params=seller.q())
    assert_error(response, 400)
    assert response.json()["Message"] == BAD_PATH_TEXT.format(name="packId", problem=CONTROL_IN_TEXT)


def test_authentication_is_checked_before_the_text(client: TestClient, seller: Tenant) -> None:
    assert_error(client.get("/v2/products", params={"API_KEY": "nope", "accountId": 1, "SKU": "A\x00"}), 401)
    assert_error(client.get("/v2/orders/pack/A%00B", params={"API_KEY": "nope", "accountId": 1}), 401)


def test_normalised_query_values_reach_the_filters(client: TestClient, ctx: AppContext, seller: Tenant) -> None:
    _import(ctx, seller, NFC)
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Product)) == 1
    assert client.get("/v2/products/fiscal", params=seller.q(SKU=NFD)).json()["Total"] == 1
