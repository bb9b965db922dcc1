"""The store API under ``/{version}/{store_id}/…`` (``v1`` and ``2025-03``): every call is checked in
Tiendanube's order — version, ``User-Agent`` (400), ``Authentication: bearer`` token of that store (401; 402 while
suspended), the store's leaky bucket (429), ``Content-Type`` of a body (415), the JSON (400 ``Problems parsing
JSON``) — then one function of the stand-in's modules runs in one transaction of its store. Every answer carries
the ``x-rate-limit-*`` headers and ``x-main-language``; lists carry ``x-total-count`` and ``Link``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from alephee.channels.standin_store import Store, Tx
from alephee.channels.tiendanube.standin import (
    auth,
    categories,
    fulfillment,
    images,
    limits,
    orders,
    products,
    stock,
    stores,
)
from alephee.channels.tiendanube.standin.common import VERSIONS, Page, TNError, as_int, paginate, refuse, select_fields
from alephee.channels.tiendanube.standin.webhooks import Webhooks

BODY_METHODS = ("POST", "PUT", "PATCH")
MAX_CALLS_KEPT = 20_000
PARSING = {"error": "Problems parsing JSON"}
# Endpoints guarded by the weighted bucket of variant updates, with the cost of a payload.
VARIANT_WRITES = re.compile(r"^products/(stock-price|\d+/variants(/\d+|/stock)?)$")


@dataclass(slots=True)
class Call:
    """One API call as the handlers see it."""

    tx: Tx
    shop: dict[str, Any]
    version: str
    query: dict[str, str]
    body: Any
    url: str
    args: tuple[str, ...]
    app_id: int | None
    hooks: Webhooks

    @property
    def store_id(self) -> int:
        """The store of the call."""
        return int(self.shop["id"])

    @property
    def customers(self) -> bool:
        """Whether the app was granted a customers scope (orders then carry their ``customer`` object)."""
        return "customers" in self.hooks.families

    def arg(self, index: int) -> int:
        """A numeric path argument."""
        return int(self.args[index])

    def obj(self) -> dict[str, Any]:
        """The body as a JSON object (400 ``Invalid input format`` otherwise; an empty body is ``{}``)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise refuse(400, "Invalid input format")
        return self.body


