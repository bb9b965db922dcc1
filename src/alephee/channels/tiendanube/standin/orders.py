"""Orders: a buyer's purchase in the storefront (the Python API: it takes the stock), ``POST /orders`` (an app's
import: placeholders for missing buyer data, stock untouched unless ``inventory_behaviour=claim``), reads (one,
the list with its filters), ``PUT`` (owner note, status), close/open/cancel (with reason and restock), payment,
and the v1 fulfilment (``pack``, ``fulfill`` with tracking). The ``2025-03`` Order drops the v1 shipping fields
and names the shipping statuses ``unshipped``/``shipped``/``delivered``; each order has one fulfillment order
(see ``fulfillment``) that the v1 calls move too."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from alephee.channels.standin_store import Tx
from alephee.channels.tiendanube.standin import fulfillment, products, stock
from alephee.channels.tiendanube.standin.common import (
    as_int,
    common_filters,
    first_text,
    money,
    not_found,
    now,
    refuse,
    stamp,
)
from alephee.channels.tiendanube.standin.webhooks import Webhooks

ORDER_ID_BASE = 871254200
LINE_ID_BASE = 5_000_000_000  # line-item ids are int64 and go past 32 bits
ORDER_NUMBER_BASE = 99
MAX_RESULTS = 10_000
CANCEL_REASONS = ("customer", "fraud", "inventory", "other")
PAYMENT_STATUSES = (
    "pending",
    "authorized",
    "paid",
    "partially_paid",
    "abandoned",
    "refunded",
    "partially_refunded",
    "voided",
)
V1_ONLY = (
    "shipping",
    "shipping_option",
    "shipping_option_code",
    "shipping_option_reference",
    "shipping_pickup_type",
    "shipping_store_branch_name",
    "shipping_pickup_details",
    "shipping_suboption",
    "shipping_tracking_number",
    "shipping_tracking_url",
    "shipping_min_days",
    "shipping_max_days",
    "shipping_cost_owner",
    "shipping_cost_customer",
    "shipped_at",
    "landing_url",
    "next_action",
    "checkout_enabled",
)
# The order's shipping state (``_ship``) as each version names it.
SHIPPING_NAMES = {
    "v1": {"unpacked": "unpacked", "packed": "unfulfilled", "shipped": "fulfilled", "delivered": "fulfilled"},
    "2025-03": {"unpacked": "unpacked", "packed": "unshipped", "shipped": "shipped", "delivered": "delivered"},
}
SHIPPING_FILTER = {
    "unpacked": ("unpacked",),
    "unfulfilled": ("packed",),
    "unshipped": ("packed",),
    "fulfilled": ("shipped", "delivered"),
    "shipped": ("shipped", "delivered"),
    "delivered": ("delivered",),
}
# ``fulfillment`` of ``POST /orders`` (either version's words) -> the order's shipping state.
CREATED_SHIPPING = {
    "unpacked": "unpacked",
    "unfulfilled": "packed",
    "unshipped": "packed",
    "fulfilled": "shipped",
    "shipped": "shipped",
}
PLACEHOLDER = {
    "pt": ("Não informado", "email@naoinformado.com"),
    "es": ("No informado", "email@noinformado.com"),
}


def get(tx: Tx, store_id: int, order_id: int) -> dict[str, Any]:
    """The stored order of the store; 404 otherwise."""
    order = tx.get("tn_order", order_id, store_id)
    if order is None:
        raise not_found("Order")
    return order


def render(
    tx: Tx, order: dict[str, Any], version: str, aggregates: str = "", *, customers: bool = True
) -> dict[str, Any]:
    """The order as ``version`` answers it (with full fulfillment orders when ``aggregates`` names them; the
    ``customer`` object only for an app granted a customers scope)."""
    body = {key: value for key, value in order.items() if not key.startswith("_")}
    if not customers:
        body["customer"] = None
    body["shipping_status"] = SHIPPING_NAMES[version][order["_ship"]]
    if version != "v1":
        for key in V1_ONLY:
            body.pop(key, None)
    if "fulfillment_orders" in aggregates.split(","):
        body["fulfillment_orders"] = fulfillment.for_order(tx, int(order["store_id"]), order["id"])
    return body


def search(tx: Tx, store_id: int, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /orders``: the store's orders by id with the documented filters (at most 10,000 results)."""
    keep = common_filters(query)
    status = query.get("status", "any")
    payment = query.get("payment_status", "any")
    shipping = query.get("shipping_status", "any")
    if status not in ("any", "open", "closed", "cancelled"):
        raise refuse(400, "Invalid status")
    if payment != "any" and payment not in PAYMENT_STATUSES:
        raise refuse(400, "Invalid payment_status")
    if shipping != "any" and shipping not in SHIPPING_FILTER:
        raise refuse(400, "Invalid shipping_status")
    channels = {part for part in query.get("channels", "").split(",") if part}
    customers = {as_int(part) for part in query.get("customer_ids", "").split(",") if part}
    total_min = money(query.get("total_min"), "total_min")
    total_max = money(query.get("total_max"), "total_max")
    text = query.get("q", "").lower()
    app_id = as_int(query.get("app_id"))
    rows = []
    for order in tx.find("tn_order", store_id):
        if not keep(order):
            continue
        if (status != "any" and order["status"] != status) or (payment != "any" and order["payment_status"] != payment):
            continue
        if shipping != "any" and order["_ship"] not in SHIPPING_FILTER[shipping]:
            continue
        if channels and order["storefront"] not in channels:
            continue
        if customers and order["customer"]["id"] not in customers:
            continue
        if total_min is not None and Decimal(order["total"]) < Decimal(total_min):
            continue
        if total_max is not None and Decimal(order["total"]) > Decimal(total_max):
            continue
        if app_id is not None and order["app_id"] != app_id:
            continue
        if text and not (
            text == str(order["number"])
            or text in order["contact_email"].lower()
            or text in (order["contact_name"] or "").lower()
        ):
            continue
        rows.append(order)
    if len(rows) > MAX_RESULTS:
        raise refuse(422, f"The query addresses more than {MAX_RESULTS} results; narrow it by dates")
    return sorted(rows, key=lambda order: order["id"])


