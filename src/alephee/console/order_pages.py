"""The Orders page: one account's orders with the filters of GET /v2/orders, and an order's page (items, buyer,
payments, shipping, documents, messages, its status history as a timeline) with its label download."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from alephee.console import order_reads, sessions, web
from alephee.console.sessions import ConsoleViewer
from alephee.errors import DomainError
from alephee.http.i18n import N_
from alephee.orders import shipping_label
from alephee.orders import statuses as st
from alephee.orders.routes import file_response

# The changes of an order's history (``orders.models.OrderHistory.action``) as the timeline names them.
ACTIONS = {
    "sale": N_("Sold"),
    "create": N_("Received by the hub"),
    "integrate": N_("Integration mark"),
    "status": N_("Status change"),
    "tracking": N_("Tracking"),
    "document": N_("Document"),
    "message": N_("Message"),
    "split": N_("Split"),
    "delete": N_("Deleted"),
}

router = APIRouter()


@router.get("/orders")
def orders(request: Request) -> Response:
    """One page of the chosen account's orders that GET /v2/orders would return for the same filters."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        account_id = web.chosen_account(request, viewer)
        query = request.query_params
        raw = {name: query.get(name, "") for name in order_reads.FILTER_NAMES}
        page = web.number(query.get("page"), 1, upper=web.MAX_PAGE)
        total, rows = 0, []
        if account_id is not None:
            filters = order_reads.order_filters(raw)
            offset = (page - 1) * order_reads.PAGE_SIZE
            total, rows = order_reads.find_orders(session, web.ctx(request).settings, account_id, filters, offset)
        return web.render(
            request,
            "orders.html",
            viewer,
            section="orders",
            account_id=account_id,
            raw=raw,
            status_types=st.STATUS_TYPE_LABELS,
            total=total,
            orders=rows,
            page=page,
            pages=max(1, -(-total // order_reads.PAGE_SIZE)),
        )

    return web.page(request, build)


@router.get("/orders/{order_id}")
def order(request: Request, order_id: str) -> Response:
    """An order with its messages and timeline."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        detail = order_reads.order_page(session, viewer.account_ids, web.number(order_id))
        return web.render(
            request,
            "order.html",
            viewer,
            section="orders",
            account_id=detail.account_id,
            detail=detail,
            action_name=lambda a: web.translate(request, ACTIONS[a]) if a in ACTIONS else a,
        )

    return web.page(request, build)


@router.get("/orders/{order_id}/label")
async def label(request: Request, order_id: str) -> Response:
    """The shipping label (PDF by default, ``format`` TXT or ZIP as the API): the operator's order is checked in
    a short read, then the label is drawn or fetched from the marketplace with no transaction open."""
    fmt = request.query_params.get("format") or "PDF"

    def run() -> Response:
        with web.reading(request) as session:
            viewer = sessions.authenticate(session, request.cookies.get(web.COOKIE))
            if viewer is None:
                return web.to_login(request)
            try:
                account_id = order_reads.order_account(session, viewer.account_ids, web.number(order_id))
            except DomainError as exc:
                return web.error_page(request, exc, viewer)
        context = web.ctx(request)
        try:
            ask = shipping_label.parse_label_request(fmt, None)
            out = shipping_label.download_label(context.db, account_id, web.number(order_id), ask, context.settings)
        except DomainError as exc:
            return web.error_page(request, exc, viewer)
        return file_response(out)

    return await run_in_threadpool(run)
