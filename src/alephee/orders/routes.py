"""Routes of the orders section (spec 20, 21). Thin: parse, call one service function, shape the response.

GET /v2/orders serialises the service's wire dictionaries with orjson instead of going through Pydantic
models: a page of 100 full orders is ~400 KB of JSON and model validation would cost more than the query
(docs/perf/orders.md). ``response_model`` still documents the exact shape for the OpenAPI page, and the
contract tests validate real responses against it.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Path, Query, Response
from sqlalchemy.orm import Session

from alephee.context import AppContext, get_context
from alephee.errors import InvalidInput
from alephee.http.auth import AccountScope, read_session, require_account, write_session
from alephee.http.body import body_doc, json_array
from alephee.http.paging import Page, Paged, paging
from alephee.http.routing import api_router
from alephee.http.wire import JSON_MEDIA, ErrorBody
from alephee.orders import documents as docs
from alephee.orders import service
from alephee.orders.schemas import IntegrateIn, IntegrateOut, OrderOut, OrdersPackOut, OrderStatusIn, OrderStatusOut

router = api_router(tags=["Orders"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Invalid parameters",
        401: "Missing or unknown API_KEY, or account not linked to it",
        404: "Not found",
        412: "Precondition failed",
        416: "Paging out of range",
        429: "Too many requests",
    }.items()
}
BAD_ORDER_ID = "orderId must be an integer"


def _order_id(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidInput(BAD_ORDER_ID) from None


def _json(body: Any, status: int = 200) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type=JSON_MEDIA)


def _paged(page: Page, total: int, results: list[str]) -> Response:
    # The orders arrive serialised; they are spliced into the envelope, not decoded and encoded again.
    head = orjson.dumps(
        {
            "Total": total,
            "Paging": {"Limit": page.limit, "Offset": page.offset, "Total": total},
            "SortBy": {"Id": page.sort.id, "Name": page.sort.name},
            "AvailableSorts": [{"Id": s.id, "Name": s.name} for s in page.available],
        }
    )
    body = head[:-1] + b',"Results":[' + ",".join(results).encode() + b"]}"
    return Response(content=body, status_code=206 if page.partial else 200, media_type=JSON_MEDIA)


def _file(out: service.FileOut) -> Response:
    # The stored name is metadata chosen by a client: keep only safe ASCII in the header.
    safe = "".join(c for c in out.filename if c.isascii() and (c.isalnum() or c in "-_.")) or "document"
    return Response(
        content=out.content,
        media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


@router.get(
    "/orders",
    name="orders.list",
    response_model=Paged[OrderOut],
    responses={**ERRORS, 206: {"model": Paged[OrderOut], "description": "limit over the cap: capped page"}},
    summary="Search orders",
)
def get_orders(
    scope: AccountScope = Depends(require_account),
    status_type: str | None = Query(None, alias="statusType", description="0 New, 1 Pending, 2 Closed, 99 Cancelled."),
    date_created_from: str | None = Query(
        None, alias="dateCreatedFrom", description="Created in the hub at/after (yyyy-mm-dd[ HH:mm] or ISO 8601)."
    ),
    sale_date_from: str | None = Query(None, alias="saleDateFrom", description="Sold at/after this moment."),
    status_date_from: str | None = Query(
        None, alias="statusDateFrom", description="Status changed (or any marketplace novelty) at/after."
    ),
    id_from: str | None = Query(None, alias="idFrom", description="Order Id ≥ value."),
    id_to: str | None = Query(None, alias="idTo", description="Order Id ≤ value."),
    external_from: str | None = Query(None, alias="externalOrderIdFrom", description="ExternalOrderId ≥ value."),
    external_to: str | None = Query(None, alias="externalOrderIdTo", description="ExternalOrderId ≤ value."),
    integrated: str | None = Query(
        None,
        alias="Integrated",
        description="Default false (not yet integrated), except when statusType, statusDateFrom, an id range or "
        "erpStatus is given: then integrated and not integrated orders are both returned unless you send it.",
    ),
    erp_status: str | None = Query(None, alias="erpStatus", description="Exact ErpStatus."),
    marketplace_id: str | None = Query(None, alias="marketplaceId", description="Origin marketplace id."),
    include_pending: str | None = Query(
        None, alias="includePendingPayments", description="true: also orders whose payment is still pending."
    ),
    additional_info: str | None = Query(
        None,
        alias="additionalInfo",
        description="Comma-separated optional blocks to fill (Documents, ActiveClaims, Adjustments, "
        "QuantitiesDetails, ExternalJson, Invoice); default all.",
    ),
    page: Page = Depends(paging(service.ORDER_SORTS)),
    session: Session = Depends(read_session),
    ctx: AppContext = Depends(get_context),
) -> Response:
    """Paged orders of the account, filters combined with AND; deleted orders (status 70) never appear."""
    filters = service.parse_filters(
        {
            "statusType": status_type,
            "dateCreatedFrom": date_created_from,
            "saleDateFrom": sale_date_from,
            "statusDateFrom": status_date_from,
            "idFrom": id_from,
            "idTo": id_to,
            "externalOrderIdFrom": external_from,
            "externalOrderIdTo": external_to,
            "Integrated": integrated,
            "erpStatus": erp_status,
            "marketplaceId": marketplace_id,
            "includePendingPayments": include_pending,
            "additionalInfo": additional_info,
        },
        scope.tz,
    )
    total, results = service.list_orders(session, ctx.settings, scope.account_id, filters, page)
    return _paged(page, total, results)


@router.get(
    "/orders/packs/{packId}",
    name="orders.pack",
    response_model=OrdersPackOut,
    responses=ERRORS,
    summary="Orders of a shopping cart (ORDERS PACK)",
)
@router.get(
    "/orders/pack/{packId}",
    name="orders.pack",
    response_model=OrdersPackOut,
    responses=ERRORS,
    summary="Alias of GET /v2/orders/packs/{packId}",
)
def get_pack(
    pack_id: str = Path(..., alias="packId", description="The cart number (the orders' PackId)."),
    scope: AccountScope = Depends(require_account),
    session: Session = Depends(read_session),
) -> Response:
    """The cart's shared blocks once and every order of it; `IsComplete` is false while some are missing."""
    return _json(service.get_pack(session, scope.account_id, pack_id))


