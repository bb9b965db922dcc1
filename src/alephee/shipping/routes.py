"""Routes of the orders-shipping section (CF-30). Thin: parse, call one service function, shape the response.

The real paths were not readable (CF-30.7), so every plausible alias is served; aliases of one endpoint
share its route name (rate-limit bucket and cap). ``orderId`` comes from the path, or from the query string on
the paths without it. Paths without ``{orderId}`` are registered first so ``/orders/shipping/...`` is never
read as an order id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Path, Query, Response

from alephee.accounts.auth import Account
from alephee.errors import InvalidInput, PayloadTooLarge, RangeNotSatisfiable, UnsupportedMediaType
from alephee.http.body import body_doc, json_object
from alephee.http.deps import Context, ReadSession, WriteSession
from alephee.http.errors import AUTHENTICATED, responses_for
from alephee.http.paging import Page, Paged, paged_response, paging
from alephee.http.routing import api_router
from alephee.http.wire import json_response
from alephee.shipping import addressing, packaging, scheduling, transportation
from alephee.shipping.addressing import OrderIdInvalid, OrderIdMismatch, OrderIdRequired, OrderNotFound
from alephee.shipping.packaging import NetOverGross
from alephee.shipping.schemas import (
    PackInfo,
    PackInfoBody,
    PackInfoRequest,
    SchedulingInfo,
    TransportationBody,
    TransportationInfo,
    TransportationRequest,
)
from alephee.shipping.transportation import (
    ContainerInvalid,
    TransportModeInvalid,
    TransportModeMismatch,
    TransportRequired,
)
from alephee.shipping.values import (
    CodeInvalid,
    FieldRequired,
    NegativeValue,
    NotAnInteger,
    NotANumber,
    NotPositive,
    ValueTooLarge,
)

router = api_router(tags=["Orders shipping"])

# What each route can refuse: reading the order id (path, query or body), reading a JSON body, its own rules.
ORDER_READ_REFUSALS = (*AUTHENTICATED, InvalidInput, OrderIdInvalid, OrderIdRequired, OrderNotFound)
ORDER_WRITE_REFUSALS = (*ORDER_READ_REFUSALS, PayloadTooLarge, UnsupportedMediaType, OrderIdMismatch, NotAnInteger)
RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "shipping.packaging.get": responses_for(*ORDER_READ_REFUSALS),
    "shipping.packaging.post": responses_for(
        *ORDER_WRITE_REFUSALS,
        FieldRequired,
        CodeInvalid,
        NotANumber,
        NotPositive,
        NegativeValue,
        ValueTooLarge,
        NetOverGross,
    ),
    "shipping.transportation.get": responses_for(*ORDER_READ_REFUSALS),
    "shipping.transportation.post": responses_for(
        *ORDER_WRITE_REFUSALS, TransportRequired, TransportModeInvalid, TransportModeMismatch, ContainerInvalid
    ),
    "shipping.scheduling.get": responses_for(*AUTHENTICATED, InvalidInput, OrderIdInvalid, OrderNotFound),
    # Without orderId the query-form scheduling paths answer the paged list.
    "shipping.scheduling.list": responses_for(
        *AUTHENTICATED,
        InvalidInput,
        OrderIdInvalid,
        OrderNotFound,
        RangeNotSatisfiable,
        _206={"model": Paged[SchedulingInfo], "description": "limit over the cap: capped page"},
    ),
}

PATH_ID = Path(..., alias="orderId", description="Alephee order Id (Order.Id), not the marketplace number.")
QUERY_ID = Query(None, alias="orderId", description="Alephee order Id (Order.Id).")
PACKINFO_BODY = body_doc(
    PackInfoRequest,
    array=False,
    description='A PackInfo (also accepted: {"OrderId", "PackInfo"} and a one-element array). It replaces the '
    "stored packaging of the order's shipment.",
)
TRANSPORT_BODY = body_doc(
    TransportationRequest,
    array=False,
    description='{"Transport": {"Mode": {"Id": 1}, "Container": 17}} (or a bare TransportInfo); '
    '"Transport": null removes it.',
)


# --- handlers ------------------------------------------------------------------------------------------------


def get_packaging(
    *,
    order_id: str = PATH_ID,
    scope: Account,
    session: ReadSession,
) -> Response:
    """The packaging of the order's shipment; every property null while none was set."""
    return json_response(packaging.get_packaging(session, scope.account_id, addressing.parse_order_id(order_id)))


