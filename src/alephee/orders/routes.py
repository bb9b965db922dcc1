"""Routes of the orders section (CF-20, CF-21). Thin: parse, call one service function, shape the response.

GET /v2/orders serialises the service's wire dictionaries with orjson instead of going through Pydantic
models: a page of 100 full orders is ~400 KB of JSON and model validation would cost more than the query
(docs/performance.md, Orders). ``response_model`` still documents the exact shape for the OpenAPI page, and the
contract tests validate real responses against it.

Each route documents the refusals it can raise (``responses_for``); the checks run in the order the parameters
are declared: the key and account first, then the request's own values.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import orjson
from fastapi import Depends, Path, Query, Request, Response

from alephee.accounts.auth import ACCOUNT_ID_DOC, API_KEY_DOC, Account, authenticate_account
from alephee.errors import InvalidInput, PayloadTooLarge, RangeNotSatisfiable, UnsupportedMediaType
from alephee.http import compression
from alephee.http.body import NOT_AN_OBJECT, TOO_MANY, body_doc, json_array, raw_property, read_json, validate
from alephee.http.context import AppContext
from alephee.http.deps import Context, ReadSession, WriteSession
from alephee.http.errors import AUTHENTICATED, responses_for
from alephee.http.numbers import int_from_text
from alephee.http.paging import Paged, Paging, route_cap
from alephee.http.params import query_bool
from alephee.http.routing import api_router, read_query
from alephee.http.uploads import FilePartNotAFile, FileRequired, Upload, UploadMediaUnsupported, read_upload, upload_doc
from alephee.http.wire import JSON_MEDIA
from alephee.orders import create, delete, detail, messages, split, status_updates
from alephee.orders import document_quota as quota
from alephee.orders import document_upload as uploads
from alephee.orders import documents as docs
from alephee.orders import query as orders_query
from alephee.orders import shipping_label as labels
from alephee.orders.access import BadDateField, OrderNotFound
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


class BadOrderId(InvalidInput):
    """The orderId in the path is not an integer (400)."""

    message = "orderId must be an integer"


def order_id_path(raw: str = Path(..., alias="orderId", description="Alephee order Id.")) -> int:
    """The ``{orderId}`` of the path as an integer (400 otherwise)."""
    number = int_from_text(raw)
    if number is None:
        raise BadOrderId()
    return number


# Declared after the account (``scope: Account``) so the key is checked first.
OrderIdPath = Annotated[int, Depends(order_id_path)]
# A JSON body the batch routes read (http.body.json_array): not JSON, not an array, too many elements.
BATCH_BODY = (InvalidInput, UnsupportedMediaType, PayloadTooLarge)


def _actor(scope: Any) -> str:
    return f"key:{scope.caller.key_id}"


def _json(body: Any, status: int = 200) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type=JSON_MEDIA)


# Files chosen by clients (an XML document may be SVG or XHTML with scripts) are downloads, never pages: even a
# browser that rendered one would run nothing and load nothing.
FILE_CSP = "default-src 'none'; sandbox"


def file_response(out: docs.FileOut) -> Response:
    """A file download (documents, labels; the operator console's too): attachment, sandboxed."""
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
    responses=responses_for(
        *AUTHENTICATED,
        InvalidInput,
        orders_query.BadStatusType,
        RangeNotSatisfiable,
        _206={"model": Paged[OrderOut], "description": "limit over the cap: capped page"},
    ),
    summary="Search orders",
    openapi_extra=read_query(ORDER_QUERY),
)
async def get_orders(request: Request) -> Response:
    """Paged orders of the account, filters combined with AND; deleted orders (status 70) never appear."""
    return await anyio.to_thread.run_sync(_orders_page, request)


