"""The Deliveries page: the outbox rows going to the marketplaces and the webhook deliveries, with status,
attempts, last error and payload; retrying one or every failed row (``marketplaces.outbox.retry``, what ``alephee
outbox retry`` runs); and the inbox of the marketplaces' notifications."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from alephee.console import delivery_reads, web
from alephee.console.delivery_reads import DeliveryFilters
from alephee.console.sessions import ConsoleViewer
from alephee.http.i18n import N_
from alephee.http.pages import form_field, safe_next

RETRIED_ONE = N_("The delivery was queued again")
RETRIED_ALL = N_("Failed deliveries queued again")
NOTHING_TO_RETRY = N_("Nothing to retry: no failed delivery")

router = APIRouter()


def pretty_json(value: object) -> str:
    """A payload as indented JSON for reading."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode()


web.templates.env.filters["pretty_json"] = pretty_json


def _page_offset(request: Request) -> tuple[int, int]:
    page = web.number(request.query_params.get("page"), 1, upper=web.MAX_PAGE)
    return page, (page - 1) * delivery_reads.PAGE_SIZE


def _deliveries_path(kind: str | None, status: str | None = None) -> str:
    query = [f"kind={kind}"] if kind in delivery_reads.KINDS else []
    if status in ("pending", "in_flight", "delivered", "failed"):
        query.append(f"status={status}")
    return "/deliveries" + ("?" + "&".join(query) if query else "")


@router.get("/deliveries")
def deliveries(request: Request) -> Response:
    """One page of the outbox rows of one kind (marketplace or webhook), newest first."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        query = request.query_params
        page, offset = _page_offset(request)
        account = query.get("account")
        filters = DeliveryFilters(
            kind=query.get("kind") or delivery_reads.KIND_MARKETPLACE,
            status=query.get("status") or None,
            account_id=viewer.require(web.number(account) or None) if account else None,
            offset=offset,
        )
        total, rows = delivery_reads.find_deliveries(session, viewer.account_ids, filters)
        return web.render(
            request,
            "deliveries.html",
            viewer,
            section="deliveries",
            account_id=filters.account_id,
            filters=filters,
            total=total,
            deliveries=rows,
            page=page,
            pages=max(1, -(-total // delivery_reads.PAGE_SIZE)),
        )

    return web.page(request, build)


@router.get("/deliveries/inbox")
def inbox(request: Request) -> Response:
    """The notifications the marketplaces sent, newest first, with their processing state."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        page, offset = _page_offset(request)
        status = request.query_params.get("status") or None
        accounts = web.accounts_shown(viewer, request.query_params.get("account"))
        total, rows = delivery_reads.find_notices(session, accounts, status, offset)
        return web.render(
            request,
            "inbox.html",
            viewer,
            section="deliveries",
            status=status,
            statuses=delivery_reads.NOTICE_STATUSES,
            total=total,
            notices=rows,
            page=page,
            pages=max(1, -(-total // delivery_reads.PAGE_SIZE)),
        )

    return web.page(request, build)


@router.post("/deliveries/{message_id}/retry")
async def retry_one(request: Request, message_id: str) -> Response:
    """Queue one failed delivery again (409 message when it is not failed)."""

    def back(form: FormData) -> str:
        return safe_next(form_field(form, "next"), "/deliveries")

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> str:
        row = delivery_reads.scoped_delivery(session, viewer.account_ids, web.number(message_id))
        delivery_reads.retry_one(session, viewer.account_ids, row.id)
        web.audit(
            request, session, viewer, "console.deliveries.retry", account_id=row.account_id, query=f"outboxId={row.id}"
        )
        web.flash(request, session, viewer, RETRIED_ONE)
        return back(form)

    return await web.action(request, act, failure_path=back)


@router.post("/deliveries/retry-failed")
async def retry_failed(request: Request) -> Response:
    """Queue every failed delivery of one kind (of the operator's accounts) again."""

    def back(form: FormData) -> str:
        return _deliveries_path(form_field(form, "kind"))

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> str:
        kind = form_field(form, "kind") or delivery_reads.KIND_MARKETPLACE
        accounts = web.accounts_shown(viewer, form_field(form, "account"))
        retried = delivery_reads.retry_failed(session, accounts, kind)
        web.audit(
            request, session, viewer, "console.deliveries.retry_failed", query=f"kind={kind}&count={len(retried)}"
        )
        web.flash(request, session, viewer, RETRIED_ALL if retried else NOTHING_TO_RETRY, "ok" if retried else "error")
        return back(form)

    return await web.action(request, act, failure_path=back)
