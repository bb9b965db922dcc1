"""How the hub's order statuses reach a Tiendanube store: packed and fulfilled (v1 ``pack``/``fulfill``, or the
fulfillment-order API on dated versions) with the tracking number and URL, cancelled with a reason and restock,
closed, and reopened when the hub moves a closed order on. Steps already done on the store are skipped, so a
repeated push changes nothing."""

from __future__ import annotations

from typing import Any

from alephee.channels.tiendanube import mapping as tn
from alephee.channels.tiendanube.calls import Api, path_part
from alephee.marketplaces.contract import OrderStatusPush, PermanentDeliveryError
from alephee.orders import statuses as st

# How the hub's order statuses reach the store (see the module docstring).
PACK_STATUSES = frozenset({st.READY_TO_SHIP, st.ARRIVED})
FULFIL_STATUSES = frozenset({st.SHIPPED})
CLOSE_STATUSES = frozenset({st.DELIVERED})
CANCEL_STATUSES = frozenset({st.CANCELLED})
# Versions that still ship with v1 ``pack``/``fulfill`` (dated versions use fulfillment orders).
V1_VERSIONS = frozenset({"v1", ""})
# Fulfillment-order statuses in their order along the normal path.
FO_PATH = ("UNPACKED", "PACKED", "DISPATCHED", "DELIVERED")
CANCEL_REASON = "other"
# The hub's statuses that move an order on the store; the others send nothing.
SENT_STATUSES = PACK_STATUSES | FULFIL_STATUSES | CLOSE_STATUSES | CANCEL_STATUSES


def send_status(store: Api, order_id: int, update: OrderStatusPush) -> None:
    """Bring the store's order ``order_id`` to the hub's status ``update.status`` (one of ``SENT_STATUSES``)."""
    status = update.status
    order = store.call("read the order", lambda c, a: c.get(a, f"/orders/{order_id}"))
    if not isinstance(order, dict):
        raise PermanentDeliveryError(f"order {order_id} cannot be read on Tiendanube")
    current = str(order.get("status") or "open")
    if status in CANCEL_STATUSES:
        if current != "cancelled":
            body = {"reason": CANCEL_REASON, "email": True, "restock": True}
            store.call("cancel the order", lambda c, a: c.post(a, f"/orders/{order_id}/cancel", body))
        return None
    if current == "cancelled":
        raise PermanentDeliveryError(f"order {order_id} is cancelled on Tiendanube")
    if current == "closed":
        store.call("reopen the order", lambda c, a: c.post(a, f"/orders/{order_id}/open"))
    target = "PACKED" if status in PACK_STATUSES else "DISPATCHED" if status in FULFIL_STATUSES else "DELIVERED"
    if store.store.version not in V1_VERSIONS:
        _fulfilment_orders(store, order_id, target, update)
    else:
        _v1_shipping(store, order_id, order, target, update)
    if status in CLOSE_STATUSES:
        store.call("close the order", lambda c, a: c.post(a, f"/orders/{order_id}/close"))


def _v1_shipping(store: Api, order_id: int, order: dict[str, Any], target: str, update: OrderStatusPush) -> None:
    shipping = str(order.get("shipping_status") or "unpacked")
    if shipping in tn.SHIPPED_STATUSES:
        return
    if target == "PACKED":
        if shipping not in tn.PACKED_STATUSES:
            store.call("pack the order", lambda c, a: c.post(a, f"/orders/{order_id}/pack"))
        return
    body: dict[str, Any] = {"notify_customer": True}
    if update.tracking_number:
        body["shipping_tracking_number"] = update.tracking_number
    if update.tracking_url:
        body["shipping_tracking_url"] = update.tracking_url
    store.call("fulfil the order", lambda c, a: c.post(a, f"/orders/{order_id}/fulfill", body))


def _fulfilment_orders(store: Api, order_id: int, target: str, update: OrderStatusPush) -> None:
    found = store.call("read the fulfillment orders", lambda c, a: c.get(a, f"/orders/{order_id}/fulfillment-orders"))
    if isinstance(found, dict):
        found = found.get("results")
    wanted = FO_PATH.index(target)
    for element in found if isinstance(found, list) else []:
        if not isinstance(element, dict) or not element.get("id"):
            continue
        fo_id = str(element["id"])
        current = str(element.get("status") or "UNPACKED").upper()
        step = FO_PATH.index(current) if current in FO_PATH else len(FO_PATH)
        path = f"/orders/{order_id}/fulfillment-orders/{path_part(fo_id)}"
        # The platform moves one step at a time: UNPACKED → PACKED → DISPATCHED → DELIVERED.
        for next_status in FO_PATH[step + 1 : wanted + 1]:
            body: dict[str, Any] = {"status": next_status}
            if next_status == "DISPATCHED" and (update.tracking_number or update.tracking_url):
                body["tracking_info"] = {
                    "code": update.tracking_number,
                    "url": update.tracking_url,
                    "notify_customer": True,
                }
            store.call("update the fulfillment order", lambda c, a, body=body, path=path: c.patch(a, path, body))
