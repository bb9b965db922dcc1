"""Contract tests of CF-20 (orders, read side) over HTTP: GET /v2/orders and every filter, paging the way
real clients page, carts, and the full shape of an order against the complete field list of CF-20.2.4."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee import clock
from alephee.http.context import AppContext
from alephee.orders import statuses as st
from alephee.orders.account_options import set_account_options
from alephee.orders.document_upload import DocumentUpload, store_document
from alephee.orders.models import Order, OrderAccountOptions
from alephee.orders.query import FILTER_DOCS, parse_filters
from alephee.orders.schemas import OrderOut, OrdersPackOut
from tests.fixtures import orders as _orders_fixtures
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import AddOrder, utc
from tests.fixtures.tenants import Tenant

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# --- the complete field list of CF-20.2.4 ------------------------------------------------------------
ORDER_KEYS = {
    "Id", "SellerAccount", "ExternalOrderId", "IntegratedOrderId", "PackId", "SourcePackId", "IsCompletePackOrder",
    "Items", "Payments", "Adjustments", "Shipping", "Buyer", "Billing", "ActiveClaims", "Documents", "ExternalJson",
    "Integrated", "ErpStatus", "Notes", "Status", "StatusType", "MarketPlace", "DateCreated", "LastUpdated",
    "DateClosed", "IsCancelled", "Invoice",
}  # fmt: skip
SELLER_KEYS = {"Id", "OwnCode", "Name", "BusinessName"}
ITEM_KEYS = {
    "Id", "Type", "ParentItemId", "Product", "ProductListing", "Quantity", "QuantitiesDetails", "UnitPrice",
    "FullUnitPrice", "UnitPriceCost", "CalculatedComponentUnitPrice", "CalculatedComponentFullUnitPrice", "SaleFee",
    "Notes", "Status", "StatusType", "IsCancelled",
}  # fmt: skip
PRODUCT_KEYS = {"Id", "Sku", "Brand", "SellerSku", "EAN", "Attributes", "Title", "IntegrationCode", "Category"}
ATTRIBUTES_KEYS = {"NetWeight", "SalesTags"}
SALES_TAGS_KEYS = {"Text", "Items", "Delimiter"}
LISTING_KEYS = {"Reference", "Id", "ExternalId", "Title", "ListingType", "PermanentLink"}
LISTING_TYPE_KEYS = {"Key", "Value", "Description"}
QUANTITIES_KEYS = {"Requested", "Picked", "StockMovements"}
PAYMENT_KEYS = {
    "ExternalPaymentId", "Amount", "AmountNoDiscount", "ShippingAmount", "ShippingAmountNoDiscount",
    "TransactionAmount", "Total", "SubTotal", "Installments", "InstallmentAmount", "Notes", "CurrencySymbol",
    "Method", "Status", "Condition", "Discounts", "Taxes", "AuthorizationCode", "DateCreated", "DateApproved",
    "LastUpdate",
}  # fmt: skip
DISCOUNT_KEYS = {"Amount", "Value", "Type", "Priority", "Notes", "Code"}
TAXES_KEYS = {"Amount", "CurrencySymbol"}
ADJUSTMENT_KEYS = {"Type", "Code", "Description", "Item", "Value"}
SHIPPING_KEYS = {
    "ExternalShippingId", "Cost", "ReceiverCost", "SenderCost", "Method", "Status", "LogisticType", "CourierInfo",
    "ShippingLabels", "Pickup", "ReceiverAddress", "Receiver", "EstimatedDeliveryDate", "DateCreated", "LastUpdated",
    "PackageInfo",
}  # fmt: skip
LABELS_KEYS = {"SubStatus", "ShippingLabelUrlPdf", "ShippingLabelUrlZip"}
ADDRESS_KEYS = {
    "CountryId", "StateCode", "State", "City", "Neighborhood", "StreetName", "StreetNumber", "ZipCode", "Notes",
    "Description", "Phone", "AlternativePhone",
}  # fmt: skip
BUYER_KEYS = {"Code", "Owncode", "Name", "Phone", "Email", "DocType", "DocNumber", "Nickname", "Address", "BillingInfo"}
BILLING_INFO_KEYS = {"DocType", "DocNumber", "TaxPayerType", "BusinessName", "StateRegistration", "Address"}
BILLING_KEYS = {"SaleFee", "Invoice"}
INVOICE_KEYS = {"DanfePdfUrl", "XmlUrl"}
CLAIM_KEYS = {"ExternalClaimId", "DateCreated"}
DOCUMENT_KEYS = {"Type", "Name", "Extension", "Fullfilename", "Size", "DocumentDate", "DateCreated"}
KV = {"Key", "Value"}
MARKETPLACE_KEYS = {"Key", "Value", "Channel"}
ENVELOPE = {"Total", "Paging", "SortBy", "AvailableSorts", "Results"}
PACK_KEYS = {
    "Id",
    "SourcePackId",
    "IsComplete",
    "Marketplace",
    "SellerAccount",
    "Buyer",
    "Payments",
    "Shipping",
    "Orders",
}


def orders(client: TestClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = client.get("/v2/orders", params=tenant.q(**params))
    assert response.status_code in (200, 206), response.text
    body: dict[str, Any] = response.json()
    return body


def ids(client: TestClient, tenant: Tenant, **params: Any) -> list[int]:
    return [o["Id"] for o in orders(client, tenant, **params)["Results"]]


def test_full_shape_of_an_order(client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    kit_with_components = [(0, 2), (5, 1)]  # a product and the kit (its three components follow it)
    order_id = add_order(
        seller, lines=kit_with_components, pack_id="2000003508553677", pack_size=1, erp_status="x", integrated=True
    )
    from alephee.orders import documents as docs

    with ctx.db.writing() as session:
        order = session.get(Order, order_id)
        assert order is not None
        pdf = b"%PDF-1.4\n%test\n"
        store = docs.store_for(ctx.settings.documents_dir)
        upload = DocumentUpload(doc_type=0, data=pdf, name="factura-1", extension="pdf")
        store_document(session, store, ctx.settings, order, upload)
    body = orders(client, seller, idFrom=order_id, idTo=order_id)
    assert set(body) == ENVELOPE
    [order_json] = body["Results"]
    OrderOut.model_validate(order_json)  # the documented model accepts it
    assert set(order_json) == ORDER_KEYS
    assert set(order_json["SellerAccount"]) == SELLER_KEYS
    assert order_json["SellerAccount"]["Id"] == seller.account_id
    assert set(order_json["MarketPlace"]) == MARKETPLACE_KEYS and order_json["MarketPlace"]["Key"] == 100
    assert set(order_json["Status"]) == KV and set(order_json["StatusType"]) == KV
    assert order_json["Status"]["Key"] == 10 and order_json["StatusType"]["Key"] == 1
    items = order_json["Items"]
    assert [i["Type"]["Value"] for i in items] == ["PRODUCT", "KIT", "COMPONENT", "COMPONENT", "COMPONENT"]
    kit = items[1]
    assert all(c["ParentItemId"] == kit["Id"] for c in items[2:])
    assert all(c["CalculatedComponentUnitPrice"] is not None for c in items[2:])
    assert len({i["Id"] for i in items}) == 5
    for item in items:
        assert set(item) == ITEM_KEYS
        assert set(item["Product"]) == PRODUCT_KEYS
        assert set(item["Product"]["Attributes"]) == ATTRIBUTES_KEYS
        assert set(item["Product"]["Attributes"]["SalesTags"]) == SALES_TAGS_KEYS
        assert set(item["Product"]["Category"]) == KV
        assert set(item["QuantitiesDetails"]) == QUANTITIES_KEYS
        assert set(item["Status"]) == KV and set(item["StatusType"]) == KV
    assert set(items[0]["ProductListing"]) == LISTING_KEYS
    assert set(items[0]["ProductListing"]["ListingType"]) == LISTING_TYPE_KEYS
    [payment] = order_json["Payments"]
    assert set(payment) == PAYMENT_KEYS
    assert set(payment["Taxes"]) == TAXES_KEYS
    for discount in payment["Discounts"]:
        assert set(discount) == DISCOUNT_KEYS
    assert TIMESTAMP.match(payment["DateCreated"]) and TIMESTAMP.match(payment["LastUpdate"])
    shipping = order_json["Shipping"]
    assert set(shipping) == SHIPPING_KEYS
    assert set(shipping["ShippingLabels"]) == LABELS_KEYS
    assert set(shipping["ReceiverAddress"]) == ADDRESS_KEYS
    assert set(shipping["Receiver"]) == {"Name", "Phone"}
    assert set(shipping["LogisticType"]) == KV and shipping["LogisticType"] == {"Key": 3, "Value": "me2"}
    assert isinstance(shipping["ExternalShippingId"], int)
    assert shipping["SenderCost"] is not None and "SellerCost" not in shipping
    buyer = order_json["Buyer"]
    assert set(buyer) == BUYER_KEYS and "OwnCode" not in buyer
    assert set(buyer["Address"]) == ADDRESS_KEYS
    assert set(buyer["BillingInfo"]) == BILLING_INFO_KEYS
    assert set(buyer["BillingInfo"]["Address"]) == ADDRESS_KEYS
    assert set(order_json["Billing"]) == BILLING_KEYS
    assert set(order_json["Billing"]["Invoice"]) == INVOICE_KEYS
    assert set(order_json["Invoice"]) == INVOICE_KEYS
    [document] = order_json["Documents"]
    assert set(document) == DOCUMENT_KEYS
    assert document["Fullfilename"] == "factura-1.pdf" and document["Size"] == len(pdf)
    for claim in order_json["ActiveClaims"]:
        assert set(claim) == CLAIM_KEYS
    assert order_json["PackId"] == "2000003508553677" and order_json["SourcePackId"] == "2000003508553677"
    assert order_json["IsCompletePackOrder"] is True
    assert order_json["Integrated"] is True and order_json["ErpStatus"] == "x"
    for key in ("DateCreated", "LastUpdated"):
        assert TIMESTAMP.match(order_json[key]), key
    assert order_json["DateClosed"] is None and order_json["IsCancelled"] is False


def test_b2b_order_has_adjustments_and_non_cart_orders_have_no_pack(
    client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, marketplace_id=30, origin="b2b", status=st.NO_STATUS, logistic_type=1)
    [order] = orders(client, seller, idFrom=order_id)["Results"]
    assert order["StatusType"] == {"Key": 0, "Value": "Nuevo"}
    [adjustment] = order["Adjustments"]
    assert set(adjustment) == ADJUSTMENT_KEYS
    assert order["PackId"] == "" and order["SourcePackId"] is None and order["IsCompletePackOrder"] is None
    assert order["IntegratedOrderId"] == "" and order["ErpStatus"] == ""


def test_envelope_sorts_and_defaults(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    now = clock.utcnow()
    first = add_order(seller, sale_date=now - timedelta(days=1))
    second = add_order(seller, sale_date=now - timedelta(days=3))
    third = add_order(seller, sale_date=now - timedelta(days=2))
    body = orders(client, seller)
    assert body["Paging"] == {"Limit": 100, "Offset": 0, "Total": 3} and body["Total"] == 3
    assert body["AvailableSorts"] == [
        {"Id": "Id", "Name": "Order by internal ID asc"},
        {"Id": "dateCreated", "Name": "Order by date of sale asc"},
    ]
    assert body["SortBy"] == {"Id": "Id", "Name": "Order by internal ID asc"}
    assert [o["Id"] for o in body["Results"]] == [first, second, third]
    by_date = orders(client, seller, sort="datecreated")
    assert [o["Id"] for o in by_date["Results"]] == [second, third, first]
    assert by_date["SortBy"]["Id"] == "dateCreated"
    assert_error(client.get("/v2/orders", params=seller.q(sort="price")), 400)


def test_206_over_the_cap(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    for _ in range(3):
        add_order(seller)
    response = client.get("/v2/orders", params=seller.q(limit=101))
    assert response.status_code == 206
    assert response.json()["Paging"]["Limit"] == 100 and response.json()["Total"] == 3
    assert client.get("/v2/orders", params=seller.q(limit=2)).json()["Paging"] == {"Limit": 2, "Offset": 0, "Total": 3}
    assert_error(client.get("/v2/orders", params=seller.q(offset=-1)), 416)
    assert_error(client.get("/v2/orders", params=seller.q(limit=0)), 416)


@pytest.mark.parametrize("status", sorted(st.STATUS_LABELS))
def test_status_type_membership(client: TestClient, seller: Tenant, add_order: AddOrder, status: int) -> None:
    order_id = add_order(seller, status=status)
    for status_type in (0, 1, 2, 99):
        found = order_id in ids(client, seller, statusType=status_type)
        assert found == (st.STATUS_TYPE_OF.get(status) == status_type), (status, status_type)
    # Deleted orders (70) belong to no type and never appear, whatever the filters.
    assert (order_id in ids(client, seller)) == (status != st.DELETED)
    assert (order_id in ids(client, seller, Integrated="false", idFrom=order_id)) == (status != st.DELETED)


def test_status_type_and_status_of_cancelled_orders(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, status=st.CANCELLED, lines=[(0, 1), (1, 1)])
    [order] = orders(client, seller, statusType=99)["Results"]
    assert order["Id"] == order_id and order["IsCancelled"] is True
    assert order["Status"] == {"Key": 90, "Value": "Cancelado"} and order["StatusType"] == {
        "Key": 99,
        "Value": "Cancelado",
    }
    assert all(i["IsCancelled"] and i["Status"]["Key"] == 90 for i in order["Items"])
    assert order["DateClosed"] is not None


def test_individually_cancelled_item_stays_cancelled(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, lines=[(0, 1), (1, 1)], cancelled_line=1)
    [order] = orders(client, seller, idFrom=order_id)["Results"]
    assert [i["IsCancelled"] for i in order["Items"]] == [False, True]
    assert order["IsCancelled"] is False


def test_bad_filter_values_are_400(client: TestClient, seller: Tenant) -> None:
    for params in (
        {"statusType": "3"},
        {"statusType": "x"},
        {"idFrom": "abc"},
        {"idTo": "1.5"},
        {"marketplaceId": "ml"},
        {"Integrated": "maybe"},
        {"includePendingPayments": "yes please"},
        {"dateCreatedFrom": "10/05/2024"},
        {"saleDateFrom": "2024-13-01"},
        {"statusDateFrom": "yesterday"},
        {"idFrom": "99999999999999999999999"},
    ):
        assert_error(client.get("/v2/orders", params=seller.q(**params)), 400)


def test_integrated_default_and_explicit(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    fresh = add_order(seller)
    done = add_order(seller, integrated=True, integrated_order_id="ERP-1", erp_status="complete")
    assert ids(client, seller) == [fresh]  # documented default: Integrated=false
    assert ids(client, seller, integrated="false") == [fresh]
    assert ids(client, seller, INTEGRATED="TRUE") == [done]
    # Queries naming orders by status, id or ERP status see integrated orders unless Integrated is sent.
    assert ids(client, seller, statusType=1) == [fresh, done]
    assert ids(client, seller, statusDateFrom="2000-01-01") == [fresh, done]
    assert ids(client, seller, idFrom=done) == [done]
    assert ids(client, seller, idFrom=fresh, idTo=done, Integrated="false") == [fresh]
    assert ids(client, seller, erpStatus="complete") == [done]
    assert ids(client, seller, erpStatus="COMPLETE") == []  # exact match
    [order] = orders(client, seller, Integrated="true")["Results"]
    assert order["IntegratedOrderId"] == "ERP-1" and order["ErpStatus"] == "complete"


def test_integrated_default_can_be_made_strict(make_client: Any, seller: Tenant, add_order: AddOrder) -> None:
    add_order(seller, integrated=True, status=st.CANCELLED)
    strict = make_client(orders_integrated_default_always=True)
    assert strict.get("/v2/orders", params=seller.q(statusType=99)).json()["Total"] == 0


def test_date_filters_are_inclusive_in_three_formats(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    # Account time zone: America/Argentina/Buenos_Aires (UTC-3); filters without an offset are UTC anyway,
    # like every timestamp the API writes.
    early = add_order(seller, sale_date=utc(2024, 5, 10, 12, 59), created_at=utc(2024, 5, 10, 13, 0))
    late = add_order(seller, sale_date=utc(2024, 5, 10, 13, 0), created_at=utc(2024, 5, 10, 13, 1))
    # dateCreatedFrom and saleDateFrom both read DateCreated, the sale date, inclusive.
    for name in ("dateCreatedFrom", "saleDateFrom"):
        assert ids(client, seller, **{name: "2024-05-10 12:59"}) == [early, late]
        assert ids(client, seller, **{name: "2024-05-10 13:00"}) == [late]
        assert ids(client, seller, **{name: "2024-05-10T13:00:00Z"}) == [late]
        assert ids(client, seller, **{name: "2024-05-10T10:00:00-03:00"}) == [late]
        assert ids(client, seller, **{name: "2024-05-10T12:59:30"}) == [late]
        assert ids(client, seller, **{name: "2024-05-10T13:00:01Z"}) == []
        assert ids(client, seller, **{name: "2024-05-10"}) == [early, late]
        assert ids(client, seller, **{name: "2024-05-11"}) == []
    # The account's zone does not move a naive filter (it is UTC, not 12:59 in Buenos Aires = 15:59 UTC).
    assert [o["DateCreated"] for o in orders(client, seller)["Results"]] == [
        "2024-05-10T12:59:00Z",
        "2024-05-10T13:00:00Z",
    ]


def test_status_date_filter(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    old = add_order(seller, status=st.CANCELLED, status_date=utc(2024, 5, 1, 3, 0))
    recent = add_order(seller, status=st.CANCELLED, status_date=utc(2024, 5, 9, 3, 0))
    assert ids(client, seller, statusType=99, statusDateFrom="2024-05-09") == [recent]
    assert ids(client, seller, statusType=99, statusDateFrom="2024-05-01") == [old, recent]
    assert ids(client, seller, statusType=99, statusDateFrom="2024-05-01T03:00:01Z") == [recent]


def test_id_and_external_id_ranges_are_inclusive(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    a = add_order(seller, external_order_id="2000000100")
    b = add_order(seller, external_order_id="2000000200")
    c = add_order(seller, external_order_id="2000000300")
    assert ids(client, seller, idFrom=b) == [b, c]
    assert ids(client, seller, idTo=b) == [a, b]
    assert ids(client, seller, idFrom=b, idTo=b) == [b]
    assert ids(client, seller, idFrom=c + 1) == []
    assert ids(client, seller, externalOrderIdFrom="2000000200") == [b, c]
    assert ids(client, seller, externalOrderIdTo="2000000200") == [a, b]
    assert ids(client, seller, externalOrderIdFrom="2000000150", externalOrderIdTo="2000000250") == [b]


def test_marketplace_filter(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    ml = add_order(seller, marketplace_id=100)
    amazon = add_order(seller, marketplace_id=20, logistic_type=14)
    assert ids(client, seller, marketplaceId=100) == [ml]
    assert ids(client, seller, marketplaceId=20) == [amazon]
    assert ids(client, seller, marketplaceId=1) == []
    [order] = orders(client, seller, marketplaceId=20)["Results"]
    assert order["MarketPlace"]["Key"] == 20 and order["MarketPlace"]["Value"] == "Amazon"


def test_pending_payments(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder, make_client: Any
) -> None:
    approved = add_order(seller)
    pending = add_order(seller, payment_pending=True)
    assert ids(client, seller) == [approved]
    assert ids(client, seller, includePendingPayments="false") == [approved]
    assert ids(client, seller, includePendingPayments="true") == [approved, pending]
    [_, order] = orders(client, seller, includePendingPayments="true")["Results"]
    assert order["Payments"][0]["Status"]["Value"] == "pending" and order["Payments"][0]["DateApproved"] is None
    # Without the privilege the flag has no effect (CF-20.1.4).
    with ctx.db.writing() as session:
        set_account_options(session, seller.account_id, pending_payments=False)
    assert ids(client, seller, includePendingPayments="true") == [approved]
    with ctx.db.writing() as session:
        set_account_options(session, seller.account_id, pending_payments=True)
    assert ids(client, seller, includePendingPayments="true") == [approved, pending]
    # The configured default applies to accounts with no explicit choice.
    other_client = make_client(orders_pending_payments_default=False)
    with ctx.db.writing() as session:
        session.delete(session.get(OrderAccountOptions, seller.account_id))
    assert [
        o["Id"]
        for o in other_client.get("/v2/orders", params=seller.q(includePendingPayments="true")).json()["Results"]
    ] == [approved]


def test_additional_info_selects_optional_blocks(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    add_order(seller, marketplace_id=30, origin="b2b", logistic_type=1)
    [full] = orders(client, seller)["Results"]
    assert full["Adjustments"] and full["Items"][0]["QuantitiesDetails"] is not None and full["ExternalJson"] == {}
    [slim] = orders(client, seller, additionalInfo="Documents, activeclaims")["Results"]
    assert set(slim) == ORDER_KEYS  # keys never disappear
    assert slim["Adjustments"] == [] and slim["Items"][0]["QuantitiesDetails"] is None and slim["Invoice"] is None
    [unknown] = orders(client, seller, additionalInfo="bogus")["Results"]
    assert unknown == full
    [none] = orders(client, seller, additionalInfo="none")["Results"]
    assert none["Adjustments"] == [] and none["Documents"] == []


def test_orders_of_other_accounts_are_invisible(
    client: TestClient, seller: Tenant, add_order: AddOrder, make_tenant: Any
) -> None:
    other = make_tenant(marketplaces=(100,))
    mine = add_order(seller)
    add_order(other)
    assert ids(client, seller) == [mine]
    assert_error(client.get("/v2/orders", params={"API_KEY": seller.api_key, "accountId": other.account_id}), 401)


def walk(client: TestClient, tenant: Tenant, **params: Any) -> tuple[list[int], int]:
    """Page exactly like the public clients: never send limit, offset += 100 until Offset + Limit >= Total."""
    seen: list[int] = []
    offset, requests = 0, 0
    while True:
        query = dict(params)
        if offset:
            query["offset"] = offset
        body = orders(client, tenant, **query)
        requests += 1
        seen.extend(o["Id"] for o in body["Results"])
        paging = body["Paging"]
        if paging["Offset"] + paging["Limit"] >= paging["Total"]:
            return seen, requests
        offset += 100


def test_paging_walk_has_no_duplicates_or_gaps(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    created = [add_order(seller) for _ in range(250)]
    seen, requests = walk(client, seller)
    assert seen == created and requests == 3
    by_date, _ = walk(client, seller, sort="dateCreated")
    assert sorted(by_date) == created and len(set(by_date)) == 250


def test_paging_walk_with_a_page_exactly_full(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    created = [add_order(seller) for _ in range(200)]
    seen, requests = walk(client, seller)
    assert seen == created and requests == 2
    empty_seen, empty_requests = walk(client, seller, idFrom=created[-1] + 1)
    assert empty_seen == [] and empty_requests == 1


def test_resending_date_created_values_as_filters(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    now = clock.utcnow()
    made = [add_order(seller, sale_date=now - timedelta(minutes=50 - i), created_at=now - timedelta(minutes=49 - i))
            for i in range(5)]  # fmt: skip
    results = orders(client, seller)["Results"]
    # A client keeps the last DateCreated it saw and sends it back as a "from" filter, as written or as the
    # public tap re-formats it (yyyy-mm-dd HH:mm): exactly the orders from that one on come back.
    last = results[2]["DateCreated"]
    assert TIMESTAMP.match(last)
    assert ids(client, seller, dateCreatedFrom=last) == made[2:]
    assert ids(client, seller, saleDateFrom=last) == made[2:]
    assert ids(client, seller, dateCreatedFrom=last[:16].replace("T", " ")) == made[2:]


def test_pack_endpoint(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    shared_first = add_order(seller, pack_id="2000000000000001", pack_size=2, external_shipping_id=41000000001)
    incomplete = orders(client, seller, idFrom=shared_first)["Results"][0]
    assert incomplete["IsCompletePackOrder"] is False
    response = client.get("/v2/orders/packs/2000000000000001", params=seller.q())
    assert response.status_code == 200
    assert response.json()["IsComplete"] is False
    second = add_order(seller, pack_id="2000000000000001", pack_size=2, external_shipping_id=41000000001)
    body = client.get("/v2/orders/pack/2000000000000001", params=seller.q()).json()
    assert set(body) == PACK_KEYS
    OrdersPackOut.model_validate(body)
    assert body["Id"] == 2000000000000001 and body["SourcePackId"] == "2000000000000001"
    assert body["IsComplete"] is True
    assert [o["Id"] for o in body["Orders"]] == [shared_first, second]
    assert all(o["IsCompletePackOrder"] is True for o in body["Orders"])
    assert set(body["Marketplace"]) == MARKETPLACE_KEYS and body["Marketplace"]["Key"] == 100
    assert set(body["Shipping"]) == SHIPPING_KEYS and set(body["Buyer"]) == BUYER_KEYS
    assert_error(client.get("/v2/orders/packs/999", params=seller.q()), 404)
    assert_error(client.get("/v2/orders/packs/2000000000000001", params={"API_KEY": seller.api_key}), 401)


def test_the_orders_route_checks_key_then_limit_then_its_own_values(
    client: TestClient, make_tenant: Any, add_order: AddOrder
) -> None:
    """GET /v2/orders reads its query itself (one thread hand-off): same order of checks as every route."""
    from tests.fixtures.errors import assert_rate_headers

    seller = make_tenant(marketplaces=_orders_fixtures.MARKETPLACES, rate_limit=2)
    add_order(seller)
    # A bad key wins over a bad value (401 before 416/400), and consumes no quota.
    bad_key = {"API_KEY": "nope", "accountId": seller.account_id, "offset": -1}
    assert_error(client.get("/v2/orders", params=bad_key), 401)
    assert_error(client.get("/v2/orders", params={"API_KEY": seller.api_key, "offset": -1}), 401)
    # Names bind case-insensitively, then the values are checked.
    refused = client.get("/v2/orders", params={"api_key": seller.api_key, "ACCOUNTID": seller.account_id, "OFFSET": -1})
    assert_error(refused, 416)
    assert_rate_headers(refused)
    page = client.get(
        "/v2/orders", params={"Api_Key": seller.api_key, "accountid": seller.account_id, "integrated": "FALSE"}
    )
    assert page.status_code == 200 and page.json()["Total"] == 1
    assert_rate_headers(page)
    # The 416 and the 200 used the key's budget of 2 (the 401s did not): the next one is refused.
    over = client.get("/v2/orders", params=seller.q())
    assert_error(over, 429)
    assert over.headers["x-ratelimit-remaining"] == "0"


def test_the_documented_filters_are_exactly_the_ones_parsed() -> None:
    """The OpenAPI parameters of GET /v2/orders and the parser share one table (FILTER_DOCS)."""
    read: list[str] = []

    class Recording(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
            read.append(key)
            return super().get(key, default)

    parse_filters(Recording())
    assert sorted(read) == sorted(FILTER_DOCS)
