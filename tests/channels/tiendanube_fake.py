"""A small in-memory Tiendanube for the channel's unit tests, served through ``httpx.MockTransport``: answers
spec-shaped JSON for the calls the channel makes (products and variants, stock-price, orders and their
pack/fulfill/cancel/close/open, fulfillment orders), records every request, and can be told to fail the next
calls of a path or to refuse some variants. Also builds the JSON of products and orders for the mapping tests and
the hub side: an account connected to a store of marketplace 40 with a token."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import httpx
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from alephee import clock
from alephee.channels.models import ChannelConnection
from alephee.channels.tiendanube.channel import TiendanubeChannel
from alephee.channels.tiendanube.client import TiendanubeClient
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ChannelContext
from alephee.marketplaces.registry import marketplace_ref
from alephee.webhooks.crypto import encrypt_secret
from tests.fixtures.database import make_settings

API = "http://tn.example"
STORE_ID = 1234567
TOKEN = "f00-token"
MARKETPLACE = 40

VariantRow = tuple[int, str | None, str | None, int | None, list[str]]


def reply(status: int, body: Any = None, **headers: str) -> httpx.Response:
    """A JSON answer."""
    return httpx.Response(status, json=body, headers=headers)


def product_json(
    product_id: int,
    variants: list[VariantRow],
    *,
    attributes: list[str] | None = None,
    published: bool = True,
    name: str = "Remera básica",
    description: str = "Algodón",
    brand: str | None = "Acme",
) -> dict[str, Any]:
    """A product as ``GET /products/{id}`` shows it (by default with the name, description and brand the hub's
    test listings have); each variant ``(id, sku, price, stock, values)`` (stock None = infinite)."""
    return {
        "id": product_id,
        "name": {"es": name},
        "description": {"es": description},
        "brand": brand,
        "handle": {"es": "producto"},
        "attributes": [{"es": a} for a in attributes or []],
        "published": published,
        "canonical_url": f"https://store.example/productos/{product_id}",
        "variants": [
            {
                "id": vid,
                "product_id": product_id,
                "sku": sku,
                "price": price,
                "promotional_price": None,
                "stock": stock,
                "stock_management": stock is not None,
                "values": [{"es": v} for v in values],
            }
            for vid, sku, price, stock, values in variants
        ],
    }


def order_json(
    order_id: int,
    lines: list[tuple[int, Any, str | None, Any, str]],
    *,
    status: str = "open",
    payment_status: str = "paid",
    shipping_status: str = "unpacked",
) -> dict[str, Any]:
    """An order as ``GET /orders/{id}`` (v1) shows it; each line ``(product_id, variant_id, sku, quantity,
    price)``."""
    return {
        "id": order_id,
        "number": 306,
        "token": "tok",
        "store_id": str(STORE_ID),
        "contact_email": "ana@buyer.example",
        "contact_name": "Ana Pérez",
        "contact_phone": "+5411",
        "contact_identification": None,
        "customer": {"id": 77, "name": "Ana Pérez", "email": "ana@buyer.example", "phone": "+5411"},
        "products": [
            {
                "id": 10_000 + n,
                "product_id": pid,
                "variant_id": vid,
                "sku": sku,
                "name": f"Producto {n}",
                "price": price,
                "compare_at_price": "120.00",
                "quantity": quantity,
            }
            for n, (pid, vid, sku, quantity, price) in enumerate(lines)
        ],
        "subtotal": "200.00",
        "discount": "15.00",
        "total": "215.00",
        "total_paid_by_customer": "215.00",
        "currency": "ARS",
        "coupon": [{"code": "PROMO"}],
        "gateway": "mercadopago",
        "gateway_id": "pay-1",
        "payment_details": {"method": "credit_card", "credit_card_company": "visa", "installments": "3"},
        "status": status,
        "payment_status": payment_status,
        "shipping_status": shipping_status,
        "shipping_option": "Envío a domicilio",
        "shipping_pickup_type": "ship",
        "shipping_cost_customer": "30.00",
        "shipping_cost_owner": "0.00",
        "shipping_address": {
            "name": "Ana Pérez",
            "address": "Av. Siempre Viva",
            "number": "742",
            "floor": "3B",
            "locality": "Palermo",
            "city": "CABA",
            "province": "Buenos Aires",
            "zipcode": "1425",
            "country": "AR",
            "phone": "+5411",
        },
        "created_at": "2026-12-01T10:00:00-03:00",
        "updated_at": "2026-12-01T10:05:00+0000",
        "paid_at": "2026-12-01T10:01:00+0000",
    }


@dataclass
class FakeTiendanube:
    """The store's state: products, orders, fulfillment orders; ``requests`` holds what was sent."""

    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    fulfillment: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    # (method, path prefix) → answers given before the normal one, first first.
    faults: dict[tuple[str, str], list[httpx.Response]] = field(default_factory=dict)
    # Variant ids whose stock-price update is answered ``success: false``.
    refuse_variants: set[int] = field(default_factory=set)
    languages: tuple[str, ...] = ("es", "pt")
    next_id: int = 2**33

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def fail(self, method: str, path: str, *answers: httpx.Response) -> None:
        self.faults.setdefault((method, path), []).extend(answers)

    def sent(self, method: str, path: str | None = None) -> list[httpx.Request]:
        """The requests of ``method`` (to paths starting with ``path``)."""
        return [r for r in self.requests if r.method == method and (path is None or self._path(r).startswith(path))]

    def bodies(self, method: str, path: str | None = None) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.sent(method, path)]

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    @staticmethod
    def _path(request: httpx.Request) -> str:
        prefix = f"/v1/{STORE_ID}"
        path = unquote(request.url.path)
        for version in ("/v1/", "/2025-03/"):
            prefix = f"{version}{STORE_ID}"
            if path.startswith(prefix):
                return path[len(prefix) :]
        return path

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers.get("Authentication") == f"bearer {TOKEN}"
        assert request.headers.get("User-Agent")
        path = self._path(request)
        for (method, prefix), answers in self.faults.items():
            if request.method == method and path.startswith(prefix) and answers:
                return answers.pop(0)
        body = json.loads(request.content) if request.content else None
        parts = [p for p in path.split("/") if p]
        route = self._route(request.method, parts, body, request)
        return route if route is not None else reply(404, {"code": 404, "message": "Not Found", "description": path})

    def _route(self, method: str, parts: list[str], body: Any, request: httpx.Request) -> httpx.Response | None:
        if parts == ["store"] and method == "GET":
            return reply(
                200,
                {
                    "id": STORE_ID,
                    "main_language": self.languages[0],
                    "languages": {code: {"active": True} for code in self.languages},
                    "main_currency": "ARS",
                },
            )
        if parts[:1] == ["products"]:
            return self._products(method, parts[1:], body, request)
        if parts == ["orders"] and method == "GET":
            page = int(request.url.params.get("page", "1"))
            per_page = int(request.url.params.get("per_page", "30"))
            ordered = [self.orders[k] for k in sorted(self.orders)]
            return reply(200, ordered[(page - 1) * per_page : page * per_page])
        if parts[:1] == ["orders"] and len(parts) >= 2:
            return self._orders(method, int(parts[1]), parts[2:], body)
        return None

    def _products(self, method: str, rest: list[str], body: Any, request: httpx.Request) -> httpx.Response | None:
        if not rest and method == "GET":
            page = int(request.url.params.get("page", "1"))
            per_page = int(request.url.params.get("per_page", "30"))
            ordered = [self.products[k] for k in sorted(self.products)]
            if request.url.params.get("ids"):
                wanted = {int(part) for part in request.url.params["ids"].split(",")}
                assert len(wanted) <= 30  # the platform's limit (spec §2.3)
                ordered = [p for p in ordered if p["id"] in wanted]
            chunk = ordered[(page - 1) * per_page : page * per_page]
            headers = {"x-total-count": str(len(ordered))}
            if page * per_page < len(ordered):
                headers["link"] = f'<{API}/v1/{STORE_ID}/products?page={page + 1}&per_page={per_page}>; rel="next"'
            return reply(200, chunk, **headers)
        if not rest and method == "POST":
            return reply(201, self._create(body))
        if rest == ["stock-price"] and method == "PATCH":
            return reply(200, self._stock_price(body))
        if rest[:1] == ["sku"] and method == "GET":
            for product in self.products.values():
                if any(v.get("sku") == rest[1] for v in product["variants"]):
                    return reply(200, product)
            return None
        product = self.products.get(int(rest[0])) if rest and rest[0].isdigit() else None
        if product is None:
            return None
        if len(rest) == 1 and method == "GET":
            return reply(200, product)
        if len(rest) == 1 and method == "PUT":
            product.update({k: v for k, v in body.items() if k != "variants"})
            return reply(200, product)
        if rest[1:] == ["variants"] and method == "POST":
            variant = self._variant(product["id"], body)
            product["variants"].append(variant)
            return reply(201, variant)
        if len(rest) == 3 and rest[1] == "variants" and method == "PUT":
            for variant in product["variants"]:
                if str(variant["id"]) == rest[2]:
                    variant.update(body)
                    return reply(200, variant)
        return None

    def _variant(self, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
        stock = data.get("stock")
        return {
            "id": self._id(),
            "product_id": product_id,
            "sku": data.get("sku"),
            "price": data.get("price"),
            "stock": stock,
            "stock_management": stock is not None,
            "values": data.get("values") or [],
        }

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        product_id = self._id()
        product = {
            "id": product_id,
            "name": body["name"],
            "description": body.get("description") or {},
            "attributes": body.get("attributes") or [],
            "published": body.get("published", True),
            "brand": body.get("brand"),
            "images": [{"id": self._id(), "src": i["src"]} for i in body.get("images") or []],
            "canonical_url": f"https://store.example/productos/{product_id}",
            "variants": [self._variant(product_id, v) for v in body.get("variants") or []],
        }
        self.products[product_id] = product
        return product

    def _stock_price(self, body: list[dict[str, Any]]) -> list[dict[str, Any]] | httpx.Response:
        answer = []
        for element in body:
            product = self.products.get(element["id"], {"variants": []})
            results = []
            for change in element["variants"]:
                variant = next((v for v in product["variants"] if v["id"] == change["id"]), None)
                ok = variant is not None and change["id"] not in self.refuse_variants
                if ok and variant is not None:
                    if "price" in change:
                        variant["price"] = str(Decimal(str(change["price"])).quantize(Decimal("0.01")))
                    if "inventory_levels" in change:
                        variant["stock"] = change["inventory_levels"][0]["stock"]
                results.append({"id": change["id"], "success": ok})
            answer.append({"id": element["id"], "variants": results})
        return answer

    def _orders(self, method: str, order_id: int, rest: list[str], body: Any) -> httpx.Response | None:
        order = self.orders.get(order_id)
        if order is None:
            return None
        if not rest and method == "GET":
            return reply(200, order)
        if rest == ["pack"] and method == "POST":
            order["shipping_status"] = "unfulfilled"
            return reply(200, order)
        if rest == ["fulfill"] and method == "POST":
            order["shipping_status"] = "fulfilled"
            order["shipping_tracking_number"] = (body or {}).get("shipping_tracking_number")
            order["shipping_tracking_url"] = (body or {}).get("shipping_tracking_url")
            return reply(200, order)
        if rest == ["cancel"] and method == "POST":
            order["status"] = "cancelled"
            order["cancel_reason"] = (body or {}).get("reason")
            return reply(200, order)
        if rest in (["close"], ["open"]) and method == "POST":
            order["status"] = "closed" if rest == ["close"] else "open"
            return reply(200, order)
        if rest == ["fulfillment-orders"] and method == "GET":
            return reply(200, self.fulfillment.get(order_id, []))
        if rest[:1] == ["fulfillment-orders"] and len(rest) == 2 and method == "PATCH":
            for fo in self.fulfillment.get(order_id, []):
                if fo["id"] == rest[1]:
                    fo["status"] = body["status"]
                    if "tracking_info" in body:
                        fo["tracking_info"] = body["tracking_info"]
                    return reply(200, fo)
        return None


# --- the hub side ----------------------------------------------------------------------------------------------


@dataclass
class Linked:
    """An account connected to a Tiendanube store (marketplace 40), the channel on the fake and its context."""

    fake: FakeTiendanube
    settings: Settings
    channel: TiendanubeChannel
    context: ChannelContext
    account_id: int


def link(ctx: AppContext, account_id: int, fake: FakeTiendanube, *, version: str = "v1") -> Linked:
    """Store a connection of ``account_id`` to store ``STORE_ID`` with its token, and a channel whose client
    talks to ``fake``."""
    settings = make_settings(
        ctx.settings.database_url,
        tiendanube_api_url=API,
        tiendanube_api_version=version,
        secret_key=Fernet.generate_key().decode(),
        # The fake never refuses for its rate: a fast leak keeps the client from pausing seconds after a test's
        # own 429 (the pacing itself is tested in test_tiendanube_client.py).
        tiendanube_leak_per_second=60.0,
    )
    now = clock.utcnow()
    with ctx.db.writing() as session:
        session.add(
            ChannelConnection(
                account_id=account_id,
                marketplace_id=MARKETPLACE,
                connector="tiendanube",
                seller_id=STORE_ID,
                nickname="Mi tienda",
                access_token=encrypt_secret(settings, TOKEN),
                refresh_token=encrypt_secret(settings, TOKEN),
                created_at=now,
                updated_at=now,
            )
        )
        marketplace = marketplace_ref(session, MARKETPLACE)
    http = httpx.Client(transport=fake.transport())
    channel = TiendanubeChannel(lambda s: TiendanubeClient(s, http))
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
    title: str = "Remera básica",
    price: Decimal | None = Decimal("100"),
    quantity: int = 7,
    status: str = "active",
    status_reason: str | None = None,
    sku: str = "REM-1",
) -> int:
    """A listing of the product on Tiendanube (marketplace 40) in the given state; returns its id."""
    listing = Listing(
        account_id=account_id,
        marketplace_id=MARKETPLACE,
        product_id=product_id,
        external_id=external_id,
        title=title,
        sku=sku,
        price=price,
        available_quantity=quantity,
        status=status,
        status_reason=status_reason,
    )
    session.add(listing)
    session.flush()
    return listing.id


Handler = Callable[[httpx.Request], httpx.Response]