# Creating.


def _line(tx: Tx, shop: dict[str, Any], entry: Any, claim: bool) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise refuse(400, "Invalid input format")
    variant_id = as_int(entry.get("variant_id"))
    quantity = as_int(entry.get("quantity"))
    if variant_id is None or quantity is None or quantity < 1:
        raise refuse(
            422, "Validation error", products=["Each product needs a variant_id and a quantity of at least 1."]
        )
    index = tx.get("tn_variant", variant_id, shop["id"])
    if index is None:
        raise refuse(422, "Validation error", products=[f"The variant {variant_id} does not exist."])
    product = products.get(tx, shop["id"], index["product_id"])
    variant = products.variant_of(product, variant_id)
    if claim and variant["stock"] is not None and variant["stock"] < quantity:
        raise refuse(422, f"Insufficient stock for variant {variant_id}")
    price = (
        money(entry["price"], "price")
        if entry.get("price") is not None
        else (variant["promotional_price"] or variant["price"] or "0.00")
    )
    values = [first_text(value) for value in variant["values"]]
    name = first_text(product["name"])
    return {
        "id": tx.next_id("tn_line", LINE_ID_BASE),
        "depth": variant["depth"] or "0.00",
        "height": variant["height"] or "0.00",
        "width": variant["width"] or "0.00",
        "weight": variant["weight"] or "0.000",
        "name": f"{name} ({', '.join(values)})" if values else name,
        "name_without_variants": name,
        "price": price,
        "compare_at_price": variant["price"],
        "product_id": product["id"],
        "variant_id": str(variant_id),
        "sku": variant["sku"],
        "barcode": variant["barcode"],
        "quantity": str(quantity),
        "free_shipping": product["free_shipping"],
        "variant_values": values,
        "properties": [],
        "image": product["images"][0] if product["images"] else None,
        "issues": {},
        "has_promotional_price": variant["promotional_price"] is not None,
        "cost": variant["cost"],
        "kit": False,
    }