@dataclass(slots=True)
class Answer:
    """What a handler answers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Answer]


def ok(body: Any, status: int = 200) -> Answer:
    """A JSON answer."""
    return Answer(status, body)


def page(call: Call, rows: list[dict[str, Any]]) -> Answer:
    """A paged list with its headers."""
    result: Page = paginate(rows, call.query, call.url)
    return Answer(200, result.items, result.headers)


def one(call: Call, body: dict[str, Any]) -> Answer:
    """One resource with the ``fields`` selection."""
    return Answer(200, select_fields(body, call.query))


def v1_only(handler: Handler) -> Handler:
    """Endpoints the dated versions no longer list (404 there)."""

    def run(call: Call) -> Answer:
        if call.version != "v1":
            raise refuse(404, "Not Found")
        return handler(call)

    return run


def _order(call: Call, order: dict[str, Any]) -> Answer:
    aggregates = call.query.get("aggregates", "")
    return one(call, orders.render(call.tx, order, call.version, aggregates, customers=call.customers))


def _location(call: Call, entry: dict[str, Any], priority: int) -> dict[str, Any]:
    shop = call.shop
    return {
        "id": entry["id"],
        "name": {"es_AR": entry["name"], "pt_BR": entry["name"], "en_US": entry["name"]},
        "store_id": call.store_id,
        "priority": priority,
        "is_default": priority == 0,
        "address": {
            "zipcode": None,
            "street": None,
            "number": None,
            "floor": None,
            "locality": None,
            "city": None,
            "reference": None,
            "between_streets": None,
            "province": None,
            "region": None,
            "country": {"code": shop["country"], "name": None},
            "verified_at": None,
        },
        "created_at": shop["created_at"],
        "updated_at": shop["created_at"],
    }


# Handlers: each runs one function of the stand-in's modules.


def _store(c: Call) -> Answer:
    return one(c, stores.public(c.shop))


def _locations(c: Call) -> Answer:
    return page(c, [_location(c, entry, n) for n, entry in enumerate(stores.locations(c.shop))])


def _one_location(c: Call) -> Answer:
    found = [(n, e) for n, e in enumerate(stores.locations(c.shop)) if e["id"] == c.args[0]]
    if not found:
        raise refuse(404, "Location with such id does not exist")
    return one(c, _location(c, found[0][1], found[0][0]))


def _products(c: Call) -> Answer:
    return page(c, products.search(c.tx, c.store_id, c.query))


def _new_product(c: Call) -> Answer:
    return ok(products.create(c.tx, c.hooks, c.shop, c.obj()), 201)


def _stock_price(c: Call) -> Answer:
    return ok(stock.stock_price(c.tx, c.hooks, c.shop, c.body))


def _by_sku(c: Call) -> Answer:
    return one(c, products.by_sku(c.tx, c.store_id, c.args[0]))


def _product(c: Call) -> Answer:
    return one(c, products.render(c.tx, c.store_id, products.get(c.tx, c.store_id, c.arg(0))))


def _put_product(c: Call) -> Answer:
    return ok(products.update(c.tx, c.hooks, c.shop, c.arg(0), c.obj()))


def _delete_product(c: Call) -> Answer:
    products.delete(c.tx, c.hooks, c.store_id, c.arg(0))
    return Answer(200, {})


def _variants(c: Call) -> Answer:
    return page(c, products.search_variants(c.tx, c.store_id, c.arg(0), c.query))


def _new_variant(c: Call) -> Answer:
    return ok(products.create_variant(c.tx, c.hooks, c.shop, c.arg(0), c.obj()), 201)


def _replace_variants(c: Call) -> Answer:
    return ok(products.replace_variants(c.tx, c.hooks, c.shop, c.arg(0), c.body))


def _patch_variants(c: Call) -> Answer:
    return ok(products.patch_variants(c.tx, c.hooks, c.shop, c.arg(0), c.body))


def _variant_stock(c: Call) -> Answer:
    return ok(stock.change_stock(c.tx, c.hooks, c.shop, c.arg(0), c.obj()))


def _variant(c: Call) -> Answer:
    return one(c, products.variant_of(products.get(c.tx, c.store_id, c.arg(0)), c.arg(1)))


def _put_variant(c: Call) -> Answer:
    return ok(products.update_variant(c.tx, c.hooks, c.shop, c.arg(0), c.arg(1), c.obj()))


def _delete_variant(c: Call) -> Answer:
    products.delete_variant(c.tx, c.hooks, c.shop, c.arg(0), c.arg(1))
    return Answer(200, {})


def _images(c: Call) -> Answer:
    return page(c, images.search(c.tx, c.store_id, c.arg(0), c.query))


def _new_image(c: Call) -> Answer:
    return ok(images.create(c.tx, c.hooks, c.store_id, c.arg(0), c.obj()), 201)


def _image(c: Call) -> Answer:
    return one(c, images.get(c.tx, c.store_id, c.arg(0), c.arg(1)))


def _put_image(c: Call) -> Answer:
    return ok(images.update(c.tx, c.hooks, c.store_id, c.arg(0), c.arg(1), c.obj()))


def _delete_image(c: Call) -> Answer:
    images.delete(c.tx, c.hooks, c.store_id, c.arg(0), c.arg(1))
    return Answer(200, {})


def _categories(c: Call) -> Answer:
    return page(c, categories.search(c.tx, c.store_id, c.query))


def _new_category(c: Call) -> Answer:
    return ok(categories.create(c.tx, c.hooks, c.shop, c.obj()), 201)


def _category(c: Call) -> Answer:
    return one(c, categories.get(c.tx, c.store_id, c.arg(0)))


def _put_category(c: Call) -> Answer:
    return ok(categories.update(c.tx, c.hooks, c.shop, c.arg(0), c.obj()))


def _delete_category(c: Call) -> Answer:
    categories.delete(c.tx, c.hooks, c.store_id, c.arg(0))
    return Answer(200, {})


def _orders(c: Call) -> Answer:
    aggregates = c.query.get("aggregates", "")
    found = orders.search(c.tx, c.store_id, c.query)
    return page(c, [orders.render(c.tx, order, c.version, aggregates, customers=c.customers) for order in found])


def _new_order(c: Call) -> Answer:
    order = orders.create(c.tx, c.hooks, c.shop, c.obj(), storefront="api", app_id=c.app_id)
    return Answer(201, orders.render(c.tx, order, c.version, customers=c.customers))


def _get_order(c: Call) -> Answer:
    return _order(c, orders.get(c.tx, c.store_id, c.arg(0)))


def _put_order(c: Call) -> Answer:
    return _order(c, orders.update(c.tx, c.hooks, c.shop, c.arg(0), c.obj()))


def _close(c: Call) -> Answer:
    return _order(c, orders.close(c.tx, c.hooks, c.shop, c.arg(0)))


def _open(c: Call) -> Answer:
    return _order(c, orders.reopen(c.tx, c.hooks, c.shop, c.arg(0)))


def _cancel(c: Call) -> Answer:
    return _order(c, orders.cancel(c.tx, c.hooks, c.shop, c.arg(0), c.obj()))


def _pack(c: Call) -> Answer:
    return _order(c, orders.pack(c.tx, c.hooks, c.shop, c.arg(0)))


def _fulfill(c: Call) -> Answer:
    return _order(c, orders.fulfill(c.tx, c.hooks, c.shop, c.arg(0), c.obj()))


def _fos(c: Call) -> Answer:
    if c.tx.get("tn_order", c.arg(0), c.store_id) is None:
        raise fulfillment.error(404, "Order not found", "Not Found")
    return ok(fulfillment.for_order(c.tx, c.store_id, c.arg(0)))


def _fo(c: Call) -> Answer:
    return ok(fulfillment.public(fulfillment.get(c.tx, c.store_id, c.arg(0), c.args[1])))


def _patch_fo(c: Call) -> Answer:
    return ok(fulfillment.patch(c.tx, c.hooks, c.store_id, c.arg(0), c.args[1], c.obj()))


def _delete_fo(c: Call) -> Answer:
    fulfillment.delete(c.tx, c.store_id, c.arg(0), c.args[1])
    return Answer(204, None)


def _events(c: Call) -> Answer:
    return ok(fulfillment.get(c.tx, c.store_id, c.arg(0), c.args[1])["tracking_events"])


def _new_event(c: Call) -> Answer:
    return ok(fulfillment.add_event(c.tx, c.hooks, c.store_id, c.arg(0), c.args[1], c.obj()), 201)


def _event(c: Call) -> Answer:
    return ok(fulfillment.get_event(c.tx, c.store_id, c.arg(0), c.args[1], c.args[2]))


def _put_event(c: Call) -> Answer:
    return ok(fulfillment.update_event(c.tx, c.hooks, c.store_id, c.arg(0), c.args[1], c.args[2], c.obj()))


def _delete_event(c: Call) -> Answer:
    fulfillment.delete_event(c.tx, c.hooks, c.store_id, c.arg(0), c.args[1], c.args[2])
    return Answer(204, None)


def _webhooks(c: Call) -> Answer:
    return page(c, c.hooks.search(c.tx, c.store_id, c.query))


def _new_webhook(c: Call) -> Answer:
    return ok(c.hooks.create(c.tx, c.store_id, c.obj()), 201)


def _webhook(c: Call) -> Answer:
    return one(c, c.hooks.get(c.tx, c.store_id, c.arg(0)))


def _put_webhook(c: Call) -> Answer:
    return ok(c.hooks.update(c.tx, c.store_id, c.arg(0), c.obj()))


def _delete_webhook(c: Call) -> Answer:
    c.hooks.delete(c.tx, c.store_id, c.arg(0))
    return Answer(200, {})


FO = r"orders/(\d+)/fulfillment-orders/(\w+)"
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", r"store", _store),
    ("GET", r"locations", _locations),
    ("GET", r"locations/(\w+)", _one_location),
    ("GET", r"products", _products),
    ("POST", r"products", _new_product),
    ("PATCH", r"products/stock-price", _stock_price),
    ("GET", r"products/sku/(.+)", _by_sku),
    ("GET", r"products/(\d+)", _product),
    ("PUT", r"products/(\d+)", _put_product),
    ("DELETE", r"products/(\d+)", _delete_product),
    ("GET", r"products/(\d+)/variants", _variants),
    ("POST", r"products/(\d+)/variants", _new_variant),
    ("PUT", r"products/(\d+)/variants", _replace_variants),
    ("PATCH", r"products/(\d+)/variants", _patch_variants),
    ("POST", r"products/(\d+)/variants/stock", _variant_stock),
    ("GET", r"products/(\d+)/variants/(\d+)", _variant),
    ("PUT", r"products/(\d+)/variants/(\d+)", _put_variant),
    ("DELETE", r"products/(\d+)/variants/(\d+)", _delete_variant),
    ("GET", r"products/(\d+)/images", _images),
    ("POST", r"products/(\d+)/images", _new_image),
    ("GET", r"products/(\d+)/images/(\d+)", _image),
    ("PUT", r"products/(\d+)/images/(\d+)", _put_image),
    ("DELETE", r"products/(\d+)/images/(\d+)", _delete_image),
    ("GET", r"categories", _categories),
    ("POST", r"categories", _new_category),
    ("GET", r"categories/(\d+)", _category),
    ("PUT", r"categories/(\d+)", _put_category),
    ("DELETE", r"categories/(\d+)", _delete_category),
    ("GET", r"orders", _orders),
    ("POST", r"orders", _new_order),
    ("GET", r"orders/(\d+)", _get_order),
    ("PUT", r"orders/(\d+)", _put_order),
    ("POST", r"orders/(\d+)/close", _close),
    ("POST", r"orders/(\d+)/open", _open),
    ("POST", r"orders/(\d+)/cancel", _cancel),
    ("POST", r"orders/(\d+)/pack", v1_only(_pack)),
    ("POST", r"orders/(\d+)/fulfill", v1_only(_fulfill)),
    ("GET", r"orders/(\d+)/fulfillment-orders", _fos),
    ("GET", FO, _fo),
    ("PATCH", FO, _patch_fo),
    ("DELETE", FO, _delete_fo),
    ("GET", FO + r"/tracking-events", _events),
    ("POST", FO + r"/tracking-events", _new_event),
    ("GET", FO + r"/tracking-events/(\w+)", _event),
    ("PUT", FO + r"/tracking-events/(\w+)", _put_event),
    ("DELETE", FO + r"/tracking-events/(\w+)", _delete_event),
    ("GET", r"webhooks", _webhooks),
    ("POST", r"webhooks", _new_webhook),
    ("GET", r"webhooks/(\d+)", _webhook),
    ("PUT", r"webhooks/(\d+)", _put_webhook),
    ("DELETE", r"webhooks/(\d+)", _delete_webhook),
]
COMPILED = [(method, re.compile(f"^{pattern}$"), handler) for method, pattern, handler in ROUTES]


def variant_cost(path: str, body: Any) -> int:
    """The weighted bucket's cost of a call: the variants in its payload (0 when not a variant update)."""
    if not VARIANT_WRITES.match(path):
        return 0
    if path == "products/stock-price" and isinstance(body, list):
        return max(1, sum(len(entry.get("variants") or []) for entry in body if isinstance(entry, dict)))
    return max(1, len(body)) if isinstance(body, list) else 1


