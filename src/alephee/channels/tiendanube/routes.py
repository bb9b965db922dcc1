"""The routes Tiendanube reaches, outside ``/v2`` and its OpenAPI document, with no API key: the app's redirect
URL (``GET /channels/tiendanube/callback``: the ``state`` is the proof; a small HTML page naming the connected
store), the webhooks (``POST /channels/tiendanube/webhooks``: the HMAC signature is the proof), and the mounting
of the local stand-in when this process serves it.

The webhook route, in order: the per-address rate limit (like Mercado Libre's notifications), the body read
capped, the ``x-linkedstore-hmac-sha256`` signature verified over the raw bytes (bad or missing: 401, nothing
stored), then one write transaction (``webhooks.apply``) and 200 at once — the platform gives up after 3 s.
"""

from __future__ import annotations

import html
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import httpx
import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from alephee.channels import connections
from alephee.channels.models import ChannelConnection
from alephee.channels.standin_market import MarketThread
from alephee.channels.tiendanube import auth, webhooks
from alephee.channels.tiendanube.client import TiendanubeClient
from alephee.channels.tiendanube.standin.app import PREFIX as STANDIN_PREFIX
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn
from alephee.channels.tiendanube.standin.market import Market
from alephee.clock import precise_utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.http.body import capped_body
from alephee.http.context import AppContext
from alephee.http.deps import Context
from alephee.http.ratelimit import RateLimitExceeded
from alephee.http.wire import JSON_MEDIA, error_response, html_page

# Webhook bodies are a few hundred bytes; a privacy request lists order ids (up to thousands).
MAX_WEBHOOK_BYTES = 256 * 1024
WEBHOOK_TOO_LARGE = "A webhook body is at most 256 KiB"
WEBHOOK_NOT_OBJECT = "A webhook body is a JSON object with a store_id"
BAD_SIGNATURE = "The x-linkedstore-hmac-sha256 signature is missing or does not match the body"
SIGNATURE_HEADER = "x-linkedstore-hmac-sha256"
NOT_CONNECTED = "Tiendanube was not connected"

router = APIRouter(include_in_schema=False)


@router.get(auth.CALLBACK_PATH, name="channels.tiendanube.callback")
def callback(request: Request, ctx: Context, code: str = "", state: str = "") -> Response:
    """Exchange the authorization code, store the token and the store, register the webhooks and say which
    store is linked to which account."""
    if not code:
        return html_page(
            NOT_CONNECTED, "<p>The store did not send an authorization code; install the app again.</p>", 400
        )
    http: httpx.Client | None = getattr(request.app.state, "tiendanube_http", None)
    try:
        with TiendanubeClient(ctx.settings, http) as client:
            linked = auth.complete(ctx.db, ctx.settings, code, state, client)
    except DomainError as exc:
        return html_page(NOT_CONNECTED, f"<p>{html.escape(exc.message)}</p>", exc.status)
    if linked.return_to:
        # Started from a page of the hub (the console): back there, which shows the connection and its errors.
        target = connections.return_target(linked.return_to, linked.account_id, linked.marketplace_id)
        return RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})
    warning = f"<p id='warning'>{html.escape(linked.webhooks_error)}</p>" if linked.webhooks_error else ""
    return html_page(
        "Tiendanube connected",
        f"<p>Account <b>{linked.account_id}</b> (marketplace {linked.marketplace_id}) is linked to the store "
        f"<b id='store'>{html.escape(linked.name)}</b> (id <b id='store-id'>{linked.store_id}</b>).</p>"
        f"{warning}<p>You can close this page.</p>",
    )


