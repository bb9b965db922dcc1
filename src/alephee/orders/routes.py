"""Routes of the orders section (spec 20, 21). Thin: parse, call one service function, shape the response.

GET /v2/orders serialises the service's wire dictionaries with orjson instead of going through Pydantic
models: a page of 100 full orders is ~400 KB of JSON and model validation would cost more than the query
(docs/performance.md, Orders). ``response_model`` still documents the exact shape for the OpenAPI page, and the
contract tests validate real responses against it.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import orjson
from fastapi import Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from alephee.accounts.auth import ACCOUNT_ID_DOC, API_KEY_DOC, AccountScope, authenticate_account, require_account
from alephee.db import read_state
from alephee.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from alephee.http import compression
from alephee.http.body import (
    NOT_AN_OBJECT,
    TOO_MANY,
    body_doc,
    is_json_media,
    json_array,
    media_type,
    raw_property,
    read_json,
    validate,
)
from alephee.http.context import AppContext, get_context
from alephee.http.deps import read_session, write_session
from alephee.http.errors import error_responses
from alephee.http.numbers import int_from_text
from alephee.http.paging import Paged, Paging, route_cap
from alephee.http.params import query_bool
from alephee.http.routing import api_router, read_query
from alephee.http.wire import JSON_MEDIA, ErrorBody
from alephee.orders import create, delete, messages, split, status_updates
from alephee.orders import document_upload as uploads
from alephee.orders import documents as docs
from alephee.orders import query as orders_query
from alephee.orders import shipping_label as labels
from alephee.orders.schemas import (
    DocumentOut,
    DocumentUploadIn,
    IntegrateIn,
    IntegrateOut,
    MessageAttachmentIn,
    OrderInfoIn,
    OrderOut,
    OrdersPackOut,
    OrderStatusIn,
    OrderStatusOut,
    SplitOut,
)

router = api_router(tags=["Orders"])

ERRORS = error_responses(400, 401, 404, 409, 412, 416, 429, _409="Conflict with the order's current state")
BAD_ORDER_ID = "orderId must be an integer"


def _order_id(raw: str) -> int:
    number = int_from_text(raw)
    if number is None:
        raise InvalidInput(BAD_ORDER_ID)
    return number


def _json(body: Any, status: int = 200) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type=JSON_MEDIA)


# Files chosen by clients (an XML document may be SVG or XHTML with scripts) are downloads, never pages: even a
# browser that rendered one would run nothing and load nothing.
FILE_CSP = "default-src 'none'; sandbox"


def _file(out: docs.FileOut) -> Response:
    # The stored name is metadata chosen by a client: keep only safe ASCII in the header.
    safe = "".join(c for c in out.filename if c.isascii() and (c.isalnum() or c in "-_.")) or "document"
    return Response(
        content=out.content,
        media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{safe}"', "Content-Security-Policy": FILE_CSP},
    )


# GET /v2/orders is what every ERP polls: it reads its query itself and does all of its work (key, rate limit,
# paging, filters, query, rendering) in one worker thread on one read connection. Declaring 17 query
# parameters and two sync dependencies cost more than the indexed query (docs/performance.md, Orders).
ORDER_PAGING = Paging.of(orders_query.ORDER_SORTS)
ORDER_QUERY = {"API_KEY": API_KEY_DOC, "accountId": ACCOUNT_ID_DOC, **orders_query.FILTER_DOCS, **ORDER_PAGING.docs()}


@router.get(
    "/orders",
    name="orders.list",
    response_model=Paged[OrderOut],
    responses={**ERRORS, 206: {"model": Paged[OrderOut], "description": "limit over the cap: capped page"}},
    summary="Search orders",
    openapi_extra=read_query(ORDER_QUERY),
)
async def get_orders(request: Request) -> Response:
    """Paged orders of the account, filters combined with AND; deleted orders (status 70) never appear."""
    return await anyio.to_thread.run_sync(_orders_page, request)


def _orders_page(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    query = request.query_params
    # A bare connection, no ORM session: a poll served from the caches needs nothing more.
    with ctx.db.read_engine.connect() as connection:
        # Taken before any read: while it holds, the key lookup and the page's keys are not run again.
        state = read_state(connection)
        # Same order of checks as every route: key, account, rate limit, then the request's own values.
        scope = authenticate_account(request, ctx, query.get("API_KEY"), query.get("accountId"), connection, state)
        page = ORDER_PAGING.parse(route_cap(request), query.get("offset"), query.get("limit"), query.get("sort"))
        filters = orders_query.parse_filters(query)
        # The page comes compressed when the client accepts it (cached so: see orders/rendering.py).
        accepted = compression.negotiate(request.headers.get("accept-encoding")) if ctx.settings.compression else None
        body, encoding = orders_query.list_orders(
            ctx.db, connection, ctx.settings, scope.account_id, filters, page, state, accepted
        )
    headers = {"Content-Encoding": encoding} if encoding else None
    return Response(content=body, status_code=206 if page.partial else 200, media_type=JSON_MEDIA, headers=headers)


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
    return _json(orders_query.get_pack(session, scope.account_id, pack_id))


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
    out = docs.get_document(session, store, scope.account_id, _order_id(order_id), document_type, document_format)
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
    request = labels.parse_label_request(fmt, as_base64)
    out = labels.download_label(ctx.db, scope.account_id, _order_id(order_id), request)
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
    session: Session = Depends(write_session, scope="function"),
) -> Response:
    """HTTP 200 with one result per element in request order; `Status` is "200" (`Ok`) or "400" (`Order not
    found`). `OwnOrderId` becomes the order's `IntegratedOrderId`. Repeating a call changes nothing."""
    return _json(status_updates.integrate(session, scope.account_id, f"key:{scope.caller.key_id}", elements))


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
    session: Session = Depends(write_session, scope="function"),
) -> Response:
    """Per-order results (200 OK, 400 invalid, 404 unknown order, 412 not allowed: automatic shipping,
    marketplace order cancel, forbidden transition). Same status again is a 200 no-op."""
    return _json(status_updates.update_statuses(session, scope.account_id, f"key:{scope.caller.key_id}", elements))


