"""Fulfillment orders (one per order here): read, ``PATCH`` (status along its shipping type's workflow, tracking
info, destination/shipping/recipient until dispatched, assigned location until packed), delete, and their
tracking events (only on a dispatched order, 100 at most, no identical twin; ``delivered`` delivers it). The
order's shipping state follows its fulfillment order, with the ``order/packed``/``fulfilled``/``unpacked``
webhooks; the v1 ``pack``/``fulfill`` calls move the fulfillment order the same way. Errors use the Fulfillment
Order API's own shapes (``{"description", "message"}`` and ``{"description", "messages": {...}}``)."""

from __future__ import annotations

from typing import Any

from alephee.channels.standin_store import Tx
from alephee.channels.tiendanube.standin.common import TNError, first_text, now, parse_date, stamp, ulid
from alephee.channels.tiendanube.standin.webhooks import Webhooks

WORKFLOWS = {
    "ship": ("UNPACKED", "PACKED", "DISPATCHED", "DELIVERED"),
    "pickup": ("UNPACKED", "PACKED", "READY_FOR_PICKUP", "DELIVERED"),
    "non-shippable": ("UNPACKED", "DELIVERED"),
}
ORDER_STATE = {
    "UNPACKED": "unpacked",
    "PACKED": "packed",
    "DISPATCHED": "shipped",
    "READY_FOR_PICKUP": "shipped",
    "DELIVERED": "delivered",
}
TRACKING_STATUSES = (
    "dispatched",
    "received_by_post_office",
    "in_transit",
    "out_for_delivery",
    "delivery_attempt_failed",
    "delayed",
    "ready_for_pickup",
    "delivered",
    "returned_to_sender",
    "lost",
    "failure",
)
MAX_TRACKING_EVENTS = 100
IDENTICAL = "The tracking event must not be identical to an existing tracking event"


def error(status: int, description: str, message: str) -> TNError:
    """The Fulfillment Order API's error shape."""
    return TNError(status, {"description": description, "message": message})


def validation(text: str, messages: dict[str, list[str]]) -> TNError:
    """The Fulfillment Order API's validation shape (422)."""
    return TNError(422, {"description": text, "messages": messages})


def _money(value: str | None, currency: str) -> dict[str, Any]:
    return {"value": value or "0.00", "currency": currency}


def create(tx: Tx, shop: dict[str, Any], order: dict[str, Any], kind: str) -> dict[str, Any]:
    """The order's fulfillment order (status ``UNPACKED``, or ``DISPATCHED`` for an order created shipped)."""
    moment = stamp(now())
    currency = order["currency"]
    address = order["shipping_address"]
    status = {"unpacked": "UNPACKED", "packed": "PACKED"}.get(order["_ship"], WORKFLOWS[kind][-2])
    status = status if status in WORKFLOWS[kind] else WORKFLOWS[kind][0]
    fo: dict[str, Any] = {
        "id": ulid(),
        "number": f"{order['number']}-1",
        "total_quantity": sum(int(line["quantity"]) for line in order["products"]),
        "total_weight": order["weight"],
        "total_price": _money(order["subtotal"], currency),
        "assigned_location": {"location_id": shop["_location"], "name": first_text(shop["name"]), "address": {}},
        "line_items": [
            {
                "id": ulid(),
                "external_id": str(line["id"]),
                "quantity": int(line["quantity"]),
                "variant": {"variant_id": int(line["variant_id"])},
                "product": {"product_id": line["product_id"]},
                "unit_price": _money(line["price"], currency),
                "unit_dimension": {key: line[key] for key in ("weight", "width", "height", "depth")},
                "stock_transfer": None,
                "kit": None,
                "created_at": moment,
                "updated_at": moment,
            }
            for line in order["products"]
        ],
        "recipient": {
            "name": address["name"],
            "phone": address["phone"],
            "identifier": order["contact_identification"],
        },
        "shipping": {
            "type": kind,
            "carrier": {
                "carrier_id": order["shipping"],
                "code": "api",
                "name": order["shipping_option"],
                "app_id": None,
            },
            "option": {
                "name": order["shipping_option"],
                "code": order["shipping_option_code"],
                "reference": order["shipping_option_reference"],
                "allow_free_shipping": False,
            },
            "merchant_cost": _money(order["shipping_cost_owner"], currency),
            "consumer_cost": _money(order["shipping_cost_customer"], currency),
            "min_delivery_date": None,
            "max_delivery_date": None,
            "estimated_delivery_time": None,
            "pickup_details": None,
            "extras": {},
        },
        "destination": {
            "zipcode": address["zipcode"],
            "street": address["address"],
            "number": address["number"],
            "floor": address["floor"],
            "locality": address["locality"],
            "city": address["city"],
            "reference": None,
            "between_streets": None,
            "province": {"name": address["province"], "code": None},
            "region": {"name": None, "code": None},
            "country": {"name": None, "code": address["country"]},
        },
        "discounts": [],
        "status": status,
        "status_history": [{"status": status, "created_at": moment}],
        "tracking_info": {"code": order["shipping_tracking_number"], "url": None},
        "tracking_info_history": [],
        "tracking_events": [],
        "fulfilled_at": None,
        "created_at": moment,
        "updated_at": moment,
        "_order_id": order["id"],
    }
    tx.put("tn_fo", fo["id"], fo, owner=shop["id"])
    return fo


