"""The Keys and webhooks pages: an account's API keys (create — the secret shown once —, revoke, rotate) and its
webhook subscriptions (create, edit, delete, send a test event). Every action calls the accounts or webhooks
services, checks the operator may act on the object first, and leaves an audit row."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from alephee.accounts import service as accounts
from alephee.console import scope, sessions, web
from alephee.console.sessions import ConsoleViewer
from alephee.errors import DomainError
from alephee.http.i18n import N_
from alephee.http.pages import form_field
from alephee.webhooks import events as webhook_events
from alephee.webhooks import service as webhooks
from alephee.webhooks.sender import send_test

KEY_REVOKED = N_("The key was revoked")
WEBHOOK_SAVED = N_("The webhook was saved")
WEBHOOK_DELETED = N_("The webhook was deleted")
TEST_DELIVERED = N_("The test event was delivered")
TEST_FAILED = N_("The test event was not delivered")

router = APIRouter()


def _keys_path(account_id: int | None) -> str:
    return f"/keys?account={account_id}" if account_id else "/keys"


def _webhooks_path(account_id: int | None) -> str:
    return f"/webhooks?account={account_id}" if account_id else "/webhooks"


def _form_account(viewer: ConsoleViewer, form: FormData) -> int:
    return viewer.require(web.number(form_field(form, "account")) or None)


# --- API keys ----------------------------------------------------------------------------------------------


@router.get("/keys")
def keys(request: Request) -> Response:
    """The API keys of the chosen account, revoked ones included."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        account_id = web.chosen_account(request, viewer)
        rows = accounts.list_keys(session, account_id) if account_id is not None else []
        shown = [(key, served) for key, served in rows if all(viewer.sees(other) for other in served)]
        return web.render(request, "keys.html", viewer, section="keys", account_id=account_id, keys=shown)

    return web.page(request, build)


def _secret_page(request: Request, viewer: ConsoleViewer, account_id: int, key_id: int, secret: str) -> Response:
    # Rendered as the answer to the POST itself: the secret is never stored, nor put in a URL.
    return web.render(
        request, "key_secret.html", viewer, section="keys", account_id=account_id, key_id=key_id, secret=secret
    )


def _keys_failure(form: FormData) -> str:
    return _keys_path(web.number(form_field(form, "account")) or None)


@router.post("/keys/create")
async def key_create(request: Request) -> Response:
    """A new key for the account (the secret is on the answer, once)."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> Response:
        account_id = _form_account(viewer, form)
        label = (form_field(form, "label") or "").strip()[:100] or None
        key, secret = accounts.create_key(session, [account_id], label=label)
        web.audit(request, session, viewer, "console.keys.create", account_id=account_id, query=f"keyId={key.id}")
        return _secret_page(request, viewer, account_id, key.id, secret)

    return await web.action(request, act, failure_path=_keys_failure)


@router.post("/keys/{key_id}/revoke")
async def key_revoke(request: Request, key_id: str) -> Response:
    """Revoke a key: the next API request with it gets 401."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> str:
        key = scope.require_key(session, viewer, web.number(key_id))
        account_id = _form_account(viewer, form)
        accounts.revoke_key(session, key.id)
        web.audit(request, session, viewer, "console.keys.revoke", account_id=account_id, query=f"keyId={key.id}")
        web.flash(request, session, viewer, KEY_REVOKED)
        return _keys_path(account_id)

    return await web.action(request, act, failure_path=_keys_failure)


@router.post("/keys/{key_id}/rotate")
async def key_rotate(request: Request, key_id: str) -> Response:
    """Replace a key by a new one (same accounts and limit); the old one is revoked at once."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> Response:
        key = scope.require_key(session, viewer, web.number(key_id))
        account_id = _form_account(viewer, form)
        new_key, secret = accounts.rotate_key(session, key.id)
        query = f"keyId={key.id}&newKeyId={new_key.id}"
        web.audit(request, session, viewer, "console.keys.rotate", account_id=account_id, query=query)
        return _secret_page(request, viewer, account_id, new_key.id, secret)

    return await web.action(request, act, failure_path=_keys_failure)


# --- webhooks ----------------------------------------------------------------------------------------------


def _types(form: FormData) -> list[str]:
    return [value for key, value in form.multi_items() if key == "types" and isinstance(value, str)]


@router.get("/webhooks")
def webhook_list(request: Request) -> Response:
    """The webhook subscriptions of the chosen account and the form to add one."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        account_id = web.chosen_account(request, viewer)
        rows = webhooks.list_subscriptions(session, account_id)[1] if account_id is not None else []
        return web.render(
            request,
            "webhooks.html",
            viewer,
            section="webhooks",
            account_id=account_id,
            webhooks=rows,
            event_types=(webhook_events.ALL_TYPES, *webhook_events.EVENT_TYPES),
        )

    return web.page(request, build)


