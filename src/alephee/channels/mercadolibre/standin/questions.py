"""Pre-sale questions (``api_version=4`` shapes): a buyer asks on an item (the test hook), the seller searches
(``seller_id`` or ``item`` required; ``status``, ``from``, ``sort_fields``/``sort_types``, ``limit``/``offset``),
reads one, answers (``POST /answers``: ``question_id`` and ``text`` ≤ 2,000 characters; ``invalid_post_body``,
``invalid_question``) and deletes (``["Question deleted."]``); moderation can ban a question (the test hook: its
text and its answer's become empty). Every change notifies topic ``questions``."""

from __future__ import annotations

from typing import Any

from alephee.channels.mercadolibre.standin import items
from alephee.channels.mercadolibre.standin.common import as_int, int_param, local_text, now, public, refuse
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Tx

MAX_ANSWER = 2000
MAX_QUESTION = 2000
MAX_LIMIT = 50
STATUSES = ("ANSWERED", "BANNED", "CLOSED_UNANSWERED", "DELETED", "DISABLED", "UNANSWERED", "UNDER_REVIEW")
SORT_FIELDS = ("item_id", "seller_id", "from_id", "date_created")


def _save(tx: Tx, notifier: Notifier, question: dict[str, Any]) -> dict[str, Any]:
    tx.put("question", question["id"], question, owner=question["seller_id"])
    notifier.emit(tx, "questions", f"/questions/{question['id']}", question["seller_id"])
    return public(question)


def ask(tx: Tx, notifier: Notifier, item_id: str, text: str, buyer_id: int | None = None) -> dict[str, Any]:
    """A buyer asks on an active item."""
    item = items.get(tx, item_id)
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUESTION:
        raise refuse(400, "bad_request", f"text is required, at most {MAX_QUESTION} characters")
    if item["status"] != "active":
        raise refuse(400, "item_not_active", f"Item {item_id} is not active")
    question_id = tx.next_id("question", 13000000000)
    question = {
        "id": question_id,
        "seller_id": item["seller_id"],
        "item_id": item["id"],
        "date_created": local_text(now(), item["site_id"]),
        "status": "UNANSWERED",
        "text": text,
        "deleted_from_listing": False,
        "hold": False,
        "suspected_spam": False,
        "answer": None,
        "from": {"id": buyer_id or tx.next_id("buyer", 1000000000)},
        "_site_id": item["site_id"],
    }
    return _save(tx, notifier, question)


def _question(tx: Tx, question_id: int) -> dict[str, Any]:
    found = tx.get("question", question_id)
    if found is None:
        raise refuse(404, "not_found", f"Question with id {question_id} not found")
    return found


def get(tx: Tx, question_id: int, caller: int) -> dict[str, Any]:
    """``GET /questions/{id}``: the seller's or the asker's question."""
    question = _question(tx, question_id)
    if caller not in (question["seller_id"], question["from"]["id"]):
        raise refuse(403, "forbidden", f"User access token invalid for resource {question_id}")
    return public(question)


def search(tx: Tx, caller: int, query: dict[str, str]) -> dict[str, Any]:
    """``GET /questions/search``: by ``seller_id`` (the caller's) or ``item`` (the caller's item)."""
    seller = query.get("seller_id")
    item_id = query.get("item")
    if not seller and not item_id:
        raise refuse(400, "bad_request", "seller_id or item param is required")
    if seller and as_int(seller) != caller:
        raise refuse(403, "forbidden", f"The caller {caller} can not read the questions of seller {seller}")
    if item_id and items.get(tx, item_id)["seller_id"] != caller:
        raise refuse(403, "forbidden", f"The caller {caller} can not read the questions of item {item_id}")
    status = query.get("status")
    if status and status.upper() not in STATUSES:
        raise refuse(400, "bad_request", f"Invalid status param {status}")
    sort_field = query.get("sort_fields", "date_created")
    if sort_field not in SORT_FIELDS:
        raise refuse(400, "bad_request", f"Invalid sort_fields param {sort_field}")
    sort_type = query.get("sort_types", "DESC").upper()
    if sort_type not in ("ASC", "DESC"):
        raise refuse(400, "bad_request", f"Invalid sort_types param {sort_type}")
    limit = int_param(query, "limit", MAX_LIMIT)
    offset = int_param(query, "offset", 0)
    if limit > MAX_LIMIT or limit == 0:
        raise refuse(400, "bad_request", f"Invalid limit param: from 1 to {MAX_LIMIT}")
    if offset + limit > 1000 and query.get("search_type") != "scan":
        raise refuse(400, "bad_request", "offset + limit over 1000: use search_type=scan")
    asker = as_int(query["from"]) if query.get("from") else None
    found = [
        q
        for q in tx.find("question", owner=caller)
        if (not item_id or q["item_id"] == item_id)
        and (not status or q["status"] == status.upper())
        and (asker is None or q["from"]["id"] == asker)
    ]
    keys = {"from_id": lambda q: q["from"]["id"], "date_created": lambda q: (q["date_created"], q["id"])}
    found.sort(key=keys.get(sort_field, lambda q: q[sort_field]), reverse=sort_type == "DESC")
    return {
        "total": len(found),
        "limit": limit,
        "offset": offset,
        "questions": [public(q) for q in found[offset : offset + limit]],
        "filters": {"limit": limit, "offset": offset, "api_version": query.get("api_version")},
    }


def answer(tx: Tx, notifier: Notifier, caller: int, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /answers``: the seller answers an unanswered question of theirs (the answer is ``ACTIVE``)."""
    question_id = as_int(body.get("question_id"))
    text = body.get("text")
    if question_id is None or not isinstance(text, str) or not text.strip():
        raise refuse(400, "invalid_post_body", "The body must have question_id and text")
    if len(text) > MAX_ANSWER:
        raise refuse(400, "invalid_post_body", f"text must be at most {MAX_ANSWER} characters")
    question = tx.get("question", question_id)
    if question is None or question["seller_id"] != caller:
        raise refuse(400, "invalid_question", f"Invalid question {question_id}")
    if question["status"] != "UNANSWERED":
        raise refuse(400, "invalid_question", f"Question {question_id} is {question['status']}: it can not be answered")
    question["status"] = "ANSWERED"
    question["answer"] = {"text": text, "status": "ACTIVE", "date_created": local_text(now(), question["_site_id"])}
    return _save(tx, notifier, question)


def delete(tx: Tx, notifier: Notifier, question_id: int, caller: int) -> list[str]:
    """``DELETE /questions/{id}``: the seller removes a question of theirs."""
    question = _question(tx, question_id)
    if question["seller_id"] != caller:
        raise refuse(403, "forbidden", f"User access token invalid for resource {question_id}")
    question["status"] = "DELETED"
    question["deleted_from_listing"] = True
    _save(tx, notifier, question)
    return ["Question deleted."]


def ban(tx: Tx, notifier: Notifier, question_id: int) -> dict[str, Any]:
    """Moderation bans the question (and its answer): their text becomes empty."""
    question = _question(tx, question_id)
    question["status"] = "BANNED"
    question["text"] = ""
    if question["answer"] is not None:
        question["answer"] = {**question["answer"], "text": "", "status": "BANNED"}
    return _save(tx, notifier, question)
