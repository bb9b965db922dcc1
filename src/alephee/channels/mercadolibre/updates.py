"""What a push sends to Mercado Libre: the fields of an item that differ from the hub's listing (``PUT
/items/{id}``), every variation listed when it has any (the ones left out would be deleted), the status the hub
wants as Mercado Libre spells it."""

from __future__ import annotations

from typing import Any

from alephee.channels.mercadolibre import mapping as ml
from alephee.channels.mercadolibre.calls import desired_status, status_change, wire_money
from alephee.channels.mercadolibre.facts import ListingData
from alephee.listings.statuses import INACTIVE, PAUSED, UNDER_REVIEW


def item_changes(item: dict[str, Any], data: ListingData) -> dict[str, Any]:
    """What to PUT: only the fields whose value on Mercado Libre differs from the hub's listing."""
    changes: dict[str, Any] = {}
    variations = [v for v in item.get("variations") or [] if isinstance(v, dict) and ml.to_int(v.get("id"))]
    if variations:
        by_id = {v.variation_id: v for v in data.variants}
        wire: list[dict[str, Any]] = []
        differs = False
        for variation in variations:
            vid = ml.to_int(variation.get("id")) or 0
            current_qty = ml.to_int(variation.get("available_quantity"))
            current_price = ml.money(variation.get("price"))
            child = by_id.get(vid)
            quantity = child.quantity if child is not None else current_qty
            price = (child.price if child is not None else None) or data.price or current_price
            differs = differs or quantity != current_qty or (price is not None and price != current_price)
            element: dict[str, Any] = {"id": vid, "available_quantity": quantity}
            if price is not None:
                element["price"] = wire_money(price)
            wire.append(element)
        if differs:
            changes["variations"] = wire  # every variation: the ones left out would be deleted
    else:
        if ml.to_int(item.get("available_quantity")) != data.publish_quantity:
            changes["available_quantity"] = data.publish_quantity
        if data.price is not None and ml.money(item.get("price")) != data.price:
            changes["price"] = wire_money(data.price)
    wanted = desired_status(data.status, data.status_reason)
    if data.status == PAUSED and data.price is None:
        wanted = "paused"  # no price: never sold at the old one
    if data.status in (UNDER_REVIEW, INACTIVE):
        wanted = None
    status = status_change(item, wanted)
    if status is not None:
        changes["status"] = status
    if status == "closed":
        return {"status": "closed"}  # nothing else matters on a finished listing
    return changes
