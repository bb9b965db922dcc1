"""Sales: a purchase makes an order, its pack, an approved payment and a me2 shipment
(new format, no ``order_id``) and takes the stock; a cancellation refunds and gives the stock back; shipments move
through their statuses. Reads: one order, the order search (dates honoured at the hour), the pack, billing info."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alephee.channels.mercadolibre.standin import items
from alephee.channels.mercadolibre.standin.common import (
    as_int,
    int_param,
    local_text,
    now,
    pack_text,
    parse_date,
    public,
    refuse,
    utc_text,
)
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Tx

SALE_FEE_RATE = 0.13
MAX_ORDER_LIMIT = 50
SORTS = {"date_asc": "Date ascending", "date_desc": "Date descending"}
PRINTABLE_TYPES = {"drop_off", "xd_drop_off", "cross_docking", "self_service"}


def _owned(tx: Tx, kind: str, key: int, seller_id: int | None, what: str) -> dict[str, Any]:
    document = tx.get(kind, key)
    if document is None:
        raise refuse(404, f"{kind}_not_found", f"{what} {key} not found")
    if seller_id is not None and document["_seller_id"] != seller_id:
        raise refuse(403, "forbidden", f"The user {seller_id} has not access to the {kind} {key}")
    return document


def order(tx: Tx, order_id: int, seller_id: int | None = None) -> dict[str, Any]:
    """The stored order (403 ``not_owned_order`` for another seller, 404 ``order_not_found``)."""
    found = tx.get("order", order_id)
    if found is None:
        raise refuse(404, "order_not_found", f"Order {order_id} not found")
    if seller_id is not None and found["seller"]["id"] != seller_id:
        raise refuse(403, "not_owned_order", f"The order {order_id} does not belong to the caller {seller_id}")
    return found


def pack(tx: Tx, pack_id: int, seller_id: int | None = None) -> dict[str, Any]:
    """The stored pack (404 ``Order do not exists``, 403 ``The user has not access to the order``)."""
    found = tx.get("pack", pack_id)
    if found is None:
        raise refuse(404, "not_found", "Order do not exists")
    if seller_id is not None and found["_seller_id"] != seller_id:
        raise refuse(403, "forbidden", "The user has not access to the order")
    return found


def shipment(tx: Tx, shipment_id: int, seller_id: int | None = None) -> dict[str, Any]:
    """The stored shipment (404, or 403 for another seller's)."""
    return _owned(tx, "shipment", shipment_id, seller_id, "Shipment")


def _save_order(tx: Tx, notifier: Notifier, found: dict[str, Any], moment: datetime) -> None:
    site = found["context"]["site"]
    found["last_updated"] = local_text(moment, site)
    tx.put("order", found["id"], found, owner=found["seller"]["id"])
    notifier.emit(tx, "orders_v2", f"/orders/{found['id']}", found["seller"]["id"])


def save_shipment(tx: Tx, notifier: Notifier, found: dict[str, Any], moment: datetime) -> None:
    """Store the shipment (stamping ``last_updated`` and its history) and notify ``shipments``."""
    found["last_updated"] = local_text(moment, found["source"]["site_id"])
    found["_history"] = [*found.get("_history", []), {"status": found["status"], "substatus": found["substatus"],
                                                      "date": found["last_updated"]}]  # fmt: skip
    tx.put("shipment", found["id"], found, owner=found["_seller_id"])
    notifier.emit(tx, "shipments", f"/shipments/{found['id']}", found["_seller_id"])


def _buyer(tx: Tx, sent: dict[str, Any] | None) -> dict[str, Any]:
    sent = sent or {}
    buyer_id = as_int(sent.get("id")) or tx.next_id("buyer", 1000000000)
    known = tx.get("buyer", buyer_id) or {}
    buyer = (
        {
            "id": buyer_id,
            "nickname": f"TESTBUYER{buyer_id % 100000}",
            "first_name": "Test",
            "last_name": "Buyer",
            "identification": {"type": "DNI", "number": str(20000000 + buyer_id % 10000000)},
        }
        | known
        | {key: value for key, value in sent.items() if key != "id"}
    )
    tx.put("buyer", buyer_id, buyer, owner=buyer_id)
    return buyer


def buy(tx: Tx, notifier: Notifier, request: dict[str, Any]) -> dict[str, Any]:
    """A buyer purchases ``quantity`` of an active item (optionally joining the pack of ``pack_with`` orders)."""
    item = items.get(tx, str(request.get("item_id")))
    quantity = request.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise refuse(400, "bad_request", "quantity must be a positive integer")
    variation_id = as_int(request.get("variation_id")) if request.get("variation_id") is not None else None
    variation = next((v for v in item["variations"] if v["id"] == variation_id), None)
    if item["variations"] and variation is None:
        raise refuse(400, "bad_request", "variation_id of the item is required")
    if item["status"] != "active" or quantity > (variation or item)["available_quantity"]:
        raise refuse(400, "bad_request", f"Item {item['id']} is not available for {quantity} units")
    seller_id, site = item["seller_id"], item["site_id"]
    moment = now()
    stamp = local_text(moment, site)
    pack_with = [order(tx, int(oid), seller_id) for oid in request.get("pack_with") or []]
    the_pack = pack(tx, pack_with[0]["pack_id"]) if pack_with else None
    if the_pack is not None:
        buyer = _buyer(tx, {"id": the_pack["buyer"]["id"]})
        the_shipment = shipment(tx, the_pack["shipment"]["id"])
    else:
        buyer = _buyer(tx, request.get("buyer"))
        the_pack = {
            "shipment": {"id": None},
            "orders": [],
            "id": tx.next_id("pack", 2000000100000000),
            "status": "released",
            "status_detail": None,
            "buyer": {"id": buyer["id"]},
            "date_created": pack_text(moment, site),
            "last_updated": pack_text(moment, site),
            "_seller_id": seller_id,
            "_site_id": site,
        }
        the_shipment = _new_shipment(tx, item, buyer, request.get("logistic_type") or "drop_off", moment)
        the_pack["shipment"]["id"] = the_shipment["id"]
    order_id = tx.next_id("order", 2000000000000000)
    price = variation["price"] if variation else item["price"]
    total = round(price * quantity, 2)
    fee = round(total * SALE_FEE_RATE, 2)
    tags = ["paid", "not_delivered", "test_order"] + (["pack_order"] if pack_with else [])
    if request.get("fraud"):
        tags.append("fraud_risk_detected")
    payment = {
        "id": tx.next_id("payment", 90000000000), "order_id": order_id, "payer_id": buyer["id"],
        "collector": {"id": seller_id}, "card_id": None, "reason": item["title"], "site_id": site,
        "payment_method_id": "account_money", "currency_id": item["currency_id"], "installments": 1,
        "issuer_id": None, "atm_transfer_reference": {"transaction_id": None, "company_id": None},
        "activation_uri": None, "operation_type": "regular_payment", "payment_type": "account_money",
        "available_actions": ["refund"], "status": "approved", "status_code": None, "status_detail": "accredited",
        "transaction_amount": total, "transaction_amount_refunded": 0.0, "taxes_amount": 0.0, "shipping_cost": 0.0,
        "overpaid_amount": 0.0, "total_paid_amount": total, "installment_amount": None, "deferred_period": None,
        "date_approved": stamp, "transaction_order_id": None, "date_created": stamp, "date_last_modified": stamp,
        "marketplace_fee": fee, "reference_id": None, "authorization_code": None,
    }  # fmt: skip
    new_order = {
        "id": order_id, "date_created": stamp, "last_updated": stamp, "date_closed": stamp,
        "expiration_date": None, "pack_id": the_pack["id"], "fulfilled": None, "buying_mode": "buy_equals_pay",
        "shipping_cost": None if pack_with else 0.0, "mediations": [], "total_amount": total, "paid_amount": total,
        "order_items": [{
            "item": {
                "id": item["id"], "title": item["title"], "category_id": item["category_id"],
                "variation_id": variation_id,
                "seller_custom_field": item.get("seller_custom_field"),
                "variation_attributes": variation["attribute_combinations"] if variation else [],
                "warranty": None, "condition": item["condition"],
                "seller_sku": items.seller_sku(item, variation_id),
                "global_price": None, "net_weight": None, "user_product_id": item.get("user_product_id"),
                "release_date": None,
            },
            "quantity": quantity, "requested_quantity": {"measure": "unit", "value": quantity},
            "picked_quantity": None, "unit_price": price, "full_unit_price": price, "gross_price": total,
            "discounts": [], "currency_id": item["currency_id"], "manufacturing_days": None, "sale_fee": fee,
            "listing_type_id": item["listing_type_id"], "base_exchange_rate": None, "base_currency_id": None,
            "element_id": 1, "stock": [],
        }],
        "currency_id": item["currency_id"], "payments": [payment], "shipping": {"id": the_shipment["id"]},
        "status": "paid", "status_detail": None, "tags": tags, "feedback": {"seller": None, "buyer": None},
        "context": {"channel": "marketplace", "site": site, "flows": []},
        "seller": {"id": seller_id, "user_type": None, "tags": [], "status": None, "buy_restrictions": []},
        "buyer": {"id": buyer["id"], "nickname": buyer["nickname"], "user_type": None, "tags": [], "status": None,
                  "buy_restrictions": []},
        "taxes": {"amount": None, "currency_id": None, "id": None}, "cancel_detail": None,
        "manufacturing_ending_date": None, "order_request": {"change": None, "return": None},
    }  # fmt: skip
    for other in pack_with:
        if "pack_order" not in other["tags"]:
            other["tags"].append("pack_order")
            _save_order(tx, notifier, other, moment)
    the_pack["orders"].append({"id": order_id})
    the_pack["last_updated"] = pack_text(moment, site)
    tx.put("pack", the_pack["id"], the_pack, owner=seller_id)
    the_shipment["_orders"].append({"order_id": order_id, "item_id": item["id"], "variation_id": variation_id,
                                    "user_product_id": item.get("user_product_id"), "quantity": quantity})  # fmt: skip
    the_shipment["declared_value"] = round(the_shipment["declared_value"] + total, 2)
    save_shipment(tx, notifier, the_shipment, moment)
    _save_order(tx, notifier, new_order, moment)
    items.move_stock(tx, notifier, item["id"], variation_id, quantity)
    return new_order


def _new_shipment(
    tx: Tx, item: dict[str, Any], buyer: dict[str, Any], logistic_type: str, moment: datetime
) -> dict[str, Any]:
    site = item["site_id"]
    shipment_id = tx.next_id("shipment", 44000000000)
    printable = logistic_type in PRINTABLE_TYPES
    city = {"id": "TUxBQ0NBUGZlZG1sYQ", "name": "Capital Federal"}
    state = {"id": "AR-C", "name": "Capital Federal"}
    country = {"id": "AR", "name": "Argentina"}
    return {
        "id": shipment_id,
        "status": "ready_to_ship",
        # In Brazil the label waits for the NF-e (``invoice_pending`` until it is imported).
        "substatus": ("invoice_pending" if site == "MLB" else "ready_to_print") if printable else "in_warehouse",
        "date_created": local_text(moment, site),
        "last_updated": local_text(moment, site),
        "tracking_number": f"MEL{shipment_id}ARG",
        "tracking_method": "MEL Distribution",
        "declared_value": 0.0,
        "items_types": [item["condition"]],
        "tags": ["test_shipment"],
        "logistic": {"mode": "me2", "type": logistic_type, "direction": "forward"},
        "source": {"site_id": site, "market_place": "MELI", "customer_id": None, "application_id": None},
        "origin": {
            "type": "selling_address", "sender_id": item["seller_id"], "node": None,
            "shipping_address": {"address_line": "Av. Corrientes 1234", "street_name": "Av. Corrientes",
                                 "street_number": "1234", "zip_code": "1043", "city": city, "state": state,
                                 "country": country},
        },
        "destination": {
            "receiver_id": buyer["id"], "receiver_name": f"{buyer['first_name']} {buyer['last_name']}",
            "receiver_phone": None, "comments": None, "type": "buyer",
            "shipping_address": {"address_line": "Av. Santa Fe 4321", "street_name": "Av. Santa Fe",
                                 "street_number": "4321", "zip_code": "1425", "comment": None, "city": city,
                                 "state": state, "country": country, "neighborhood": {"id": None, "name": "Palermo"},
                                 "municipality": {"id": None, "name": None}, "latitude": -34.58, "longitude": -58.42,
                                 "delivery_preference": "residential",
                                 "agency": {"carrier_id": None, "agency_id": None}},
        },
        "lead_time": {
            "cost": 0.0, "list_cost": 0.0, "cost_type": "free", "currency_id": item["currency_id"], "service_id": 22,
            "option_id": shipment_id, "shipping_method": {"id": 511948, "name": "Normal a domicilio",
                                                          "type": "standard", "deliver_to": "address"},
            "estimated_delivery_time": {"date": None, "type": "known_frame", "unit": "hour", "shipping": 48,
                                        "handling": 24, "pay_before": None},
            "estimated_delivery_limit": {"date": None}, "estimated_delivery_final": {"date": None},
            "estimated_delivery_extended": {"date": None}, "buffering": {"date": None}, "delivery_type": "estimated",
        },
        "dimensions": {"height": 10, "width": 20, "length": 30, "weight": 500},
        "priority_class": {"id": "60"},
        "sibling": {"sibling_id": None, "reason": None},
        "quotation": None,
        "snapshot_packing": {"snapshot_id": str(shipment_id), "pack_hash": str(shipment_id)},
        "_seller_id": item["seller_id"],
        "_orders": [],
        "_printed": False,
    }  # fmt: skip


def set_shipment_status(
    tx: Tx, notifier: Notifier, shipment_id: int, status: str, substatus: str | None
) -> dict[str, Any]:
    """A carrier moves the shipment (``shipped``, ``delivered``...)."""
    found = shipment(tx, shipment_id)
    found["status"], found["substatus"] = status, substatus
    save_shipment(tx, notifier, found, now())
    return public(found)


def cancel(tx: Tx, notifier: Notifier, order_id: int) -> dict[str, Any]:
    """The order is cancelled: payment refunded, stock back; the pack and shipment follow when nothing is left."""
    found = order(tx, order_id)
    if found["status"] == "cancelled":
        return found
    moment = now()
    site = found["context"]["site"]
    found["status"] = "cancelled"
    found["tags"] = [tag for tag in found["tags"] if tag != "paid"]
    found["cancel_detail"] = {"group": "buyer", "code": "buyer_cancel", "description": "The buyer cancelled",
                              "requested_by": "buyer", "date": local_text(moment, site)}  # fmt: skip
    for payment in found["payments"]:
        payment["status"], payment["status_detail"] = "refunded", "refunded"
        payment["transaction_amount_refunded"] = payment["transaction_amount"]
        payment["date_last_modified"] = local_text(moment, site)
    _save_order(tx, notifier, found, moment)
    for line in found["order_items"]:
        items.move_stock(tx, notifier, line["item"]["id"], line["item"]["variation_id"], -line["quantity"])
    the_pack = pack(tx, found["pack_id"])
    if all(order(tx, entry["id"])["status"] == "cancelled" for entry in the_pack["orders"]):
        the_pack["status"], the_pack["last_updated"] = "cancelled", pack_text(moment, site)
        tx.put("pack", the_pack["id"], the_pack, owner=the_pack["_seller_id"])
        set_shipment_status(tx, notifier, the_pack["shipment"]["id"], "cancelled", None)
    return found


def search(tx: Tx, seller_id: int, query: dict[str, str]) -> dict[str, Any]:
    """``GET /orders/search``: the seller's orders by status and dates (to the hour), sorted, offset-paged."""
    offset = int_param(query, "offset", 0)
    limit = int_param(query, "limit", MAX_ORDER_LIMIT)
    if limit == 0 or limit > MAX_ORDER_LIMIT:
        raise refuse(400, "bad_request", f"Invalid limit param: the maximum is {MAX_ORDER_LIMIT}")
    sort = query.get("sort", "date_asc")
    if sort not in SORTS:
        raise refuse(400, "bad_request", f"Invalid sort param: {sort}")
    found = tx.find("order", owner=seller_id)
    statuses = {s for s in query.get("order.status", "").split(",") if s}
    if statuses:
        found = [o for o in found if o["status"] in statuses]
    for field, key in (("last_updated", "order.date_last_updated"), ("date_created", "order.date_created"),
                       ("date_closed", "order.date_closed")):  # fmt: skip
        low, high = _hour(query, f"{key}.from"), _hour(query, f"{key}.to")
        if low is not None or high is not None:
            found = [o for o in found if _within(o[field], low, high)]
    if query.get("pack_id"):
        found = [o for o in found if str(o["pack_id"]) == query["pack_id"]]
    found.sort(key=lambda o: (parse_date(o["date_closed"] or o["date_created"]), o["id"]), reverse=sort == "date_desc")
    results = [
        o | {"date_last_updated": o["last_updated"] and _utc(o["last_updated"])} for o in found[offset : offset + limit]
    ]
    return {
        "query": query.get("q"),
        "results": results,
        "sort": {"id": sort, "name": SORTS[sort]},
        "available_sorts": [{"id": key, "name": name} for key, name in SORTS.items() if key != sort],
        "filters": [],
        "paging": {"total": len(found), "offset": offset, "limit": limit},
        "display": "complete",
    }


def _hour(query: dict[str, str], name: str) -> datetime | None:
    """A date filter, truncated to its hour (Mercado Libre drops minutes, seconds and milliseconds)."""
    if not query.get(name):
        return None
    moment = parse_date(query[name])
    if moment is None:
        raise refuse(400, "bad_request", f"Invalid date in {name}")
    return moment.replace(minute=0, second=0, microsecond=0)


def _within(text: str | None, low: datetime | None, high: datetime | None) -> bool:
    moment = parse_date(text) if text else None
    return moment is not None and (low is None or moment >= low) and (high is None or moment <= high)


def _utc(text: str) -> str:
    moment = parse_date(text)
    return utc_text(moment) if moment else text


def billing_info(tx: Tx, order_id: int, seller_id: int) -> dict[str, Any]:
    """``GET /orders/{id}/billing_info`` (x-version 2): the buyer's fiscal data."""
    found = order(tx, order_id, seller_id)
    buyer = tx.get("buyer", found["buyer"]["id"]) or {}
    return {
        "site_id": found["context"]["site"],
        "buyer": {
            "cust_id": found["buyer"]["id"],
            "billing_info": {
                "name": buyer.get("first_name"),
                "last_name": buyer.get("last_name"),
                "identification": buyer.get("identification"),
                "taxes": {"taxpayer_type": {"id": "01", "description": "Consumidor Final"}},
                "address": {
                    "street_name": "Av. Santa Fe",
                    "street_number": "4321",
                    "city_name": "Capital Federal",
                    "state": {"code": "AR-C", "name": "Capital Federal"},
                    "zip_code": "1425",
                    "country_id": "AR",
                },
            },
        },
        "seller": {"id": seller_id},
    }
