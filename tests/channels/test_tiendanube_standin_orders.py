"""The Tiendanube stand-in's orders over HTTP: a buyer's order (stock taken, line items with int64 ids), the v1
and ``2025-03`` shapes, list filters and paging, ``POST /orders`` (placeholders, ``bypass``/``claim``), ``PUT``,
close/open/cancel (reason, restock, refused transitions), v1 pack/fulfill (absent on ``2025-03``), fulfillment
orders (workflow, tracking info, tracking events, delivered) and their effect on the order, and the market."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from alephee.channels.tiendanube.standin.common import now
from alephee.channels.tiendanube.standin.market import Market
from tests.channels.tiendanube_standin_kit import Kit, open_kit, product_body


def with_product(kit: Kit) -> dict[str, Any]:
    answer = kit.send("POST", "products", product_body())
    assert answer.status_code == 201
    return dict(answer.json())


def stock_of(kit: Kit, product_id: int) -> list[int | None]:
    return [variant["stock"] for variant in kit.get(f"products/{product_id}").json()["variants"]]


def test_a_buyer_order_takes_stock_and_reads_in_both_versions(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = with_product(kit)
    small = product["variants"][0]["id"]
    order = kit.standin.place_order(kit.store_id, [(small, 3)])
    assert stock_of(kit, product["id"]) == [7, 5]
    v1 = kit.get(f"orders/{order['id']}").json()
    assert (v1["number"], v1["status"], v1["payment_status"], v1["shipping_status"]) == (
        100,
        "open",
        "paid",
        "unpacked",
    )
    assert v1["storefront"] == "store" and v1["store_id"] == str(kit.store_id) and v1["currency"] == "ARS"
    (line,) = v1["products"]
    assert line["id"] > 2**32 and line["variant_id"] == str(small) and line["quantity"] == "3"
    assert (line["price"], line["sku"], line["product_id"]) == ("100.00", "REM-S", product["id"])
    assert (v1["subtotal"], v1["total"]) == ("300.00", "300.00")
    assert v1["completed_at"]["timezone"] == "UTC" and v1["paid_at"] is not None
    assert "shipping_tracking_number" in v1 and "shipping_option" in v1 and "next_action" in v1
    current = kit.get(f"orders/{order['id']}", version="2025-03").json()
    assert "shipping_tracking_number" not in current and "shipping_option" not in current
    assert current["fulfillments"] == v1["fulfillments"] and len(current["fulfillments"]) == 1
    full = kit.get(f"orders/{order['id']}", version="2025-03", aggregates="fulfillment_orders").json()
    assert full["fulfillment_orders"][0]["status"] == "UNPACKED"
    pending = kit.standin.place_order(kit.store_id, [(small, 1)], paid=False)
    assert pending["payment_status"] == "pending" and pending["number"] == 101
    paid = kit.standin.pay_order(kit.store_id, pending["id"])
    assert paid["payment_status"] == "paid"


def test_list_filters_and_paging(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    variant = with_product(kit)["variants"][1]["id"]
    paid = kit.standin.place_order(kit.store_id, [(variant, 1)])
    pending = kit.standin.place_order(kit.store_id, [(variant, 1)], paid=False)
    listed = kit.get("orders", per_page=1)
    assert listed.headers["x-total-count"] == "2" and 'rel="next"' in listed.headers["link"]
    assert [o["id"] for o in kit.get("orders", payment_status="pending").json()] == [pending["id"]]
    assert [o["id"] for o in kit.get("orders", status="open", payment_status="paid").json()] == [paid["id"]]
    assert kit.get("orders", updated_at_min="2999-01-01T00:00:00+0000").json() == []
    assert kit.get("orders", fields="id,number,updated_at").json()[0] == {
        "id": paid["id"], "number": 100, "updated_at": paid["updated_at"]}  # fmt: skip
    assert kit.get("orders", since_id=paid["id"]).json()[0]["id"] == pending["id"]
    assert [o["id"] for o in kit.get("orders", q="101").json()] == [pending["id"]]
    assert kit.get("orders", status="weird").status_code == 400
    assert kit.get("orders/1").json() == {
        "code": 404, "message": "Not Found", "description": "Order with such id does not exist"}  # fmt: skip


def test_post_orders(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = with_product(kit)
    variant = product["variants"][1]["id"]
    answer = kit.send("POST", "orders", {"products": [{"variant_id": variant, "quantity": 2, "price": 19.0}],
                                         "payment_status": "paid"})  # fmt: skip
    assert answer.status_code == 201
    order = answer.json()
    assert (order["storefront"], order["app_id"], order["contact_email"]) == ("api", 4321, "email@noinformado.com")
    assert order["billing_name"] == "No informado" and order["shipping_address"]["zipcode"] == "0000"
    assert order["total"] == "38.00" and stock_of(kit, product["id"]) == [10, 5]  # bypass: stock untouched
    claim = kit.send("POST", "orders", {"products": [{"variant_id": variant, "quantity": 2}],
                                        "inventory_behaviour": "claim"})  # fmt: skip
    assert claim.status_code == 201 and claim.json()["payment_status"] == "pending"
    assert stock_of(kit, product["id"]) == [10, 3]
    short = kit.send("POST", "orders", {"products": [{"variant_id": variant, "quantity": 9}],
                                        "inventory_behaviour": "claim"})  # fmt: skip
    assert short.status_code == 422
    assert kit.send("POST", "orders", {"products": []}).status_code == 422
    assert kit.send("POST", "orders", {"products": [{"variant_id": 1, "quantity": 1}]}).status_code == 422


def test_put_close_open_cancel(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = with_product(kit)
    order = kit.standin.place_order(kit.store_id, [(product["variants"][0]["id"], 4)])
    oid = order["id"]
    noted = kit.send("PUT", f"orders/{oid}", {"owner_note": "Need to gift wrap this order"}).json()
    assert noted["owner_note"] == "Need to gift wrap this order"
    closed = kit.send("POST", f"orders/{oid}/close").json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert kit.send("POST", f"orders/{oid}/close").status_code == 422
    assert kit.send("POST", f"orders/{oid}/open").json()["status"] == "open"
    assert stock_of(kit, product["id"]) == [6, 5]
    cancelled = kit.send("POST", f"orders/{oid}/cancel", {"reason": "customer", "email": False, "restock": True})
    body = cancelled.json()
    assert (body["status"], body["cancel_reason"], body["payment_status"]) == ("cancelled", "customer", "refunded")
    assert body["cancelled_at"] is not None and stock_of(kit, product["id"]) == [10, 5]
    again = kit.send("POST", f"orders/{oid}/cancel", {"reason": "customer"})
    assert again.status_code == 422 and again.json()["code"] == 422
    other = kit.standin.place_order(kit.store_id, [(product["variants"][0]["id"], 1)], paid=False)
    kept = kit.send("POST", f"orders/{other['id']}/cancel", {"reason": "fraud", "restock": False}).json()
    assert kept["payment_status"] == "voided" and stock_of(kit, product["id"]) == [9, 5]
    assert kit.send("POST", f"orders/{other['id']}/cancel", {"reason": "bored"}).status_code == 422


def test_v1_pack_and_fulfill(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    order = kit.standin.place_order(kit.store_id, [(with_product(kit)["variants"][0]["id"], 1)])
    oid = order["id"]
    assert kit.send("POST", f"orders/{oid}/pack", version="2025-03").status_code == 404
    assert kit.send("POST", f"orders/{oid}/fulfill", {}, version="2025-03").status_code == 404
    packed = kit.send("POST", f"orders/{oid}/pack").json()
    assert packed["shipping_status"] == "unfulfilled"
    assert kit.get(f"orders/{oid}", version="2025-03").json()["shipping_status"] == "unshipped"
    assert kit.send("POST", f"orders/{oid}/pack").status_code == 422
    tracking = {"shipping_tracking_number": "OA123456789BR",
                "shipping_tracking_url": "https://tracking.example/OA123456789BR", "notify_customer": True}  # fmt: skip
    fulfilled = kit.send("POST", f"orders/{oid}/fulfill", tracking).json()
    assert fulfilled["shipping_status"] == "fulfilled" and fulfilled["shipped_at"] is not None
    assert fulfilled["shipping_tracking_number"] == "OA123456789BR"
    assert fulfilled["shipping_tracking_url"] == "https://tracking.example/OA123456789BR"
    (fo,) = kit.get(f"orders/{oid}/fulfillment-orders", version="2025-03").json()
    assert fo["status"] == "DISPATCHED" and fo["tracking_info"]["code"] == "OA123456789BR"
    assert kit.get(f"orders/{oid}", version="2025-03").json()["shipping_status"] == "shipped"
    assert [o["id"] for o in kit.get("orders", shipping_status="fulfilled").json()] == [oid]
    assert kit.get("orders", shipping_status="unpacked").json() == []


def test_fulfillment_orders(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    order = kit.standin.place_order(kit.store_id, [(with_product(kit)["variants"][0]["id"], 2)])
    oid = order["id"]
    (fo,) = kit.get(f"orders/{oid}/fulfillment-orders", version="2025-03").json()
    assert len(fo["id"]) == 26 and fo["status"] == "UNPACKED" and fo["total_quantity"] == 2
    assert fo["shipping"]["type"] == "ship" and fo["line_items"][0]["variant"]["variant_id"] > 0
    assert fo["total_price"] == {"value": "200.00", "currency": "ARS"}
    path = f"orders/{oid}/fulfillment-orders/{fo['id']}"
    assert kit.get(path, version="2025-03").json()["id"] == fo["id"]
    missing = kit.get(f"orders/{oid}/fulfillment-orders/01FHZXHK8PTP9FVK99Z66GXKKK", version="2025-03")
    assert missing.status_code == 404 and set(missing.json()) == {"description", "message"}
    early = kit.send("POST", f"{path}/tracking-events", {"status": "in_transit", "description": "x"}, version="2025-03")
    assert early.status_code == 400
    packed = kit.send("PATCH", path, {"status": "PACKED"}, version="2025-03").json()
    assert packed["status"] == "PACKED" and [h["status"] for h in packed["status_history"]] == ["UNPACKED", "PACKED"]
    assert kit.get(f"orders/{oid}").json()["shipping_status"] == "unfulfilled"
    back = kit.send("PATCH", path, {"status": "UNPACKED"}, version="2025-03")
    assert back.status_code == 200  # going back is allowed only from PACKED
    kit.send("PATCH", path, {"status": "PACKED"}, version="2025-03")
    dispatch = {"status": "DISPATCHED", "tracking_info": {"code": "BR123", "url": "https://track.example/BR123"}}
    dispatched = kit.send("PATCH", path, dispatch, version="2025-03").json()
    assert dispatched["tracking_info"] == {
        "code": "BR123",
        "url": "https://track.example/BR123",
        "notify_customer": False,
    }
    refused = kit.send("PATCH", path, {"status": "UNPACKED"}, version="2025-03")
    assert refused.status_code == 422 and set(refused.json()) == {"description", "messages"}
    frozen = kit.send("PATCH", path, {"recipient": {"name": "Otro"}}, version="2025-03")
    assert frozen.status_code == 422
    event = {"status": "in_transit", "description": "On its way", "happened_at": "2026-01-02T10:00:00+00:00"}
    created = kit.send("POST", f"{path}/tracking-events", event, version="2025-03")
    assert created.status_code == 201 and len(created.json()["id"]) == 26
    twin = kit.send("POST", f"{path}/tracking-events", event, version="2025-03")
    assert twin.status_code == 400
    assert twin.json()["description"] == "The tracking event must not be identical to an existing tracking event"
    later = event | {"happened_at": "2026-01-02T10:05:00+00:00"}
    assert kit.send("POST", f"{path}/tracking-events", later, version="2025-03").status_code == 201
    events = kit.get(f"{path}/tracking-events", version="2025-03").json()
    assert len(events) == 2
    invalid = kit.send("POST", f"{path}/tracking-events", {"status": "in_transit"}, version="2025-03")
    assert invalid.status_code == 422 and "description" in invalid.json()["messages"]
    delivered = {"status": "delivered", "description": "Delivered", "happened_at": "2026-01-03T12:00:00+00:00"}
    assert kit.send("POST", f"{path}/tracking-events", delivered, version="2025-03").status_code == 201
    final = kit.get(path, version="2025-03").json()
    assert final["status"] == "DELIVERED" and final["fulfilled_at"] == "2026-01-03T12:00:00+00:00"
    assert kit.get(f"orders/{oid}", version="2025-03").json()["shipping_status"] == "delivered"
    assert kit.get(f"orders/{oid}").json()["shipping_status"] == "fulfilled"
    event_id = events[0]["id"]
    assert kit.send("DELETE", f"{path}/tracking-events/{event_id}", version="2025-03").status_code == 204
    assert kit.get(f"{path}/tracking-events/{event_id}", version="2025-03").status_code == 404


def test_the_market_sells_pays_and_delivers(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = with_product(kit)
    market = Market(kit.standin, seed=3)
    for _ in range(6):
        market.tick()
    placed = kit.get("orders").json()
    assert placed and all(order["storefront"] == "store" for order in placed)
    assert sum(int(o["products"][0]["quantity"]) for o in placed) == 15 - sum(
        s or 0 for s in stock_of(kit, product["id"])
    )
    first = placed[0]["id"]
    kit.send("POST", f"orders/{first}/fulfill", {"shipping_tracking_number": "T1"})
    assert market.tick()["Delivered"] == 0
    assert market.tick(now() + timedelta(minutes=6))["Delivered"] == 1
    assert kit.get(f"orders/{first}", version="2025-03").json()["shipping_status"] == "delivered"


def test_bad_input_is_refused_in_the_documented_shape(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    variant = with_product(kit)["variants"][0]["id"]
    order = kit.standin.place_order(kit.store_id, [(variant, 1)])
    status = kit.send("PUT", f"orders/{order['id']}", {"status": "shipped"})
    assert status.status_code == 422 and status.json()["status"] == ["The selected status is invalid."]
    huge = kit.send("POST", "orders", {"products": [{"variant_id": variant, "quantity": 1, "price": "9" * 30}]})
    assert huge.status_code == 422
    assert kit.get("orders", total_min="9" * 30).status_code == 422
    odd = kit.send("POST", "orders", {"products": [{"variant_id": variant, "quantity": 1}], "fulfillment": "lost"})
    assert odd.status_code == 422
    line = {"variant_id": variant, "quantity": 1}
    shipped = kit.send(
        "POST", "orders", {"products": [line], "fulfillment": "fulfilled", "shipping_pickup_type": "ship"}
    )
    assert shipped.json()["shipping_status"] == "fulfilled"
    (fo,) = kit.get(f"orders/{shipped.json()['id']}/fulfillment-orders").json()
    assert fo["status"] == "DISPATCHED"


def test_the_customer_object_needs_a_customers_scope(tmp_path: Path) -> None:
    kit = open_kit(tmp_path, scopes=("write_products", "write_orders"))
    order = kit.standin.place_order(kit.store_id, [(with_product(kit)["variants"][0]["id"], 1)])
    read = kit.get(f"orders/{order['id']}").json()
    assert read["customer"] is None and read["contact_email"] == "lucia@buyer.example"
    assert kit.get("orders").json()[0]["customer"] is None
    (tmp_path / "granted").mkdir()
    granted = open_kit(tmp_path / "granted")
    order = granted.standin.place_order(granted.store_id, [(with_product(granted)["variants"][0]["id"], 1)])
    assert granted.get(f"orders/{order['id']}").json()["customer"]["email"] == "lucia@buyer.example"