def _webhooks_failure(form: FormData) -> str:
    return _webhooks_path(web.number(form_field(form, "account")) or None)


@router.post("/webhooks/create")
async def webhook_create(request: Request) -> Response:
    """Add a subscription (its signing secret is on the answer, once)."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> Response:
        account_id = _form_account(viewer, form)
        row, secret = webhooks.create_subscription(
            session,
            web.ctx(request).settings,
            account_id,
            url=form_field(form, "url") or "",
            event_types=_types(form),
            description=form_field(form, "description") or None,
        )
        query = f"webhookId={row.id}"
        web.audit(request, session, viewer, "console.webhooks.create", account_id=account_id, query=query)
        return web.render(
            request,
            "webhook_secret.html",
            viewer,
            section="webhooks",
            account_id=account_id,
            webhook=row,
            secret=secret,
        )

    return await web.action(request, act, failure_path=_webhooks_failure)


@router.get("/webhooks/{webhook_id}")
def webhook_edit_page(request: Request, webhook_id: str) -> Response:
    """The edit form of one subscription."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        row = scope.require_webhook(session, viewer, web.number(webhook_id))
        return web.render(
            request,
            "webhook_edit.html",
            viewer,
            section="webhooks",
            account_id=row.account_id,
            webhook=row,
            event_types=(webhook_events.ALL_TYPES, *webhook_events.EVENT_TYPES),
        )

    return web.page(request, build)


@router.post("/webhooks/{webhook_id}/edit")
async def webhook_edit(request: Request, webhook_id: str) -> Response:
    """Save the URL, event types, switch and description of a subscription."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> str:
        row = scope.require_webhook(session, viewer, web.number(webhook_id))
        webhooks.update_subscription(
            session,
            web.ctx(request).settings,
            row.id,
            row.account_id,
            url=form_field(form, "url") or "",
            event_types=_types(form),
            active=form_field(form, "active") == "on",
            description=form_field(form, "description"),
        )
        query = f"webhookId={row.id}"
        web.audit(request, session, viewer, "console.webhooks.edit", account_id=row.account_id, query=query)
        web.flash(request, session, viewer, WEBHOOK_SAVED)
        return _webhooks_path(row.account_id)

    return await web.action(request, act, failure_path=lambda form: f"/webhooks/{web.number(webhook_id)}")


@router.post("/webhooks/{webhook_id}/delete")
async def webhook_delete(request: Request, webhook_id: str) -> Response:
    """Remove a subscription."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> str:
        row = scope.require_webhook(session, viewer, web.number(webhook_id))
        account_id = row.account_id
        webhooks.delete_subscription(session, row.id, account_id)
        query = f"webhookId={row.id}"
        web.audit(request, session, viewer, "console.webhooks.delete", account_id=account_id, query=query)
        web.flash(request, session, viewer, WEBHOOK_DELETED)
        return _webhooks_path(account_id)

    return await web.action(request, act, failure_path=_webhooks_failure)


@router.post("/webhooks/{webhook_id}/test")
async def webhook_test(request: Request, webhook_id: str) -> Response:
    """POST a signed ``webhook.test`` event to the subscription now and show the receiver's answer. The POST to the
    receiver happens outside any database transaction."""
    form = await request.form()
    token = form_field(form, "csrf")
    await form.close()
    wanted = web.number(webhook_id)

    def run() -> Response:
        with web.reading(request) as session:
            viewer = sessions.authenticate(session, request.cookies.get(web.COOKIE))
            if viewer is None:
                return web.to_login(request)
            try:
                sessions.check_csrf(viewer, token)
                row = scope.require_webhook(session, viewer, wanted)
            except DomainError as exc:
                return web.error_page(request, exc, viewer)
            session.expunge(row)
        outcome = send_test(row, web.ctx(request).settings)
        with web.writing(request) as session:
            status = int(outcome.get("Status") or 0)
            query = f"webhookId={row.id}"
            web.audit(
                request, session, viewer, "console.webhooks.test", account_id=row.account_id, status=status, query=query
            )
            text = web.translate(request, TEST_DELIVERED if outcome["Delivered"] else TEST_FAILED)
            detail = f" (HTTP {outcome['Status']})" if outcome.get("Status") else ""
            error = f": {outcome['Error']}" if outcome.get("Error") else ""
            level = "ok" if outcome["Delivered"] else "error"
            sessions.set_flash(session, viewer, level, f"{text}{detail}{error}")
        return web.redirect(request, _webhooks_path(row.account_id))

    return await run_in_threadpool(run)