@router.get(
    "/orders/{orderId}/documents",
    name="orders.documents.get",
    responses={200: {"content": {"application/pdf": {}, "application/xml": {}, "image/png": {}, "image/jpeg": {}}}}
    | ERRORS,
    response_class=Response,
    summary="Download a document attached to the order",
)
def get_document(
    order_id: str = Path(..., alias="orderId", description="Alephee order Id."),
    scope: AccountScope = Depends(require_account),
    document_type: str | None = Query(
        None, alias="documentType", description="0 Invoice, 1 Receipt, 2 Electronic fiscal invoice (Brazil)."
    ),
    document_format: str | None = Query(
        None, alias="documentFormat", description="pdf or xml; for type 2 only (pdf = DANFE rendering)."
    ),
    session: Session = Depends(read_session),
    ctx: AppContext = Depends(get_context),
) -> Response:
    """The latest document of the type, in the format it was uploaded (404 when there is none)."""
    store = docs.store_for(ctx.settings.documents_dir)
    out = service.get_document(session, store, scope.account_id, _order_id(order_id), document_type, document_format)
    return _file(out)


@router.get(
    "/orders/{orderId}/shippinglabel",
    name="orders.shippinglabel",
    responses={
        200: {"content": {"application/pdf": {}, "text/plain": {}, "application/zip": {}}},
    }
    | ERRORS,
    response_class=Response,
    summary="Download the shipping label (PDF, ZPL text or ZIP)",
)
def get_shipping_label(
    order_id: str = Path(..., alias="orderId", description="Alephee order Id."),
    scope: AccountScope = Depends(require_account),
    fmt: str | None = Query(None, alias="format", description="TXT (ZPL), ZIP (ZPL + control receipt) or PDF."),
    as_base64: str | None = Query(None, alias="base64", description="true: the file as a base64 text body."),
    ctx: AppContext = Depends(get_context),
) -> Response:
    """Only when the shipment is `ready_to_ship` with substatus `ready_to_print` or `printed` (else 412)."""
    request = service.parse_label_request(fmt, as_base64)
    out = service.download_label(ctx.db, scope.account_id, _order_id(order_id), request)
    if request.as_base64:
        return Response(content=out.content, media_type=out.media_type)
    return _file(out)


@router.put(
    "/orders/integrate",
    name="orders.integrate",
    response_model=IntegrateOut,
    responses={**ERRORS, 413: {"model": ErrorBody, "description": "Too many orders in one request"}},
    openapi_extra=body_doc(IntegrateIn, array=True, description="Orders to mark (or unmark) as integrated."),
    summary="Mark orders as integrated",
)
def put_integrate(
    scope: AccountScope = Depends(require_account),
    elements: list[Any] = Depends(json_array()),
    session: Session = Depends(write_session),
) -> Response:
    """HTTP 200 with one result per element in request order; `Status` is "200" (`Ok`) or "400" (`Order not
    found`). `OwnOrderId` becomes the order's `IntegratedOrderId`. Repeating a call changes nothing."""
    return _json(service.integrate(session, scope.account_id, f"key:{scope.caller.key_id}", elements))


@router.put(
    "/orders",
    name="orders.status",
    response_model=OrderStatusOut,
    responses={**ERRORS, 413: {"model": ErrorBody, "description": "Too many orders in one request"}},
    openapi_extra=body_doc(OrderStatusIn, array=True, description="Status (10, 17, 20, 80, 90) and tracking."),
    summary="Update the status of orders",
)
def put_statuses(
    scope: AccountScope = Depends(require_account),
    elements: list[Any] = Depends(json_array()),
    session: Session = Depends(write_session),
) -> Response:
    """Per-order results (200 OK, 400 invalid, 404 unknown order, 412 not allowed: automatic shipping,
    marketplace order cancel, forbidden transition). Same status again is a 200 no-op."""
    return _json(service.update_statuses(session, scope.account_id, f"key:{scope.caller.key_id}", elements))