# --- uploads (documents, message attachments): multipart ``file`` or JSON ``fileBase64`` -------------------

FILE_REQUIRED = "A file is required: a multipart/form-data part named 'file', or a JSON body with 'fileBase64'"
FILE_PART_NOT_A_FILE = "The multipart part 'file' must be a file"
UPLOAD_MEDIA = "Content-Type must be multipart/form-data or application/json"
_FILE_PART = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}


def _upload_doc(model: type[Any], *, required: bool, description: str) -> dict[str, Any]:
    doc = body_doc(model, array=False, description=description)
    doc["requestBody"]["required"] = required
    doc["requestBody"]["content"]["multipart/form-data"] = {"schema": _FILE_PART}
    return doc


Upload = tuple[uploads.UploadedFile | None, dict[str, Any]]


async def _read_upload(request: Request, model: type[DocumentUploadIn] | type[MessageAttachmentIn]) -> Upload:
    """The uploaded file and the other fields sent with it. Runs after authentication and the rate limit
    (it is declared after ``require_account``): 413 over the size cap, then 400 for malformed content."""
    ctx: AppContext = request.app.state.ctx
    cap = ctx.settings.documents_max_bytes
    content_type = media_type(request)
    request.scope.setdefault("state", {})["items"] = 1
    if content_type == "multipart/form-data":
        form = await request.form(max_files=5, max_fields=50)
        fields: dict[str, Any] = {}
        part: Any = None
        for key, value in form.multi_items():
            if key.lower() == "file" and part is None:
                part = value
            elif isinstance(value, str):
                fields.setdefault(key, value)
        if part is None:
            return None, fields
        if not isinstance(part, UploadFile):
            raise InvalidInput(FILE_PART_NOT_A_FILE)
        data = await part.read(cap + 1)
        await form.close()
        if len(data) > cap:
            raise PayloadTooLarge(docs.TOO_LARGE.format(size=f"more than {cap}", cap=cap))
        return uploads.UploadedFile(data=data, name=part.filename, extension=None), fields
    raw = await request.body()
    if not raw.strip():
        return None, {}
    if not is_json_media(content_type):
        raise UnsupportedMediaType(UPLOAD_MEDIA)
    data_json = await read_json(request)
    if isinstance(data_json, list):
        if len(data_json) > 1:
            raise PayloadTooLarge(TOO_MANY.format(count=len(data_json), cap=1))
        data_json = data_json[0] if data_json else None
    if not isinstance(data_json, dict):
        raise InvalidInput(NOT_AN_OBJECT)
    body = validate(model, data_json)
    fields = {
        k: v for k, v in body.model_dump().items() if k not in ("fileBase64", "documentName", "documentExtension")
    }
    if body.fileBase64 is None or not body.fileBase64.strip():
        return None, fields
    content = docs.decode_base64(body.fileBase64, max_bytes=cap)
    return uploads.UploadedFile(data=content, name=body.documentName, extension=body.documentExtension), fields


