"""The OAuth callback where Mercado Libre sends the seller back (``GET /channels/mercadolibre/callback``):
a small HTML page, outside ``/v2`` and its OpenAPI document, reached with no API key (the ``state`` is the
proof); the notifications endpoint (``POST /channels/mercadolibre/notifications``), answered at once after
one write to the inbox (grouped with the writes of the requests arriving meanwhile: ``inbox.GroupWriter``); and
the mounting of the local stand-in when it is enabled."""

from __future__ import annotations

import html

import anyio.to_thread
import httpx
import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from alephee.channels import connections, inbox
from alephee.channels.mercadolibre import auth
from alephee.channels.mercadolibre.client import MercadoLibreClient
from alephee.channels.mercadolibre.standin.app import PREFIX as STANDIN_PREFIX
from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn
from alephee.channels.mercadolibre.standin.market import Market
from alephee.channels.standin_market import mount
from alephee.clock import precise_utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.http.body import capped_body
from alephee.http.context import AppContext
from alephee.http.deps import Context
from alephee.http.ratelimit import RateLimitExceeded
from alephee.http.wire import JSON_MEDIA, error_response, html_page

NOTIFICATIONS_PATH = "/channels/mercadolibre/notifications"
# Mercado Libre's bodies are a few hundred bytes; anything much larger is not a notification.
MAX_NOTIFICATION_BYTES = 8 * 1024
NOTIFICATION_TOO_LARGE = "A notification body is at most 8 KiB"
NOTIFICATION_NOT_OBJECT = "A notification body is a JSON object"

router = APIRouter(include_in_schema=False)


@router.get(auth.CALLBACK_PATH, name="channels.mercadolibre.callback")
def callback(request: Request, ctx: Context, code: str = "", state: str = "") -> Response:
    """Exchange the authorization code, store the tokens and the seller, and say which account is linked."""
    if not code:
        # The seller refused, or Mercado Libre could not grant (it then sends error/error_description).
        reason = request.query_params.get("error_description") or request.query_params.get("error") or "no code"
        return html_page("Mercado Libre was not connected", f"<p>{html.escape(reason)}</p>", 400)
    http: httpx.Client | None = getattr(request.app.state, "mercadolibre_http", None)
    try:
        with MercadoLibreClient(ctx.settings, http) as client:
            linked = auth.complete(ctx.db, ctx.settings, code, state, client)
    except DomainError as exc:
        return html_page("Mercado Libre was not connected", f"<p>{html.escape(exc.message)}</p>", exc.status)
    if linked.return_to:
        # Started from a page of the hub (the console): back there, which says what was linked.
        target = connections.return_target(linked.return_to, linked.account_id, linked.marketplace_id)
        return RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})
    return html_page(
        "Mercado Libre connected",
        f"<p>Account <b>{linked.account_id}</b> (marketplace {linked.marketplace_id}) is linked to the seller "
        f"<b id='nickname'>{html.escape(linked.nickname)}</b> (id <b id='seller'>{linked.seller_id}</b>).</p>"
        "<p>You can close this page.</p>",
    )


@router.post(NOTIFICATIONS_PATH, name="channels.mercadolibre.notifications")
async def notifications(request: Request) -> Response:
    """Store one notification in the inbox and answer 200 ``{}`` (also when it is ignored: Mercado Libre
    retries any other answer). Nothing else happens in the request: the worker reads the resource later."""
    ctx: AppContext = request.app.state.ctx
    source = request.client.host if request.client is not None else "-"
    decision = ctx.limiter.hit_source(source, NOTIFICATIONS_PATH, ctx.settings.channel_notifications_per_minute)
    # The middleware turns the decision into the x-ratelimit-* headers of whatever this answers.
    request.state.ratelimit = decision
    if not decision.allowed:
        return error_response(429, RateLimitExceeded.message)
    raw = await capped_body(request, MAX_NOTIFICATION_BYTES)
    if raw is None:
        return error_response(413, NOTIFICATION_TOO_LARGE)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return error_response(400, NOTIFICATION_NOT_OBJECT)

    applications = _applications(request, ctx.settings)

    def receive(session: Session) -> str:
        return inbox.receive(session, auth.CONNECTOR, body, application_ids=applications, now=precise_utcnow())

    await anyio.to_thread.run_sync(_writer(request, ctx.db).write, receive)
    return Response(content=b"{}", media_type=JSON_MEDIA)


def _writer(request: Request, db: Database) -> inbox.GroupWriter:
    """The application's grouped writer of notifications (one per process and database)."""
    writer: inbox.GroupWriter | None = getattr(request.app.state, "mercadolibre_inbox_writer", None)
    if writer is None or writer.db is not db:
        writer = inbox.GroupWriter(db)
        request.app.state.mercadolibre_inbox_writer = writer
    return writer


def _applications(request: Request, settings: Settings) -> frozenset[str]:
    """The application ids whose notifications this hub takes: its Mercado Libre application's, and the local
    stand-in's when this process serves it."""
    ids = {settings.mercadolibre_client_id} if settings.mercadolibre_client_id else set()
    standin: MercadoLibreStandIn | None = getattr(request.app.state, "mercadolibre_standin", None)
    if standin is not None:
        ids.add(str(standin.application_id))
    return frozenset(ids)


def serves_standin(settings: Settings, db: Database) -> bool:
    """Whether this process serves the local stand-in: asked for (``ALEPHEE_MERCADOLIBRE_STANDIN``), or a
    connection lives there (the demo's), so ``alephee serve`` alone runs the demo's loop."""
    return settings.mercadolibre_standin or connections.lives_on(db, auth.CONNECTOR, auth.STANDIN)


def install(app: FastAPI, settings: Settings, db: Database) -> None:
    """Serve the callback and the notifications and, when this process serves the stand-in (``serves_standin``),
    the stand-in at ``/_standin/mercadolibre``: its notifications go to this hub's notifications route, and its
    market (buyers, the carrier) runs while the application does when ``mercadolibre_standin_market_seconds``
    is above 0."""
    app.include_router(router)
    if not serves_standin(settings, db):
        return
    client_id, secret = auth.standin_credentials(settings)
    standin = MercadoLibreStandIn(
        settings.mercadolibre_standin_path,
        client_id=client_id,
        client_secret=secret,
        notifications_url=settings.public_url.rstrip("/") + NOTIFICATIONS_PATH,
    )
    app.state.mercadolibre_standin = standin
    market = Market(standin.store, standin.notifier)
    seconds = settings.mercadolibre_standin_market_seconds
    mount(app, standin.router(), STANDIN_PREFIX, market=market, seconds=seconds, close=standin.close)
