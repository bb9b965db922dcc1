"""What the OpenAPI document says beyond what FastAPI derives from the routes, so that generated clients
(openapi-generator, openapi-python-client) can call the API as it is.

* Parameters are typed: routes read query values as text and parse them themselves (case-insensitive names,
  our own 400 messages, never FastAPI's 422; ``http.params``, ``http.numbers``, ``http.dates``), so FastAPI
  would document every one as a string. ``PARAMETER_SCHEMAS`` says what each value is; parsing is unchanged.
* ``API_KEY`` is the ``ApiKey`` security scheme (a query parameter) of every operation; ``accountId`` is a
  required integer wherever the account comes from the query string.
* Every response documents the ``x-ratelimit-*`` headers and ``x-request-id`` (http/middleware.py sends them
  on every response).
* File responses (documents, labels) have a binary (or text) schema, one entry per media type.
* Models that share a class name in two domains get distinct names (``OrdersDiscountOut``,
  ``ListingsDiscountOut``): generators name classes after them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from alephee.http.params import MAX_INT32, MAX_INT64

SECURITY_SCHEME = "ApiKey"
API_KEY_PARAMETER = "API_KEY"
ACCOUNT_PARAMETER = "accountId"


def _integer(lo: int | None = None, hi: int = MAX_INT32) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "format": "int64" if hi > MAX_INT32 else "int32", "maximum": hi}
    if lo is not None:
        schema["minimum"] = lo
    return schema


ID32 = _integer(1)
ID64 = _integer(1, MAX_INT64)
CODE = _integer(0)
BOOLEAN = {"type": "boolean"}
# Also accepted: yyyy-mm-dd and yyyy-mm-dd HH:mm (the account's time zone); see each description.
DATE_TIME = {"type": "string", "format": "date-time"}
TEXT = {"type": "string"}

# Every query and path parameter of the API by its declared name (a name means the same thing everywhere).
PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "accountId": ID32,
    "orderId": ID64,
    "webhookId": ID32,
    "packId": TEXT,
    "idFrom": _integer(hi=MAX_INT64),
    "idTo": _integer(hi=MAX_INT64),
    "marketplace": CODE,
    "marketplaceId": CODE,
    "priceListId": CODE,
    "statusType": CODE,
    "status": CODE,
    "documentType": CODE,
    "module": CODE,
    "ttl": CODE,
    "splitReasonId": CODE,
    "messageOptions": CODE,
    "offset": _integer(0),
    "limit": _integer(1),
    "Integrated": BOOLEAN,
    "includePendingPayments": BOOLEAN,
    "revertStock": BOOLEAN,
    "allowPickupInStores": BOOLEAN,
    "withAccountPickup": BOOLEAN,
    "base64": BOOLEAN,
    "includeChilds": BOOLEAN,
    "includeKitContainers": BOOLEAN,
    "acknowledged": BOOLEAN,
    "dateCreatedFrom": DATE_TIME,
    "saleDateFrom": DATE_TIME,
    "statusDateFrom": DATE_TIME,
    "dateUpdatedFrom": DATE_TIME,
    "dateUpdateFrom": DATE_TIME,
    "dateFrom": DATE_TIME,
    "documentDate": DATE_TIME,
    "userEmail": {"type": "string", "format": "email"},
    **dict.fromkeys(
        (
            "additionalInfo",
            "brand",
            "catalogStatus",
            "confirmationToken",
            "documentFormat",
            "documentNumber",
            "erpStatus",
            "externalID",
            "externalOrderIdFrom",
            "externalOrderIdTo",
            "fiscalKey",
            "format",
            "message",
            "messageText",
            "ownCode",
            "seriesNumber",
            "SKU",
            "sku",
            "sort",
            "type",
            "types",
        ),
        TEXT,
    ),
}

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "x-ratelimit-limit": {"description": "Requests allowed per minute for this key and endpoint."},
    "x-ratelimit-remaining": {"description": "Requests left in the current window."},
    "x-ratelimit-reset": {"description": "Seconds until the budget is full again."},
    "x-ratelimit-retryafter": {"description": "Seconds to wait before retrying after a 429; -1 when allowed."},
}
REQUEST_ID_HEADER = {"description": "Id of the request (also in the access log and in a 500's text)."}

SECURITY_SCHEMES = {
    SECURITY_SCHEME: {
        "type": "apiKey",
        "in": "query",
        "name": API_KEY_PARAMETER,
        "description": "Your API key (GUID). Query-parameter names are case-insensitive (`api_key` works too).",
    }
}
# Component names FastAPI/Pydantic give to two models of the same class name: alephee__<domain>__<module>__Name.
_QUALIFIED = re.compile(r"alephee__(?P<domain>[a-z_]+?)__[a-z_]+__(?P<name>\w+)")


def finish(document: dict[str, Any], routes: Iterable[Any], key_only: Callable[..., Any] | None = None) -> None:
    """Complete ``document`` in place (see the module docstring); ``routes`` are the application's routes and
    ``key_only`` the dependency of routes authenticated by the key alone (their ``accountId`` is optional)."""
    _unique_model_names(document)
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for context in iter_route_contexts(list(routes)):
        route, path = context.original_route, context.path_format
        if not isinstance(route, APIRoute) or not route.include_in_schema or path is None:
            continue
        operations = document.get("paths", {}).get(path, {})
        account_required = "{accountId}" not in path and not _needs_key_only(route.dependant, key_only)
        for method in route.methods:
            operation = operations.get(method.lower())
            if operation is not None:
                _finish_operation(operation, account_required)


def _finish_operation(operation: dict[str, Any], account_required: bool) -> None:
    operation["security"] = [{SECURITY_SCHEME: []}]
    parameters = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter["name"] == API_KEY_PARAMETER:
            continue  # documented by the security scheme
        schema = PARAMETER_SCHEMAS.get(parameter["name"])
        if schema is not None:
            parameter["schema"] = dict(schema)
        if parameter["in"] == "query" and parameter["name"] == ACCOUNT_PARAMETER:
            parameter["required"] = account_required
        parameters.append(parameter)
    operation["parameters"] = parameters
    for response in operation.get("responses", {}).values():
        headers = response.setdefault("headers", {})
        for name, header in RESPONSE_HEADERS.items():
            headers[name] = {**header, "required": True, "schema": {"type": "integer"}}
        headers["x-request-id"] = {**REQUEST_ID_HEADER, "required": True, "schema": {"type": "string"}}
        for media_type, content in response.get("content", {}).items():
            if not content.get("schema") and "json" not in media_type:
                content["schema"] = {"type": "string"} if media_type.startswith("text/") else _binary()


def _binary() -> dict[str, Any]:
    return {"type": "string", "format": "binary"}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _needs_key_only(dependant: Dependant, key_only: Callable[..., Any] | None) -> bool:
    # Routes authenticated by the key alone (GET /v2/accounts) take ``accountId`` as an optional filter.
    return key_only is not None and any(call is key_only for call in _calls(dependant))


def _unique_model_names(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    renames = {}
    for key in list(schemas):
        found = _QUALIFIED.fullmatch(key)
        if found:
            renames[key] = found["domain"].title().replace("_", "") + found["name"]
    if not renames:
        return
    for old, new in renames.items():
        schema = schemas.pop(old)
        schema["title"] = new
        schemas[new] = schema
    text = json.dumps(document)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    document.clear()
    document.update(json.loads(text))
