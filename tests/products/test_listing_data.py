"""A product's listing data (ProductAdditionalData: pictures, description, category, condition): written by
POST /v2/products and the catalog import, read by GET /v2/products; bad values are refused per element."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from alephee.cli import app
from alephee.http.context import AppContext
from alephee.products import demo, listing_data
from alephee.products.import_rows import parse_row
from alephee.products.models import Product
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant

PICTURES = ["https://img.shop.example/hl-1.jpg", "http://img.shop.example/hl-2.jpg?size=large"]


@pytest.fixture
def products(ctx: AppContext, tenant: Tenant) -> dict[str, int]:
    with ctx.db.writing() as session:
        list_id = add_price_list(session, tenant.account_id, "Lista general")
        return {
            sku: add_product(session, tenant.account_id, sku, quantity=5, prices={list_id: "1000"})
            for sku in ("HL-100", "HL-200", "HL-300")
        }


def _post(client: TestClient, tenant: Tenant, body: list[dict[str, Any]]) -> Any:
    return client.post("/v2/products", params=tenant.q(), json=body)


def _additional(client: TestClient, tenant: Tenant, sku: str) -> Any:
    response = client.get("/v2/products", params=tenant.q(SKU=sku))
    assert response.status_code == 200, response.text
    [product] = response.json()["Results"]
    return product["ProductAdditionalData"]


def _stored(ctx: AppContext, product_id: int) -> tuple[Any, ...]:
    with ctx.db.reading() as session:
        product = session.get(Product, product_id)
        assert product is not None
        return product.pictures, product.description, product.category, product.condition, product.quantity


def test_set_then_read_back(client: TestClient, tenant: Tenant, products: dict[str, int]) -> None:
    assert _additional(client, tenant, "HL-100") is None
    response = _post(
        client,
        tenant,
        [
            {
                "SKU": "HL-100",
                "ProductAdditionalData": {
                    "Pictures": [*PICTURES, PICTURES[0]],
                    "Description": "  Hidrolavadora 1600 W.\nIncluye lanza y manguera de 5 m.  ",
                    "Category": "Herramientas  >   Hidrolavadoras ",
                    "Condition": "NEW",
                },
            }
        ],
    )
    assert response.status_code == 200, response.text
    assert response.json()["Quantities"] == {"Ok": 1, "Error": 0, "Warning": 0, "Info": 0, "Total": 1}
    assert _additional(client, tenant, "HL-100") == {
        "Pictures": PICTURES,
        "Description": "Hidrolavadora 1600 W.\nIncluye lanza y manguera de 5 m.",
        "Category": "Herramientas > Hidrolavadoras",
        "Condition": "new",
    }
    # Other products are untouched.
    assert _additional(client, tenant, "HL-200") is None


def test_left_out_is_unchanged_and_null_clears(
    ctx: AppContext, client: TestClient, tenant: Tenant, products: dict[str, int]
) -> None:
    full = {"Pictures": PICTURES, "Description": "Texto", "Category": "Herramientas", "Condition": "used"}
    assert _post(client, tenant, [{"SKU": "HL-100", "ProductAdditionalData": full}]).status_code == 200
    # Property names are case-insensitive; only Condition is sent, so the rest stays.
    assert (
        _post(client, tenant, [{"sku": "HL-100", "productadditionaldata": {"condition": "refurbished"}}]).json()[
            "Quantities"
        ]["Ok"]
        == 1
    )
    assert _additional(client, tenant, "HL-100") == {**full, "Condition": "refurbished"}
    # Explicit nulls (and an empty text or list) clear one field each.
    _post(client, tenant, [{"SKU": "HL-100", "ProductAdditionalData": {"Description": None, "Pictures": []}}])
    assert _additional(client, tenant, "HL-100") == {
        "Pictures": [],
        "Description": None,
        "Category": "Herramientas",
        "Condition": "refurbished",
    }
    # ProductAdditionalData: null clears all four; the answer is null again.
    _post(client, tenant, [{"SKU": "HL-100", "ProductAdditionalData": None, "Stock": {"Quantity": 7}}])
    assert _additional(client, tenant, "HL-100") is None
    assert _stored(ctx, products["HL-100"]) == (None, None, None, None, 7)
    # An element with nothing at all is still refused.
    nothing = _post(client, tenant, [{"SKU": "HL-100"}]).json()["Items"][0]["Messages"][0]
    assert nothing["Code"] == 3 and "ProductAdditionalData" in nothing["Message"]


def test_listing_data_alone_moves_date_updated(
    ctx: AppContext, client: TestClient, tenant: Tenant, products: dict[str, int]
) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.account_id == tenant.account_id).values(date_updated=old))
    response = _post(client, tenant, [{"SKU": "HL-300", "ProductAdditionalData": {"Category": "Jardín"}}])
    assert response.json()["Quantities"]["Ok"] == 1
    changed = client.get("/v2/products", params=tenant.q(dateUpdatedFrom="2021-01-01 00:00")).json()["Results"]
    assert [(p["Identification"]["SKU"], p["ProductAdditionalData"]) for p in changed] == [
        ("HL-300", {"Pictures": [], "Description": None, "Category": "Jardín", "Condition": None})
    ]


@pytest.mark.parametrize(
    ("data", "code", "fragment"),
    [
        ({"Pictures": [f"https://img.shop.example/{n}.jpg" for n in range(13)]}, 50, "at most 12 URLs"),
        ({"Pictures": ["ftp://img.shop.example/a.jpg"]}, 50, "not an absolute http or https URL"),
        ({"Pictures": ["/relative/a.jpg"]}, 50, "not an absolute http or https URL"),
        ({"Pictures": ["https://img.shop.example/a b.jpg"]}, 50, "not an absolute http or https URL"),
        ({"Pictures": ["https://img.shop.example/" + "a" * 480 + ".jpg"]}, 50, "longer than 500 characters"),
        ({"Description": "x" * 50_001}, 51, "longer than 50000 characters"),
        ({"Category": "c" * 301}, 52, "longer than 300 characters"),
        ({"Condition": "broken"}, 53, "must be one of new, used, refurbished"),
    ],
    ids=["13-pictures", "ftp", "relative", "space", "long-url", "long-description", "long-category", "condition"],
)
def test_invalid_values_are_element_errors(
    ctx: AppContext,
    client: TestClient,
    tenant: Tenant,
    products: dict[str, int],
    data: dict[str, Any],
    code: int,
    fragment: str,
) -> None:
    response = _post(
        client,
        tenant,
        [
            {"SKU": "HL-100", "Stock": {"Quantity": 9}, "ProductAdditionalData": data},
            {"SKU": "HL-200", "ProductAdditionalData": {"Condition": "new"}},
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Quantities"] == {"Ok": 1, "Error": 1, "Warning": 0, "Info": 0, "Total": 2}
    [item] = body["Items"]
    assert (item["ItemNumber"], item["KeyValue"], item["ValidationLevel"]["Name"]) == (0, "HL-100", "Error")
    [message] = item["Messages"]
    assert message["Code"] == code and fragment in message["Message"], message
    assert message["Message"].startswith("ProductAdditionalData.")
    # The refused element changed nothing (not even its valid Stock), the other one was applied.
    assert _stored(ctx, products["HL-100"]) == (None, None, None, None, 5)
    assert _additional(client, tenant, "HL-200")["Condition"] == "new"


def test_only_invalid_elements_answer_412(client: TestClient, tenant: Tenant, products: dict[str, int]) -> None:
    response = _post(
        client,
        tenant,
        [
            {"SKU": "HL-100", "ProductAdditionalData": {"Pictures": "https://img.shop.example/a.jpg"}},
            {"SKU": "HL-200", "ProductAdditionalData": {"Condition": "nuevo"}},
        ],
    )
    assert response.status_code == 412, response.text
    codes = [(i["ItemNumber"], i["Messages"][0]["Code"]) for i in response.json()["Items"]]
    # A Pictures value that is not a list fails the element's shape (code 1); a bad condition has its own code.
    assert codes == [(0, 1), (1, 53)]


def _import(ctx: AppContext, tmp_path: Path, tenant: Tenant, name: str, content: str) -> Any:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["catalog", "import", str(path), "--account", str(tenant.account_id)],
        env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_columns(ctx: AppContext, client: TestClient, tenant: Tenant, tmp_path: Path) -> None:
    csv_text = (
        "sku,brand,name,Pictures,Description,Category,Condition\n"
        'HL-1,Kärcher,Hidrolavadora K2,"https://img.shop.example/k2-1.jpg|https://img.shop.example/k2-2.jpg '
        'https://img.shop.example/k2-3.jpg",Hidrolavadora compacta,Herramientas > Hidrolavadoras,New\n'
        "HL-2,Kärcher,Hidrolavadora K3,,,,\n"
        "HL-3,Kärcher,Hidrolavadora K4,,,,usado\n"
        "HL-4,Kärcher,Hidrolavadora K5,ftp://img.shop.example/k5.jpg,,,\n"
    )
    report = _import(ctx, tmp_path, tenant, "catalog.csv", csv_text)
    assert (report["Created"], [(e["Row"], e["SKU"]) for e in report["Errors"]]) == (2, [(4, "HL-3"), (5, "HL-4")])
    assert report["Errors"][0]["Message"] == "condition must be one of new, used, refurbished"
    assert "pictures: 'ftp://img.shop.example/k5.jpg'" in report["Errors"][1]["Message"]
    assert _additional(client, tenant, "HL-1") == {
        "Pictures": [f"https://img.shop.example/k2-{n}.jpg" for n in (1, 2, 3)],
        "Description": "Hidrolavadora compacta",
        "Category": "Herramientas > Hidrolavadoras",
        "Condition": "new",
    }
    assert _additional(client, tenant, "HL-2") is None
    # JSON: a list of pictures; an empty CSV cell left values alone, a JSON null clears.
    rows = [
        {"sku": "HL-1", "brand": "Kärcher", "pictures": ["https://img.shop.example/k2-9.jpg"], "description": None},
        {"sku": "HL-2", "brand": "Kärcher", "condition": "used"},
    ]
    report = _import(ctx, tmp_path, tenant, "catalog.json", json.dumps(rows))
    assert (report["Updated"], report["Errors"]) == (2, [])
    assert _additional(client, tenant, "HL-1") == {
        "Pictures": ["https://img.shop.example/k2-9.jpg"],
        "Description": None,
        "Category": "Herramientas > Hidrolavadoras",
        "Condition": "new",
    }
    assert _additional(client, tenant, "HL-2") == {
        "Pictures": [],
        "Description": None,
        "Category": None,
        "Condition": "used",
    }
    with ctx.db.reading() as session:
        stored = session.scalars(select(Product.pictures).where(Product.account_id == tenant.account_id)).all()
    assert sorted(map(str, stored)) == sorted(map(str, [["https://img.shop.example/k2-9.jpg"], None]))


def test_demo_catalog_listing_data() -> None:
    rows = [parse_row(number, raw) for number, raw in demo.demo_rows()]
    categories = {row.values["category"] for row in rows}
    assert len(categories) <= 8 and all(" > " in category for category in categories)
    for row in rows:
        pictures = row.values["pictures"]
        assert 1 <= len(pictures) <= 3, row.sku
        assert all(urlsplit(url).hostname == "img.demo.example" for url in pictures), row.sku
        assert row.values["condition"] == "new" and row.values["description"], row.sku


def test_rules_without_http() -> None:
    assert listing_data.split_pictures(" a|b  c\n|d ") == ["a", "b", "c", "d"]
    assert listing_data.clean_pictures(["https://x.example/a.jpg", " https://x.example/a.jpg "]) == [
        "https://x.example/a.jpg"
    ]
    assert listing_data.clean_pictures([]) is None
    assert listing_data.clean_condition(" Used ") == "used"
    assert listing_data.clean_category(" \t ") is None
    with pytest.raises(listing_data.ListingDataProblem) as info:
        listing_data.clean_pictures(["https://x.example:99999/a.jpg"])
    assert info.value.code == listing_data.CODE_PICTURES
    assert info.value.message_for("pictures").startswith("pictures: 'https://x.example:99999/a.jpg'")