def public(fo: dict[str, Any]) -> dict[str, Any]:
    """The fulfillment order as the API answers it."""
    return {key: value for key, value in fo.items() if not key.startswith("_")}


def for_order(tx: Tx, store_id: int, order_id: int) -> list[dict[str, Any]]:
    """The order's fulfillment orders, oldest first."""
    found = [fo for fo in tx.find("tn_fo", store_id) if fo["_order_id"] == order_id]
    return [public(fo) for fo in sorted(found, key=lambda fo: fo["created_at"])]


def get(tx: Tx, store_id: int, order_id: int, fo_id: str) -> dict[str, Any]:
    """One fulfillment order of the order; 404 otherwise."""
    fo = tx.get("tn_fo", fo_id, store_id)
    if fo is None or fo["_order_id"] != order_id:
        raise error(404, "Fulfillment order not found", "Not Found")
    return fo


def _order(tx: Tx, store_id: int, order_id: int) -> dict[str, Any]:
    order = tx.get("tn_order", order_id, store_id)
    if order is None:
        raise error(404, "Order not found", "Not Found")
    return order


def _save(tx: Tx, store_id: int, fo: dict[str, Any]) -> None:
    fo["updated_at"] = stamp(now())
    tx.put("tn_fo", fo["id"], fo, owner=store_id)


def set_ship(tx: Tx, hooks: Webhooks, order: dict[str, Any], state: str) -> None:
    """The order's shipping state follows its fulfillment order (``order/packed``/``fulfilled``/``unpacked``)."""
    before = order["_ship"]
    if before == state:
        return
    moment = stamp(now())
    order["_ship"] = state
    if state in ("shipped", "delivered") and order["shipped_at"] is None:
        order["shipped_at"] = moment
    order["next_action"] = {"unpacked": "waiting_packing", "packed": "waiting_shipment"}.get(state, "close")
    order["updated_at"] = moment
    store_id = int(order["store_id"])
    tx.put("tn_order", order["id"], order, owner=store_id)
    event = {"unpacked": "order/unpacked", "packed": "order/packed", "shipped": "order/fulfilled"}.get(state)
    if state == "delivered" and before not in ("shipped",):
        event = "order/fulfilled"
    if event:
        hooks.emit(tx, store_id, event, id=order["id"])


def _move(
    tx: Tx, hooks: Webhooks, order: dict[str, Any], fo: dict[str, Any], status: str, at: str | None = None
) -> None:
    flow = WORKFLOWS[fo["shipping"]["type"]]
    current = fo["status"]
    if status == current:
        return
    if status not in flow or not (
        flow.index(status) > flow.index(current) or (current, status) == ("PACKED", "UNPACKED")
    ):
        raise validation("Invalid status transition", {"status": [f"cannot change from {current} to {status}"]})
    moment = stamp(now())
    fo["status"] = status
    fo["status_history"].append({"status": status, "created_at": moment})
    if status == "DELIVERED":
        fo["fulfilled_at"] = at or moment
    store_id = int(order["store_id"])
    _save(tx, store_id, fo)
    hooks.emit(
        tx, store_id, "fulfillment_order/status_updated", order_id=order["id"], fulfillment_id=fo["id"], status=status
    )
    set_ship(tx, hooks, order, ORDER_STATE[status])