@router.post(auth.WEBHOOKS_PATH, name="channels.tiendanube.webhooks")
async def receive_webhook(request: Request) -> Response:
    """Verify the signature, apply the webhook in one write (or queue its resource for the worker) and answer
    200 ``{}`` — also when it is ignored (a store no account is connected to): any other answer is retried."""
    ctx: AppContext = request.app.state.ctx
    source = request.client.host if request.client is not None else "-"
    decision = ctx.limiter.hit_source(source, auth.WEBHOOKS_PATH, ctx.settings.channel_notifications_per_minute)
    request.state.ratelimit = decision
    if not decision.allowed:
        return error_response(429, RateLimitExceeded.message)
    raw = await capped_body(request, MAX_WEBHOOK_BYTES)
    if raw is None:
        return error_response(413, WEBHOOK_TOO_LARGE)
    if not webhooks.signature_ok(raw, request.headers.get(SIGNATURE_HEADER), _secrets(request, ctx.settings)):
        return error_response(401, BAD_SIGNATURE)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    parsed = webhooks.parse(body) if isinstance(body, dict) else None
    if parsed is None:
        return error_response(400, WEBHOOK_NOT_OBJECT)

    def store() -> None:
        with ctx.db.writing() as session:
            webhooks.apply(session, parsed, now=precise_utcnow())

    await anyio.to_thread.run_sync(store)
    return Response(content=b"{}", media_type=JSON_MEDIA)


def _secrets(request: Request, settings: Settings) -> tuple[str, ...]:
    """The keys a webhook may be signed with: the app's client secret, and the stand-in's when this process
    serves it (its app is the configured one, or its own)."""
    keys: list[str] = []
    secret = settings.tiendanube_client_secret
    if secret is not None and secret.get_secret_value():
        keys.append(secret.get_secret_value())
    if getattr(request.app.state, "tiendanube_standin", None) is not None:
        _app_id, standin_secret = auth.standin_credentials(settings)
        if standin_secret not in keys:
            keys.append(standin_secret)
    return tuple(keys)


def serves_standin(settings: Settings, db: Database) -> bool:
    """Whether this process serves the local stand-in: asked for (``ALEPHEE_TIENDANUBE_STANDIN``), or a
    connection lives there (the demo's), so ``alephee serve`` alone runs the demo's store."""
    if settings.tiendanube_standin:
        return True
    try:
        with db.reading() as session:
            query = (
                select(ChannelConnection.id)
                .where(ChannelConnection.connector == auth.CONNECTOR, ChannelConnection.api_base == auth.STANDIN)
                .limit(1)
            )
            found = session.scalar(query)
    except SQLAlchemyError:  # a database not migrated yet has no connection anywhere
        return False
    return found is not None


def make_standin(settings: Settings) -> TiendanubeStandIn:
    """The local stand-in for this hub: its app (the configured one, else its own) sends merchants back to this
    hub's callback and signs the privacy webhooks it sends to this hub's webhook route."""
    app_id, secret = auth.standin_credentials(settings)
    hook = auth.webhook_url(settings)
    return TiendanubeStandIn(
        settings.tiendanube_standin_path,
        app_id=app_id,
        client_secret=secret,
        redirect_url=settings.public_url.rstrip("/") + auth.CALLBACK_PATH,
        privacy_urls={event: hook for event in webhooks.PRIVACY_EVENTS},
    )


def install(app: FastAPI, settings: Settings, db: Database) -> None:
    """Serve the callback and the webhooks and, when this process serves the stand-in (``serves_standin``), the
    stand-in at ``/_standin/tiendanube``; its market (buyers, payments, deliveries) runs while the application
    does when ``tiendanube_standin_market_seconds`` is above 0."""
    app.include_router(router)
    if not serves_standin(settings, db):
        return
    standin = make_standin(settings)
    app.state.tiendanube_standin = standin
    app.include_router(standin.router(), prefix=STANDIN_PREFIX)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> Any:
        market = None
        if settings.tiendanube_standin_market_seconds > 0:
            market = MarketThread(Market(standin), settings.tiendanube_standin_market_seconds)
            market.start()
        try:
            async with inner(application) as state:
                yield state
        finally:
            if market is not None:
                await anyio.to_thread.run_sync(market.stop)
            standin.close()

    app.router.lifespan_context = lifespan