async def document_upload(request: Request) -> Upload:
    """Dependency: the document of POST /v2/orders/{orderId}/documents (required)."""
    upload, fields = await _read_upload(request, DocumentUploadIn)
    if upload is None:
        raise InvalidInput(FILE_REQUIRED)
    return upload, fields


async def message_attachment(request: Request) -> Upload:
    """Dependency: the optional attachment of POST /v2/orders/{orderId}/messages."""
    return await _read_upload(request, MessageAttachmentIn)


def _param(query: str | None, fields: dict[str, Any], name: str) -> str | None:
    # Scalars travel in the query string; a tolerant server also takes them from the body (query wins).
    if query is not None and query.strip():
        return query
    value = raw_property(fields, name)
    return None if value is None else str(value)


@router.post(
    "/orders/{orderId}/documents",
    name="orders.documents.post",
    response_model=DocumentOut,
    responses={
        **ERRORS,
        413: {"model": ErrorBody, "description": "File over the size cap"},
        415: {"model": ErrorBody, "description": "Neither multipart/form-data nor JSON"},
    },
    openapi_extra=_upload_doc(
        DocumentUploadIn,
        required=True,
        description="multipart/form-data with the part `file`, or JSON with `fileBase64` (+ documentName, "
        "documentExtension). The format is read from the content (PDF, JPEG, PNG, XML), never from the name.",
    ),
    summary="Attach a document to an order",
)
def post_document(
    order_id: str = Path(..., alias="orderId", description="Alephee order Id."),
    scope: AccountScope = Depends(require_account),
    upload: Upload = Depends(document_upload),
    document_type: str | None = Query(
        None, alias="documentType", description="0 Invoice (PDF, JPG, PNG), 1 Receipt (also XML), 2 NF-e (XML)."
    ),
    document_number: str | None = Query(None, alias="documentNumber", description="Invoice/document number."),
    document_date: str | None = Query(None, alias="documentDate", description="Issue date (ISO 8601)."),
    message_text: str | None = Query(None, alias="messageText", description="Text sent along with the document."),
    fiscal_key: str | None = Query(None, alias="fiscalKey", description="NF-e access key (Brazil)."),
    series_number: str | None = Query(None, alias="seriesNumber", description="NF-e series (Brazil)."),
    session: Session = Depends(write_session, scope="function"),
    ctx: AppContext = Depends(get_context),
) -> Response:
    """200 with the document as the order's `Documents` lists it. The same file again (same type) returns the
    stored document and changes nothing. Invoices are forwarded to the marketplace per spec 21 §8.4."""
    file, fields = upload
    assert file is not None
    params = {
        "documentType": _param(document_type, fields, "documentType"),
        "documentNumber": _param(document_number, fields, "documentNumber"),
        "documentDate": _param(document_date, fields, "documentDate"),
        "messageText": _param(message_text, fields, "messageText"),
        "fiscalKey": _param(fiscal_key, fields, "fiscalKey"),
        "seriesNumber": _param(series_number, fields, "seriesNumber"),
    }
    store = docs.store_for(ctx.settings.documents_dir)
    out = uploads.attach_document(
        session,
        store,
        ctx.settings,
        scope.account_id,
        f"key:{scope.caller.key_id}",
        _order_id(order_id),
        params,
        file,
        scope.tz,
    )
    return _json(out)


@router.post(
    "/orders/{orderId}/split",
    name="orders.split",
    response_model=SplitOut,
    responses=ERRORS,
    summary="Split an order out of its Mercado Libre cart",
)
def post_split(
    order_id: str = Path(..., alias="orderId", description="Alephee order Id."),
    scope: AccountScope = Depends(require_account),
    split_reason: str | None = Query(
        None, alias="splitReasonId", description="1 fragile, 2 another_warehouse, 3 irregular_shape, 4 other_motive."
    ),
    session: Session = Depends(write_session, scope="function"),
) -> Response:
    """The order gets its own cart (`PackId`) and shipment (`ExternalShippingId`); 412 when it is not in a
    cart with other orders, is delivered, or its label is PENDING/STALE. Repeating a done split is a 200."""
    reason = split.parse_split_reason(split_reason)
    out = split.split_order(session, scope.account_id, f"key:{scope.caller.key_id}", _order_id(order_id), reason)
    return _json(out)


