"""The seller API's routes: each checks the bearer token, runs one function of the stand-in's modules
in one transaction of its store, and answers its JSON (or the label/file bytes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from alephee.channels.mercadolibre.standin import catalog, claims, items, messages, orders, questions, shipping
from alephee.channels.mercadolibre.standin.auth import bearer_seller
from alephee.channels.mercadolibre.standin.common import MLError, as_int, public, refuse
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Store, Tx

QUANTITY_BUCKETS = (50000, 5000, 500, 250, 200, 150, 100, 50, 1)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; 400 ``body.invalid`` when it is not one."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise refuse(400, "bad_request", "body.invalid: a JSON object is expected")
    return body


def number(value: str, what: str) -> int:
    """A numeric path id; 400 ``invalid_{what}_id`` otherwise."""
    parsed = as_int(value)
    if parsed is None:
        raise refuse(400, f"invalid_{what}_id", f"Invalid {what} id {value}")
    return parsed


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """What a caller other than the owner sees: bucketed stock, no sales count."""
    quantity = item["available_quantity"]
    bucket = next((b for b in QUANTITY_BUCKETS if quantity >= b), 0)
    return item | {"available_quantity": bucket, "sold_quantity": None}


def add_seller_routes(router: APIRouter, store: Store, notifier: Notifier) -> None:
    """Register the seller API on ``router``."""

    def private(request: Request, work: Callable[[Tx, int], Any]) -> Any:
        with store.begin() as tx:
            return work(tx, bearer_seller(tx, request))

    async def call(request: Request, work: Callable[[Tx, int], Any], status: int = 200) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(private, request, work), status)

    def site(tx: Tx, seller_id: int) -> str:
        return str((tx.get("user", seller_id) or {}).get("site_id", "MLA"))

    @router.post("/items")
    async def create_item(request: Request) -> Response:
        body = await json_body(request)
        return await call(request, lambda tx, seller: items.create(tx, notifier, seller, site(tx, seller), body), 201)

    @router.get("/items/bulk")
    async def items_bulk(request: Request) -> Response:
        return await call(request, lambda tx, _seller: catalog.bulk(tx, dict(request.query_params)))

    @router.get("/items")
    async def items_multiget(request: Request) -> Response:
        return await call(request, lambda tx, _seller: catalog.multiget(tx, dict(request.query_params)))

    @router.get("/items/{item_id}")
    async def get_item(request: Request, item_id: str) -> Response:
        def work() -> dict[str, Any]:
            with store.begin() as tx:
                caller = bearer_seller(tx, request) if "authorization" in request.headers else None
                item = items.get(tx, item_id)
                return item if caller == item["seller_id"] else public_item(item)

        return JSONResponse(await run_in_threadpool(work))

    @router.put("/items/{item_id}")
    async def update_item(request: Request, item_id: str) -> Response:
        body = await json_body(request)
        return await call(request, lambda tx, seller: items.update(tx, notifier, seller, item_id, body))

    @router.post("/items/{item_id}/description")
    async def describe_item(request: Request, item_id: str) -> Response:
        body = await json_body(request)

        def work(tx: Tx, seller: int) -> dict[str, Any]:
            item = items.owned(tx, item_id, seller)
            if not isinstance(body.get("plain_text"), str):
                raise refuse(400, "bad_request", "plain_text is required")
            description = {"text": "", "plain_text": body["plain_text"], "last_updated": item["last_updated"],
                           "date_created": item["last_updated"]}  # fmt: skip
            tx.put("description", item_id, description, owner=seller)
            items.save(tx, notifier, item)
            return description

        return await call(request, work, 201)

    @router.get("/items/{item_id}/description")
    async def item_description(request: Request, item_id: str) -> Response:
        def work(tx: Tx, _seller: int) -> dict[str, Any]:
            items.get(tx, item_id)
            found = tx.get("description", item_id)
            if found is None:
                raise refuse(404, "not_found", f"Description of item {item_id} not found")
            return found

        return await call(request, work)

    @router.get("/users/{user_id}/items/search")
    async def search_items(request: Request, user_id: str) -> Response:
        def work(tx: Tx, seller: int) -> dict[str, Any]:
            if number(user_id, "user") != seller:
                raise refuse(403, "forbidden", f"The caller {seller} can not search the items of user {user_id}")
            return catalog.search(tx, seller, dict(request.query_params))

        return await call(request, work)

    @router.get("/sites/{site_id}/domain_discovery/search")
    async def domain_discovery(request: Request, site_id: str) -> Response:
        return JSONResponse(catalog.discover(site_id, dict(request.query_params)))

    @router.get("/orders/search")
    async def search_orders(request: Request) -> Response:
        def work(tx: Tx, seller: int) -> dict[str, Any]:
            query = dict(request.query_params)
            if not query.get("seller"):
                raise refuse(400, "bad_request", "The seller param is required")
            if as_int(query["seller"]) != seller:
                raise refuse(403, "caller.id.invalid", f"The caller {seller} is not the seller {query['seller']}")
            return orders.search(tx, seller, query)

        return await call(request, work)

    @router.get("/orders/{order_id}")
    async def get_order(request: Request, order_id: str) -> Response:
        return await call(request, lambda tx, seller: orders.order(tx, number(order_id, "order"), seller))

    @router.get("/orders/{order_id}/billing_info")
    async def billing_info(request: Request, order_id: str) -> Response:
        return await call(request, lambda tx, seller: orders.billing_info(tx, number(order_id, "order"), seller))

    @router.get("/packs/{pack_id}")
    async def get_pack(request: Request, pack_id: str) -> Response:
        return await call(request, lambda tx, seller: public(orders.pack(tx, number(pack_id, "pack"), seller)))

    @router.get("/shipments/{shipment_id}")
    async def get_shipment(request: Request, shipment_id: str) -> Response:
        header = request.headers.get("x-format-new")
        return await call(request, lambda tx, s: shipping.read(tx, number(shipment_id, "shipment"), s, header))

    @router.get("/shipments/{shipment_id}/orders")
    async def shipment_orders(request: Request, shipment_id: str) -> Response:
        return await call(request, lambda tx, s: shipping.shipment_orders(tx, number(shipment_id, "shipment"), s))

    @router.get("/shipments/{shipment_id}/history")
    async def shipment_history(request: Request, shipment_id: str) -> Response:
        return await call(request, lambda tx, s: shipping.history(tx, number(shipment_id, "shipment"), s))

    @router.get("/shipment_labels")
    async def shipment_labels(request: Request) -> Response:
        query = dict(request.query_params)
        content, media = await run_in_threadpool(
            private, request, lambda tx, seller: shipping.labels(tx, notifier, seller, query)
        )
        return Response(content, media_type=media)

    @router.post("/packs/{pack_id}/fiscal_documents")
    async def upload_fiscal(request: Request, pack_id: str) -> Response:
        try:
            form = await request.form(max_part_size=2 * 1024 * 1024)
        except Exception:  # a body that is not multipart at all
            raise refuse(400, "bad_request", "multipart/form-data with fiscal_document is expected") from None
        files = []
        for part in form.getlist("fiscal_document"):
            if isinstance(part, UploadFile):
                files.append((part.filename or "fiscal_document", part.content_type or "", await part.read()))
        return await call(request, lambda tx, s: shipping.upload_fiscal(tx, s, number(pack_id, "pack"), files))

    @router.post("/shipments/{shipment_id}/invoice_data/")
    @router.post("/shipments/{shipment_id}/invoice_data")
    async def import_invoice(request: Request, shipment_id: str) -> Response:
        xml = await request.body()
        kind, site_id = request.headers.get("content-type", ""), request.query_params.get("siteId")
        return await call(
            request,
            lambda tx, s: shipping.import_invoice(tx, notifier, s, number(shipment_id, "shipment"), site_id, kind, xml),
        )

    @router.get("/packs/{pack_id}/fiscal_documents")
    async def list_fiscal(request: Request, pack_id: str) -> Response:
        return await call(request, lambda tx, s: shipping.fiscal_documents(tx, s, number(pack_id, "pack")))

    @router.get("/packs/{pack_id}/fiscal_documents/{document_id}")
    async def fiscal_file(request: Request, pack_id: str, document_id: str) -> Response:
        content, media = await run_in_threadpool(
            private, request, lambda tx, s: shipping.fiscal_file(tx, s, number(pack_id, "pack"), document_id)
        )
        return Response(content, media_type=media)

    @router.get("/messages/packs/{pack_id}/sellers/{seller_id}")
    async def conversation(request: Request, pack_id: str, seller_id: str) -> Response:
        query = dict(request.query_params)
        return await call(
            request,
            lambda tx, s: messages.conversation(tx, number(pack_id, "pack"), number(seller_id, "user"), s, query),
        )

    @router.post("/messages/packs/{pack_id}/sellers/{seller_id}")
    async def send_message(request: Request, pack_id: str, seller_id: str) -> Response:
        query = dict(request.query_params)
        messages.require_tag(query)
        body = await json_body(request)
        pack, seller = number(pack_id, "pack"), number(seller_id, "user")
        return await call(request, lambda tx, s: messages.send(tx, notifier, pack, seller, s, query, body), 201)

    @router.get("/messages/{message_id}")
    async def get_message(request: Request, message_id: str) -> Response:
        query = dict(request.query_params)
        return await call(request, lambda tx, s: messages.one(tx, message_id, s, query))

    @router.get("/questions/search")
    async def search_questions(request: Request) -> Response:
        return await call(request, lambda tx, s: questions.search(tx, s, dict(request.query_params)))

    @router.get("/questions/{question_id}")
    async def get_question(request: Request, question_id: str) -> Response:
        return await call(request, lambda tx, s: questions.get(tx, number(question_id, "question"), s))

    @router.delete("/questions/{question_id}")
    async def delete_question(request: Request, question_id: str) -> Response:
        return await call(request, lambda tx, s: questions.delete(tx, notifier, number(question_id, "question"), s))

    @router.post("/answers")
    async def answer_question(request: Request) -> Response:
        try:
            body = await json_body(request)
        except MLError:
            raise refuse(400, "invalid_post_body", "The body must be a JSON object with question_id and text") from None
        return await call(request, lambda tx, s: questions.answer(tx, notifier, s, body))

    @router.get("/post-purchase/v1/claims/search")
    async def search_claims(request: Request) -> Response:
        return await call(request, lambda tx, s: claims.search(tx, s, dict(request.query_params)))

    @router.get("/post-purchase/v1/claims/{claim_id}")
    async def get_claim(request: Request, claim_id: str) -> Response:
        return await call(request, lambda tx, s: claims.get(tx, number(claim_id, "claim"), s))

    @router.get("/post-purchase/v1/claims/{claim_id}/detail")
    async def claim_detail(request: Request, claim_id: str) -> Response:
        return await call(request, lambda tx, s: claims.detail(tx, number(claim_id, "claim"), s))

    @router.get("/missed_feeds")
    async def missed_feeds(request: Request) -> Response:
        return await call(request, lambda tx, _s: notifier.missed_feeds(tx, dict(request.query_params)))
