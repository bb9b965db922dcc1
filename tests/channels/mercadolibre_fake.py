"""A small in-memory Mercado Libre for the channel's unit tests, served through ``httpx.MockTransport``: answers
spec-shaped JSON for the calls the channel makes, records every request, and can be told to fail the next
calls of a path. Also builds the hub side: an account connected to Mercado Libre (marketplace 1) with tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from alephee import clock
from alephee.channels.mercadolibre.channel import MercadoLibreChannel
from alephee.channels.mercadolibre.client import MercadoLibreClient
from alephee.channels.models import ChannelConnection
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ChannelContext
from alephee.marketplaces.registry import marketplace_ref
from alephee.webhooks.crypto import encrypt_secret
from tests.fixtures.database import make_settings

API = "http://ml.example"
SELLER_ID = 415458330
BUYER_ID = 6427433

Handler = Callable[[httpx.Request], httpx.Response]


def reply(status: int, body: Any = None, **headers: str) -> httpx.Response:
    """A JSON answer."""
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class FakeMercadoLibre:
    """The API's state: items, orders, shipments, packs, conversations; ``requests`` holds what was sent."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[int, dict[str, Any]] = field(default_factory=dict)
    packs: dict[int, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    # (method, path prefix) → answers given before the normal one, first first.
    faults: dict[tuple[str, str], list[httpx.Response]] = field(default_factory=dict)
    # Extra keys the next PUT answer carries (e.g. warnings).
    put_extra: dict[str, Any] = field(default_factory=dict)
    valid_token: str = "APP_USR-first"
    token_calls: int = 0
    next_item: int = 1000000001

    def fail(self, method: str, path: str, *responses: httpx.Response) -> None:
        """Answer the next calls of ``method path...`` with ``responses``, in order."""
        self.faults.setdefault((method, path), []).extend(responses)

    def sent(self, method: str, prefix: str) -> list[httpx.Request]:
        """The requests made to ``method prefix...`` (the token endpoint included)."""
        return [r for r in self.requests if r.method == method and r.url.path.startswith(prefix)]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # --- dispatch ---------------------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        for (method, prefix), queue in self.faults.items():
            if queue and request.method == method and path.startswith(prefix):
                return queue.pop(0)
        if path == "/oauth/token":
            self.token_calls += 1
            self.valid_token = f"APP_USR-refreshed-{self.token_calls}"
            grant = {"access_token": self.valid_token, "refresh_token": f"TG-{self.token_calls}", "expires_in": 21600}
            return reply(200, grant | {"user_id": str(SELLER_ID), "token_type": "Bearer"})
        if request.headers.get("authorization") != f"Bearer {self.valid_token}":
            return reply(401, {"message": "invalid access token", "error": "unauthorized", "status": 401, "cause": []})
        parts = path.strip("/").split("/")
        route = getattr(self, f"_{request.method.lower()}_{parts[0]}", None)
        if route is None:
            return reply(404, {"message": f"no route {path}", "error": "not_found", "status": 404, "cause": []})
        answer: httpx.Response = route(request, parts)
        return answer

    # --- items ----------------------------------------------------------------------------------------------

    def _post_items(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        body = json.loads(request.content)
        if len(parts) == 3 and parts[2] == "description":
            self.items[parts[1]]["_description"] = body["plain_text"]
            return reply(201, {"text": "", "plain_text": body["plain_text"]})
        item_id = f"MLA{self.next_item}"
        self.next_item += 1
        quantity = body["available_quantity"]
        item = body | {
            "id": item_id,
            "seller_id": SELLER_ID,
            "status": "active" if quantity > 0 else "paused",
            "sub_status": [] if quantity > 0 else ["out_of_stock"],
            "permalink": f"https://articulo.mercadolibre.com.ar/{item_id}",
            "sold_quantity": 0,
        }
        self.items[item_id] = item
        return reply(201, item)

    def _get_items(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        if parts[1] == "bulk":
            ids = request.url.params["ids"].split(",")
            return reply(
                200,
                [
                    {"id": i, "status_code": 200, "body": self.items[i]}
                    if i in self.items
                    else {"id": i, "status_code": 404, "body": {"message": "not found"}}
                    for i in ids
                ],
            )
        item = self.items.get(parts[1])
        if item is None:
            return reply(404, {"message": "item not found", "error": "not_found", "status": 404, "cause": []})
        return reply(200, item)

    def _put_items(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        item = self.items[parts[1]]
        changes = json.loads(request.content)
        item.update(changes)
        if "available_quantity" in changes and "status" not in changes:
            if changes["available_quantity"] == 0:
                item["status"], item["sub_status"] = "paused", ["out_of_stock"]
            elif item["sub_status"] == ["out_of_stock"]:
                item["status"], item["sub_status"] = "active", []
        if changes.get("status") == "paused":
            item["sub_status"] = ["paused_by_seller"]
        if changes.get("status") == "active":
            item["sub_status"] = []
        extra, self.put_extra = self.put_extra, {}
        return reply(200, item | extra)

    def _get_users(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        ids = sorted(self.items)
        scroll = request.url.params.get("scroll_id")
        start = int(scroll or 0)
        limit = int(request.url.params["limit"])
        page = ids[start : start + limit]
        return reply(
            200,
            {
                "seller_id": str(SELLER_ID),
                "results": page,
                "paging": {"total": len(ids), "limit": limit},
                "scroll_id": str(start + limit) if page else None,
            },
        )

    def _get_sites(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        return reply(200, self.predictions)

    # --- orders, packs, shipments, labels -------------------------------------------------------------------

    def _get_orders(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        if parts[1] == "search":
            offset = int(request.url.params["offset"])
            limit = int(request.url.params["limit"])
            rows = [self.orders[k] for k in sorted(self.orders)]
            return reply(
                200,
                {
                    "results": rows[offset : offset + limit],
                    "paging": {"total": len(rows), "offset": offset, "limit": limit},
                },
            )
        return reply(200, self.orders[int(parts[1])])

    def _get_packs(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        return reply(200, self.packs[int(parts[1])])

    def _get_shipments(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        if request.headers.get("x-format-new") != "true":
            return reply(400, {"message": "x-format-new header is required", "error": "bad_request", "status": 400})
        shipment_id = int(parts[1])
        if len(parts) == 3 and parts[2] == "orders":
            return reply(
                200,
                [
                    {"order_id": str(o["id"]), "pack_id": o.get("pack_id")}
                    for o in self.orders.values()
                    if o["shipping"]["id"] == shipment_id
                ],
            )
        return reply(200, self.shipments[shipment_id])

    def _get_shipment_labels(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        kind = request.url.params["response_type"]
        [shipment_id] = request.url.params["shipment_ids"].split(",")
        shipment = self.shipments[int(shipment_id)]
        if (shipment["status"], shipment["substatus"]) not in (
            ("ready_to_ship", "ready_to_print"),
            ("ready_to_ship", "printed"),
        ):
            body = {"message": "not_printable_status", "error": "bad_request", "status": 400, "cause": []}
            return reply(400, body)
        if kind == "pdf":
            return httpx.Response(200, content=b"%PDF-1.4 label", headers={"content-type": "application/pdf"})
        return httpx.Response(200, content=b"^XA^FDlabel^FS^XZ", headers={"content-type": "text/plain"})

    # --- fiscal documents and messages ----------------------------------------------------------------------

    def _post_packs(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        return reply(201, {"ids": [f"{SELLER_ID}_doc-{parts[1]}"]})

    def _get_messages(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        if request.url.params.get("tag") != "post_sale":
            return reply(400, {"message": "tag is required", "error": "bad_request", "status": 400})
        if parts[1] == "packs":
            return reply(200, {"paging": {"total": 0}, "messages": self.messages.get(parts[2], [])})
        for pack, conversation in self.messages.items():
            for message in conversation:
                if message["id"] == parts[1]:
                    return reply(200, message | {"message_resources": [{"id": pack, "name": "packs"}]})
        return reply(404, {"message": "message not found", "error": "not_found", "status": 404})

    def _post_messages(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        if request.url.params.get("tag") != "post_sale":
            return reply(400, {"message": "tag is required", "error": "bad_request", "status": 400})
        body = json.loads(request.content)
        conversation = self.messages.setdefault(parts[2], [])
        conversation.append({"id": f"m{len(conversation) + 1}", **body})
        return reply(201, {"id": f"m{len(conversation)}"})


# --- spec-shaped resources ----------------------------------------------------------------------------------


def order_json(
    order_id: int = 2000009713473608,
    *,
    pack_id: int | None = 2000006556183755,
    shipping_id: int | None = 44028792542,
    status: str = "paid",
    tags: tuple[str, ...] = ("pack_order", "paid", "not_delivered"),
    variation_id: int | None = None,
    payments: list[dict[str, Any]] | None = None,
    item_id: str = "MLA1000000001",
    cancel_detail: dict[str, Any] | None = None,
    mediations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``GET /orders/{id}`` as §4.1 shows it (ids of the example, an MLA currency)."""
    return {
        "id": order_id,
        "date_created": "2024-11-01T09:34:59.000-04:00",
        "last_updated": "2024-11-01T09:37:20.000-04:00",
        "date_closed": "2024-11-01T09:35:43.000-04:00",
        "pack_id": pack_id,
        "total_amount": 125.92,
        "paid_amount": 125.92,
        "order_items": [
            {
                "item": {
                    "id": item_id,
                    "title": "Espaçador E Nivelador",
                    "variation_id": variation_id,
                    "seller_custom_field": None,
                    "seller_sku": "ESP-2",
                },
                "quantity": 2,
                "unit_price": 62.96,
                "full_unit_price": 72.37,
                "currency_id": "ARS",
            }
        ],
        "currency_id": "ARS",
        "payments": payments
        if payments is not None
        else [
            {
                "id": 91776699099,
                "order_id": order_id,
                "payment_method_id": "account_money",
                "payment_type": "account_money",
                "currency_id": "ARS",
                "installments": 1,
                "status": "approved",
                "status_detail": "accredited",
                "transaction_amount": 125.92,
                "transaction_amount_refunded": 0.0,
                "total_paid_amount": 125.92,
                "date_approved": "2024-11-01T09:35:42.000-04:00",
                "date_created": "2024-11-01T09:35:42.000-04:00",
            }
        ],
        "shipping": {"id": shipping_id},
        "status": status,
        "tags": list(tags),
        "mediations": mediations or [],
        "seller": {"id": SELLER_ID},
        "buyer": {"id": str(BUYER_ID), "nickname": "COMPRADOR1", "first_name": "Ana", "last_name": "Paz"},
        "cancel_detail": cancel_detail,
    }


def shipment_json(
    shipment_id: int = 44028792542,
    *,
    status: str = "ready_to_ship",
    substatus: str = "ready_to_print",
    logistic_type: str = "drop_off",
) -> dict[str, Any]:
    """``GET /shipments/{id}`` in the new format (§5.1)."""
    return {
        "id": shipment_id,
        "status": status,
        "substatus": substatus,
        "logistic": {"mode": "me2", "type": logistic_type, "direction": "forward"},
        "destination": {
            "receiver_name": "Ana Paz",
            "receiver_phone": "1155554444",
            "shipping_address": {
                "address_line": "Av. Corrientes 1234",
                "street_name": "Av. Corrientes",
                "street_number": "1234",
                "zip_code": "1043",
                "city": {"id": "TUxBQ0NBUGZlZG1sYQ", "name": "Capital Federal"},
                "state": {"id": "AR-C", "name": "Capital Federal"},
                "country": {"id": "AR", "name": "Argentina"},
                "neighborhood": {"id": None, "name": "San Nicolás"},
            },
        },
    }


# --- the hub side ----------------------------------------------------------------------------------------------


@dataclass
class Linked:
    """An account connected to Mercado Libre (marketplace 1), the channel on the fake and its context."""

    fake: FakeMercadoLibre
    settings: Settings
    channel: MercadoLibreChannel
    context: ChannelContext
    account_id: int


def link(ctx: AppContext, account_id: int, fake: FakeMercadoLibre, *, site_id: str = "MLA") -> Linked:
    """Store a connection of ``account_id`` to seller ``SELLER_ID`` with a valid token, and a channel whose
    client talks to ``fake``."""
    settings = make_settings(
        ctx.settings.database_url,
        mercadolibre_api_url=API,
        mercadolibre_client_id="5387223166827464",
        mercadolibre_client_secret="s3cret",
        secret_key=Fernet.generate_key().decode(),
    )
    now = clock.utcnow()
    with ctx.db.writing() as session:
        session.add(
            ChannelConnection(
                account_id=account_id,
                marketplace_id=1,
                connector="mercadolibre",
                seller_id=SELLER_ID,
                nickname="TESTSELLER",
                site_id=site_id,
                access_token=encrypt_secret(settings, fake.valid_token),
                refresh_token=encrypt_secret(settings, "TG-first"),
                token_expires_at=now + timedelta(hours=6),
                created_at=now,
                updated_at=now,
            )
        )
        marketplace = marketplace_ref(session, 1)
    http = httpx.Client(transport=fake.transport())
    channel = MercadoLibreChannel(lambda s: MercadoLibreClient(s, http))
    context = ChannelContext(
        account_id=account_id, marketplace=marketplace, db=ctx.db, settings=settings, idempotency_key="outbox:1"
    )
    return Linked(fake, settings, channel, context, account_id)


def add_listing(
    session: Session,
    account_id: int,
    product_id: int,
    *,
    external_id: str = "pending-0b1c",
    title: str = "Taladro Percutor Bosch 750w",
    price: Decimal | None = Decimal("1210.5"),
    quantity: int = 7,
    status: str = "active",
    status_reason: str | None = None,
    listing_type: int | None = 3,
    seller_sku: str | None = "ERP-1",
    parent_id: int | None = None,
    child_kind: str | None = None,
) -> int:
    """A listing of the product on Mercado Libre (marketplace 1) in the given state; returns its id."""
    listing = Listing(
        account_id=account_id,
        marketplace_id=1,
        product_id=product_id,
        parent_id=parent_id,
        child_kind=child_kind,
        external_id=external_id,
        title=title,
        sku="TAL-1",
        seller_sku=seller_sku,
        price=price,
        available_quantity=quantity,
        status=status,
        status_reason=status_reason,
        listing_type=listing_type,
    )
    session.add(listing)
    session.flush()
    return listing.id