def respond(answer: Answer, headers: dict[str, str]) -> Response:
    """The HTTP answer (JSON with ``charset=utf-8``; 204 without a body)."""
    if answer.status == 204:
        return Response(status_code=204, headers=headers | answer.headers)
    return JSONResponse(
        answer.body, answer.status, headers=headers | answer.headers, media_type="application/json; charset=utf-8"
    )


class StoreAPI:
    """The API over the stand-in's store, its webhooks and its rate limits."""

    def __init__(
        self,
        store: Store,
        hooks: Webhooks,
        app_id: int | None,
        bucket: limits.Bucket | None,
        variant_bucket: limits.Bucket | None,
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.app_id = app_id
        self.bucket = bucket
        self.variant_bucket = variant_bucket
        self.calls: list[tuple[str, str, int]] = []

    async def handle(self, request: Request, version: str, store_id: str, rest: str) -> Response:
        """One call of the API."""
        raw = await request.body()
        response = await run_in_threadpool(self._handle, request, version, store_id, rest, raw)
        self.calls.append((request.method, request.url.path, response.status_code))
        if len(self.calls) > MAX_CALLS_KEPT:  # a long ``make run`` keeps only the recent half
            del self.calls[: MAX_CALLS_KEPT // 2]
        return response

    def _handle(self, request: Request, version: str, store_id: str, rest: str, raw: bytes) -> Response:
        headers: dict[str, str] = {}
        try:
            number = as_int(store_id)
            if version not in VERSIONS or number is None or not store_id.isdigit():
                raise refuse(404, "Not Found")
            if not request.headers.get("user-agent"):
                raise refuse(400, "A User-Agent header is required: your app's name and a contact e-mail or URL")
            with self.store.begin() as tx:
                shop = auth.authenticate(tx, request, number)
            headers["x-main-language"] = shop["main_language"]
            if self.bucket is not None:
                verdict = limits.pour(self.store, "tn_bucket", number, self.bucket.scaled(shop["plan_name"]))
                headers |= verdict.headers
                if not verdict.allowed:
                    raise refuse(429, "Too many requests: the store's bucket is full")
            body = self._body(request, raw)
            cost = variant_cost(rest.strip("/"), body) if request.method in BODY_METHODS else 0
            if cost and self.variant_bucket is not None:
                weighted = limits.pour(
                    self.store, "tn_variant_bucket", number, self.variant_bucket.scaled(shop["plan_name"]), cost
                )
                if not weighted.allowed:
                    raise refuse(429, "Too many variant updates: send smaller batches")
            answer = self._dispatch(request, version, shop, rest.strip("/"), body)
        except TNError as exc:
            return JSONResponse(exc.body, exc.status, headers=headers | exc.headers)
        return respond(answer, headers)

    def _body(self, request: Request, raw: bytes) -> Any:
        if request.method not in BODY_METHODS or not raw.strip():
            return None
        if not request.headers.get("content-type", "").lower().startswith("application/json"):
            raise refuse(415, "Content-Type must be application/json")
        try:
            return json.loads(raw)
        except ValueError:
            raise TNError(400, PARSING) from None

    def _dispatch(self, request: Request, version: str, shop: dict[str, Any], path: str, body: Any) -> Answer:
        matched = False
        for method, pattern, handler in COMPILED:
            found = pattern.match(path)
            if found is None:
                continue
            matched = True
            if method != request.method:
                continue
            with self.store.begin() as tx:
                call = Call(
                    tx,
                    shop,
                    version,
                    dict(request.query_params),
                    body,
                    str(request.url).split("?")[0],
                    found.groups(),
                    self.app_id,
                    self.hooks,
                )
                return handler(call)
        raise refuse(405 if matched else 404, "Method Not Allowed" if matched else "Not Found")