def get_packaging_by_query(
    *,
    scope: Account,
    order_id: str | None = QUERY_ID,
    session: ReadSession,
) -> Response:
    """The packaging of the order's shipment (`orderId` in the query string)."""
    return json_response(packaging.get_packaging(session, scope.account_id, addressing.parse_order_id(order_id)))


def post_packaging(
    *,
    order_id: str = PATH_ID,
    scope: Account,
    body: PackInfoBody = Depends(json_object(PackInfoBody, unwrap_single=True)),
    session: WriteSession,
    ctx: Context,
) -> Response:
    """Replace the packaging of the order's shipment (every order of a cart travelling together); echoes it."""
    url_id = addressing.parse_order_id(order_id)
    return json_response(packaging.set_packaging(session, ctx.settings, scope.account_id, url_id, body))


def post_packaging_by_query(
    *,
    scope: Account,
    order_id: str | None = QUERY_ID,
    body: PackInfoBody = Depends(json_object(PackInfoBody, unwrap_single=True)),
    session: WriteSession,
    ctx: Context,
) -> Response:
    """Replace the packaging (`orderId` in the query string or `OrderId` in the body); echoes it."""
    url_id = addressing.parse_order_id(order_id)
    return json_response(packaging.set_packaging(session, ctx.settings, scope.account_id, url_id, body))


def get_scheduling(
    *,
    order_id: str = PATH_ID,
    scope: Account,
    session: ReadSession,
    ctx: Context,
) -> Response:
    """Status, logistic type and the dated milestones of the order's shipment."""
    oid = addressing.parse_order_id(order_id)
    return json_response(scheduling.get_scheduling(session, ctx.settings, scope.account_id, oid or 0))


def get_scheduling_by_query(
    *,
    scope: Account,
    order_id: str | None = QUERY_ID,
    page: Page = Depends(paging(scheduling.SCHEDULING_SORTS)),
    session: ReadSession,
    ctx: Context,
) -> Response:
    """One SchedulingInfo with `orderId`; without it, the account's orders in the paged envelope."""
    oid = addressing.parse_order_id(order_id)
    if oid is not None:
        return json_response(scheduling.get_scheduling(session, ctx.settings, scope.account_id, oid))
    total, results = scheduling.list_scheduling(session, ctx.settings, scope.account_id, page)
    return paged_response(page, total, results)


def get_transportation(
    *,
    order_id: str = PATH_ID,
    scope: Account,
    session: ReadSession,
) -> Response:
    """Transport mode and container of the order (`Transport` null while none was set)."""
    return json_response(
        transportation.get_transportation(session, scope.account_id, addressing.parse_order_id(order_id))
    )


def get_transportation_by_query(
    *,
    scope: Account,
    order_id: str | None = QUERY_ID,
    session: ReadSession,
) -> Response:
    """Transport of the order (`orderId` in the query string)."""
    return json_response(
        transportation.get_transportation(session, scope.account_id, addressing.parse_order_id(order_id))
    )


def post_transportation(
    *,
    order_id: str = PATH_ID,
    scope: Account,
    body: TransportationBody = Depends(json_object(TransportationBody, unwrap_single=True)),
    session: WriteSession,
) -> Response:
    """Set (or, with `"Transport": null`, remove) the transport of the order's shipment; echoes it."""
    url_id = addressing.parse_order_id(order_id)
    return json_response(transportation.set_transportation(session, scope.account_id, url_id, body))