def _address(value: Any, placeholder: str, country: str) -> dict[str, Any]:
    given = value if isinstance(value, dict) else {}
    name = " ".join(str(given[key]) for key in ("first_name", "last_name") if given.get(key)) or given.get("name")
    return {
        "name": name or placeholder,
        "address": given.get("address") or placeholder,
        "number": str(given.get("number") or placeholder),
        "floor": given.get("floor"),
        "locality": given.get("locality"),
        "city": given.get("city") or placeholder,
        "province": given.get("province") or placeholder,
        "zipcode": str(given.get("zipcode") or "0000"),
        "country": given.get("country") or country,
        "phone": given.get("phone"),
        "customs": given.get("customs"),
    }


def create(
    tx: Tx, hooks: Webhooks, shop: dict[str, Any], body: dict[str, Any], *, storefront: str, app_id: int | None
) -> dict[str, Any]:
    """A new order: ``storefront="api"`` for ``POST /orders``, ``"store"`` for a buyer's checkout (which always
    takes the stock)."""
    store_id = shop["id"]
    items = body.get("products")
    if not isinstance(items, list) or not items:
        raise refuse(422, "Validation error", products=["The products field is required."])
    behaviour = body.get("inventory_behaviour", "bypass" if storefront == "api" else "claim")
    if behaviour not in ("bypass", "claim"):
        raise refuse(422, "Validation error", inventory_behaviour=["The selected inventory behaviour is invalid."])
    payment = body.get("payment_status", "pending")
    if payment not in ("pending", "authorized", "paid", "voided", "refunded", "abandoned"):
        raise refuse(422, "Validation error", payment_status=["The selected payment status is invalid."])
    status = body.get("status", "open")
    if status not in ("open", "closed", "cancelled"):
        raise refuse(422, "Validation error", status=["The selected status is invalid."])
    pickup = body.get("shipping_pickup_type", "pickup" if storefront == "api" else "ship")
    if pickup not in ("ship", "pickup"):
        raise refuse(422, "Validation error", shipping_pickup_type=["The selected shipping pickup type is invalid."])
    ship = CREATED_SHIPPING.get(str(body.get("fulfillment", body.get("fulfillment_status", "unpacked"))))
    if ship is None:
        raise refuse(422, "Validation error", fulfillment=["The selected fulfillment is invalid."])
    gateway = body.get("gateway", "not-provided")
    language = body.get("language") or shop["main_language"]
    placeholder, placeholder_email = PLACEHOLDER["pt" if language == "pt" else "es"]
    lines = [_line(tx, shop, entry, behaviour == "claim") for entry in items]
    customer_in = body.get("customer") if isinstance(body.get("customer"), dict) else {}
    shipping_cost = money(body.get("shipping_cost_customer", 0), "shipping_cost_customer", nullable=False) or "0.00"
    owner_cost = money(body.get("shipping_cost_owner"), "shipping_cost_owner")
    subtotal = sum((Decimal(line["price"]) * int(line["quantity"]) for line in lines), Decimal(0))
    total = (
        money(body["total"], "total")
        if body.get("total") is not None
        else str((subtotal + Decimal(shipping_cost)).quantize(Decimal("0.01")))
    )
    if total is None or Decimal(total) <= 0:
        raise refuse(422, "Validation error", total=["The total must be positive."])
    moment = now()
    text = stamp(moment)
    order_id = tx.next_id("tn_order", ORDER_ID_BASE)
    email = customer_in.get("email") or placeholder_email
    customer_name = customer_in.get("name") or placeholder
    customer_id = _customer(tx, store_id, email, customer_name, customer_in)
    billing = _address(body.get("billing_address"), placeholder, shop["country"])
    shipping = _address(body.get("shipping_address"), placeholder, shop["country"])
    weight = sum((Decimal(line["weight"]) * int(line["quantity"]) for line in lines), Decimal(0))
    order: dict[str, Any] = {
        "id": order_id,
        "token": secrets.token_hex(20),
        "store_id": str(store_id),
        "number": tx.next_id(f"tn_number_{store_id}", ORDER_NUMBER_BASE),
        "contact_email": email,
        "contact_name": customer_name,
        "contact_phone": customer_in.get("phone"),
        "contact_identification": customer_in.get("document") or customer_in.get("identification"),
        "customer": {
            "id": customer_id,
            "name": customer_name,
            "email": email,
            "identification": customer_in.get("document") or customer_in.get("identification"),
            "phone": customer_in.get("phone"),
            "note": None,
            "default_address": shipping,
            "addresses": [shipping],
            "extra": {},
            "total_spent": total,
            "total_spent_currency": body.get("currency") or shop["main_currency"],
            "last_order_id": order_id,
            "active": True,
            "created_at": text,
            "updated_at": text,
        },
        "products": lines,
        "subtotal": str(subtotal.quantize(Decimal("0.01"))),
        "discount": "0.00",
        "discount_coupon": "0.00",
        "discount_gateway": "0.00",
        "total": total,
        "total_usd": total,
        "total_paid_by_customer": total if payment == "paid" else "0.00",
        "currency": body.get("currency") or shop["main_currency"],
        "language": language,
        "coupon": [],
        "promotional_discount": {
            "id": None,
            "store_id": store_id,
            "order_id": order_id,
            "created_at": text,
            "total_discount_amount": "0.00",
            "contents": [],
            "promotions_applied": [],
        },
        "gateway": gateway,
        "gateway_id": None,
        "gateway_name": None,
        "gateway_link": None,
        "payment_details": {
            "method": body.get("payment_method", "other"),
            "credit_card_company": None,
            "installments": "1",
        },
        "status": status,
        "payment_status": payment,
        "cancel_reason": None,
        "storefront": storefront,
        "app_id": app_id,
        "note": body.get("note"),
        "owner_note": None,
        "extra": {},
        "attributes": [],
        "weight": str(weight.quantize(Decimal("0.001"))),
        "billing_name": billing["name"],
        "billing_phone": billing["phone"],
        "billing_address": billing["address"],
        "billing_number": billing["number"],
        "billing_floor": billing["floor"],
        "billing_locality": billing["locality"],
        "billing_zipcode": billing["zipcode"],
        "billing_city": billing["city"],
        "billing_province": billing["province"],
        "billing_country": billing["country"],
        "shipping_address": shipping | {"id": order_id, "default": True, "created_at": text, "updated_at": text},
        "same_billing_and_shipping_address": body.get("billing_address") == body.get("shipping_address"),
        "client_details": {"browser_ip": "127.0.0.1", "user_agent": "Tiendanube stand-in"},
        "created_at": text,
        "completed_at": {"date": moment.strftime("%Y-%m-%d %H:%M:%S.000000"), "timezone_type": 3, "timezone": "UTC"},
        "updated_at": text,
        "paid_at": text if payment == "paid" else None,
        "cancelled_at": text if status == "cancelled" else None,
        "closed_at": text if status == "closed" else None,
        "read_at": None,
        "is_subscription": False,
        "is_subscription_initial": False,
        "shipping": body.get("shipping", "not-provided"),
        "shipping_option": body.get("shipping_option") or placeholder,
        "shipping_option_code": body.get("shipping_option_code"),
        "shipping_option_reference": body.get("shipping_option_reference"),
        "shipping_pickup_type": pickup,
        "shipping_store_branch_name": None,
        "shipping_pickup_details": None,
        "shipping_suboption": [],
        "shipping_tracking_number": body.get("shipping_tracking_number"),
        "shipping_tracking_url": None,
        "shipping_min_days": as_int(body.get("shipping_min_days")),
        "shipping_max_days": as_int(body.get("shipping_max_days")),
        "shipping_cost_owner": owner_cost or "0.00",
        "shipping_cost_customer": shipping_cost,
        "shipped_at": None,
        "landing_url": None,
        "next_action": "waiting_packing" if payment == "paid" else "waiting_manual_confirmation",
        "checkout_enabled": True,
        "fulfillments": [],
        "_ship": ship,
        "_stock_taken": behaviour == "claim",
    }
    if behaviour == "claim":
        touched = set()
        for line in lines:
            product, _variant = stock.take_stock(tx, shop, int(line["variant_id"]), int(line["quantity"]))
            touched.add(product["id"])
        for product_id in sorted(touched):
            hooks.emit(tx, store_id, "product/updated", id=product_id)
    fo = fulfillment.create(
        tx, shop, order, "non-shippable" if not any(_needs_shipping(tx, store_id, line) for line in lines) else pickup
    )
    order["fulfillments"] = [{"id": fo["id"]}]
    tx.put("tn_order", order_id, order, owner=store_id)
    hooks.emit(tx, store_id, "order/created", id=order_id)
    if payment == "paid":
        hooks.emit(tx, store_id, "order/paid", id=order_id)
    return order