def _orders_page(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    query = request.query_params
    raw_account = query.get("accountId")
    # A bare connection, no ORM session: a poll served from the caches needs nothing more. The counters are
    # read first: while they hold, the key lookup and the page's keys are not run again. The account's is read
    # for the id asked for (the key lookup then refuses an account it does not serve).
    account_id = int_from_text(raw_account) if raw_account is not None else None
    with ctx.db.polling(account_id) as (connection, states):
        # Same order of checks as every route: key, account, rate limit, then the request's own values.
        scope = authenticate_account(request, ctx, query.get("API_KEY"), raw_account, connection, states.keys)
        page = ORDER_PAGING.parse(route_cap(request), query.get("offset"), query.get("limit"), query.get("sort"))
        filters = orders_query.parse_filters(query)
        # The page comes compressed when the client accepts it (cached so: see orders/rendering.py).
        accepted = compression.negotiate(request.headers.get("accept-encoding")) if ctx.settings.compression else None
        body, encoding = orders_query.list_orders(
            ctx.db, connection, ctx.settings, scope.account_id, filters, page, states, accepted
        )
    headers = {"Content-Encoding": encoding} if encoding else None
    return Response(content=body, status_code=206 if page.partial else 200, media_type=JSON_MEDIA, headers=headers)


PACK_ERRORS = responses_for(*AUTHENTICATED, orders_query.PackNotFound)


@router.get(
    "/orders/packs/{packId}",
    name="orders.pack",
    response_model=OrdersPackOut,
    responses=PACK_ERRORS,
    summary="Orders of a shopping cart (ORDERS PACK)",
)
@router.get(
    "/orders/pack/{packId}",
    name="orders.pack",
    response_model=OrdersPackOut,
    responses=PACK_ERRORS,
    summary="Alias of GET /v2/orders/packs/{packId}",
)
def get_pack(
    scope: Account,
    session: ReadSession,
    pack_id: str = Path(..., alias="packId", description="The cart number (the orders' PackId)."),
) -> Response:
    """The cart's shared blocks once and every order of it; `IsComplete` is false while some are missing."""
    return _json(orders_query.get_pack(session, scope.account_id, pack_id))


@router.get(
    "/orders/{orderId}/documents",
    name="orders.documents.get",
    responses=responses_for(
        *AUTHENTICATED,
        BadOrderId,
        InvalidInput,
        docs.DocumentTypeRequired,
        docs.UnknownDocumentType,
        docs.BadDocumentFormat,
        OrderNotFound,
        docs.NoDocument,
        docs.NoDocumentInFormat,
        docs.MissingContent,
        docs.LabelNotADocument,
        _200={"content": {"application/pdf": {}, "application/xml": {}, "image/png": {}, "image/jpeg": {}}},
    ),
    response_class=Response,
    summary="Download a document attached to the order",
)
def get_document(
    scope: Account,
    order_id: OrderIdPath,
    session: ReadSession,
    ctx: Context,
    document_type: str | None = Query(
        None, alias="documentType", description="0 Invoice, 1 Receipt, 2 Electronic fiscal invoice (Brazil)."
    ),
    document_format: str | None = Query(
        None, alias="documentFormat", description="pdf or xml; for type 2 only (pdf = DANFE rendering)."
    ),
) -> Response:
    """The latest document of the type, in the format it was uploaded (404 when there is none)."""
    store = docs.store_for(ctx.settings.documents_dir)
    return file_response(docs.get_document(session, store, scope.account_id, order_id, document_type, document_format))


def label_request(
    fmt: str | None = Query(None, alias="format", description="TXT (ZPL), ZIP (ZPL + control receipt) or PDF."),
    as_base64: str | None = Query(None, alias="base64", description="true: the file as a base64 text body."),
) -> labels.LabelRequest:
    """Dependency: the label's ``format`` and ``base64`` (400 when malformed)."""
    return labels.parse_label_request(fmt, as_base64)


@router.get(
    "/orders/{orderId}/shippinglabel",
    name="orders.shippinglabel",
    responses=responses_for(
        *AUTHENTICATED,
        labels.LabelFormatRequired,
        labels.BadLabelFormat,
        InvalidInput,
        BadOrderId,
        OrderNotFound,
        labels.NoShipment,
        labels.LabelRefused,
        labels.LabelUnavailable,
        _200={"content": {"application/pdf": {}, "text/plain": {}, "application/zip": {}}},
    ),
    response_class=Response,
    summary="Download the shipping label (PDF, ZPL text or ZIP)",
)
def get_shipping_label(
    scope: Account,
    request: Annotated[labels.LabelRequest, Depends(label_request)],
    order_id: OrderIdPath,
    ctx: Context,
) -> Response:
    """Only when the shipment is `ready_to_ship` with substatus `ready_to_print` or `printed` (else 412)."""
    out = labels.download_label(ctx.db, scope.account_id, order_id, request, ctx.settings)
    if request.as_base64:
        return Response(content=out.content, media_type=out.media_type)
    return file_response(out)


@router.put(
    "/orders/integrate",
    name="orders.integrate",
    response_model=IntegrateOut,
    responses=responses_for(*AUTHENTICATED, *BATCH_BODY),
    openapi_extra=body_doc(IntegrateIn, array=True, description="Orders to mark (or unmark) as integrated."),
    summary="Mark orders as integrated",
)
def put_integrate(
    scope: Account,
    elements: Annotated[list[Any], Depends(json_array())],
    session: WriteSession,
) -> Response:
    """HTTP 200 with one result per element in request order; `Status` is "200" (`Ok`) or "400" (`Order not
    found`). `OwnOrderId` becomes the order's `IntegratedOrderId`. Repeating a call changes nothing."""
    return _json(status_updates.integrate(session, scope.account_id, _actor(scope), elements))


@router.put(
    "/orders",
    name="orders.status",
    response_model=OrderStatusOut,
    responses=responses_for(*AUTHENTICATED, *BATCH_BODY),
    openapi_extra=body_doc(OrderStatusIn, array=True, description="Status (10, 17, 20, 80, 90) and tracking."),
    summary="Update the status of orders",
)
def put_statuses(
    scope: Account,
    elements: Annotated[list[Any], Depends(json_array())],
    session: WriteSession,
) -> Response:
    """Per-order results (200 OK, 400 invalid, 404 unknown order, 412 not allowed: automatic shipping,
    marketplace order cancel, forbidden transition). Same status again is a 200 no-op."""
    return _json(status_updates.update_statuses(session, scope.account_id, _actor(scope), elements))


# --- uploads (documents, message attachments): multipart ``file`` or JSON ``fileBase64`` -------------------

# What reading an upload can refuse (http/uploads.py with the document rules of orders/documents.py).
UPLOAD_ERRORS = (
    FilePartNotAFile,
    UploadMediaUnsupported,
    InvalidInput,
    PayloadTooLarge,
    docs.DocumentTooLarge,
    docs.BadBase64,
    docs.EmptyDocument,
)
# What the content checks of a stored file can refuse.
CONTENT_ERRORS = (docs.UnknownContent, docs.BadXml, docs.NameMismatch, quota.QuotaExceeded)


async def _read_upload(request: Request, model: type[DocumentUploadIn] | type[MessageAttachmentIn]) -> Upload:
    cap = request.app.state.ctx.settings.documents_max_bytes
    return await read_upload(
        request,
        model,
        max_bytes=cap,
        decode=lambda text: docs.decode_base64(text, max_bytes=cap),
        too_large=lambda: docs.DocumentTooLarge(docs.DocumentTooLarge.message.format(size=f"more than {cap}", cap=cap)),
    )


async def document_upload(request: Request, _scope: Account) -> Upload:
    """Dependency: the document of POST /v2/orders/{orderId}/documents (required), read after the key check."""
    upload, fields = await _read_upload(request, DocumentUploadIn)
    if upload is None:
        raise FileRequired()
    return upload, fields


async def message_attachment(request: Request, _scope: Account) -> Upload:
    """Dependency: the optional attachment of POST /v2/orders/{orderId}/messages, read after the key check."""
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
    responses=responses_for(
        *AUTHENTICATED,
        FileRequired,
        *UPLOAD_ERRORS,
        BadOrderId,
        docs.DocumentTypeRequired,
        docs.UnknownDocumentType,
        docs.FormatNotAllowed,
        BadDateField,
        uploads.ParameterTooLong,
        *CONTENT_ERRORS,
        OrderNotFound,
        docs.NfeOnlyBrazil,
    ),
    openapi_extra=upload_doc(
        DocumentUploadIn,
        required=True,
        description="multipart/form-data with the part `file`, or JSON with `fileBase64` (+ documentName, "
        "documentExtension). The format is read from the content (PDF, JPEG, PNG, XML), never from the name.",
    ),
    summary="Attach a document to an order",
)
def post_document(
    scope: Account,
    upload: Annotated[Upload, Depends(document_upload)],
    order_id: OrderIdPath,
    session: WriteSession,
    ctx: Context,
    document_type: str | None = Query(
        None, alias="documentType", description="0 Invoice (PDF, JPG, PNG), 1 Receipt (also XML), 2 NF-e (XML)."
    ),
    document_number: str | None = Query(None, alias="documentNumber", description="Invoice/document number."),
    document_date: str | None = Query(None, alias="documentDate", description="Issue date (ISO 8601)."),
    message_text: str | None = Query(None, alias="messageText", description="Text sent along with the document."),
    fiscal_key: str | None = Query(None, alias="fiscalKey", description="NF-e access key (Brazil)."),
    series_number: str | None = Query(None, alias="seriesNumber", description="NF-e series (Brazil)."),
) -> Response:
    """200 with the document as the order's `Documents` lists it. The same file again (same type) returns the
    stored document and changes nothing. Invoices are forwarded to the marketplace per CF-21.8.4."""
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
        session, store, ctx.settings, scope.account_id, _actor(scope), order_id, params, file, scope.tz
    )
    return _json(out)