def post_transportation_by_query(
    *,
    scope: Account,
    order_id: str | None = QUERY_ID,
    body: TransportationBody = Depends(json_object(TransportationBody, unwrap_single=True)),
    session: WriteSession,
) -> Response:
    """Set the transport (`orderId` in the query string or `OrderId` in the body); echoes it."""
    url_id = addressing.parse_order_id(order_id)
    return json_response(transportation.set_transportation(session, scope.account_id, url_id, body))


# --- the route table ---------------------------------------------------------------------------------------------

Handler = Callable[..., Response]
# (path, methods, handler, route name, response model, summary, body documentation)
ROUTES: list[tuple[str, list[str], Handler, str, Any, str, dict[str, Any] | None]] = []


def _packaging(path: str, by_query: bool, summary: str) -> None:
    get_handler = get_packaging_by_query if by_query else get_packaging
    post_handler = post_packaging_by_query if by_query else post_packaging
    ROUTES.append((path, ["GET"], get_handler, "shipping.packaging.get", PackInfo, "Get " + summary, None))
    ROUTES.append(
        (path, ["POST", "PUT"], post_handler, "shipping.packaging.post", PackInfo, "Set " + summary, PACKINFO_BODY)
    )


def _transportation(path: str, by_query: bool, summary: str) -> None:
    get_handler = get_transportation_by_query if by_query else get_transportation
    post_handler = post_transportation_by_query if by_query else post_transportation
    info = TransportationInfo
    ROUTES.append((path, ["GET"], get_handler, "shipping.transportation.get", info, "Get " + summary, None))
    ROUTES.append(
        (path, ["POST", "PUT"], post_handler, "shipping.transportation.post", info, "Set " + summary, TRANSPORT_BODY)
    )


def _scheduling(path: str, by_query: bool, summary: str) -> None:
    handler = get_scheduling_by_query if by_query else get_scheduling
    # Without orderId the query-form paths answer the paged envelope.
    model = SchedulingInfo | Paged[SchedulingInfo] if by_query else SchedulingInfo
    ROUTES.append((path, ["GET"], handler, "shipping.scheduling.get", model, summary, None))


# Paths without {orderId} first.
_packaging("/orders/shipping/packaging", True, "shipping packaging (alias, orderId in the query)")
_packaging("/orders/shipping/packinfo", True, "shipping packaging (alias, orderId in the query)")
_packaging("/orders/packinfo", True, "shipping packaging (alias, orderId in the query)")
_scheduling("/orders/shipping/scheduling", True, "Shipping scheduling (alias; without orderId: paged list)")
_scheduling("/orders/scheduling", True, "Shipping scheduling (alias; without orderId: paged list)")
_transportation("/orders/shipping/transportation", True, "shipping transportation (alias, orderId in the query)")
_transportation("/orders/transportation", True, "shipping transportation (alias, orderId in the query)")
_packaging("/orders/{orderId}/shipping/packaging", False, "shipping packaging information")
_packaging("/orders/{orderId}/shipping/packinfo", False, "shipping packaging (alias)")
_packaging("/orders/{orderId}/packinfo", False, "shipping packaging (alias)")
_scheduling("/orders/{orderId}/shipping/scheduling", False, "Get shipping scheduling information")
_scheduling("/orders/{orderId}/scheduling", False, "Shipping scheduling (alias)")
_transportation("/orders/{orderId}/shipping/transportation", False, "shipping transportation information")
_transportation("/orders/{orderId}/transportation", False, "shipping transportation (alias)")

for _path, _methods, _handler, _name, _model, _summary, _body in ROUTES:
    _listed = _name == "shipping.scheduling.get" and "{orderId}" not in _path
    _responses = RESPONSES["shipping.scheduling.list" if _listed else _name]
    for _method in _methods:  # one operation per method (distinct OpenAPI operation ids)
        router.add_api_route(
            _path,
            _handler,
            methods=[_method],
            name=_name,
            response_model=_model,
            responses=_responses,
            summary=_summary if _method != "PUT" else _summary + " (PUT: same as POST)",
            openapi_extra=_body,
        )
