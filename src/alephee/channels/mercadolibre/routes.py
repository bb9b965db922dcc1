"""The OAuth callback where Mercado Libre sends the seller back (``GET /channels/mercadolibre/callback``):
a small HTML page, outside ``/v2`` and its OpenAPI document, reached with no API key (the ``state`` is the
proof), and the mounting of the local stand-in when it is enabled."""

from __future__ import annotations

import html

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from alephee.channels.mercadolibre import auth
from alephee.channels.mercadolibre.client import MercadoLibreClient
from alephee.channels.mercadolibre.standin.app import PREFIX as STANDIN_PREFIX
from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn
from alephee.config import Settings
from alephee.errors import DomainError
from alephee.http.deps import Context

router = APIRouter(include_in_schema=False)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={"cache-control": "no-store"},
    )


@router.get(auth.CALLBACK_PATH, name="channels.mercadolibre.callback")
def callback(request: Request, ctx: Context, code: str = "", state: str = "") -> HTMLResponse:
    """Exchange the authorization code, store the tokens and the seller, and say which account is linked."""
    if not code:
        # The seller refused, or Mercado Libre could not grant (it then sends error/error_description).
        reason = request.query_params.get("error_description") or request.query_params.get("error") or "no code"
        return _page("Mercado Libre was not connected", f"<p>{html.escape(reason)}</p>", 400)
    http: httpx.Client | None = getattr(request.app.state, "mercadolibre_http", None)
    try:
        with MercadoLibreClient(ctx.settings, http) as client:
            linked = auth.complete(ctx.db, ctx.settings, code, state, client)
    except DomainError as exc:
        return _page("Mercado Libre was not connected", f"<p>{html.escape(exc.message)}</p>", exc.status)
    return _page(
        "Mercado Libre connected",
        f"<p>Account <b>{linked.account_id}</b> (marketplace {linked.marketplace_id}) is linked to the seller "
        f"<b id='nickname'>{html.escape(linked.nickname)}</b> (id <b id='seller'>{linked.seller_id}</b>).</p>"
        "<p>You can close this page.</p>",
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the callback and, when ``mercadolibre_standin`` is on, the stand-in at ``/_standin/mercadolibre``."""
    app.include_router(router)
    if settings.mercadolibre_standin:
        secret = settings.mercadolibre_client_secret
        standin = MercadoLibreStandIn(
            settings.mercadolibre_standin_path,
            client_id=settings.mercadolibre_client_id,
            client_secret=secret.get_secret_value() if secret else None,
        )
        app.state.mercadolibre_standin = standin
        app.include_router(standin.router(), prefix=STANDIN_PREFIX)