def _needs_shipping(tx: Tx, store_id: int, line: dict[str, Any]) -> bool:
    product = tx.get("tn_product", line["product_id"], store_id)
    return product is None or bool(product["requires_shipping"])


def _customer(tx: Tx, store_id: int, email: str, name: str, given: dict[str, Any]) -> int:
    key = f"{store_id}:{email.lower()}"
    known = tx.get("tn_customer", key, store_id)
    if known is not None:
        return int(known["id"])
    customer_id = tx.next_id("tn_customer", 140000000)
    tx.put(
        "tn_customer",
        key,
        {"id": customer_id, "name": name, "email": email, "phone": given.get("phone")},
        owner=store_id,
    )
    return customer_id


# Changing.


def _save(tx: Tx, order: dict[str, Any]) -> dict[str, Any]:
    order["updated_at"] = stamp(now())
    tx.put("tn_order", order["id"], order, owner=int(order["store_id"]))
    return order


def update(tx: Tx, hooks: Webhooks, shop: dict[str, Any], order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """``PUT /orders/{id}``: ``owner_note`` and/or ``status`` (``closed``/``open``/``cancelled``)."""
    order = get(tx, shop["id"], order_id)
    if "status" in body:
        target = body["status"]
        if target not in ("open", "closed", "cancelled"):
            raise refuse(422, "Validation error", status=["The selected status is invalid."])
        if target != order["status"]:
            if target == "closed":
                order = close(tx, hooks, shop, order_id)
            elif target == "open":
                order = reopen(tx, hooks, shop, order_id)
            else:
                order = cancel(tx, hooks, shop, order_id, {})
    if "owner_note" in body:
        order["owner_note"] = body["owner_note"]
    _save(tx, order)
    hooks.emit(tx, shop["id"], "order/updated", id=order_id)
    return order


def close(tx: Tx, hooks: Webhooks, shop: dict[str, Any], order_id: int) -> dict[str, Any]:
    """``POST /orders/{id}/close``: an open order is archived."""
    order = get(tx, shop["id"], order_id)
    if order["status"] != "open":
        raise refuse(422, f"Order is {order['status']}, only an open order can be closed")
    order |= {"status": "closed", "closed_at": stamp(now())}
    _save(tx, order)
    hooks.emit(tx, shop["id"], "order/updated", id=order_id)
    return order


def reopen(tx: Tx, hooks: Webhooks, shop: dict[str, Any], order_id: int) -> dict[str, Any]:
    """``POST /orders/{id}/open``: a closed order is open again."""
    order = get(tx, shop["id"], order_id)
    if order["status"] != "closed":
        raise refuse(422, f"Order is {order['status']}, only a closed order can be opened")
    order |= {"status": "open", "closed_at": None}
    _save(tx, order)
    hooks.emit(tx, shop["id"], "order/updated", id=order_id)
    return order


def cancel(tx: Tx, hooks: Webhooks, shop: dict[str, Any], order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /orders/{id}/cancel``: ``reason`` (default ``other``), ``restock`` (default true: the units the order
    took go back), ``email``; a pending payment is voided, a paid one refunded."""
    order = get(tx, shop["id"], order_id)
    reason = body.get("reason", "other")
    if reason not in CANCEL_REASONS:
        raise refuse(422, "Validation error", reason=["The selected reason is invalid."])
    if order["status"] == "cancelled":
        raise refuse(422, "Order is already cancelled")
    if body.get("restock", True) and order["_stock_taken"]:
        touched = set()
        for line in order["products"]:
            if tx.get("tn_variant", int(line["variant_id"]), shop["id"]) is not None:
                product, _variant = stock.take_stock(tx, shop, int(line["variant_id"]), -int(line["quantity"]))
                touched.add(product["id"])
        order["_stock_taken"] = False
        for product_id in sorted(touched):
            hooks.emit(tx, shop["id"], "product/updated", id=product_id)
    voided = order["payment_status"] in ("pending", "authorized")
    if voided:
        order["payment_status"] = "voided"
    elif order["payment_status"] == "paid":
        order["payment_status"] = "refunded"
    order |= {"status": "cancelled", "cancel_reason": reason, "cancelled_at": stamp(now()), "next_action": "noop"}
    _save(tx, order)
    hooks.emit(tx, shop["id"], "order/cancelled", id=order_id)
    if voided:
        hooks.emit(tx, shop["id"], "order/voided", id=order_id)
    return order


def pay(tx: Tx, hooks: Webhooks, shop: dict[str, Any], order_id: int) -> dict[str, Any]:
    """A payment app reports the order paid (no API endpoint does this)."""
    order = get(tx, shop["id"], order_id)
    if order["payment_status"] not in ("pending", "authorized"):
        raise refuse(422, f"Order payment is {order['payment_status']}")
    order |= {
        "payment_status": "paid",
        "paid_at": stamp(now()),
        "total_paid_by_customer": order["total"],
        "next_action": "waiting_packing",
    }
    _save(tx, order)
    hooks.emit(tx, shop["id"], "order/paid", id=order_id)
    return order


def pack(tx: Tx, hooks: Webhooks, shop: dict[str, Any], order_id: int) -> dict[str, Any]:
    """v1 ``POST /orders/{id}/pack``: an unpacked open order is packed (its fulfillment order too)."""
    order = get(tx, shop["id"], order_id)
    if order["status"] != "open" or order["_ship"] != "unpacked":
        raise refuse(422, "Order cannot be packed")
    fulfillment.follow_v1(tx, hooks, order, "PACKED", None)
    return get(tx, shop["id"], order_id)


def fulfill(tx: Tx, hooks: Webhooks, shop: dict[str, Any], order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """v1 ``POST /orders/{id}/fulfill``: shipped, with ``shipping_tracking_number``/``_url`` (``notify_customer``
    default true)."""
    order = get(tx, shop["id"], order_id)
    if order["status"] != "open" or order["_ship"] not in ("unpacked", "packed"):
        raise refuse(422, "Order cannot be fulfilled")
    number, url = body.get("shipping_tracking_number"), body.get("shipping_tracking_url")
    tracking = {"code": number, "url": url, "notify_customer": bool(body.get("notify_customer", True))}
    fulfillment.follow_v1(tx, hooks, order, "DISPATCHED", tracking)
    order = get(tx, shop["id"], order_id)
    order |= {"shipping_tracking_number": number, "shipping_tracking_url": url}
    return _save(tx, order)
