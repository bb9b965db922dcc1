"""The Channels page: each channel of the chosen account with its connection, a "Connect" button that starts the
connector's OAuth flow (the seller comes back to this page), "Disconnect", and "Sync now" (what ``alephee
channel sync`` runs, started after the answer is sent: no request waits on the marketplace)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import FormData

from alephee import clock
from alephee.channels import connections
from alephee.console import channel_actions, health, web
from alephee.console.overview_pages import reason_text
from alephee.console.sessions import ConsoleViewer
from alephee.http.i18n import N_
from alephee.http.pages import form_field

DISCONNECTED = N_("The channel was disconnected")
SYNC_STARTED = N_("Sync started: the last sync time changes when it ends")
CONNECTED = N_("The channel was connected")

router = APIRouter()


def _channels_path(account_id: int | None) -> str:
    return f"/channels?account={account_id}" if account_id else "/channels"


def _pair(viewer: ConsoleViewer, form: FormData) -> tuple[int, int]:
    account_id = viewer.require(web.number(form_field(form, "account")) or None)
    return account_id, web.number(form_field(form, "marketplace"))


def _failure(form: FormData) -> str:
    return _channels_path(web.number(form_field(form, "account")) or None)


@router.get("/channels")
def channels(request: Request) -> Response:
    """The chosen account's channels with their actions (and the outcome of a connect that came back here)."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        account_id = web.chosen_account(request, viewer)
        rows = (
            health.channel_health(session, [account_id], clock.utcnow(), connectors=connections.AUTHORIZERS)
            if account_id is not None
            else []
        )
        came_back = request.query_params.get("connected")
        return web.render(
            request,
            "channels.html",
            viewer,
            section="channels",
            account_id=account_id,
            rows=rows,
            reason=lambda r: reason_text(request, r),
            just_connected=web.translate(request, CONNECTED) if came_back else None,
        )

    return web.page(request, build)


@router.post("/channels/connect")
async def connect(request: Request) -> Response:
    """Start the channel's authorization: a page with the link where the seller approves this hub (the seller
    comes back to the channels page). A link, not a redirect: the operator may open it or send it on."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> Response:
        account_id, marketplace_id = _pair(viewer, form)
        back = web.prefix(request) + _channels_path(account_id)
        url = channel_actions.start_connect(session, web.ctx(request).settings, account_id, marketplace_id, back)
        web.audit(
            request,
            session,
            viewer,
            "console.channels.connect",
            account_id=account_id,
            query=f"marketplaceId={marketplace_id}",
        )
        return web.render(
            request,
            "connect.html",
            viewer,
            section="channels",
            account_id=account_id,
            marketplace_id=marketplace_id,
            authorization_url=url,
        )

    return await web.action(request, act, failure_path=_failure)


@router.post("/channels/disconnect")
async def disconnect(request: Request) -> Response:
    """Forget the connection's tokens."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> str:
        account_id, marketplace_id = _pair(viewer, form)
        channel_actions.disconnect(session, account_id, marketplace_id)
        web.audit(
            request,
            session,
            viewer,
            "console.channels.disconnect",
            account_id=account_id,
            query=f"marketplaceId={marketplace_id}",
        )
        web.flash(request, session, viewer, DISCONNECTED)
        return _channels_path(account_id)

    return await web.action(request, act, failure_path=_failure)


@router.post("/channels/sync")
async def sync_now(request: Request) -> Response:
    """Catch up with the marketplace after the answer is sent (orders, listing links, missed notifications)."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> Response:
        account_id, marketplace_id = _pair(viewer, form)
        channel_actions.check_syncable(session, account_id, marketplace_id)
        web.audit(
            request,
            session,
            viewer,
            "console.channels.sync",
            account_id=account_id,
            query=f"marketplaceId={marketplace_id}",
        )
        web.flash(request, session, viewer, SYNC_STARTED)
        response = web.redirect(request, _channels_path(account_id))
        context = web.ctx(request)
        # Runs once the redirect is sent, on a worker thread, with its own short transactions.
        response.background = BackgroundTask(
            channel_actions.sync_later, context.db, context.settings, account_id, marketplace_id
        )
        return response

    return await web.action(request, act, failure_path=_failure)
