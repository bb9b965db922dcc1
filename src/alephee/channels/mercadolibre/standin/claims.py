"""Claims (``/post-purchase/v1/claims``): a buyer opens one on an order, its shipment or its payment (the test
hook), the seller reads it, its detail, and searches (at least one real filter, else 400 ``invalid_query``); the
claim is closed with a resolution (the test hook: Mercado Libre's mediation closes it). Opening and closing notify
topic ``post_purchase`` with action ``claims``; the resource is ``/post-purchase/v1/claims/{id}``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alephee.channels.mercadolibre.standin import orders
from alephee.channels.mercadolibre.standin.common import MLError, as_int, int_param, local_text, now, public
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Tx

TYPES = ("mediations", "return", "fulfillment", "ml_case", "cancel_sale", "cancel_purchase", "change", "service")
# Filters that make a search real; paging and sorting alone are refused.
FILTERS = (
    "id", "type", "stage", "status", "resource", "resource_id", "reason_id", "site_id", "players.role",
    "players.user_id", "order_id", "pack_id", "payment_id", "parent_id", "date_created",
)  # fmt: skip
MAX_LIMIT = 100
SELLER_ACTIONS = ("send_message_to_complainant", "refund", "open_dispute", "allow_return")


def _error(status: int, error: str, message: str) -> MLError:
    return MLError(status, {"message": message, "error": error, "status": status, "cause": []})


def _save(tx: Tx, notifier: Notifier, claim: dict[str, Any]) -> dict[str, Any]:
    tx.put("claim", claim["id"], claim, owner=claim["_seller_id"])
    notifier.emit(tx, "post_purchase", f"/post-purchase/v1/claims/{claim['id']}", claim["_seller_id"], ["claims"])
    return public(claim)


def open_claim(
    tx: Tx,
    notifier: Notifier,
    order_id: int,
    *,
    reason_id: str = "PDD9549",
    claim_type: str = "mediations",
    resource: str = "order",
) -> dict[str, Any]:
    """The order's buyer opens a claim (``resource`` ``order`` names the order, ``shipment`` its shipment,
    ``payment`` its first payment)."""
    order = orders.order(tx, order_id)
    if claim_type not in TYPES:
        raise _error(400, "bad_request_error", f"Invalid claim type {claim_type}")
    if resource not in ("order", "shipment", "payment"):
        raise _error(400, "bad_request_error", f"Invalid resource {resource}")
    payment_id = next((p["id"] for p in order.get("payments") or []), None)
    if resource == "payment" and payment_id is None:
        raise _error(400, "bad_request_error", f"Order {order_id} has no payment")
    resource_ids = {"order": order_id, "shipment": order["shipping"]["id"], "payment": payment_id}
    seller, buyer = order["seller"]["id"], order["buyer"]["id"]
    moment = now()
    site = order["context"]["site"]
    stamp = local_text(moment, site)
    due = local_text(moment + timedelta(days=3), site)
    claim_id = tx.next_id("claim", 5100000000)
    claim = {
        "id": claim_id,
        "resource_id": resource_ids[resource],
        "status": "opened",
        "type": claim_type,
        "stage": "claim",
        "parent_id": None,
        "resource": resource,
        "reason_id": reason_id,
        "fulfilled": True,
        "quantity_type": "total",
        "claimed_quantity": sum(line["quantity"] for line in order["order_items"]),
        "claim_version": 1,
        "players": [
            {"role": "complainant", "type": "buyer", "user_id": buyer, "available_actions": []},
            {
                "role": "respondent",
                "type": "seller",
                "user_id": seller,
                "available_actions": [{"action": a, "mandatory": False, "due_date": due} for a in SELLER_ACTIONS],
            },
        ],
        "resolution": None,
        "site_id": site,
        "date_created": stamp,
        "last_updated": stamp,
        "related_entities": [],
        "_seller_id": seller,
        "_order_id": order_id,
        "_pack_id": order.get("pack_id"),
        "_payment_id": payment_id,
    }
    return _save(tx, notifier, claim)


def _claim(tx: Tx, claim_id: int, caller: int | None) -> dict[str, Any]:
    found = tx.get("claim", claim_id)
    if found is None:
        raise _error(404, "business_logic_error", "Resource not found")
    if caller is not None and caller not in {p["user_id"] for p in found["players"]}:
        raise _error(403, "forbidden_error", f"The caller {caller} is not a player of claim {claim_id}")
    return found


def get(tx: Tx, claim_id: int, caller: int) -> dict[str, Any]:
    """``GET /post-purchase/v1/claims/{id}``: a claim the caller plays in."""
    return public(_claim(tx, claim_id, caller))


def detail(tx: Tx, claim_id: int, caller: int) -> dict[str, Any]:
    """``GET /post-purchase/v1/claims/{id}/detail``: who must act next and by when."""
    claim = _claim(tx, claim_id, caller)
    closed = claim["status"] == "closed"
    respondent = next(p for p in claim["players"] if p["role"] == "respondent")
    due = None if closed else next((a["due_date"] for a in respondent["available_actions"]), None)
    return {
        "due_date": due,
        "action_responsible": None if closed else "seller",
        "title": "Reclamo cerrado" if closed else "Reclamo abierto",
        "description": "El comprador recibió un producto diferente o defectuoso",
        "problem": claim["reason_id"],
    }


def search(tx: Tx, caller: int, query: dict[str, str]) -> dict[str, Any]:
    """``GET /post-purchase/v1/claims/search``: at least one real filter; only the caller's claims."""
    if not any(query.get(name) for name in FILTERS):
        raise _error(400, "invalid_query", "At least one filter is required (offset, limit and sort are not filters)")
    limit = int_param(query, "limit", 30)
    offset = int_param(query, "offset", 0)
    if limit == 0 or limit > MAX_LIMIT:
        raise _error(400, "invalid_query", f"limit must be from 1 to {MAX_LIMIT}")
    role = query.get("players.role")
    user = as_int(query.get("players.user_id")) if query.get("players.user_id") else None

    def matches(claim: dict[str, Any]) -> bool:
        simple = {"id": claim["id"], "type": claim["type"], "stage": claim["stage"], "status": claim["status"],
                  "resource": claim["resource"], "resource_id": claim["resource_id"], "reason_id": claim["reason_id"],
                  "site_id": claim["site_id"], "parent_id": claim["parent_id"], "order_id": claim["_order_id"],
                  "pack_id": claim["_pack_id"], "payment_id": claim.get("_payment_id")}  # fmt: skip
        for name, value in simple.items():
            if query.get(name) and str(value) != query[name]:
                return False
        players = claim["players"]
        return not (role or user is not None) or any(
            (not role or p["role"] == role) and (user is None or p["user_id"] == user) for p in players
        )

    found = [c for c in tx.find("claim") if caller in {p["user_id"] for p in c["players"]} and matches(c)]
    found.sort(key=lambda c: c["id"], reverse=query.get("sort", "").endswith(":desc"))
    return {
        "paging": {"offset": offset, "limit": limit, "total": len(found)},
        "data": [public(c) for c in found[offset : offset + limit]],
    }


def close(
    tx: Tx,
    notifier: Notifier,
    claim_id: int,
    reason: str = "payment_refunded",
    closed_by: str = "respondent",
    benefited: str = "complainant",
) -> dict[str, Any]:
    """Mercado Libre closes the claim with a resolution (``payment_refunded``, ``item_returned``, ...)."""
    claim = _claim(tx, claim_id, None)
    if claim["status"] == "closed":
        raise _error(400, "bad_request_error", f"Claim {claim_id} is already closed")
    stamp = local_text(now(), claim["site_id"])
    claim["status"] = "closed"
    claim["resolution"] = {
        "reason": reason,
        "date_created": stamp,
        "benefited": [benefited],
        "closed_by": closed_by,
        "applied_coverage": False,
    }
    for player in claim["players"]:
        player["available_actions"] = []
    claim["last_updated"] = stamp
    claim["claim_version"] += 1
    return _save(tx, notifier, claim)
