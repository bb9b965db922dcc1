"""The stand-in's sales over HTTP: a purchase through the test hook makes the order, pack, payment and
shipment and takes the stock; the order search (statuses, hour-granular dates, sorts, paging); packs and billing
info; shipments in the new format; labels with their preconditions and the printed transition; fiscal documents."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from alephee import clock
from tests.fixtures.mercadolibre import BRAZIL, OTHER, SELLER, StandIn

ORDER_FIELDS = {
    "id", "date_created", "last_updated", "date_closed", "pack_id", "fulfilled", "buying_mode", "shipping_cost",
    "mediations", "total_amount", "paid_amount", "order_items", "currency_id", "payments", "shipping", "status",
    "status_detail", "tags", "feedback", "context", "seller", "buyer", "taxes", "cancel_detail",
    "manufacturing_ending_date", "order_request",
}  # fmt: skip
LOCAL_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-03:00$")
PACK_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-0300$")


def test_a_purchase_makes_order_pack_shipment_and_takes_the_stock(ml: StandIn) -> None:
    item = ml.item(available_quantity=3)
    answer = ml.api.post("/_test/orders", json={"item_id": item["id"], "quantity": 2, "buyer": {"nickname": "COMPRA"}})
    assert answer.status_code == 201, answer.text
    order = answer.json()
    assert set(order) >= ORDER_FIELDS
    assert 2000000000000000 < order["id"] < 2000000100000000 and order["pack_id"] > 2000000100000000
    assert 44000000000 < order["shipping"]["id"] < 45000000000 and 1e9 <= order["buyer"]["id"] < 2e9
    assert (order["status"], order["total_amount"], order["paid_amount"]) == ("paid", 700, 700)
    assert LOCAL_MS.match(order["date_created"]) and LOCAL_MS.match(order["last_updated"])
    line = order["order_items"][0]
    assert (line["item"]["id"], line["item"]["seller_sku"], line["quantity"], line["unit_price"]) == (
        item["id"], "SKU-1", 2, 350
    )  # fmt: skip
    assert order["payments"][0]["status"] == "approved" and order["seller"]["id"] == SELLER.id
    read = ml.api.get(f"/orders/{order['id']}", headers=ml.headers())
    assert read.status_code == 200 and read.json() == order
    stock = ml.api.get(f"/items/{item['id']}", headers=ml.headers()).json()
    assert (stock["available_quantity"], stock["sold_quantity"], stock["status"]) == (1, 2, "active")
    ml.standin.buy(item["id"])
    paused = ml.api.get(f"/items/{item['id']}", headers=ml.headers()).json()
    assert (paused["status"], paused["sub_status"]) == ("paused", ["out_of_stock"])
    assert ml.api.post("/_test/orders", json={"item_id": item["id"]}).status_code == 400


def test_order_refusals(ml: StandIn) -> None:
    order = ml.standin.buy(ml.item()["id"])
    other = ml.api.get(f"/orders/{order['id']}", headers=ml.headers(OTHER))
    assert (other.status_code, other.json()["error"]) == (403, "not_owned_order")
    missing = ml.api.get("/orders/2000000000009999", headers=ml.headers())
    assert (missing.status_code, missing.json()["error"]) == (404, "order_not_found")
    assert ml.api.get("/orders/abc", headers=ml.headers()).json()["error"] == "invalid_order_id"
    assert ml.api.get(f"/orders/{order['id']}").status_code == 401


def test_pack_joins_orders_and_dates_have_no_colon(ml: StandIn) -> None:
    first_item, second_item = ml.item(), ml.item()
    first = ml.standin.buy(first_item["id"])
    second = ml.standin.buy(second_item["id"], pack_with=[first["id"]])
    assert second["pack_id"] == first["pack_id"] and second["shipping"] == first["shipping"]
    pack = ml.api.get(f"/packs/{first['pack_id']}", headers=ml.headers()).json()
    assert set(pack) == {"shipment", "orders", "id", "status", "status_detail", "buyer", "date_created", "last_updated"}
    assert pack["orders"] == [{"id": first["id"]}, {"id": second["id"]}]
    assert pack["shipment"] == {"id": first["shipping"]["id"]} and pack["status"] == "released"
    assert PACK_DATE.match(pack["date_created"]) and PACK_DATE.match(pack["last_updated"])
    assert "pack_order" in ml.api.get(f"/orders/{first['id']}", headers=ml.headers()).json()["tags"]
    assert ml.api.get(f"/packs/{first['pack_id']}", headers=ml.headers(OTHER)).status_code == 403
    assert ml.api.get("/packs/2000000109999999", headers=ml.headers()).json()["message"] == "Order do not exists"
    billing = ml.api.get(f"/orders/{first['id']}/billing_info", headers=ml.headers(**{"x-version": "2"})).json()
    assert billing["buyer"]["cust_id"] == first["buyer"]["id"] and billing["site_id"] == "MLA"
    assert billing["buyer"]["billing_info"]["identification"]["type"] == "DNI"


def test_cancel_refunds_gives_stock_back_and_closes_pack_and_shipment(ml: StandIn) -> None:
    item = ml.item(available_quantity=1)
    order = ml.standin.buy(item["id"])
    answer = ml.api.post(f"/_test/orders/{order['id']}/cancel")
    assert answer.status_code == 200
    cancelled = ml.api.get(f"/orders/{order['id']}", headers=ml.headers()).json()
    assert cancelled["status"] == "cancelled" and cancelled["cancel_detail"]["requested_by"] == "buyer"
    assert cancelled["payments"][0]["status"] == "refunded"
    restored = ml.api.get(f"/items/{item['id']}", headers=ml.headers()).json()
    assert (restored["available_quantity"], restored["status"]) == (1, "active")
    assert ml.api.get(f"/packs/{order['pack_id']}", headers=ml.headers()).json()["status"] == "cancelled"
    shipment = ml.api.get(f"/shipments/{order['shipping']['id']}", headers=ml.headers(**{"x-format-new": "true"}))
    assert shipment.json()["status"] == "cancelled"


def test_order_search_by_status_hour_granular_dates_sort_and_paging(ml: StandIn) -> None:
    item = ml.item()
    with clock.frozen(datetime(2026, 3, 10, 14, 20, tzinfo=UTC)):  # 11:20 in Buenos Aires
        early = ml.standin.buy(item["id"])
    with clock.frozen(datetime(2026, 3, 10, 16, 5, tzinfo=UTC)):
        late = ml.standin.buy(item["id"])
        ml.standin.cancel_order(late["id"])
    ml.standin.buy(ml.item(OTHER)["id"])
    url, headers = "/orders/search", ml.headers()

    def ids(**params: str) -> list[int]:
        answer = ml.api.get(url, params={"seller": str(SELLER.id)} | params, headers=headers)
        assert answer.status_code == 200, answer.text
        return [order["id"] for order in answer.json()["results"]]

    assert ids() == [early["id"], late["id"]]
    assert ids(sort="date_desc") == [late["id"], early["id"]]
    assert ids(**{"order.status": "paid"}) == [early["id"]]
    # Minutes are dropped: from 11:59 means from 11:00, so the 11:20 order is in; to 11:10 means to 11:00.
    assert ids(**{"order.date_last_updated.from": "2026-03-10T11:59:00.000-03:00"}) == [early["id"], late["id"]]
    assert ids(**{"order.date_last_updated.from": "2026-03-10T12:00:00.000-03:00"}) == [late["id"]]
    assert ids(**{"order.date_last_updated.to": "2026-03-10T11:10:00.000-03:00"}) == []
    assert ids(**{"order.date_last_updated.to": "2026-03-10T14:30:00.000Z"}) == []  # to 14:00 UTC
    assert ids(**{"order.date_last_updated.to": "2026-03-10T15:10:00.000Z"}) == [early["id"]]
    body = ml.api.get(url, params={"seller": str(SELLER.id), "limit": "1"}, headers=headers).json()
    assert body["paging"] == {"total": 2, "offset": 0, "limit": 1}
    assert body["sort"] == {"id": "date_asc", "name": "Date ascending"} and body["display"] == "complete"
    assert body["results"][0]["date_last_updated"] == "2026-03-10T14:20:00.000Z"
    assert ml.api.get(url, params={"seller": str(SELLER.id), "limit": "51"}, headers=headers).status_code == 400
    assert ml.api.get(url, params={"seller": str(OTHER.id)}, headers=headers).status_code == 403
    assert ml.api.get(url, headers=headers).status_code == 400


def test_shipment_needs_the_new_format_header_and_has_no_order_id(ml: StandIn) -> None:
    order = ml.standin.buy(ml.item()["id"], quantity=2)
    url = f"/shipments/{order['shipping']['id']}"
    without = ml.api.get(url, headers=ml.headers())
    assert without.status_code == 400 and without.json()["status"] == 400
    shipment = ml.api.get(url, headers=ml.headers(**{"x-format-new": "true"})).json()
    assert "order_id" not in shipment and "external_reference" not in shipment
    assert (shipment["status"], shipment["substatus"]) == ("ready_to_ship", "ready_to_print")
    assert shipment["logistic"] == {"mode": "me2", "type": "drop_off", "direction": "forward"}
    assert LOCAL_MS.match(shipment["date_created"]) and shipment["destination"]["receiver_id"] == order["buyer"]["id"]
    assert ml.api.get(url, headers=ml.headers(OTHER, **{"x-format-new": "true"})).status_code == 403
    lines = ml.api.get(f"{url}/orders", headers=ml.headers(**{"x-format-new": "true"})).json()
    assert lines == [
        {
            "order_id": str(order["id"]),
            "pack_id": str(order["pack_id"]),
            "item_id": order["order_items"][0]["item"]["id"],
            "variation_id": None,
            "user_product_id": None,
            "seller_id": str(SELLER.id),
            "requested_quantity": {"value": 2, "measure": "unit"},
        }
    ]
    moved = ml.api.post(f"/_test/shipments/{order['shipping']['id']}/status", json={"status": "shipped"})
    assert moved.status_code == 200 and moved.json()["status"] == "shipped"
    history = ml.api.get(f"{url}/history", headers=ml.headers()).json()
    assert [entry["status"] for entry in history] == ["ready_to_ship", "shipped"]


def test_labels_preconditions_formats_and_printed(ml: StandIn) -> None:
    item = ml.item()
    printable = ml.standin.buy(item["id"])["shipping"]["id"]
    full = ml.standin.buy(item["id"], logistic_type="fulfillment")["shipping"]["id"]
    headers = ml.headers()

    def labels(ids: str, kind: str = "pdf") -> tuple[int, bytes, dict[str, object]]:
        answer = ml.api.get("/shipment_labels", params={"shipment_ids": ids, "response_type": kind}, headers=headers)
        return answer.status_code, answer.content, answer.json() if answer.status_code != 200 else {}

    status, pdf, _ = labels(str(printable))
    assert status == 200 and pdf.startswith(b"%PDF-")
    shipment = ml.api.get(f"/shipments/{printable}", headers=ml.headers(**{"x-format-new": "true"})).json()
    assert shipment["substatus"] == "printed"
    status, zpl, _ = labels(str(printable), "zpl2")
    assert status == 200 and zpl.startswith(b"^XA") and zpl.rstrip().endswith(b"^XZ")
    assert labels(str(full))[2]["error"] == "invalid_shipment_ff_public"
    ml.standin.set_shipment_status(printable, "shipped")
    assert labels(str(printable))[2]["error"] == "not_printable_status"
    assert labels(",".join(str(printable + n) for n in range(51)))[2]["error"] == "shipment_ids"
    assert labels("abc")[0] == 404
    other = ml.standin.buy(ml.item(OTHER)["id"])["shipping"]["id"]
    assert labels(str(other))[2]["error"] == "invalid_shipment_caller"


def test_one_fiscal_document_per_pack(ml: StandIn) -> None:
    order = ml.standin.buy(ml.item()["id"])
    url, headers = f"/packs/{order['pack_id']}/fiscal_documents", ml.headers()
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    not_pdf = ml.api.post(url, files={"fiscal_document": ("f.pdf", b"hello", "application/pdf")}, headers=headers)
    assert not_pdf.status_code == 400
    too_big = ml.api.post(url, files={"fiscal_document": ("f.pdf", pdf + b"0" * 1024 * 1024)}, headers=headers)
    assert too_big.status_code == 400
    assert ml.api.post(url, files={"other": ("f.pdf", pdf)}, headers=headers).status_code == 400
    sent = ml.api.post(url, files={"fiscal_document": ("Factura.pdf", pdf, "application/pdf")}, headers=headers)
    assert sent.status_code == 200, sent.text
    ids = sent.json()["ids"]
    assert len(ids) == 1 and ids[0].startswith(f"{SELLER.id}_")
    second = ml.api.post(url, files={"fiscal_document": ("Factura.pdf", pdf, "application/pdf")}, headers=headers)
    assert second.status_code == 409
    listed = ml.api.get(url, headers=headers).json()["fiscal_documents"]
    assert [(d["id"], d["file_type"], d["filename"]) for d in listed] == [(ids[0], "application/pdf", "Factura.pdf")]
    assert ml.api.get(f"{url}/{ids[0]}", headers=headers).content == pdf
    assert ml.api.get(url, headers=ml.headers(OTHER)).status_code == 403
    brazil = ml.standin.buy(ml.item(BRAZIL)["id"])
    refused = ml.api.post(
        f"/packs/{brazil['pack_id']}/fiscal_documents",
        files={"fiscal_document": ("nf.pdf", pdf, "application/pdf")},
        headers=ml.headers(BRAZIL),
    )
    assert refused.status_code == 400 and refused.json()["error"] == "not_available_for_site"


def test_variation_purchase_and_fraud_tag(ml: StandIn) -> None:
    variations = [
        {"attribute_combinations": [{"id": "COLOR", "value_name": c}], "available_quantity": 1,
         "attributes": [{"id": "SELLER_SKU", "value_name": f"SKU-{c}"}]}
        for c in ("Rojo", "Azul")
    ]  # fmt: skip
    item = ml.item(variations=variations)
    red, blue = (v["id"] for v in item["variations"])
    assert ml.api.post("/_test/orders", json={"item_id": item["id"]}).status_code == 400  # which variation?
    order = ml.standin.buy(item["id"], variation_id=red, fraud=True)
    line = order["order_items"][0]["item"]
    assert (line["variation_id"], line["seller_sku"]) == (red, "SKU-Rojo")
    assert line["variation_attributes"][0]["value_name"] == "Rojo"
    assert "fraud_risk_detected" in order["tags"]
    after = ml.api.get(f"/items/{item['id']}", headers=ml.headers()).json()
    assert [(v["id"], v["available_quantity"]) for v in after["variations"]] == [(red, 0), (blue, 1)]
    assert (after["available_quantity"], after["status"]) == (1, "active")