@router.post(
    "/orders/{orderId}/messages",
    name="orders.messages",
    response_model=str,
    responses={
        **ERRORS,
        413: {"model": ErrorBody, "description": "Attachment over the size cap"},
        415: {"model": ErrorBody, "description": "Neither multipart/form-data nor JSON"},
    },
    openapi_extra=_upload_doc(
        MessageAttachmentIn,
        required=False,
        description="Optional attachment: multipart/form-data part `file`, or JSON `fileBase64` (+ documentName, "
        "documentExtension). Only after the buyer replied to a first message without attachment.",
    ),
    summary="Send a message to the buyer (Mercado Libre)",
)
def post_message(
    order_id: str = Path(..., alias="orderId", description="Alephee order Id."),
    scope: AccountScope = Depends(require_account),
    upload: Upload = Depends(message_attachment),
    message: str | None = Query(None, description="Free text (max 350 characters) for options 3, 4 and 5."),
    message_options: str | None = Query(
        None,
        alias="messageOptions",
        description="1 REQUEST_VARIANTS, 2 REQUEST_BILLING_INFO, 3 SEND_INVOICE_LINK (México), 4 OTHER, "
        "5 DELIVERY_PROMISE.",
    ),
    session: Session = Depends(write_session, scope="function"),
    ctx: AppContext = Depends(get_context),
) -> Response:
    """200 with the string "OK". 409 while the previous message is unanswered (repeating exactly that message
    is a 200 that sends nothing again); 412 for non-Mercado Libre orders or options that do not apply."""
    file, fields = upload
    out = messages.send_message(
        session,
        docs.store_for(ctx.settings.documents_dir),
        ctx.settings,
        scope.account_id,
        f"key:{scope.caller.key_id}",
        _order_id(order_id),
        _param(message_options, fields, "messageOptions"),
        _param(message, fields, "message"),
        file,
    )
    return _json(out)


# --- POST /v2/orders, DELETE /v2/orders ----------------------------------------------------------------------

CreateBody = tuple[OrderInfoIn, dict[str, Any]]


async def order_info_body(request: Request) -> CreateBody:
    """Dependency: one ``OrderInfo`` object (a one-element array is unwrapped). 413 over the usage limits
    (more than one order, 50 items, 10 payments, 10 discounts) before any validation, then 400."""
    data = await read_json(request)
    if isinstance(data, list):
        if len(data) > 1:
            raise PayloadTooLarge(TOO_MANY.format(count=len(data), cap=1))
        data = data[0] if data else None
    if not isinstance(data, dict):
        raise InvalidInput(NOT_AN_OBJECT)
    request.scope.setdefault("state", {})["items"] = 1
    create.check_create_limits(data)
    return validate(OrderInfoIn, data), data


@router.post(
    "/orders",
    name="orders.create",
    status_code=201,
    response_model=OrderOut,
    responses={
        **ERRORS,
        201: {"model": OrderOut, "description": "Created (or the same request repeated: the existing order)"},
        413: {"model": ErrorBody, "description": "Over 1 order, 50 items, 10 payments or 10 discounts"},
    },
    openapi_extra=body_doc(OrderInfoIn, array=False, description="One order (OrderInfo)."),
    summary="Create a new order",
)
def post_order(
    scope: AccountScope = Depends(require_account),
    body: CreateBody = Depends(order_info_body),
    session: Session = Depends(write_session, scope="function"),
) -> Response:
    """201 with the order as GET /v2/orders shows it. Repeating the same request (same `ExternalOrderId`,
    same content) answers 201 with the existing order and creates nothing; another order with that
    `ExternalOrderId` is a 409."""
    model, raw = body
    order, created = create.create_order(session, scope.account_id, f"key:{scope.caller.key_id}", model, raw, scope.tz)
    response = _json(order, 201)
    response.headers["Location"] = f"/v2/orders?idFrom={order['Id']}&idTo={order['Id']}"
    if not created:
        response.headers["X-Idempotent-Replay"] = "true"
    return response


@router.delete(
    "/orders",
    name="orders.delete",
    status_code=204,
    response_class=Response,
    responses={**ERRORS, 204: {"description": "Deleted (also when it already was)"}},
    summary="Delete an order created through POST /v2/orders",
)
def delete_order(
    scope: AccountScope = Depends(require_account),
    order_id: str | None = Query(None, alias="orderId", description="Alephee order Id."),
    revert_stock: str | None = Query(
        None, alias="revertStock", description="true: give back the stock the order took (default false)."
    ),
    session: Session = Depends(write_session, scope="function"),
) -> Response:
    """204; the order gets status 70 and leaves every GET. Only API-created orders (412 otherwise). Deleting
    an already deleted order is a 204 again; its stock is given back at most once."""
    revert = bool(query_bool(revert_stock, "revertStock"))
    delete.delete_order(
        session, scope.account_id, f"key:{scope.caller.key_id}", delete.parse_order_id(order_id), revert
    )
    return Response(status_code=204)