def _tracking(fo: dict[str, Any], value: Any) -> None:
    if not isinstance(value, dict):
        raise validation("Validation error", {"tracking_info": ["must be an object"]})
    info = {
        "code": value.get("code"),
        "url": value.get("url"),
        "notify_customer": bool(value.get("notify_customer", False)),
    }
    if fo["tracking_info"].get("code") or fo["tracking_info"].get("url"):
        fo["tracking_info_history"].append(fo["tracking_info"] | {"created_at": stamp(now())})
    fo["tracking_info"] = info


def patch(tx: Tx, hooks: Webhooks, store_id: int, order_id: int, fo_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``PATCH …/fulfillment-orders/{id}``: any of ``status``, ``tracking_info``, ``destination``, ``shipping``,
    ``recipient``, ``assigned_location``."""
    order = _order(tx, store_id, order_id)
    fo = get(tx, store_id, order_id, fo_id)
    flow = WORKFLOWS[fo["shipping"]["type"]]
    dispatched = fo["status"] not in ("UNPACKED", "PACKED")
    for key in ("destination", "shipping", "recipient"):
        if key in body:
            if dispatched:
                raise validation(
                    "Validation error", {key: ["cannot be changed after the fulfillment order was dispatched"]}
                )
            if not isinstance(body[key], dict):
                raise validation("Validation error", {key: ["must be an object"]})
            fo[key] = fo[key] | body[key]
    if "assigned_location" in body:
        if fo["status"] != "UNPACKED":
            raise validation("Validation error", {"assigned_location": ["cannot be changed after packing"]})
        if not isinstance(body["assigned_location"], dict):
            raise validation("Validation error", {"assigned_location": ["must be an object"]})
        fo["assigned_location"] = fo["assigned_location"] | body["assigned_location"]
    if "tracking_info" in body:
        _tracking(fo, body["tracking_info"])
    status = body.get("status")
    if status is not None and (not isinstance(status, str) or status not in flow):
        raise validation("Validation error", {"status": [f"must be one of {', '.join(flow)}"]})
    _save(tx, store_id, fo)
    if status is not None:
        _move(tx, hooks, order, fo, status)
    return public(fo)


def delete(tx: Tx, store_id: int, order_id: int, fo_id: str) -> None:
    """``DELETE …/fulfillment-orders/{id}``."""
    _order(tx, store_id, order_id)
    get(tx, store_id, order_id, fo_id)
    tx.delete("tn_fo", fo_id)
    order = _order(tx, store_id, order_id)
    order["fulfillments"] = [entry for entry in order["fulfillments"] if entry["id"] != fo_id]
    tx.put("tn_order", order_id, order, owner=store_id)


def follow_v1(tx: Tx, hooks: Webhooks, order: dict[str, Any], status: str, tracking: dict[str, Any] | None) -> None:
    """v1 ``pack``/``fulfill``: the order's fulfillment order moves to ``status`` (with the tracking info)."""
    store_id = int(order["store_id"])
    for entry in order["fulfillments"]:
        fo = tx.get("tn_fo", entry["id"], store_id)
        if fo is None:
            continue
        if tracking is not None:
            _tracking(fo, tracking)
        target = status if status in WORKFLOWS[fo["shipping"]["type"]] else WORKFLOWS[fo["shipping"]["type"]][-2]
        _save(tx, store_id, fo)
        _move(tx, hooks, order, fo, target)
    state = ORDER_STATE.get(status, "shipped")
    set_ship(tx, hooks, order, state)


# Tracking events.


def _event_input(body: dict[str, Any]) -> dict[str, Any]:
    status, description = body.get("status"), body.get("description")
    problems: dict[str, list[str]] = {}
    if not isinstance(status, str) or not (status in TRACKING_STATUSES or status.startswith("custom_")):
        problems["status"] = ["should not be empty", "must be a valid tracking status"]
    if not isinstance(description, str) or not description:
        problems["description"] = ["should not be empty", "must be a string"]
    happened = body.get("happened_at")
    if happened is not None and (not isinstance(happened, str) or parse_date(happened) is None):
        problems["happened_at"] = ["must be a valid ISO 8601 date"]
    if problems:
        raise validation("Validation error", problems)
    return {
        "status": status,
        "description": description,
        "address": body.get("address"),
        "geolocation": body.get("geolocation"),
        "happened_at": happened,
        "estimated_delivery_at": body.get("estimated_delivery_at"),
    }


def _same(one: dict[str, Any], other: dict[str, Any]) -> bool:
    keys = ("status", "description", "address", "geolocation", "estimated_delivery_at")
    if any(one[key] != other[key] for key in keys):
        return False
    if one["happened_at"] is None or other["happened_at"] is None:
        return True  # "now" twice within the same minute counts as the same event
    first, second = parse_date(one["happened_at"]), parse_date(other["happened_at"])
    return first is not None and second is not None and abs((first - second).total_seconds()) <= 60


def add_event(
    tx: Tx, hooks: Webhooks, store_id: int, order_id: int, fo_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST …/tracking-events``: only while ``DISPATCHED``; ``delivered`` delivers the fulfillment order."""
    order = _order(tx, store_id, order_id)
    fo = get(tx, store_id, order_id, fo_id)
    given = _event_input(body)
    if fo["status"] not in ("DISPATCHED", "READY_FOR_PICKUP"):
        raise error(400, "Tracking events can only be added to a dispatched fulfillment order", "Bad Request")
    if len(fo["tracking_events"]) >= MAX_TRACKING_EVENTS:
        raise error(400, "Tracking events has reached the limit", "Bad Request")
    if any(_same(given, event) for event in fo["tracking_events"]):
        raise error(400, IDENTICAL, "Bad Request")
    moment = stamp(now())
    event = {"id": ulid(), "fulfillment_order_id": fo_id, **given, "created_at": moment, "updated_at": moment}
    fo["tracking_events"].append(event)
    _save(tx, store_id, fo)
    fields = {
        "order_id": order_id,
        "fulfillment_id": fo_id,
        "tracking_event_id": event["id"],
        "status": given["status"],
    }
    hooks.emit(tx, store_id, "fulfillment_order/tracking_event_created", **fields)
    if given["status"] == "delivered":
        _move(tx, hooks, order, fo, "DELIVERED", given["happened_at"] or moment)
    return event


def get_event(tx: Tx, store_id: int, order_id: int, fo_id: str, event_id: str) -> dict[str, Any]:
    """One tracking event; 404 otherwise."""
    fo = get(tx, store_id, order_id, fo_id)
    event = next((event for event in fo["tracking_events"] if event["id"] == event_id), None)
    if event is None:
        raise error(404, "Tracking event not found", "Not Found")
    return event


def update_event(
    tx: Tx, hooks: Webhooks, store_id: int, order_id: int, fo_id: str, event_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """``PUT …/tracking-events/{id}``: the event replaced by the input."""
    fo = get(tx, store_id, order_id, fo_id)
    event = get_event(tx, store_id, order_id, fo_id, event_id)
    given = _event_input(body)
    if any(_same(given, other) for other in fo["tracking_events"] if other["id"] != event_id):
        raise error(400, IDENTICAL, "Bad Request")
    event |= given | {"updated_at": stamp(now())}
    fo["tracking_events"] = [event if other["id"] == event_id else other for other in fo["tracking_events"]]
    _save(tx, store_id, fo)
    fields = {"order_id": order_id, "fulfillment_id": fo_id, "tracking_event_id": event_id, "status": given["status"]}
    hooks.emit(tx, store_id, "fulfillment_order/tracking_event_updated", **fields)
    return event


def delete_event(tx: Tx, hooks: Webhooks, store_id: int, order_id: int, fo_id: str, event_id: str) -> None:
    """``DELETE …/tracking-events/{id}``."""
    fo = get(tx, store_id, order_id, fo_id)
    event = get_event(tx, store_id, order_id, fo_id, event_id)
    fo["tracking_events"] = [other for other in fo["tracking_events"] if other["id"] != event_id]
    _save(tx, store_id, fo)
    fields = {"order_id": order_id, "fulfillment_id": fo_id, "tracking_event_id": event_id, "status": event["status"]}
    hooks.emit(tx, store_id, "fulfillment_order/tracking_event_deleted", **fields)