def split_reason(
    raw: str | None = Query(
        None, alias="splitReasonId", description="1 fragile, 2 another_warehouse, 3 irregular_shape, 4 other_motive."
    ),
) -> int:
    """Dependency: ``splitReasonId`` (400 when absent or not 1-4)."""
    return split.parse_split_reason(raw)


@router.post(
    "/orders/{orderId}/split",
    name="orders.split",
    response_model=SplitOut,
    responses=responses_for(
        *AUTHENTICATED,
        split.SplitReasonRequired,
        split.BadSplitReason,
        BadOrderId,
        OrderNotFound,
        split.SplitOnlyMercadoLibre,
        split.SplitRefused,
    ),
    summary="Split an order out of its Mercado Libre cart",
)
def post_split(
    scope: Account,
    reason: Annotated[int, Depends(split_reason)],
    order_id: OrderIdPath,
    session: WriteSession,
) -> Response:
    """The order gets its own cart (`PackId`) and shipment (`ExternalShippingId`); 412 when it is not in a
    cart with other orders, is delivered, or its label is PENDING/STALE. Repeating a done split is a 200."""
    return _json(split.split_order(session, scope.account_id, _actor(scope), order_id, reason))


@router.post(
    "/orders/{orderId}/messages",
    name="orders.messages",
    response_model=str,
    responses=responses_for(
        *AUTHENTICATED,
        *UPLOAD_ERRORS,
        BadOrderId,
        messages.MessageOptionRequired,
        messages.BadMessageOption,
        messages.MessageTextRequired,
        messages.MessageTooLong,
        docs.AttachmentNotAllowed,
        *CONTENT_ERRORS,
        OrderNotFound,
        messages.MessagesOnlyMercadoLibre,
        messages.MessageRefused,
        messages.MessageConflict,
    ),
    openapi_extra=upload_doc(
        MessageAttachmentIn,
        required=False,
        description="Optional attachment: multipart/form-data part `file`, or JSON `fileBase64` (+ documentName, "
        "documentExtension). Only after the buyer replied to a first message without attachment.",
    ),
    summary="Send a message to the buyer (Mercado Libre)",
)
def post_message(
    scope: Account,
    upload: Annotated[Upload, Depends(message_attachment)],
    order_id: OrderIdPath,
    session: WriteSession,
    ctx: Context,
    message: str | None = Query(None, description="Free text (max 350 characters) for options 3, 4 and 5."),
    message_options: str | None = Query(
        None,
        alias="messageOptions",
        description="1 REQUEST_VARIANTS, 2 REQUEST_BILLING_INFO, 3 SEND_INVOICE_LINK (México), 4 OTHER, "
        "5 DELIVERY_PROMISE.",
    ),
) -> Response:
    """200 with the string "OK". 409 while the previous message is unanswered (repeating exactly that message
    is a 200 that sends nothing again); 412 for non-Mercado Libre orders or options that do not apply."""
    file, fields = upload
    out = messages.send_message(
        session,
        docs.store_for(ctx.settings.documents_dir),
        ctx.settings,
        scope.account_id,
        _actor(scope),
        order_id,
        _param(message_options, fields, "messageOptions"),
        _param(message, fields, "message"),
        file,
    )
    return _json(out)


