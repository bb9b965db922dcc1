"""Contract tests of CF-40 (products section) over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee.accounts.schemas import AccountType
from alephee.http.context import AppContext
from alephee.products.models import Product, ProductPrice
from tests.fixtures.errors import assert_error
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant

ENVELOPE = {"Total", "Paging", "SortBy", "AvailableSorts", "Results"}
NOT_FOUND_ES = "No tiene asignado ningún producto con el marca-código ingresado"


@pytest.fixture
def distributor(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant(AccountType.DISTRIBUTOR)


def _post(client: TestClient, tenant: Tenant, body: Any, **params: Any) -> Any:
    return client.post("/v2/products", params=tenant.q(**params), json=body)


def test_documented_example_3_12(client: TestClient, ctx: AppContext, distributor: Tenant) -> None:
    with ctx.db.writing() as session:
        plist = add_price_list(session, distributor.account_id, "Lista general")
        pid = add_product(session, distributor.account_id, "CA1463-D", brand="BUJ", quantity=3)
    body = [
        {"Brand": "BUJ", "SKU": "CA1463-D", "Stock": {"Quantity": 15}, "Price": {"PriceWithTaxes": 6000.60}},
        {"Brand": "BUJ", "SKU": "CA1463-DDDD", "Stock": {"Quantity": 30}, "Price": {"PriceWithTaxes": 900}},
    ]
    response = _post(client, distributor, body, priceListId=plist)
    assert response.status_code == 200, response.text
    result = response.json()
    # The docs' example shows ItemNumber 0 for the second element; we use the 0-based position (CF-40.0.4).
    assert result == {
        "Quantities": {"Ok": 1, "Error": 1, "Warning": 0, "Info": 0, "Total": 2},
        "Items": [
            {
                "ItemNumber": 1,
                "ValidationLevel": {"Id": 0, "Name": "Error"},
                "KeyField": "SKU",
                "KeyValue": "CA1463-DDDD",
                "keyValue": "CA1463-DDDD",
                "Messages": [
                    {
                        "Level": {"Id": 0, "Name": "Error"},
                        "Code": 6,
                        "Message": NOT_FOUND_ES,
                        "ValidatedValue": "CA1463-DDDD",
                    }
                ],
            }
        ],
    }
    with ctx.db.reading() as session:
        assert session.get(Product, pid).quantity == 15  # type: ignore[union-attr]
        price = session.get(ProductPrice, (pid, plist))
        assert price is not None
        assert price.price_with_taxes == Decimal("6000.6000")
        assert price.price == Decimal("4959.1736") and price.price_auto is True


def test_lower_case_client_body(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "1025700")
    response = client.post(
        "/v2/products",
        params={"api_key": tenant.api_key, "accountid": tenant.account_id},
        json=[{"sku": "1025700", "stock": {"quantity": 2}}],
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"Quantities": {"Ok": 1, "Error": 0, "Warning": 0, "Info": 0, "Total": 1}, "Items": []}
    with ctx.db.reading() as session:
        assert session.get(Product, pid).quantity == 2  # type: ignore[union-attr]


def _quantity(ctx: AppContext, product_id: int) -> int:
    with ctx.db.reading() as session:
        product = session.get(Product, product_id)
        assert product is not None
        return product.quantity


def _price(ctx: AppContext, product_id: int, price_list_id: int) -> ProductPrice | None:
    with ctx.db.reading() as session:
        return session.get(ProductPrice, (product_id, price_list_id))


def _messages(result: dict[str, Any]) -> dict[int, list[tuple[int, int]]]:
    """ItemNumber → [(level id, code), ...]."""
    return {i["ItemNumber"]: [(m["Level"]["Id"], m["Code"]) for m in i["Messages"]] for i in result["Items"]}


def test_nothing_processed_is_412_with_the_action_result(client: TestClient, distributor: Tenant) -> None:
    response = _post(client, distributor, [{"SKU": "NOPE", "Stock": {"Quantity": 1}}])
    assert response.status_code == 412
    body = response.json()
    assert body["Quantities"] == {"Ok": 0, "Error": 1, "Warning": 0, "Info": 0, "Total": 1}
    assert body["Items"][0]["Messages"][0]["Code"] == 6
    empty = _post(client, distributor, [])
    assert empty.status_code == 200 and empty.json()["Quantities"]["Total"] == 0


def test_over_the_cap_is_413_and_nothing_is_applied(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "CAP", quantity=1)
    body = [{"SKU": "CAP", "Stock": {"Movement": 1}}] * 501
    assert_error(_post(client, tenant, body), 413)
    assert _quantity(ctx, pid) == 1
    assert _post(client, tenant, body[:500]).status_code == 200
    assert _quantity(ctx, pid) == 501


def test_malformed_bodies(client: TestClient, tenant: Tenant) -> None:
    url = "/v2/products"
    assert_error(client.post(url, params=tenant.q(), content=b"[{", headers={"content-type": "application/json"}), 400)
    assert_error(client.post(url, params=tenant.q(), content=b"x", headers={"content-type": "text/plain"}), 415)
    assert_error(client.post(url, params=tenant.q(), json={"SKU": "A"}), 400)
    assert_error(_post(client, tenant, "not a list"), 400)
    assert_error(_post(client, tenant, [{"SKU": "A", "Stock": {"Quantity": 1}}], priceListId="abc"), 400)
    response = _post(client, tenant, [1, None, "x", {"SKU": ""}, {"SKU": "A"}, {"Stock": {"Quantity": "1.5"}}])
    assert response.status_code == 412
    assert [i["Messages"][0]["Code"] for i in response.json()["Items"]] == [1, 1, 1, 2, 3, 1]


def test_an_invalid_element_changes_nothing(client: TestClient, ctx: AppContext, distributor: Tenant) -> None:
    with ctx.db.writing() as session:
        plist = add_price_list(session, distributor.account_id, "General")
        a = add_product(session, distributor.account_id, "A", quantity=5)
        b = add_product(session, distributor.account_id, "B", quantity=5)
    body = [
        # Valid stock, invalid price: the whole element is refused.
        {"SKU": "A", "Stock": {"Quantity": 50}, "Price": {"Price": 10, "PriceWithTaxes": 12.1}},
        {"SKU": "B", "Stock": {"Quantity": 60}, "Price": {"PriceWithTaxes": 0}},
        {"SKU": "B", "Stock": {"Movement": 2}, "Price": {"Cost": 3}},
    ]
    response = _post(client, distributor, body)
    assert response.status_code == 200
    assert _messages(response.json()) == {0: [(0, 12)], 1: [(0, 10)]}
    assert _quantity(ctx, a) == 5 and _quantity(ctx, b) == 7
    assert _price(ctx, a, plist) is None
    price = _price(ctx, b, plist)
    assert price is not None and price.cost == Decimal(3) and price.price_with_taxes is None


def test_sku_then_own_code_and_brand_by_id_or_name(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        buj = add_product(session, tenant.account_id, "X1", brand="BUJ")
        bosch = add_product(session, tenant.account_id, "X1", brand="Bosch")
        own = add_product(session, tenant.account_id, "Y1", own_code="ERP-1")
        shadow = add_product(session, tenant.account_id, "ERP-2", own_code="ZZ")
        other = add_product(session, tenant.account_id, "Q", own_code="ERP-2")
        bosch_brand_id = session.get(Product, bosch).brand_id  # type: ignore[union-attr]
    body = [
        {"SKU": "X1", "Stock": {"Quantity": 1}},
        {"SKU": "X1", "Brand": "bosch", "Stock": {"Quantity": 2}},
        {"SKU": "X1", "Brand": bosch_brand_id, "Stock": {"Movement": 1}},
        {"SKU": "X1", "Brand": "Philips", "Stock": {"Quantity": 9}},
        {"SKU": "ERP-1", "Stock": {"Quantity": 4}},
        # A SKU match wins over an OwnCode match.
        {"SKU": "ERP-2", "Stock": {"Quantity": 5}},
    ]
    result = _post(client, tenant, body).json()
    assert _messages(result) == {0: [(0, 7)], 3: [(0, 6)]}
    assert result["Items"][0]["Messages"][0]["ValidatedValue"] == "X1"
    assert [_quantity(ctx, p) for p in (buj, bosch, own, shadow, other)] == [0, 3, 4, 5, 0]


def test_movement_below_zero_is_clamped_with_a_warning(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "M", quantity=2)
    response = _post(client, tenant, [{"SKU": "M", "Stock": {"Movement": -5}}, {"SKU": "M", "Stock": {"Movement": 3}}])
    assert response.status_code == 200
    body = response.json()
    assert body["Quantities"] == {"Ok": 1, "Error": 0, "Warning": 1, "Info": 0, "Total": 2}
    item = body["Items"][0]
    assert item["ValidationLevel"] == {"Id": 1, "Name": "Warning"} and item["Messages"][0]["Code"] == 35
    assert _quantity(ctx, pid) == 3


def test_price_list_resolution(
    client: TestClient, ctx: AppContext, distributor: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    other = make_tenant(AccountType.DISTRIBUTOR)
    bare = make_tenant(AccountType.DISTRIBUTOR)
    with ctx.db.writing() as session:
        add_product(session, bare.account_id, "P")
        general = add_price_list(session, distributor.account_id, "General")
        wholesale = add_price_list(session, distributor.account_id, "Mayorista")
        foreign = add_price_list(session, other.account_id, "Ajena")
        pid = add_product(session, distributor.account_id, "P", tax_rate="10.5")
        add_product(session, other.account_id, "P")
    assert _post(client, distributor, [{"SKU": "P", "Price": {"Price": 100}}]).status_code == 200
    price = _price(ctx, pid, general)
    assert price is not None and price.price == Decimal(100) and price.price_with_taxes == Decimal("110.5")
    assert price.price_auto is False and price.suggested_retail_price == Decimal("110.5")
    assert (
        _post(client, distributor, [{"SKU": "P", "Price": {"PriceWithTaxes": 221}}], priceListId=wholesale).status_code
        == 200
    )
    price = _price(ctx, pid, wholesale)
    assert price is not None and price.price == Decimal(200) and price.price_auto is True
    assert_error(_post(client, distributor, [{"SKU": "P", "Price": {"Cost": 1}}], priceListId=foreign), 404)
    assert_error(_post(client, distributor, [{"SKU": "P", "Price": {"Cost": 1}}], priceListId=999999), 404)
    # An account without price lists: prices are refused per element, stock still works.
    response = _post(client, bare, [{"SKU": "P", "Price": {"Cost": 1}}, {"SKU": "P", "Stock": {"Quantity": 3}}])
    assert response.status_code == 200 and _messages(response.json()) == {0: [(0, 8)]}


def test_suggested_retail_price_follows_until_it_is_sent(
    client: TestClient, ctx: AppContext, distributor: Tenant
) -> None:
    with ctx.db.writing() as session:
        plist = add_price_list(session, distributor.account_id, "General")
        pid = add_product(session, distributor.account_id, "S")
    _post(client, distributor, [{"SKU": "S", "Price": {"PriceWithTaxes": 121}}])
    assert _price(ctx, pid, plist).suggested_retail_price == Decimal(121)  # type: ignore[union-attr]
    _post(client, distributor, [{"SKU": "S", "Price": {"PriceWithTaxes": 242, "SuggestedRetailPrice": 300}}])
    _post(client, distributor, [{"SKU": "S", "Price": {"PriceWithTaxes": 363}}])
    price = _price(ctx, pid, plist)
    assert price is not None and price.suggested_retail_price == Decimal(300) and price.srp_auto is False


def test_account_type_rules_over_http(
    client: TestClient, ctx: AppContext, distributor: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    seller = make_tenant(AccountType.SELLER)
    with ctx.db.writing() as session:
        add_price_list(session, distributor.account_id, "General")
        add_price_list(session, seller.account_id, "General")
        source = add_product(session, distributor.account_id, "SH")
        add_product(session, seller.account_id, "SH", source_product_id=source)
        add_product(session, seller.account_id, "OWN")
    refused = _post(client, distributor, [{"SKU": "SH", "Stock": {"MinPublicationQuantity": 1}}])
    assert refused.status_code == 412 and _messages(refused.json()) == {0: [(0, 33)]}
    body = [
        {"SKU": "SH", "Price": {"PriceWithTaxes": 10}},
        {"SKU": "SH", "Price": {"Cost": 5, "SalesMargin": 30}, "Stock": {"MinPublicationQuantity": 1}},
        {"SKU": "OWN", "Price": {"PriceWithTaxes": 10}},
    ]
    response = _post(client, seller, body)
    assert response.status_code == 200 and _messages(response.json()) == {0: [(0, 17)]}


def test_features_visibility_and_alerts(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "F", quantity=4)
    body = [{"SKU": "F", "Features": {"Visibility": 2}, "Stock": {"Alert": {"RedQty": 1, "YellowQty": 3}}}]
    assert _post(client, tenant, body).status_code == 200
    with ctx.db.reading() as session:
        product = session.get(Product, pid)
        assert product is not None
        assert (product.visibility, product.alert_red, product.alert_yellow, product.quantity) == (2, 1, 3, 4)


def test_relationships_are_ignored_with_an_info(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        add_product(session, tenant.account_id, "R")
    body = [{"SKU": "R", "Stock": {"Quantity": 1, "Relationships": {"Related": {"Id": 1}, "Quantity": 2}}}]
    result = _post(client, tenant, body).json()
    assert result["Quantities"]["Info"] == 1 and _messages(result) == {0: [(2, 40)]}


# --- GET /v2/products --------------------------------------------------------------------------------------


@pytest.fixture
def catalog(ctx: AppContext, tenant: Tenant) -> dict[str, int]:
    """A seller catalog: normal products, a kit, a variation master with two children, two price lists."""
    with ctx.db.writing() as session:
        general = add_price_list(session, tenant.account_id, "Lista general")
        wholesale = add_price_list(session, tenant.account_id, "Lista mayorista", discount_rate=Decimal(10))
        plug = add_product(
            session,
            tenant.account_id,
            "CA1463-D",
            brand="BUJ",
            name="Bujia CA1463-D",
            own_code="ERP-0001",
            quantity=15,
            prices={general: "6000.60", wholesale: "5000"},
        )
        lamp = add_product(session, tenant.account_id, "H4", brand="Philips", quantity=3, catalog_status=2)
        kit = add_product(
            session,
            tenant.account_id,
            "KIT-4",
            brand="BUJ",
            product_type=2,
            prices={general: "20000"},
            components=[(plug, 4, True), (lamp, 1, False)],
        )
        master = add_product(session, tenant.account_id, "REM", brand="Topper", product_type=6)
        red = add_product(
            session,
            tenant.account_id,
            "REM-R",
            brand="Topper",
            product_type=5,
            parent_id=master,
            quantity=2,
            attributes=[{"Name": "Color", "Value": "Rojo"}],
        )
        blue = add_product(
            session, tenant.account_id, "REM-B", brand="Topper", product_type=5, parent_id=master, quantity=5
        )
    return {
        "general": general,
        "wholesale": wholesale,
        "plug": plug,
        "lamp": lamp,
        "kit": kit,
        "master": master,
        "red": red,
        "blue": blue,
    }


def _get(client: TestClient, tenant: Tenant, **params: Any) -> Any:
    response = client.get("/v2/products", params=tenant.q(**params))
    assert response.status_code in (200, 206), response.text
    return response.json()


def _skus(body: dict[str, Any]) -> list[str]:
    return [r["Identification"]["SKU"] for r in body["Results"]]


def test_get_products_shape(client: TestClient, tenant: Tenant, catalog: dict[str, int]) -> None:
    body = _get(client, tenant, SKU="CA1463-D")
    assert set(body) == ENVELOPE
    assert body["Paging"] == {"Limit": 100, "Offset": 0, "Total": 1} and body["Total"] == 1
    assert body["SortBy"] == {"Id": "ID", "Name": "ID"} and body["AvailableSorts"] == [{"Id": "ID", "Name": "ID"}]
    product = body["Results"][0]
    brand_id = product["Identification"]["Brand"]["Id"]
    assert product == {
        "Identification": {
            "Id": catalog["plug"],
            "SKU": "CA1463-D",
            "OwnCode": "ERP-0001",
            "Brand": {"Id": brand_id, "Name": "BUJ"},
            "Name": "Bujia CA1463-D",
            "CatalogStatus": {"Id": 1, "Name": "Approved", "Key": 1, "Value": "Approved"},
            "ProductType": {"Id": 1, "Name": "Normal"},
        },
        "Stock": {
            "Quantity": 15,
            "B2BQuantity": 0,
            "PublishQuantity": 15,
            "MinPublicationQuantity": 0,
            "MaxPublicationQuantity": 0,
            "MeasurableQuantity": {"Quantity": 0.0, "Unit": None},
            "Alert": {"RedQty": 0, "YellowQty": 0},
        },
        "Price": [
            {
                "Price": 4959.1736,
                "PriceWithTaxes": 6000.6,
                "SuggestedRetailPrice": 6000.6,
                "SuggestedRetailPriceAutoCalculated": True,
                "PriceAutoCalculated": True,
                "FinalPriceWithShippingCost": 6000.6,
                "B2BDiscountRate": 0.0,
                "SalesMargin": 0.0,
                "PriceList": {"Id": catalog["general"], "Name": "Lista general", "DiscountRate": 0.0},
                "Cost": 0.0,
            },
            {
                "Price": 4132.2314,
                "PriceWithTaxes": 5000.0,
                "SuggestedRetailPrice": 5000.0,
                "SuggestedRetailPriceAutoCalculated": True,
                "PriceAutoCalculated": True,
                "FinalPriceWithShippingCost": 5000.0,
                "B2BDiscountRate": 0.0,
                "SalesMargin": 0.0,
                "PriceList": {"Id": catalog["wholesale"], "Name": "Lista mayorista", "DiscountRate": 10.0},
                "Cost": 0.0,
            },
        ],
        "Kits": [
            {
                "Id": catalog["kit"],
                "SKU": "KIT-4",
                "OwnCode": None,
                "Brand": {"Id": brand_id, "Name": "BUJ"},
                "Name": "Product KIT-4",
                "CatalogStatus": {"Id": 1, "Name": "Approved", "Key": 1, "Value": "Approved"},
                "ProductType": {"Id": 2, "Name": "Kit"},
            }
        ],
        "KitComponents": [],
        "Publications": [],
        "Features": {"Visibility": None},
        "Attributes": [],
        "Variations": [],
        "Relationships": None,
        "ProductAdditionalData": None,
    }


def test_get_products_price_list_narrows_prices_only(
    client: TestClient, tenant: Tenant, catalog: dict[str, int]
) -> None:
    everything = _get(client, tenant)
    narrowed = _get(client, tenant, priceListId=catalog["wholesale"])
    assert _skus(everything) == _skus(narrowed) and len(_skus(narrowed)) == 6
    plug = next(r for r in narrowed["Results"] if r["Identification"]["SKU"] == "CA1463-D")
    assert [p["PriceList"]["Id"] for p in plug["Price"]] == [catalog["wholesale"]]
    assert_error(client.get("/v2/products", params=tenant.q(priceListId=999999)), 404)
    assert_error(client.get("/v2/products", params=tenant.q(priceListId="x")), 400)


def test_get_products_kits_and_variations(client: TestClient, tenant: Tenant, catalog: dict[str, int]) -> None:
    kit = _get(client, tenant, SKU="KIT-4")["Results"][0]
    assert kit["Identification"]["ProductType"] == {"Id": 2, "Name": "Kit"}
    # 15 plugs / 4 = 3 kits, 3 lamps / 1 = 3 kits.
    assert kit["Stock"]["Quantity"] == 3 and kit["Stock"]["PublishQuantity"] == 3
    components = [(c["Identification"]["SKU"], c["Quantity"], c["Principal"]) for c in kit["KitComponents"]]
    assert components == [("CA1463-D", 4, True), ("H4", 1, False)]
    assert set(kit["KitComponents"][0]) == {"Identification", "Price", "Stock", "Quantity", "Principal"}
    assert len(kit["KitComponents"][0]["Price"]) == 2 and kit["KitComponents"][1]["Price"] == []
    master = _get(client, tenant, SKU="REM")["Results"][0]
    assert master["Stock"]["Quantity"] == 7
    assert [(v["Identification"]["SKU"], v["Stock"]["Quantity"]) for v in master["Variations"]] == [
        ("REM-R", 2),
        ("REM-B", 5),
    ]
    assert master["Variations"][0]["Attributes"] == [
        {"Name": "Color", "Value": "Rojo", "ValueName": "Rojo", "MeasurementUnit": None}
    ]


def test_get_products_filters(client: TestClient, ctx: AppContext, tenant: Tenant, catalog: dict[str, int]) -> None:
    assert _skus(_get(client, tenant, brand="topper")) == ["REM", "REM-R", "REM-B"]
    assert _skus(_get(client, tenant, ownCode="ERP-0001")) == ["CA1463-D"]
    assert _skus(_get(client, tenant, types="5, 6")) == ["REM", "REM-R", "REM-B"]
    assert _skus(_get(client, tenant, types="2")) == ["KIT-4"]
    assert _skus(_get(client, tenant, catalogStatus="2,4")) == ["H4"]
    assert _skus(_get(client, tenant, sku="h4")) == []  # exact match
    assert _skus(_get(client, tenant, brand="BUJ", types="1")) == ["CA1463-D"]
    for bad in ({"types": "3"}, {"types": "a"}, {"catalogStatus": "9"}, {"dateUpdatedFrom": "ayer"}):
        assert_error(client.get("/v2/products", params=tenant.q(**bad)), 400)


def test_get_products_date_updated_from(
    client: TestClient, ctx: AppContext, tenant: Tenant, catalog: dict[str, int]
) -> None:
    from datetime import UTC, datetime

    from alephee import clock

    with clock.frozen(datetime(2030, 5, 1, 15, 0, tzinfo=UTC)):
        assert _post(client, tenant, [{"SKU": "H4", "Stock": {"Quantity": 9}}]).status_code == 200
    # Without an offset the value is UTC, like the DateUpdated the API writes (not 15:00 in the account's
    # zone, GMT-3, which would hide the product a client read it from).
    assert _skus(_get(client, tenant, dateUpdatedFrom="2030-05-01 15:00")) == ["H4"]
    assert _skus(_get(client, tenant, dateUpdatedFrom="2030-05-01 15:01")) == []
    assert _skus(_get(client, tenant, dateUpdatedFrom="2030-05-01T12:00:00-03:00")) == ["H4"]
    assert _skus(_get(client, tenant, dateUpdateFrom="2030-05-01")) == ["H4"]
    assert _skus(_get(client, tenant, dateUpdatedFrom="2030-05-01T15:00:00Z")) == ["H4"]


def test_get_products_paging_and_cap(client: TestClient, tenant: Tenant, catalog: dict[str, int]) -> None:
    page = _get(client, tenant, offset=2, limit=2)
    assert _skus(page) == ["KIT-4", "REM"] and page["Total"] == 6
    capped = client.get("/v2/products", params=tenant.q(limit=5000))
    assert capped.status_code == 206 and capped.json()["Paging"]["Limit"] == 1000
    assert_error(client.get("/v2/products", params=tenant.q(sort="name")), 400)
    assert client.get("/v2/products", params=tenant.q(sort="id")).status_code == 200


def test_publish_quantity_follows_publication_limits(
    client: TestClient, tenant: Tenant, catalog: dict[str, int]
) -> None:
    body = [{"SKU": "CA1463-D", "Stock": {"MinPublicationQuantity": 2, "MaxPublicationQuantity": 10}}]
    assert _post(client, tenant, body).status_code == 200
    stock = _get(client, tenant, SKU="CA1463-D")["Results"][0]["Stock"]
    assert (stock["Quantity"], stock["PublishQuantity"], stock["MinPublicationQuantity"]) == (15, 10, 2)
    _post(client, tenant, [{"SKU": "CA1463-D", "Stock": {"Quantity": 2}}])
    assert _get(client, tenant, SKU="CA1463-D")["Results"][0]["Stock"]["PublishQuantity"] == 0


def test_kit_stock_cannot_be_sent(client: TestClient, tenant: Tenant, catalog: dict[str, int]) -> None:
    response = _post(
        client, tenant, [{"SKU": "KIT-4", "Stock": {"Quantity": 5}}, {"SKU": "REM", "Stock": {"Movement": 1}}]
    )
    assert response.status_code == 412 and _messages(response.json()) == {0: [(0, 34)], 1: [(0, 34)]}


# --- fiscal information (our design) ------------------------------------------------------------------------


def test_fiscal_update_and_read(client: TestClient, ctx: AppContext, distributor: Tenant) -> None:
    from alephee.accounts.models import FiscalTaxRule

    with ctx.db.writing() as session:
        plist = add_price_list(session, distributor.account_id, "General")
        a = add_product(session, distributor.account_id, "A", prices={plist: "121"})
        add_product(session, distributor.account_id, "B")
        session.add(
            FiscalTaxRule(account_id=distributor.account_id, code="IVA105", name="IVA", tax_type="VAT", percentage=10)
        )
    # Price was derived from PriceWithTaxes: a new tax rate keeps the gross price and recomputes the net one.
    body = [
        {"SKU": "A", "TaxRate": 10, "FiscalCode": "8511.10.00", "Origin": "0"},
        {"sku": "B", "taxRuleCode": "iva105"},
        {"SKU": "B", "TaxRuleCode": "NOPE"},
        {"SKU": "C", "TaxRate": 5},
        {"SKU": "A", "TaxRate": 101},
        {"SKU": "A"},
    ]
    response = client.put("/v2/products/fiscal", params=distributor.q(), json=body)
    assert response.status_code == 200, response.text
    assert _messages(response.json()) == {2: [(0, 1)], 3: [(0, 6)], 4: [(0, 1)], 5: [(0, 3)]}
    price = _price(ctx, a, plist)
    assert price is not None and price.price_with_taxes == Decimal(121) and price.price == Decimal(110)
    listed = client.get("/v2/products/fiscal", params=distributor.q()).json()
    assert set(listed) == ENVELOPE
    rows = {r["SKU"]: r for r in listed["Results"]}
    assert rows["A"]["TaxRate"] == 10.0 and rows["A"]["EffectiveTaxRate"] == 10.0
    assert rows["A"]["FiscalCode"] == "8511.10.00" and rows["A"]["Origin"] == "0"
    assert (
        rows["B"]["TaxRate"] is None and rows["B"]["TaxRuleCode"] == "iva105" and rows["B"]["EffectiveTaxRate"] == 10.0
    )
    assert set(rows["A"]) == {
        "Id",
        "Brand",
        "SKU",
        "OwnCode",
        "TaxRate",
        "TaxRuleCode",
        "EffectiveTaxRate",
        "FiscalCode",
        "Origin",
        "DateUpdated",
    }
    only = client.get("/v2/products/fiscal", params=distributor.q(SKU="B")).json()
    assert [r["SKU"] for r in only["Results"]] == ["B"]
    nothing = client.put("/v2/products/fiscal", params=distributor.q(), json=[{"SKU": "ZZ", "TaxRate": 1}])
    assert nothing.status_code == 412


def test_fiscal_rate_recomputes_gross_price_when_net_was_sent(
    client: TestClient, ctx: AppContext, distributor: Tenant
) -> None:
    with ctx.db.writing() as session:
        plist = add_price_list(session, distributor.account_id, "General")
        pid = add_product(session, distributor.account_id, "N")
    _post(client, distributor, [{"SKU": "N", "Price": {"Price": 100}}])
    client.put("/v2/products/fiscal", params=distributor.q(), json=[{"SKU": "N", "TaxRate": 27}])
    price = _price(ctx, pid, plist)
    assert price is not None and price.price == Decimal(100) and price.price_with_taxes == Decimal(127)


# --- DELETE /v2/products/prices ------------------------------------------------------------------------------


@pytest.fixture
def deletable(ctx: AppContext, distributor: Tenant, make_tenant: Callable[..., Tenant]) -> dict[str, int]:
    from alephee.accounts import service as accounts

    seller = make_tenant(AccountType.SELLER)
    with ctx.db.writing() as session:
        accounts.set_account_flags(session, distributor.account_id, allow_pricelist_delete=True)
        plist = add_price_list(session, distributor.account_id, "General")
        other_list = add_price_list(session, distributor.account_id, "Otra")
        ids = {
            sku: add_product(session, distributor.account_id, sku, prices={plist: "100", other_list: "90"})
            for sku in ("95459391", "95920465", "96895448")
        }
        add_product(session, distributor.account_id, "NOLIST")
        add_product(session, seller.account_id, "95920465", source_product_id=ids["95920465"])
    return {"list": plist, "other": other_list, **ids}


def _token(client: TestClient, tenant: Tenant) -> str:
    response = client.get(f"/v2/accounts/{tenant.account_id}/logintoken", params=tenant.key(module=2))
    assert response.status_code == 200, response.text
    return str(response.json()["Token"])


def _delete(client: TestClient, tenant: Tenant, body: Any, token: str | None) -> Any:
    params = tenant.q(confirmationToken=token) if token is not None else tenant.q()
    return client.request("DELETE", "/v2/products/prices", params=params, json=body)


def test_delete_documented_example(
    client: TestClient, ctx: AppContext, distributor: Tenant, deletable: dict[str, int]
) -> None:
    body = {
        "PriceListId": deletable["list"],
        "Products": [
            {"Sku": "95459391"},
            {"Sku": "95920465"},
            {"Sku": "96895448"},
            {"Sku": "AAAAAAAAAAAAAAAA95459391"},
            {"Sku": "06G260849"},
            {"Sku": "NOLIST"},
        ],
    }
    response = _delete(client, distributor, body, _token(client, distributor))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["Quantities"] == {"Ok": 2, "Error": 4, "Warning": 0, "Info": 0, "Total": 6}
    not_found = "The given SKU was not found or it is not assigned to the given price list ID"
    shared = (
        "The product with SKU 95920465 is shared to one or more seller accounts. Cannot remove the product from "
        "the price list. This product will be ignored and will not be processed"
    )
    assert [(i["ItemNumber"], i["keyValue"], i["Messages"][0]["Message"]) for i in result["Items"]] == [
        (1, "95920465", shared),
        (3, "AAAAAAAAAAAAAAAA95459391", not_found),
        (4, "06G260849", not_found),
        (5, "NOLIST", not_found),
    ]
    assert _price(ctx, deletable["95459391"], deletable["list"]) is None
    assert _price(ctx, deletable["96895448"], deletable["list"]) is None
    assert _price(ctx, deletable["95920465"], deletable["list"]) is not None
    assert _price(ctx, deletable["95459391"], deletable["other"]) is not None


def test_delete_everything_from_a_list(
    client: TestClient, ctx: AppContext, distributor: Tenant, deletable: dict[str, int]
) -> None:
    response = _delete(client, distributor, {"PriceListId": deletable["list"]}, _token(client, distributor))
    assert response.status_code == 200
    result = response.json()
    assert result["Quantities"]["Total"] == 3 and result["Quantities"]["Ok"] == 2
    assert [i["keyValue"] for i in result["Items"]] == ["95920465"]
    again = _delete(
        client, distributor, {"PriceListId": deletable["list"], "Products": []}, _token(client, distributor)
    )
    assert again.status_code == 412 and again.json()["Quantities"] == {
        "Ok": 0,
        "Error": 1,
        "Warning": 0,
        "Info": 0,
        "Total": 1,
    }


def test_delete_in_chunks_with_one_token(
    client: TestClient, ctx: AppContext, distributor: Tenant, deletable: dict[str, int]
) -> None:
    from datetime import timedelta

    from alephee import clock

    token = _token(client, distributor)
    for sku in ("95459391", "96895448"):
        clock.advance(timedelta(seconds=10))
        chunk = {"PriceListId": deletable["list"], "Products": [{"SKU": sku}]}
        response = _delete(client, distributor, chunk, token)
        assert response.status_code == 200, response.text
        assert _price(ctx, deletable[sku], deletable["list"]) is None
    # Past its 30 seconds it is refused, like any expired token.
    clock.advance(timedelta(seconds=11))
    late = _delete(client, distributor, {"PriceListId": deletable["list"], "Products": [{"SKU": "95920465"}]}, token)
    assert_error(late, 403)
    assert late.json()["Message"] == "The confirmation token has expired"


def test_delete_preconditions(
    client: TestClient,
    ctx: AppContext,
    distributor: Tenant,
    deletable: dict[str, int],
    make_tenant: Callable[..., Tenant],
) -> None:
    from datetime import timedelta

    from alephee import clock
    from alephee.accounts import service as accounts

    body = {"PriceListId": deletable["list"], "Products": [{"SKU": "95459391"}]}
    seller = make_tenant(AccountType.SELLER)
    with ctx.db.writing() as session:
        accounts.set_account_flags(session, seller.account_id, allow_pricelist_delete=True)
    assert "BRAND" in _delete(client, seller, body, "x").json()["Message"]
    assert_error(_delete(client, seller, body, "x"), 403)
    missing = _delete(client, distributor, body, None)
    assert_error(missing, 403)
    assert "confirmationToken" in missing.json()["Message"]
    assert_error(_delete(client, distributor, body, "not-a-token"), 403)
    token = _token(client, distributor)
    clock.advance(timedelta(seconds=31))
    expired = _delete(client, distributor, body, token)
    assert_error(expired, 403)
    assert expired.json()["Message"] == "The confirmation token has expired"
    clock.reset()
    token = _token(client, distributor)
    # Checks that fail before the token is used leave it valid.
    assert_error(_delete(client, distributor, {"PriceListId": 999999}, token), 404)
    assert_error(_delete(client, distributor, {"Products": []}, token), 400)
    assert _delete(client, distributor, body, token).status_code == 200
    # The token stays valid for its whole life: the same removal again finds nothing left (412, not 403).
    assert _delete(client, distributor, body, token).status_code == 412
    big = {"PriceListId": deletable["list"], "Products": [{"SKU": "x"}] * 501}
    assert_error(_delete(client, distributor, big, _token(client, distributor)), 413)
    with ctx.db.writing() as session:
        accounts.set_account_flags(session, distributor.account_id, allow_pricelist_delete=False)
    disabled = _delete(client, distributor, body, _token(client, distributor))
    assert_error(disabled, 403)
    assert "not enabled" in disabled.json()["Message"]


def test_huge_numbers_are_client_errors(
    client: TestClient, ctx: AppContext, distributor: Tenant, deletable: dict[str, int]
) -> None:
    huge = "99999999999999999999"
    with ctx.db.writing() as session:
        pid = add_product(session, distributor.account_id, "BIG", quantity=1_999_999_999)
    assert_error(_post(client, distributor, [{"SKU": "BIG", "Stock": {"Quantity": 1}}], priceListId=huge), 400)
    assert_error(client.get("/v2/products", params=distributor.q(priceListId=huge)), 400)
    assert client.get("/v2/products", params=distributor.q(brand=huge)).json()["Total"] == 0
    body = [
        {"SKU": "BIG", "Stock": {"Movement": 1_000_000}},
        {"SKU": "BIG", "Features": {"Visibility": int(huge)}},
        {"SKU": "BIG", "Stock": {"Quantity": int(huge)}},
    ]
    response = _post(client, distributor, body)
    assert response.status_code == 412 and _messages(response.json()) == {0: [(0, 36)], 1: [(0, 1)], 2: [(0, 36)]}
    assert _quantity(ctx, pid) == 1_999_999_999
    assert_error(_delete(client, distributor, {"PriceListId": int(huge)}, "x"), 400)
