"""Contract tests of CF-50 (product listings section) over HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee import clock
from alephee.http.context import AppContext
from alephee.listings import publish
from tests.fixtures.errors import assert_error
from tests.fixtures.listings import Shop, build_shop, listing, outbox
from tests.fixtures.tenants import Tenant


@pytest.fixture
def shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Shop:
    """A seller with a small catalog published on Sandbox MLA (100), Mercado Libre (1) and Amazon (20)."""
    return build_shop(ctx, make_tenant)


ENVELOPE = {"Total", "Paging", "SortBy", "AvailableSorts", "Results"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
LISTING_KEYS = {
    "Id",
    "Brand",
    "SKU",
    "ProductSKU",
    "SellerSKU",
    "ExternalId",
    "Marketplace",
    "Title",
    "Status",
    "PermanentLink",
    "Category",
    "ListingType",
    "Price",
    "Deals",
    "AvailableQuantity",
    "SoldQuantity",
    "Visits",
    "Health",
    "OriginalPrice",
    "Discount",
    "DateCreated",
    "ParentId",
    "StatusReason",
}


def _search(client: TestClient, shop: Shop, **params: Any) -> Any:
    response = client.get("/v2/productlistings/search", params=shop.tenant.q(**params))
    assert response.status_code == 200, response.text
    return response.json()


def _ids(body: dict[str, Any]) -> list[int]:
    return [r["Id"] for r in body["Results"]]


# --- GET /v2/productlistings/search --------------------------------------------------------------------------


def test_search_like_the_documented_client(client: TestClient, shop: Shop) -> None:
    """The public Go client: ``?API_KEY=..&accountId=..&sku=..`` without status, reads Total/Results/SKU/Price."""
    response = client.get(
        "/v2/productlistings/search",
        params={"API_KEY": shop.tenant.api_key, "accountId": shop.tenant.account_id, "sku": "MKNJ-122"},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ENVELOPE and body["Total"] == 3 == body["Paging"]["Total"]
    assert body["SortBy"] == {"Id": "ID", "Name": "ID"}
    assert body["AvailableSorts"] == [
        {"Id": "ID", "Name": "ID"},
        {"Id": "dateCreated", "Name": "Order by date created asc"},
    ]
    assert [(r["SKU"], r["Price"]) for r in body["Results"]] == [("MKNJ-122", 2000.0)] * 3


def test_listing_shape(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    result = _search(client, shop, externalID=shop.external[("MKNJ-122", 100)])["Results"][0]
    assert set(result) == LISTING_KEYS
    row = listing(ctx, shop.listings[("MKNJ-122", 100)])
    assert result == {
        "Id": row.id,
        "Brand": "Bosch",
        "SKU": "MKNJ-122",
        "ProductSKU": "MKNJ-122",
        "SellerSKU": "ERP-0001",
        "ExternalId": row.external_id,
        "Marketplace": {"Key": 100, "Value": "Sandbox Mercado Libre Argentina"},
        "Title": "Product MKNJ-122",
        "Status": {"Key": 1, "Name": "Active", "UpdatedDateTime": result["Status"]["UpdatedDateTime"]},
        "PermanentLink": row.permanent_link,
        "Category": {"Id": "MLA3530", "Value": "Otros"},
        "ListingType": {"Id": 3, "Name": "gold_special", "Description": "Clásica"},
        "Price": 2000.0,
        "Deals": [],
        "AvailableQuantity": 10,
        "SoldQuantity": 0,
        "Visits": None,
        "Health": None,
        "OriginalPrice": None,
        "Discount": None,
        "DateCreated": result["DateCreated"],
        "ParentId": None,
        "StatusReason": None,
    }
    assert TIMESTAMP.match(result["Status"]["UpdatedDateTime"]) and TIMESTAMP.match(result["DateCreated"])
    amazon = _search(client, shop, marketplaceId=20)["Results"][0]
    assert amazon["ListingType"] is None and amazon["Category"] is None and amazon["Health"] is None


def test_search_filters(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings
    assert _search(client, shop)["Total"] == 6
    assert _ids(_search(client, shop, status=2)) == [lid[("EMPTY", 100)]]
    assert _ids(_search(client, shop, status=1, marketplaceId=100)) == [
        lid[("MKNJ-122", 100)],
        lid[("H4", 100)],
        lid[("KIT", 100)],
    ]
    assert _ids(_search(client, shop, brand="philips")) == [lid[("H4", 100)]]
    assert _ids(_search(client, shop, BRAND="Bosch", marketplaceId=1)) == [lid[("MKNJ-122", 1)]]
    assert _ids(_search(client, shop, ExternalId=shop.external[("KIT", 100)])) == [lid[("KIT", 100)]]
    assert _search(client, shop, sku="mknj-122")["Total"] == 0
    assert _search(client, shop, status=3)["Total"] == 0
    for bad in ({"status": 9}, {"status": "x"}, {"includeChilds": "maybe"}, {"marketplaceId": "x"}, {"sort": "price"}):
        assert_error(client.get("/v2/productlistings/search", params=shop.tenant.q(**bad)), 400)


def test_children_only_with_include_childs(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    parent = shop.listings[("MKNJ-122", 100)]
    with ctx.db.writing() as session:
        child = publish.publish_product(
            session, shop.tenant.account_id, shop.products["MKNJ-122"], 100, parent_id=parent, child_kind="proxy"
        )
    assert child.id not in _ids(_search(client, shop))
    with_children = _search(client, shop, includeChilds="true", sku="MKNJ-122")
    assert child.id in _ids(with_children)
    assert next(r for r in with_children["Results"] if r["Id"] == child.id)["ParentId"] == parent


def test_search_sorting_and_paging(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    from alephee.listings.models import Listing

    with ctx.db.writing() as session:
        oldest = session.get(Listing, shop.listings[("KIT", 100)])
        assert oldest is not None
        oldest.created_at = datetime(2020, 1, 1, tzinfo=UTC)
    assert _ids(_search(client, shop, sort="dateCreated"))[0] == shop.listings[("KIT", 100)]
    page = _search(client, shop, offset=1, limit=2)
    assert page["Paging"] == {"Limit": 2, "Offset": 1, "Total": 6} and len(page["Results"]) == 2
    capped = client.get("/v2/productlistings/search", params=shop.tenant.q(limit=500))
    assert capped.status_code == 206 and capped.json()["Paging"]["Limit"] == 100


# --- PUT /v2/productlistings ------------------------------------------------------------------------------


def _put(client: TestClient, shop: Shop, body: Any, path: str = "/v2/productlistings") -> Any:
    return client.put(path, params=shop.tenant.q(), json=body)


def test_update_documented_example_by_listing_ids(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    ids = [shop.external[("MKNJ-122", 100)], shop.external[("MKNJ-122", 1)]]
    response = _put(client, shop, [{"ExternalPublications": ids, "Price": {"Price": 2300.90}}], "/v2/productlisting")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["Quantities"] == {"Ok": 1, "Error": 0, "Warning": 0, "Info": 0, "Total": 1}
    [item] = result["Items"]
    assert item["ItemNumber"] == 1 and item["keyValue"] == " - ".join(ids)
    assert [m["Code"] for m in item["Messages"]] == [3579, 3579]
    first = shop.listings[("MKNJ-122", 100)]
    assert item["Messages"][0]["Message"] == f"{first} - {ids[0]} - Se edito correctamente la publicación. "
    assert item["Messages"][0]["Level"] == {"Id": 99, "Name": "Ok"}
    assert listing(ctx, first).price == Decimal("2300.90") and listing(ctx, first).price_mode == "fixed"
    assert outbox(ctx, first)[-1][1]["price"] == "2300.90"


def test_update_by_sku_with_related_listings(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    parent = shop.listings[("MKNJ-122", 100)]
    with ctx.db.writing() as session:
        children = [
            publish.publish_product(session, shop.tenant.account_id, shop.products["MKNJ-122"], 100, parent_id=parent)
            for _ in range(2)
        ]
    body = [{"Brand": "Bosch", "SKU": "MKNJ-122", "Marketplace": 100, "Price": {"Margin": 10}}]
    result = _put(client, shop, body).json()
    assert result["Quantities"] == {"Ok": 1, "Error": 0, "Warning": 0, "Info": 0, "Total": 1}
    first, related = result["Items"]
    assert (first["ItemNumber"], first["KeyField"], first["keyValue"]) == (1, "SKU", "MKNJ-122")
    assert [m["Code"] for m in first["Messages"]] == [3579]
    external = shop.external[("MKNJ-122", 100)]
    child_ids = [c.external_id for c in children]
    assert related["ItemNumber"] == 0 and related["KeyField"] == external
    assert related["keyValue"] == " - ".join(child_ids)
    assert related["Messages"][0]["Code"] == 3581
    assert related["Messages"][0]["Message"] == (
        f"Warning: {external} is related to the following product listings: {'-'.join(child_ids)} "
        "and will be updated together"
    )
    assert [listing(ctx, i).price for i in (parent, children[0].id, children[1].id)] == [Decimal("2200.00")] * 3
    assert listing(ctx, shop.listings[("MKNJ-122", 1)]).price == Decimal(2000)


def test_update_rules(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    ext = shop.external
    body = [
        {"SKU": "MKNJ-122", "ExternalPublications": [ext[("MKNJ-122", 1)]], "Price": {"Price": 10}},
        {"ExternalPublications": [ext[("EMPTY", 100)]], "Price": {"Price": 10}},
        {"SKU": "H4", "Price": {"Price": 10}},
        {"ExternalPublications": [ext[("H4", 100)]], "Price": {"Price": 10}},
        {"SKU": "MKNJ-122", "Price": {"Price": 10, "Margin": 5}},
        {"SKU": "MKNJ-122", "Price": {"Price": 0}},
        {"SKU": "MKNJ-122", "Price": {"Margin": 100}},
        {"SKU": "MKNJ-122", "Price": {"AddedFixedValue": 10000}},
        {"SKU": "MKNJ-122", "Price": {"Price": 1.005}},
        {"SKU": "MKNJ-122", "Price": {}},
        {"ExternalPublications": ["MLA000"], "Price": {"Price": 10}},
        {"SKU": "NOPE", "Price": {"Price": 10}},
        "garbage",
    ]
    response = _put(client, shop, body)
    assert response.status_code == 412
    result = response.json()
    assert result["Quantities"]["Error"] == 13 and result["Quantities"]["Ok"] == 0
    codes = {i["ItemNumber"]: [m["Code"] for m in i["Messages"]] for i in result["Items"]}
    assert codes == {
        1: [3601],
        2: [3603],  # paused: not processed
        3: [3604],  # a kit component (H4 is in KIT)
        4: [3604],
        5: [3605],
        6: [3605],
        7: [3605],
        8: [3605],
        9: [3605],
        10: [3605],
        11: [3602],
        12: [3601],
        13: [3600],
    }
    assert listing(ctx, shop.listings[("EMPTY", 100)]).price == Decimal(99)


def test_update_partially_active_product(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    client.put(
        "/v2/productlistings/update-status",
        params=shop.tenant.q(),
        json=[{"ExternalPublications": [shop.external[("MKNJ-122", 20)]], "Status": 2}],
    )
    result = _put(client, shop, [{"SKU": "MKNJ-122", "Price": {"AddedFixedValue": -500}}]).json()
    assert result["Quantities"] == {"Ok": 0, "Error": 0, "Warning": 1, "Info": 0, "Total": 1}
    levels = [(m["Level"]["Id"], m["Code"]) for m in result["Items"][0]["Messages"]]
    assert levels == [(99, 3579), (99, 3579), (1, 3603)]
    assert listing(ctx, shop.listings[("MKNJ-122", 1)]).price == Decimal(1500)
    assert listing(ctx, shop.listings[("MKNJ-122", 20)]).price == Decimal(2000)


def test_update_over_the_cap(client: TestClient, shop: Shop) -> None:
    assert_error(_put(client, shop, [{"SKU": "MKNJ-122", "Price": {"Price": 1}}] * 101), 413)


# --- PUT /v2/productlistings/update-status -------------------------------------------------------------------


def _status(client: TestClient, shop: Shop, body: Any, **params: Any) -> Any:
    return client.put("/v2/productlistings/update-status", params=shop.tenant.q(**params), json=body)


def test_update_status_by_listing_id(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    external = shop.external[("MKNJ-122", 100)]
    body = [{"ExternalPublications": [{"ID": external}], "Status": 2}]
    response = _status(client, shop, body, includeKitContainers="false")
    assert response.status_code == 200
    assert response.json() == {
        "Total": 1,
        "Results": [
            {
                "ProductListingStatus": [{"Marketplace": 100, "ExternalPublications": [{"ID": external}], "Status": 2}],
                "Status": 200,
                "Message": "OK",
            }
        ],
    }
    row = listing(ctx, shop.listings[("MKNJ-122", 100)])
    assert (row.status, row.status_reason) == ("paused", "user")
    assert outbox(ctx, row.id)[-1] == (
        "listing.status",
        {"listing_id": row.id, "external_id": external, "status": "paused", "status_reason": "user"},
    )
    again = _status(client, shop, body).json()["Results"][0]
    assert (again["Status"], again["Message"]) == (304, "The listing already has that status")


def test_update_status_outcomes(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    ext = shop.external
    _status(client, shop, [{"ExternalPublications": [ext[("H4", 100)]], "Status": 3}])
    body = [
        {"SKU": "MKNJ-122", "Brand": "bosch", "Status": 2},
        {"ExternalPublications": [ext[("H4", 100)], "MLA999"], "Status": 1},
        {"ExternalPublications": [ext[("EMPTY", 100)]], "Status": 1},
        {"SKU": "MKNJ-122", "Status": 4},
        {"SKU": "MKNJ-122", "ExternalPublications": ["x"], "Status": 1},
        {"SKU": "NOPE", "Status": 1},
        {"SKU": "MKNJ-122"},
    ]
    response = _status(client, shop, body)
    assert response.status_code == 200
    results = response.json()["Results"]
    outcome = [(r["ProductListingStatus"][0].get("ExternalPublications"), r["Status"]) for r in results]
    assert [status for _, status in outcome] == [200, 200, 200, 404, 406, 412, 400, 400, 404, 400]
    assert outcome[3][0] == [{"ID": "MLA999"}]
    assert "finished" in results[4]["Message"] and "stock" in results[5]["Message"]
    assert response.json()["Total"] == 10
    assert {listing(ctx, shop.listings[("MKNJ-122", m)]).status for m in (100, 1, 20)} == {"paused"}


def test_update_status_include_kit_containers(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    response = _status(client, shop, [{"SKU": "H4", "Status": 2}], includeKitContainers="true")
    assert [r["ProductListingStatus"][0]["ExternalPublications"][0]["ID"] for r in response.json()["Results"]] == [
        shop.external[("H4", 100)],
        shop.external[("KIT", 100)],
    ]
    assert listing(ctx, shop.listings[("KIT", 100)]).status == "paused"


def test_update_status_nothing_changed_is_400(client: TestClient, shop: Shop) -> None:
    response = _status(client, shop, [{"SKU": "NOPE", "Status": 2}])
    assert response.status_code == 400 and response.json()["Total"] == 1


# --- POST /v2/productlistings/discounts ------------------------------------------------------------------------


def _discount(client: TestClient, shop: Shop, body: Any, path: str = "/v2/productlistings/discounts") -> Any:
    if path.endswith("productlistings/discounts"):
        return client.post(path, params=shop.tenant.q(), json=body)
    return client.put(path, params=shop.tenant.q(), json=body)


def test_discount_documented_example(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    start, finish = "2021-09-01T20:23:33.638Z", "2021-09-03T20:17:33.638Z"
    body = [{"Brand": "Bosch", "SKU": "MKNJ-122", "DiscountPercent": 30.00, "StartDate": start, "FinishDate": finish}]
    with clock.frozen(datetime(2021, 9, 1, 12, 0, tzinfo=UTC)):
        response = _discount(client, shop, body)
    assert response.status_code == 200, response.text
    results = response.json()["Results"]
    assert response.json()["Total"] == 3
    assert results[0] == {
        "ProductListingStatus": [
            {
                "Brand": "Bosch",
                "SKU": "MKNJ-122",
                "DiscountPercent": 30.0,
                "StartDate": start,
                "FinishDate": finish,
                "Marketplace": 100,
                "ExternalPublications": [{"ID": shop.external[("MKNJ-122", 100)]}],
            }
        ],
        "Status": 200,
        "Message": "OK",
    }
    assert [r["Status"] for r in results] == [200, 200, 200]
    payload = outbox(ctx, shop.listings[("MKNJ-122", 100)])[-1][1]
    assert payload["discount_percent"] == "30.0" and payload["discount_start"] == "2021-09-01T20:23:33Z"


def test_discount_window_and_effective_price(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    external = shop.external[("MKNJ-122", 100)]
    start = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
    body = [
        {
            "ExternalPublications": [external],
            "DiscountPercent": 15.5,
            "StartDate": "2030-03-01T12:00:00Z",
            "FinishDate": "2030-03-04T12:00:00Z",
        }
    ]
    with clock.frozen(start - timedelta(days=1)):
        assert _discount(client, shop, body).json()["Results"][0]["Status"] == 200
        before = _search(client, shop, externalID=external)["Results"][0]
        assert (before["Price"], before["OriginalPrice"], before["Discount"]) == (2000.0, None, None)
    with clock.frozen(start):
        during = _search(client, shop, externalID=external)["Results"][0]
        assert (during["Price"], during["OriginalPrice"]) == (1690.0, 2000.0)
        assert during["Discount"] == {
            "Percent": 15.5,
            "StartDate": "2030-03-01T12:00:00Z",
            "FinishDate": "2030-03-04T12:00:00Z",
        }
        clock.advance(timedelta(days=3) - timedelta(seconds=1))
        assert _search(client, shop, externalID=external)["Results"][0]["Price"] == 1690.0
        clock.advance(timedelta(seconds=1))
        after = _search(client, shop, externalID=external)["Results"][0]
        assert (after["Price"], after["Discount"]) == (2000.0, None)


def test_discount_rules(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    ext = shop.external

    def item(external: str, percent: Any, days: float = 2, start: str = "2030-01-01T00:00:00Z") -> dict[str, Any]:
        begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
        return {
            "ExternalPublications": [external],
            "DiscountPercent": percent,
            "StartDate": start,
            "FinishDate": (begin + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    body = [
        item(ext[("MKNJ-122", 100)], 4),  # ML: below 5 %
        item(ext[("MKNJ-122", 100)], 80),  # ML: 80 % or more
        item(ext[("MKNJ-122", 100)], 20, days=8),  # ML: more than 7 days
        item(ext[("MKNJ-122", 20)], 90, days=30),  # Amazon: fine
        item(ext[("MKNJ-122", 1)], 101),
        item(ext[("MKNJ-122", 1)], 10, days=-1),
        item(ext[("MKNJ-122", 1)], 10, start="2020-01-01T00:00:00Z"),  # already over
        {"ExternalPublications": [ext[("MKNJ-122", 1)]], "DiscountPercent": 10, "StartDate": "mañana"},
        item(ext[("MKNJ-122", 1)], 10.123),
        {"SKU": "MKNJ-122", "ExternalPublications": [ext[("MKNJ-122", 1)]], "DiscountPercent": 10},
    ]
    with clock.frozen(datetime(2029, 12, 1, tzinfo=UTC)):
        response = _discount(client, shop, body, "/v2/productlisting/discounts")
    assert response.status_code == 200
    results = response.json()["Results"]
    assert [r["Status"] for r in results] == [400, 400, 400, 200, 400, 400, 400, 400, 400, 400]
    assert "at least 5%" in results[0]["Message"] and "7 days" in results[2]["Message"]
    assert all(r["Message"] for r in results)


def test_new_discount_replaces_overlapping_and_zero_removes(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    external = shop.external[("MKNJ-122", 20)]

    def set_discount(percent: float) -> None:
        body = [
            {
                "ExternalPublications": [external],
                "DiscountPercent": percent,
                "StartDate": "2030-01-01T00:00:00Z",
                "FinishDate": "2030-01-10T00:00:00Z",
            }
        ]
        assert _discount(client, shop, body).json()["Results"][0]["Status"] == 200

    with clock.frozen(datetime(2030, 1, 2, tzinfo=UTC)):
        set_discount(10)
        set_discount(20)
        assert _search(client, shop, externalID=external)["Results"][0]["Price"] == 1600.0
        set_discount(0)
        assert _search(client, shop, externalID=external)["Results"][0]["Discount"] is None


def test_raising_an_ml_price_drops_its_discount(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    external = shop.external[("MKNJ-122", 100)]
    body = [
        {
            "SKU": "MKNJ-122",
            "DiscountPercent": 10,
            "StartDate": "2030-01-01T00:00:00Z",
            "FinishDate": "2030-01-05T00:00:00Z",
        }
    ]
    with clock.frozen(datetime(2030, 1, 2, tzinfo=UTC)):
        assert _discount(client, shop, body).status_code == 200
        client.post(
            "/v2/products", params=shop.tenant.q(), json=[{"SKU": "MKNJ-122", "Price": {"PriceWithTaxes": 2100}}]
        )
        ml = _search(client, shop, externalID=external)["Results"][0]
        amazon = _search(client, shop, externalID=shop.external[("MKNJ-122", 20)])["Results"][0]
    assert (ml["Price"], ml["Discount"]) == (2100.0, None)
    assert (amazon["Price"], amazon["OriginalPrice"]) == (1890.0, 2100.0)


def test_discount_nothing_set_is_400(client: TestClient, shop: Shop) -> None:
    response = _discount(client, shop, [{"SKU": "MKNJ-122"}])
    assert response.status_code == 400 and response.json()["Results"][0]["Status"] == 400


def test_huge_numbers_are_client_errors(client: TestClient, shop: Shop) -> None:
    huge = 99999999999999999999
    assert_error(client.get("/v2/productlistings/search", params=shop.tenant.q(marketplaceId=huge)), 400)
    assert_error(client.get("/v2/productlistings/search", params=shop.tenant.q(status=huge)), 400)
    assert _search(client, shop, brand=str(huge))["Total"] == 0
    response = _status(client, shop, [{"SKU": "MKNJ-122", "Marketplace": huge, "Status": 2}])
    assert response.status_code == 400 and response.json()["Results"][0]["Status"] == 400
