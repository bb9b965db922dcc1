"""The local Mercado Libre: ``MercadoLibreStandIn`` (its store, sellers, notifications, routes and the Python API
the demo and tests drive it with) and ``create_app`` to serve it alone.

The hub serves it at ``/_standin/mercadolibre`` when ``ALEPHEE_MERCADOLIBRE_STANDIN=true`` (state in
``ALEPHEE_MERCADOLIBRE_STANDIN_PATH``); point ``ALEPHEE_MERCADOLIBRE_API_URL`` and ``ALEPHEE_MERCADOLIBRE_AUTH_URL``
there to run the connector with no outside service. Every process opened on the same file shares its state.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from alephee.channels.mercadolibre.standin import claims, items, messages, orders, questions
from alephee.channels.mercadolibre.standin.api import add_seller_routes
from alephee.channels.mercadolibre.standin.auth import OAuth, StandInSeller
from alephee.channels.mercadolibre.standin.common import MLError, as_int
from alephee.channels.mercadolibre.standin.hooks import add_fault, add_hook_routes, tag_item, take_fault
from alephee.channels.mercadolibre.standin.notify import DEFAULT_RETRY_DELAYS, Notifier
from alephee.channels.standin_store import Store

PREFIX = "/_standin/mercadolibre"
DEFAULT_APPLICATION_ID = 5503910054141466


class MercadoLibreStandIn:
    """The stand-in over the SQLite file at ``path``. ``client_id``/``client_secret``, when given, are the only
    credentials accepted; ``sellers`` can grant access (the first by default); ``auto_approve`` skips the
    authorization page; ``notifications_url`` receives the notifications (none are pushed without it)."""

    def __init__(
        self,
        path: str | Path,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        sellers: Iterable[StandInSeller] | None = None,
        auto_approve: bool = False,
        notifications_url: str | None = None,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        self.store = Store(path)
        self.sellers = list(sellers or [StandInSeller()])
        self.oauth = OAuth(self.store, self.sellers, client_id, client_secret, auto_approve)
        application_id = as_int(client_id) or DEFAULT_APPLICATION_ID
        self.notifier = Notifier(self.store, notifications_url, application_id, retry_delays)

    @property
    def seller(self) -> StandInSeller:
        """The seller who approves by default."""
        return self.sellers[0]

    @property
    def token_calls(self) -> int:
        """How many calls ``POST /oauth/token`` answered in this process (refused ones included)."""
        return self.oauth.token_calls

    @property
    def application_id(self) -> int:
        """The application id notifications carry (the numeric client id, else a fixed one)."""
        return self.notifier.application_id

    def router(self) -> APIRouter:
        """The stand-in's routes (mount them under any prefix)."""
        router = APIRouter(include_in_schema=False, route_class=_route_class(self.store))
        router.add_api_route("/authorization", self.oauth.authorization_page, methods=["GET"])
        router.add_api_route("/authorization/approve", self.oauth.approve, methods=["GET"])
        router.add_api_route("/oauth/token", self.oauth.token, methods=["POST"])
        router.add_api_route("/users/me", self.oauth.users_me, methods=["GET"])
        add_seller_routes(router, self.store, self.notifier)
        add_hook_routes(router, self.store, self.notifier, self.oauth)
        return router

    # The Python API (the same functions the routes and the /_test hooks run).

    def issue_token(self, seller_id: int | None = None) -> dict[str, Any]:
        """A token pair for a seller, as the code exchange would answer it."""
        with self.store.begin() as tx:
            return self.oauth.issue(tx, seller_id or self.seller.id, self.oauth.client_id or "1")

    def create_item(self, body: dict[str, Any], seller_id: int | None = None) -> dict[str, Any]:
        """Publish one item as ``POST /items`` does."""
        return self.create_items([body], seller_id)[0]

    def create_items(self, bodies: Iterable[dict[str, Any]], seller_id: int | None = None) -> list[dict[str, Any]]:
        """Publish many items in one transaction (all or none)."""
        seller = next(s for s in self.sellers if s.id == (seller_id or self.seller.id))
        with self.store.begin() as tx:
            return [items.create(tx, self.notifier, seller.id, seller.site_id, body) for body in bodies]

    def buy(self, item_id: str, quantity: int = 1, **options: Any) -> dict[str, Any]:
        """A buyer purchases the item (options as ``POST /_test/orders``: variation_id, buyer, pack_with, fraud,
        logistic_type); the order."""
        with self.store.begin() as tx:
            return orders.buy(tx, self.notifier, {"item_id": item_id, "quantity": quantity} | options)

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        """The order is cancelled (refund, stock back)."""
        with self.store.begin() as tx:
            return orders.cancel(tx, self.notifier, order_id)

    def set_shipment_status(self, shipment_id: int, status: str, substatus: str | None = None) -> dict[str, Any]:
        """The carrier moves the shipment."""
        with self.store.begin() as tx:
            return orders.set_shipment_status(tx, self.notifier, shipment_id, status, substatus)

    def buyer_message(self, pack_id: int, text: str) -> dict[str, Any]:
        """The pack's buyer writes to the seller."""
        with self.store.begin() as tx:
            return messages.from_buyer(tx, self.notifier, pack_id, text)

    def ask(self, item_id: str, text: str, buyer_id: int | None = None) -> dict[str, Any]:
        """A buyer asks a question on the item."""
        with self.store.begin() as tx:
            return questions.ask(tx, self.notifier, item_id, text, buyer_id)

    def ban_question(self, question_id: int) -> dict[str, Any]:
        """Moderation bans the question (and its answer)."""
        with self.store.begin() as tx:
            return questions.ban(tx, self.notifier, question_id)

    def question(self, question_id: int) -> dict[str, Any]:
        """The question as its seller reads it."""
        with self.store.begin() as tx:
            found = tx.get("question", question_id)
            if found is None:
                raise KeyError(question_id)
            return questions.get(tx, question_id, found["seller_id"])

    def open_claim(self, order_id: int, **options: Any) -> dict[str, Any]:
        """The order's buyer opens a claim (options: reason_id, claim_type, resource)."""
        with self.store.begin() as tx:
            return claims.open_claim(tx, self.notifier, order_id, **options)

    def close_claim(self, claim_id: int, reason: str = "payment_refunded") -> dict[str, Any]:
        """Mercado Libre closes the claim with ``reason``."""
        with self.store.begin() as tx:
            return claims.close(tx, self.notifier, claim_id, reason)

    def tag_item(self, item_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> dict[str, Any]:
        """Add/remove item tags (e.g. ``price_automation``)."""
        with self.store.begin() as tx:
            return tag_item(tx, self.notifier, item_id, list(add), list(remove))

    def add_fault(self, path_prefix: str, status: int, count: int = 1, method: str | None = None) -> None:
        """The next ``count`` calls under ``path_prefix`` answer ``status`` (429, 500, 502, 503, 504)."""
        with self.store.begin() as tx:
            add_fault(tx, path_prefix, status, count, method)

    def wait_notifications(self, timeout: float = 10.0) -> bool:
        """Wait until every notification was delivered or given up; True when nothing is left pending."""
        return self.notifier.wait_idle(timeout)

    def close(self) -> None:
        """Stop delivering notifications and release the file."""
        self.notifier.close()
        self.store.close()


def _route_class(store: Store) -> type[APIRoute]:
    """Routes that first answer an injected fault, and answer a refusal in Mercado Libre's error shape."""

    class StandInRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def run(request: Request) -> Response:
                path = request.url.path
                relative = path[path.index(PREFIX) + len(PREFIX) :] if PREFIX in path else path
                fault = await run_in_threadpool(take_fault, store, request.method, relative)
                if fault is not None:
                    return fault
                try:
                    return await handler(request)
                except MLError as exc:
                    return JSONResponse(exc.body, exc.status)

            return run

    return StandInRoute


def create_app(standin: MercadoLibreStandIn) -> FastAPI:
    """The stand-in alone, at the root (as ``api.mercadolibre.com`` serves it)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(standin.router())
    return app