# --- POST /v2/orders, DELETE /v2/orders ----------------------------------------------------------------------

CreateBody = tuple[OrderInfoIn, dict[str, Any]]


async def order_info_body(request: Request, _scope: Account) -> CreateBody:
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
    responses=responses_for(
        *AUTHENTICATED,
        *BATCH_BODY,
        create.CreateLimitExceeded,
        create.MarketplaceNotOfAccount,
        BadDateField,
        create.BadLogisticType,
        create.PickupRequired,
        create.CourierRequired,
        create.ReceiverAddressRequired,
        create.BadItemStatus,
        create.DuplicateLine,
        create.AmbiguousSku,
        detail.BadCode,
        create.DuplicateExternalOrderId,
        create.DeletedExternalOrderId,
        _201={"model": OrderOut, "description": "Created (or the same request repeated: the existing order)"},
    ),
    openapi_extra=body_doc(OrderInfoIn, array=False, description="One order (OrderInfo)."),
    summary="Create a new order",
)
def post_order(
    scope: Account,
    body: Annotated[CreateBody, Depends(order_info_body)],
    session: WriteSession,
) -> Response:
    """201 with the order as GET /v2/orders shows it. Repeating the same request (same `ExternalOrderId`,
    same content) answers 201 with the existing order and creates nothing; another order with that
    `ExternalOrderId` is a 409."""
    model, raw = body
    order, created = create.create_order(session, scope.account_id, _actor(scope), model, raw, scope.tz)
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
    responses=responses_for(
        *AUTHENTICATED,
        delete.OrderIdRequired,
        InvalidInput,
        OrderNotFound,
        delete.NotAnApiOrder,
        _204={"description": "Deleted (also when it already was)"},
    ),
    summary="Delete an order created through POST /v2/orders",
)
def delete_order(
    scope: Account,
    session: WriteSession,
    order_id: str | None = Query(None, alias="orderId", description="Alephee order Id."),
    revert_stock: str | None = Query(
        None, alias="revertStock", description="true: give back the stock the order took (default false)."
    ),
) -> Response:
    """204; the order gets status 70 and leaves every GET. Only API-created orders (412 otherwise). Deleting
    an already deleted order is a 204 again; its stock is given back at most once."""
    revert = bool(query_bool(revert_stock, "revertStock"))
    delete.delete_order(session, scope.account_id, _actor(scope), delete.parse_order_id(order_id), revert)
    return Response(status_code=204)
