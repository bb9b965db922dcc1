"""The local Tiendanube: ``TiendanubeStandIn`` (its store, install flow, API, webhooks, rate limits and the Python
API the demo and tests drive it with) and ``create_app`` to serve it alone.

Mounted by the hub at ``PREFIX``, it serves both Tiendanube hosts at once: the install pages and the token
endpoint (``www.tiendanube.com/apps/…``) and the API (``api.tiendanube.com/{version}/{store_id}/…``), so the
connector's API URL and auth URL are both ``{hub}/_standin/tiendanube``. Every process opened on the same file
shares its state."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from alephee.channels import standin_store
from alephee.channels.standin_store import Store
from alephee.channels.tiendanube.standin import orders, products, stores
from alephee.channels.tiendanube.standin.api import StoreAPI
from alephee.channels.tiendanube.standin.auth import DEFAULT_SCOPES, Install
from alephee.channels.tiendanube.standin.common import STATUS_MESSAGES, as_int, refuse
from alephee.channels.tiendanube.standin.limits import Bucket
from alephee.channels.tiendanube.standin.stores import StandInShop
from alephee.channels.tiendanube.standin.webhooks import DEFAULT_TIMEOUT, Webhooks

PREFIX = "/_standin/tiendanube"
DEFAULT_BUCKET = Bucket(40, 2.0)
DEFAULT_VARIANT_BUCKET = Bucket(500, 50.0)
FAULT_STATUSES = (429, 500, 502, 503, 504)


class TiendanubeStandIn:
    """The stand-in over the SQLite file at ``path`` for one app (``app_id``, ``client_secret``) whose merchants
    are sent back to ``redirect_url`` after installing it. ``auto_approve`` skips the install page;
    ``webhooks=False`` delivers nothing; ``local_webhook_urls`` accepts http and loopback webhook URLs (the real
    platform wants https and refuses localhost); ``privacy_urls`` maps ``store/redact``, ``customers/redact`` and
    ``customers/data_request`` to the app's URLs; ``rate_limit``/``variant_rate_limit`` (None: off) are the
    per-store buckets."""

    def __init__(
        self,
        path: str | Path,
        *,
        app_id: str | int,
        client_secret: str,
        redirect_url: str | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        auto_approve: bool = False,
        webhooks: bool = True,
        local_webhook_urls: bool = True,
        privacy_urls: dict[str, str] | None = None,
        retry_delays: tuple[float, ...] | None = None,
        webhook_timeout: float = DEFAULT_TIMEOUT,
        rate_limit: Bucket | None = DEFAULT_BUCKET,
        variant_rate_limit: Bucket | None = DEFAULT_VARIANT_BUCKET,
    ) -> None:
        self.store = Store(path)
        self.app_id = str(app_id)
        scope_list = tuple(scopes)
        self.install = Install(self.store, self.app_id, client_secret, redirect_url, scope_list, auto_approve)
        self.webhooks = Webhooks(
            self.store,
            client_secret,
            scope_list,
            enabled=webhooks,
            local_urls=local_webhook_urls,
            privacy_urls=privacy_urls,
            retry_delays=retry_delays,
            timeout=webhook_timeout,
        )
        self.api = StoreAPI(self.store, self.webhooks, as_int(app_id), rate_limit, variant_rate_limit)

    def router(self) -> APIRouter:
        """The stand-in's routes (mount them under ``PREFIX``, or at the root to serve it alone)."""
        router = APIRouter(include_in_schema=False, route_class=_route_class(self.store))
        router.add_api_route("/apps/authorize/token", self.install.token, methods=["POST"])
        router.add_api_route("/apps/{app_id}/authorize", self.install.authorize_page, methods=["GET"])
        router.add_api_route("/apps/{app_id}/authorize", self.install.approve, methods=["POST"])
        router.add_api_route(
            "/{version}/{store_id}/{rest:path}", self.api.handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
        )
        return router

    # The Python API.

    @property
    def token_calls(self) -> int:
        """How many calls ``POST /apps/authorize/token`` answered in this process (refused ones included)."""
        return self.install.token_calls

    @property
    def calls(self) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of the API calls this process answered (the last 10,000 at least)."""
        return self.api.calls

    def create_store(self, shop: StandInShop | None = None, **fields: Any) -> dict[str, Any]:
        """A merchant's store (``StandInShop`` or its fields: name, email, country, currency, languages,
        plan_name); its ``GET /store`` document."""
        with self.store.begin() as tx:
            return stores.create(tx, shop or StandInShop(**fields))

    def add_location(self, store_id: int, name: str) -> str:
        """A second (third...) stock location of the store, not its default one: the store becomes a
        multi-inventory store (stock writes must then name a location). Its id."""
        with self.store.begin() as tx:
            return str(stores.add_location(tx, store_id, name)["id"])

    def shop(self, store_id: int) -> dict[str, Any]:
        """The store's document (``GET /store``)."""
        with self.store.begin() as tx:
            found = stores.get(tx, store_id)
        if found is None:
            raise KeyError(store_id)
        return stores.public(found)

    def standing(self, store_id: int) -> str:
        """The app's standing on the store: ``never``, ``installed``, ``suspended`` or ``uninstalled``."""
        with self.store.begin() as tx:
            found = stores.get(tx, store_id)
        if found is None:
            raise KeyError(store_id)
        return str(found["_app"])

    def issue_token(self, store_id: int) -> dict[str, Any]:
        """Install the app on the store without the browser: the token exchange's answer."""
        with self.store.begin() as tx:
            if stores.get(tx, store_id) is None:
                raise KeyError(store_id)
            return self.install.issue(tx, store_id)

    def uninstall(self, store_id: int) -> None:
        """The merchant uninstalls the app: its token dies, ``app/uninstalled`` is sent, its webhooks are gone."""
        with self.store.begin() as tx:
            stores.set_app(tx, store_id, stores.UNINSTALLED)
            self.webhooks.emit(tx, store_id, "app/uninstalled", id=as_int(self.app_id) or self.app_id)
            self.webhooks.drop_store(tx, store_id)

    def suspend(self, store_id: int) -> None:
        """The app's charge is unpaid: ``app/suspended`` is sent, then the API answers 402 and no webhook leaves."""
        with self.store.begin() as tx:
            stores.set_app(tx, store_id, stores.SUSPENDED)
            self.webhooks.emit(tx, store_id, "app/suspended", id=as_int(self.app_id) or self.app_id)

    def resume(self, store_id: int) -> None:
        """The charge is paid again: the API answers again and ``app/resumed`` is sent."""
        with self.store.begin() as tx:
            stores.set_app(tx, store_id, stores.INSTALLED)
            self.webhooks.emit(tx, store_id, "app/resumed", id=as_int(self.app_id) or self.app_id)

    def place_order(
        self,
        store_id: int,
        items: Iterable[tuple[int, int]],
        *,
        paid: bool = True,
        buyer: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A buyer checks out in the storefront: ``(variant_id, quantity)`` items, paid or pending; the stock is
        taken and ``order/created`` (and ``order/paid``) sent. ``extra`` as in ``POST /orders`` (shipping
        address, shipping option, ``shipping_pickup_type``...). The stored order."""
        buyer = buyer or {"name": "Lucía Comprador", "email": "lucia@buyer.example", "phone": "+54 11 5555-0000"}
        address = {
            "first_name": buyer["name"],
            "address": "Av. Siempreviva",
            "number": 742,
            "city": "Buenos Aires",
            "province": "Buenos Aires",
            "zipcode": "1405",
            "country": "AR",
        }
        body = {
            "products": [{"variant_id": variant, "quantity": quantity} for variant, quantity in items],
            "customer": buyer,
            "billing_address": address,
            "shipping_address": address,
            "gateway": "mercadopago",
            "payment_status": "paid" if paid else "pending",
            "shipping_pickup_type": "ship",
            "shipping": "correo-argentino",
            "shipping_option": "Correo Argentino - Envío a domicilio",
            "shipping_cost_customer": "0.00",
        } | extra
        with self.store.begin() as tx:
            shop = self._shop(tx, store_id)
            return orders.create(tx, self.webhooks, shop, body, storefront="store", app_id=None)

    def pay_order(self, store_id: int, order_id: int) -> dict[str, Any]:
        """A payment app reports a pending order paid (``order/paid``)."""
        with self.store.begin() as tx:
            return orders.pay(tx, self.webhooks, self._shop(tx, store_id), order_id)

    def order(self, store_id: int, order_id: int, version: str = "v1") -> dict[str, Any]:
        """One order as ``version`` answers it."""
        with self.store.begin() as tx:
            return orders.render(tx, orders.get(tx, store_id, order_id), version, "fulfillment_orders")

    def orders(self, store_id: int) -> list[dict[str, Any]]:
        """The store's orders (v1 shape), by id."""
        with self.store.begin() as tx:
            return [orders.render(tx, order, "v1") for order in orders.search(tx, store_id, {})]

    def products(self, store_id: int) -> list[dict[str, Any]]:
        """The store's products, by id."""
        with self.store.begin() as tx:
            return products.search(tx, store_id, {})

    def registered_webhooks(self, store_id: int) -> list[dict[str, Any]]:
        """The webhooks the app registered on the store."""
        with self.store.begin() as tx:
            return self.webhooks.search(tx, store_id, {})

    def deliveries(self, store_id: int | None = None) -> list[dict[str, Any]]:
        """Every webhook delivery (``event``, ``url``, raw ``body``, ``attempts``, ``delivered``), oldest first."""
        return self.webhooks.deliveries(store_id)

    def wait_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every webhook was delivered or given up; True when nothing is left pending."""
        return self.webhooks.wait_idle(timeout)

    def redact_store(self, store_id: int) -> bool:
        """Send ``store/redact`` to the app's URL for it (False when none is configured)."""
        with self.store.begin() as tx:
            return self.webhooks.emit_privacy(tx, store_id, "store/redact", {})

    def redact_customer(self, store_id: int, customer: dict[str, Any], orders_to_redact: list[int]) -> bool:
        """Send ``customers/redact`` (``customer`` = ``{id, email, phone, identification}``)."""
        body = {"customer": customer, "orders_to_redact": orders_to_redact}
        with self.store.begin() as tx:
            return self.webhooks.emit_privacy(tx, store_id, "customers/redact", body)

    def request_customer_data(
        self, store_id: int, customer: dict[str, Any], orders_requested: list[int], data_request_id: int = 1
    ) -> bool:
        """Send ``customers/data_request`` for the customer's orders."""
        body = {
            "customer": customer,
            "orders_requested": orders_requested,
            "checkouts_requested": [],
            "drafts_orders_requested": [],
            "data_request": {"id": data_request_id},
        }
        with self.store.begin() as tx:
            return self.webhooks.emit_privacy(tx, store_id, "customers/data_request", body)

    def add_fault(self, path_prefix: str, status: int, count: int = 1, method: str | None = None) -> None:
        """The next ``count`` calls under ``path_prefix`` (e.g. ``/v1/1234567/products``) answer ``status``
        (429, 500, 502, 503, 504)."""
        with self.store.begin() as tx:
            standin_store.add_fault(tx, path_prefix, status, count, method, FAULT_STATUSES)

    def close(self) -> None:
        """Stop delivering webhooks and release the file."""
        self.webhooks.close()
        self.store.close()

    def _shop(self, tx: standin_store.Tx, store_id: int) -> dict[str, Any]:
        shop = stores.get(tx, store_id)
        if shop is None:
            raise KeyError(store_id)
        return shop


def fault_response(status: int) -> Response:
    """An injected answer in Tiendanube's shape (5xx: ``description`` null)."""
    body = refuse(status, None if status >= 500 else "Too many requests").body
    return JSONResponse(body | {"message": STATUS_MESSAGES[status]}, status)


def _route_class(store: Store) -> type[APIRoute]:
    """Routes that first answer an injected fault."""

    class StandInRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def run(request: Request) -> Response:
                path = request.url.path
                relative = path[path.index(PREFIX) + len(PREFIX) :] if PREFIX in path else path
                status = await run_in_threadpool(standin_store.take_fault, store, request.method, relative)
                return fault_response(status) if status is not None else await handler(request)

            return run

    return StandInRoute


def create_app(standin: TiendanubeStandIn) -> FastAPI:
    """The stand-in alone, at the root (as ``api.tiendanube.com`` and ``www.tiendanube.com`` serve it)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(standin.router())
    return app
