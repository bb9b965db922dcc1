"""Stand-in only, never part of Mercado Libre: the ``/_test/...`` hooks that make happen what buyers and carriers
make happen on the real one (a purchase, a cancellation, a shipment moving, a buyer's message or question, a
claim opened and closed, a question banned, an item tag), a
token for a seller without the browser, and injected faults (the next N calls of a path answer 429 or 5xx)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from alephee.channels import standin_store
from alephee.channels.mercadolibre.standin import claims, items, messages, orders, questions
from alephee.channels.mercadolibre.standin.api import json_body, number
from alephee.channels.mercadolibre.standin.auth import OAuth
from alephee.channels.mercadolibre.standin.common import as_int, refuse
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Store, Tx

TEST_PREFIX = "/_test"
FAULT_BODIES: dict[int, dict[str, Any]] = {
    429: {"message": "Too Many Requests", "error": "too_many_requests", "status": 429, "cause": []},
    500: {"message": "Internal server error", "error": "internal_server_error", "status": 500, "cause": []},
    502: {"message": "Bad Gateway", "error": "bad_gateway", "status": 502, "cause": []},
    503: {"message": "Service unavailable", "error": "service_not_available", "status": 503, "cause": []},
    504: {"message": "Gateway timeout", "error": "gateway_timeout", "status": 504, "cause": []},
}


def add_fault(tx: Tx, path_prefix: str, status: int, count: int = 1, method: str | None = None) -> dict[str, Any]:
    """The next ``count`` calls whose path starts with ``path_prefix`` (and of ``method``) answer ``status``."""
    try:
        return standin_store.add_fault(tx, path_prefix, status, count, method, FAULT_BODIES)
    except ValueError as exc:
        raise refuse(400, "bad_request", str(exc)) from None


def take_fault(store: Store, method: str, path: str) -> Response | None:
    """The injected answer for this call, if a fault matches it (spending one of its count)."""
    if path.startswith(TEST_PREFIX):
        return None
    status = standin_store.take_fault(store, method, path)
    return None if status is None else JSONResponse(FAULT_BODIES[status], status)


def tag_item(tx: Tx, notifier: Notifier, item_id: str, add: list[str], remove: list[str]) -> dict[str, Any]:
    """Add and remove tags of an item (``price_automation`` turns the price rule on)."""
    item = items.get(tx, item_id)
    item["tags"] = sorted((set(item["tags"]) | set(add)) - set(remove))
    items.save(tx, notifier, item)
    return item


def add_hook_routes(router: APIRouter, store: Store, notifier: Notifier, oauth: OAuth) -> None:
    """Register the ``/_test`` hooks on ``router``."""

    async def run(request: Request, work: Any, status: int = 200) -> JSONResponse:
        body = await json_body(request) if await request.body() else {}

        def inside() -> Any:
            with store.begin() as tx:
                return work(tx, body)

        return JSONResponse(await run_in_threadpool(inside), status)

    @router.post(f"{TEST_PREFIX}/tokens")
    async def token(request: Request) -> Response:
        def work(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
            seller = as_int(body.get("seller_id")) or oauth.default_seller
            if seller not in oauth.sellers:
                raise refuse(400, "bad_request", f"Unknown seller {body.get('seller_id')}")
            return oauth.issue(tx, seller, str(body.get("client_id") or oauth.client_id or "1"))

        return await run(request, work, 201)

    @router.post(f"{TEST_PREFIX}/orders")
    async def buy(request: Request) -> Response:
        return await run(request, lambda tx, body: orders.buy(tx, notifier, body), 201)

    @router.post(f"{TEST_PREFIX}/orders/{{order_id}}/cancel")
    async def cancel(request: Request, order_id: str) -> Response:
        return await run(request, lambda tx, _body: orders.cancel(tx, notifier, number(order_id, "order")))

    @router.post(f"{TEST_PREFIX}/shipments/{{shipment_id}}/status")
    async def shipment_status(request: Request, shipment_id: str) -> Response:
        def work(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
            if not isinstance(body.get("status"), str):
                raise refuse(400, "bad_request", "status is required")
            shipment = number(shipment_id, "shipment")
            return orders.set_shipment_status(tx, notifier, shipment, body["status"], body.get("substatus"))

        return await run(request, work)

    @router.post(f"{TEST_PREFIX}/messages")
    async def buyer_message(request: Request) -> Response:
        def work(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
            pack = as_int(body.get("pack_id"))
            if pack is None:
                raise refuse(400, "bad_request", "pack_id is required")
            return messages.from_buyer(tx, notifier, pack, str(body.get("text") or ""))

        return await run(request, work, 201)

    @router.post(f"{TEST_PREFIX}/questions")
    async def ask(request: Request) -> Response:
        def work(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
            if not isinstance(body.get("item_id"), str):
                raise refuse(400, "bad_request", "item_id is required")
            buyer = as_int(body.get("buyer_id")) if body.get("buyer_id") is not None else None
            return questions.ask(tx, notifier, body["item_id"], str(body.get("text") or ""), buyer)

        return await run(request, work, 201)

    @router.post(f"{TEST_PREFIX}/questions/{{question_id}}/ban")
    async def ban(request: Request, question_id: str) -> Response:
        return await run(request, lambda tx, _body: questions.ban(tx, notifier, number(question_id, "question")))

    @router.post(f"{TEST_PREFIX}/claims")
    async def open_claim(request: Request) -> Response:
        def work(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
            order = as_int(body.get("order_id"))
            if order is None:
                raise refuse(400, "bad_request", "order_id is required")
            return claims.open_claim(
                tx,
                notifier,
                order,
                reason_id=str(body.get("reason_id") or "PDD9549"),
                claim_type=str(body.get("type") or "mediations"),
                resource=str(body.get("resource") or "order"),
            )

        return await run(request, work, 201)

    @router.post(f"{TEST_PREFIX}/claims/{{claim_id}}/close")
    async def close_claim(request: Request, claim_id: str) -> Response:
        def work(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
            reason = str(body.get("reason") or "payment_refunded")
            return claims.close(tx, notifier, number(claim_id, "claim"), reason)

        return await run(request, work)

    @router.post(f"{TEST_PREFIX}/items/{{item_id}}/tags")
    async def tags(request: Request, item_id: str) -> Response:
        def work(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
            return tag_item(tx, notifier, item_id, list(body.get("tags") or []), list(body.get("remove") or []))

        return await run(request, work)

    @router.post(f"{TEST_PREFIX}/faults")
    async def faults(request: Request) -> Response:
        def work(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
            count = body.get("count", 1)
            return add_fault(tx, str(body.get("path_prefix", "")), as_int(body.get("status")) or 0,
                             count if isinstance(count, int) else 0, body.get("method"))  # fmt: skip

        return await run(request, work, 201)
