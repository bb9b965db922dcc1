"""Post-sale messages: the conversation of a pack (``tag=post_sale`` mandatory; reading marks the buyer's
messages read unless ``mark_as_read=false``), the seller's reply (≤ 350 characters, refused on cancelled orders),
one message by id, and a buyer writing (the test hook)."""

from __future__ import annotations

import secrets
from typing import Any

from alephee.channels.mercadolibre.standin import orders
from alephee.channels.mercadolibre.standin.common import MLError, as_int, int_param, now, refuse, utc_text
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Tx

SELLER_MAX_LENGTH = 350
BUYER_MAX_LENGTH = 3500
BLOCKED = MLError(
    403, {"status_code": 403, "code": "forbidden", "message": "blocked_conversation_send_message_forbidden"}
)


def require_tag(query: dict[str, str]) -> None:
    """Every ``/messages`` call carries ``tag=post_sale``."""
    if query.get("tag") != "post_sale":
        raise refuse(400, "bad_request", "The tag param is required and must be post_sale")


def _conversation(tx: Tx, pack_id: int, seller_id: int, caller: int) -> dict[str, Any]:
    if seller_id != caller:
        raise refuse(403, "forbidden", f"User access token invalid for resource {pack_id}")
    return orders.pack(tx, pack_id, seller_id)


def _cancelled(tx: Tx, pack: dict[str, Any]) -> bool:
    return all(orders.order(tx, entry["id"])["status"] == "cancelled" for entry in pack["orders"])


def _message(pack: dict[str, Any], sender: int, receiver: int, text: str, moment: str) -> dict[str, Any]:
    return {
        "id": secrets.token_hex(16),
        "site_id": pack["_site_id"],
        "client_id": None,
        "from": {"user_id": sender},
        "to": {"user_id": receiver},
        "status": "available",
        "subject": None,
        "text": text,
        "message_date": {"received": moment, "available": moment, "notified": moment, "created": moment, "read": None},
        "message_moderation": {"status": "clean", "reason": None, "source": "online", "moderation_date": moment},
        "message_attachments": None,
        "message_resources": [
            {"id": str(pack["id"]), "name": "packs"},
            {"id": str(pack["_seller_id"]), "name": "sellers"},
        ],
        "conversation_first_message": False,
        "_pack_id": pack["id"],
    }


def _store(tx: Tx, notifier: Notifier, pack: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    thread = tx.get("conversation", pack["id"]) or {"ids": []}
    message["conversation_first_message"] = not thread["ids"]
    thread["ids"].append(message["id"])
    tx.put("conversation", pack["id"], thread, owner=pack["_seller_id"])
    tx.put("message", message["id"], message, owner=pack["_seller_id"])
    notifier.emit(tx, "messages", message["id"], pack["_seller_id"], actions=["created"])
    return {key: value for key, value in message.items() if not key.startswith("_")}


def conversation(tx: Tx, pack_id: int, seller_id: int, caller: int, query: dict[str, str]) -> dict[str, Any]:
    """``GET /messages/packs/{pack}/sellers/{seller}``: the messages, oldest first, paged."""
    require_tag(query)
    limit = int_param(query, "limit", 10)
    if limit == 0:
        raise refuse(400, "bad_request", "The limit param must be greater than 0")
    offset = int_param(query, "offset", 0)
    pack = _conversation(tx, pack_id, seller_id, caller)
    thread = tx.get("conversation", pack_id) or {"ids": []}
    page = [tx.get("message", message_id) or {} for message_id in thread["ids"][offset : offset + limit]]
    if query.get("mark_as_read", "true").lower() != "false":
        moment = utc_text(now())
        for message in page:
            if message["to"]["user_id"] == seller_id and message["message_date"]["read"] is None:
                message["message_date"]["read"] = moment
                tx.put("message", message["id"], message, owner=seller_id)
    blocked = _cancelled(tx, pack)
    return {
        "paging": {"limit": limit, "offset": offset, "total": len(thread["ids"])},
        "conversation_status": {
            "path": f"/packs/{pack_id}/seller/{seller_id}",
            "status": "blocked" if blocked else "active",
            "substatus": "blocked_by_cancelled_order" if blocked else None,
            "status_date": pack["last_updated"],
            "status_update_allowed": False,
            "claim_id": None,
            "shipping_id": pack["shipment"]["id"],
        },
        "messages": [{k: v for k, v in message.items() if not k.startswith("_")} for message in page],
        "seller_max_message_length": SELLER_MAX_LENGTH,
        "buyer_max_message_length": BUYER_MAX_LENGTH,
    }


def send(
    tx: Tx, notifier: Notifier, pack_id: int, seller_id: int, caller: int, query: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """``POST /messages/packs/{pack}/sellers/{seller}``: the seller writes to the pack's buyer."""
    require_tag(query)
    pack = _conversation(tx, pack_id, seller_id, caller)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise refuse(400, "bad_request", "text is required")
    if len(text) > SELLER_MAX_LENGTH:
        raise refuse(400, "bad_request", f"Text too long: the maximum is {SELLER_MAX_LENGTH} characters")
    sender = as_int((body.get("from") or {}).get("user_id"))
    receiver = as_int((body.get("to") or {}).get("user_id"))
    if sender != seller_id:
        raise refuse(400, "bad_request", "from.user_id must be the seller")
    if receiver != pack["buyer"]["id"]:
        raise refuse(400, "bad_request", "to.user_id must be the buyer of the pack")
    if _cancelled(tx, pack):
        raise BLOCKED
    return _store(tx, notifier, pack, _message(pack, seller_id, receiver, text, utc_text(now())))


def from_buyer(tx: Tx, notifier: Notifier, pack_id: int, text: str) -> dict[str, Any]:
    """The pack's buyer writes to the seller."""
    pack = orders.pack(tx, pack_id)
    if not text or len(text) > BUYER_MAX_LENGTH:
        raise refuse(400, "bad_request", f"text is required, at most {BUYER_MAX_LENGTH} characters")
    message = _message(pack, pack["buyer"]["id"], pack["_seller_id"], text, utc_text(now()))
    return _store(tx, notifier, pack, message)


def one(tx: Tx, message_id: str, caller: int, query: dict[str, str]) -> dict[str, Any]:
    """``GET /messages/{id}``: one message of the caller's conversations."""
    require_tag(query)
    message = tx.get("message", message_id)
    if message is None:
        raise refuse(404, "not_found", f"Message {message_id} not found")
    if caller not in (message["from"]["user_id"], message["to"]["user_id"]):
        raise refuse(403, "forbidden", f"User access token invalid for resource {message_id}")
    return {key: value for key, value in message.items() if not key.startswith("_")}
